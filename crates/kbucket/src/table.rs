//! The routing table: 256 k-buckets by log2 distance to the local id, each with a replacement
//! cache (ethereum/devp2p `discv4.md` "Kademlia Table", `discv5-theory.md` "Node Table").

use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::time::Instant;

use devp2p_enr::NodeId;

use crate::Config;
use crate::bucket::{Bucket, Entry, Slot};
use crate::ip::IpTracker;

/// The number of buckets: one per log2 distance 1..=256.
const BUCKETS: usize = 256;

/// What [`Table::insert`] did.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertResult {
    /// The node was added at the back (most recently seen end) of its bucket.
    Inserted,
    /// The node was already in the table: its IP and value were updated, its place kept.
    Updated,
    /// The bucket is full: the node went to the bucket's replacement cache (or was dropped
    /// when [`Config::replacements`] is 0).
    Pending,
    /// The node's IP range is at its bucket or table limit ([`IpLimits`](crate::IpLimits), in
    /// which replacement caches count as entries do); nothing changed.
    IpLimited,
    /// The id is the local node's own.
    LocalId,
}

/// An entry taken out by [`Table::remove`].
#[derive(Debug, Clone)]
pub struct Removed<V> {
    /// The removed entry.
    pub entry: Entry<V>,
    /// The replacement that took its place in the bucket, if any.
    pub promoted: Option<NodeId>,
}

/// A Kademlia routing table of the nodes around `local`, with a value `V` per node.
///
/// Buckets hold the nodes at each log2 distance 1..=256 from the local id, least recently seen
/// first; a full bucket sends newcomers to its replacement cache, whose most recent member
/// takes the place of a removed entry. The table never reads a clock or draws random numbers:
/// times and random picks are arguments.
///
/// - Getters: [`len`](Self::len), [`get`](Self::get), [`contains`](Self::contains),
///   [`iter`](Self::iter), [`bucket_len`](Self::bucket_len),
///   [`replacements`](Self::replacements).
/// - Lookups: [`closest`](Self::closest), [`closest_filtered`](Self::closest_filtered),
///   [`at_distance`](Self::at_distance).
/// - Changes: [`insert`](Self::insert), [`mark_seen`](Self::mark_seen),
///   [`remove`](Self::remove), [`get_mut`](Self::get_mut) for the values.
/// - Liveness checks: [`revalidation_candidate`](Self::revalidation_candidate) names the node to
///   ping; the caller then calls `mark_seen` or `remove`.
pub struct Table<V> {
    local: NodeId,
    config: Config,
    /// Index `d - 1` holds the nodes at log2 distance `d`.
    buckets: Vec<Bucket<V>>,
    len: usize,
    ips: IpTracker,
}

impl<V: fmt::Debug> fmt::Debug for Table<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("local", &self.local)
            .field("config", &self.config)
            .field("len", &self.len)
            .field("entries", &self.iter().collect::<Vec<_>>())
            .finish()
    }
}

impl<V> Table<V> {
    /// An empty table around `local`.
    pub fn new(local: NodeId, config: Config) -> Self {
        let ips = IpTracker::new(config.ip_limits.clone());
        let buckets = (0..BUCKETS).map(|_| Bucket::new()).collect();
        Self {
            local,
            config,
            buckets,
            len: 0,
            ips,
        }
    }

    /// The local node's id.
    pub fn local_id(&self) -> &NodeId {
        &self.local
    }

    /// The table's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The number of entries (replacement caches not included).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry of `id`, if it is in the table (not merely in a replacement cache).
    pub fn get(&self, id: &NodeId) -> Option<&Entry<V>> {
        let bucket = self.bucket_of(id)?;
        bucket
            .entries
            .iter()
            .find(|slot| slot.id == *id)
            .map(|slot| &slot.entry)
    }

    /// The entry of `id`, to change its `value`. Changing `id` or `ip` here does not refile or
    /// recount the entry: use [`insert`](Self::insert) for a new IP.
    pub fn get_mut(&mut self, id: &NodeId) -> Option<&mut Entry<V>> {
        let bucket = self.bucket_of_mut(id)?;
        bucket
            .entries
            .iter_mut()
            .find(|slot| slot.id == *id)
            .map(|slot| &mut slot.entry)
    }

