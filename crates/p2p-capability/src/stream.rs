//! `P2pStream`: a [`Session`] over an [`RlpxStream`] for the tokio world. The thin driver: it
//! moves messages between the connection and the session and owns the clock and the timer.
#![allow(clippy::disallowed_methods)]

use core::{
    future::poll_fn,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use std::time::Instant;

use bytes::Bytes;
use devp2p_rlpx_framing::RlpxStream;
use futures::{Sink, Stream};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    time::Sleep,
};

use crate::{
    Capability, CapabilityMessage, Config, DisconnectReason, Disconnected, Event, Hello,
    MAX_HELLO_SIZE, NodeInfo, P2pError, Session, SharedCapability,
};

/// The largest frame accepted before the peer's Hello: the Hello's one-byte message id and at
/// most [`MAX_HELLO_SIZE`] bytes of data (a Disconnect is smaller). A peer cannot make us buffer
/// more before it has identified itself (reth's limit for a first frame is the same 2 KiB).
const FIRST_FRAME_SIZE: usize = 1 + MAX_HELLO_SIZE;

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Once the session has ended, how long its Disconnect may take to be flushed and the
/// connection to close (go-ethereum allows a Disconnect 1 s to be written). A peer that stopped
/// reading cannot hold the stream, or a caller waiting on it, any longer than that.
const END_GRACE: Duration = Duration::from_secs(1);

/// An established `p2p` session: a [`Stream`] of the shared capabilities' messages, with
/// [`send`](Self::send), [`ping`](Self::ping) and [`disconnect`](Self::disconnect). Pings after
/// silence and answers to the peer's Pings happen while the stream is polled.
#[derive(Debug)]
pub struct P2pStream<Io> {
    rlpx: RlpxStream<Io>,
    /// The connection's own frame size limit, in force again once the Hello has come.
    max_frame_size: usize,
    session: Session,
    timer: Pin<Box<Sleep>>,
    /// Whether everything handed to the connection has been flushed.
    flushed: bool,
    /// Whether the Hello exchange completed (the session may have ended since, e.g. when the
    /// peer's Disconnect arrived right behind its Hello).
    established: bool,
    /// The last Pong's round-trip time, not yet collected by [`ping`](Self::ping).
    pong: Option<Duration>,
    /// How the session ended, once it did.
    ended: Option<Disconnected>,
    /// Until when the end may wait for the Disconnect to be flushed ([`END_GRACE`]).
    end_by: Option<tokio::time::Instant>,
    /// How the connection failed, while messages received before are still being delivered.
    failed: Option<P2pError>,
    /// Whether the end was reported to the application.
    reported: bool,
}

impl<Io: AsyncRead + AsyncWrite + Unpin> P2pStream<Io> {
    /// Runs the Hello exchange over `rlpx` and negotiates `capabilities`. Fails with
    /// [`P2pError::Disconnected`] when either side ends the session instead (no shared
    /// capability, a bad Hello, a silent peer: the cause says which). A Disconnect that arrives
    /// right after a successful exchange is reported by the stream, after any messages before it.
    pub async fn handshake(
        mut rlpx: RlpxStream<Io>,
        config: Config,
        local: NodeInfo,
        capabilities: Vec<Capability>,
    ) -> Result<Self, P2pError> {
        let session = Session::new(config, local, capabilities, rlpx.remote_id(), now())?;
        let max_frame_size = rlpx.max_frame_size();
        rlpx.set_max_frame_size(max_frame_size.min(FIRST_FRAME_SIZE));
        let mut stream = Self {
            rlpx,
            max_frame_size,
            session,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            flushed: true,
            established: false,
            pong: None,
            ended: None,
            end_by: None,
            failed: None,
            reported: false,
        };
        poll_fn(|cx| {
            // A peer may send its Hello and hang up at once (or send a bad frame after it): the
            // exchange still succeeded, and the stream reports the rest, the failure included.
            let driven = stream.drive(cx);
            if stream.established {
                if let Err(error) = driven {
                    stream.failed = Some(error);
                }
                return Poll::Ready(Ok(()));
            }
            driven?;
            stream.poll_end(cx)
        })
        .await?;
        Ok(stream)
    }

    /// The peer's Hello.
    pub fn remote_hello(&self) -> Option<&Hello> {
        self.session.remote_hello()
    }

    /// The shared capabilities in wire order; their index names them in [`send`](Self::send)
    /// and [`CapabilityMessage::capability`].
    pub fn shared_capabilities(&self) -> &[SharedCapability] {
        self.session.shared_capabilities()
    }

    /// The underlying RLPx connection.
    pub const fn rlpx(&self) -> &RlpxStream<Io> {
        &self.rlpx
    }

    /// Sends message `id` of shared capability `capability` and flushes it.
    pub async fn send(&mut self, capability: usize, id: u8, data: Bytes) -> Result<(), P2pError> {
        self.session.send(capability, id, data)?;
        self.flush().await
    }

    /// Sends a Ping and waits for its Pong, returning the round-trip time. Capability messages
    /// that arrive meanwhile stay queued for the stream; should a capability's queue fill up,
    /// nothing more is read (the Pong included) until the stream is drained.
    pub async fn ping(&mut self) -> Result<Duration, P2pError> {
        self.pong = None;
        self.session.ping(now());
        poll_fn(|cx| {
            self.drive(cx)?;
            if let Some(rtt) = self.pong.take() {
                return Poll::Ready(Ok(rtt));
            }
            self.poll_end(cx).map_ok(|()| Duration::ZERO)
        })
        .await
    }

