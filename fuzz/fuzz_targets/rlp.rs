//! RLP decoding of arbitrary bytes: never panics; whatever decodes is canonical, so it
//! re-encodes to exactly the input; typed decoders agree with the generic walk.
#![no_main]

use devp2p_rlp_codec::{
    Decodable, DecodeError, Encodable, Header, Item, Rlp, RlpDecodable, RlpEncodable,
    bytes::BufMut, decode_exact, encode_to_vec,
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

fuzz_target!(|data: &[u8]| {
    let generic = decode_exact::<Tree>(data);
    if let Ok(tree) = &generic {
        assert_eq!(encode_to_vec(tree), data, "decoded input is not canonical");
        assert_eq!(tree.length(), data.len());
    }
    if let Ok(message) = decode_exact::<Message<'_>>(data) {
        assert!(
            generic.is_ok(),
            "typed decode accepted what the generic walk rejects"
        );
        assert_eq!(encode_to_vec(&message), data);
    }
    if let Ok(words) = decode_exact::<Vec<u64>>(data) {
        assert_eq!(encode_to_vec(&words), data);
    }
    if let Err(err) = generic {
        assert!(err.offset() <= data.len());
    }
});
