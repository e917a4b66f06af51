//! Sessions and handshakes (discv5-theory.md, "Sessions" and "Handshake Steps") as a sans-IO
//! state machine: messages in and out, encrypted under per-peer session keys, with the
//! WHOAREYOU challenge and the handshake run whenever a side has no session.
//!
//! Sessions are keyed by node id *and* socket address: a session set up from one address is not
//! valid from another (the message there gets a WHOAREYOU). A pending challenge is answered
//! with the very same WHOAREYOU (same nonce, same id-nonce, same bytes) until a handshake
//! answering it succeeds or the challenge expires. A handshake costs signature checks only
//! once it has a challenge to answer and its IP is within the handshake rate limit; one that
//! fails leaves the challenge for the real node. When both sides start a handshake at once and
//! the two cross, we write in the session we started and read in both, which is where
//! go-ethereum writes and reads as a rule (it keeps the session of the last handshake it
//! stored, usually ours); should our handshake be lost, the node's repeated WHOAREYOU makes us
//! take its session.
//!
//! Method groups as in the other cores: inputs (`handle_datagram`, `handle_timeout`), the
//! command `send`, outputs (`poll_transmit`, `poll_event`, `poll_timeout`).

use core::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};
use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::Arc,
    time::Instant,
};

use devp2p_enr::{Enr, NodeId, SigningKey};
use devp2p_kbucket::{Deadlines, IpRateLimit};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::{
    Message, RequestId,
    core::udp_addr_in,
    crypto::{self, SessionCipher},
    expiring::Expiring,
    wire::{self, IdNonce, MaskingKey, Nonce, Packet, PacketHeader, PacketKind, RawRecord},
};

/// Bytes of random content in the packet that opens a handshake (go-ethereum sends 20; at
/// least the 16 of a GCM tag are needed).
const RANDOM_MESSAGE_SIZE: usize = 20;

/// Settings of [`Sessions`]. Every field has a default, stated on it.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Sessions kept; the least recently used goes first. Default 1000.
    pub max_sessions: usize,
    /// How long a message we sent without a session waits for the WHOAREYOU; a WHOAREYOU we
    /// sent waits twice as long for the handshake (sigp's node sends a handshake packet again
    /// when no answer came within its 1 s request timeout). Default 1 s.
    pub handshake_timeout: Duration,
    /// Handshakes we start that may wait for their WHOAREYOU at once; beyond it, more are
    /// refused. Also the number of messages sent in sessions kept (for `handshake_timeout`)
    /// to go again should the node answer one with a WHOAREYOU; the oldest goes first. While a
    /// session's handshake is crossed, its replies are kept there too, so a burst of them can
    /// push out requests kept for that. Default 256.
    pub max_pending: usize,
    /// WHOAREYOU challenges that may wait for their handshake at once. Beyond it, a new
    /// challenge replaces the oldest, so that packets from spoofed node ids cannot lock real
    /// nodes out; to push out a real node's challenge they must come this many within its
    /// round trip. Default 4096.
    pub max_challenges: usize,
    /// Messages waiting for a handshake to complete, per node. Default 16.
    pub max_queued: usize,
    /// WHOAREYOU packets sent and handshakes verified per IP address (IPv6: per /64) and
    /// second, loopback addresses exempt. Default 10, with bursts of 20. As many addresses are
    /// tracked as [`max_challenges`](Self::max_challenges) (or
    /// [`max_sessions`](Self::max_sessions) if more); when a new address finds them all
    /// tracked, the fuller half of the buckets is forgotten.
    pub handshakes_per_ip_second: u32,
    /// See [`handshakes_per_ip_second`](Self::handshakes_per_ip_second). Default 20.
    pub handshake_burst: u32,
    /// Capacity of the event queue; the oldest events go when it is full. Default 1024.
    pub max_events: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            max_sessions: 1000,
            handshake_timeout: Duration::from_secs(1),
            max_pending: 256,
            max_challenges: 4096,
            max_queued: 16,
            handshakes_per_ip_second: 10,
            handshake_burst: 20,
            max_events: 1024,
        }
    }
}

/// A node as a session sees it: its id, its address, and (to start a handshake) its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAddress {
    /// The node id.
    pub id: NodeId,
    /// Where its packets come from and ours go.
    pub addr: SocketAddr,
}

/// What [`Sessions`] reports.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// A handshake completed: messages to and from `node` are now encrypted under fresh keys.
    /// `record` is the node's record when its handshake carried one (then its signature, its id
    /// and the id-signature are verified); `None` for handshakes we made.
    Established {
        /// The node.
        node: NodeAddress,
        /// Its record, if it sent one.
        record: Option<Enr>,
    },
    /// A message arrived in a session.
    Message {
        /// From whom.
        node: NodeAddress,
        /// The message.
        message: Message,
    },
    /// A handshake we started got no WHOAREYOU in time: the messages waiting for it are lost.
    HandshakeTimeout {
        /// The node.
        node: NodeAddress,
        /// The messages that were not sent.
        dropped: Vec<Message>,
    },
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub dst: SocketAddr,
    /// The packet.
    pub bytes: Vec<u8>,
}

/// A session's keys with their AES key schedules, expanded once for the session rather than
/// for every packet (about 2.4 KB): the AES-GCM ciphers of our write and read keys, and the
/// node's masking key. Clones share them.
#[derive(Clone)]
struct Keys(Arc<Schedules>);

struct Schedules {
    write: SessionCipher,
    read: SessionCipher,
    masking: MaskingKey,
}

impl Keys {
    fn new(write: SessionCipher, read: SessionCipher, node: &NodeId) -> Self {
        Self(Arc::new(Schedules {
            write,
            read,
            masking: MaskingKey::new(node),
        }))
    }

