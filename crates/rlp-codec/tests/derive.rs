//! `#[derive(RlpEncodable, RlpDecodable)]`: lists, trailing optional fields, extra elements,
//! transparent wrappers, borrowed and generic fields.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use devp2p_rlp_codec::{
    DecodeError, DecodeErrorKind, RlpDecodable, RlpEncodable, decode_exact, encode_to_vec,
};

#[derive(Debug, Clone, PartialEq, RlpEncodable, RlpDecodable)]
struct Endpoint {
    ip: [u8; 4],
    udp: u16,
    tcp: u16,
}

#[derive(Debug, Clone, PartialEq, RlpEncodable, RlpDecodable)]
struct Pong {
    to: Endpoint,
    ping_hash: [u8; 32],
    expiration: u64,
    enr_seq: Option<u64>,
    extra: Option<u8>,
}

#[derive(Debug, PartialEq, RlpEncodable, RlpDecodable)]
#[rlp(ignore_extra)]
struct Versioned {
    version: u64,
}

#[derive(Debug, PartialEq, RlpEncodable, RlpDecodable)]
#[rlp(transparent)]
struct Id([u8; 2]);

#[derive(Debug, PartialEq, RlpEncodable, RlpDecodable)]
struct Borrowed<'a> {
    name: &'a str,
    payload: &'a [u8],
}

#[derive(Debug, PartialEq, RlpEncodable, RlpDecodable)]
struct Pair<A, B>(A, B);

#[derive(Debug, PartialEq, RlpEncodable, RlpDecodable)]
struct Empty;

fn pong(enr_seq: Option<u64>, extra: Option<u8>) -> Pong {
    Pong {
        to: Endpoint {
            ip: [127, 0, 0, 1],
            udp: 30303,
            tcp: 0,
        },
        ping_hash: [0xab; 32],
        expiration: 1_700_000_000,
        enr_seq,
        extra,
    }
}

fn kind(result: Result<impl std::fmt::Debug, DecodeError>) -> DecodeErrorKind {
    result.unwrap_err().kind()
}

#[test]
fn struct_is_a_list_of_fields() {
    let ep = Endpoint {
        ip: [127, 0, 0, 1],
        udp: 30303,
        tcp: 0,
    };
    let bytes = encode_to_vec(&ep);
    assert_eq!(hex::encode(&bytes), "c9847f00000182765f80");
    assert_eq!(decode_exact::<Endpoint>(&bytes).unwrap(), ep);
}

#[test]
fn trailing_optionals_are_omitted_and_restored() {
    let without = encode_to_vec(&pong(None, None));
    let with_seq = encode_to_vec(&pong(Some(7), None));
    let with_both = encode_to_vec(&pong(Some(7), Some(1)));
    assert_eq!(with_seq.len(), without.len() + 1);
    assert_eq!(with_both.len(), without.len() + 2);
    for p in [
        pong(None, None),
        pong(Some(7), None),
        pong(Some(7), Some(1)),
    ] {
        assert_eq!(decode_exact::<Pong>(&encode_to_vec(&p)).unwrap(), p);
    }
}

#[test]
fn none_before_some_is_written_as_empty_string() {
    let bytes = encode_to_vec(&pong(None, Some(1)));
    assert_eq!(&bytes[bytes.len() - 2..], [0x80, 0x01]);
    // It reads back as the zero value, the only thing 0x80 can mean for an integer.
    assert_eq!(
        decode_exact::<Pong>(&bytes).unwrap(),
        pong(Some(0), Some(1))
    );
}

#[test]
fn missing_required_field_and_extra_element_are_rejected() {
    // [[..endpoint..], hash] without the expiration.
    let mut short = encode_to_vec(&pong(None, None));
    short.truncate(short.len() - 5);
    short[0] -= 5;
    let err = decode_exact::<Pong>(&short).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::MissingItem);
    assert_eq!(err.offset(), short.len());

    let mut long = encode_to_vec(&pong(Some(1), Some(2)));
    long.push(0x03);
    long[0] += 1;
    let err = decode_exact::<Pong>(&long).unwrap_err();
    assert_eq!(err.kind(), DecodeErrorKind::ListTooLong);
    assert_eq!(err.offset(), long.len() - 1);
}

