//! Settings of the discv4 core.

use core::time::Duration;

/// Settings of [`Discv4`](crate::Discv4). Every field has a default, stated on it.
#[derive(Debug, Clone)]
pub struct Config {
    /// The Kademlia table: 16 entries per bucket, 10 replacements, IP limits of 2 per /24 in a
    /// bucket and 10 in the table with LAN and loopback addresses exempt.
    pub table: devp2p_kbucket::Config,
    /// Time allowed for an answer (Pong, Neighbours, ENRResponse). Default 500 ms (go-ethereum's
    /// `respTimeout`).
    pub request_timeout: Duration,
    /// How often a request is sent before the node counts as unreachable. Default 3.
    pub request_attempts: u8,
    /// After a node answered our Ping, how long we wait for its own Ping (which makes us answer
    /// with the Pong that bonds us on its side) before sending FINDNODE or ENRRequest anyway.
    /// Default 500 ms.
    pub bond_wait: Duration,
    /// How long an endpoint proof stays valid. Default 24 h (discv4.md).
    pub bond_expiration: Duration,
    /// Expiration written into sent packets, from now. Default 20 s (go-ethereum).
    pub packet_expiration: Duration,
    /// Queries a lookup keeps in flight (Kademlia's α). Default 3.
    pub lookup_parallelism: usize,
    /// Nodes a lookup remembers, closest first; farther ones are dropped. Default 64.
    pub lookup_candidates: usize,
    /// Lookups running at once; more are refused. Default 16.
    pub max_lookups: usize,
    /// Queries (FINDNODE or ENRRequest with their bonding) in flight at once; more are refused
    /// (a lookup then tries other nodes). Default 256.
    pub max_queries: usize,
    /// Pings awaiting a Pong at once; more are dropped. At most a quarter of them may be the
    /// Pings that answer a node pinging us while unbonded (sent once, never retried), so a flood
    /// of Pings from fresh keys leaves room for our own requests. Default 1024.
    pub max_pings: usize,
    /// Endpoint proofs remembered. When full, an eighth goes: proofs not live first, then
    /// those of nodes not in the table, each oldest first. Default 8192.
    pub max_bonds: usize,
    /// Interval of the random-walk table refresh: a lookup of our own id (which makes our
    /// neighbourhood know us) and one of a random target (which fills the far buckets). The
    /// first runs as soon as a bootnode is added, or one interval after the start for a node
    /// without bootnodes. Default 30 min (go-ethereum).
    pub refresh_interval: Duration,
    /// When nobody answered a refresh's lookup (bootstrapping failed), the next refresh starts
    /// after this (pinging the bootnodes again if the table is empty). Default 10 s.
    pub bootstrap_retry: Duration,
    /// Interval at which the least recently seen node of a random bucket is pinged; it leaves
    /// the table when it does not answer. Default 5 s; one too long to add to the time
    /// (`Duration::MAX`) turns revalidation off.
    pub revalidate_interval: Duration,
    /// Packets accepted per second from one IP address. Default 50. Loopback sources are not
    /// limited: the nodes of a local devnet share one address.
    pub rate_limit_per_second: u32,
    /// Packets accepted from one IP address in a burst. Default 200.
    pub rate_limit_burst: u32,
    /// IP addresses the rate limiter tracks. Default 4096. When a new one finds them all
    /// tracked, the fuller half of their buckets is forgotten (see `IpRateLimit`).
    pub rate_limit_ips: usize,
    /// Hashes of recently received packets, to drop replays. Default 2048.
    pub dedup_capacity: usize,
    /// Distinct reporters whose Pong `to` fields are remembered for predicting our external
    /// address; a reporter is the Pong's source IP (IPv6: its /48), so one host with many keys
    /// votes once. Default 32.
    pub address_votes: usize,
    /// Votes an address needs (and it must lead all others) to be our predicted external
    /// address. Default 3.
    pub min_address_votes: usize,
    /// Capacity of the event queue; older events are dropped when it is full, but never the
    /// answer to a request or lookup (each has one, which its caller waits for). Default 1024.
    pub max_events: usize,
    /// Whether an external address that [`min_update_votes`](Self::min_update_votes)
    /// reporters agree on, of the announced endpoint's address family, and different from its
    /// IP or UDP port, is announced: later Pings carry it and the ENR is re-signed with a
    /// higher sequence number (the TCP port is kept), as go-ethereum's `LocalNode` does with
    /// its endpoint predictions. A node behind a NAT then tells others where they reach it.
    /// Turn it off when the address is configured (a fixed public IP). Default true.
    pub update_endpoint: bool,
    /// Distinct reporters (as for [`address_votes`](Self::address_votes)) that must agree,
    /// and lead all others, before [`update_endpoint`](Self::update_endpoint) changes our
    /// endpoint: more than an [`Event::ExternalAddress`](crate::Event::ExternalAddress) needs,
    /// since a few hosts that agree on a lie would otherwise make us announce any address.
    /// Default 10 (go-ethereum's `iptrackMinStatements`).
    pub min_update_votes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            table: devp2p_kbucket::Config::default(),
            request_timeout: Duration::from_millis(500),
            request_attempts: 3,
            bond_wait: Duration::from_millis(500),
            bond_expiration: Duration::from_secs(24 * 60 * 60),
            packet_expiration: Duration::from_secs(20),
            lookup_parallelism: 3,
            lookup_candidates: 64,
            max_lookups: 16,
            max_queries: 256,
            max_pings: 1024,
            max_bonds: 8192,
            refresh_interval: Duration::from_secs(30 * 60),
            bootstrap_retry: Duration::from_secs(10),
            revalidate_interval: Duration::from_secs(5),
            rate_limit_per_second: 50,
            rate_limit_burst: 200,
            rate_limit_ips: 4096,
            dedup_capacity: 2048,
            address_votes: 32,
            min_address_votes: 3,
            max_events: 1024,
            update_endpoint: true,
            min_update_votes: 10,
        }
    }
}
