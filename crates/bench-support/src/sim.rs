//! A simulated UDP network for sans-IO protocol cores: virtual time, seeded latency and loss,
//! no sockets. The discovery simulations (tests and benchmarks) run their cores on it.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap},
    net::SocketAddr,
    time::{Duration, Instant},
};

/// What the network needs of a core.
pub trait SimNode {
    /// Hands the core a datagram from `from`.
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]);
    /// Lets time pass for the core.
    fn handle_timeout(&mut self, now: Instant);
    /// The core's next datagram and its destination.
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)>;
    /// The core's next deadline.
    fn poll_timeout(&self) -> Option<Instant>;
}

/// A datagram on its way: arrival, sequence number (ties), recipient index, sender, bytes.
type InFlight = (Instant, u64, usize, SocketAddr, Vec<u8>);

/// Nodes at addresses, datagrams taking 5–35 ms, `loss_percent` of them lost, timers fired in
/// time order. Deterministic for a given seed.
#[derive(Debug)]
pub struct Network<N> {
    nodes: Vec<N>,
    addrs: Vec<SocketAddr>,
    by_addr: HashMap<SocketAddr, usize>,
    now: Instant,
    packets: BinaryHeap<Reverse<InFlight>>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Each node's deadline as last armed: a deadline goes into `timers` once, so the heap
    /// grows with deadline changes, not with datagrams.
    armed: Vec<Option<Instant>>,
    seq: u64,
    rng: u64,
    loss_percent: u64,
    delivered: u64,
    lost: u64,
}

impl<N: SimNode> Network<N> {
    /// An empty network starting at `now`.
    pub fn new(now: Instant, loss_percent: u64, seed: u64) -> Self {
        Self {
            nodes: Vec::new(),
            addrs: Vec::new(),
            by_addr: HashMap::new(),
            now,
            packets: BinaryHeap::new(),
            timers: BinaryHeap::new(),
            armed: Vec::new(),
            seq: 0,
            rng: seed | 1,
            loss_percent,
            delivered: 0,
            lost: 0,
        }
    }

    /// Adds a node at `addr`; returns its index.
    pub fn add(&mut self, addr: SocketAddr, node: N) -> usize {
        let index = self.nodes.len();
        self.by_addr.insert(addr, index);
        self.addrs.push(addr);
        self.nodes.push(node);
        self.armed.push(None);
        self.flush(index);
        index
    }

    /// The virtual time.
    pub const fn now(&self) -> Instant {
        self.now
    }

    /// Datagrams delivered and lost so far.
    pub const fn counts(&self) -> (u64, u64) {
        (self.delivered, self.lost)
    }

    /// The nodes.
    pub fn nodes(&self) -> &[N] {
        &self.nodes
    }

    /// Node `index`, to give it a command; call [`flush`](Self::flush) after.
    pub fn node_mut(&mut self, index: usize) -> Option<&mut N> {
        self.nodes.get_mut(index)
    }

    /// A pseudo-random number (xorshift64*), from the network's seed.
    pub fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Moves node `index`'s datagrams into the network and re-arms its timer.
    pub fn flush(&mut self, index: usize) {
        let (Some(node), Some(&from)) = (self.nodes.get_mut(index), self.addrs.get(index)) else {
            return;
        };
        let mut out = Vec::new();
        while let Some(transmit) = node.poll_transmit() {
            out.push(transmit);
        }
        let deadline = node.poll_timeout();
        for (dst, bytes) in out {
            if self.random() % 100 < self.loss_percent {
                self.lost += 1;
                continue;
            }
            let Some(&to) = self.by_addr.get(&dst) else {
                continue;
            };
            let latency = Duration::from_millis(5 + self.random() % 31);
            self.seq += 1;
            self.packets
                .push(Reverse((self.now + latency, self.seq, to, from, bytes)));
        }
        if let Some(armed) = self.armed.get_mut(index)
            && *armed != deadline
        {
            *armed = deadline;
            if let Some(at) = deadline {
                self.timers.push(Reverse((at, index)));
            }
        }
    }