#[test]
fn ignore_extra_skips_well_formed_elements_only() {
    // [4, "x", [1, 2]] decodes as version 4.
    let bytes = [0xc5, 0x04, 0x78, 0xc2, 0x01, 0x02];
    assert_eq!(
        decode_exact::<Versioned>(&bytes).unwrap(),
        Versioned { version: 4 }
    );
    // A single byte in a string header is taken, as go-ethereum's `rlp:"tail"` takes it:
    // nothing is decoded from it.
    assert_eq!(
        decode_exact::<Versioned>(&[0xc3, 0x04, 0x81, 0x05]).unwrap(),
        Versioned { version: 4 }
    );
    // An extra element running past the list is still an error.
    assert_eq!(
        kind(decode_exact::<Versioned>(&[0xc3, 0x04, 0x82, 0x05])),
        DecodeErrorKind::InputTooShort
    );
    assert_eq!(encode_to_vec(&Versioned { version: 4 }), [0xc1, 0x04]);
}

#[test]
fn transparent_wrapper_is_its_field() {
    assert_eq!(encode_to_vec(&Id([1, 2])), [0x82, 1, 2]);
    assert_eq!(decode_exact::<Id>(&[0x82, 1, 2]).unwrap(), Id([1, 2]));
    assert_eq!(
        kind(decode_exact::<Id>(&[0xc2, 1, 2])),
        DecodeErrorKind::UnexpectedList
    );
}

#[test]
fn borrowed_fields_point_into_the_input() {
    let value = Borrowed {
        name: "eth",
        payload: &[0xff; 60],
    };
    let bytes = encode_to_vec(&value);
    let decoded = decode_exact::<Borrowed<'_>>(&bytes).unwrap();
    assert_eq!(decoded, value);
    assert!(bytes.as_ptr_range().contains(&decoded.payload.as_ptr()));
}

#[test]
fn generic_and_unit_structs() {
    let pair = Pair(5u8, String::from("five"));
    let bytes = encode_to_vec(&pair);
    assert_eq!(decode_exact::<Pair<u8, String>>(&bytes).unwrap(), pair);
    assert_eq!(encode_to_vec(&Empty), [0xc0]);
    assert_eq!(decode_exact::<Empty>(&[0xc0]).unwrap(), Empty);
    assert_eq!(
        kind(decode_exact::<Empty>(&[0xc1, 0x01])),
        DecodeErrorKind::ListTooLong
    );
    assert_eq!(
        kind(decode_exact::<Empty>(&[0x80])),
        DecodeErrorKind::UnexpectedString
    );
}

/// `MIN_LENGTH`, which sizes `Vec` allocations, is a list header plus the required fields' (the
/// trailing optional ones may be absent), or the wrapped field's, and is reached by a real value.
#[test]
fn min_length_counts_the_required_fields() {
    use devp2p_rlp_codec::Decodable;
    // Endpoint: header, 4-byte ip, two integers. Pong: header, Endpoint, hash, integer.
    assert_eq!(<Endpoint as Decodable<'_>>::MIN_LENGTH, 1 + 5 + 1 + 1);
    assert_eq!(<Pong as Decodable<'_>>::MIN_LENGTH, 1 + 8 + 33 + 1);
    assert_eq!(<Id as Decodable<'_>>::MIN_LENGTH, 3);
    assert_eq!(
        <Pair<u8, [u8; 32]> as Decodable<'_>>::MIN_LENGTH,
        1 + 1 + 33
    );
    assert_eq!(<Empty as Decodable<'_>>::MIN_LENGTH, 1);
    let smallest = Pong {
        to: Endpoint {
            ip: [0; 4],
            udp: 0,
            tcp: 0,
        },
        ping_hash: [0; 32],
        expiration: 0,
        enr_seq: None,
        extra: None,
    };
    assert_eq!(
        encode_to_vec(&smallest).len(),
        <Pong as Decodable<'_>>::MIN_LENGTH
    );
}

/// A struct whose optional field's type comes through a `macro_rules!` type fragment (an
/// invisible group around `Option<u64>`) or parentheses.
macro_rules! with_optional {
    ($name:ident, $t:ty) => {
        #[derive(Debug, PartialEq, RlpEncodable, RlpDecodable)]
        #[allow(unused_parens)]
        struct $name {
            required: u64,
            optional: $t,
            parenthesized: (Option<u8>),
        }
    };
}
with_optional!(FromMacro, Option<u64>);

#[test]
fn optionals_from_macro_fragments_and_parentheses_are_optional() {
    let absent = FromMacro {
        required: 7,
        optional: None,
        parenthesized: None,
    };
    assert_eq!(encode_to_vec(&absent), [0xc1, 0x07]);
    assert_eq!(decode_exact::<FromMacro>(&[0xc1, 0x07]).unwrap(), absent);
    let present = FromMacro {
        required: 7,
        optional: Some(1),
        parenthesized: Some(2),
    };
    assert_eq!(
        decode_exact::<FromMacro>(&encode_to_vec(&present)).unwrap(),
        present
    );
}