    /// The entry of `id` in its bucket's replacement cache, if it waits there.
    pub fn replacement(&self, id: &NodeId) -> Option<&Entry<V>> {
        let bucket = self.bucket_of(id)?;
        bucket
            .replacements
            .iter()
            .find(|slot| slot.id == *id)
            .map(|slot| &slot.entry)
    }

    /// Whether `id` is in the table (not merely in a replacement cache).
    pub fn contains(&self, id: &NodeId) -> bool {
        self.get(id).is_some()
    }

    /// Adds a node at the back (most recently seen end) of its bucket, with `added_at` and
    /// `last_seen` set to `now`; or, when the bucket is full, to the bucket's replacement cache,
    /// which keeps the most recent [`Config::replacements`] nodes and drops the oldest.
    ///
    /// A node already in the table gets the new `ip` and `value` and keeps its place and
    /// times; when its IP range changes the limits are checked again, and if they refuse,
    /// nothing changes. A new node is checked against the IP limits before it goes to the
    /// bucket or its cache; cached nodes count against them as entries do (as in go-ethereum),
    /// so one range cannot fill the caches that replace failed entries.
    pub fn insert(
        &mut self,
        id: NodeId,
        ip: Option<IpAddr>,
        value: V,
        now: Instant,
    ) -> InsertResult {
        let Some(bucket) = bucket_index(&self.local, &id).and_then(|i| self.buckets.get_mut(i))
        else {
            return InsertResult::LocalId;
        };
        let prefix = self.ips.prefix(ip);
        let in_bucket = bucket.count_prefix(prefix, &id);

        if let Some(slot) = bucket.entries.iter_mut().find(|slot| slot.id == id) {
            if slot.prefix != prefix {
                if !self.ips.allows(prefix, in_bucket) {
                    return InsertResult::IpLimited;
                }
                self.ips.remove(slot.prefix);
                self.ips.add(prefix);
                slot.prefix = prefix;
            }
            slot.entry.ip = ip;
            slot.entry.value = value;
            return InsertResult::Updated;
        }

        // A node waiting in the cache is counted already: checked without that count, and it
        // stays there when the limits refuse its new range.
        let cached = bucket.replacement_position(&id);
        let cached_prefix = cached
            .and_then(|pos| bucket.replacements.get(pos))
            .map(|slot| slot.prefix);
        if let Some(counted) = cached_prefix {
            self.ips.remove(counted);
        }
        if !self.ips.allows(prefix, in_bucket) {
            if let Some(counted) = cached_prefix {
                self.ips.add(counted);
            }
            return InsertResult::IpLimited;
        }
        let earlier = cached.and_then(|pos| bucket.replacements.remove(pos));
        let added_at = earlier.map_or(now, |slot| slot.entry.added_at);
        let slot = Slot {
            id,
            prefix,
            entry: Entry {
                id,
                ip,
                value,
                added_at,
                last_seen: now,
            },
        };
        self.ips.add(prefix);
        if bucket.entries.len() < self.config.bucket_size {
            bucket.entries.push_back(slot);
            self.len += 1;
            InsertResult::Inserted
        } else {
            bucket.replacements.push_back(slot);
            while bucket.replacements.len() > self.config.replacements {
                if let Some(oldest) = bucket.replacements.pop_front() {
                    self.ips.remove(oldest.prefix);
                }
            }
            InsertResult::Pending
        }
    }

    /// Records that `id` answered: moves its entry to the back of its bucket (most recently
    /// seen) and sets `last_seen` to `now`. False when `id` is not in the table.
    pub fn mark_seen(&mut self, id: &NodeId, now: Instant) -> bool {
        let Some(bucket) = self.bucket_of_mut(id) else {
            return false;
        };
        let Some(mut slot) = bucket
            .position(id)
            .and_then(|pos| bucket.entries.remove(pos))
        else {
            return false;
        };
        slot.entry.last_seen = now;
        bucket.entries.push_back(slot);
        true
    }

