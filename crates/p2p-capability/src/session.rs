//! The `p2p` session as a sans-IO state machine (rlpx.md, "p2p Capability"): Hello exchange and
//! capability negotiation, snappy, Ping/Pong keepalive and Disconnect, over RLPx messages.
//!
//! Method groups, as in quinn-proto: getters; inputs (`handle_message`, `handle_timeout`);
//! commands (`send`, `ping`, `disconnect`); outputs, to poll in this order after each input or
//! command: `poll_transmit`, `poll_event`, `poll_message`, then `poll_timeout`.

use core::time::Duration;
use std::{collections::VecDeque, time::Instant};

use bytes::Bytes;
use devp2p_enr::PeerId;
use devp2p_rlpx_framing::{MAX_FRAME_SIZE, Message};

use crate::{
    CAPABILITY_BASE_ID, Capability, CapabilityMessage, DISCONNECT_ID, DisconnectReason,
    Disconnected, HELLO_ID, Hello, P2P_VERSION, PING_ID, PONG_ID, ProtocolError, SendError,
    SharedCapability,
    keepalive::{Due, Keepalive, TokenBucket},
    messages::EMPTY_LIST,
    mux::Multiplexer,
    negotiate,
    snappy::{Compressor, MAX_DECOMPRESSED_SIZE, decompress},
};

/// Largest Ping or Pong body accepted (an empty list is one byte; EIP-8 style extras fit).
const MAX_PING_SIZE: usize = 1024;

/// The reason a Disconnect whose data cannot be read is taken to give: the peer is leaving
/// all the same, so the session ends as closed by it, with nothing sent back (go-ethereum's
/// `decodeDisconnectMessage` reads it as `DiscInvalid`, 0xff).
const UNREADABLE_REASON: DisconnectReason = DisconnectReason::Other(0xff);

/// Session settings. Every field has a default, stated on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Time allowed for the peer's Hello. Default 10 s (reth's; go-ethereum waits for it as
    /// for any frame, 30 s).
    pub hello_timeout: Duration,
    /// Silence after which we send a Ping. Default 15 s (as go-ethereum).
    pub ping_interval: Duration,
    /// Time allowed for the Pong; without it the session ends with reason 0x0b. Default 20 s.
    /// Each capability message from the peer meanwhile restarts it, up to three times this
    /// long after the Ping.
    /// While a full ingress queue stops the session reading, neither clock runs, for up to this
    /// long in a row.
    pub pong_timeout: Duration,
    /// How many of the peer's Pings we answer in a burst. Default 10.
    pub ping_burst: u32,
    /// One more Ping answered per this much time. Default 1 s.
    pub ping_refill: Duration,
    /// Per capability: received messages the application has not taken yet, at most. When a
    /// capability reaches it, [`Session::wants_input`] turns false. Default 256.
    pub ingress_messages: usize,
    /// Per capability: bytes of such messages. Reading pauses once a queue holds this many, so
    /// it can exceed them by one message (at most 16 MiB). Default 32 MiB.
    pub ingress_bytes: usize,
    /// How long writing may stall (bytes waiting, none of them written) before the session
    /// ends with reason 0x0b. The keepalive cannot see a peer that keeps sending but stopped
    /// reading (its messages are not silence); this can. Default 20 s, as go-ethereum's frame
    /// write deadline; unlike that one, it restarts whenever some bytes go out, so a slow
    /// reader of a large message is not cut off, while a peer that takes nothing is.
    pub write_timeout: Duration,
    /// The slowest writing may go while bytes wait, in bytes per second: from when bytes start
    /// to wait until none do, what went out plus what still waits must have gone out at this
    /// rate, after a grace of [`write_timeout`](Self::write_timeout); otherwise the session
    /// ends as for a stall, however often some bytes go out. A peer that reads at this rate or
    /// faster is never cut off, even while answers keep queueing; without the limit, one that
    /// reads a few bytes just before each stall deadline would hold a large answer, and its
    /// buffers, for hours. Default 64 KiB/s (a 16 MiB answer to a peer that reads nothing but
    /// those few bytes ends after about 4.6 minutes; go-ethereum allows 20 s for any message);
    /// 0 turns the limit off.
    pub min_write_rate: u32,
    /// Largest message (decompressed) sent or received. Default and maximum 16 MiB less one
    /// byte ([`MAX_DECOMPRESSED_SIZE`](crate::MAX_DECOMPRESSED_SIZE)); a larger value counts as
    /// that. A message sent must also fit one RLPx frame (16 MiB less a byte) with its id once
    /// compressed.
    pub max_message_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            hello_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(15),
            pong_timeout: Duration::from_secs(20),
            ping_burst: 10,
            ping_refill: Duration::from_secs(1),
            ingress_messages: 256,
            ingress_bytes: 32 << 20,
            write_timeout: Duration::from_secs(20),
            min_write_rate: 64 << 10,
            max_message_size: MAX_DECOMPRESSED_SIZE,
        }
    }
}

