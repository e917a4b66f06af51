//! External address prediction: the address other nodes say they see us at (discv4 Pong `to`,
//! discv5 PONG `ip`/`port`), once enough distinct nodes agree.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
};

use devp2p_enr::NodeId;

/// The latest report of each of at most `capacity` distinct nodes; the prediction is the
/// address reported by at least `min_votes` of them and by more than any other address.
///
/// ```
/// use devp2p_kbucket::{AddressVotes, NodeId};
///
/// let mut votes = AddressVotes::new(32, 2);
/// let seen = "203.0.113.9:30303".parse().unwrap();
/// assert_eq!(votes.vote(NodeId([1; 32]), seen), None);
/// assert_eq!(votes.vote(NodeId([1; 32]), seen), None); // the same node counts once
/// assert_eq!(votes.vote(NodeId([2; 32]), seen), Some(seen));
/// assert_eq!(votes.predicted(), Some(seen));
/// ```
#[derive(Debug, Clone)]
pub struct AddressVotes {
    votes: VecDeque<(NodeId, SocketAddr)>,
    capacity: usize,
    min_votes: usize,
    predicted: Option<SocketAddr>,
}

impl AddressVotes {
    /// Remembers the reports of `capacity` nodes; a prediction needs `min_votes`.
    pub fn new(capacity: usize, min_votes: usize) -> Self {
        Self {
            votes: VecDeque::new(),
            capacity: capacity.max(1),
            min_votes: min_votes.max(1),
            predicted: None,
        }
    }

    /// The current prediction.
    pub const fn predicted(&self) -> Option<SocketAddr> {
        self.predicted
    }

    /// Records that `reporter` sees us at `addr` (replacing its earlier report); returns the
    /// prediction when this report changed it. Unspecified addresses and port 0 are ignored.
    pub fn vote(&mut self, reporter: NodeId, addr: SocketAddr) -> Option<SocketAddr> {
        if addr.ip().is_unspecified() || addr.port() == 0 {
            return None;
        }
        self.votes.retain(|(node, _)| *node != reporter);
        self.votes.push_back((reporter, addr));
        while self.votes.len() > self.capacity {
            self.votes.pop_front();
        }
        let mut counts: HashMap<SocketAddr, usize> = HashMap::new();
        for (_, addr) in &self.votes {
            *counts.entry(*addr).or_default() += 1;
        }
        let mut ranked: Vec<(usize, SocketAddr)> =
            counts.into_iter().map(|(a, c)| (c, a)).collect();
        ranked.sort_unstable_by_key(|(count, _)| core::cmp::Reverse(*count));
        let leader = match ranked.as_slice() {
            [(count, addr)] => Some((*count, *addr)),
            [(count, addr), (second, _), ..] if count > second => Some((*count, *addr)),
            _ => None,
        };
        match leader {
            Some((count, addr)) if count >= self.min_votes && self.predicted != Some(addr) => {
                self.predicted = Some(addr);
                Some(addr)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tie_predicts_nothing_and_old_reports_age_out() {
        let (a, b): (SocketAddr, SocketAddr) = (
            "198.51.100.1:1".parse().unwrap(),
            "198.51.100.2:2".parse().unwrap(),
        );
        let mut votes = AddressVotes::new(3, 1);
        assert_eq!(votes.vote(NodeId([1; 32]), a), Some(a));
        // A tie: the prediction stays.
        assert_eq!(votes.vote(NodeId([2; 32]), b), None);
        assert_eq!(votes.predicted(), Some(a));
        assert_eq!(votes.vote(NodeId([3; 32]), b), Some(b));
        // Capacity 3: node 4's report pushes out node 1's; b still leads 2 to 1.
        assert_eq!(votes.vote(NodeId([4; 32]), a), None);
        assert_eq!(votes.predicted(), Some(b));
        // Node 2 changes its mind: its report counts once, now for a (a 2, b 1).
        assert_eq!(votes.vote(NodeId([2; 32]), a), Some(a));
        assert_eq!(
            votes.vote(NodeId([0; 32]), "0.0.0.0:1".parse().unwrap()),
            None
        );
    }
}
