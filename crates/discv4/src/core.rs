//! The discv4 protocol as a sans-IO state machine.
//!
//! Method groups, as in quinn-proto: getters; inputs (`handle_datagram`, `handle_timeout`);
//! commands (`add_bootnode`, `lookup`, `ping`, `request_enr`); outputs, to poll after each input
//! or command in this order: `poll_transmit`, `poll_event`, then `poll_timeout`.

use core::{net::SocketAddr, time::Duration};
use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    net::IpAddr,
    time::Instant,
};

use devp2p_enr::{Builder, Enr, EnrError, NodeId, NodeRecord, PeerId, RawRecord, SigningKey};
use devp2p_kbucket::{
    AddressVotes, Deadlines, InsertResult, IpRateLimit, Lookup, LookupStep, Table, port_allowed,
    relay_allowed,
};
use rand::{Rng, RngExt, SeedableRng, rngs::StdRng};

use crate::{
    Config,
    wire::{
        self, Endpoint, EnrRequest, EnrResponse, FindNode, MAX_NEIGHBOURS, Message, Neighbours,
        PING_VERSION, Packet, Ping, Pong,
    },
};

/// What the table keeps about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Identity and endpoint (the UDP address it answered from).
    pub record: NodeRecord,
    /// The ENR sequence number from its last Ping or Pong.
    pub enr_seq: Option<u64>,
    /// Its record, once fetched with ENRRequest; fetched again when a revalidation Pong shows
    /// a higher sequence number. Kept when the node is seen at another endpoint, so it may
    /// name another address than `record` until the node's sequence number rises.
    pub enr: Option<Enr>,
    /// Answers to our Pings, divided by three on each revalidation it misses; it leaves the
    /// table at zero.
    pub liveness: u32,
    /// FINDNODE queries in a row it failed (each after all its attempts); at
    /// [`MAX_FIND_FAILURES`] it leaves the table, unless its bucket is nearly empty.
    pub find_failures: u8,
}

/// Failed FINDNODE queries in a row after which a node leaves the table, if its bucket holds at
/// least a quarter of its size (go-ethereum's rule): a node that answers Pings but never
/// FINDNODE is no use to lookups, and would cost each lookup that reaches it its retries.
pub const MAX_FIND_FAILURES: u8 = 5;

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub dst: SocketAddr,
    /// The packet.
    pub bytes: Vec<u8>,
}

/// Names a lookup started with [`Discv4::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// Names a request started with [`Discv4::ping`] or [`Discv4::request_enr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Why a request failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No answer after every attempt.
    #[error("no answer")]
    Timeout,
    /// Too many requests in flight (see [`Config::max_queries`] and [`Config::max_pings`]).
    #[error("too many requests in flight")]
    Busy,
    /// The ENR received is not a valid record of the node: its signature does not verify, or
    /// its public key is another's.
    #[error("the record is not a valid record of the node")]
    WrongRecord,
}

/// A Pong that answered [`Discv4::ping`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PongInfo {
    /// The node's ENR sequence number, if it sent one.
    pub enr_seq: Option<u64>,
    /// Our address as the node saw it.
    pub to: Endpoint,
    /// Time from the last Ping sent to the Pong.
    pub rtt: Duration,
}

/// What the core reports.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A node proved its endpoint and entered the table.
    NodeAdded(NodeRecord),
    /// A node in the table changed its endpoint or record.
    NodeUpdated(NodeRecord),
    /// A node left the table (it stopped answering).
    NodeRemoved(NodeRecord),
    /// A lookup ended: the closest nodes to `target` it asked, closest first. Nodes whose
    /// answers did not reach us are included (as in go-ethereum): other nodes reported them, and
    /// packets get lost.
    LookupFinished {
        /// The lookup.
        id: LookupId,
        /// Its target.
        target: PeerId,
        /// At most a bucket's worth of nodes.
        nodes: Vec<NodeRecord>,
    },
    /// The answer to [`Discv4::ping`].
    PingResult {
        /// The request.
        id: RequestId,
        /// The node pinged.
        node: NodeRecord,
        /// Its Pong, or why there was none.
        result: Result<PongInfo, RequestError>,
    },
    /// The answer to [`Discv4::request_enr`].
    EnrResult {
        /// The request.
        id: RequestId,
        /// The node asked.
        node: NodeRecord,
        /// Its record (verified, and the node's own), or why there was none.
        result: Result<Enr, RequestError>,
    },
    /// Other nodes agree on a new external address for us (from the `to` of their Pongs). With
    /// [`Config::update_endpoint`], our endpoint (Pings, [`Discv4::local_record`]) and ENR
    /// ([`Discv4::local_enr`]) take it once [`Config::min_update_votes`] nodes agree.
    ExternalAddress(SocketAddr),
}

impl Event {
    /// Whether this answers a request or a lookup.
    const fn is_answer(&self) -> bool {
        matches!(
            self,
            Self::LookupFinished { .. } | Self::PingResult { .. } | Self::EnrResult { .. }
        )
    }
}

/// Who waits for a Pong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiter {
    User(RequestId),
    Revalidate,
    Query(u64),
    /// A bootnode: it enters the table on answering.
    Bond,
    /// A node that pinged us while unbonded: it enters the table on answering. Anyone can send
    /// such Pings, from fresh keys and spoofed sources, so this Ping is sent once, never
    /// retried, and these Pings hold at most a share of [`Config::max_pings`] (see
    /// [`PING_BACK_SHARE`]).
    PingBack,
    /// A node that asked us something (FINDNODE, ENRRequest) before proving its address: it
    /// may hold a bond with us that we lost (go-ethereum keeps its bonds for 24 h across
    /// restarts, and asks without pinging first). Its Pong proves the address, and the held
    /// requests are answered. Limited as [`Waiter::PingBack`]; the node does not enter the
    /// table from it alone, as its TCP port is unknown.
    Proof,
}

/// Pings that only complete the bond of a node that pinged us ([`Waiter::PingBack`]) may hold
/// at most `max_pings / PING_BACK_SHARE` places (at least one), so our own requests always
/// find room.
const PING_BACK_SHARE: usize = 4;

#[derive(Debug)]
struct PendingPing {
    /// The hash of every attempt: a Pong to an earlier one that arrives late still counts.
    hashes: Vec<[u8; 32]>,
    node: NodeRecord,
    addr: SocketAddr,
    sent: Instant,
    deadline: Instant,
    attempts: u8,
    waiters: Vec<Waiter>,
    /// Requests the node made before this Ping proved its address, answered when it does.
    held: Vec<Held>,
}

/// A request from a node that our Ping has not proven yet. reth asks for our record as soon
/// as our Pong to its Ping arrives, before its Pong to our Ping back reaches us: dropped, it
/// would not be made again until our sequence number changed.
#[derive(Debug)]
enum Held {
    FindNode(FindNode),
    EnrRequest([u8; 32]),
}

/// Requests held per pending Ping.
const MAX_HELD: usize = 4;

