//! Unit and property tests of the table: helpers and the basic operations; lookups and IP
//! limits have their own modules.

mod closest;
mod ip_limits;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use devp2p_enr::NodeId;
use proptest::prelude::*;

use crate::{Config, Entry, InsertResult, IpLimits, Table};

/// The origin of the tests' virtual clock: the one place they read the real one.
#[allow(clippy::disallowed_methods)]
fn start() -> Instant {
    Instant::now()
}

/// A node id at log2 distance `distance` from the all-zero id, its lower bits from `n`.
fn at(distance: u16, n: u64) -> NodeId {
    assert!((1..=256).contains(&distance));
    let mut id = [0u8; 32];
    id[24..].copy_from_slice(&n.to_be_bytes());
    let top = usize::from(distance - 1); // the bit that must be the highest set one
    for bit in top..256 {
        id[31 - bit / 8] &= !(1 << (bit % 8));
    }
    id[31 - top / 8] |= 1 << (top % 8);
    NodeId(id)
}

/// A deterministic generator of test ids (xorshift64).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn id(&mut self) -> NodeId {
        let mut id = [0u8; 32];
        for chunk in id.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_be_bytes());
        }
        NodeId(id)
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> Option<IpAddr> {
    Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
}

fn v6(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn ids<V>(entries: impl IntoIterator<Item = impl std::borrow::Borrow<Entry<V>>>) -> Vec<NodeId> {
    entries.into_iter().map(|e| e.borrow().id).collect()
}

fn new_table() -> Table<u32> {
    Table::new(NodeId([0; 32]), Config::default())
}

#[test]
fn at_helper_gives_the_asked_distance() {
    for d in 1..=256 {
        assert_eq!(NodeId([0; 32]).log2_distance(&at(d, u64::MAX)), d);
    }
}

#[test]
fn insert_get_len() {
    let now = start();
    let mut table = new_table();
    assert!(table.is_empty());
    assert_eq!(
        table.insert(at(256, 1), v4(1, 1, 1, 1), 10, now),
        InsertResult::Inserted
    );
    assert_eq!(
        table.insert(at(256, 2), None, 20, now),
        InsertResult::Inserted
    );
    assert_eq!(
        table.insert(at(100, 3), None, 30, now),
        InsertResult::Inserted
    );
    assert_eq!(table.len(), 3);
    assert!(!table.is_empty());
    assert_eq!(
        (
            table.bucket_len(256),
            table.bucket_len(100),
            table.bucket_len(99)
        ),
        (2, 1, 0)
    );

    let entry = table.get(&at(256, 1)).unwrap();
    assert_eq!(
        (entry.id, entry.ip, entry.value),
        (at(256, 1), v4(1, 1, 1, 1), 10)
    );
    assert_eq!((entry.added_at, entry.last_seen), (now, now));
    assert!(table.contains(&at(100, 3)));
    assert!(!table.contains(&at(100, 4)));
    assert!(table.get(&at(255, 1)).is_none());

    table.get_mut(&at(100, 3)).unwrap().value = 31;
    assert_eq!(table.get(&at(100, 3)).unwrap().value, 31);

    // Inserting again updates in place: same length, same order, same times.
    let later = now + Duration::from_secs(5);
    assert_eq!(
        table.insert(at(256, 1), v4(2, 2, 2, 2), 11, later),
        InsertResult::Updated
    );
    assert_eq!(table.len(), 3);
    assert_eq!(ids(table.at_distance(256)), [at(256, 1), at(256, 2)]);
    let entry = table.get(&at(256, 1)).unwrap();
    assert_eq!(
        (entry.ip, entry.value, entry.last_seen),
        (v4(2, 2, 2, 2), 11, now)
    );
    table.assert_consistent();
}

#[test]
fn local_id_refused() {
    let local = NodeId([7; 32]);
    let mut table = Table::<()>::new(local, Config::default());
    assert_eq!(table.local_id(), &local);
    assert_eq!(
        table.insert(local, None, (), start()),
        InsertResult::LocalId
    );
    assert!(table.is_empty());
    assert!(table.get(&local).is_none());
    assert!(table.remove(&local).is_none());
    assert!(!table.mark_seen(&local, start()));
}

#[test]
fn full_bucket_sends_to_replacements() {
    let now = start();
    let mut table = new_table();
    for n in 0..16 {
        assert_eq!(
            table.insert(at(256, n), None, 0, now),
            InsertResult::Inserted
        );
    }
    assert_eq!(
        table.insert(at(256, 16), None, 0, now),
        InsertResult::Pending
    );
    assert_eq!(table.len(), 16);
    assert_eq!(table.bucket_len(256), 16);
    assert!(!table.contains(&at(256, 16)));
    assert_eq!(ids(table.replacements(256)), [at(256, 16)]);
    assert_eq!(
        table.replacement(&at(256, 16)).map(|e| e.id),
        Some(at(256, 16))
    );
    assert!(
        table.replacement(&at(256, 3)).is_none(),
        "in the bucket, not its cache"
    );
    // Other buckets are unaffected.
    assert_eq!(
        table.insert(at(255, 0), None, 0, now),
        InsertResult::Inserted
    );
    table.assert_consistent();
}

#[test]
fn replacements_are_capped_oldest_dropped() {
    let now = start();
    let mut table = new_table();
    for n in 0..16 {
        table.insert(at(256, n), None, 0, now);
    }
    for n in 16..28 {
        assert_eq!(
            table.insert(at(256, n), None, 0, now),
            InsertResult::Pending
        );
    }
    let expected: Vec<_> = (18..28).map(|n| at(256, n)).collect();
    assert_eq!(ids(table.replacements(256)), expected);

    // A node already waiting becomes the most recent again, and keeps when it came.
    let later = now + Duration::from_secs(1);
    assert_eq!(
        table.insert(at(256, 20), None, 7, later),
        InsertResult::Pending
    );
    let waiting: Vec<&Entry<u32>> = table.replacements(256).collect();
    assert_eq!(waiting.len(), 10);
    let last = waiting.last().unwrap();
    assert_eq!(
        (last.id, last.value, last.added_at, last.last_seen),
        (at(256, 20), 7, now, later)
    );

    // With no cache, a full bucket drops newcomers.
    let config = Config {
        replacements: 0,
        ..Config::default()
    };
    let mut table = Table::new(NodeId([0; 32]), config);
    for n in 0..17 {
        table.insert(at(256, n), None, (), now);
    }
    assert_eq!(table.replacements(256).count(), 0);
    table.assert_consistent();
}

#[test]
fn remove_promotes_the_most_recent_replacement() {
    let now = start();
    let mut table = new_table();
    for n in 0..19 {
        table.insert(at(256, n), None, n as u32, now);
    }
    let removed = table.remove(&at(256, 5)).unwrap();
    assert_eq!((removed.entry.id, removed.entry.value), (at(256, 5), 5));
    assert_eq!(removed.promoted, Some(at(256, 18)));
    assert!(table.contains(&at(256, 18)));
    assert!(!table.contains(&at(256, 5)));
    assert_eq!(table.len(), 16);
    // The promoted node joins at the back.
    assert_eq!(table.at_distance(256).last().unwrap().id, at(256, 18));
    assert_eq!(ids(table.replacements(256)), [at(256, 16), at(256, 17)]);

    // Removing a waiting node drops it from the cache; nothing is promoted.
    assert!(table.remove(&at(256, 16)).is_none());
    assert_eq!(ids(table.replacements(256)), [at(256, 17)]);
    assert!(table.remove(&at(200, 1)).is_none());

    // The last replacement goes in; then, with an empty cache, removal leaves a gap.
    assert_eq!(
        table.remove(&at(256, 0)).unwrap().promoted,
        Some(at(256, 17))
    );
    assert_eq!(table.remove(&at(256, 1)).unwrap().promoted, None);
    assert_eq!(table.len(), 15);
    table.assert_consistent();
}

#[test]
fn mark_seen_moves_to_back_and_revalidation_takes_the_front() {
    let t0 = start();
    let t1 = t0 + Duration::from_secs(10);
    let mut table = new_table();
    assert!(table.revalidation_candidate(0).is_none());
    for n in 0..3 {
        table.insert(at(256, n), None, 0, t0);
    }
    assert_eq!(table.revalidation_candidate(99).unwrap().id, at(256, 0));
    assert!(table.mark_seen(&at(256, 0), t1));
    assert_eq!(table.get(&at(256, 0)).unwrap().last_seen, t1);
    assert_eq!(table.get(&at(256, 0)).unwrap().added_at, t0);
    assert_eq!(
        ids(table.at_distance(256)),
        [at(256, 1), at(256, 2), at(256, 0)]
    );
    assert_eq!(table.revalidation_candidate(99).unwrap().id, at(256, 1));
    assert!(!table.mark_seen(&at(256, 7), t1));

    // `pick` chooses among the non-empty buckets, nearest first.
    table.insert(at(100, 1), None, 0, t0);
    table.insert(at(100, 2), None, 0, t0);
    assert_eq!(table.revalidation_candidate(0).unwrap().id, at(100, 1));
    assert_eq!(table.revalidation_candidate(1).unwrap().id, at(256, 1));
    assert_eq!(table.revalidation_candidate(2).unwrap().id, at(100, 1));
    assert_eq!(
        table.revalidation_candidate(usize::MAX).unwrap().id,
        at(256, 1)
    );
}

#[test]
fn at_distance_lists_one_bucket() {
    let now = start();
    let mut table = new_table();
    for (d, n) in [(1, 0), (2, 1), (2, 0), (64, 5), (256, 9)] {
        assert_eq!(
            table.insert(at(d, n), None, 0, now),
            InsertResult::Inserted,
            "{d} {n}"
        );
    }
    assert_eq!(ids(table.at_distance(1)), [at(1, 0)]);
    assert_eq!(ids(table.at_distance(2)), [at(2, 1), at(2, 0)]);
    assert_eq!(ids(table.at_distance(64)), [at(64, 5)]);
    assert_eq!(ids(table.at_distance(256)), [at(256, 9)]);
    assert_eq!(table.at_distance(3).count(), 0);
    assert_eq!(table.at_distance(0).count(), 0);
    assert_eq!(table.at_distance(257).count(), 0);
    assert_eq!(table.at_distance(u16::MAX).count(), 0);
    assert_eq!(table.bucket_len(0), 0);
    assert_eq!(table.bucket_len(257), 0);
    // Only one id sits at distance 1; a second is the same id.
    assert_eq!(table.insert(at(1, 0), None, 1, now), InsertResult::Updated);
}

#[test]
fn debug_lists_entries() {
    let mut table = new_table();
    table.insert(at(256, 1), None, 42, start());
    let text = format!("{table:?}");
    assert!(
        text.contains("len: 1") && text.contains("value: 42"),
        "{text}"
    );
}

proptest! {
    #[test]
    fn random_operations_keep_the_table_consistent(
        ops in proptest::collection::vec((0u8..4, 0u16..6, 0u64..24, 0u8..4), 0..300),
        exempt_lan in any::<bool>(),
    ) {
        let t0 = start();
        let config = Config {
            bucket_size: 4,
            replacements: 3,
            ip_limits: Some(IpLimits { per_bucket: 2, per_table: 5, exempt_lan }),
        };
        let mut table = Table::new(NodeId([0; 32]), config);
        let ips = [None, v4(1, 2, 3, 4), v4(1, 2, 3, 5), v4(127, 0, 0, 1)];
        for (step, (op, bucket, n, ip)) in ops.into_iter().enumerate() {
            let id = at(251 + bucket, n);
            let now = t0 + Duration::from_secs(step as u64);
            match op {
                0 | 1 => {
                    let before = table.len();
                    let result = table.insert(id, ips[usize::from(ip)], step, now);
                    let grew = usize::from(result == InsertResult::Inserted);
                    prop_assert_eq!(table.len(), before + grew);
                }
                2 => {
                    let was_in = table.contains(&id);
                    let removed = table.remove(&id);
                    prop_assert_eq!(removed.is_some(), was_in);
                    prop_assert!(!table.contains(&id));
                    if let Some(promoted) = removed.and_then(|r| r.promoted) {
                        prop_assert!(table.contains(&promoted));
                    }
                }
                _ => {
                    let was_in = table.contains(&id);
                    prop_assert_eq!(table.mark_seen(&id, now), was_in);
                }
            }
            table.assert_consistent();
        }
    }
}
