//! A generic RLP tree shared by the integration tests and the benchmark.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use devp2p_rlp_codec::{Decodable, DecodeError, Encodable, Header, Rlp, bytes::BufMut};

/// Any RLP value, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tree {
    Bytes(Vec<u8>),
    List(Vec<Self>),
}

impl Tree {
    fn payload_length(items: &[Self]) -> usize {
        items.iter().map(Encodable::length).sum()
    }
}

impl Encodable for Tree {
    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        match self {
            Self::Bytes(b) => b.as_slice().encode(out),
            Self::List(items) => {
                Header::list(Self::payload_length(items)).encode(out);
                for item in items {
                    item.encode(out);
                }
            }
        }
    }

    fn length(&self) -> usize {
        match self {
            Self::Bytes(b) => b.as_slice().length(),
            Self::List(items) => Header::list(Self::payload_length(items)).length_with_payload(),
        }
    }
}

impl Decodable<'_> for Tree {
    fn decode(rlp: &mut Rlp<'_>) -> Result<Self, DecodeError> {
        Ok(if rlp.peek_is_list() == Some(true) {
            Self::List(Vec::decode(rlp)?)
        } else {
            Self::Bytes(rlp.bytes()?.to_vec())
        })
    }
}

/// A file under the workspace's `testdata/`.
pub fn testdata(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(path)
}
