//! Ethereum Node Records (EIP-778) with the "v4" identity scheme, node ids, and enode URLs.
//!
//! - [`Enr`]: a verified record. Decode it from any printed form ([`str::parse`] for
//!   `enr:…`, [`Enr::from_hex`], [`Enr::from_rlp`]); each malformed input has its own
//!   [`EnrError`]. Typed accessors cover every key of the spec (`ip`, `tcp`, `udp6`, …), and
//!   [`Enr::get`] decodes any other (`eth`, `snap`, …) as any [`Decodable`](devp2p_rlp_codec::Decodable).
//! - [`Builder`]: set keys, sign with a [`SigningKey`], and [`Enr::update`] a record (the
//!   sequence number goes up when something changed). Records over 300 bytes are refused.
//! - [`NodeId`] (keccak256 of the public key) with the XOR and log2 distances of discovery, and
//!   [`PeerId`], the 64-byte public key of RLPx and discv4.
//! - [`NodeRecord`]: `enode://` URLs, IPv4 and IPv6, both directions.
//!
//! ```
//! use devp2p_enr::{Enr, SigningKey};
//!
//! // The example record of EIP-778.
//! let text = "enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5wBgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8";
//! let record: Enr = text.parse()?;
//! assert_eq!(record.udp(), Some(30303));
//! assert_eq!(
//!     record.node_id().to_string(),
//!     "a448f24c6d18e575453db13171562b71999873db5b286df957af199ec94617f7"
//! );
//! assert_eq!(record.to_string(), text);
//!
//! // Build and sign a record of our own.
//! let key = SigningKey::from_slice(&[1; 32]).unwrap();
//! let ours = Enr::builder().ip4([127, 0, 0, 1].into()).tcp(30303).udp(30303).build(&key)?;
//! let url = ours.node_record().unwrap().to_string();
//! assert!(url.starts_with("enode://") && url.ends_with("@127.0.0.1:30303"));
//! # Ok::<(), devp2p_enr::EnrError>(())
//! ```

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod builder;
mod enode;
mod error;
mod keys;
mod raw;
mod record;

pub use builder::Builder;
pub use enode::NodeRecord;
pub use error::{EnodeError, EnrError};
pub use k256::{PublicKey, ecdsa::SigningKey};
pub use keys::{NodeId, PeerId, public_key_from_compressed, verify_signature};
pub use raw::RawRecord;
pub use record::{Enr, MAX_RECORD_SIZE};
