//! Errors of ECIES and of the handshake. Every failure a peer can cause is a variant here; none
//! panics.

use devp2p_rlp_codec::DecodeError;

/// Why an ECIES message could not be decrypted (rlpx.md, "ECIES Encryption").
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EciesError {
    /// Shorter than the 113 bytes of overhead (ephemeral key, IV, MAC).
    #[error("ECIES message too short: {0} bytes")]
    TooShort(usize),
    /// The ephemeral public key is not an uncompressed point on secp256k1.
    #[error("ECIES ephemeral key is not a point on the curve")]
    InvalidPublicKey,
    /// The HMAC-SHA256 tag does not match: tampered, truncated, or not for our key.
    #[error("ECIES MAC mismatch")]
    MacMismatch,
}

/// Why a handshake failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The message does not decrypt.
    #[error(transparent)]
    Ecies(#[from] EciesError),
    /// The EIP-8 size prefix announces more than the 2048-byte limit.
    #[error("handshake message of {0} bytes is over the 2048-byte limit")]
    TooLarge(usize),
    /// The decrypted body is not valid RLP of the expected shape.
    #[error("invalid handshake body: {0}")]
    Rlp(#[from] DecodeError),
    /// A public key in the body is not a point on the curve.
    #[error("public key in the handshake is not a point on the curve")]
    InvalidPublicKey,
    /// The auth signature does not recover to a public key.
    #[error("auth signature is invalid")]
    InvalidSignature,
    /// A pre-EIP-8 auth's `keccak256(ephemeral-pubk)` is not the hash of the ephemeral key its
    /// signature recovers to.
    #[error("pre-EIP-8 auth: ephemeral key hash does not match the signature")]
    EphemeralKeyHash,
    /// The remote's static key is the recipient's own.
    #[error("remote node uses our own key")]
    OwnKey,
    /// The input ends before the handshake message does.
    #[error("handshake message is truncated")]
    Truncated,
    /// The handshake was driven after it failed, or after its secrets were taken.
    #[error("handshake is not expecting input")]
    UnexpectedInput,
}