/// What we announce about ourselves in Hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Our client id, e.g. `devp2p-rs/0.1.0`.
    pub client_id: String,
    /// Our TCP listening port, 0 if we do not listen.
    pub listen_port: u16,
    /// Our node id (must be the RLPx identity).
    pub id: PeerId,
}

/// Something that happened in the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The Hello exchange completed and at least one capability is shared.
    Established,
    /// The peer answered our Ping, after this round-trip time.
    Pong(Duration),
    /// The session ended. Nothing more is sent after the Disconnect in `poll_transmit`.
    Disconnected(Disconnected),
}

/// Why our Hello cannot be sent.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalHelloError {
    /// A capability with no name, a name over 8 bytes, or one that is not ASCII.
    #[error("capability {0:?} has no name, a name over 8 bytes, or one that is not ASCII")]
    Capability(String),
    /// The Hello's data would take this many bytes, over [`MAX_SENT_HELLO_SIZE`]: a client id
    /// or capability list too long.
    #[error("our Hello would take {0} bytes; peers refuse more than {MAX_SENT_HELLO_SIZE}")]
    TooLarge(usize),
}

/// The largest Hello we send, in bytes of message data: go-ethereum refuses more than 2048,
/// and reth a first frame (the message id's byte and the data) of more than 2048.
pub const MAX_SENT_HELLO_SIZE: usize = 2047;

/// What the session waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The peer's Hello (ours is sent first thing).
    ExpectHello { deadline: Instant },
    /// Capability messages, Pings and Pongs.
    Established,
    /// Nothing: the session ended.
    Closed,
}

/// One `p2p` session over an established RLPx connection.
#[derive(Debug)]
pub struct Session {
    config: Config,
    capabilities: Vec<Capability>,
    remote_id: PeerId,
    state: State,
    remote_hello: Option<Hello>,
    mux: Multiplexer,
    snappy: bool,
    compressor: Compressor,
    keepalive: Keepalive,
    pings: TokenBucket,
    transmit: VecDeque<Message>,
    events: VecDeque<Event>,
    /// Since when bytes have waited to be written with none going out.
    write_stalled_since: Option<Instant>,
    /// Since when bytes have waited to be written, how many went out since, and how many wait.
    backlog: Option<Backlog>,
}

/// Bytes waiting to be written, since they started to (see [`Config::min_write_rate`]).
#[derive(Debug, Clone, Copy)]
struct Backlog {
    since: Instant,
    /// Bytes that went out since.
    written: usize,
    /// Bytes waiting at the last report.
    waiting: usize,
}