    /// The packet carrying `message`, sealed under `header`.
    fn packet(&self, header: &PacketHeader, message: &Message) -> Option<Vec<u8>> {
        let sealed = self
            .0
            .write
            .encrypt(&header.nonce, &message.encode(), &header.message_ad());
        wire::encode_packet_with(&self.0.masking, header, &sealed).ok()
    }

    /// The plaintext of a message packet, if it was sealed with our read key.
    fn open(&self, packet: &Packet<'_>) -> Option<Vec<u8>> {
        let (nonce, ad) = (&packet.header.nonce, &packet.message_ad);
        self.0.read.decrypt(nonce, packet.message, ad).ok()
    }
}

struct Session {
    keys: Keys,
    /// When handshakes from both sides crossed: the session we do not write in.
    other: Option<Crossed>,
    /// The node's last message decrypted under `other`'s read key, which is tried first then:
    /// two of our nodes whose handshakes crossed each write in their own session for good.
    other_first: bool,
    /// For a session we started: the nonce the WHOAREYOU we answered named. Should the node
    /// repeat that WHOAREYOU, our handshake never reached it.
    opened_by: Option<Nonce>,
    established: Instant,
    last_used: u64,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("last_used", &self.last_used)
            .finish_non_exhaustive()
    }
}

/// The session of a crossed pair we do not write in (see [`Session::other`]).
struct Crossed {
    keys: Keys,
    /// The node's record. go-ethereum may keep only its own session (when ours reached it
    /// first) and answer what we write in ours with a WHOAREYOU; a reply is then kept in
    /// `sent` like a request, so that it goes again in a new handshake.
    record: Enr,
}

/// A handshake we started: waiting for the node's WHOAREYOU.
#[derive(Debug)]
struct Outgoing {
    /// The nonce of the packet that asked for it: the WHOAREYOU must repeat it.
    nonce: Nonce,
    record: Enr,
    queued: Vec<Message>,
    deadline: Instant,
}

/// A message we sent in a session, kept a little while in case the node answers with a
/// WHOAREYOU (it lost the session).
#[derive(Debug)]
struct Sent {
    record: Enr,
    addr: SocketAddr,
    message: Message,
}

/// A WHOAREYOU we sent: waiting for the handshake.
#[derive(Debug)]
struct Challenge {
    challenge_data: Vec<u8>,
    packet: Vec<u8>,
    known: Option<Enr>,
    /// When the WHOAREYOU was first sent.
    sent: Instant,
    /// How many times it was sent again.
    repeats: u8,
}

/// How many times a pending WHOAREYOU is sent again: an honest node needs one or two (it sent
/// more before ours reached it), and these go out without counting against the per-IP limit,
/// so packets spoofed from an address make us send it at most this many more WHOAREYOUs per
/// challenge.
const MAX_REPEATS: u8 = 8;

/// Sessions with many nodes, sans-IO.
///
/// ```
/// use std::time::Instant;
/// use devp2p_discv5::{Enr, Message, RequestId, SigningKey};
/// use devp2p_discv5::session::{NodeAddress, SessionConfig, SessionEvent, Sessions};
///
/// let now = Instant::now();
/// let (key_a, key_b) = (SigningKey::from_slice(&[1; 32])?, SigningKey::from_slice(&[2; 32])?);
/// let enr_a = Enr::builder().ip4([127, 0, 0, 1].into()).udp(9001).build(&key_a)?;
/// let enr_b = Enr::builder().ip4([127, 0, 0, 1].into()).udp(9002).build(&key_b)?;
/// let (addr_a, addr_b) = ("127.0.0.1:9001".parse()?, "127.0.0.1:9002".parse()?);
/// let mut a = Sessions::new(key_a, enr_a, SessionConfig::default(), [1; 32]);
/// let mut b = Sessions::new(key_b, enr_b.clone(), SessionConfig::default(), [2; 32]);
///
/// let ping = Message::Ping { req_id: RequestId::new(&[1]).ok_or("id too long")?, enr_seq: 1 };
/// a.send(now, &enr_b, addr_b, ping.clone());
/// // Random packet, WHOAREYOU, handshake carrying the Ping.
/// for _ in 0..2 {
///     while let Some(t) = a.poll_transmit() { b.handle_datagram(now, addr_a, &t.bytes, |_| None); }
///     while let Some(t) = b.poll_transmit() { a.handle_datagram(now, addr_b, &t.bytes, |_| None); }
/// }
/// let events: Vec<SessionEvent> = std::iter::from_fn(|| b.poll_event()).collect();
/// assert!(matches!(&events[..], [SessionEvent::Established { .. }, SessionEvent::Message { message, .. }] if *message == ping));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Sessions {
    config: SessionConfig,
    key: SigningKey,
    id: NodeId,
    /// Unmasks what arrives.
    masking: MaskingKey,
    record: Enr,
    rng: StdRng,
    clock: u64,
    sessions: HashMap<(NodeId, SocketAddr), Session>,
    /// The sessions that go first when a new one needs room, least recently used first, each
    /// with the `last_used` it had when it was picked (see [`Sessions::least_recently_used`]).
    evict_next: VecDeque<(u64, (NodeId, SocketAddr))>,
    outgoing: BTreeMap<(NodeId, SocketAddr), Outgoing>,
    /// Every handshake in `outgoing` by its deadline, soonest first (then by key, so that
    /// timeouts fire in a reproducible order): the next one is found without a search.
    outgoing_deadlines: Deadlines<(NodeId, SocketAddr)>,
    /// WHOAREYOUs waiting for their handshake; when full, the oldest goes (see
    /// [`SessionConfig::max_challenges`]).
    challenges: Expiring<(NodeId, SocketAddr), Challenge>,
    /// Messages sent in sessions, by the nonce a WHOAREYOU would name.
    sent: Expiring<Nonce, Sent>,
    /// The node a WHOAREYOU naming a nonce must come from, for the nonces of handshakes we
    /// started that wait for their WHOAREYOU and of sessions we opened whose handshake crossed
    /// the node's: a WHOAREYOU is matched without a search, whatever the number of sessions.
    /// Entries are checked when used; stale ones go when the map outgrows what can be live.
    opened_by: HashMap<Nonce, (NodeId, SocketAddr)>,
    limits: IpRateLimit,
    transmits: VecDeque<Transmit>,
    events: VecDeque<SessionEvent>,
}

