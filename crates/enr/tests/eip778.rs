//! The EIP-778 example record, and every malformed record we can name, each rejected with its
//! own error.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use devp2p_enr::{Enr, EnrError, NodeRecord, SigningKey};
use devp2p_rlp_codec::{DecodeErrorKind, Header, Rlp, encode_to_vec};
use k256::ecdsa::{Signature, signature::hazmat::PrehashSigner};
use serde_json::Value;
use sha3::{Digest, Keccak256};

fn vector() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/enr/eip778.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn field(v: &Value, path: &str) -> String {
    v.pointer(path).and_then(Value::as_str).unwrap().to_owned()
}

fn key() -> SigningKey {
    SigningKey::from_slice(&hex::decode(field(&vector(), "/private_key")).unwrap()).unwrap()
}

#[test]
fn example_record_decodes_verifies_and_reencodes() {
    let v = vector();
    let text = field(&v, "/text");
    let record: Enr = text.parse().unwrap();
    assert_eq!(record.seq(), 1);
    assert_eq!(record.id(), "v4");
    assert_eq!(record.ip(), Some([127, 0, 0, 1].into()));
    assert_eq!(record.udp(), Some(30303));
    assert_eq!(record.tcp(), None);
    assert_eq!(record.node_id().to_string(), field(&v, "/node_id"));
    assert_eq!(hex::encode(record.signature()), field(&v, "/signature"));
    assert_eq!(record.to_hex(), field(&v, "/derived/rlp_hex"));
    assert_eq!(record.to_string(), text);
    let pairs: Vec<(String, String)> = record
        .pairs()
        .map(|(k, v)| (String::from_utf8(k.to_vec()).unwrap(), hex::encode(v)))
        .collect();
    let expected: Vec<(String, String)> = v["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let value = hex::decode(p["value_hex"].as_str().unwrap()).unwrap();
            (
                p["key"].as_str().unwrap().to_owned(),
                hex::encode(encode_to_vec(value.as_slice())),
            )
        })
        .collect();
    assert_eq!(pairs, expected);
    assert_eq!(
        format!("04{}", record.peer_id()),
        field(&v, "/derived/public_key_uncompressed")
    );
    // The same record from hex, with and without 0x, and from raw RLP.
    let hex_form = field(&v, "/derived/rlp_hex");
    assert_eq!(Enr::from_hex(&hex_form).unwrap(), record);
    assert_eq!(Enr::parse_any(&format!("0x{hex_form}")).unwrap(), record);
    assert_eq!(
        Enr::from_rlp(&hex::decode(hex_form).unwrap()).unwrap(),
        record
    );
}

#[test]
fn signing_the_same_content_reproduces_the_record() {
    let v = vector();
    let built = Enr::builder()
        .ip4([127, 0, 0, 1].into())
        .udp(30303)
        .build(&key())
        .unwrap();
    assert_eq!(built.to_string(), field(&v, "/text"));
    let enode: NodeRecord = built.node_record().unwrap();
    assert_eq!(enode.udp_port, 30303);
    assert_eq!(enode.node_id(), built.node_id());
}

/// Signs arbitrary (possibly invalid) content with the test key, so that structural errors are
/// found with a valid signature: `[sig, seq, k1, v1, ...]`.
fn signed(seq: &[u8], pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let body: Vec<u8> = pairs
        .iter()
        .flat_map(|(k, v)| [encode_to_vec(k.as_bytes()), v.clone()].concat())
        .collect();
    let content = [seq, &body].concat();
    let mut signed_content = Vec::new();
    Header::list(content.len()).encode(&mut signed_content);
    signed_content.extend(&content);
    let digest = Keccak256::digest(&signed_content);
    let signature: Signature = key().sign_prehash(&digest).unwrap();
    let sig = signature.to_bytes();
    record_with_signature(&sig, &content)
}

fn record_with_signature(sig: &[u8], content: &[u8]) -> Vec<u8> {
    let sig = encode_to_vec(sig);
    let mut out = Vec::new();
    Header::list(sig.len() + content.len()).encode(&mut out);
    out.extend(sig);
    out.extend(content);
    out
}

