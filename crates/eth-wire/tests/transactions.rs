//! Transaction envelopes beyond what blocks carry: the blob network form with its sidecar
//! (hash unchanged), and malformed envelopes as typed errors.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use alloy_primitives::{B256, Bytes, FixedBytes};
use devp2p_eth_wire::{Block, Transaction, TransactionEnvelope};
use devp2p_rlp_codec::{DecodeErrorKind, Header, Rlp, decode_exact, encode_to_vec};

/// The first blob transaction of the ethtest chain.
fn blob_tx() -> TransactionEnvelope {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/ethtest/chain.rlp"
    ))
    .unwrap();
    let mut rlp = Rlp::new(&bytes);
    while !rlp.is_empty() {
        let block: Block = decode_exact(rlp.raw().unwrap()).unwrap();
        if let Some(tx) = block.transactions.iter().find(|t| t.tx_type() == 3) {
            return tx.clone();
        }
    }
    panic!("no blob transaction in the chain");
}

fn list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload = items.concat();
    let mut out = Vec::new();
    Header::list(payload.len()).encode(&mut out);
    out.extend(payload);
    out
}

/// A KZG commitment's versioned hash (EIP-4844): its SHA-256, the first byte made 0x01.
fn versioned_hash(commitment: &FixedBytes<48>) -> B256 {
    use sha2::Digest;
    let mut hash: [u8; 32] = sha2::Sha256::digest(commitment).into();
    hash[0] = 0x01;
    B256::from(hash)
}

