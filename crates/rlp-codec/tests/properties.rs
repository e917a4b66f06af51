//! Property tests: encode → decode round trips for every impl and for derived structs, exact
//! `length()`, differential tests against `fastrlp` and `alloy-rlp`, and strictness on corrupted
//! input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use bytes::Bytes;
use common::Tree;
use devp2p_rlp_codec::{
    Decodable, DecodeErrorKind, Encodable, Header, Item, MAX_DEPTH, Rlp, RlpDecodable,
    RlpEncodable, bytes_length, decode_exact, encode_bytes, encode_to_vec,
};
use proptest::prelude::*;

fn round_trip<T>(value: &T)
where
    T: Encodable + for<'a> Decodable<'a> + PartialEq + std::fmt::Debug,
{
    let bytes = encode_to_vec(value);
    assert_eq!(bytes.len(), value.length(), "length() of {value:?}");
    assert_eq!(&decode_exact::<T>(&bytes).unwrap(), value);
}

fn fast<T: fastrlp::Encodable>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode(&mut out);
    out
}

#[derive(Debug, Clone, PartialEq, RlpEncodable, RlpDecodable)]
struct Ours {
    nonce: u64,
    to: [u8; 20],
    value: u128,
    data: Bytes,
    hashes: Vec<[u8; 32]>,
    flag: bool,
}

#[derive(Debug, Clone, PartialEq, fastrlp::Encodable, fastrlp::Decodable)]
struct Theirs {
    nonce: u64,
    to: [u8; 20],
    value: u128,
    data: Bytes,
    hashes: Vec<[u8; 32]>,
    flag: bool,
}

fn ours() -> impl Strategy<Value = Ours> {
    (
        any::<u64>(),
        any::<[u8; 20]>(),
        any::<u128>(),
        proptest::collection::vec(any::<u8>(), 0..100),
        proptest::collection::vec(any::<[u8; 32]>(), 0..5),
        any::<bool>(),
    )
        .prop_map(|(nonce, to, value, data, hashes, flag)| Ours {
            nonce,
            to,
            value,
            data: data.into(),
            hashes,
            flag,
        })
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..3).prop_map(Tree::Bytes),
        proptest::collection::vec(any::<u8>(), 50..70).prop_map(Tree::Bytes),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        proptest::collection::vec(inner, 0..8).prop_map(Tree::List)
    })
}

/// Walks `input` with alloy-rlp's header decoder: whether it accepts the input as one item.
fn alloy_accepts(input: &[u8]) -> bool {
    fn walk(buf: &mut &[u8]) -> Result<(), alloy_rlp::Error> {
        let header = alloy_rlp::Header::decode(buf)?;
        let (payload, rest) = buf
            .split_at_checked(header.payload_length)
            .ok_or(alloy_rlp::Error::InputTooShort)?;
        if header.list {
            let mut items = payload;
            while !items.is_empty() {
                walk(&mut items)?;
            }
        }
        *buf = rest;
        Ok(())
    }
    let mut buf = input;
    walk(&mut buf).is_ok() && buf.is_empty()
}

/// A list of `N`-byte strings as `Vec<[u8; N]>` encodes it (many to a write), against the list
/// of the same bytes as slices (one at a time); it decodes back.
fn arrays_match_slices<const N: usize>(seed: &[u8], count: usize) {
    let items: Vec<[u8; N]> = (0..count)
        .map(|i| core::array::from_fn(|j| seed[(i * N + j) % seed.len()]))
        .collect();
    let slices: Vec<&[u8]> = items.iter().map(|a| a.as_slice()).collect();
    let mut expected = Vec::new();
    Header::list(slices.iter().map(|s| bytes_length(s)).sum()).encode(&mut expected);
    slices.iter().for_each(|s| encode_bytes(s, &mut expected));
    assert_eq!(encode_to_vec(&items), expected, "N = {N}, {count} items");
    assert_eq!(items.length(), expected.len());
    assert_eq!(decode_exact::<Vec<[u8; N]>>(&expected).unwrap(), items);
}

/// `n` lists, each the only element of the one around it, and the offset of the innermost.
fn nested_lists(n: usize) -> (Vec<u8>, usize) {
    // The encoded length of each list, from the innermost (`c0`) out.
    let mut lengths = vec![1];
    for _ in 1..n {
        let inner = lengths[lengths.len() - 1];
        lengths.push(Header::list(inner).length_with_payload());
    }
    let mut input = Vec::with_capacity(lengths[n - 1]);
    for inner in lengths[..n - 1].iter().rev() {
        Header::list(*inner).encode(&mut input);
    }
    let innermost = input.len();
    input.push(0xc0);
    (input, innermost)
}

/// Counts the lists of `rlp` through the zero-copy walk, recursively.
fn count_lists(mut rlp: Rlp<'_>) -> Result<usize, devp2p_rlp_codec::DecodeError> {
    let mut n = 0;
    while !rlp.is_empty() {
        if let Item::List(inner) = rlp.item()? {
            n += 1 + count_lists(inner)?;
        }
    }
    Ok(n)
}