    /// Processes datagrams and timers in time order up to `until`, calling `after(network,
    /// index)` after each step of node `index`; stops early when it returns false.
    pub fn run_until(&mut self, until: Instant, mut after: impl FnMut(&mut Self, usize) -> bool) {
        loop {
            let next_packet = self.packets.peek().map(|Reverse(p)| p.0);
            let next_timer = self.timers.peek().map(|Reverse(t)| t.0);
            let Some(next) = next_packet.into_iter().chain(next_timer).min() else {
                break;
            };
            if next > until {
                break;
            }
            self.now = self.now.max(next);
            let stepped = if next_packet == Some(next) {
                let Some(Reverse((_, _, to, from, bytes))) = self.packets.pop() else {
                    break;
                };
                self.delivered += 1;
                if let Some(node) = self.nodes.get_mut(to) {
                    node.handle_datagram(self.now, from, &bytes);
                }
                Some(to)
            } else {
                let Some(Reverse((at, index))) = self.timers.pop() else {
                    break;
                };
                // A stale timer: the node's deadline moved since it was armed.
                match self.nodes.get_mut(index) {
                    Some(node) if node.poll_timeout() == Some(at) => {
                        node.handle_timeout(self.now);
                        // A core must move its deadline past a timer it handled; one that does
                        // not would never be handed a timer again (see `armed`).
                        assert!(
                            node.poll_timeout().is_none_or(|next| next > self.now),
                            "node {index} left its deadline due after handle_timeout"
                        );
                        Some(index)
                    }
                    _ => None,
                }
            };
            if let Some(index) = stepped {
                self.flush(index);
                if !after(self, index) {
                    return;
                }
            }
        }
        self.now = self.now.max(until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core that pings a peer every 10 ms or, when `stuck`, never moves its deadline past the
    /// one it was handed.
    struct Node {
        peer: SocketAddr,
        due: Instant,
        stuck: bool,
        fired: u32,
        outbox: Vec<(SocketAddr, Vec<u8>)>,
    }

    impl SimNode for Node {
        fn handle_datagram(&mut self, _now: Instant, _from: SocketAddr, _bytes: &[u8]) {}
        fn handle_timeout(&mut self, now: Instant) {
            if now >= self.due {
                self.fired += 1;
                self.outbox.push((self.peer, vec![1]));
                if !self.stuck {
                    self.due = now + Duration::from_millis(10);
                }
            }
        }
        fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
            self.outbox.pop()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            Some(self.due)
        }
    }

    /// Two nodes pinging each other for a second, the second one `stuck` or not.
    fn run(stuck: bool) -> Network<Node> {
        let start = Instant::now();
        let (a, b) = (
            SocketAddr::from(([10, 0, 0, 1], 1)),
            SocketAddr::from(([10, 0, 0, 2], 1)),
        );
        let mut net = Network::new(start, 0, 7);
        for (me, peer, stuck) in [(a, b, false), (b, a, stuck)] {
            let node = Node {
                peer,
                due: start + Duration::from_millis(10),
                stuck,
                fired: 0,
                outbox: Vec::new(),
            };
            net.add(me, node);
        }
        net.run_until(start + Duration::from_secs(1), |_, _| true);
        net
    }

    #[test]
    fn timers_fire_once_per_deadline_and_the_heap_stays_small() {
        let net = run(false);
        let fired: Vec<u32> = net.nodes().iter().map(|n| n.fired).collect();
        assert_eq!(fired, [100, 100]);
        // Each datagram had its recipient re-polled for its deadline: the heap did not grow.
        assert!(net.counts().0 > 190, "{:?}", net.counts());
        assert!(net.timers.len() <= 2, "{} timers queued", net.timers.len());
    }

    #[test]
    #[should_panic(expected = "left its deadline due")]
    fn a_core_that_does_not_move_its_deadline_stops_the_simulation() {
        run(true);
    }
}