fn str_item(s: &[u8]) -> Vec<u8> {
    encode_to_vec(s)
}

fn v4_pairs() -> Vec<(&'static str, Vec<u8>)> {
    let public = key().verifying_key().to_sec1_point(true);
    vec![
        ("id", str_item(b"v4")),
        ("secp256k1", str_item(public.as_bytes())),
    ]
}

#[test]
fn well_formed_handmade_record_is_accepted() {
    let mut pairs = v4_pairs();
    pairs.insert(1, ("ip", str_item(&[10, 0, 0, 1])));
    let record = Enr::from_rlp(&signed(&[0x05], &pairs)).unwrap();
    assert_eq!((record.seq(), record.ip()), (5, Some([10, 0, 0, 1].into())));
}

#[test]
fn address_keys_must_hold_what_they_name() {
    // sigp's enr (lighthouse, reth) refuses these records, and the whole NODES message that
    // carries one: each is refused here too, and the builder does not make one.
    let refused = |key: &str, value: Vec<u8>| {
        let mut pairs = v4_pairs();
        pairs.push((key, value));
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        matches!(
            Enr::from_rlp(&signed(&[0x01], &pairs)),
            Err(EnrError::InvalidValue { key: k, .. }) if k == key.as_bytes()
        )
    };
    let strings: [(&str, &[u8]); 5] = [
        ("ip", &[10, 0, 0]),
        ("ip6", &[0xfe; 15]),
        ("tcp", &[0x00, 0x05]),
        ("tcp6", &[1, 2, 3]),
        ("udp", &[1, 0, 0]),
    ];
    for (name, value) in strings {
        assert!(refused(name, str_item(value)), "{name}");
        let mut builder = Enr::builder();
        builder.set(name, &value);
        assert!(
            matches!(builder.build(&key()), Err(EnrError::InvalidValue { .. })),
            "{name}"
        );
    }
    assert!(refused("udp6", vec![0xc0]), "a list");
    // Well formed, they are taken; any other key's value may be any one item.
    let mut pairs = v4_pairs();
    pairs.extend([
        ("tcp6", encode_to_vec(&65535u16)),
        ("udp", encode_to_vec(&0u16)),
        ("zz", vec![0xc0]),
    ]);
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let record = Enr::from_rlp(&signed(&[0x01], &pairs)).unwrap();
    assert_eq!((record.tcp6(), record.udp()), (Some(65535), Some(0)));
}

