//! The 600-block ethtest chain: every block decodes into the typed header and body, headers chain
//! by hash, re-encoding is byte-identical, and every transaction of every type decodes field by
//! field, re-encodes to its exact bytes, and hashes to keccak256 of them.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;

use alloy_primitives::{B256, keccak256};
use devp2p_eth_wire::{Block, Transaction, TransactionEnvelope};
use devp2p_rlp_codec::{Rlp, decode_exact, encode_to_vec};

fn chain() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/ethtest/chain.rlp"
    ))
    .unwrap()
}

/// The fields re-encoded, as the envelope's exact bytes would be.
fn reencode(tx: &Transaction) -> Vec<u8> {
    match tx {
        Transaction::Legacy(t) => encode_to_vec(t),
        Transaction::Eip2930(t) => [&[1u8][..], &encode_to_vec(t)].concat(),
        Transaction::Eip1559(t) => [&[2u8][..], &encode_to_vec(t)].concat(),
        Transaction::Eip4844(t, None) => [&[3u8][..], &encode_to_vec(t)].concat(),
        Transaction::Eip4844(_, Some(_)) => panic!("blocks carry no sidecars"),
        Transaction::Eip7702(t) => [&[4u8][..], &encode_to_vec(t)].concat(),
    }
}

#[test]
fn all_blocks_decode_chain_and_reencode() {
    let bytes = chain();
    let mut rlp = Rlp::new(&bytes);
    let mut blocks = Vec::new();
    while !rlp.is_empty() {
        let raw = rlp.raw().unwrap();
        let block: Block = decode_exact(raw).unwrap();
        assert_eq!(
            encode_to_vec(&block),
            raw,
            "block {}",
            block.header.header.number
        );
        blocks.push(block);
    }
    assert_eq!(blocks.len(), 600);
    for (i, pair) in blocks.windows(2).enumerate() {
        assert_eq!(pair[0].header.header.number, i as u64 + 1);
        assert_eq!(pair[1].header.header.parent_hash, pair[0].header.hash);
        assert_eq!(pair[0].header.hash, pair[0].header.header.hash_slow());
    }
    let head = blocks.last().unwrap();
    assert_eq!(
        head.header.hash,
        "44e3809c9a3cda717f00aea3a9da336d149612c8d5657fbc0028176ef8d94d2a"
            .parse::<B256>()
            .unwrap()
    );
    // Prague fields are present at the head.
    assert!(head.header.header.requests_hash.is_some());
    assert!(head.withdrawals.is_some());
}

/// An Amsterdam header, the head's with go-ethereum's two new trailing fields (EIP-7928's block
/// access list hash, EIP-7843's slot number) appended: 23 fields decode, re-encode to the same
/// bytes, and hash to keccak256 of them; the 21-field header does not grow any.
#[test]
fn amsterdam_headers_have_two_more_fields() {
    let bytes = chain();
    let mut rlp = Rlp::new(&bytes);
    let mut last = None;
    while !rlp.is_empty() {
        last = Some(rlp.decode::<Block>().unwrap());
    }
    let prague = last.unwrap().header.header;
    assert_eq!(
        (prague.block_access_list_hash, prague.slot_number),
        (None, None)
    );
    let mut amsterdam = prague;
    amsterdam.block_access_list_hash = Some(B256::repeat_byte(0xba));
    amsterdam.slot_number = Some(12_345_678);
    let raw = encode_to_vec(&amsterdam);
    let mut fields = Rlp::new(&raw).list().unwrap();
    let mut count = 0;
    while !fields.is_empty() {
        fields.raw().unwrap();
        count += 1;
    }
    assert_eq!(count, 23);
    let sealed: devp2p_eth_wire::SealedHeader = decode_exact(&raw).unwrap();
    assert_eq!(sealed.header, amsterdam);
    assert_eq!(sealed.hash, keccak256(&raw));
    assert_eq!(encode_to_vec(&sealed), raw);
}

#[test]
fn every_transaction_decodes_field_by_field() {
    let bytes = chain();
    let mut rlp = Rlp::new(&bytes);
    let mut by_type: BTreeMap<u8, usize> = BTreeMap::new();
    while !rlp.is_empty() {
        let block: Block = decode_exact(rlp.raw().unwrap()).unwrap();
        for envelope in &block.transactions {
            *by_type.entry(envelope.tx_type()).or_default() += 1;
            assert_eq!(envelope.hash(), keccak256(envelope.encoded()));
            let tx = envelope.decode().unwrap();
            assert_eq!(reencode(&tx), envelope.encoded()[..]);
            // The envelope survives a trip through its own encoding.
            let again: TransactionEnvelope = decode_exact(&encode_to_vec(envelope)).unwrap();
            assert_eq!(&again, envelope);
        }
    }
    // Every type occurs in the file.
    assert_eq!(
        by_type.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2, 3, 4],
        "{by_type:?}"
    );
}