#[test]
fn blob_network_form_keeps_the_hash() {
    // The chain's blob transaction, made to name the versioned hashes of commitments of our
    // own (the sidecar's commitments must match them).
    let Transaction::Eip4844(mut fields, None) = blob_tx().decode().unwrap() else {
        panic!("not a blob transaction");
    };
    let hashes = fields.blob_versioned_hashes.len();
    let ours: Vec<FixedBytes<48>> = (1..=hashes as u8).map(FixedBytes::repeat_byte).collect();
    fields.blob_versioned_hashes = ours.iter().map(versioned_hash).collect();
    let tx =
        TransactionEnvelope::from_encoded([&[3u8][..], &encode_to_vec(&fields)].concat().into())
            .unwrap();
    let blobs: Vec<Bytes> = vec![Bytes::from(vec![7u8; 131_072]); hashes];
    let commitments = ours.clone();
    let proofs = vec![FixedBytes::<48>::repeat_byte(2)];
    let body = encode_to_vec(&fields);
    // Cancun form: [tx, blobs, commitments, proofs].
    let cancun = list(&[
        body.clone(),
        encode_to_vec(&blobs),
        encode_to_vec(&commitments),
        encode_to_vec(&proofs),
    ]);
    let network = TransactionEnvelope::from_encoded([&[3u8][..], &cancun].concat().into()).unwrap();
    assert!(network.has_sidecar());
    assert_eq!(network.hash(), tx.hash());
    let Transaction::Eip4844(decoded, Some(sidecar)) = network.decode().unwrap() else {
        panic!("expected the sidecar");
    };
    assert_eq!(decoded, fields);
    assert_eq!(
        (sidecar.version, sidecar.blobs, sidecar.commitments),
        (None, blobs.clone(), commitments.clone())
    );
    // Osaka form: [tx, version, blobs, commitments, cell proofs].
    let cell_proofs = vec![FixedBytes::<48>::repeat_byte(3); 128 * hashes];
    let osaka = list(&[
        body,
        encode_to_vec(&1u8),
        encode_to_vec(&blobs),
        encode_to_vec(&commitments),
        encode_to_vec(&cell_proofs),
    ]);
    let network = TransactionEnvelope::from_encoded([&[3u8][..], &osaka].concat().into()).unwrap();
    assert_eq!(network.hash(), tx.hash());
    let Transaction::Eip4844(_, Some(sidecar)) = network.decode().unwrap() else {
        panic!("expected the sidecar");
    };
    assert_eq!(
        (sidecar.version, sidecar.proofs.len()),
        (Some(1), 128 * hashes)
    );
    // In a list it travels as a string, like any typed transaction.
    let again: TransactionEnvelope = decode_exact(&encode_to_vec(&network)).unwrap();
    assert_eq!(again, network);
    // Sidecars that do not fit the transaction: a blob per versioned hash, a commitment per
    // blob, a proof per blob (or 128 cell proofs), each part of its size, and each commitment
    // the one its versioned hash was made from.
    let with_commitments =
        |version: Option<u8>, blobs: usize, commitments: &[FixedBytes<48>], proofs: usize| {
            let mut items = vec![encode_to_vec(&fields)];
            items.extend(version.map(|v| encode_to_vec(&v)));
            items.push(encode_to_vec(&vec![Bytes::from(vec![7u8; 131_072]); blobs]));
            items.push(encode_to_vec(&commitments.to_vec()));
            items.push(encode_to_vec(&vec![FixedBytes::<48>::ZERO; proofs]));
            TransactionEnvelope::from_encoded([&[3u8][..], &list(&items)].concat().into())
        };
    let sidecar = |version: Option<u8>, blobs: usize, commitments: usize, proofs: usize| {
        let mut listed = ours.clone();
        listed.resize(commitments, FixedBytes::ZERO);
        with_commitments(version, blobs, &listed, proofs)
    };
    let mut wrong = ours.clone();
    wrong[0] = FixedBytes::ZERO;
    assert!(matches!(
        with_commitments(None, hashes, &wrong, hashes).map_err(|e| e.kind()),
        Err(DecodeErrorKind::Custom(_))
    ));
    assert!(sidecar(None, hashes, hashes, hashes).is_ok());
    assert!(sidecar(Some(1), hashes, hashes, 128 * hashes).is_ok());
    for (version, blobs, commitments, proofs) in [
        (None, hashes + 1, hashes + 1, hashes + 1),
        (None, hashes, hashes + 1, hashes),
        (None, hashes, hashes, hashes + 1),
        (Some(1), hashes, hashes, hashes),
    ] {
        assert!(
            matches!(
                sidecar(version, blobs, commitments, proofs).map_err(|e| e.kind()),
                Err(DecodeErrorKind::Custom(_))
            ),
            "{version:?} {blobs} {commitments} {proofs}"
        );
    }
    let short_blob = list(&[
        encode_to_vec(&fields),
        encode_to_vec(&vec![Bytes::from(vec![7u8; 131_071]); hashes]),
        encode_to_vec(&vec![FixedBytes::<48>::ZERO; hashes]),
        encode_to_vec(&vec![FixedBytes::<48>::ZERO; hashes]),
    ]);
    assert_eq!(
        TransactionEnvelope::from_encoded([&[3u8][..], &short_blob].concat().into())
            .unwrap_err()
            .kind(),
        DecodeErrorKind::UnexpectedLength
    );
}

