//! One iterative Kademlia lookup: the candidates closest to a target and what each answered.
//! Protocol-neutral: discv4 asks with FINDNODE of a public key, discv5 with FINDNODE of log
//! distances; both feed the answers back here.

use devp2p_enr::NodeId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fresh,
    Asking,
    Answered,
    Failed,
}

#[derive(Debug)]
struct Candidate<N> {
    distance: [u8; 32],
    id: NodeId,
    node: N,
    state: State,
}

/// What a [`Lookup`] wants next.
#[derive(Debug, PartialEq, Eq)]
pub enum LookupStep<N> {
    /// Ask this node for its nodes closest to the target.
    Query(N),
    /// Wait for answers in flight.
    Wait,
    /// Finished: the closest nodes asked (answered or not), closest first, and whether any
    /// node answered at all.
    Done(Vec<N>, bool),
}

/// An iterative lookup. It asks the closest candidates it knows, at most `parallelism` at a
/// time, and ends when the `k` closest candidates that have not failed have all answered.
///
/// The result holds every candidate asked among the `k` closest, answered or not: a node whose
/// answer was lost was still reported by a node that did answer (go-ethereum's lookups keep such
/// nodes too), so under packet loss the result stays the true neighbourhood.
///
/// ```
/// use devp2p_kbucket::{Lookup, LookupStep, NodeId};
///
/// let mut lookup = Lookup::new(NodeId([0; 32]), 16, 64);
/// lookup.add(NodeId([1; 32]), "seed");
/// let LookupStep::Query(node) = lookup.next(3) else { unreachable!() };
/// lookup.on_response(&NodeId([1; 32]), [(NodeId([2; 32]), "found")]);
/// assert_eq!(lookup.next(3), LookupStep::Query("found"));
/// lookup.on_failure(&NodeId([2; 32]));
/// assert_eq!(lookup.next(3), LookupStep::Done(vec!["seed", "found"], true));
/// # let _ = node;
/// ```
#[derive(Debug)]
pub struct Lookup<N> {
    target: NodeId,
    k: usize,
    capacity: usize,
    /// Sorted by distance to the target, closest first.
    candidates: Vec<Candidate<N>>,
}

impl<N: Clone> Lookup<N> {
    /// A lookup of `target` for `k` nodes, remembering at most `capacity` candidates (the
    /// closest; at least `k`).
    pub fn new(target: NodeId, k: usize, capacity: usize) -> Self {
        let k = k.max(1);
        Self {
            target,
            k,
            capacity: capacity.max(k),
            candidates: Vec::new(),
        }
    }

    /// The target.
    pub const fn target(&self) -> &NodeId {
        &self.target
    }

    /// Adds a candidate unless it is known; beyond the capacity, the farthest candidate not
    /// being asked is dropped (one being asked stays, so that its query still counts against
    /// the parallelism and it is not asked again).
    pub fn add(&mut self, id: NodeId, node: N) {
        let distance = self.target.distance(&id);
        if let Err(at) = self
            .candidates
            .binary_search_by(|c| c.distance.cmp(&distance))
        {
            self.candidates.insert(
                at,
                Candidate {
                    distance,
                    id,
                    node,
                    state: State::Fresh,
                },
            );
            if self.candidates.len() > self.capacity {
                // The farthest not being asked; should all be asked, the farthest.
                let drop = self
                    .candidates
                    .iter()
                    .rposition(|c| c.state != State::Asking)
                    .unwrap_or(self.capacity);
                self.candidates.remove(drop);
            }
        }
    }

    /// `id` answered with `found`.
    pub fn on_response(&mut self, id: &NodeId, found: impl IntoIterator<Item = (NodeId, N)>) {
        self.set_state(id, State::Answered);
        for (id, node) in found {
            self.add(id, node);
        }
    }

    /// `id` did not answer.
    pub fn on_failure(&mut self, id: &NodeId) {
        self.set_state(id, State::Failed);
    }

    fn set_state(&mut self, id: &NodeId, state: State) {
        if let Some(candidate) = self.candidates.iter_mut().find(|c| c.id == *id) {
            candidate.state = state;
        }
    }

    /// The next step, with at most `parallelism` queries in flight.
    pub fn next(&mut self, parallelism: usize) -> LookupStep<N> {
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
            return LookupStep::Query(candidate.node.clone());
        }
        if asking > 0 {
            return LookupStep::Wait;
        }
        let asked = self
            .candidates
            .iter()
            .filter(|c| matches!(c.state, State::Answered | State::Failed))
            .take(self.k)
            .map(|c| c.node.clone())
            .collect();
        let any_answer = self.candidates.iter().any(|c| c.state == State::Answered);
        LookupStep::Done(asked, any_answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: u8) -> NodeId {
        let mut id = [0u8; 32];
        id[0] = b;
        NodeId(id)
    }

    #[test]
    fn a_candidate_being_asked_is_not_dropped_for_closer_ones() {
        let mut lookup = Lookup::new(NodeId([0; 32]), 1, 2);
        lookup.add(id(10), 10);
        assert_eq!(lookup.next(1), LookupStep::Query(10));
        // Two closer ones: beyond the capacity of 2, the farthest not being asked goes.
        lookup.add(id(5), 5);
        lookup.add(id(3), 3);
        assert_eq!(lookup.next(1), LookupStep::Wait, "10 is still being asked");
        lookup.on_response(&id(10), [(id(10), 10)]);
        assert_eq!(lookup.next(1), LookupStep::Query(3));
        lookup.on_response(&id(3), []);
        assert_eq!(lookup.next(1), LookupStep::Done(vec![3], true));
    }

    #[test]
    fn queries_closest_first_and_finishes_when_the_k_closest_answered() {
        let mut lookup = Lookup::new(NodeId([0; 32]), 2, 8);
        for b in [4, 1, 3, 2] {
            lookup.add(id(b), b);
        }
        assert_eq!(lookup.next(1), LookupStep::Query(1));
        assert_eq!(lookup.next(1), LookupStep::Wait);
        lookup.on_failure(&id(1));
        assert_eq!(lookup.next(1), LookupStep::Query(2));
        lookup.on_response(&id(2), []);
        assert_eq!(lookup.next(1), LookupStep::Query(3));
        // 3 reports 5, which is farther than the two closest that did not fail (2, 3).
        lookup.on_response(&id(3), [(id(5), 5)]);
        // The failed node stays in the result: it was asked and is among the closest.
        assert_eq!(lookup.next(1), LookupStep::Done(vec![1, 2], true));
    }

    #[test]
    fn capacity_keeps_the_closest() {
        let mut lookup = Lookup::new(NodeId([0; 32]), 1, 3);
        for b in (1..=10).rev() {
            lookup.add(id(b), b);
        }
        let kept: Vec<u8> = lookup.candidates.iter().map(|c| c.node).collect();
        assert_eq!(kept, [1, 2, 3]);
    }

    #[test]
    fn zero_k_and_capacity_still_keep_one_candidate() {
        let mut lookup = Lookup::new(NodeId([0; 32]), 0, 0);
        lookup.add(id(1), 1);
        assert_eq!(lookup.next(1), LookupStep::Query(1));
    }

    #[test]
    fn no_answer_at_all_is_reported() {
        let mut lookup = Lookup::new(NodeId([0; 32]), 4, 8);
        lookup.add(id(1), 1);
        assert_eq!(lookup.next(3), LookupStep::Query(1));
        lookup.on_failure(&id(1));
        assert_eq!(lookup.next(3), LookupStep::Done(vec![1], false));
    }
}