impl PendingPing {
    /// Whether the Ping only answers a node that pinged us or asked us something (nobody of
    /// ours waits for it).
    fn is_ping_back(&self) -> bool {
        self.waiters
            .iter()
            .all(|waiter| matches!(waiter, Waiter::PingBack | Waiter::Proof))
    }
}

#[derive(Debug)]
enum QueryKind {
    FindNode {
        lookup: LookupId,
        target: PeerId,
        found: Vec<NodeRecord>,
        /// A Neighbours packet came, even an empty one (a node that knows nobody yet, or whose
        /// entries were all refused): the node answered, so it is not asked again.
        replied: bool,
    },
    Enr {
        /// The caller's request; `None` for a record the table fetches again by itself.
        id: Option<RequestId>,
        hash: [u8; 32],
    },
}

/// What a query waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Our Ping is out; waiting for the node's Pong.
    Pong,
    /// The node answered; waiting for its Ping (its side of the bond) until the deadline.
    Ping,
    /// FINDNODE or ENRRequest sent; waiting for the answer until the deadline.
    Reply,
    /// Bonded, but another FINDNODE to the node is waiting for its answer: Neighbours name no
    /// request, so a second one would take answers meant for the first. Sent when that one
    /// ends (or at the deadline, when it is checked again).
    Queued,
}

#[derive(Debug)]
struct Query {
    node: NodeRecord,
    addr: SocketAddr,
    kind: QueryKind,
    stage: Stage,
    deadline: Instant,
    attempts: u8,
}

impl Query {
    /// Whether this is a FINDNODE to the same node, at the same address, as `other`.
    fn is_find_node_to(&self, other: &Self) -> bool {
        matches!(self.kind, QueryKind::FindNode { .. })
            && self.node.id == other.node.id
            && self.addr == other.addr
    }
}

#[derive(Debug, Default)]
struct Bond {
    /// When the node last answered our Ping from this IP (its endpoint proof).
    pong_received: Option<Instant>,
    /// When we last answered its Ping (our endpoint proof on its side).
    ping_received: Option<Instant>,
    /// When it was last used, as a count of uses of all bonds (`bond_clock`), for eviction.
    touched: u64,
}

/// How long a query waits for the bond its Ping makes: every attempt of that Ping, and one
/// more timeout for the node's Ping back.
fn bond_timeout(config: &Config) -> Duration {
    config.request_timeout * u32::from(config.request_attempts) + config.request_timeout
}

/// The discv4 node: table, bonds, lookups and requests, driven by datagrams and time.
///
/// ```
/// use std::time::Instant;
/// use devp2p_discv4::{Config, Discv4, Endpoint, SigningKey};
///
/// let now = Instant::now();
/// let endpoint = |port| Endpoint { ip: [127, 0, 0, 1].into(), udp_port: port, tcp_port: port };
/// let key = |b| SigningKey::from_slice(&[b; 32]).unwrap();
/// let mut a = Discv4::new(key(1), endpoint(30301), Config::default(), now, 1_700_000_000, [1; 32])?;
/// let mut b = Discv4::new(key(2), endpoint(30302), Config::default(), now, 1_700_000_000, [2; 32])?;
///
/// // A pings B; each datagram is handed to the other side as if sent over UDP.
/// a.ping(now, b.local_record());
/// for _ in 0..4 {
///     while let Some(t) = a.poll_transmit() { b.handle_datagram(now, "127.0.0.1:30301".parse()?, &t.bytes); }
///     while let Some(t) = b.poll_transmit() { a.handle_datagram(now, "127.0.0.1:30302".parse()?, &t.bytes); }
/// }
/// // Both proved their endpoints: each has the other in its table.
/// assert_eq!(a.table().len(), 1);
/// assert_eq!(b.table().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Discv4 {
    config: Config,
    key: SigningKey,
    id: PeerId,
    node_id: NodeId,
    endpoint: Endpoint,
    enr: Enr,
    /// `now` at construction and the Unix time then: packet expirations are Unix seconds.
    epoch: (Instant, u64),
    rng: StdRng,
    table: Table<NodeInfo>,
    bootnodes: Vec<NodeRecord>,
    bonds: HashMap<(NodeId, IpAddr), Bond>,
    bond_clock: u64,
    // Ordered maps and sets: the order timeouts fire in, and the query an answer is matched
    // with, must not depend on hashing, so that runs (simulations above all) are reproducible.
    /// Keyed by node id and address: a ping to a node at one address is not answered by its
    /// Pong from another, nor joined by a ping meant for another.
    pings: BTreeMap<(NodeId, SocketAddr), PendingPing>,
    queries: BTreeMap<u64, Query>,
    /// Every ping's and every query's deadline with its key, soonest first: the next timeout
    /// is found without a look at each one in flight, which the driver asks for after every
    /// datagram.
    ping_deadlines: Deadlines<(NodeId, SocketAddr)>,
    query_deadlines: Deadlines<u64>,
    /// How many of `pings` are ping-backs ([`PendingPing::is_ping_back`]): their share is
    /// checked for every Ping a node we do not know sends, so it is counted as they change.
    ping_backs: usize,
    /// Each lookup with its target (FINDNODE names a public key, the table works on its hash).
    lookups: BTreeMap<LookupId, (PeerId, Lookup<NodeRecord>)>,
    next_id: u64,
    packets_sent: u64,
    recent: HashSet<[u8; 32]>,
    recent_order: VecDeque<[u8; 32]>,
    rate: IpRateLimit,
    votes: AddressVotes,
    /// The same reports, counted for [`Config::update_endpoint`] with its own quorum.
    update_votes: AddressVotes,
    next_refresh: Option<Instant>,
    /// The lookup of our own id of the latest refresh.
    refresh_lookup: Option<LookupId>,
    next_revalidate: Option<Instant>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

/// Where a node of the table answers: its record's IP and UDP port.
fn udp_addr(record: &NodeRecord) -> SocketAddr {
    SocketAddr::new(record.ip, record.udp_port)
}

