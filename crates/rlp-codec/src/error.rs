//! Decoding errors: what was wrong, and the byte offset in the input where the offending item starts.

/// An RLP decoding failure: its [`kind`](Self::kind) and the byte [`offset`](Self::offset) in the
/// decoded input of the item (or prefix byte) at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (at byte {offset})")]
pub struct DecodeError {
    kind: DecodeErrorKind,
    offset: usize,
}

impl DecodeError {
    /// An error of `kind` at byte `offset` of the input.
    pub const fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// What was wrong.
    pub const fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// Offset in the input (counted from the start of the buffer handed to
    /// [`Rlp::new`](crate::Rlp::new)) of the item or prefix byte at fault. For
    /// [`MissingItem`](DecodeErrorKind::MissingItem) it is where the item was expected: the end
    /// of the input, or of the list's payload (so possibly the first byte after the list).
    pub const fn offset(&self) -> usize {
        self.offset
    }
}

/// What made an input invalid RLP, or invalid for the type being decoded.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// A header announces more bytes than the input (or the enclosing list) holds.
    #[error("item runs past the end of its input or enclosing list")]
    InputTooShort,
    /// Another item was required but the input or list ended.
    #[error("expected another item, found the end of the input or list")]
    MissingItem,
    /// A long-form length starts with a zero byte.
    #[error("non-canonical length: leading zero byte")]
    LengthLeadingZero,
    /// A long-form length is used for a payload shorter than 56 bytes.
    #[error("non-canonical length: long form for a payload under 56 bytes")]
    NonCanonicalLength,
    /// A single byte below 0x80 is wrapped in a one-byte string header (`81 xx`).
    #[error("non-canonical string: single byte below 0x80 with a string header")]
    NonCanonicalSingleByte,
    /// A length does not fit in `usize`.
    #[error("length does not fit in usize")]
    LengthOverflow,
    /// An integer starts with a zero byte (zero itself must be the empty string `0x80`).
    #[error("non-canonical integer: leading zero byte")]
    LeadingZero,
    /// An integer has more bytes than the target type.
    #[error("integer too large for the target type")]
    IntegerOverflow,
    /// A list was found where a string was expected.
    #[error("expected a string, found a list")]
    UnexpectedList,
    /// A string was found where a list was expected.
    #[error("expected a list, found a string")]
    UnexpectedString,
    /// A fixed-size value has the wrong number of bytes.
    #[error("string has the wrong length for a fixed-size value")]
    UnexpectedLength,
    /// Bytes remain after the item, where an exact decode was asked for.
    #[error("trailing bytes after the item")]
    TrailingBytes,
    /// A list holds more elements than the type has fields.
    #[error("list has more elements than expected")]
    ListTooLong,
    /// A boolean is neither `0x80` (false) nor `0x01` (true).
    #[error("boolean is neither 0x80 nor 0x01")]
    InvalidBool,
    /// A string is not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A list is nested inside [`MAX_DEPTH`](crate::MAX_DEPTH) others.
    #[error("lists nested too deeply")]
    TooDeep,
    /// A type-specific rule was broken; the text names it.
    #[error("{0}")]
    Custom(&'static str),
}
