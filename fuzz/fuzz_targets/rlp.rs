//! RLP decoding of arbitrary bytes: never panics; whatever decodes is canonical, so it
//! re-encodes to exactly the input; typed decoders (every impl of the crate, the alloy types,
//! derived structs) agree with the generic walk.
#![no_main]

use core::any::type_name;

use alloy_primitives::{Address, B256, Bloom, FixedBytes, U256};
use devp2p_rlp_codec::{
    Decodable, DecodeError, Encodable, Header, Item, Rlp, RlpDecodable, RlpEncodable,
    bytes::{BufMut, Bytes},
    decode_exact, encode_to_vec,
};
use libfuzzer_sys::fuzz_target;

/// Any RLP value, owned.
#[derive(Debug, PartialEq)]
enum Tree {
    Bytes(Vec<u8>),
    List(Vec<Self>),
}

impl Encodable for Tree {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        match self {
            Self::Bytes(b) => b.as_slice().encode(out),
            Self::List(items) => {
                Header::list(items.iter().map(Encodable::length).sum()).encode(out);
                items.iter().for_each(|item| item.encode(out));
            }
        }
    }

    fn length(&self) -> usize {
        match self {
            Self::Bytes(b) => b.as_slice().length(),
            Self::List(items) => {
                Header::list(items.iter().map(Encodable::length).sum()).length_with_payload()
            }
        }
    }
}

impl Decodable<'_> for Tree {
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        Ok(match rlp.item()? {
            Item::Bytes(b) => Self::Bytes(b.to_vec()),
            Item::List(list) => Self::List(list.iter().collect::<Result<_, _>>()?),
        })
    }
}

#[derive(Debug, PartialEq, RlpEncodable, RlpDecodable)]
struct Message<'a> {
    id: u64,
    name: &'a str,
    hashes: Vec<[u8; 32]>,
    flag: Option<bool>,
}

/// Extra list elements skipped (EIP-8): what decodes need not re-encode to the input.
#[derive(Debug, PartialEq, RlpEncodable, RlpDecodable)]
#[rlp(ignore_extra)]
struct Versioned {
    version: u8,
    tail: Option<Vec<u8>>,
}

#[derive(Debug, PartialEq, RlpEncodable, RlpDecodable)]
#[rlp(transparent)]
struct Wrapped(u32);

/// A `T` decoded from the whole input is canonical: the generic walk takes the input too, and
/// the value re-encodes to exactly it, `length()` included.
fn typed<'a, T: Decodable<'a> + Encodable>(data: &'a [u8], generic_ok: bool) {
    if let Ok(value) = decode_exact::<T>(data) {
        let name = type_name::<T>();
        assert!(generic_ok, "{name} accepted what the generic walk rejects");
        assert_eq!(encode_to_vec(&value), data, "{name} does not re-encode to its input");
        assert_eq!(value.length(), data.len(), "length() of {name}");
    }
}

fuzz_target!(|data: &[u8]| {
    let generic = decode_exact::<Tree>(data);
    if let Ok(tree) = &generic {
        assert_eq!(encode_to_vec(tree), data, "decoded input is not canonical");
        assert_eq!(tree.length(), data.len());
    }
    let ok = generic.is_ok();
    typed::<Message<'_>>(data, ok);
    typed::<Wrapped>(data, ok);
    typed::<u8>(data, ok);
    typed::<u16>(data, ok);
    typed::<u32>(data, ok);
    typed::<u64>(data, ok);
    typed::<u128>(data, ok);
    typed::<usize>(data, ok);
    typed::<bool>(data, ok);
    typed::<[u8; 1]>(data, ok);
    typed::<[u8; 8]>(data, ok);
    typed::<[u8; 56]>(data, ok);
    typed::<&[u8]>(data, ok);
    typed::<&str>(data, ok);
    typed::<String>(data, ok);
    typed::<Bytes>(data, ok);
    typed::<Vec<u64>>(data, ok);
    typed::<Vec<bool>>(data, ok);
    typed::<Vec<[u8; 20]>>(data, ok);
    typed::<Vec<Vec<u16>>>(data, ok);
    typed::<Box<u64>>(data, ok);
    typed::<U256>(data, ok);
    typed::<Address>(data, ok);
    typed::<B256>(data, ok);
    typed::<Bloom>(data, ok);
    typed::<FixedBytes<4>>(data, ok);
    typed::<alloy_primitives::Bytes>(data, ok);
    if let Ok(versioned) = decode_exact::<Versioned>(data) {
        let again = encode_to_vec(&versioned);
        assert_eq!(decode_exact::<Versioned>(&again).as_ref(), Ok(&versioned));
        assert!(again.len() <= data.len());
    }
    // The raw bytes of the first item start the input; all of it when it is one valid item.
    if let Ok(raw) = Rlp::new(data).raw() {
        assert!(data.starts_with(raw));
        assert!(!ok || raw.len() == data.len());
    }
    if let Err(err) = generic {
        assert!(err.offset() <= data.len());
    }
});