impl Sessions {
    /// Sessions of the node with `key` and `record`; `seed` seeds the random numbers (nonces,
    /// id-nonces, ephemeral keys), so it must come from a cryptographic source.
    pub fn new(key: SigningKey, record: Enr, config: SessionConfig, seed: [u8; 32]) -> Self {
        // As many addresses tracked as challenges can wait (or sessions, if more).
        let limits = IpRateLimit::new(
            config.handshakes_per_ip_second,
            config.handshake_burst,
            config.max_challenges.max(config.max_sessions),
        );
        let (challenges, sent) = (
            Expiring::new(config.max_challenges),
            Expiring::new(config.max_pending),
        );
        let id = record.node_id();
        Self {
            config,
            masking: MaskingKey::new(&id),
            id,
            key,
            record,
            rng: StdRng::from_seed(seed),
            clock: 0,
            sessions: HashMap::new(),
            evict_next: VecDeque::new(),
            outgoing: BTreeMap::new(),
            outgoing_deadlines: Deadlines::default(),
            challenges,
            sent,
            opened_by: HashMap::new(),
            limits,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Our node id.
    pub const fn local_id(&self) -> &NodeId {
        &self.id
    }

    /// Our record, as sent in handshakes.
    pub const fn local_record(&self) -> &Enr {
        &self.record
    }

    /// The key our record and handshakes are signed with.
    pub(crate) const fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Replaces our record (after an address change); handshakes from now on carry it.
    pub fn set_local_record(&mut self, record: Enr) {
        self.record = record;
    }

    /// Whether a session with `node` at `addr` exists.
    pub fn has_session(&self, node: &NodeId, addr: SocketAddr) -> bool {
        self.sessions.contains_key(&(*node, addr))
    }

    /// Sends `message` to the node of `record` at `addr`: in its session if there is one,
    /// otherwise after a handshake (the message waits for it; the handshake packet carries the
    /// first one that fits). Returns false when the message is not sent: it does not fit in a
    /// packet ([`MAX_MESSAGE_SIZE`](wire::MAX_MESSAGE_SIZE)), or it cannot even wait (too many
    /// pending).
    pub fn send(&mut self, now: Instant, record: &Enr, addr: SocketAddr, message: Message) -> bool {
        let id = record.node_id();
        let key = (id, addr);
        if let Some(session) = self.sessions.get_mut(&key) {
            self.clock += 1;
            session.last_used = self.clock;
            let keys = session.keys.clone();
            let Some(nonce) = self.send_in_session(addr, &keys, &message) else {
                return false;
            };
            // Should the node have lost the session, it answers with a WHOAREYOU naming this
            // nonce; then the message goes again, in a new handshake.
            self.sent.expire(now);
            let sent = Sent {
                record: record.clone(),
                addr,
                message,
            };
            self.sent
                .insert(nonce, sent, now + self.config.handshake_timeout);
            return true;
        }
        // In a session, a message that fits no packet fails to encode above; one that is to
        // wait for a handshake is checked now.
        if message.encoded_len() > wire::MAX_MESSAGE_SIZE {
            return false;
        }
        if let Some(pending) = self.outgoing.get_mut(&key) {
            if pending.queued.len() >= self.config.max_queued {
                return false;
            }
            pending.queued.push(message);
            return true;
        }
        if self.outgoing.len() >= self.config.max_pending {
            return false;
        }
        // A packet of random content that the node cannot decrypt: it answers with WHOAREYOU.
        let nonce: Nonce = self.random();
        let header = PacketHeader {
            masking_iv: self.random(),
            nonce,
            kind: PacketKind::Message { src_id: self.id },
        };
        let mut content = [0u8; RANDOM_MESSAGE_SIZE];
        self.rng.fill_bytes(&mut content);
        if let Ok(bytes) = wire::encode_packet(&id, &header, &content) {
            self.transmits.push_back(Transmit { dst: addr, bytes });
        }
        self.note_opened_by(nonce, key);
        let deadline = now + self.config.handshake_timeout;
        self.outgoing_deadlines.insert(deadline, key);
        self.outgoing.insert(
            key,
            Outgoing {
                nonce,
                record: record.clone(),
                queued: vec![message],
                deadline,
            },
        );
        true
    }

    /// Sends `message` in the existing session with `node` (an answer to what came in it);
    /// false when there is none, or when the message does not fit in a packet
    /// ([`MAX_MESSAGE_SIZE`](wire::MAX_MESSAGE_SIZE)). In a session whose handshake crossed
    /// the node's, the node may not read it and answer with a WHOAREYOU: then it goes again,
    /// in a new handshake.
    pub fn reply(&mut self, now: Instant, node: &NodeAddress, message: &Message) -> bool {
        let key = (node.id, node.addr);
        let Some(session) = self.sessions.get_mut(&key) else {
            return false;
        };
        self.clock += 1;
        session.last_used = self.clock;
        let keys = session.keys.clone();
        let crossed = session.other.as_ref().map(|o| o.record.clone());
        let Some(nonce) = self.send_in_session(node.addr, &keys, message) else {
            return false;
        };
        if let Some(record) = crossed {
            self.sent.expire(now);
            let sent = Sent {
                record,
                addr: node.addr,
                message: message.clone(),
            };
            self.sent
                .insert(nonce, sent, now + self.config.handshake_timeout);
        }
        true
    }

    /// Handles a datagram from `from`. `known` gives the record we hold for a node id, if any:
    /// a WHOAREYOU asks for the node's record when we hold none (or an older one), and a
    /// handshake without a record is verified against it.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        known: impl Fn(&NodeId) -> Option<Enr>,
    ) {
        let Ok(packet) = wire::decode_packet_with(&self.masking, bytes) else {
            return;
        };
        match &packet.header.kind {
            PacketKind::Message { src_id } => self.on_message(now, from, *src_id, &packet, &known),
            PacketKind::WhoAreYou { enr_seq, .. } => {
                self.on_whoareyou(now, from, *enr_seq, &packet);
            }
            PacketKind::Handshake {
                src_id,
                id_signature,
                ephemeral_pubkey,
                record,
            } => {
                let handshake = Handshake {
                    src_id: *src_id,
                    id_signature,
                    ephemeral_pubkey,
                    record: record.as_ref(),
                };
                self.on_handshake(now, from, &handshake, &packet);
            }
        }
    }

    /// Expires pending handshakes and challenges.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.challenges.expire(now);
        self.sent.expire(now);
        while let Some(key) = self.outgoing_deadlines.pop_due(now) {
            if let Some(outgoing) = self.outgoing.remove(&key) {
                self.opened_by.remove(&outgoing.nonce);
                self.push_event(SessionEvent::HandshakeTimeout {
                    node: NodeAddress {
                        id: key.0,
                        addr: key.1,
                    },
                    dropped: outgoing.queued,
                });
            }
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let outgoing = self.outgoing_deadlines.next();
        // The oldest challenge may have been answered: then this is a turn too early.
        outgoing
            .into_iter()
            .chain(self.challenges.next_deadline())
            .min()
    }

    fn on_message(
        &mut self,
        now: Instant,
        from: SocketAddr,
        src_id: NodeId,
        packet: &Packet<'_>,
        known: &impl Fn(&NodeId) -> Option<Enr>,
    ) {
        let header = &packet.header;
        let key = (src_id, from);
        if let Some(session) = self.sessions.get(&key)
            && let Some((plain, in_current)) = {
                let current = Some((&session.keys, true));
                let other = session.other.as_ref().map(|o| (&o.keys, false));
                let order = if session.other_first {
                    [other, current]
                } else {
                    [current, other]
                };
                order
                    .into_iter()
                    .flatten()
                    .find_map(|(keys, current)| keys.open(packet).map(|plain| (plain, current)))
            }
        {
            self.clock += 1;
            let clock = self.clock;
            // A crossing is settled once the node writes in the session we write in, long enough
            // after it (its challenge has expired; what it sent in the other has arrived).
            let settled = in_current
                && now.saturating_duration_since(session.established)
                    >= self.config.handshake_timeout;
            if let Some(session) = self.sessions.get_mut(&key) {
                session.last_used = clock;
                session.other_first = !in_current;
                if settled {
                    session.other = None;
                    if let Some(nonce) = session.opened_by {
                        self.opened_by.remove(&nonce);
                    }
                }
            }
            if let Ok(message) = Message::decode(&plain) {
                self.push_event(SessionEvent::Message {
                    node: NodeAddress {
                        id: src_id,
                        addr: from,
                    },
                    message,
                });
            }
            return;
        }
        // No session (or not this one): challenge. A pending challenge is repeated unchanged
        // for a handshake timeout (the node sent more before our WHOAREYOU reached it), which
        // costs nothing and changes nothing. After that, a packet the node sent since gets a
        // new challenge naming it: go-ethereum stores its session as it sends its handshake,
        // and when that handshake is lost, writes in the session and ignores a WHOAREYOU that
        // names no request it still has. (The old challenge lives on otherwise, for a
        // handshake sent again, as sigp's node does after 1 s.) A new challenge counts against
        // the per-IP limit, unless it is for a node of our table at the address its record
        // names: junk from made-up ids spoofed from a node's IP must not use up its challenges.
        if let Some(challenge) = self.challenges.get_mut(&key)
            && now < challenge.sent + self.config.handshake_timeout
        {
            if challenge.repeats < MAX_REPEATS {
                challenge.repeats += 1;
                let bytes = challenge.packet.clone();
                self.transmits.push_back(Transmit { dst: from, bytes });
            }
            return;
        }
        let known = known(&src_id);
        let at_its_address = known
            .as_ref()
            .is_some_and(|record| names_addr(record, from));
        if !at_its_address && !admit(&mut self.limits, now, from.ip()) {
            return;
        }
        let id_nonce: IdNonce = self.random();
        let whoareyou = PacketHeader {
            masking_iv: self.random(),
            nonce: header.nonce,
            kind: PacketKind::WhoAreYou {
                id_nonce,
                enr_seq: known.as_ref().map_or(0, Enr::seq),
            },
        };
        let Ok(packet) = wire::encode_packet(&src_id, &whoareyou, &[]) else {
            return;
        };
        self.transmits.push_back(Transmit {
            dst: from,
            bytes: packet.clone(),
        });
        let challenge = Challenge {
            challenge_data: whoareyou.challenge_data(),
            packet,
            known,
            sent: now,
            repeats: 0,
        };
        // A full table makes room: the oldest challenge goes (the one nearest expiry).
        // Refusing new ones instead would let spoofed packets, from node ids that need not
        // exist, lock out every real handshake.
        self.challenges.insert(
            key,
            challenge,
            now + self.config.handshake_timeout.saturating_mul(2),
        );
    }

    fn on_whoareyou(&mut self, now: Instant, from: SocketAddr, enr_seq: u64, packet: &Packet<'_>) {
        let (nonce, challenge_data) = (&packet.header.nonce, packet.message_ad.as_slice());
        let opened = self
            .opened_by
            .get(nonce)
            .copied()
            .filter(|(_, addr)| *addr == from);
        let (key, outgoing) = if let Some(key) = opened
            && self.outgoing.get(&key).is_some_and(|o| o.nonce == *nonce)
            && let Some(outgoing) = self.outgoing.remove(&key)
        {
            self.outgoing_deadlines.remove(outgoing.deadline, key);
            self.opened_by.remove(nonce);
            (key, outgoing)
        } else if self.sent.get(nonce).is_some_and(|s| s.addr == from)
            && let Some((sent, deadline)) = self.sent.remove(nonce)
        {
            // A message sent in a session the node no longer has: a new handshake, with it.
            let key = (sent.record.node_id(), sent.addr);
            self.sessions.remove(&key);
            let outgoing = Outgoing {
                nonce: *nonce,
                record: sent.record,
                queued: vec![sent.message],
                deadline,
            };
            (key, outgoing)
        } else {
            // Our handshake was lost while the node's crossed it, so the node uses its own
            // session, keeps waiting for ours and repeats its WHOAREYOU: take its session.
            if let Some(key) = opened
                && let Some(session) = self.sessions.get_mut(&key)
                && session.opened_by == Some(*nonce)
                && let Some(mut other) = session.other.take()
            {
                core::mem::swap(&mut session.keys, &mut other.keys);
                session.other = Some(other);
                session.opened_by = None;
                session.other_first = false;
                self.opened_by.remove(nonce);
            }
            // Otherwise not an answer to anything we sent: ignored.
            return;
        };
        let (remote_id, addr) = key;
        let outgoing_nonce = outgoing.nonce;
        // The node's own handshake reached us after we asked for this one (both sides started
        // at once): it made the session we need, so the messages go in it.
        if let Some(session) = self.sessions.get(&key) {
            let keys = session.keys.clone();
            for message in &outgoing.queued {
                self.send_in_session(addr, &keys, message);
            }
            return;
        }
        let mut queued = outgoing.queued.into_iter();
        let Some(first) = queued.next() else {
            return;
        };
        let remote_key = outgoing.record.public_key();
        let (ephemeral_pubkey, keys) = loop {
            // All but a 2^-128 fraction of 32-byte strings are valid secret keys.
            let secret: [u8; 32] = self.random();
            if let Some(pair) =
                crypto::initiator_keys(&secret, remote_key, &self.id, &remote_id, challenge_data)
            {
                break pair;
            }
        };
        let id_signature =
            crypto::id_sign(&self.key, challenge_data, &ephemeral_pubkey, &remote_id);
        // A WHOAREYOU with enr-seq 0 knows no record of ours: it must get one, whatever our seq.
        let record =
            (enr_seq == 0 || enr_seq < self.record.seq()).then(|| RawRecord::from(&self.record));
        let header = PacketHeader {
            masking_iv: self.random(),
            nonce: self.random(),
            kind: PacketKind::Handshake {
                src_id: self.id,
                id_signature,
                ephemeral_pubkey,
                record,
            },
        };
        let ciphers = Keys::new(
            SessionCipher::new(&keys.initiator_key),
            SessionCipher::new(&keys.recipient_key),
            &remote_id,
        );
        let seal = |message: &Message| ciphers.packet(&header, message);
        // The handshake's signature, key and record leave less room for its message than an
        // ordinary packet has. A message that does not fit follows in the session, and the
        // handshake carries a PING instead (its PONG answers nothing and is ignored).
        let (bytes, after) = match seal(&first) {
            Some(bytes) => (bytes, None),
            None => {
                let ping = Message::Ping {
                    req_id: RequestId::from(self.random::<8>()),
                    enr_seq: self.record.seq(),
                };
                let Some(bytes) = seal(&ping) else {
                    return;
                };
                (bytes, Some(first))
            }
        };
        self.transmits.push_back(Transmit { dst: addr, bytes });
        self.insert_session(
            key,
            Session {
                keys: ciphers.clone(),
                other: None,
                other_first: false,
                opened_by: Some(outgoing_nonce),
                established: now,
                last_used: 0,
            },
        );
        for message in after.into_iter().chain(queued) {
            self.send_in_session(addr, &ciphers, &message);
        }
        self.push_event(SessionEvent::Established {
            node: NodeAddress {
                id: remote_id,
                addr,
            },
            // The node has not proved anything yet (a WHOAREYOU is not signed): no record.
            record: None,
        });
    }

    fn on_handshake(
        &mut self,
        now: Instant,
        from: SocketAddr,
        handshake: &Handshake<'_>,
        packet: &Packet<'_>,
    ) {
        let (nonce, message_ad, ciphertext) =
            (&packet.header.nonce, &packet.message_ad, packet.message);
        let key = (handshake.src_id, from);
        // Only an answer to our challenge counts, and only within the per-IP limit: nothing
        // costly (the record's signature, the id-signature, ECDH) happens before both. The
        // challenge stays until a handshake succeeds, so a forged handshake from the node's
        // id and address (or one over the limit) does not use it up for the real one.
        let Some(challenge) = self.challenges.get(&key) else {
            return;
        };
        if !admit(&mut self.limits, now, from.ip()) {
            return;
        }
        let record = match (handshake.record, &challenge.known) {
            (Some(raw), _) => match raw.verify() {
                Ok(record) if record.node_id() == handshake.src_id => record,
                _ => return,
            },
            (None, Some(known)) => known.clone(),
            (None, None) => return,
        };
        let remote_key = record.public_key();
        if crypto::id_verify(
            remote_key,
            &challenge.challenge_data,
            handshake.ephemeral_pubkey,
            &self.id,
            handshake.id_signature,
        )
        .is_err()
        {
            return;
        }
        let Ok(keys) = crypto::recipient_keys(
            &self.key,
            handshake.ephemeral_pubkey,
            &handshake.src_id,
            &self.id,
            &challenge.challenge_data,
        ) else {
            return;
        };
        let read = SessionCipher::new(&keys.initiator_key);
        let Ok(plain) = read.decrypt(nonce, ciphertext, message_ad) else {
            return;
        };
        // Each challenge is answered once.
        self.challenges.remove(&key);
        let theirs = Session {
            keys: Keys::new(
                SessionCipher::new(&keys.recipient_key),
                read,
                &handshake.src_id,
            ),
            other: None,
            other_first: false,
            opened_by: None,
            established: now,
            last_used: 0,
        };
        match self.sessions.get_mut(&key) {
            // Both sides started a handshake at once, and each answered the other's: two
            // sessions. We write in the one we started and read in both. go-ethereum keeps the
            // session of the last handshake it stored, which is ours when, as usual, ours
            // reaches it after it answered our challenge: it writes and reads in ours too. In
            // the narrower case where ours arrives first, it ends on its own and answers what
            // we write with a WHOAREYOU; the record kept here lets a reply go again in a new
            // handshake, as a request does. A node of ours writes in its own, which we read as
            // the other.
            Some(ours)
                if ours.opened_by.is_some()
                    && now < ours.established + self.config.handshake_timeout =>
            {
                ours.other = Some(Crossed {
                    keys: theirs.keys,
                    record: record.clone(),
                });
                if let Some(nonce) = ours.opened_by {
                    self.note_opened_by(nonce, key);
                }
            }
            _ => self.insert_session(key, theirs),
        }
        let node = NodeAddress {
            id: handshake.src_id,
            addr: from,
        };
        self.push_event(SessionEvent::Established {
            node: node.clone(),
            record: handshake.record.is_some().then_some(record),
        });
        if let Ok(message) = Message::decode(&plain) {
            self.push_event(SessionEvent::Message { node, message });
        }
    }

    fn send_in_session(
        &mut self,
        addr: SocketAddr,
        keys: &Keys,
        message: &Message,
    ) -> Option<Nonce> {
        let header = PacketHeader {
            masking_iv: self.random(),
            nonce: self.random(),
            kind: PacketKind::Message { src_id: self.id },
        };
        let bytes = keys.packet(&header, message)?;
        self.transmits.push_back(Transmit { dst: addr, bytes });
        Some(header.nonce)
    }

    /// Files `nonce` as opened by the node at `key` (see [`Sessions::opened_by`]). At twice
    /// what can be live (pending handshakes and sessions), the stale entries go.
    fn note_opened_by(&mut self, nonce: Nonce, key: (NodeId, SocketAddr)) {
        let live = self
            .config
            .max_pending
            .saturating_add(self.config.max_sessions);
        if self.opened_by.len() >= live.saturating_mul(2) {
            let (outgoing, sessions) = (&self.outgoing, &self.sessions);
            self.opened_by.retain(|nonce, key| {
                outgoing.get(key).is_some_and(|o| o.nonce == *nonce)
                    || sessions
                        .get(key)
                        .is_some_and(|s| s.opened_by == Some(*nonce) && s.other.is_some())
            });
        }
        self.opened_by.insert(nonce, key);
    }

    /// Sets up (or replaces) the session with `key`, as just used.
    fn insert_session(&mut self, key: (NodeId, SocketAddr), session: Session) {
        if !self.sessions.contains_key(&key)
            && self.sessions.len() >= self.config.max_sessions
            && let Some(oldest) = self.least_recently_used()
        {
            self.sessions.remove(&oldest);
        }
        self.clock += 1;
        self.sessions.insert(
            key,
            Session {
                last_used: self.clock,
                ..session
            },
        );
    }

    /// The session used least recently. One scan of all sessions picks an eighth of them,
    /// those used least recently, in order, and the evictions that follow take from these:
    /// with every place taken, a new session does not scan them all again. Those used since,
    /// or gone, are passed over (only when all of them were does the next eviction scan
    /// again): a session used after the scan was used later than any session picked, and one
    /// not picked was used later than all of them, so the first picked one still unused is
    /// the least recently used of all.
    fn least_recently_used(&mut self) -> Option<(NodeId, SocketAddr)> {
        loop {
            if self.evict_next.is_empty() {
                let mut all: Vec<_> = self
                    .sessions
                    .iter()
                    .map(|(key, session)| (session.last_used, *key))
                    .collect();
                let picked = all.len().div_ceil(8);
                if picked == 0 {
                    return None;
                }
                all.select_nth_unstable_by_key(picked - 1, |(used, _)| *used);
                all.truncate(picked);
                all.sort_unstable_by_key(|(used, _)| *used);
                self.evict_next.extend(all);
            }
            let (used, key) = self.evict_next.pop_front()?;
            if self
                .sessions
                .get(&key)
                .is_some_and(|session| session.last_used == used)
            {
                return Some(key);
            }
        }
    }

    fn random<const N: usize>(&mut self) -> [u8; N] {
        let mut bytes = [0u8; N];
        self.rng.fill_bytes(&mut bytes);
        bytes
    }

    fn push_event(&mut self, event: SessionEvent) {
        if self.events.len() >= self.config.max_events {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }
}

/// A handshake packet's authdata, borrowed.
struct Handshake<'a> {
    src_id: NodeId,
    id_signature: &'a [u8; 64],
    ephemeral_pubkey: &'a [u8; 33],
    record: Option<&'a RawRecord>,
}

/// Whether a WHOAREYOU to `ip`, or a handshake from it, is within the per-IP `limits`.
/// Loopback is exempt: every node of a local devnet shares 127.0.0.1, and no remote host can
/// send from it (the kernel drops such packets arriving from outside).
fn admit(limits: &mut IpRateLimit, now: Instant, ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback() || limits.admit(now, ip)
}

/// Whether `record` names `addr` (canonical) as its IPv4 or IPv6 UDP address.
fn names_addr(record: &Enr, addr: SocketAddr) -> bool {
    [false, true]
        .into_iter()
        .any(|ipv6| udp_addr_in(record, ipv6) == Some(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The origin of the virtual clock.
    #[allow(clippy::disallowed_methods)]
    fn start() -> Instant {
        Instant::now()
    }

    fn sessions(max_pending: usize, max_sessions: usize) -> Result<Sessions, devp2p_enr::EnrError> {
        let key =
            SigningKey::from_slice(&[1; 32]).map_err(|_| devp2p_enr::EnrError::InvalidPublicKey)?;
        let record = Enr::builder().udp(9001).build(&key)?;
        let config = SessionConfig {
            max_pending,
            max_sessions,
            ..SessionConfig::default()
        };
        Ok(Sessions::new(key, record, config, [1; 32]))
    }

    fn key(i: u8) -> (NodeId, SocketAddr) {
        (
            NodeId([i; 32]),
            SocketAddr::from(([127, 0, 0, 1], u16::from(i))),
        )
    }

    #[test]
    fn stale_nonces_go_and_live_ones_stay() -> Result<(), devp2p_enr::EnrError> {
        let mut s = sessions(1, 1)?;
        let peer = Enr::builder().udp(9002).build(
            &SigningKey::from_slice(&[2; 32])
                .map_err(|_| devp2p_enr::EnrError::InvalidPublicKey)?,
        )?;
        let addr = SocketAddr::from(([127, 0, 0, 1], 9002));
        assert!(s.send(
            start(),
            &peer,
            addr,
            Message::Ping {
                req_id: RequestId::from([1; 8]),
                enr_seq: 1
            }
        ));
        let live = s.outgoing.get(&(peer.node_id(), addr)).map(|o| o.nonce);
        // Stale entries (no handshake, no session behind them) up to the bound of twice
        // what can be live: 2 × (1 + 1).
        for i in 0..3 {
            s.note_opened_by([i; 12], key(i));
        }
        assert_eq!(s.opened_by.len(), 4);
        s.note_opened_by([9; 12], key(9));
        let mut left: Vec<Nonce> = s.opened_by.keys().copied().collect();
        left.sort_unstable();
        let mut expected = vec![[9; 12]];
        expected.extend(live);
        expected.sort_unstable();
        assert_eq!(left, expected);
        Ok(())
    }

    #[test]
    fn nonces_of_messages_sent_again_are_compacted() -> Result<(), devp2p_enr::EnrError> {
        let now = start();
        let mut s = sessions(2, 10)?;
        let signer =
            SigningKey::from_slice(&[2; 32]).map_err(|_| devp2p_enr::EnrError::InvalidPublicKey)?;
        let peer = Enr::builder().udp(9002).build(&signer)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], 9002));
        let session = Session {
            keys: Keys::new(
                SessionCipher::new(&[3; 16]),
                SessionCipher::new(&[4; 16]),
                &peer.node_id(),
            ),
            other: None,
            other_first: false,
            opened_by: None,
            established: now,
            last_used: 0,
        };
        s.insert_session((peer.node_id(), addr), session);
        let mut sent = Vec::new();
        for i in 1..=5 {
            let ping = Message::Ping {
                req_id: RequestId::from([i; 8]),
                enr_seq: 1,
            };
            assert!(s.send(now, &peer, addr, ping));
            let nonce = s.sent.queued().last().copied();
            sent.extend(nonce);
            // Every message but the first is answered by a WHOAREYOU and goes again in a
            // handshake: its nonce is stale, behind the first's.
            if i > 1 && i < 5 {
                s.sent.remove(&nonce.unwrap_or_default());
            }
        }
        let order: Vec<Nonce> = s.sent.queued().copied().collect();
        assert_eq!(order, [sent[0], sent[4]]);
        Ok(())
    }