#[test]
fn lists_nested_past_the_limit_are_refused_before_the_stack_runs_out() {
    let depth = usize::from(MAX_DEPTH);
    let (deepest, _) = nested_lists(depth);
    let tree = decode_exact::<Tree>(&deepest).unwrap();
    assert_eq!(encode_to_vec(&tree), deepest);
    assert_eq!(count_lists(Rlp::new(&deepest)), Ok(depth));

    let (too_deep, innermost) = nested_lists(depth + 1);
    let err = decode_exact::<Tree>(&too_deep).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (DecodeErrorKind::TooDeep, innermost)
    );
    let err = count_lists(Rlp::new(&too_deep)).unwrap_err();
    assert_eq!(
        (err.kind(), err.offset()),
        (DecodeErrorKind::TooDeep, innermost)
    );

    // Deep enough to overflow the test thread's stack, each level reserving its payload's size.
    let (hostile, _) = nested_lists(200_000);
    let err = decode_exact::<Tree>(&hostile).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::TooDeep);
}

proptest! {
    #[test]
    fn lists_of_fixed_size_strings_encode_as_their_bytes(
        seed in proptest::collection::vec(any::<u8>(), 1..64),
        count in 0usize..80,
    ) {
        arrays_match_slices::<1>(&seed, count);
        arrays_match_slices::<2>(&seed, count);
        arrays_match_slices::<20>(&seed, count);
        arrays_match_slices::<32>(&seed, count);
        arrays_match_slices::<55>(&seed, count);
        arrays_match_slices::<56>(&seed, count);
    }

    #[test]
    fn integers_round_trip(a: u8, b: u16, c: u32, d: u64, e: u128, f: usize, g: bool) {
        round_trip(&a);
        round_trip(&b);
        round_trip(&c);
        round_trip(&d);
        round_trip(&e);
        round_trip(&f);
        round_trip(&g);
    }

    #[test]
    fn strings_and_lists_round_trip(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        text in ".{0,80}",
        words in proptest::collection::vec(any::<u64>(), 0..50),
        nested in proptest::collection::vec(proptest::collection::vec(any::<u32>(), 0..4), 0..6),
        hash: [u8; 32],
        single: [u8; 1],
    ) {
        round_trip(&Bytes::from(bytes.clone()));
        round_trip(&bytes); // as a list of integers
        round_trip(&text);
        round_trip(&words);
        round_trip(&nested);
        round_trip(&hash);
        round_trip(&single);
        let encoded = encode_to_vec(bytes.as_slice());
        prop_assert_eq!(decode_exact::<&[u8]>(&encoded).unwrap(), bytes.as_slice());
    }

    #[test]
    fn derived_struct_round_trips(value in ours()) {
        round_trip(&value);
    }

    #[test]
    fn trees_round_trip(t in tree()) {
        round_trip(&t);
    }

    #[test]
    fn same_bytes_as_fastrlp(
        a: u8, b: u16, c: u32, d: u64, e: u128, g: bool, hash: [u8; 32],
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        text in ".{0,80}",
        words in proptest::collection::vec(any::<u64>(), 0..50),
    ) {
        prop_assert_eq!(encode_to_vec(&a), fast(&a));
        prop_assert_eq!(encode_to_vec(&b), fast(&b));
        prop_assert_eq!(encode_to_vec(&c), fast(&c));
        prop_assert_eq!(encode_to_vec(&d), fast(&d));
        prop_assert_eq!(encode_to_vec(&e), fast(&e));
        prop_assert_eq!(encode_to_vec(&g), fast(&g));
        prop_assert_eq!(encode_to_vec(&hash), fast(&hash));
        prop_assert_eq!(encode_to_vec(bytes.as_slice()), fast(&bytes.as_slice()));
        prop_assert_eq!(encode_to_vec(&text), fast(&text));
        prop_assert_eq!(encode_to_vec(&words), fast(&words));
        let ours_d: u64 = decode_exact(&fast(&d)).unwrap();
        prop_assert_eq!(ours_d, d);
        let theirs_e = <u128 as fastrlp::Decodable>::decode(&mut encode_to_vec(&e).as_slice()).unwrap();
        prop_assert_eq!(theirs_e, e);
    }

    #[test]
    fn derived_struct_matches_fastrlp(value in ours()) {
        let theirs = Theirs {
            nonce: value.nonce,
            to: value.to,
            value: value.value,
            data: value.data.clone(),
            hashes: value.hashes.clone(),
            flag: value.flag,
        };
        let ours_bytes = encode_to_vec(&value);
        prop_assert_eq!(&ours_bytes, &fast(&theirs));
        let back = <Theirs as fastrlp::Decodable>::decode(&mut ours_bytes.as_slice()).unwrap();
        prop_assert_eq!(back, theirs);
    }

    /// A corrupted encoding is either rejected, or canonical: then it re-encodes to itself.
    /// alloy-rlp's strict header decoder agrees on which inputs are well formed.
    #[test]
    fn corrupted_input_is_rejected_or_canonical(t in tree(), at: prop::sample::Index, byte: u8, cut: prop::sample::Index) {
        let mut bytes = encode_to_vec(&t);
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let end = bytes.len() - cut.index(bytes.len().min(3));
        let bytes = &bytes[..end];
        match decode_exact::<Tree>(bytes) {
            Ok(decoded) => {
                prop_assert_eq!(encode_to_vec(&decoded), bytes);
                prop_assert!(alloy_accepts(bytes));
            }
            Err(err) => {
                prop_assert!(err.offset() <= bytes.len());
                prop_assert!(!alloy_accepts(bytes), "alloy-rlp accepts what we reject: {err}");
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut rlp = Rlp::new(&bytes);
        while rlp.decode::<Tree>().is_ok() {}
        let _ = decode_exact::<Vec<u64>>(&bytes);
        let _ = decode_exact::<Ours>(&bytes);
    }
}
