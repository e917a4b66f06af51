//! The IP limits: per bucket, per table, IPv6 /48, the LAN exemption, re-checks, and the
//! replacement caches counted with the entries.

use super::*;
use crate::{Config, InsertResult, IpLimits, NodeId, Table};

#[test]
fn ip_limit_per_bucket() {
    let now = start();
    let mut table = new_table();
    assert_eq!(
        table.insert(at(256, 1), v4(1, 2, 3, 1), 0, now),
        InsertResult::Inserted
    );
    assert_eq!(
        table.insert(at(256, 2), v4(1, 2, 3, 2), 0, now),
        InsertResult::Inserted
    );
    assert_eq!(
        table.insert(at(256, 3), v4(1, 2, 3, 3), 0, now),
        InsertResult::IpLimited
    );
    assert!(!table.contains(&at(256, 3)));
    assert_eq!(table.replacements(256).count(), 0);
    // Another /24, another bucket, and no IP at all are fine.
    assert_eq!(
        table.insert(at(256, 4), v4(1, 2, 4, 1), 0, now),
        InsertResult::Inserted
    );
    assert_eq!(
        table.insert(at(255, 1), v4(1, 2, 3, 4), 0, now),
        InsertResult::Inserted
    );
    assert_eq!(
        table.insert(at(256, 5), None, 0, now),
        InsertResult::Inserted
    );
    // IPv4-mapped IPv6 counts as IPv4.
    assert_eq!(
        table.insert(at(256, 6), v6("::ffff:1.2.3.9"), 0, now),
        InsertResult::IpLimited
    );
    table.assert_consistent();
}

#[test]
fn ip_limit_per_table() {
    let now = start();
    let mut table = new_table();
    for i in 0..10u8 {
        let d = 250 + u16::from(i / 2);
        assert_eq!(
            table.insert(at(d, 1 + u64::from(i)), v4(1, 2, 3, i), 0, now),
            InsertResult::Inserted
        );
    }
    assert_eq!(
        table.insert(at(240, 1), v4(1, 2, 3, 100), 0, now),
        InsertResult::IpLimited
    );
    assert_eq!(
        table.insert(at(240, 1), v4(1, 2, 4, 100), 0, now),
        InsertResult::Inserted
    );
    assert_eq!(table.len(), 11);
    table.assert_consistent();
}

#[test]
fn lan_addresses_exempt_unless_configured() {
    let now = start();
    let lan = [
        v4(127, 0, 0, 1),
        v4(10, 1, 2, 3),
        v4(172, 16, 0, 1),
        v4(192, 168, 1, 1),
        v4(169, 254, 1, 1),
        v4(0, 0, 0, 0),
        v6("::1"),
        v6("fd00::1"),
        v6("fe80::1"),
    ];
    for ip in lan {
        let mut exempt = new_table();
        let config = Config {
            ip_limits: Some(IpLimits {
                exempt_lan: false,
                ..IpLimits::default()
            }),
            ..Config::default()
        };
        let mut counted = Table::new(NodeId([0; 32]), config);
        for n in 0..12 {
            assert_eq!(
                exempt.insert(at(256, n), ip, 0, now),
                InsertResult::Inserted,
                "{ip:?}"
            );
            let expected = if n < 2 {
                InsertResult::Inserted
            } else {
                InsertResult::IpLimited
            };
            assert_eq!(counted.insert(at(256, n), ip, 0, now), expected, "{ip:?}");
        }
        exempt.assert_consistent();
        counted.assert_consistent();
    }
    // Public addresses next to the private ranges are counted.
    for ip in [v4(172, 32, 0, 1), v4(11, 0, 0, 1), v6("2001:db8::1")] {
        let mut table = new_table();
        table.insert(at(256, 0), ip, 0, now);
        table.insert(at(256, 1), ip, 0, now);
        assert_eq!(
            table.insert(at(256, 2), ip, 0, now),
            InsertResult::IpLimited,
            "{ip:?}"
        );
    }
}

#[test]
fn no_ip_limits() {
    let now = start();
    let mut table = Table::new(
        NodeId([0; 32]),
        Config {
            ip_limits: None,
            ..Config::default()
        },
    );
    for n in 0..16 {
        assert_eq!(
            table.insert(at(256, n), v4(1, 2, 3, 4), (), now),
            InsertResult::Inserted
        );
    }
    table.assert_consistent();
}

#[test]
fn ipv6_counts_per_48() {
    let now = start();
    let mut table = new_table();
    assert_eq!(
        table.insert(at(256, 1), v6("2001:db8:0:1::1"), 0, now),
        InsertResult::Inserted
    );
    assert_eq!(
        table.insert(at(256, 2), v6("2001:db8:0:2::2"), 0, now),
        InsertResult::Inserted
    );
    // Another /64, the same /48: over the limit.
    let same_48 = v6("2001:db8:0:ffff:ffff:ffff:ffff:ffff");
    assert_eq!(
        table.insert(at(256, 3), same_48, 0, now),
        InsertResult::IpLimited
    );
    assert_eq!(
        table.insert(at(256, 3), v6("2001:db8:1::1"), 0, now),
        InsertResult::Inserted
    );
    table.assert_consistent();
}