impl Session {
    /// Starts a session with the peer the RLPx handshake authenticated as `remote_id`, running
    /// `capabilities`; our Hello is the first thing in [`poll_transmit`](Self::poll_transmit).
    /// Fails if a capability cannot be announced, or if the Hello would pass
    /// [`MAX_SENT_HELLO_SIZE`] (peers would drop us unanswered).
    pub fn new(
        config: Config,
        local: NodeInfo,
        capabilities: Vec<Capability>,
        remote_id: PeerId,
        now: Instant,
    ) -> Result<Self, LocalHelloError> {
        if let Some(bad) = capabilities.iter().find(|c| !c.is_valid()) {
            return Err(LocalHelloError::Capability(bad.name.clone()));
        }
        let hello = Hello {
            protocol_version: P2P_VERSION,
            client_id: local.client_id,
            capabilities: capabilities.iter().map(Capability::info).collect(),
            listen_port: local.listen_port,
            id: local.id,
        };
        let hello = hello.encode();
        if hello.len() > MAX_SENT_HELLO_SIZE {
            return Err(LocalHelloError::TooLarge(hello.len()));
        }
        let mut transmit = VecDeque::new();
        transmit.push_back(Message::new(HELLO_ID, hello));
        Ok(Self {
            state: State::ExpectHello {
                deadline: now + config.hello_timeout,
            },
            keepalive: Keepalive::new(config.ping_interval, config.pong_timeout, now),
            pings: TokenBucket::new(config.ping_burst, config.ping_refill, now),
            config,
            capabilities,
            remote_id,
            remote_hello: None,
            mux: Multiplexer::default(),
            snappy: false,
            compressor: Compressor::default(),
            transmit,
            events: VecDeque::new(),
            write_stalled_since: None,
            backlog: None,
        })
    }

    // Getters.

    /// The peer's Hello, once received.
    pub fn remote_hello(&self) -> Option<&Hello> {
        self.remote_hello.as_ref()
    }

    /// The shared capabilities in wire order (empty before the session is established); the
    /// index into this list names a capability in [`send`](Self::send) and
    /// [`CapabilityMessage`].
    pub fn shared_capabilities(&self) -> &[SharedCapability] {
        self.mux.shared()
    }

    /// Whether messages are snappy-compressed (both sides speak p2p v5).
    pub const fn is_compressed(&self) -> bool {
        self.snappy
    }

    /// Whether the Hello exchange completed and the session has not ended.
    pub const fn is_established(&self) -> bool {
        matches!(self.state, State::Established)
    }

    /// Whether the session has ended.
    pub const fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether the session takes more input: false once it ended, and while a capability's
    /// ingress queue is full (drain it with [`poll_message`](Self::poll_message)).
    pub fn wants_input(&self) -> bool {
        !self.is_closed() && !self.mux.is_full()
    }

    // Inputs.

    /// Handles a message received over RLPx. A protocol violation ends the session: the
    /// Disconnect to send is queued and [`Event::Disconnected`] names the cause.
    pub fn handle_message(&mut self, now: Instant, message: Message) {
        if self.is_closed() {
            return;
        }
        self.keepalive.on_received(now);
        let result = match self.state {
            State::ExpectHello { .. } => self.on_first_message(message),
            State::Established => self.on_message(now, message),
            State::Closed => Ok(()),
        };
        if let Err(error) = result {
            self.fail(error);
        }
    }

    /// Tells the session how writing goes: how many bytes wait to be written, and how many went
    /// out since the last report. Bytes that wait [`Config::write_timeout`] with none going out
    /// end the session at the next [`handle_timeout`](Self::handle_timeout); each write that
    /// makes progress restarts that clock. Writing slower than [`Config::min_write_rate`] while
    /// bytes wait ends it too.
    pub fn handle_write(&mut self, now: Instant, waiting: usize, written: usize) {
        if waiting == 0 {
            self.write_stalled_since = None;
            self.backlog = None;
            return;
        }
        if written > 0 {
            self.write_stalled_since = Some(now);
        } else {
            self.write_stalled_since.get_or_insert(now);
        }
        let backlog = self.backlog.get_or_insert(Backlog {
            since: now,
            written: 0,
            waiting: 0,
        });
        backlog.written = backlog.written.saturating_add(written);
        backlog.waiting = waiting;
    }

