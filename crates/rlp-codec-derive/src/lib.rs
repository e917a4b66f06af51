//! Derive macros for `devp2p-rlp-codec`: a struct is encoded as the RLP list of its fields, in
//! declaration order.
//!
//! Use them through `devp2p_rlp_codec` (feature `derive`):
//!
//! ```ignore
//! use devp2p_rlp_codec::{RlpDecodable, RlpEncodable};
//!
//! #[derive(RlpEncodable, RlpDecodable)]
//! #[rlp(ignore_extra)]
//! struct Pong { to: Vec<u8>, ping_hash: [u8; 32], expiration: u64, enr_seq: Option<u64> }
//! ```
//!
//! (Not run here: this crate cannot depend on `devp2p-rlp-codec`, whose README and tests run
//! the derives.)
//!
//! Struct attributes, as `#[rlp(...)]`:
//! - `transparent`: a struct with one field is encoded exactly as that field (newtype wrapper).
//! - `ignore_extra`: on decoding, list elements after the last field are skipped (EIP-8
//!   forward compatibility) instead of rejected. Each must be a complete item within the list
//!   (its header is checked); what a skipped list holds is not read, as go-ethereum's
//!   `rlp:"tail"` does not read it either.
//! - `crate = "path"`: where `devp2p_rlp_codec` is, if it was renamed.
//!
//! Fields of type `Option<T>` are trailing optional fields and must come after all the others. On
//! decoding, a field is `None` when the list ends before it. On encoding, fields are written up to
//! the last `Some`; a `None` before it is written as the empty string `0x80`, which does not
//! round-trip (it decodes as `Some` of what `0x80` reads as, or fails for a type it is not):
//! set optional fields from the front.

mod decode;
mod encode;
mod model;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `devp2p_rlp_codec::Encodable`; see the crate documentation for the attributes.
#[proc_macro_derive(RlpEncodable, attributes(rlp))]
pub fn derive_encodable(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    model::Model::parse(&input)
        .map(|model| encode::expand(&model))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `devp2p_rlp_codec::Decodable`; see the crate documentation for the attributes.
#[proc_macro_derive(RlpDecodable, attributes(rlp))]
pub fn derive_decodable(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    model::Model::parse(&input)
        .and_then(|model| decode::expand(&model))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