#[test]
fn each_malformed_record_has_its_own_error() {
    let good = signed(&[0x01], &v4_pairs());
    Enr::from_rlp(&good).unwrap();

    // Bad signature: one bit flipped.
    let mut bad = good.clone();
    bad[5] ^= 1;
    assert_eq!(Enr::from_rlp(&bad), Err(EnrError::BadSignature));

    // The same signature with s replaced by n - s: a valid ECDSA signature, but not low-s
    // (EIP-2), which both back ends refuse.
    let mut list = Rlp::new(&good).list().unwrap();
    let sig = Signature::from_slice(list.bytes().unwrap()).unwrap();
    let content = list.remaining();
    let (r, s) = sig.split_scalars();
    let high = Signature::from_scalars(r, -*s).unwrap();
    assert!(high.normalize_s() == sig && high != sig);
    assert_eq!(
        Enr::from_rlp(&record_with_signature(&high.to_bytes(), content)),
        Err(EnrError::BadSignature)
    );

    // Unsorted keys and a duplicate key, validly signed.
    let mut unsorted = v4_pairs();
    unsorted.swap(0, 1);
    assert_eq!(
        Enr::from_rlp(&signed(&[0x01], &unsorted)),
        Err(EnrError::UnsortedKeys)
    );
    let mut duplicate = v4_pairs();
    duplicate.insert(1, ("id", str_item(b"v4")));
    assert_eq!(
        Enr::from_rlp(&signed(&[0x01], &duplicate)),
        Err(EnrError::DuplicateKey)
    );

    // Over 300 bytes.
    let mut large = v4_pairs();
    large.push(("zzz", str_item(&[0xaa; 200])));
    assert!(
        matches!(Enr::from_rlp(&signed(&[0x01], &large)), Err(EnrError::TooLarge { size }) if size > 300)
    );
    let mut builder = Enr::builder();
    builder.set("zzz", &[0xaa_u8; 200]);
    assert!(matches!(
        builder.build(&key()),
        Err(EnrError::TooLarge { .. })
    ));

    // Truncated, and trailing bytes.
    let truncated = &good[..good.len() - 1];
    assert!(
        matches!(Enr::from_rlp(truncated), Err(EnrError::Rlp(e)) if e.kind() == DecodeErrorKind::InputTooShort)
    );
    let mut trailing = good.clone();
    trailing.push(0x00);
    assert_eq!(Enr::from_rlp(&trailing), Err(EnrError::TrailingBytes(1)));

    // Identity scheme: wrong, missing; public key: missing, not on the curve.
    let mut v5 = v4_pairs();
    v5[0].1 = str_item(b"v5");
    assert_eq!(
        Enr::from_rlp(&signed(&[0x01], &v5)),
        Err(EnrError::UnsupportedScheme)
    );
    assert_eq!(
        Enr::from_rlp(&signed(&[0x01], &v4_pairs()[1..])),
        Err(EnrError::MissingId)
    );
    assert_eq!(
        Enr::from_rlp(&signed(&[0x01], &v4_pairs()[..1])),
        Err(EnrError::MissingPublicKey)
    );
    // x = 5 is not on secp256k1 (5^3 + 7 = 132 is not a square mod p).
    let mut x5 = [0u8; 33];
    x5[0] = 0x02;
    x5[32] = 0x05;
    let mut off_curve = v4_pairs();
    off_curve[1].1 = str_item(&x5);
    assert_eq!(
        Enr::from_rlp(&signed(&[0x01], &off_curve)),
        Err(EnrError::InvalidPublicKey)
    );
    // A 33-byte SEC1 "compact" point (tag 05) is not a compressed key.
    let mut compact = v4_pairs();
    compact[1].1[1] = 0x05;
    assert_eq!(
        Enr::from_rlp(&signed(&[0x01], &compact)),
        Err(EnrError::InvalidPublicKey)
    );

    // A key without a value.
    let mut odd = v4_pairs();
    odd.push(("zz", Vec::new()));
    assert_eq!(
        Enr::from_rlp(&signed(&[0x01], &odd)),
        Err(EnrError::MissingValue)
    );

    // Signature of the wrong length; non-canonical sequence number.
    let mut list = Rlp::new(&good).list().unwrap();
    list.bytes().unwrap();
    let content = list.remaining();
    assert_eq!(
        Enr::from_rlp(&record_with_signature(&[0x11; 63], content)),
        Err(EnrError::InvalidSignatureLength)
    );
    assert!(matches!(
        Enr::from_rlp(&signed(&[0x81, 0x01], &v4_pairs())),
        Err(EnrError::Rlp(e)) if e.kind() == DecodeErrorKind::NonCanonicalSingleByte
    ));
}

#[test]
fn text_with_set_trailing_bits_decodes_as_go_ethereum_decodes_it() {
    let text = field(&vector(), "/text");
    // 179 characters of base64 carry 134 bytes and 2 bits more, zero in the encoder's form.
    assert_eq!(text.len() - "enr:".len(), 179);
    let (head, last) = text.split_at(text.len() - 1);
    assert_eq!(last, "8");
    let record: Enr = format!("{head}9").parse().unwrap();
    assert_eq!(record.to_string(), text);
    // Wrapped across lines, as in a configuration file: go-ethereum's base64 decoder skips
    // line breaks, and so do we.
    let (first, second) = text.split_at(60);
    let wrapped = format!("{first}\n{}\r\n{}", &second[..60], &second[60..]);
    assert_eq!(wrapped.parse::<Enr>().unwrap().to_string(), text);
    // Other whitespace inside is still refused.
    assert!(matches!(
        format!("{first} {second}").parse::<Enr>(),
        Err(EnrError::Base64(_))
    ));
}