    /// Advances the timers to `now`: the Hello deadline, Pings after silence, Pong deadlines,
    /// the write deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::ExpectHello { deadline } if now >= deadline => self.fail(ProtocolError::Timeout),
            State::Established => {
                if self
                    .write_deadline()
                    .is_some_and(|deadline| now >= deadline)
                {
                    self.fail(ProtocolError::WriteTimeout);
                    return;
                }
                // While a full ingress queue stops us reading, the peer is not silent: we are
                // not listening (and its Pong may be queued behind the backlog). For a while.
                if !self.mux.is_full() {
                    self.keepalive.release();
                } else if self.keepalive.hold(now) {
                    return;
                }
                match self.keepalive.handle_timeout(now) {
                    Due::Ping => self.queue(PING_ID, Bytes::from_static(&EMPTY_LIST)),
                    Due::Expired => self.fail(ProtocolError::Timeout),
                    Due::Nothing => {}
                }
            }
            State::ExpectHello { .. } | State::Closed => {}
        }
    }

    // Commands.

    /// Sends message `id` (relative to the capability) of shared capability `capability`.
    pub fn send(&mut self, capability: usize, id: u8, data: Bytes) -> Result<(), SendError> {
        match self.state {
            State::ExpectHello { .. } => return Err(SendError::NotEstablished),
            State::Closed => return Err(SendError::Closed),
            State::Established => {}
        }
        let wire_id = self.mux.wire_id(capability, id)?;
        let len = data.len();
        if len > self.max_message_size() {
            return Err(SendError::TooLarge(len));
        }
        // One frame carries the id and the (compressed) data; what does not fit would fail in
        // the frame encoder and end the connection without a Disconnect.
        let data = self.compress(data);
        let frame = devp2p_rlp_codec::Encodable::length(&wire_id) + data.len();
        if frame > MAX_FRAME_SIZE {
            return Err(SendError::TooLarge(frame));
        }
        self.transmit.push_back(Message::new(wire_id, data));
        Ok(())
    }

    /// Sends a Ping now; its Pong comes back as [`Event::Pong`]. Ignored unless established.
    pub fn ping(&mut self, now: Instant) {
        if self.is_established() {
            self.keepalive.on_ping_sent(now);
            self.queue(PING_ID, Bytes::from_static(&EMPTY_LIST));
        }
    }

    /// Ends the session with `reason`: queues the Disconnect and reports
    /// [`Event::Disconnected`]. Ignored once ended.
    pub fn disconnect(&mut self, reason: DisconnectReason) {
        self.close(reason, None);
    }

    // Outputs.

    /// The next message to send over RLPx.
    pub fn poll_transmit(&mut self) -> Option<Message> {
        self.transmit.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next received capability message, the capabilities taking turns.
    pub fn poll_message(&mut self) -> Option<CapabilityMessage> {
        self.mux.pop()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::ExpectHello { deadline } => Some(deadline),
            State::Established => {
                let keepalive = self.keepalive.deadline();
                Some(
                    self.write_deadline()
                        .map_or(keepalive, |w| w.min(keepalive)),
                )
            }
            State::Closed => None,
        }
    }

    // Internals.

    fn on_first_message(&mut self, message: Message) -> Result<(), ProtocolError> {
        match message.id {
            HELLO_ID => {}
            DISCONNECT_ID => {
                let reason = DisconnectReason::decode(&message.data).unwrap_or(UNREADABLE_REASON);
                self.closed_by_peer(reason);
                return Ok(());
            }
            other => return Err(ProtocolError::ExpectedHello(other)),
        }
        let hello = Hello::decode(&message.data)?;
        let matches = hello.id == self.remote_id;
        let shared = negotiate(&self.capabilities, &hello.capabilities);
        self.snappy = hello.protocol_version >= P2P_VERSION;
        self.remote_hello = Some(hello);
        if !matches {
            return Err(ProtocolError::UnexpectedIdentity);
        }
        if shared.is_empty() {
            return Err(ProtocolError::NoSharedCapability);
        }
        self.mux = Multiplexer::new(
            shared,
            self.config.ingress_messages,
            self.config.ingress_bytes,
        );
        self.state = State::Established;
        self.events.push_back(Event::Established);
        Ok(())
    }

    /// When a stalled write has waited too long, or a backlog taken too long to drain (none:
    /// nothing waits, or a time beyond what `Instant` can count).
    fn write_deadline(&self) -> Option<Instant> {
        let timeout = self.config.write_timeout;
        let stalled = self.write_stalled_since?.checked_add(timeout);
        let draining = self
            .backlog
            .filter(|_| self.config.min_write_rate > 0)
            .and_then(|backlog| {
                let rate = f64::from(self.config.min_write_rate);
                let bytes = backlog.written.saturating_add(backlog.waiting);
                // usize to f64 rounds only past 2^53 bytes, far beyond what a session writes.
                #[allow(clippy::cast_precision_loss)]
                let allowed = Duration::try_from_secs_f64(bytes as f64 / rate).ok()?;
                backlog.since.checked_add(timeout)?.checked_add(allowed)
            });
        match (stalled, draining) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The configured message size limit, at most [`MAX_DECOMPRESSED_SIZE`].
    fn max_message_size(&self) -> usize {
        self.config.max_message_size.min(MAX_DECOMPRESSED_SIZE)
    }

    fn on_message(&mut self, now: Instant, message: Message) -> Result<(), ProtocolError> {
        if message.id == DISCONNECT_ID {
            let reason = self
                .read_disconnect(&message.data)
                .unwrap_or(UNREADABLE_REASON);
            self.closed_by_peer(reason);
            return Ok(());
        }
        let route = match message.id {
            PING_ID | PONG_ID => None,
            // The other ids the base protocol reserves (a second Hello, ids it may define
            // later) are ignored, as go-ethereum discards them; ending the session for them
            // would break with any peer speaking a later p2p version.
            id if id < CAPABILITY_BASE_ID => return Ok(()),
            id => Some(
                self.mux
                    .route(id)
                    .ok_or(ProtocolError::UnknownMessageId(id))?,
            ),
        };
        // Ping and Pong carry an empty list; a few bytes of extra elements are tolerated.
        let limit = if route.is_some() {
            self.max_message_size()
        } else {
            MAX_PING_SIZE
        };
        let data = if self.snappy {
            decompress(&message.data, limit)?
        } else {
            if message.data.len() > limit {
                return Err(ProtocolError::DecompressedTooLarge(message.data.len()));
            }
            message.data
        };
        match route {
            Some((capability, id)) => {
                self.keepalive.on_data(now);
                self.mux.push(capability, id, data);
            }
            None if message.id == PING_ID => {
                if self.pings.take(now) {
                    self.queue(PONG_ID, Bytes::from_static(&EMPTY_LIST));
                }
            }
            None => {
                if let Some(rtt) = self.keepalive.on_pong(now) {
                    self.events.push_back(Event::Pong(rtt));
                }
            }
        }
        Ok(())
    }

    /// Disconnect's data: compressed when snappy is on, but some peers (ethereumjs) send it
    /// bare even then. A bare form is tried first; compressed data never decodes as one (a
    /// snappy block always has bytes after what would be the reason).
    fn read_disconnect(&self, data: &[u8]) -> Result<DisconnectReason, ProtocolError> {
        match DisconnectReason::decode(data) {
            Ok(reason) => Ok(reason),
            Err(error) if !self.snappy => Err(error),
            Err(_) => DisconnectReason::decode(&decompress(data, 64)?),
        }
    }

    /// Queues a message, compressed when snappy is on.
    fn queue(&mut self, id: u64, data: Bytes) {
        let data = self.compress(data);
        self.transmit.push_back(Message::new(id, data));
    }

    /// `data` as it goes on the wire: compressed once p2p v5 is agreed.
    fn compress(&mut self, data: Bytes) -> Bytes {
        if self.snappy {
            self.compressor.compress(&data)
        } else {
            data
        }
    }

    fn fail(&mut self, error: ProtocolError) {
        let reason = DisconnectReason::from(&error);
        self.close(reason, Some(error));
    }

    fn close(&mut self, reason: DisconnectReason, cause: Option<ProtocolError>) {
        if self.is_closed() {
            return;
        }
        self.queue(DISCONNECT_ID, reason.encode());
        self.end(Disconnected {
            reason,
            by_peer: false,
            cause,
            remote_hello: self.remote_hello.clone().map(Box::new),
        });
    }

    fn closed_by_peer(&mut self, reason: DisconnectReason) {
        self.end(Disconnected {
            reason,
            by_peer: true,
            cause: None,
            remote_hello: self.remote_hello.clone().map(Box::new),
        });
    }

    fn end(&mut self, disconnected: Disconnected) {
        self.state = State::Closed;
        self.events.push_back(Event::Disconnected(disconnected));
    }
}
