//! One iterative Kademlia lookup: the candidates closest to a target and what each answered.

use devp2p_enr::{NodeId, NodeRecord, PeerId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fresh,
    Asking,
    Answered,
    Failed,
}

#[derive(Debug)]
struct Candidate {
    distance: [u8; 32],
    node: NodeRecord,
    state: State,
}

/// What a lookup wants next.
#[derive(Debug)]
pub(crate) enum LookupStep {
    /// Ask this node for its neighbours of the target.
    Query(NodeRecord),
    /// Wait for answers in flight.
    Wait,
    /// Finished: the closest nodes asked, closest first, and whether any node answered.
    Done(Vec<NodeRecord>, bool),
}

/// A lookup ends when the `k` closest candidates that have not failed have all answered.
#[derive(Debug)]
pub(crate) struct Lookup {
    target: PeerId,
    target_id: NodeId,
    k: usize,
    capacity: usize,
    /// Sorted by distance to the target, closest first.
    candidates: Vec<Candidate>,
}

impl Lookup {
    pub(crate) fn new(target: PeerId, k: usize, capacity: usize) -> Self {
        Self {
            target,
            target_id: target.node_id(),
            k: k.max(1),
            capacity: capacity.max(k),
            candidates: Vec::new(),
        }
    }

    pub(crate) const fn target(&self) -> PeerId {
        self.target
    }

    /// Adds a node unless it is known; the farthest candidates beyond the capacity are dropped.
    pub(crate) fn add(&mut self, node: NodeRecord) {
        let distance = self.target_id.distance(&node.node_id());
        if let Err(at) = self
            .candidates
            .binary_search_by(|c| c.distance.cmp(&distance))
        {
            self.candidates.insert(
                at,
                Candidate {
                    distance,
                    node,
                    state: State::Fresh,
                },
            );
            self.candidates.truncate(self.capacity);
        }
    }

    pub(crate) fn on_response(&mut self, node: &NodeRecord, found: Vec<NodeRecord>) {
        self.set_state(node, State::Answered);
        for node in found {
            self.add(node);
        }
    }

    pub(crate) fn on_failure(&mut self, node: &NodeRecord) {
        self.set_state(node, State::Failed);
    }

    fn set_state(&mut self, node: &NodeRecord, state: State) {
        if let Some(candidate) = self.candidates.iter_mut().find(|c| c.node.id == node.id) {
            candidate.state = state;
        }
    }

    /// The next step, with at most `parallelism` queries in flight.
    pub(crate) fn next(&mut self, parallelism: usize) -> LookupStep {
        let asking = self
            .candidates
            .iter()
            .filter(|c| c.state == State::Asking)
            .count();
        let mut closest = self
            .candidates
            .iter_mut()
            .filter(|c| c.state != State::Failed)
            .take(self.k);
        if asking < parallelism
            && let Some(candidate) = closest.find(|c| c.state == State::Fresh)
        {
            candidate.state = State::Asking;
            return LookupStep::Query(candidate.node);
        }
        if asking > 0 {
            return LookupStep::Wait;
        }
        // Every node asked, answered or not: one that did not answer us was still reported by
        // a node that did (or came from our table), and packets get lost (go-ethereum's
        // lookups keep such nodes in their result too).
        let asked = self
            .candidates
            .iter()
            .filter(|c| matches!(c.state, State::Answered | State::Failed))
            .take(self.k)
            .map(|c| c.node)
            .collect();
        let any_answer = self.candidates.iter().any(|c| c.state == State::Answered);
        LookupStep::Done(asked, any_answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(b: u8) -> NodeRecord {
        NodeRecord {
            id: PeerId([b; 64]),
            ip: [127, 0, 0, 1].into(),
            tcp_port: 1,
            udp_port: u16::from(b) + 1,
        }
    }

    #[test]
    fn queries_closest_first_and_finishes_when_the_k_closest_answered() {
        let mut lookup = Lookup::new(PeerId([0; 64]), 2, 8);
        for b in 1..=4 {
            lookup.add(node(b));
        }
        let LookupStep::Query(first) = lookup.next(1) else {
            panic!("expected a query");
        };
        assert!(matches!(lookup.next(1), LookupStep::Wait));
        lookup.on_failure(&first);
        let LookupStep::Query(second) = lookup.next(1) else {
            panic!("expected a query");
        };
        lookup.on_response(&second, vec![]);
        let LookupStep::Query(third) = lookup.next(1) else {
            panic!("expected a query");
        };
        lookup.on_response(&third, vec![node(5)]);
        // Node 5 may be closer than the answered ones; then it is asked too.
        let mut steps = 0;
        loop {
            match lookup.next(1) {
                LookupStep::Query(n) => lookup.on_response(&n, vec![]),
                LookupStep::Wait => panic!("nothing in flight"),
                LookupStep::Done(nodes, _) => {
                    // The two closest asked; the one that failed is among them if it is close.
                    assert_eq!(nodes.len(), 2);
                    let mut asked = [first, second, third];
                    asked.sort_by_key(|n| PeerId([0; 64]).node_id().distance(&n.node_id()));
                    assert_eq!(nodes, asked[..2]);
                    break;
                }
            }
            steps += 1;
            assert!(steps < 10);
        }
    }

    #[test]
    fn capacity_keeps_the_closest() {
        let target = PeerId([9; 64]);
        let mut lookup = Lookup::new(target, 1, 3);
        for b in 1..=10 {
            lookup.add(node(b));
        }
        assert_eq!(lookup.candidates.len(), 3);
        let mut all: Vec<NodeRecord> = (1..=10).map(node).collect();
        all.sort_by_key(|n| target.node_id().distance(&n.node_id()));
        let kept: Vec<NodeRecord> = lookup.candidates.iter().map(|c| c.node).collect();
        assert_eq!(kept, all[..3]);
    }
}