    /// Ends the session gracefully: sends Disconnect with `reason`, flushes it and closes the
    /// connection. A peer that does not take the Disconnect within a second (it stopped reading)
    /// gets no more time: the session's end is then returned as [`P2pError::Disconnected`].
    pub async fn disconnect(mut self, reason: DisconnectReason) -> Result<(), P2pError> {
        self.session.disconnect(reason);
        self.flush().await?;
        poll_fn(|cx| Pin::new(&mut self.rlpx).poll_close(cx)).await?;
        Ok(())
    }

    /// Drives the session until everything queued is flushed, or until it has ended (a peer
    /// that stops reading makes the write deadline end it): then the error that reports the
    /// end.
    async fn flush(&mut self) -> Result<(), P2pError> {
        poll_fn(|cx| {
            self.drive(cx)?;
            if self.flushed {
                Poll::Ready(Ok(()))
            } else {
                self.poll_end(cx)
            }
        })
        .await
    }

    /// Once the session ended: Pending until its Disconnect is flushed and the connection
    /// closed, or [`END_GRACE`] has passed, then the error that reports the end (once; later
    /// calls see [`P2pError::Closed`]). Pending while it runs.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), P2pError>> {
        if self.ended.is_none() {
            return Poll::Pending;
        }
        // The session has no timers once it has ended, so the timer is free for the grace.
        let end_by = *self
            .end_by
            .get_or_insert_with(|| tokio::time::Instant::now() + END_GRACE);
        if self.timer.deadline() != end_by {
            self.timer.as_mut().reset(end_by);
        }
        let late = self.timer.as_mut().poll(cx).is_ready();
        if !late && (!self.flushed || Pin::new(&mut self.rlpx).poll_close(cx).is_pending()) {
            return Poll::Pending;
        }
        if self.reported {
            return Poll::Ready(Err(P2pError::Closed));
        }
        self.reported = true;
        Poll::Ready(self.ended.clone().map_or(Err(P2pError::Closed), |ended| {
            Err(P2pError::Disconnected(ended))
        }))
    }

    /// Moves messages and time between the connection and the session until nothing more can
    /// happen without waiting.
    fn drive(&mut self, cx: &mut Context<'_>) -> Result<(), P2pError> {
        loop {
            let mut progress = false;
            // Send what the session queued, and tell the session whether bytes wait and whether
            // some went out (in `poll_ready`, which flushes past a threshold, or in the flush
            // below): bytes waiting with none going out mean the peer is not reading.
            let mut expected = self.rlpx.unwritten();
            while let Poll::Ready(ready) = Pin::new(&mut self.rlpx).poll_ready(cx) {
                ready?;
                let Some(message) = self.session.poll_transmit() else {
                    break;
                };
                let before = self.rlpx.unwritten();
                Pin::new(&mut self.rlpx).start_send(message)?;
                expected += self.rlpx.unwritten().saturating_sub(before);
                self.flushed = false;
            }
            if !self.flushed
                && let Poll::Ready(flushed) = Pin::new(&mut self.rlpx).poll_flush(cx)
            {
                flushed?;
                self.flushed = true;
            }
            let written = expected.saturating_sub(self.rlpx.unwritten());
            let waiting = if self.flushed {
                0
            } else {
                self.rlpx.unwritten().max(1)
            };
            self.session.handle_write(now(), waiting, written);
            // Receive, unless the session is full or ended.
            if self.session.wants_input() {
                match Pin::new(&mut self.rlpx).poll_next(cx) {
                    Poll::Ready(Some(message)) => {
                        self.session.handle_message(now(), message?);
                        progress = true;
                    }
                    Poll::Ready(None) => return Err(P2pError::Closed),
                    Poll::Pending => {}
                }
            }
            // Timers.
            if let Some(deadline) = self.session.poll_timeout() {
                let deadline = tokio::time::Instant::from_std(deadline);
                if self.timer.deadline() != deadline {
                    self.timer.as_mut().reset(deadline);
                }
                if self.timer.as_mut().poll(cx).is_ready() {
                    self.session.handle_timeout(now());
                    // A timer that fired without effect (clock rounding) is not progress.
                    let next = self
                        .session
                        .poll_timeout()
                        .map(tokio::time::Instant::from_std);
                    progress |= next != Some(deadline);
                }
            }
            while let Some(event) = self.session.poll_event() {
                match event {
                    Event::Established => {
                        self.established = true;
                        self.rlpx.set_max_frame_size(self.max_frame_size);
                    }
                    Event::Pong(rtt) => self.pong = Some(rtt),
                    Event::Disconnected(ended) => self.ended = Some(ended),
                }
                progress = true;
            }
            if !progress {
                return Ok(());
            }
        }
    }
}

impl<Io: AsyncRead + AsyncWrite + Unpin> Stream for P2pStream<Io> {
    type Item = Result<CapabilityMessage, P2pError>;

    /// The next capability message; after the session ends, one
    /// [`P2pError::Disconnected`] (once its Disconnect is flushed), then the end of the stream.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.reported {
            return Poll::Ready(None);
        }
        if this.failed.is_none()
            && let Err(error) = this.drive(cx)
        {
            this.failed = Some(error);
        }
        // What arrived before the connection failed is delivered first.
        if let Some(message) = this.session.poll_message() {
            return Poll::Ready(Some(Ok(message)));
        }
        if let Some(error) = this.failed.take() {
            this.reported = true;
            return Poll::Ready(Some(Err(error)));
        }
        match this.poll_end(cx) {
            Poll::Ready(Err(error)) => Poll::Ready(Some(Err(error))),
            Poll::Ready(Ok(())) | Poll::Pending => Poll::Pending,
        }
    }
}
