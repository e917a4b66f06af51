//! Errors of the frame codec and of RLPx streams.

use devp2p_ecies::HandshakeError;
use devp2p_rlp_codec::DecodeError;

/// Why a frame could not be encoded or decoded.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame is over the size limit (2^24 - 1 bytes, or the configured one).
    #[error("frame of {0} bytes is over the size limit")]
    TooLarge(usize),
    /// The header MAC does not match: tampered, or out of step with the peer.
    #[error("frame header MAC mismatch")]
    HeaderMacMismatch,
    /// The frame MAC does not match.
    #[error("frame body MAC mismatch")]
    FrameMacMismatch,
    /// The frame does not start with a canonical RLP message id.
    #[error("invalid message id: {0}")]
    InvalidMessageId(DecodeError),
}

/// Why an RLPx stream failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RlpxError {
    /// The handshake failed.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// A frame was invalid.
    #[error("frame: {0}")]
    Frame(#[from] FrameError),
    /// The handshake did not complete in time.
    #[error("handshake timed out")]
    Timeout,
    /// The peer closed the connection during the handshake.
    #[error("connection closed during the handshake")]
    ClosedDuringHandshake,
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    ClosedMidFrame,
    /// The remote node id is not a valid public key.
    #[error("remote node id is not a valid public key")]
    InvalidRemoteId,
    /// Reading or writing the connection failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
