//! The 500-node discv4 network of the simulation test and the benchmark: cores on the
//! workspace's simulated network (virtual time, 5–35 ms latency, optional loss).
// Test support: a panic here is a failed test. The virtual clock starts at the real now.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods
)]

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use devp2p_bench_support::sim::{Network, SimNode};
use devp2p_discv4::{Config, Discv4, Endpoint, Event, LookupId, NodeRecord, PeerId, SigningKey};

/// A core and the lookups it finished.
pub struct Node {
    pub core: Discv4,
    finished: Vec<(LookupId, Vec<NodeRecord>)>,
}

impl Node {
    fn drain(&mut self) {
        while let Some(event) = self.core.poll_event() {
            if let Event::LookupFinished { id, nodes, .. } = event {
                self.finished.push((id, nodes));
            }
        }
    }
}

impl SimNode for Node {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.core.handle_datagram(now, from, bytes);
        self.drain();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
        self.drain();
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.core.poll_transmit().map(|t| (t.dst, t.bytes))
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }
}

pub struct Sim {
    pub net: Network<Node>,
}

impl Sim {
    /// `count` nodes, each on its own /24 (11.x.y.1:30303), dropping `loss_percent` of datagrams.
    pub fn new(count: usize, loss_percent: u64, seed: u64) -> Self {
        let now = Instant::now();
        let mut net = Network::new(now, loss_percent, seed);
        for i in 0..count {
            let mut secret = [0u8; 32];
            secret[..8]
                .copy_from_slice(&(seed.wrapping_mul(1_000_003) + i as u64 + 1).to_be_bytes());
            secret[31] = 1;
            let key = SigningKey::from_slice(&secret).unwrap();
            let addr = SocketAddr::from(([11, (i >> 8) as u8, i as u8, 1], 30303));
            let endpoint = Endpoint {
                ip: addr.ip(),
                udp_port: 30303,
                tcp_port: 30303,
            };
            let core = Discv4::new(key, endpoint, Config::default(), now, 1_700_000_000, {
                let mut bytes = [0u8; 32];
                bytes[..8].copy_from_slice(&(seed ^ i as u64).to_le_bytes());
                bytes
            })
            .unwrap();
            net.add(
                addr,
                Node {
                    core,
                    finished: Vec::new(),
                },
            );
        }
        Self { net }
    }

    pub fn random_target(&mut self) -> PeerId {
        let mut target = [0u8; 64];
        for chunk in target.chunks_mut(8) {
            chunk.copy_from_slice(&self.net.random().to_be_bytes());
        }
        PeerId(target)
    }

    pub fn node(&self, i: usize) -> &Discv4 {
        &self.net.nodes()[i].core
    }

    pub fn delivered(&self) -> u64 {
        self.net.counts().0
    }

    pub fn lost(&self) -> u64 {
        self.net.counts().1
    }

    /// Every node but the first bootstraps from the first, 10 ms apart; then the network runs
    /// for `settle` more.
    pub fn bootstrap(&mut self, settle: Duration) {
        let boot = self.node(0).local_record();
        for i in 1..self.net.nodes().len() {
            let now = self.net.now();
            self.net.node_mut(i).unwrap().core.add_bootnode(now, boot);
            self.net.flush(i);
            self.net
                .run_until(now + Duration::from_millis(10), |_, _| true);
        }
        let until = self.net.now() + settle;
        self.net.run_until(until, |_, _| true);
    }

    /// A lookup from node `i`, run to its end (at most a minute of virtual time).
    pub fn lookup(&mut self, i: usize, target: PeerId) -> Vec<NodeRecord> {
        let now = self.net.now();
        let node = self.net.node_mut(i).unwrap();
        let id = node.core.lookup(now, target).expect("lookup slots free");
        node.drain();
        self.net.flush(i);
        let done = |net: &mut Network<Node>| net.nodes()[i].finished.iter().any(|(f, _)| *f == id);
        if !done(&mut self.net) {
            self.net
                .run_until(now + Duration::from_secs(60), |net, _| !done(net));
        }
        let node = self.net.node_mut(i).unwrap();
        let at = node
            .finished
            .iter()
            .position(|(f, _)| *f == id)
            .expect("lookup finished within a minute");
        node.finished.remove(at).1
    }

    /// The `k` node ids closest to `target` among all nodes but `except`.
    pub fn true_closest(&self, target: &PeerId, k: usize, except: usize) -> Vec<PeerId> {
        let target = target.node_id();
        let mut ids: Vec<PeerId> = (0..self.net.nodes().len())
            .filter(|i| *i != except)
            .map(|i| *self.node(i).id())
            .collect();
        ids.sort_by_key(|id| target.distance(&id.node_id()));
        ids.truncate(k);
        ids
    }
}