#[test]
fn malformed_envelopes() {
    let kind = |bytes: &[u8]| {
        TransactionEnvelope::from_encoded(Bytes::copy_from_slice(bytes))
            .unwrap_err()
            .kind()
    };
    assert_eq!(kind(&[]), DecodeErrorKind::InputTooShort);
    // Type 0 and types above 0x7f are not typed transactions.
    assert_eq!(kind(&[0x00, 0xc0]), DecodeErrorKind::UnexpectedString);
    assert_eq!(kind(&[0x80, 0xc0]), DecodeErrorKind::UnexpectedString);
    // A typed payload that is not one list.
    assert_eq!(kind(&[0x02, 0x80]), DecodeErrorKind::UnexpectedString);
    assert_eq!(kind(&[0x02, 0xc0, 0xc0]), DecodeErrorKind::TrailingBytes);
    assert_eq!(kind(&[0x02, 0xc5, 0x01]), DecodeErrorKind::InputTooShort);
    // A legacy list with bytes after it.
    let mut legacy = vec![0xc9];
    legacy.extend([0x80; 9]);
    assert!(TransactionEnvelope::from_encoded(Bytes::copy_from_slice(&legacy)).is_ok());
    // In a list of transactions, a legacy one must not come wrapped in a string (the bytes
    // would not re-encode as received; go-ethereum refuses it).
    let mut wrapped = vec![0xcb, 0x8a];
    wrapped.extend(&legacy);
    let in_list = decode_exact::<Vec<TransactionEnvelope>>(&wrapped);
    assert_eq!(
        in_list.map_err(|e| (e.kind(), e.offset())),
        Err((DecodeErrorKind::UnexpectedString, 1))
    );
    legacy.push(0x02);
    assert_eq!(kind(&legacy), DecodeErrorKind::TrailingBytes);
    // Lists with the wrong number of fields for their type: legacy, EIP-1559, and a blob
    // transaction's network form (its transaction, then 3 or 4 items).
    assert_eq!(kind(&[0xc0]), DecodeErrorKind::MissingItem);
    assert_eq!(kind(&[0xc1, 0x01]), DecodeErrorKind::MissingItem);
    let mut ten = vec![0xca];
    ten.extend([0x80; 10]);
    assert_eq!(kind(&ten), DecodeErrorKind::ListTooLong);
    assert_eq!(kind(&[0x02, 0xc0]), DecodeErrorKind::MissingItem);
    assert_eq!(kind(&[0x02, 0xc1, 0x01]), DecodeErrorKind::MissingItem);
    // A transaction of `fields` fields (no blob hashes: field 10 is an empty list), then
    // `rest` as the sidecar.
    let network_with = |fields: usize, rest: &[u8]| {
        let mut payload = vec![0xc0 + fields as u8];
        payload.extend((0..fields).map(|i| if i == 10 { 0xc0 } else { 0x80 }));
        payload.extend(rest);
        let mut encoded = vec![0x03, 0xc0 + payload.len() as u8];
        encoded.extend(payload);
        TransactionEnvelope::from_encoded(encoded.into())
    };
    let network = |rest: &[u8]| network_with(14, rest);
    let error = |rest: &[u8]| network(rest).unwrap_err().kind();
    assert!(network(&[0xc0; 3]).unwrap().has_sidecar());
    assert!(network(&[0x01, 0xc0, 0xc0, 0xc0]).unwrap().has_sidecar());
    assert_eq!(error(&[0xc0; 2]), DecodeErrorKind::MissingItem);
    assert_eq!(error(&[0xc0; 4]), DecodeErrorKind::ListTooLong);
    assert_eq!(
        error(&[0x01, 0xc0, 0xc0, 0xc0, 0xc0]),
        DecodeErrorKind::ListTooLong
    );
    assert_eq!(
        network_with(13, &[0xc0; 3]).unwrap_err().kind(),
        DecodeErrorKind::MissingItem
    );
    // Counted is not enough: the sidecar's parts must be lists, and its version 1.
    assert_eq!(
        error(&[0x01, 0x80, 0x80, 0x80]),
        DecodeErrorKind::UnexpectedString
    );
    assert!(matches!(error(&[0x80; 3]), DecodeErrorKind::Custom(_)));
    assert!(matches!(
        error(&[0x02, 0xc0, 0xc0, 0xc0]),
        DecodeErrorKind::Custom(_)
    ));
    // Types this crate does not know.
    assert_eq!(kind(&[0x05, 0xc0]), DecodeErrorKind::UnexpectedString);
    // Well-formed envelopes whose fields are not a transaction of their type.
    let mut wrong = vec![0x02, 0xcc];
    wrong.extend([0xc0; 12]);
    let envelope = TransactionEnvelope::from_encoded(wrong.into()).unwrap();
    assert_eq!(envelope.tx_type(), 2);
    assert!(envelope.decode().is_err());
    // Inside a list, errors point at the transaction.
    let items = list(&[vec![0x00], vec![0x82, 0x00, 0xc0]]);
    let err = decode_exact::<Vec<TransactionEnvelope>>(&items).unwrap_err();
    assert_eq!(err.offset(), 1);
}
