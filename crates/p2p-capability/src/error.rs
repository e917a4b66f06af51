//! Errors: [`ProtocolError`] for what a peer did wrong (each maps to the Disconnect reason we
//! send), [`SendError`] for commands the session refuses, and [`P2pError`] at the I/O edge.

use devp2p_rlp_codec::DecodeError;
use devp2p_rlpx_framing::RlpxError;

use crate::{DisconnectReason, Hello, LocalHelloError};

/// A peer broke the `p2p` protocol; the session ends with the Disconnect reason this maps to.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The first message was neither Hello nor Disconnect.
    #[error("expected Hello, got message {0:#x}")]
    ExpectedHello(u64),
    /// Hello is over 2 KiB.
    #[error("Hello of {0} bytes is over the 2 KiB limit")]
    HelloTooLarge(usize),
    /// Hello is not valid RLP of the expected shape.
    #[error("invalid Hello: {0}")]
    InvalidHello(DecodeError),
    /// Hello's node id is not 64 bytes.
    #[error("Hello carries a node id of {0} bytes, not 64")]
    NodeIdLength(usize),
    /// Hello's node id is all zeros.
    #[error("Hello carries a null node id")]
    NullNodeId,
    /// Hello's node id is not the key the RLPx handshake authenticated.
    #[error("Hello carries a node id other than the RLPx handshake's")]
    UnexpectedIdentity,
    /// No capability is shared.
    #[error("no shared capability")]
    NoSharedCapability,
    /// A message id beyond `p2p`'s and every shared capability's range.
    #[error("message id {0:#x} belongs to no shared capability")]
    UnknownMessageId(u64),
    /// A `p2p` message (Disconnect, Ping, Pong) is malformed.
    #[error("invalid p2p message: {0}")]
    InvalidP2pMessage(DecodeError),
    /// A snappy block is corrupt.
    #[error("corrupt snappy data")]
    Snappy,
    /// A snappy block announces more than 16 MiB less one byte.
    #[error("snappy data announces {0} bytes, over the limit of 16 MiB less one byte")]
    DecompressedTooLarge(usize),
    /// No Hello, or no Pong to our Ping, in time.
    #[error("the peer went silent")]
    Timeout,
    /// What we sent could not be written for [`Config::write_timeout`](crate::Config): the
    /// peer stopped reading.
    #[error("the peer stopped reading what we send")]
    WriteTimeout,
}

impl From<&ProtocolError> for DisconnectReason {
    fn from(error: &ProtocolError) -> Self {
        match error {
            ProtocolError::NullNodeId => Self::NullNodeIdentity,
            ProtocolError::UnexpectedIdentity => Self::UnexpectedIdentity,
            ProtocolError::NoSharedCapability => Self::UselessPeer,
            ProtocolError::Timeout | ProtocolError::WriteTimeout => Self::PingTimeout,
            ProtocolError::ExpectedHello(_)
            | ProtocolError::HelloTooLarge(_)
            | ProtocolError::InvalidHello(_)
            | ProtocolError::NodeIdLength(_)
            | ProtocolError::UnknownMessageId(_)
            | ProtocolError::InvalidP2pMessage(_)
            | ProtocolError::Snappy
            | ProtocolError::DecompressedTooLarge(_) => Self::ProtocolBreach,
        }
    }
}

/// Why the session refused to send a message.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The Hello exchange has not completed.
    #[error("the session is not established yet")]
    NotEstablished,
    /// The session has ended.
    #[error("the session has ended")]
    Closed,
    /// No shared capability has this index.
    #[error("no shared capability with index {0}")]
    UnknownCapability(usize),
    /// The id is beyond the capability's message count.
    #[error("message id {id:#x} is beyond the capability's {count} messages")]
    UnknownMessage {
        /// The relative id.
        id: u8,
        /// The capability's message count.
        count: u8,
    },
    /// The message is over the size limit: its length, or, when it is within
    /// `max_message_size` but its frame (id and compressed data) would be over 2^24 − 1 bytes,
    /// that frame's length.
    #[error("message of {0} bytes is over the size limit")]
    TooLarge(usize),
}

/// How a session ended: the reason, and which side sent the Disconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnected {
    /// The reason.
    pub reason: DisconnectReason,
    /// Whether the peer disconnected (`true`) or we did.
    pub by_peer: bool,
    /// What the peer did wrong, when that is why we disconnected.
    pub cause: Option<ProtocolError>,
    /// The peer's Hello, when it had arrived (a session refused for want of a shared capability
    /// still tells who the peer is).
    pub remote_hello: Option<Box<Hello>>,
}

impl core::fmt::Display for Disconnected {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let by = if self.by_peer { "peer" } else { "we" };
        write!(f, "{by} disconnected: {}", self.reason)?;
        if let Some(cause) = &self.cause {
            write!(f, " ({cause})")?;
        }
        Ok(())
    }
}

/// Why a [`P2pStream`](crate::P2pStream) failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    /// The session ended with a Disconnect, sent or received.
    #[error("{0}")]
    Disconnected(Disconnected),
    /// The connection closed without a Disconnect.
    #[error("connection closed without a Disconnect")]
    Closed,
    /// The RLPx transport failed.
    #[error("RLPx: {0}")]
    Rlpx(#[from] RlpxError),
    /// A message could not be sent.
    #[error("send: {0}")]
    Send(#[from] SendError),
    /// Our Hello cannot be sent.
    #[error(transparent)]
    LocalHello(#[from] LocalHelloError),
}
