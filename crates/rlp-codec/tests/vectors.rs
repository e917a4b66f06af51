//! ethereum/tests `RLPTests`: every valid case encodes to its `out` and decodes back to its `in`;
//! every invalid case is rejected.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{Tree, testdata};
use devp2p_rlp_codec::{decode_exact, encode_to_vec};
use serde_json::{Map, Value};

fn load(path: &str) -> Map<String, Value> {
    let text = std::fs::read_to_string(testdata(path)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).unwrap()
}

/// Big-endian minimal bytes of a decimal number of any size.
fn decimal_to_be(digits: &str) -> Vec<u8> {
    let mut be: Vec<u8> = Vec::new();
    for d in digits.bytes() {
        let mut carry = u32::from(d - b'0');
        for byte in be.iter_mut().rev() {
            let v = u32::from(*byte) * 10 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            be.insert(0, carry as u8);
            carry >>= 8;
        }
    }
    be
}

/// The test format's `in`: strings are byte strings of their code points, integers and `#`
/// decimals are minimal big-endian integers, arrays are lists.
fn to_tree(v: &Value) -> Tree {
    match v {
        Value::String(s) if s.starts_with('#') => Tree::Bytes(decimal_to_be(&s[1..])),
        Value::String(s) => {
            Tree::Bytes(s.chars().map(|c| u8::try_from(c as u32).unwrap()).collect())
        }
        Value::Number(n) => {
            let n = n.as_u64().unwrap();
            Tree::Bytes(
                n.to_be_bytes()
                    .into_iter()
                    .skip_while(|b| *b == 0)
                    .collect(),
            )
        }
        Value::Array(items) => Tree::List(items.iter().map(to_tree).collect()),
        other => panic!("unexpected input {other}"),
    }
}

#[test]
fn valid_vectors_round_trip() {
    let cases = load("rlp/rlptest.json");
    assert_eq!(cases.len(), 28);
    for (name, case) in &cases {
        let out = unhex(case["out"].as_str().unwrap());
        let tree = to_tree(&case["in"]);
        assert_eq!(encode_to_vec(&tree), out, "{name}: encoding");
        assert_eq!(
            decode_exact::<Tree>(&out).unwrap(),
            tree,
            "{name}: decoding"
        );
    }
}

#[test]
fn integer_vectors_decode_as_integers() {
    let cases = load("rlp/rlptest.json");
    let mut checked = 0;
    for (name, case) in &cases {
        if let Some(n) = case["in"].as_u64() {
            let out = unhex(case["out"].as_str().unwrap());
            assert_eq!(decode_exact::<u64>(&out).unwrap(), n, "{name}");
            assert_eq!(encode_to_vec(&n), out, "{name}");
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} integer cases");
}

#[test]
fn random_vectors_round_trip() {
    for (name, case) in &load("rlp/RandomRLPTests/example.json") {
        assert_eq!(case["in"], "VALID");
        let out = unhex(case["out"].as_str().unwrap());
        let tree = decode_exact::<Tree>(&out).unwrap();
        assert_eq!(encode_to_vec(&tree), out, "{name}");
    }
}

#[test]
fn invalid_vectors_are_rejected() {
    let cases = load("rlp/invalidRLPTest.json");
    assert_eq!(cases.len(), 26);
    for (name, case) in &cases {
        assert_eq!(case["in"], "INVALID");
        let out = unhex(case["out"].as_str().unwrap());
        let result = decode_exact::<Tree>(&out);
        assert!(result.is_err(), "{name}: accepted as {result:?}");
    }
}

/// Each invalid case fails for its own reason, at the offset where that reason is visible.
#[test]
fn invalid_vectors_fail_for_the_right_reason() {
    use devp2p_rlp_codec::DecodeErrorKind::*;
    for (name, case) in &load("rlp/invalidRLPTest.json") {
        let out = unhex(case["out"].as_str().unwrap());
        let expected = match name.as_str() {
            n if n.starts_with("bytesShouldBeSingleByte") => NonCanonicalSingleByte,
            n if n.starts_with("leadingZeros") || n == "incorrectLengthInArray" => {
                LengthLeadingZero
            }
            n if n.starts_with("nonOptimal") || n.starts_with("wrongSizeList") => {
                NonCanonicalLength
            }
            n if n.starts_with("lessThan") || n.starts_with("int32Overflow") => InputTooShort,
            "emptyEncoding" => MissingItem,
            // A list whose fourth byte starts an item with a zero-led long length.
            "randomRLP" => LengthLeadingZero,
            other => panic!("unclassified vector {other}"),
        };
        let err = decode_exact::<Tree>(&out).unwrap_err();
        assert_eq!(err.kind(), expected, "{name}");
        assert_eq!(
            err.offset(),
            if name == "randomRLP" { 4 } else { 0 },
            "{name}"
        );
    }
}