#[test]
fn text_and_hex_errors() {
    assert_eq!("enx:abc".parse::<Enr>(), Err(EnrError::MissingPrefix));
    assert!(matches!("enr:@@@".parse::<Enr>(), Err(EnrError::Base64(_))));
    assert!(matches!(
        "enr:-IS4QHCY=".parse::<Enr>(),
        Err(EnrError::Base64(_))
    ));
    assert!(matches!(Enr::from_hex("0xzz"), Err(EnrError::Hex(_))));
    let long = format!("enr:{}", "A".repeat(500));
    assert!(matches!(
        long.parse::<Enr>(),
        Err(EnrError::TooLarge { .. })
    ));
}

#[test]
fn oversized_text_reports_the_size_it_decodes_to() {
    // 400 characters decode to 300 bytes; each further quad is 3 bytes, a final 2 or 3
    // characters 1 or 2.
    for (chars, size) in [(402, 301), (403, 302), (404, 303), (406, 304)] {
        let text = format!("enr:{}", "A".repeat(chars));
        assert_eq!(
            text.parse::<Enr>(),
            Err(EnrError::TooLarge { size }),
            "{chars}"
        );
    }
    // One character over a multiple of four is no base64 length at all.
    assert_eq!(
        format!("enr:{}", "A".repeat(401)).parse::<Enr>(),
        Err(EnrError::Base64(base64::DecodeError::InvalidLength(401)))
    );
}

#[test]
fn oversized_hex_is_refused_before_decoding() {
    // Not hex at all: only a length check before decoding gives `TooLarge`.
    let long = "zz".repeat(301);
    assert_eq!(Enr::from_hex(&long), Err(EnrError::TooLarge { size: 301 }));
    assert_eq!(
        Enr::parse_any(&format!("0x{long}")),
        Err(EnrError::TooLarge { size: 301 })
    );
    assert_eq!(
        Enr::from_hex(&format!("{long}z")),
        Err(EnrError::Hex(hex::FromHexError::OddLength))
    );
    // 600 digits are within the limit and decoded.
    assert!(matches!(
        Enr::from_hex(&"zz".repeat(300)),
        Err(EnrError::Hex(hex::FromHexError::InvalidHexCharacter { .. }))
    ));
}

#[test]
fn a_record_inside_a_list_reports_offsets_in_the_whole_input() {
    // A validly signed record whose sequence number is non-canonical (`81 01`), after a string.
    let record = signed(&[0x81, 0x01], &v4_pairs());
    let inner = match Enr::from_rlp(&record) {
        Err(EnrError::Rlp(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(&record[inner.offset()..][..2], &[0x81, 0x01]);
    let padding = encode_to_vec(&[0x55_u8; 10][..]);
    let mut outer = Vec::new();
    Header::list(padding.len() + record.len()).encode(&mut outer);
    outer.extend(&padding);
    outer.extend(&record);

    let mut top = Rlp::new(&outer);
    let mut list = top.list().unwrap();
    list.bytes().unwrap();
    let e = list.decode::<Enr>().unwrap_err();
    assert_eq!(e.kind(), DecodeErrorKind::NonCanonicalSingleByte);
    assert_eq!(e.offset(), outer.len() - record.len() + inner.offset());
    assert_eq!(&outer[e.offset()..][..2], &[0x81, 0x01]);
}

#[test]
fn a_scheme_value_that_is_a_list_is_reported_at_its_offset() {
    // `["v4"]`
    let as_list = vec![0xc3, 0x82, b'v', b'4'];
    let mut pairs = v4_pairs();
    pairs[0].1 = as_list.clone();
    let record = signed(&[0x01], &pairs);
    let e = match Enr::from_rlp(&record) {
        Err(EnrError::Rlp(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(e.kind(), DecodeErrorKind::UnexpectedList);
    assert!(record[e.offset()..].starts_with(&as_list), "{}", e.offset());
}
