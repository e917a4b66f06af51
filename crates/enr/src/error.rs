//! Errors of record decoding, building and enode URL parsing.

use devp2p_rlp_codec::DecodeError;

/// Why a node record could not be decoded, verified or built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnrError {
    /// The encoded record exceeds 300 bytes (EIP-778's limit).
    #[error("record is {size} bytes, over the 300-byte limit")]
    TooLarge {
        /// Size of the encoded record: for text and hex refused before decoding, the number of
        /// bytes the text decodes to.
        size: usize,
    },
    /// The text form does not start with `enr:`.
    #[error("text record does not start with \"enr:\"")]
    MissingPrefix,
    /// The text form is not valid unpadded base64url.
    #[error("invalid base64url: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The hex form is not valid hex.
    #[error("invalid hex: {0}")]
    Hex(#[from] hex::FromHexError),
    /// The RLP is malformed or non-canonical (including a truncated record).
    #[error("invalid RLP: {0}")]
    Rlp(#[from] DecodeError),
    /// Bytes follow the record's RLP list.
    #[error("{0} trailing bytes after the record")]
    TrailingBytes(usize),
    /// A key has no value (the list has an odd number of elements).
    #[error("key without a value")]
    MissingValue,
    /// Keys are not in ascending byte order.
    #[error("keys are not sorted")]
    UnsortedKeys,
    /// A key occurs twice.
    #[error("duplicate key")]
    DuplicateKey,
    /// The record has no `id` key.
    #[error("record has no \"id\" key")]
    MissingId,
    /// The identity scheme is not `v4`.
    #[error("unsupported identity scheme (only \"v4\" is defined)")]
    UnsupportedScheme,
    /// The record has no `secp256k1` key.
    #[error("record has no \"secp256k1\" key")]
    MissingPublicKey,
    /// The `secp256k1` value is not a compressed point on the curve.
    #[error("\"secp256k1\" is not a valid compressed public key")]
    InvalidPublicKey,
    /// The signature is not 64 bytes (`r || s`).
    #[error("signature is not 64 bytes")]
    InvalidSignatureLength,
    /// The signature does not verify against the record's key.
    #[error("signature does not verify")]
    BadSignature,
    /// A value given to the [`Builder`](crate::Builder) is not exactly one RLP item (its
    /// `Encodable` implementation wrote none, several, or a truncated one), or an address
    /// key's value is not of its form (`ip` 4 bytes, `ip6` 16, `tcp`, `udp`, `tcp6` and
    /// `udp6` canonical integers up to 65535), in a record built or decoded.
    #[error("invalid value of key 0x{}: {source}", hex::encode(.key))]
    InvalidValue {
        /// The key.
        key: Vec<u8>,
        /// What is wrong with the value.
        source: DecodeError,
    },
    /// The record's sequence number is already `u64::MAX`, so a changed record cannot get a
    /// higher one.
    #[error("sequence number is at its maximum")]
    SeqExhausted,
}

/// Why an enode URL could not be parsed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnodeError {
    /// The URL does not start with `enode://`.
    #[error("URL does not start with \"enode://\"")]
    MissingScheme,
    /// There is no `@` between node id and address.
    #[error("missing '@' between node id and address")]
    MissingAddress,
    /// The node id is not 128 hex characters (in an enode URL, with no `0x` prefix).
    #[error("node id must be 128 hex characters")]
    InvalidNodeId,
    /// The node id is not a point on the curve.
    #[error("node id is not a valid secp256k1 public key")]
    InvalidPublicKey,
    /// The host is not an IPv4 address or a bracketed IPv6 address.
    #[error("host must be an IPv4 address or a bracketed IPv6 address")]
    InvalidIp,
    /// A port (or a non-empty `discport`) is missing or not a number from 0 to 65535.
    #[error("invalid port")]
    InvalidPort,
}