    /// Removes `id` (e.g. after a failed revalidation). The most recent replacement of its
    /// bucket takes its place and is named in the result. An `id` only in a replacement cache
    /// is dropped from it, and the result is `None`.
    pub fn remove(&mut self, id: &NodeId) -> Option<Removed<V>> {
        let bucket = bucket_index(&self.local, id).and_then(|i| self.buckets.get_mut(i))?;
        let Some(pos) = bucket.position(id) else {
            if let Some(slot) = bucket
                .replacement_position(id)
                .and_then(|pos| bucket.replacements.remove(pos))
            {
                self.ips.remove(slot.prefix);
            }
            return None;
        };
        let slot = bucket.entries.remove(pos)?;
        self.ips.remove(slot.prefix);
        self.len -= 1;

        // Cached nodes count against the limits already, so the most recent one always fits.
        let mut promoted = None;
        if bucket.entries.len() < self.config.bucket_size
            && let Some(replacement) = bucket.replacements.pop_back()
        {
            promoted = Some(replacement.id);
            bucket.entries.push_back(replacement);
            self.len += 1;
        }
        Some(Removed {
            entry: slot.entry,
            promoted,
        })
    }

    /// The `count` entries closest to `target` by XOR distance, closest first.
    pub fn closest(&self, target: &NodeId, count: usize) -> Vec<&Entry<V>> {
        self.closest_filtered(target, count, |_| true)
    }

    /// The `count` entries closest to `target` by XOR distance for which `keep` is true,
    /// closest first.
    ///
    /// Buckets are visited in an order that is exact for XOR distance, so only the buckets
    /// that hold results (and at most one more group) are sorted: with `d` the log2 distance
    /// from the local id to `target`, bucket `d` comes first (its nodes are within `2^(d-1)`
    /// of the target), then buckets `1..d` together (all at log2 distance `d` from the
    /// target), then buckets `d+1`, `d+2`, … (at their own log2 distance).
    pub fn closest_filtered(
        &self,
        target: &NodeId,
        count: usize,
        keep: impl Fn(&Entry<V>) -> bool,
    ) -> Vec<&Entry<V>> {
        let mut out = Vec::with_capacity(count.min(self.len));
        let d = usize::from(self.local.log2_distance(target));
        let below = d.saturating_sub(1);
        let groups = [below..d, 0..below]
            .into_iter()
            .chain((d..BUCKETS).map(|i| i..i + 1));
        let mut group: Vec<([u8; 32], &Entry<V>)> = Vec::new();
        for range in groups {
            let wanted = count.saturating_sub(out.len());
            if wanted == 0 {
                break;
            }
            group.clear();
            for slot in self
                .buckets_in(range)
                .flat_map(|bucket| bucket.entries.iter())
            {
                if keep(&slot.entry) {
                    group.push((slot.id.distance(target), &slot.entry));
                }
            }
            if group.len() > wanted {
                group.select_nth_unstable_by_key(wanted, |(distance, _)| *distance);
                group.truncate(wanted);
            }
            group.sort_unstable_by_key(|(distance, _)| *distance);
            out.extend(group.iter().map(|(_, entry)| *entry));
        }
        out
    }

    /// The entries at log2 distance `distance` (1..=256) from the local id, least recently
    /// seen first: the answer to a discv5 FINDNODE. Empty for 0 and above 256.
    pub fn at_distance(&self, distance: u16) -> impl Iterator<Item = &Entry<V>> {
        self.bucket(distance)
            .into_iter()
            .flat_map(|bucket| bucket.entries.iter().map(|slot| &slot.entry))
    }

    /// The replacement cache of the bucket at log2 distance `distance` (1..=256), oldest first.
    /// Empty for 0 and above 256.
    pub fn replacements(&self, distance: u16) -> impl Iterator<Item = &Entry<V>> {
        self.bucket(distance)
            .into_iter()
            .flat_map(|bucket| bucket.replacements.iter().map(|slot| &slot.entry))
    }

