//! One k-bucket: its entries, least recently seen first, and its replacement cache, most recent
//! last (ethereum/devp2p `discv4.md`, "Kademlia Table").

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use devp2p_enr::NodeId;

use crate::ip::IpPrefix;

/// A node in the table (or in a bucket's replacement cache).
#[derive(Debug, Clone)]
pub struct Entry<V> {
    /// The node's id. Change it only through [`Table::insert`](crate::Table::insert) and
    /// [`Table::remove`](crate::Table::remove): the table files the entry under the id it was
    /// inserted with.
    pub id: NodeId,
    /// The node's IP address, when known; counted against the [`IpLimits`](crate::IpLimits).
    /// Changing it in place is not re-checked: [`Table::insert`](crate::Table::insert) is.
    pub ip: Option<IpAddr>,
    /// Whatever the caller keeps about the node (endpoint, record, failure count, …).
    pub value: V,
    /// When the node was first inserted.
    pub added_at: Instant,
    /// When the node was inserted or last [`mark_seen`](crate::Table::mark_seen).
    pub last_seen: Instant,
}

/// An entry with what the table needs to keep it consistent whatever a caller does to the
/// public fields: the id it is filed under and the IP range it was counted in.
#[derive(Debug, Clone)]
pub(crate) struct Slot<V> {
    pub(crate) id: NodeId,
    pub(crate) prefix: Option<IpPrefix>,
    pub(crate) entry: Entry<V>,
}

/// A k-bucket.
#[derive(Debug, Clone)]
pub(crate) struct Bucket<V> {
    /// Front: least recently seen.
    pub(crate) entries: VecDeque<Slot<V>>,
    /// Back: most recently added.
    pub(crate) replacements: VecDeque<Slot<V>>,
}

impl<V> Bucket<V> {
    pub(crate) fn new() -> Self {
        Self {
            entries: VecDeque::new(),
            replacements: VecDeque::new(),
        }
    }

    pub(crate) fn position(&self, id: &NodeId) -> Option<usize> {
        self.entries.iter().position(|slot| slot.id == *id)
    }

    pub(crate) fn replacement_position(&self, id: &NodeId) -> Option<usize> {
        self.replacements.iter().position(|slot| slot.id == *id)
    }

    /// Nodes of the bucket, entries and replacements alike, counted in `prefix`, except
    /// `except` (a node whose own count is being redone).
    pub(crate) fn count_prefix(&self, prefix: Option<IpPrefix>, except: &NodeId) -> usize {
        match prefix {
            Some(prefix) => self
                .entries
                .iter()
                .chain(&self.replacements)
                .filter(|slot| slot.prefix == Some(prefix) && slot.id != *except)
                .count(),
            None => 0,
        }
    }
}
