//! `RlpxStream`: the handshake and then the frame codec over any async byte stream. This is the
//! thin tokio driver: it moves bytes between the socket and the sans-IO cores, and owns the
//! handshake timeout and the operating system's randomness.
#![allow(clippy::disallowed_methods)]

use core::{
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use devp2p_ecies::{Handshake, HandshakeError, HandshakeKeys, NodeKey, Secrets};
use devp2p_enr::PeerId;
use futures::{Sink, Stream};
use rand_core::UnwrapErr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::codec::{Framed, FramedParts};

use crate::{MAX_FRAME_SIZE, Message, RlpxCodec, RlpxError};

/// Settings of an RLPx connection.
#[derive(Debug, Clone)]
pub struct Config {
    /// Handshake settings (format sent, padding). Default: EIP-8 with 100–200 bytes of padding.
    pub handshake: devp2p_ecies::Config,
    /// Time allowed for the whole handshake. Default 10 s.
    pub handshake_timeout: Duration,
    /// Largest frame accepted, in bytes. Default and maximum: 2^24 - 1.
    pub max_frame_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            handshake: devp2p_ecies::Config::default(),
            handshake_timeout: Duration::from_secs(10),
            max_frame_size: MAX_FRAME_SIZE,
        }
    }
}

/// An established RLPx connection: a [`Stream`] of received [`Message`]s and a [`Sink`] for
/// messages to send. It has no read or write deadline: a silent or non-reading peer holds it
/// until the caller's own timers (the `p2p` session's keepalive and write deadline) end it.
#[derive(Debug)]
pub struct RlpxStream<Io> {
    framed: Framed<Io, RlpxCodec>,
    remote_id: PeerId,
}

impl<Io: AsyncRead + AsyncWrite + Unpin> RlpxStream<Io> {
    /// Runs the handshake as initiator with the node `remote_id` over `io`.
    pub async fn connect(
        io: Io,
        key: &NodeKey,
        remote_id: &PeerId,
        config: &Config,
    ) -> Result<Self, RlpxError> {
        let mut rng = UnwrapErr(getrandom::SysRng);
        let keys = HandshakeKeys::generate(key.clone(), &mut rng);
        let handshake = Handshake::initiator(config.handshake.clone(), keys, remote_id, &mut rng)
            .map_err(|e| match e {
            HandshakeError::InvalidPublicKey => RlpxError::InvalidRemoteId,
            other => RlpxError::Handshake(other),
        })?;
        Self::establish(io, handshake, config).await
    }

    /// Runs the handshake as recipient over `io` (an accepted connection).
    pub async fn accept(io: Io, key: &NodeKey, config: &Config) -> Result<Self, RlpxError> {
        let mut rng = UnwrapErr(getrandom::SysRng);
        let keys = HandshakeKeys::generate(key.clone(), &mut rng);
        let handshake = Handshake::recipient(config.handshake.clone(), keys);
        Self::establish(io, handshake, config).await
    }

    async fn establish(
        mut io: Io,
        handshake: Handshake,
        config: &Config,
    ) -> Result<Self, RlpxError> {
        let exchange = run_handshake(&mut io, handshake);
        let (secrets, leftover) = tokio::time::timeout(config.handshake_timeout, exchange)
            .await
            .map_err(|_| RlpxError::Timeout)??;
        let mut parts =
            FramedParts::new::<Message>(io, RlpxCodec::new(&secrets, config.max_frame_size));
        parts.read_buf.extend_from_slice(&leftover);
        Ok(Self {
            framed: Framed::from_parts(parts),
            remote_id: secrets.remote_id,
        })
    }

    /// The remote node's static public key.
    pub const fn remote_id(&self) -> PeerId {
        self.remote_id
    }

    /// The largest frame accepted, in bytes.
    pub fn max_frame_size(&self) -> usize {
        self.framed.codec().max_frame_size()
    }

    /// Sets the largest frame accepted from the next frame header on (at most
    /// [`MAX_FRAME_SIZE`]); a frame over it fails the stream with [`FrameError::TooLarge`]
    /// before its body is read.
    ///
    /// [`FrameError::TooLarge`]: crate::FrameError::TooLarge
    pub fn set_max_frame_size(&mut self, max_frame_size: usize) {
        self.framed.codec_mut().set_max_frame_size(max_frame_size);
    }

    /// The underlying connection.
    pub fn get_ref(&self) -> &Io {
        self.framed.get_ref()
    }

    /// Bytes of frames sent but not yet written to the connection; a flush that lowers it made
    /// progress.
    pub fn unwritten(&self) -> usize {
        self.framed.write_buffer().len()
    }
}

/// Moves handshake messages until the handshake completes.
async fn run_handshake<Io: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Io,
    mut handshake: Handshake,
) -> Result<(Secrets, Vec<u8>), RlpxError> {
    // The operating system's randomness; failing to read it is fatal, as everywhere.
    let mut rng = UnwrapErr(getrandom::SysRng);
    let mut buf = vec![0u8; 4096];
    loop {
        if let Some(message) = handshake.poll_transmit() {
            io.write_all(&message).await?;
            io.flush().await?;
        }
        if let Some(done) = handshake.take_secrets() {
            return Ok(done);
        }
        let n = io.read(&mut buf).await?;
        if n == 0 {
            return Err(RlpxError::ClosedDuringHandshake);
        }
        handshake.handle_bytes(buf.get(..n).unwrap_or_default(), &mut rng)?;
    }
}

impl<Io: AsyncRead + AsyncWrite + Unpin> Stream for RlpxStream<Io> {
    type Item = Result<Message, RlpxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.framed).poll_next(cx)
    }
}

impl<Io: AsyncRead + AsyncWrite + Unpin> Sink<Message> for RlpxStream<Io> {
    type Error = RlpxError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.framed).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
        Pin::new(&mut self.framed).start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.framed).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.framed).poll_close(cx)
    }
}
