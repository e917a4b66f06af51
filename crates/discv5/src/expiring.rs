//! Entries that all live equally long, so that they expire in the order they came in: a map,
//! and a queue of keys in arrival order. The oldest entry is found without a search, to expire
//! it or to make room. An entry removed early leaves its key in the queue until the key
//! reaches the front, or until the queue holds twice the capacity and is compacted.

use std::{collections::HashMap, hash::Hash, time::Instant};

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Expiring<K, V> {
    capacity: usize,
    entries: HashMap<K, (V, Instant)>,
    /// Keys with the deadline they were inserted with: a key removed and inserted again has a
    /// second, later place, and its first one stands for nothing.
    order: std::collections::VecDeque<(K, Instant)>,
}

impl<K: Copy + Eq + Hash, V> Expiring<K, V> {
    /// At most `capacity` entries (at least one); beyond it, the oldest goes.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: std::collections::VecDeque::new(),
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(value, _)| value)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(value, _)| value)
    }

    /// The entry and its deadline.
    pub(crate) fn remove(&mut self, key: &K) -> Option<(V, Instant)> {
        self.entries.remove(key)
    }

    /// Inserts an entry due to expire at `deadline`, no earlier than any before it; the
    /// oldest go first when the map is full. An entry under the same key is replaced, without
    /// making any other go.
    pub(crate) fn insert(&mut self, key: K, value: V, deadline: Instant) {
        self.entries.remove(&key);
        while self.entries.len() >= self.capacity && self.pop_oldest().is_some() {}
        self.entries.insert(key, (value, deadline));
        self.order.push_back((key, deadline));
        if self.order.len() > self.capacity.saturating_mul(2) {
            let live = &self.entries;
            self.order
                .retain(|(key, deadline)| live.get(key).is_some_and(|(_, d)| d == deadline));
        }
    }

    /// Drops the entries due at or before `now`.
    pub(crate) fn expire(&mut self, now: Instant) {
        while self
            .order
            .front()
            .is_some_and(|(_, deadline)| *deadline <= now)
        {
            self.pop_oldest();
        }
    }

    /// When [`expire`](Self::expire) has something to do next (perhaps only a stale key).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.order.front().map(|(_, deadline)| *deadline)
    }

    /// Takes the front of the queue, and the entry it stands for unless that was removed.
    fn pop_oldest(&mut self) -> Option<()> {
        let (key, deadline) = self.order.pop_front()?;
        if self.entries.get(&key).is_some_and(|(_, d)| *d == deadline) {
            self.entries.remove(&key);
        }
        Some(())
    }

    /// The keys in the queue, live or stale, oldest first.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> impl Iterator<Item = &K> {
        self.order.iter().map(|(key, _)| key)
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn replacing_an_entry_makes_no_other_go() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut entries = Expiring::new(2);
        entries.insert(1u8, "a", t0 + s(1));
        entries.insert(2u8, "b", t0 + s(2));
        entries.insert(2u8, "c", t0 + s(3));
        assert_eq!((entries.get(&1), entries.get(&2)), (Some(&"a"), Some(&"c")));
        // The replaced entry's first place stands for nothing: it expires at its new time.
        entries.expire(t0 + s(2));
        assert_eq!((entries.get(&1), entries.get(&2)), (None, Some(&"c")));
        entries.expire(t0 + s(3));
        assert_eq!(entries.get(&2), None);
    }
}
