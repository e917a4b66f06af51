//! The auth and ack messages of the RLPx handshake (rlpx.md "Initial Handshake", EIP-8), in the
//! EIP-8 format (RLP list, version, extra elements accepted, padding) and the pre-EIP-8 format
//! (fixed 194-byte auth and 97-byte ack plaintexts).

use devp2p_rlp_codec::{RlpDecodable, RlpEncodable, decode_prefix, encode_to_vec};

use crate::HandshakeError;

/// The handshake protocol version (EIP-8 `auth-vsn` / `ack-vsn`).
pub(crate) const HANDSHAKE_VERSION: u64 = 4;
/// Pre-EIP-8 auth plaintext: signature, ephemeral key hash, public key, nonce, token flag.
pub(crate) const LEGACY_AUTH_SIZE: usize = 65 + 32 + 64 + 32 + 1;
/// Pre-EIP-8 ack plaintext: ephemeral public key, nonce, token flag.
pub(crate) const LEGACY_ACK_SIZE: usize = 64 + 32 + 1;

/// Wire format of a handshake message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// EIP-8: a 2-byte size prefix, then ECIES over an RLP body with random padding.
    #[default]
    Eip8,
    /// The pre-EIP-8 fixed-size format. Received always; sent only when configured.
    Legacy,
}

/// The auth message: `auth-body = [sig, initiator-pubk, initiator-nonce, auth-vsn, ...]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(ignore_extra)]
pub struct Auth {
    /// Recoverable signature `r || s || v` over `static-shared-secret ^ initiator-nonce`, by the
    /// initiator's ephemeral key.
    pub signature: [u8; 65],
    /// The initiator's static public key, `x || y`.
    pub id: [u8; 64],
    /// The initiator's nonce.
    pub nonce: [u8; 32],
    /// `auth-vsn` (4; the pre-EIP-8 format implies 4).
    pub version: u64,
}

/// The ack message: `ack-body = [recipient-ephemeral-pubk, recipient-nonce, ack-vsn, ...]`.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
#[rlp(ignore_extra)]
pub struct Ack {
    /// The recipient's ephemeral public key, `x || y`.
    pub ephemeral: [u8; 64],
    /// The recipient's nonce.
    pub nonce: [u8; 32],
    /// `ack-vsn` (4; the pre-EIP-8 format implies 4).
    pub version: u64,
}

impl Auth {
    /// The EIP-8 plaintext: the RLP body followed by `padding` zero bytes.
    pub(crate) fn to_eip8(&self, padding: usize) -> Vec<u8> {
        with_padding(encode_to_vec(self), padding)
    }

    /// The legacy plaintext, which also carries the hash of the initiator's ephemeral key.
    pub(crate) fn to_legacy(&self, ephemeral_hash: &[u8; 32]) -> Vec<u8> {
        [
            &self.signature[..],
            ephemeral_hash,
            &self.id,
            &self.nonce,
            &[0],
        ]
        .concat()
    }

    /// Reads a plaintext: EIP-8 RLP (with trailing padding) or the legacy fixed layout. The
    /// legacy layout also returns its `keccak256(ephemeral-pubk)`, to be checked against the key
    /// the signature recovers to.
    pub(crate) fn from_plaintext(
        format: Format,
        plain: &[u8],
    ) -> Result<(Self, Option<[u8; 32]>), HandshakeError> {
        match format {
            Format::Eip8 => Ok((decode_prefix::<Self>(plain)?.0, None)),
            Format::Legacy => {
                let (signature, rest) = split::<65>(plain)?;
                let (ephemeral_hash, rest) = split::<32>(rest)?;
                let (id, rest) = split::<64>(rest)?;
                let (nonce, _token_flag) = split::<32>(rest)?;
                let auth = Self {
                    signature,
                    id,
                    nonce,
                    version: HANDSHAKE_VERSION,
                };
                Ok((auth, Some(ephemeral_hash)))
            }
        }
    }
}

impl Ack {
    pub(crate) fn to_plaintext(&self, format: Format, padding: usize) -> Vec<u8> {
        match format {
            Format::Eip8 => with_padding(encode_to_vec(self), padding),
            Format::Legacy => [&self.ephemeral[..], &self.nonce, &[0]].concat(),
        }
    }

    pub(crate) fn from_plaintext(format: Format, plain: &[u8]) -> Result<Self, HandshakeError> {
        match format {
            Format::Eip8 => Ok(decode_prefix::<Self>(plain)?.0),
            Format::Legacy => {
                let (ephemeral, rest) = split::<64>(plain)?;
                let (nonce, _token_flag) = split::<32>(rest)?;
                Ok(Self {
                    ephemeral,
                    nonce,
                    version: HANDSHAKE_VERSION,
                })
            }
        }
    }
}

fn with_padding(mut body: Vec<u8>, padding: usize) -> Vec<u8> {
    body.resize(body.len() + padding, 0);
    body
}

/// The first `N` bytes as an array, and the rest.
fn split<const N: usize>(data: &[u8]) -> Result<([u8; N], &[u8]), HandshakeError> {
    data.split_first_chunk::<N>()
        .map(|(head, rest)| (*head, rest))
        .ok_or(HandshakeError::Rlp(devp2p_rlp_codec::DecodeError::new(
            devp2p_rlp_codec::DecodeErrorKind::InputTooShort,
            0,
        )))
}