    #[test]
    fn the_least_recently_used_session_goes_first() -> Result<(), devp2p_enr::EnrError> {
        let now = start();
        let max = 40;
        let mut s = sessions(4, max)?;
        let session = || Session {
            keys: Keys::new(
                SessionCipher::new(&[3; 16]),
                SessionCipher::new(&[4; 16]),
                &NodeId([5; 32]),
            ),
            other: None,
            other_first: false,
            opened_by: None,
            established: now,
            last_used: 0,
        };
        let pong = Message::Pong {
            req_id: RequestId::from([1; 8]),
            enr_seq: 1,
            ip: core::net::Ipv4Addr::LOCALHOST.into(),
            port: 1,
        };
        // The model: keys from least to most recently used.
        let mut order: Vec<(NodeId, SocketAddr)> = Vec::new();
        let mut random = 0x2545_f491_4f6c_dd1d_u64;
        let mut fresh = 0u16;
        for _ in 0..600 {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            let pick = usize::try_from(random >> 40).unwrap_or_default();
            if order.len() < max || pick % 6 < 2 {
                fresh += 1;
                let mut id = [0; 32];
                id[..2].copy_from_slice(&fresh.to_be_bytes());
                let k = (NodeId(id), SocketAddr::from(([127, 0, 0, 1], fresh)));
                if order.len() >= max {
                    order.remove(0);
                }
                order.push(k);
                s.insert_session(k, session());
            } else if pick % 6 == 2 {
                // A new session with a node that has one: it replaces it, and nothing goes.
                let k = order.remove(pick % order.len());
                order.push(k);
                s.insert_session(k, session());
            } else if pick % 6 == 3 {
                // A session that ends otherwise (its node answered with a WHOAREYOU).
                let k = order.remove(pick % order.len());
                s.sessions.remove(&k);
            } else {
                let k = order.remove(pick % order.len());
                order.push(k);
                let node = NodeAddress { id: k.0, addr: k.1 };
                assert!(s.reply(now, &node, &pong));
            }
            let mut kept: Vec<_> = s.sessions.keys().copied().collect();
            let mut expected = order.clone();
            kept.sort_unstable();
            expected.sort_unstable();
            assert_eq!(kept, expected);
        }
        Ok(())
    }

