//! External address prediction: the address other nodes say they see us at (discv4 Pong `to`,
//! discv5 PONG `ip`/`port`), once enough distinct reporters agree.

use std::{
    collections::{HashMap, VecDeque},
    net::{IpAddr, SocketAddr},
};

use crate::ip::site;

/// The latest report of each of at most `capacity` distinct reporters; the prediction is the
/// address reported by at least `min_votes` of them and by more than any other address.
///
/// A reporter is the IP address the report came from, an IPv6 address counting as its /48
/// (IPv4-mapped IPv6 as IPv4): node ids cost nothing, so one host with many keys must not
/// outvote honest nodes elsewhere.
///
/// ```
/// use devp2p_kbucket::AddressVotes;
///
/// let mut votes = AddressVotes::new(32, 2);
/// let seen = "203.0.113.9:30303".parse().unwrap();
/// assert_eq!(votes.vote("198.51.100.1".parse().unwrap(), seen), None);
/// assert_eq!(votes.vote("198.51.100.1".parse().unwrap(), seen), None); // one IP counts once
/// assert_eq!(votes.vote("198.51.100.2".parse().unwrap(), seen), Some(seen));
/// assert_eq!(votes.predicted(), Some(seen));
/// ```
#[derive(Debug, Clone)]
pub struct AddressVotes {
    votes: VecDeque<(IpAddr, SocketAddr)>,
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

    /// Records that the node at IP `reporter` (the source of its packet) sees us at `addr`,
    /// replacing the earlier report from that IP (or IPv6 /48); returns the prediction when this
    /// report changed it. Unspecified addresses and port 0 are ignored.
    pub fn vote(&mut self, reporter: IpAddr, addr: SocketAddr) -> Option<SocketAddr> {
        if addr.ip().is_unspecified() || addr.port() == 0 {
            return None;
        }
        let reporter = site(reporter);
        let earlier = self.votes.iter().position(|(voter, _)| *voter == reporter);
        let earlier = earlier.and_then(|i| self.votes.remove(i));
        self.votes.push_back((reporter, addr));
        // The same report again (every PONG of a node we keep pinging) leaves every count, and
        // so the prediction, as it was.
        if earlier.is_some_and(|(_, before)| before == addr) {
            return None;
        }
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

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// Two addresses nodes may see us at.
    fn two_addrs() -> (SocketAddr, SocketAddr) {
        (
            "198.51.100.1:1".parse().unwrap(),
            "198.51.100.2:2".parse().unwrap(),
        )
    }

    #[test]
    fn a_tie_predicts_nothing_and_old_reports_age_out() {
        let (a, b) = two_addrs();
        let mut votes = AddressVotes::new(3, 1);
        assert_eq!(votes.vote(ip("192.0.2.1"), a), Some(a));
        // A tie: the prediction stays.
        assert_eq!(votes.vote(ip("192.0.2.2"), b), None);
        assert_eq!(votes.predicted(), Some(a));
        assert_eq!(votes.vote(ip("192.0.2.3"), b), Some(b));
        // Capacity 3: reporter 4's report pushes out reporter 1's; b still leads 2 to 1.
        assert_eq!(votes.vote(ip("192.0.2.4"), a), None);
        assert_eq!(votes.predicted(), Some(b));
        // Reporter 2 changes its mind: its report counts once, now for a (a 2, b 1).
        assert_eq!(votes.vote(ip("192.0.2.2"), a), Some(a));
        assert_eq!(
            votes.vote(ip("192.0.2.5"), "0.0.0.0:1".parse().unwrap()),
            None
        );
    }

    #[test]
    fn a_repeated_report_counts_as_the_latest() {
        let (a, b) = two_addrs();
        let mut votes = AddressVotes::new(2, 1);
        assert_eq!(votes.vote(ip("192.0.2.1"), a), Some(a));
        assert_eq!(votes.vote(ip("192.0.2.2"), b), None);
        assert_eq!(votes.vote(ip("192.0.2.1"), a), None);
        // The oldest report is now 192.0.2.2's, and it goes: a tie, which keeps `a`.
        assert_eq!(votes.vote(ip("192.0.2.3"), b), None);
        assert_eq!(votes.predicted(), Some(a));
        assert_eq!(votes.vote(ip("192.0.2.4"), b), Some(b));
    }

    #[test]
    fn an_ipv6_reporter_counts_once_per_48() {
        let ours: SocketAddr = "203.0.113.9:30303".parse().unwrap();
        let mut votes = AddressVotes::new(32, 2);
        // Addresses in two /64s of one /48: one reporter.
        assert_eq!(votes.vote(ip("2001:db8:0:1::1"), ours), None);
        assert_eq!(votes.vote(ip("2001:db8:0:ffff:ffff::2"), ours), None);
        assert_eq!(votes.predicted(), None);
        // Another /48 is a second reporter.
        assert_eq!(votes.vote(ip("2001:db8:1::1"), ours), Some(ours));
        // An IPv4-mapped address counts as the IPv4 one.
        let mut votes = AddressVotes::new(32, 2);
        assert_eq!(votes.vote(ip("198.51.100.7"), ours), None);
        assert_eq!(votes.vote(ip("::ffff:198.51.100.7"), ours), None);
        assert_eq!(votes.predicted(), None);
    }
}