impl Discv4 {
    /// A node with `key` that announces `endpoint` (in its Pings and its ENR; an unspecified IP
    /// is left out of the ENR; the record cannot exceed its size limit, but the error is passed on
    /// rather than hidden). `now` and `unix_time` (seconds) name the same moment: expirations
    /// are computed from them, and the record's first sequence number is `unix_time` in
    /// milliseconds (as go-ethereum's for a node without a database), so a restart does not set
    /// it back. `seed` seeds the randomness (refresh targets, revalidation order), a ChaCha
    /// generator: its output goes out in FINDNODE targets, so it must come from a cryptographic
    /// source (the driver takes it from the OS), never from the key or the time.
    pub fn new(
        key: SigningKey,
        endpoint: Endpoint,
        config: Config,
        now: Instant,
        unix_time: u64,
        seed: [u8; 32],
    ) -> Result<Self, EnrError> {
        let id = PeerId::from_public_key(&key.verifying_key().into());
        let node_id = id.node_id();
        // go-ethereum's first sequence number for a node without a database: the time in
        // milliseconds, so that a restart never sets it back (peers holding a record of ours
        // with a higher one would keep it, stale, and never fetch the new one).
        let first_seq = unix_time.saturating_mul(1000).max(1);
        let enr = {
            let mut builder = Builder::new();
            builder.seq(first_seq);
            set_endpoint_fields(&mut builder, &endpoint);
            builder.build(&key)?
        };
        let rate = IpRateLimit::new(
            config.rate_limit_per_second,
            config.rate_limit_burst,
            config.rate_limit_ips,
        );
        // A refresh interval too long to add (Duration::MAX: never) means no refresh.
        let first_refresh = now.checked_add(config.refresh_interval);
        Ok(Self {
            table: Table::new(node_id, config.table.clone()),
            votes: AddressVotes::new(config.address_votes, config.min_address_votes),
            update_votes: AddressVotes::new(config.address_votes, config.min_update_votes),
            next_revalidate: now.checked_add(config.revalidate_interval),
            config,
            key,
            id,
            node_id,
            endpoint,
            enr,
            epoch: (now, unix_time),
            rng: StdRng::from_seed(seed),
            bootnodes: Vec::new(),
            bonds: HashMap::new(),
            bond_clock: 0,
            pings: BTreeMap::new(),
            queries: BTreeMap::new(),
            ping_deadlines: Deadlines::default(),
            query_deadlines: Deadlines::default(),
            ping_backs: 0,
            lookups: BTreeMap::new(),
            next_id: 0,
            packets_sent: 0,
            recent: HashSet::new(),
            recent_order: VecDeque::new(),
            rate,
            // Without bootnodes too (a bootnode of its own, or a node that others find):
            // the first refresh comes one interval after the start, as later ones do.
            next_refresh: first_refresh,
            refresh_lookup: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    // ----- Getters -----

    /// Our public key.
    pub const fn id(&self) -> &PeerId {
        &self.id
    }

    /// Our node id (keccak256 of the public key).
    pub const fn node_id(&self) -> &NodeId {
        &self.node_id
    }

    /// Our enode address as announced.
    pub const fn local_record(&self) -> NodeRecord {
        NodeRecord {
            id: self.id,
            ip: self.endpoint.ip,
            tcp_port: self.endpoint.tcp_port,
            udp_port: self.endpoint.udp_port,
        }
    }

    /// Our node record, served to ENRRequests.
    pub const fn local_enr(&self) -> &Enr {
        &self.enr
    }

    /// The routing table: nodes that proved their endpoint.
    pub const fn table(&self) -> &Table<NodeInfo> {
        &self.table
    }

    /// Our external address as other nodes see it, once enough of them agree.
    pub const fn external_address(&self) -> Option<SocketAddr> {
        self.votes.predicted()
    }

    // ----- Commands -----

    /// Sets the wall-clock time at `now` to `unix_time` (seconds since the Unix epoch), from
    /// which packet expirations are written and checked. A driver calls it before each call that
    /// takes `now`, so that a clock stepped by NTP, or a suspend (which a monotonic clock does
    /// not count), does not leave our expirations off; without it, the time passed to
    /// [`Discv4::new`] is counted on by `now`.
    pub fn set_unix_time(&mut self, now: Instant, unix_time: u64) {
        self.epoch = (now, unix_time);
    }

    /// Announces a new endpoint (after a change of address): later Pings carry it, and the ENR
    /// is re-signed with a higher sequence number if it changed. A predicted external address
    /// does this by itself with [`Config::update_endpoint`].
    pub fn set_endpoint(&mut self, endpoint: Endpoint) -> Result<(), EnrError> {
        self.enr = self
            .enr
            .update(&self.key, |builder| set_endpoint_fields(builder, &endpoint))?;
        self.endpoint = endpoint;
        Ok(())
    }

    /// Changes our record other than its endpoint: `change` gets a builder holding its pairs,
    /// to set an `eth` entry with our fork id, say (go-ethereum dials a node it found only once
    /// its record has one). The endpoint's keys (`ip`, `udp`, `tcp` and their IPv6 forms) are
    /// then set back from the endpoint, and stay so when it changes. If anything changed, the
    /// record is re-signed with the next sequence number, which our Pings and Pongs announce,
    /// so that nodes holding the old one fetch it again. Fails, changing nothing, when the
    /// record would pass 300 bytes ([`EnrError::TooLarge`]), a value is not one RLP item or an
    /// address key's not of its form ([`EnrError::InvalidValue`]), or the sequence number is
    /// at its maximum ([`EnrError::SeqExhausted`]).
    pub fn update_enr(&mut self, change: impl FnOnce(&mut Builder)) -> Result<(), EnrError> {
        let endpoint = self.endpoint;
        self.enr = self.enr.update(&self.key, |builder| {
            change(builder);
            set_endpoint_fields(builder, &endpoint);
        })?;
        Ok(())
    }

    /// Adds a bootnode: it is pinged now (and enters the table when it answers), seeds lookups
    /// while the table is empty, and a table refresh starts right away.
    pub fn add_bootnode(&mut self, now: Instant, node: NodeRecord) {
        let node = canonical(node);
        if node.id == self.id {
            return;
        }
        if !self.bootnodes.contains(&node) {
            self.bootnodes.push(node);
        }
        self.send_ping(now, node, Waiter::Bond);
        if self.next_refresh.is_none_or(|at| at > now) {
            self.next_refresh = Some(now);
        }
    }

    /// Starts an iterative lookup of the nodes closest to `target`; it ends with
    /// [`Event::LookupFinished`]. `None` when [`Config::max_lookups`] are already running.
    pub fn lookup(&mut self, now: Instant, target: PeerId) -> Option<LookupId> {
        if self.lookups.len() >= self.config.max_lookups {
            return None;
        }
        let id = LookupId(self.fresh_id());
        let target_id = target.node_id();
        let mut lookup = Lookup::new(
            target_id,
            self.config.table.bucket_size,
            self.config.lookup_candidates,
        );
        let seeds: Vec<NodeRecord> = self
            .table
            .closest(&target_id, self.config.table.bucket_size)
            .into_iter()
            .map(|entry| entry.value.record)
            .collect();
        let seeds = if seeds.is_empty() {
            self.bootnodes.clone()
        } else {
            seeds
        };
        for seed in seeds {
            lookup.add(seed.node_id(), seed);
        }
        self.lookups.insert(id, (target, lookup));
        self.advance_lookup(now, id);
        Some(id)
    }

    /// Pings `node`; the answer comes as [`Event::PingResult`]. A node that answers enters the
    /// table.
    pub fn ping(&mut self, now: Instant, node: NodeRecord) -> RequestId {
        let node = canonical(node);
        let id = RequestId(self.fresh_id());
        if !self.send_ping(now, node, Waiter::User(id)) {
            self.push_event(Event::PingResult {
                id,
                node,
                result: Err(RequestError::Busy),
            });
        }
        id
    }

    /// Asks `node` for its record (EIP-868), bonding first if needed; the answer comes as
    /// [`Event::EnrResult`].
    pub fn request_enr(&mut self, now: Instant, node: NodeRecord) -> RequestId {
        let node = canonical(node);
        let id = RequestId(self.fresh_id());
        let kind = QueryKind::Enr {
            id: Some(id),
            hash: [0; 32],
        };
        if !self.start_query(now, node, kind) {
            self.push_event(Event::EnrResult {
                id,
                node,
                result: Err(RequestError::Busy),
            });
        }
        id
    }

    // ----- Inputs -----

    /// Handles a datagram received from `from`. Invalid, expired, replayed, rate-limited and
    /// unsolicited packets are dropped.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let from = SocketAddr::new(from.ip().to_canonical(), from.port());
        // Loopback is exempt: every node of a local devnet shares 127.0.0.1, and no remote
        // host can send from it (the kernel drops such packets arriving from outside).
        if !from.ip().is_loopback() && !self.rate.admit(now, from.ip()) {
            return;
        }
        // A replayed request is dropped before its public key is recovered. (A packet that
        // merely starts with a recent hash is dropped too: it is not the packet that hash was
        // made of.) Answers are not checked: one counts only for a request of ours, and a
        // node's two answers to two identical requests made within a second are identical
        // packets (signatures are deterministic, expirations whole seconds), both wanted.
        let request = bytes
            .get(wire::PACKET_TYPE_OFFSET)
            .is_some_and(|&kind| wire::is_request(kind));
        if request
            && bytes
                .first_chunk::<32>()
                .is_some_and(|hash| self.recent.contains(hash))
        {
            return;
        }
        let Ok(packet) = wire::decode(bytes) else {
            return;
        };
        if packet.sender == self.id || (request && !self.remember_hash(packet.hash)) {
            return;
        }
        let expiration = match &packet.message {
            Message::Ping(p) => Some(p.expiration),
            Message::Pong(p) => Some(p.expiration),
            Message::FindNode(p) => Some(p.expiration),
            Message::Neighbours(p) => Some(p.expiration),
            Message::EnrRequest(p) => Some(p.expiration),
            Message::EnrResponse(_) => None,
        };
        // A signed 64-bit Unix time: values from 2^63 up are negative, so expired.
        if expiration
            .is_some_and(|exp| i64::try_from(exp).map_or(true, |exp| exp < self.unix_time(now)))
        {
            return;
        }
        let Packet {
            hash,
            sender,
            message,
        } = packet;
        match message {
            Message::Ping(ping) => self.on_ping(now, from, sender, hash, &ping),
            Message::Pong(pong) => self.on_pong(now, from, sender, &pong),
            Message::FindNode(find) => self.on_find_node(now, from, sender, &find),
            Message::Neighbours(neighbours) => self.on_neighbours(now, from, sender, neighbours),
            Message::EnrRequest(_) => self.on_enr_request(now, from, sender, hash),
            Message::EnrResponse(response) => self.on_enr_response(from, sender, response),
        }
    }

    /// Handles the passing of time: retries, timeouts, table refresh and revalidation.
    pub fn handle_timeout(&mut self, now: Instant) {
        // One at a time: handling one timeout can move another due one later (a FINDNODE
        // sent when the one before it ends) or end it; those wait for their new deadline.
        while let Some(key) = self.ping_deadlines.pop_due(now) {
            self.on_ping_timeout(now, key);
        }
        while let Some(id) = self.query_deadlines.pop_due(now) {
            self.on_query_timeout(now, id);
        }
        if self.next_refresh.is_some_and(|at| at <= now) {
            self.next_refresh = now.checked_add(self.config.refresh_interval);
            if self.table.is_empty() {
                for node in self.bootnodes.clone() {
                    self.send_ping(now, node, Waiter::Bond);
                }
            }
            self.refresh_lookup = self.lookup(now, self.id);
            let mut target = [0u8; 64];
            self.rng.fill_bytes(&mut target);
            self.lookup(now, PeerId(target));
        }
        if self.next_revalidate.is_some_and(|at| at <= now) {
            let jitter = self
                .rng
                .random_range(0..=self.config.revalidate_interval.as_millis() as u64);
            self.next_revalidate = now.checked_add(
                self.config.revalidate_interval / 2 + Duration::from_millis(jitter / 2),
            );
            let pick = self.rng.random::<u32>() as usize;
            if let Some(entry) = self.table.revalidation_candidate(pick) {
                let node = entry.value.record;
                self.send_ping(now, node, Waiter::Revalidate);
            }
        }
    }

    // ----- Outputs -----

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let pings = self.ping_deadlines.next();
        let queries = self.query_deadlines.next();
        pings
            .into_iter()
            .chain(queries)
            .chain(self.next_refresh)
            .chain(self.next_revalidate)
            .min()
    }

    // ----- Packet handlers -----

    fn on_ping(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sender: PeerId,
        hash: [u8; 32],
        ping: &Ping,
    ) {
        // The Pong goes to the packet's source, whatever `from` claims.
        let pong = Message::Pong(Pong {
            to: Endpoint {
                ip: from.ip(),
                udp_port: from.port(),
                tcp_port: ping.from.tcp_port,
            },
            ping_hash: hash,
            expiration: self.expiration(now),
            enr_seq: Some(self.enr.seq()),
        });
        self.send(from, &pong);
        let node_id = sender.node_id();
        let bond = self.bond_mut(now, node_id, from.ip());
        bond.ping_received = Some(now);
        let proven = bond
            .pong_received
            .is_some_and(|at| now.saturating_duration_since(at) < self.config.bond_expiration);
        let node = NodeRecord {
            id: sender,
            ip: from.ip(),
            udp_port: from.port(),
            tcp_port: ping.from.tcp_port,
        };
        if proven {
            // Seen, but not an answer: its liveness counts answers to our Pings only.
            self.update_seen(now, node, ping.enr_seq, false);
        } else {
            // Refused when ping-backs hold their whole share: the node got its Pong, and it
            // bonds when it pings again or when we ping it for our own reasons.
            self.send_ping(now, node, Waiter::PingBack);
        }
        // Queries that waited for this node's side of the bond go ahead.
        let ready: Vec<u64> = self
            .queries
            .iter()
            .filter(|(_, q)| q.stage == Stage::Ping && q.node.id == sender && q.addr == from)
            .map(|(id, _)| *id)
            .collect();
        for id in ready {
            self.send_query(now, id);
        }
    }

    fn on_pong(&mut self, now: Instant, from: SocketAddr, sender: PeerId, pong: &Pong) {
        let node_id = sender.node_id();
        let key = (node_id, from);
        let matches = self
            .pings
            .get(&key)
            .is_some_and(|p| p.hashes.contains(&pong.ping_hash));
        if !matches {
            return;
        }
        let Some(ping) = self.remove_ping(&key) else {
            return;
        };
        self.bond_mut(now, node_id, from.ip()).pong_received = Some(now);
        // A Ping that only proved an address for held requests leaves the table alone, but
        // for counting the node as seen where the table has it: it told us no TCP port, and
        // a node seen elsewhere updates its entry by its own Ping, which does.
        let enters_table = ping.waiters.iter().any(|waiter| *waiter != Waiter::Proof)
            || self
                .table
                .get(&node_id)
                .is_some_and(|entry| udp_addr(&entry.value.record) == from);
        // One vote per source IP (IPv6: per /48), not per key: keys cost nothing.
        let seen_as = SocketAddr::new(pong.to.ip, pong.to.udp_port);
        if let Some(addr) = self.votes.vote(from.ip(), seen_as) {
            self.push_event(Event::ExternalAddress(addr));
        }
        if self.config.update_endpoint
            && let Some(addr) = self.update_votes.vote(from.ip(), seen_as)
        {
            self.announce(addr);
        }
        let node = NodeRecord {
            udp_port: from.port(),
            ip: from.ip(),
            ..ping.node
        };
        if enters_table {
            self.update_seen(now, node, pong.enr_seq, true);
        }
        let info = PongInfo {
            enr_seq: pong.enr_seq,
            to: pong.to,
            rtt: now.saturating_duration_since(ping.sent),
        };
        for waiter in ping.waiters {
            match waiter {
                Waiter::User(id) => self.push_event(Event::PingResult {
                    id,
                    node,
                    result: Ok(info.clone()),
                }),
                Waiter::Query(id) => self.on_query_bonded(now, id),
                Waiter::Revalidate => self.refresh_record(now, node_id, pong.enr_seq),
                Waiter::Bond | Waiter::PingBack | Waiter::Proof => {}
            }
        }
        for request in ping.held {
            match request {
                Held::FindNode(find) => self.on_find_node(now, from, sender, &find),
                Held::EnrRequest(hash) => self.on_enr_request(now, from, sender, hash),
            }
        }
    }

    /// A node whose record we fetched answered a revalidation with a higher sequence number:
    /// its record changed, so it is fetched again (go-ethereum's revalidation does the same).
    fn refresh_record(&mut self, now: Instant, node_id: NodeId, seq: Option<u64>) {
        let Some(entry) = self.table.get(&node_id) else {
            return;
        };
        let newer = seq.is_some_and(|seq| {
            entry
                .value
                .enr
                .as_ref()
                .is_some_and(|known| known.seq() < seq)
        });
        if newer {
            let node = entry.value.record;
            let kind = QueryKind::Enr {
                id: None,
                hash: [0; 32],
            };
            self.start_query(now, node, kind);
        }
    }

    /// Makes `addr`, a new predicted external address of our endpoint's family, our
    /// endpoint's IP and UDP port, keeping the TCP port. When they are that already, the record
    /// stays as it is (same sequence number). Re-signing fails only past the record's size
    /// limit or its last sequence number, which our own small record does not reach; should it
    /// fail, the old endpoint and record, still valid, stay.
    fn announce(&mut self, addr: SocketAddr) {
        // One address per family in our record: an IPv6 prediction for an IPv4 endpoint (a
        // dual-stack socket hearing both) would drop the IPv4 address, and back. An endpoint
        // without an address yet (a socket bound to `[::]`) takes the first of either family.
        let family = |ip: IpAddr| ip.to_canonical().is_ipv4();
        if !self.endpoint.ip.is_unspecified() && family(addr.ip()) != family(self.endpoint.ip) {
            return;
        }
        let endpoint = Endpoint {
            ip: addr.ip(),
            udp_port: addr.port(),
            tcp_port: self.endpoint.tcp_port,
        };
        // `set_endpoint` changes nothing when it fails.
        let _ = self.set_endpoint(endpoint);
    }

    fn on_find_node(&mut self, now: Instant, from: SocketAddr, sender: PeerId, find: &FindNode) {
        // Amplification defence: only a node that proved this very IP gets an answer.
        if !self.is_proven(now, sender.node_id(), from.ip()) {
            self.hold(now, from, sender, Held::FindNode(find.clone()));
            return;
        }
        let target = find.target.node_id();
        let nodes: Vec<NodeRecord> = self
            .table
            .closest(&target, self.config.table.bucket_size)
            .into_iter()
            .map(|entry| entry.value.record)
            // A LAN or loopback node is not passed on to a requester outside that network
            // (as go-ethereum).
            .filter(|node| node.id != sender && relay_allowed(from.ip(), node.ip))
            .collect();
        let expiration = self.expiration(now);
        // At least one packet, empty if we know nobody (as go-ethereum).
        let mut chunks: Vec<&[NodeRecord]> = nodes.chunks(MAX_NEIGHBOURS).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        for chunk in chunks {
            let message = Message::Neighbours(Neighbours {
                nodes: chunk.to_vec(),
                expiration,
            });
            self.send(from, &message);
        }
    }

    fn on_neighbours(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sender: PeerId,
        neighbours: Neighbours,
    ) {
        let Some((&id, _)) = self.queries.iter().find(|(_, q)| {
            q.stage == Stage::Reply
                && q.node.id == sender
                && q.addr == from
                && matches!(q.kind, QueryKind::FindNode { .. })
        }) else {
            // Unsolicited: nothing from it is kept.
            return;
        };
        let bucket_size = self.config.table.bucket_size;
        let own = self.id;
        let Some(query) = self.queries.get_mut(&id) else {
            return;
        };
        let QueryKind::FindNode { found, replied, .. } = &mut query.kind else {
            return;
        };
        *replied = true;
        // A packet with fewer than MAX_NEIGHBOURS nodes is usually the last, but it may have
        // overtaken a full one: wait a moment longer for that, not the whole timeout.
        let short_packet = neighbours.nodes.len() < MAX_NEIGHBOURS;
        for node in neighbours.nodes {
            let usable =
                node.id != own && port_allowed(node.udp_port) && relay_allowed(from.ip(), node.ip);
            if usable
                && found.len() < bucket_size
                && !found.iter().any(|n| n.id == node.id)
                // A node id that is no public key is no node (go-ethereum skips it too).
                && node.id.to_public_key().is_some()
            {
                found.push(node);
            }
        }
        if found.len() >= bucket_size {
            self.finish_query(now, id, true);
        } else if short_packet {
            let soon = query.deadline.min(now + self.config.request_timeout / 10);
            self.query_deadlines
                .reschedule(id, &mut query.deadline, soon);
        }
    }

    fn on_enr_request(&mut self, now: Instant, from: SocketAddr, sender: PeerId, hash: [u8; 32]) {
        if !self.is_proven(now, sender.node_id(), from.ip()) {
            self.hold(now, from, sender, Held::EnrRequest(hash));
            return;
        }
        let response = Message::EnrResponse(EnrResponse {
            request_hash: hash,
            record: RawRecord::from(&self.enr),
        });
        self.send(from, &response);
    }

    fn on_enr_response(&mut self, from: SocketAddr, sender: PeerId, response: EnrResponse) {
        let Some((&id, _)) = self.queries.iter().find(|(_, q)| {
            q.stage == Stage::Reply
                && q.node.id == sender
                && q.addr == from
                && matches!(q.kind, QueryKind::Enr { hash, .. } if hash == response.request_hash)
        }) else {
            return;
        };
        let Some(query) = self.queries.remove(&id) else {
            return;
        };
        self.query_deadlines.remove(query.deadline, id);
        let QueryKind::Enr { id: request, .. } = query.kind else {
            return;
        };
        // Verified only now that it answers a request: a signature check is not paid for
        // whatever any key sends.
        let result = match response.record.verify() {
            Ok(record) if record.peer_id() == sender => Ok(record),
            _ => Err(RequestError::WrongRecord),
        };
        if let Ok(record) = &result {
            // The table keeps a record only if it is not older than the one it has, and names
            // no address the node may not point us to (as go-ethereum's RequestENR); the
            // caller gets what the node sent either way.
            let relayable = [record.ip().map(IpAddr::V4), record.ip6().map(IpAddr::V6)]
                .into_iter()
                .flatten()
                .all(|ip| relay_allowed(from.ip(), ip));
            let node_id = sender.node_id();
            if let Some(entry) = self.table.get_mut(&node_id)
                && relayable
                && entry
                    .value
                    .enr
                    .as_ref()
                    .is_none_or(|known| known.seq() <= record.seq())
            {
                entry.value.enr_seq = Some(record.seq());
                entry.value.enr = Some(record.clone());
                let node = entry.value.record;
                self.push_event(Event::NodeUpdated(node));
            }
        }
        if let Some(id) = request {
            self.push_event(Event::EnrResult {
                id,
                node: query.node,
                result,
            });
        }
    }

    // ----- Pings and bonds -----

    /// Sends a Ping to `node` for `waiter`, or joins the one in flight to the same address.
    /// False when too many are (for a [`Waiter::PingBack`], when ping-backs hold their share
    /// of them).
    fn send_ping(&mut self, now: Instant, node: NodeRecord, waiter: Waiter) -> bool {
        let node_id = node.node_id();
        let addr = udp_addr(&node);
        if let Some(pending) = self.pings.get_mut(&(node_id, addr)) {
            if !pending.waiters.contains(&waiter) {
                let was_ping_back = pending.is_ping_back();
                pending.waiters.push(waiter);
                if was_ping_back && !pending.is_ping_back() {
                    self.ping_backs = self.ping_backs.saturating_sub(1);
                }
            }
            return true;
        }
        if self.pings.len() >= self.config.max_pings {
            return false;
        }
        let ping_back = matches!(waiter, Waiter::PingBack | Waiter::Proof);
        if ping_back && self.ping_backs >= (self.config.max_pings / PING_BACK_SHARE).max(1) {
            return false;
        }
        self.ping_backs += usize::from(ping_back);
        let hash = self.transmit_ping(now, addr);
        let deadline = now + self.config.request_timeout;
        self.ping_deadlines.insert(deadline, (node_id, addr));
        self.pings.insert(
            (node_id, addr),
            PendingPing {
                hashes: vec![hash],
                node,
                addr,
                sent: now,
                deadline,
                attempts: 1,
                waiters: vec![waiter],
                held: Vec::new(),
            },
        );
        true
    }

    /// Takes the Ping to `key` out of `pings` and out of what is counted of them.
    fn remove_ping(&mut self, key: &(NodeId, SocketAddr)) -> Option<PendingPing> {
        let ping = self.pings.remove(key)?;
        self.ping_deadlines.remove(ping.deadline, *key);
        self.ping_backs = self
            .ping_backs
            .saturating_sub(usize::from(ping.is_ping_back()));
        Some(ping)
    }

    /// Holds `request` from a node at `from` that has not proven that address until its Pong
    /// to our Ping does, pinging it first when we are not already ([`Waiter::Proof`]). The
    /// request is dropped when that Ping cannot be sent, or the node has made [`MAX_HELD`]
    /// such requests already.
    fn hold(&mut self, now: Instant, from: SocketAddr, sender: PeerId, request: Held) {
        let node_id = sender.node_id();
        if !self.pings.contains_key(&(node_id, from)) {
            // The table's record when it is the node's at this address, for its TCP port.
            let node = self
                .table
                .get(&node_id)
                .map(|entry| entry.value.record)
                .filter(|record| udp_addr(record) == from)
                .unwrap_or(NodeRecord {
                    id: sender,
                    ip: from.ip(),
                    udp_port: from.port(),
                    tcp_port: 0,
                });
            if !self.send_ping(now, node, Waiter::Proof) {
                return;
            }
        }
        if let Some(ping) = self.pings.get_mut(&(node_id, from))
            && ping.held.len() < MAX_HELD
        {
            ping.held.push(request);
        }
    }

    fn transmit_ping(&mut self, now: Instant, addr: SocketAddr) -> [u8; 32] {
        let ping = Message::Ping(Ping {
            version: PING_VERSION,
            from: self.endpoint,
            to: Endpoint {
                ip: addr.ip(),
                udp_port: addr.port(),
                tcp_port: 0,
            },
            expiration: self.expiration(now),
            enr_seq: Some(self.enr.seq()),
        });
        self.send(addr, &ping)
    }

    fn on_ping_timeout(&mut self, now: Instant, key: (NodeId, SocketAddr)) {
        let node_id = key.0;
        let Some(ping) = self.pings.get_mut(&key) else {
            return;
        };
        // A ping-back is not retried: one Pong and one Ping per Ping received, whoever sent it.
        if ping.attempts < self.config.request_attempts && !ping.is_ping_back() {
            ping.attempts += 1;
            let deadline = now + self.config.request_timeout;
            self.ping_deadlines
                .reschedule(key, &mut ping.deadline, deadline);
            ping.sent = now;
            let addr = ping.addr;
            let hash = self.transmit_ping(now, addr);
            if let Some(ping) = self.pings.get_mut(&key) {
                ping.hashes.push(hash);
            }
            return;
        }
        let Some(ping) = self.remove_ping(&key) else {
            return;
        };
        for waiter in ping.waiters {
            match waiter {
                Waiter::User(id) => self.push_event(Event::PingResult {
                    id,
                    node: ping.node,
                    result: Err(RequestError::Timeout),
                }),
                Waiter::Query(id) => self.finish_query(now, id, false),
                Waiter::Revalidate => {
                    // A node with a record of answering survives a few misses (as go-ethereum):
                    // each miss divides its count by three, and it leaves at zero. Only a miss
                    // at the address the table has counts: the node may have answered at a new
                    // one meanwhile.
                    let here = |r: &NodeRecord| udp_addr(r) == key.1;
                    let keep = self.table.get_mut(&node_id).is_none_or(|entry| {
                        if here(&entry.value.record) {
                            entry.value.liveness /= 3;
                        }
                        entry.value.liveness > 0
                    });
                    if !keep {
                        self.evict(node_id);
                    }
                }
                Waiter::Bond | Waiter::PingBack | Waiter::Proof => {}
            }
        }
    }

    /// Counts a FINDNODE query to `node_id` at `addr` that ended, answered or not; evicts the
    /// node at [`MAX_FIND_FAILURES`] failures in a row. Only queries to the address the table
    /// has count.
    fn count_find(&mut self, node_id: NodeId, addr: SocketAddr, success: bool) {
        let quarter = self.config.table.bucket_size / 4;
        let distance = self.table.local_id().log2_distance(&node_id);
        let crowded = self.table.bucket_len(distance) >= quarter;
        let Some(entry) = self.table.get_mut(&node_id) else {
            return;
        };
        if udp_addr(&entry.value.record) != addr {
            return;
        }
        if success {
            entry.value.find_failures = 0;
            return;
        }
        entry.value.find_failures = entry.value.find_failures.saturating_add(1);
        if entry.value.find_failures >= MAX_FIND_FAILURES && crowded {
            self.evict(node_id);
        }
    }

    /// Removes `node_id` from the table; a replacement may take its place.
    fn evict(&mut self, node_id: NodeId) {
        if let Some(removed) = self.table.remove(&node_id) {
            self.push_event(Event::NodeRemoved(removed.entry.value.record));
            if let Some(promoted) = removed.promoted.and_then(|id| self.table.get(&id)) {
                let record = promoted.value.record;
                self.push_event(Event::NodeAdded(record));
            }
        }
    }

    /// Records that `node` was seen at its endpoint (`answered`: it answered a Ping of ours):
    /// into the table, or refreshed there.
    fn update_seen(
        &mut self,
        now: Instant,
        node: NodeRecord,
        enr_seq: Option<u64>,
        answered: bool,
    ) {
        let node_id = node.node_id();
        if let Some(entry) = self.table.get_mut(&node_id) {
            let liveness = entry.value.liveness.saturating_add(u32::from(answered));
            let enr_seq = enr_seq.or(entry.value.enr_seq);
            if entry.value.record == node {
                entry.value.liveness = liveness;
                entry.value.enr_seq = enr_seq;
            } else {
                // The node's record stays: a new endpoint (or another TCP port than a
                // Neighbours entry gave) does not make its signed record any less its own.
                let info = NodeInfo {
                    record: node,
                    enr_seq,
                    enr: entry.value.enr.clone(),
                    liveness,
                    find_failures: entry.value.find_failures,
                };
                // Seen at an address the IP limits keep out of the table: the entry keeps its
                // old endpoint, and is not counted as seen there.
                if self.table.insert(node_id, Some(node.ip), info, now) != InsertResult::Updated {
                    return;
                }
                self.push_event(Event::NodeUpdated(node));
            }
            self.table.mark_seen(&node_id, now);
            return;
        }
        let info = NodeInfo {
            record: node,
            enr_seq,
            enr: None,
            liveness: 1,
            find_failures: 0,
        };
        if self.table.insert(node_id, Some(node.ip), info, now) == InsertResult::Inserted {
            self.push_event(Event::NodeAdded(node));
        }
    }

    fn is_proven(&self, now: Instant, node_id: NodeId, ip: IpAddr) -> bool {
        self.bonds
            .get(&(node_id, ip))
            .and_then(|bond| bond.pong_received)
            .is_some_and(|at| now.saturating_duration_since(at) < self.config.bond_expiration)
    }

    fn has_pinged_us(&self, now: Instant, node_id: NodeId, ip: IpAddr) -> bool {
        self.bonds
            .get(&(node_id, ip))
            .and_then(|bond| bond.ping_received)
            .is_some_and(|at| now.saturating_duration_since(at) < self.config.bond_expiration)
    }

    fn bond_mut(&mut self, now: Instant, node_id: NodeId, ip: IpAddr) -> &mut Bond {
        self.bond_clock += 1;
        let clock = self.bond_clock;
        if !self.bonds.contains_key(&(node_id, ip)) && self.bonds.len() >= self.config.max_bonds {
            // Make room in one pass, so eviction stays cheap: the eighth of the bonds that
            // matter least. First those without a live endpoint proof (a Ping from a fresh key
            // makes one), then proven ones of nodes not in our table, then the rest, each group
            // least recently touched first. Answering our Ping back costs a flood one packet,
            // but it cannot put the flooding keys into the table (bounded, and limited per
            // IP), so the proofs of the nodes we keep are the last to go.
            let expiration = self.config.bond_expiration;
            let table = &self.table;
            let rank = |(id, ip): &(NodeId, IpAddr), b: &Bond| {
                let proven = b
                    .pong_received
                    .is_some_and(|at| now.saturating_duration_since(at) < expiration);
                let kept = table
                    .get(id)
                    .is_some_and(|entry| entry.value.record.ip == *ip);
                (u8::from(proven) + u8::from(proven && kept), b.touched)
            };
            let mut ranks: Vec<(u8, u64)> = self.bonds.iter().map(|(k, b)| rank(k, b)).collect();
            let cut = ranks.len() / 8;
            if cut < ranks.len() {
                let (_, threshold, _) = ranks.select_nth_unstable(cut);
                let threshold = *threshold;
                self.bonds.retain(|k, b| rank(k, b) > threshold);
            }
        }
        let bond = self.bonds.entry((node_id, ip)).or_default();
        bond.touched = clock;
        bond
    }

    // ----- Queries (FINDNODE, ENRRequest) -----

    fn start_query(&mut self, now: Instant, node: NodeRecord, kind: QueryKind) -> bool {
        if self.queries.len() >= self.config.max_queries {
            return false;
        }
        let id = self.fresh_id();
        let addr = udp_addr(&node);
        let bonded = self.has_pinged_us(now, node.node_id(), node.ip);
        let deadline = now + bond_timeout(&self.config);
        self.query_deadlines.insert(deadline, id);
        self.queries.insert(
            id,
            Query {
                node,
                addr,
                kind,
                stage: Stage::Pong,
                deadline,
                attempts: 1,
            },
        );
        if bonded {
            self.send_query(now, id);
        } else if !self.send_ping(now, node, Waiter::Query(id)) {
            if let Some(query) = self.queries.remove(&id) {
                self.query_deadlines.remove(query.deadline, id);
            }
            return false;
        }
        true
    }

    fn on_query_bonded(&mut self, now: Instant, id: u64) {
        let Some(query) = self.queries.get_mut(&id) else {
            return;
        };
        if query.stage != Stage::Pong {
            return;
        }
        let (node_id, ip) = (query.node.node_id(), query.node.ip);
        // A retry's Ping went because the node ignored us, perhaps having forgotten our bond (a
        // restart): an older Ping of its own proves nothing then, so the request waits for the
        // ping-back, which the node sends after its Pong.
        if query.attempts == 1 && self.has_pinged_us(now, node_id, ip) {
            self.send_query(now, id);
        } else if let Some(query) = self.queries.get_mut(&id) {
            query.stage = Stage::Ping;
            let deadline = now + self.config.bond_wait;
            self.query_deadlines
                .reschedule(id, &mut query.deadline, deadline);
        }
    }

    fn send_query(&mut self, now: Instant, id: u64) {
        let expiration = self.expiration(now);
        let waits_for_another = self.queries.get(&id).is_some_and(|query| {
            matches!(query.kind, QueryKind::FindNode { .. })
                && self.queries.iter().any(|(other, q)| {
                    *other != id && q.stage == Stage::Reply && q.is_find_node_to(query)
                })
        });
        let Some(query) = self.queries.get_mut(&id) else {
            return;
        };
        let deadline = now + self.config.request_timeout;
        self.query_deadlines
            .reschedule(id, &mut query.deadline, deadline);
        if waits_for_another {
            query.stage = Stage::Queued;
            return;
        }
        query.stage = Stage::Reply;
        let addr = query.addr;
        match &mut query.kind {
            QueryKind::FindNode {
                target,
                found,
                replied,
                ..
            } => {
                found.clear();
                *replied = false;
                let message = Message::FindNode(FindNode {
                    target: *target,
                    expiration,
                });
                self.send(addr, &message);
            }
            QueryKind::Enr { .. } => {
                let message = Message::EnrRequest(EnrRequest { expiration });
                let hash = self.send(addr, &message);
                if let Some(Query {
                    kind: QueryKind::Enr { hash: pending, .. },
                    ..
                }) = self.queries.get_mut(&id)
                {
                    *pending = hash;
                }
            }
        }
    }

    fn on_query_timeout(&mut self, now: Instant, id: u64) {
        let Some(query) = self.queries.get_mut(&id) else {
            return;
        };
        match query.stage {
            // The ping's own retries decide; this deadline only bounds the whole wait.
            Stage::Pong => self.finish_query(now, id, false),
            // The node did not ping us: maybe it does not (ethereumjs), try anyway. A queued
            // FINDNODE checks again whether the one before it is still waiting.
            Stage::Ping | Stage::Queued => self.send_query(now, id),
            Stage::Reply => {
                let replied = matches!(&query.kind, QueryKind::FindNode { replied: true, .. });
                if replied {
                    self.finish_query(now, id, true);
                } else if query.attempts < self.config.request_attempts {
                    // Perhaps our Pong was lost and the node ignored us: ping again, which makes
                    // it ping us back and complete the bond.
                    query.attempts += 1;
                    query.stage = Stage::Pong;
                    let deadline = now + bond_timeout(&self.config);
                    self.query_deadlines
                        .reschedule(id, &mut query.deadline, deadline);
                    let node = query.node;
                    if !self.send_ping(now, node, Waiter::Query(id)) {
                        self.finish_query(now, id, false);
                    }
                } else {
                    self.finish_query(now, id, false);
                }
            }
        }
    }

    fn finish_query(&mut self, now: Instant, id: u64, success: bool) {
        let Some(query) = self.queries.remove(&id) else {
            return;
        };
        self.query_deadlines.remove(query.deadline, id);
        // The next FINDNODE queued behind this one goes out.
        if let Some(next) = self
            .queries
            .iter()
            .filter(|(_, q)| q.stage == Stage::Queued && q.is_find_node_to(&query))
            .map(|(next, _)| *next)
            .min()
        {
            self.send_query(now, next);
        }
        match query.kind {
            QueryKind::FindNode { lookup, found, .. } => {
                let node_id = query.node.node_id();
                self.count_find(node_id, query.addr, success);
                if let Some((_, state)) = self.lookups.get_mut(&lookup) {
                    if success {
                        state.on_response(&node_id, found.into_iter().map(|n| (n.node_id(), n)));
                    } else {
                        state.on_failure(&node_id);
                    }
                    self.advance_lookup(now, lookup);
                }
            }
            QueryKind::Enr { id: Some(id), .. } => self.push_event(Event::EnrResult {
                id,
                node: query.node,
                result: Err(RequestError::Timeout),
            }),
            QueryKind::Enr { id: None, .. } => {}
        }
    }

    fn advance_lookup(&mut self, now: Instant, id: LookupId) {
        let parallelism = self.config.lookup_parallelism;
        loop {
            let Some((target, lookup)) = self.lookups.get_mut(&id) else {
                return;
            };
            let target = *target;
            match lookup.next(parallelism) {
                LookupStep::Query(node) => {
                    let kind = QueryKind::FindNode {
                        lookup: id,
                        target,
                        found: Vec::new(),
                        replied: false,
                    };
                    if !self.start_query(now, node, kind)
                        && let Some((_, lookup)) = self.lookups.get_mut(&id)
                    {
                        lookup.on_failure(&node.node_id());
                    }
                }
                LookupStep::Wait => return,
                LookupStep::Done(nodes, any_answer) => {
                    self.lookups.remove(&id);
                    // Nobody answered our refresh (bootstrapping failed, or we were cut off):
                    // try again soon rather than in half an hour.
                    if self.refresh_lookup == Some(id) && !any_answer && !self.bootnodes.is_empty()
                    {
                        self.next_refresh = Some(now + self.config.bootstrap_retry);
                    }
                    self.push_event(Event::LookupFinished { id, target, nodes });
                    return;
                }
            }
        }
    }

    // ----- Helpers -----

    fn send(&mut self, dst: SocketAddr, message: &Message) -> [u8; 32] {
        // Every packet distinct, retries included (see `Message::encode_salted`).
        self.packets_sent += 1;
        let (bytes, hash) = message.encode_salted(&self.key, &self.packets_sent.to_be_bytes());
        self.transmits.push_back(Transmit { dst, bytes });
        hash
    }

    /// Queues `event`. When the queue is full, the oldest event that is not an answer goes, or
    /// else `event` itself unless it is an answer: each request and lookup gets exactly one
    /// answer, which its caller waits for, so answers are bounded by the requests made.
    fn push_event(&mut self, event: Event) {
        if self.events.len() >= self.config.max_events {
            match self.events.iter().position(|queued| !queued.is_answer()) {
                Some(oldest) => {
                    self.events.remove(oldest);
                }
                None if !event.is_answer() => return,
                None => {}
            }
        }
        self.events.push_back(event);
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn unix_time(&self, now: Instant) -> i64 {
        let elapsed = now.saturating_duration_since(self.epoch.0).as_secs();
        i64::try_from(self.epoch.1.saturating_add(elapsed)).unwrap_or(i64::MAX)
    }

    fn expiration(&self, now: Instant) -> u64 {
        let unix = u64::try_from(self.unix_time(now)).unwrap_or(0);
        unix.saturating_add(self.config.packet_expiration.as_secs())
    }

    /// Remembers a packet hash; false if it was seen recently (a replay).
    fn remember_hash(&mut self, hash: [u8; 32]) -> bool {
        if !self.recent.insert(hash) {
            return false;
        }
        self.recent_order.push_back(hash);
        while self.recent_order.len() > self.config.dedup_capacity {
            if let Some(old) = self.recent_order.pop_front() {
                self.recent.remove(&old);
            }
        }
        true
    }
}

/// Sets `endpoint` in a record being built or updated: `ip` (left out when unspecified), `udp`,
/// and `tcp` when there is one; no other address keys.
fn set_endpoint_fields(builder: &mut Builder, endpoint: &Endpoint) {
    builder
        .remove("ip")
        .remove("ip6")
        .remove("udp")
        .remove("udp6")
        .remove("tcp")
        .remove("tcp6");
    if !endpoint.ip.is_unspecified() {
        builder.ip(endpoint.ip);
    }
    builder.udp(endpoint.udp_port);
    if endpoint.tcp_port != 0 {
        builder.tcp(endpoint.tcp_port);
    }
}

/// `node` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it stands
/// for, as datagrams from it are seen (sources are made canonical): a node given in mapped form
/// would otherwise never match its own Pongs.
fn canonical(node: NodeRecord) -> NodeRecord {
    NodeRecord {
        ip: node.ip.to_canonical(),
        ..node
    }
}