    /// The node to revalidate next: the least recently seen entry of one of the non-empty
    /// buckets, the `pick % n`-th of the `n` of them (by distance), so a random `pick` from the
    /// caller chooses a random bucket. `None` when the table is empty.
    pub fn revalidation_candidate(&self, pick: usize) -> Option<&Entry<V>> {
        let non_empty = || {
            self.buckets
                .iter()
                .filter(|bucket| !bucket.entries.is_empty())
        };
        let n = non_empty().count();
        if n == 0 {
            return None;
        }
        non_empty()
            .nth(pick % n)?
            .entries
            .front()
            .map(|slot| &slot.entry)
    }

    /// All entries, by bucket (nearest first), least recently seen first within a bucket.
    pub fn iter(&self) -> impl Iterator<Item = &Entry<V>> {
        self.buckets
            .iter()
            .flat_map(|bucket| bucket.entries.iter().map(|slot| &slot.entry))
    }

    /// The number of entries at log2 distance `distance` (1..=256); 0 outside that range.
    pub fn bucket_len(&self, distance: u16) -> usize {
        self.bucket(distance)
            .map_or(0, |bucket| bucket.entries.len())
    }

    fn bucket(&self, distance: u16) -> Option<&Bucket<V>> {
        usize::from(distance)
            .checked_sub(1)
            .and_then(|i| self.buckets.get(i))
    }

    fn bucket_of(&self, id: &NodeId) -> Option<&Bucket<V>> {
        bucket_index(&self.local, id).and_then(|i| self.buckets.get(i))
    }

    fn bucket_of_mut(&mut self, id: &NodeId) -> Option<&mut Bucket<V>> {
        bucket_index(&self.local, id).and_then(|i| self.buckets.get_mut(i))
    }

    fn buckets_in(&self, range: Range<usize>) -> impl Iterator<Item = &Bucket<V>> {
        self.buckets.get(range).into_iter().flatten()
    }

    /// Checks everything the table keeps in step; panics on the first difference.
    #[cfg(test)]
    pub(crate) fn assert_consistent(&self) {
        use std::collections::{HashMap, HashSet};

        let mut seen = HashSet::new();
        let mut per_prefix = HashMap::new();
        for (i, bucket) in self.buckets.iter().enumerate() {
            assert!(bucket.entries.len() <= self.config.bucket_size);
            assert!(bucket.replacements.len() <= self.config.replacements);
            let mut in_bucket = HashMap::new();
            for slot in &bucket.entries {
                assert_eq!(bucket_index(&self.local, &slot.id), Some(i));
                assert!(seen.insert(slot.id), "{:?} twice", slot.id);
                assert_eq!(slot.prefix, self.ips.prefix(slot.entry.ip));
                if let Some(prefix) = slot.prefix {
                    *in_bucket.entry(prefix).or_insert(0) += 1;
                    *per_prefix.entry(prefix).or_insert(0) += 1;
                }
            }
            for slot in &bucket.replacements {
                assert_eq!(bucket_index(&self.local, &slot.id), Some(i));
                assert!(seen.insert(slot.id), "{:?} twice", slot.id);
                assert_eq!(slot.prefix, self.ips.prefix(slot.entry.ip));
                if let Some(prefix) = slot.prefix {
                    *in_bucket.entry(prefix).or_insert(0) += 1;
                    *per_prefix.entry(prefix).or_insert(0) += 1;
                }
            }
            if let Some(limits) = &self.config.ip_limits {
                assert!(in_bucket.values().all(|&n| n <= limits.per_bucket));
            }
        }
        assert_eq!(self.len, self.iter().count());
        assert_eq!(self.ips.counts(), &per_prefix);
        if let Some(limits) = &self.config.ip_limits {
            assert!(per_prefix.values().all(|&n| n <= limits.per_table));
        }
    }
}

/// The bucket index of `id` (log2 distance minus one), `None` for the local id itself.
fn bucket_index(local: &NodeId, id: &NodeId) -> Option<usize> {
    usize::from(local.log2_distance(id)).checked_sub(1)
}
