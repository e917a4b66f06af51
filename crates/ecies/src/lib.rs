//! ECIES and the RLPx handshake (ethereum/devp2p `rlpx.md`, EIP-8), sans-IO.
//!
//! - [`encrypt`] / [`decrypt`]: ECIES exactly as rlpx.md: secp256k1 ECDH, the NIST SP 800-56
//!   concatenation KDF with SHA-256, AES-128-CTR, HMAC-SHA256 over
//!   `iv || ciphertext || shared-mac-data`. Off-curve keys and MAC mismatches are typed errors.
//! - [`Handshake`]: the auth/ack exchange for both roles as a state machine that takes bytes in
//!   and hands messages out. It sends EIP-8 messages (version 4, random padding; extra list
//!   elements are accepted on receipt) and receives the pre-EIP-8 format as well; sending
//!   pre-EIP-8 is an opt-in ([`Config::format`]). Messages over 2048 bytes are refused.
//! - [`Secrets`]: what the handshake produces for the frame codec: aes-secret, mac-secret and
//!   where the egress and ingress MAC states start ([`MacInit`]).
//!
//! ECIES, sealed to a key and opened with it (the ephemeral key and IV given, to be
//! reproducible; [`encrypt`] draws them from an RNG):
//!
//! ```
//! use devp2p_ecies::{decrypt, encrypt_with};
//! use k256::SecretKey;
//!
//! let recipient = SecretKey::from_slice(&[7; 32])?;
//! let ephemeral = SecretKey::from_slice(&[9; 32])?;
//! let sealed = encrypt_with(&ephemeral, &[1; 16], &recipient.public_key(), b"hello", &[]);
//! assert_eq!(sealed.len(), devp2p_ecies::ECIES_OVERHEAD + 5);
//! assert_eq!(decrypt(&recipient, &sealed, &[])?, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! See [`Handshake`] for a complete in-memory handshake.

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod crypto;
mod error;
mod handshake;
mod messages;
mod secrets;

pub use crypto::{ECIES_OVERHEAD, decrypt, encrypt, encrypt_with};
pub use error::{EciesError, HandshakeError};
pub use handshake::{
    Config, Handshake, HandshakeKeys, MAX_HANDSHAKE_SIZE, NodeKey, auth_ephemeral_key, read_ack,
    read_auth,
};
pub use messages::{Ack, Auth, Format};
pub use secrets::{MacInit, Role, SecretInputs, Secrets};
