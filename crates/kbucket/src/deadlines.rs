//! Keys of things in flight ordered by their deadlines, so that the next one due is found
//! without a look at each (both discovery drivers ask after every datagram).

use std::{collections::BTreeSet, time::Instant};

/// The deadlines of a map's entries, soonest first (then by key, so that the same inputs
/// always time out in the same order). The owner keeps one entry here per entry of its map,
/// with the same deadline: [`insert`](Self::insert) and [`remove`](Self::remove) with the
/// map's, and [`reschedule`](Self::reschedule) to change a deadline.
#[derive(Debug, Clone)]
pub struct Deadlines<K> {
    order: BTreeSet<(Instant, K)>,
}

impl<K> Default for Deadlines<K> {
    fn default() -> Self {
        Self {
            order: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Copy> Deadlines<K> {
    /// Files `key` as due at `deadline`.
    pub fn insert(&mut self, deadline: Instant, key: K) {
        self.order.insert((deadline, key));
    }

    /// Forgets `key`, filed as due at `deadline`.
    pub fn remove(&mut self, deadline: Instant, key: K) {
        self.order.remove(&(deadline, key));
    }

    /// Sets `deadline`, the one `key` is filed at, to `to`, and files `key` there instead.
    pub fn reschedule(&mut self, key: K, deadline: &mut Instant, to: Instant) {
        self.order.remove(&(*deadline, key));
        *deadline = to;
        self.order.insert((to, key));
    }

    /// The soonest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.order.first().map(|(deadline, _)| *deadline)
    }

    /// Takes out the soonest key, if it is due at or before `now`. Taken one at a time, the
    /// keys handled before it may have moved or removed it: handling a timeout never sees a
    /// key that stopped being due meanwhile.
    pub fn pop_due(&mut self, now: Instant) -> Option<K> {
        let &(deadline, key) = self.order.first()?;
        (deadline <= now).then(|| {
            self.order.pop_first();
            key
        })
    }
}

#[cfg(test)]
mod tests {
    use core::time::Duration;

    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn keys_come_out_soonest_first_and_where_they_were_moved() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut deadlines = Deadlines::default();
        let (mut a, b, c) = (t0 + s(3), t0 + s(1), t0 + s(2));
        deadlines.insert(a, 'a');
        deadlines.insert(b, 'b');
        deadlines.insert(c, 'c');
        deadlines.remove(c, 'c');
        assert_eq!(deadlines.next(), Some(b));
        deadlines.reschedule('a', &mut a, t0);
        assert_eq!(a, t0);
        assert_eq!(deadlines.pop_due(t0 + s(1)), Some('a'));
        // Moved later while 'a' was handled: no longer due.
        let mut b = b;
        deadlines.reschedule('b', &mut b, t0 + s(5));
        assert_eq!(deadlines.pop_due(t0 + s(1)), None);
        assert_eq!(deadlines.pop_due(t0 + s(5)), Some('b'));
        assert_eq!(deadlines.next(), None);
    }
}
