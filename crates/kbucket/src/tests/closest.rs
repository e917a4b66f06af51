//! `closest` and `closest_filtered` against a brute-force sort.

use devp2p_enr::NodeId;
use proptest::prelude::*;

use super::*;
use crate::{Config, InsertResult, Table};

fn brute_force_closest<V>(table: &Table<V>, target: &NodeId, count: usize) -> Vec<NodeId> {
    let mut all = ids(table.iter());
    all.sort_by_key(|id| id.distance(target));
    all.truncate(count);
    all
}

#[test]
fn closest_matches_brute_force_over_1000_ids() {
    let now = start();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let local = rng.id();
    let config = Config {
        bucket_size: 1000,
        ip_limits: None,
        ..Config::default()
    };
    let mut big = Table::new(local, config);
    let mut small = Table::new(local, Config::default());
    let mut inserted = Vec::new();
    for _ in 0..1000 {
        let id = rng.id();
        assert_eq!(big.insert(id, None, (), now), InsertResult::Inserted);
        small.insert(id, None, (), now);
        inserted.push(id);
    }
    assert_eq!(big.len(), 1000);
    assert!(small.len() < 1000);

    let mut targets: Vec<NodeId> = (0..30).map(|_| rng.id()).collect();
    targets.extend(inserted.iter().step_by(97).copied());
    targets.push(local);
    let mut near_local = local;
    near_local.0[31] ^= 1;
    targets.push(near_local);
    for target in &targets {
        for count in [0, 1, 2, 16, 17, 100, 999, 1000, 2000] {
            for table in [&big, &small] {
                let got = ids(table.closest(target, count));
                assert_eq!(
                    got,
                    brute_force_closest(table, target, count),
                    "{target:?} {count}"
                );
            }
        }
    }
}

#[test]
fn closest_filtered_keeps_only_matching() {
    let now = start();
    let mut table = new_table();
    for d in [3, 50, 120, 200, 256] {
        for n in 0..3 {
            table.insert(at(d, n), None, n as u32, now);
        }
    }
    let target = at(120, 1);
    let got = table.closest_filtered(&target, 4, |e| e.value != 1);
    assert_eq!(
        ids(got.iter().copied()),
        [at(120, 0), at(120, 2), at(3, 0), at(3, 2)]
    );
    assert!(table.closest_filtered(&target, 4, |_| false).is_empty());
}

proptest! {
    #[test]
    fn closest_filtered_matches_brute_force(
        local in any::<[u8; 32]>(),
        nodes in proptest::collection::vec((any::<[u8; 32]>(), any::<bool>()), 0..300),
        target in any::<[u8; 32]>(),
        near_bits in 0usize..=256,
        count in 0usize..40,
    ) {
        let now = start();
        let local = NodeId(local);
        let config = Config { bucket_size: 8, ..Config::default() };
        let mut table = Table::new(local, config);
        for (id, keep) in &nodes {
            table.insert(NodeId(*id), None, *keep, now);
        }
        // Targets near the local id exercise the near buckets.
        let mut target = NodeId(target);
        for bit in 0..near_bits.min(256) {
            let byte = bit / 8;
            target.0[byte] = (target.0[byte] & !(0x80 >> (bit % 8))) | (local.0[byte] & (0x80 >> (bit % 8)));
        }
        let mut expected: Vec<NodeId> = table.iter().filter(|e| e.value).map(|e| e.id).collect();
        expected.sort_by_key(|id| id.distance(&target));
        expected.truncate(count);
        prop_assert_eq!(ids(table.closest_filtered(&target, count, |e| e.value)), expected);
        prop_assert_eq!(ids(table.closest(&target, count)), brute_force_closest(&table, &target, count));
    }
}
