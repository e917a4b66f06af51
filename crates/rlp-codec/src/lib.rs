//! Recursive Length Prefix (RLP), the serialization every devp2p protocol speaks: strict,
//! canonical and zero-copy.
//!
//! Follows the Yellow Paper, appendix B, and ethereum/devp2p `rlp.md`.
//!
//! - [`Encodable`] writes into any [`bytes::BufMut`]; its [`length`](Encodable::length) is exact
//!   and computed without allocating, so [`encode_to_vec`] allocates once.
//! - [`Decodable`] reads from a [`Rlp`] cursor that borrows from the input. Decoding is strict:
//!   leading zeros in integers or lengths, `81 xx` for a byte below `0x80`, long-form lengths
//!   under 56, lengths past the input, and (with [`decode_exact`]) trailing bytes are each a
//!   [`DecodeError`] naming the problem and the byte offset where it was found. Decoding never
//!   panics, and what it allocates is bounded by the input: a list of `T` holds at most one
//!   element per [`Decodable::MIN_LENGTH`] bytes of its payload, and lists nest at most
//!   [`MAX_DEPTH`] deep.
//! - [`Rlp`] also walks any RLP generically ([`Rlp::item`]) and hands out the exact bytes of an
//!   item ([`Rlp::raw`]), for hashing headers and transactions as they were sent.
//! - With the `derive` feature (on by default), `#[derive(RlpEncodable, RlpDecodable)]` encodes a
//!   struct as a list of its fields. Trailing `Option` fields may be absent from the list;
//!   `#[rlp(ignore_extra)]` accepts and skips extra elements (EIP-8); `#[rlp(transparent)]`
//!   encodes a one-field wrapper as its field.
//!
//! ```
//! use devp2p_rlp_codec::{RlpDecodable, RlpEncodable, decode_exact, encode_to_vec};
//!
//! #[derive(Debug, PartialEq, RlpEncodable, RlpDecodable)]
//! struct Ping<'a> {
//!     version: u8,
//!     client: &'a str,
//!     seq: Option<u64>,
//! }
//!
//! let ping = Ping { version: 4, client: "devp2p-rs", seq: None };
//! let bytes = encode_to_vec(&ping);
//! assert_eq!(bytes[0], 0xcb); // a list of 11 payload bytes
//! assert_eq!(decode_exact::<Ping<'_>>(&bytes)?, ping);
//!
//! // Integers must be minimal: 0x00 is not zero (zero is 0x80).
//! let err = decode_exact::<u64>(&[0x00]).unwrap_err();
//! assert_eq!(err.kind(), devp2p_rlp_codec::DecodeErrorKind::LeadingZero);
//! # Ok::<(), devp2p_rlp_codec::DecodeError>(())
//! ```
//!
//! `Vec<T>` is a list of `T`, so `Vec<u8>` is a list of integers; use `&[u8]`, [`bytes::Bytes`]
//! or `[u8; N]` for byte strings.
#![no_std]

// The README's examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "alloy-primitives")]
mod alloy;
mod decode;
mod encode;
mod error;
mod header;
mod rlp;

pub use bytes;
pub use decode::{Decodable, decode_exact, decode_prefix};
#[cfg(feature = "derive")]
pub use devp2p_rlp_codec_derive::{RlpDecodable, RlpEncodable};
pub use encode::{
    Encodable, bytes_length, encode_bytes, encode_iter, encode_list, encode_to_vec, list_length,
    list_payload_length,
};
pub use error::{DecodeError, DecodeErrorKind};
pub use header::{Header, header_length};
pub use rlp::{DecodeIter, Item, MAX_DEPTH, Rlp};