    /// Two nodes whose handshakes crossed: each sent a PING at once, and each round's packets
    /// were all in flight together.
    struct Crossed {
        a: Sessions,
        a_record: Enr,
        a_addr: SocketAddr,
        b: Sessions,
        b_record: Enr,
        b_addr: SocketAddr,
    }

    fn ping(i: u8) -> Message {
        Message::Ping {
            req_id: RequestId::from([i; 8]),
            enr_seq: 1,
        }
    }

    fn crossed(now: Instant) -> Result<Crossed, devp2p_enr::EnrError> {
        let node = |i: u8| -> Result<(Sessions, Enr, SocketAddr), devp2p_enr::EnrError> {
            let key = SigningKey::from_slice(&[i; 32])
                .map_err(|_| devp2p_enr::EnrError::InvalidPublicKey)?;
            let port = 9000 + u16::from(i);
            let record = Enr::builder().udp(port).build(&key)?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let sessions = Sessions::new(key, record.clone(), SessionConfig::default(), [i; 32]);
            Ok((sessions, record, addr))
        };
        let (mut a, a_record, a_addr) = node(1)?;
        let (mut b, b_record, b_addr) = node(2)?;
        assert!(a.send(now, &b_record, b_addr, ping(1)));
        assert!(b.send(now, &a_record, a_addr, ping(2)));
        // Random packets, WHOAREYOUs, handshakes.
        for _ in 0..3 {
            let from_a: Vec<Transmit> = std::iter::from_fn(|| a.poll_transmit()).collect();
            let from_b: Vec<Transmit> = std::iter::from_fn(|| b.poll_transmit()).collect();
            for t in &from_a {
                b.handle_datagram(now, a_addr, &t.bytes, |_| None);
            }
            for t in &from_b {
                a.handle_datagram(now, b_addr, &t.bytes, |_| None);
            }
        }
        for (sessions, peer) in [
            (&a, (b_record.node_id(), b_addr)),
            (&b, (a_record.node_id(), a_addr)),
        ] {
            let session = sessions.sessions.get(&peer);
            assert!(session.is_some_and(|s| s.opened_by.is_some() && s.other.is_some()));
        }
        while a.poll_event().is_some() || b.poll_event().is_some() {}
        Ok(Crossed {
            a,
            a_record,
            a_addr,
            b,
            b_record,
            b_addr,
        })
    }

