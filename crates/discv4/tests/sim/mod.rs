//! A deterministic in-process network of discv4 cores: virtual time, no sockets. Datagrams take
//! 5–35 ms and may be lost; timers fire in order. Shared by the simulation test and the
//! benchmark.
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
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    net::SocketAddr,
    time::{Duration, Instant},
};

use devp2p_discv4::{Config, Discv4, Endpoint, Event, LookupId, NodeRecord, PeerId, SigningKey};

/// A datagram on its way: arrival time, sequence number (ties), recipient index, sender, bytes.
type InFlight = (Instant, u64, usize, SocketAddr, Vec<u8>);

pub struct Sim {
    pub nodes: Vec<Discv4>,
    addrs: Vec<SocketAddr>,
    by_addr: HashMap<SocketAddr, usize>,
    pub now: Instant,
    packets: BinaryHeap<Reverse<InFlight>>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    seq: u64,
    rng: u64,
    loss_percent: u64,
    pub delivered: u64,
    pub lost: u64,
    finished: HashMap<(usize, LookupId), Vec<NodeRecord>>,
}

impl Sim {
    /// `count` nodes, each on its own /24 (11.x.y.1:30303), dropping `loss_percent` of datagrams.
    pub fn new(count: usize, loss_percent: u64, seed: u64) -> Self {
        let now = Instant::now();
        let mut sim = Self {
            nodes: Vec::with_capacity(count),
            addrs: Vec::with_capacity(count),
            by_addr: HashMap::new(),
            now,
            packets: BinaryHeap::new(),
            timers: BinaryHeap::new(),
            seq: 0,
            rng: seed | 1,
            loss_percent,
            delivered: 0,
            lost: 0,
            finished: HashMap::new(),
        };
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
            let node = Discv4::new(
                key,
                endpoint,
                Config::default(),
                now,
                1_700_000_000,
                seed ^ i as u64,
            )
            .unwrap();
            sim.by_addr.insert(addr, i);
            sim.addrs.push(addr);
            sim.nodes.push(node);
            sim.flush(i);
        }
        sim
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn random_target(&mut self) -> PeerId {
        let mut target = [0u8; 64];
        for chunk in target.chunks_mut(8) {
            chunk.copy_from_slice(&self.random().to_be_bytes());
        }
        PeerId(target)
    }

    pub fn record(&self, i: usize) -> NodeRecord {
        self.nodes[i].local_record()
    }

    /// Moves node `i`'s datagrams into the network, its events into `finished`, and re-arms its
    /// timer.
    fn flush(&mut self, i: usize) {
        let from = self.addrs[i];
        while let Some(transmit) = self.nodes[i].poll_transmit() {
            if self.random() % 100 < self.loss_percent {
                self.lost += 1;
                continue;
            }
            let Some(&to) = self.by_addr.get(&transmit.dst) else {
                continue;
            };
            let latency = Duration::from_millis(5 + self.random() % 31);
            self.seq += 1;
            self.packets.push(Reverse((
                self.now + latency,
                self.seq,
                to,
                from,
                transmit.bytes,
            )));
        }
        while let Some(event) = self.nodes[i].poll_event() {
            if let Event::LookupFinished { id, nodes, .. } = event {
                self.finished.insert((i, id), nodes);
            }
        }
        if let Some(at) = self.nodes[i].poll_timeout() {
            self.timers.push(Reverse((at, i)));
        }
    }

    /// Processes packets and timers in time order up to `until`.
    pub fn run_until(&mut self, until: Instant) {
        self.run_while(until, |_| true);
    }

    /// Like [`run_until`](Self::run_until), stopping early once `go_on` says so (checked after
    /// each step).
    pub fn run_while(&mut self, until: Instant, mut go_on: impl FnMut(&Self) -> bool) {
        loop {
            let next_packet = self.packets.peek().map(|Reverse(p)| p.0);
            let next_timer = self.timers.peek().map(|Reverse(t)| t.0);
            let next = match (next_packet, next_timer) {
                (Some(p), Some(t)) => p.min(t),
                (Some(p), None) => p,
                (None, Some(t)) => t,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            if next_packet == Some(next) {
                let Reverse((_, _, to, from, bytes)) = self.packets.pop().unwrap();
                self.delivered += 1;
                self.nodes[to].handle_datagram(self.now, from, &bytes);
                self.flush(to);
            } else {
                let Reverse((at, i)) = self.timers.pop().unwrap();
                // A stale timer: the node's deadline moved since it was armed.
                if self.nodes[i].poll_timeout() == Some(at) {
                    self.nodes[i].handle_timeout(self.now);
                    self.flush(i);
                }
            }
            if !go_on(self) {
                return;
            }
        }
        self.now = self.now.max(until);
    }

    /// Every node but the first bootstraps from the first, 10 ms apart; then the network runs
    /// for `settle` more.
    pub fn bootstrap(&mut self, settle: Duration) {
        let boot = self.record(0);
        for i in 1..self.nodes.len() {
            let now = self.now;
            self.nodes[i].add_bootnode(now, boot);
            self.flush(i);
            self.run_until(now + Duration::from_millis(10));
        }
        let until = self.now + settle;
        self.run_until(until);
    }

    /// A lookup from node `i`, run to its end (at most a minute of virtual time).
    pub fn lookup(&mut self, i: usize, target: PeerId) -> Vec<NodeRecord> {
        let now = self.now;
        let id = self.nodes[i]
            .lookup(now, target)
            .expect("lookup slots free");
        self.flush(i);
        self.run_while(now + Duration::from_secs(60), |sim| {
            !sim.finished.contains_key(&(i, id))
        });
        self.finished
            .remove(&(i, id))
            .expect("lookup finished within a minute")
    }

    /// The `k` node ids closest to `target` among all nodes but `except`.
    pub fn true_closest(&self, target: &PeerId, k: usize, except: usize) -> Vec<PeerId> {
        let target = target.node_id();
        let mut ids: Vec<PeerId> = (0..self.nodes.len())
            .filter(|i| *i != except)
            .map(|i| *self.nodes[i].id())
            .collect();
        ids.sort_by_key(|id| target.distance(&id.node_id()));
        ids.truncate(k);
        ids
    }
}
