//! A Kademlia routing table for Ethereum node discovery (ethereum/devp2p `discv4.md` "Kademlia
//! Table", `discv5-theory.md` "Node Table"), shared by discv4 and discv5.
//!
//! - [`Table`]: 256 k-buckets by log2 distance to the local [`NodeId`], least recently seen
//!   first, each with a replacement cache whose most recent member takes the place of a
//!   removed entry. A value `V` per node holds what the protocol needs (endpoint, record, …).
//! - Lookups: the entries [`closest`](Table::closest) to a target by XOR distance, exact and
//!   without sorting the whole table; the entries [`at_distance`](Table::at_distance) for
//!   discv5 FINDNODE.
//! - [`Lookup`]: one iterative lookup (α queries in flight, ends when the k closest have
//!   answered), fed by whichever protocol asks the nodes.
//! - [`AddressVotes`]: our external address as the nodes we talk to report it.
//! - Liveness: [`revalidation_candidate`](Table::revalidation_candidate) names the least
//!   recently seen node of a bucket the caller picks at random;
//!   [`mark_seen`](Table::mark_seen) or [`remove`](Table::remove) records the outcome.
//! - [`Deadlines`]: what is in flight, by deadline, for the next timeout without a search.
//! - [`IpLimits`]: at most 2 nodes of one /24 (IPv4) or /48 (IPv6) per bucket and 10 per
//!   table, LAN addresses exempt (geth's defaults).
//!
//! Sans-IO: no clock, no sockets, no randomness; times and random picks are arguments.
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use std::time::Instant;
//!
//! use devp2p_enr::NodeId;
//! use devp2p_kbucket::{Config, InsertResult, Table};
//!
//! // Ids that differ from the local id (all zeros) in the first bit: log2 distance 256.
//! let far = |n: u8| {
//!     let mut id = [0; 32];
//!     id[0] = 0x80;
//!     id[31] = n;
//!     NodeId(id)
//! };
//! # #[allow(clippy::disallowed_methods)]
//! let now = Instant::now();
//! let mut table = Table::new(NodeId([0; 32]), Config::default());
//! for n in 0..16 {
//!     assert_eq!(table.insert(far(n), None, "endpoint", now), InsertResult::Inserted);
//! }
//! // The bucket holds 16: the next node waits in its replacement cache.
//! assert_eq!(table.insert(far(16), None, "spare", now), InsertResult::Pending);
//! assert_eq!(table.bucket_len(256), 16);
//!
//! // Revalidation: ping the least recently seen node; it did not answer, so it goes and the
//! // replacement takes its place.
//! let stale = table.revalidation_candidate(7).unwrap().id;
//! assert_eq!(stale, far(0));
//! assert_eq!(table.remove(&stale).unwrap().promoted, Some(far(16)));
//!
//! // The closest nodes to a target, closest first.
//! let ids: Vec<NodeId> = table.closest(&far(3), 3).iter().map(|e| e.id).collect();
//! assert_eq!(ids, [far(3), far(2), far(1)]);
//!
//! // Two nodes of one /24 per bucket.
//! let ip = |last| Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, last)));
//! let mut table = Table::new(NodeId([0; 32]), Config::default());
//! assert_eq!(table.insert(far(1), ip(1), (), now), InsertResult::Inserted);
//! assert_eq!(table.insert(far(2), ip(2), (), now), InsertResult::Inserted);
//! assert_eq!(table.insert(far(3), ip(3), (), now), InsertResult::IpLimited);
//! ```

// The README's example runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod bucket;
mod config;
mod deadlines;
mod ip;
mod lookup;
mod rate;
mod table;
#[cfg(test)]
mod tests;
mod votes;

pub use bucket::Entry;
pub use config::{Config, IpLimits};
pub use deadlines::Deadlines;
pub use devp2p_enr::NodeId;
pub use ip::{locality, port_allowed, relay_allowed, socket_destination};
pub use lookup::{Lookup, LookupStep};
pub use rate::IpRateLimit;
pub use table::{InsertResult, Removed, Table};
pub use votes::AddressVotes;