    /// Delivers what `from` has to send to `to`.
    fn deliver(from: &mut Sessions, from_addr: SocketAddr, to: &mut Sessions, now: Instant) {
        for t in std::iter::from_fn(|| from.poll_transmit()).collect::<Vec<_>>() {
            to.handle_datagram(now, from_addr, &t.bytes, |_| None);
        }
    }

    /// After handshakes cross, each side writes in the session it started (whatever the order
    /// of the node ids), which is where go-ethereum, keeping the last handshake it stored,
    /// writes and reads; the other session is kept for reading.
    #[test]
    fn a_crossing_leaves_each_side_writing_in_its_own_session() -> Result<(), devp2p_enr::EnrError>
    {
        let now = start();
        let Crossed {
            mut a,
            a_record,
            a_addr,
            mut b,
            b_record,
            b_addr,
        } = crossed(now)?;
        // What A writes, B reads under the other session's key, and tries that key first next.
        assert!(a.send(now, &b_record, b_addr, ping(3)));
        deliver(&mut a, a_addr, &mut b, now);
        assert!(matches!(
            b.poll_event(),
            Some(SessionEvent::Message { message, .. }) if message == ping(3)
        ));
        let at_b = b.sessions.get(&(a_record.node_id(), a_addr));
        assert!(at_b.is_some_and(|s| s.other_first));
        Ok(())
    }