#[test]
fn ip_change_rechecks_limits() {
    let now = start();
    let mut table = new_table();
    table.insert(at(256, 1), v4(1, 2, 3, 1), 1, now);
    table.insert(at(256, 2), v4(1, 2, 3, 2), 2, now);
    table.insert(at(256, 3), v4(5, 6, 7, 8), 3, now);
    // Moving the third into the full /24 is refused and changes nothing.
    assert_eq!(
        table.insert(at(256, 3), v4(1, 2, 3, 3), 30, now),
        InsertResult::IpLimited
    );
    let entry = table.get(&at(256, 3)).unwrap();
    assert_eq!((entry.ip, entry.value), (v4(5, 6, 7, 8), 3));
    // Within its own /24, or to no IP, it may move.
    assert_eq!(
        table.insert(at(256, 3), v4(5, 6, 7, 9), 31, now),
        InsertResult::Updated
    );
    assert_eq!(
        table.insert(at(256, 1), v4(1, 2, 3, 9), 11, now),
        InsertResult::Updated
    );
    assert_eq!(
        table.insert(at(256, 1), None, 12, now),
        InsertResult::Updated
    );
    // That freed a slot in 1.2.3.0/24.
    assert_eq!(
        table.insert(at(256, 3), v4(1, 2, 3, 3), 32, now),
        InsertResult::Updated
    );
    assert_eq!(table.get(&at(256, 3)).unwrap().ip, v4(1, 2, 3, 3));
    table.assert_consistent();

    // The table limit is re-checked too.
    let mut table = new_table();
    for i in 0..10u8 {
        table.insert(at(200 + u16::from(i), 1), v4(9, 9, 9, i), 0, now);
    }
    table.insert(at(256, 1), v4(8, 8, 8, 8), 0, now);
    assert_eq!(
        table.insert(at(256, 1), v4(9, 9, 9, 99), 0, now),
        InsertResult::IpLimited
    );
    table.assert_consistent();
}

#[test]
fn removing_frees_the_ip_slot() {
    let now = start();
    let mut table = new_table();
    table.insert(at(256, 1), v4(1, 2, 3, 1), 0, now);
    table.insert(at(256, 2), v4(1, 2, 3, 2), 0, now);
    assert_eq!(
        table.insert(at(256, 3), v4(1, 2, 3, 3), 0, now),
        InsertResult::IpLimited
    );
    table.remove(&at(256, 1)).unwrap();
    assert_eq!(
        table.insert(at(256, 3), v4(1, 2, 3, 3), 0, now),
        InsertResult::Inserted
    );

    // And in the table count.
    let mut table = new_table();
    for i in 0..10u8 {
        table.insert(at(200 + u16::from(i), 1), v4(9, 9, 9, i), 0, now);
    }
    assert_eq!(
        table.insert(at(256, 1), v4(9, 9, 9, 99), 0, now),
        InsertResult::IpLimited
    );
    table.remove(&at(205, 1)).unwrap();
    assert_eq!(
        table.insert(at(256, 1), v4(9, 9, 9, 99), 0, now),
        InsertResult::Inserted
    );
    table.assert_consistent();
}

#[test]
fn replacement_caches_count_against_the_ip_limits() {
    let now = start();
    let mut table = new_table();
    table.insert(at(256, 0), v4(1, 2, 3, 1), 0, now);
    for n in 1..16 {
        table.insert(at(256, n), None, 0, now);
    }
    // One of 1.2.3.0/24 in the bucket: one more may wait in its cache, not two.
    assert_eq!(
        table.insert(at(256, 100), v4(1, 2, 3, 2), 0, now),
        InsertResult::Pending
    );
    assert_eq!(
        table.insert(at(256, 101), v4(1, 2, 3, 3), 0, now),
        InsertResult::IpLimited
    );
    assert_eq!(ids(table.replacements(256)), [at(256, 100)]);
    // A cached node moving into a full range stays cached, at its old address.
    table.insert(at(256, 102), v4(5, 5, 5, 1), 0, now);
    assert_eq!(
        table.insert(at(256, 102), v4(1, 2, 3, 4), 0, now),
        InsertResult::IpLimited
    );
    assert_eq!(table.replacement(&at(256, 102)).unwrap().ip, v4(5, 5, 5, 1));
    // The cached node is counted: promoting it changes no count.
    assert_eq!(
        table.remove(&at(256, 1)).unwrap().promoted,
        Some(at(256, 102))
    );
    assert_eq!(
        table.remove(&at(256, 2)).unwrap().promoted,
        Some(at(256, 100))
    );
    table.assert_consistent();

    // Table-wide too: ten of 9.9.9.0/24 in caches of ten full buckets, and no eleventh.
    let mut table = new_table();
    for d in 240..=250u16 {
        for n in 0..16 {
            table.insert(at(d, n), None, 0, now);
        }
        let cached = table.insert(at(d, 100), v4(9, 9, 9, d as u8), 0, now);
        let expected = if d < 250 {
            InsertResult::Pending
        } else {
            InsertResult::IpLimited
        };
        assert_eq!(cached, expected, "distance {d}");
    }
    // A node dropped from a full cache frees its count.
    for n in 101..=110 {
        table.insert(at(240, n), None, 0, now);
    }
    assert!(table.replacement(&at(240, 100)).is_none());
    assert_eq!(
        table.insert(at(250, 100), v4(9, 9, 9, 250), 0, now),
        InsertResult::Pending
    );
    table.assert_consistent();
}