    /// go-ethereum keeps one session per node: when our handshake reached it before it sent
    /// its own, it keeps its own, and cannot read ours. Our reply there gets a WHOAREYOU, and
    /// goes again in a new handshake.
    #[test]
    fn a_reply_the_node_cannot_read_after_a_crossing_goes_again_in_a_handshake()
    -> Result<(), devp2p_enr::EnrError> {
        let now = start();
        let Crossed {
            mut a,
            a_record,
            a_addr,
            mut b,
            b_addr,
            ..
        } = crossed(now)?;
        // B forgets A's session, as go-ethereum would: it reads and writes only its own.
        if let Some(session) = b.sessions.get_mut(&(a_record.node_id(), a_addr)) {
            session.other = None;
        }
        assert!(b.send(now, &a_record, a_addr, ping(4)));
        deliver(&mut b, b_addr, &mut a, now);
        let Some(SessionEvent::Message { node, message }) = a.poll_event() else {
            panic!("A did not read B's PING");
        };
        assert_eq!(message, ping(4));
        let pong = Message::Pong {
            req_id: RequestId::from([4; 8]),
            enr_seq: 1,
            ip: b_addr.ip(),
            port: b_addr.port(),
        };
        assert!(a.reply(now, &node, &pong));
        // The PONG B cannot read, B's WHOAREYOU, and A's handshake carrying the PONG again.
        deliver(&mut a, a_addr, &mut b, now);
        assert_eq!(b.poll_event(), None);
        deliver(&mut b, b_addr, &mut a, now);
        deliver(&mut a, a_addr, &mut b, now);
        let events: Vec<SessionEvent> = std::iter::from_fn(|| b.poll_event()).collect();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, SessionEvent::Message { message, .. } if *message == pong)),
            "{events:?}"
        );
        Ok(())
    }
}
