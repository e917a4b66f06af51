//! Inbound packet cost against its floor in the same run: `wire::decode` (size check, hash
//! check, RLP, public-key recovery) next to the bare k256 public-key recovery of the same
//! signatures, which every discv4 packet needs and nothing can avoid.
//!
//! `cargo xtask bench discv4` prints packets per second of each and their ratio; the `paired`
//! line measures both in alternating rounds, which shared machines disturb less. Then the wall
//! time of the 500-node simulation of `tests/simulation.rs` (bootstrap and 50 lookups, no loss).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods
)]

#[path = "../tests/sim/mod.rs"]
mod sim;

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput, criterion_group};
use devp2p_discv4::{
    Endpoint, FindNode, Message, Neighbours, NodeRecord, PeerId, Ping, SigningKey, wire,
};
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use sha3::{Digest, Keccak256};

/// A realistic inbound mix, each signed by a different key: Pings, FINDNODEs and full
/// Neighbours packets.
fn packets() -> Vec<Vec<u8>> {
    let endpoint = Endpoint {
        ip: [10, 0, 0, 1].into(),
        udp_port: 30303,
        tcp_port: 30303,
    };
    (1..=48u8)
        .map(|i| {
            let key = SigningKey::from_slice(&[i; 32]).unwrap();
            let message = match i % 3 {
                0 => Message::Ping(Ping {
                    version: 4,
                    from: endpoint,
                    to: endpoint,
                    expiration: 1_900_000_000,
                    enr_seq: Some(3),
                }),
                1 => Message::FindNode(FindNode {
                    target: PeerId([i; 64]),
                    expiration: 1_900_000_000,
                }),
                _ => Message::Neighbours(Neighbours {
                    nodes: (0..12)
                        .map(|n| NodeRecord {
                            id: PeerId([n; 64]),
                            ip: [10, 0, n, 1].into(),
                            tcp_port: 30303,
                            udp_port: 30303,
                        })
                        .collect(),
                    expiration: 1_900_000_000,
                }),
            };
            message.encode(&key).0
        })
        .collect()
}

/// What the floor needs per packet: the signed digest and the signature, prepared up front.
fn signatures(packets: &[Vec<u8>]) -> Vec<([u8; 32], Signature, RecoveryId)> {
    packets
        .iter()
        .map(|p| {
            let digest: [u8; 32] = Keccak256::digest(&p[97..]).into();
            let signature = Signature::from_slice(&p[32..96]).unwrap();
            (digest, signature, RecoveryId::from_byte(p[96]).unwrap())
        })
        .collect()
}

fn decode_all(packets: &[Vec<u8>]) {
    for packet in packets {
        black_box(wire::decode(black_box(packet)).unwrap());
    }
}

fn recover_all(signatures: &[([u8; 32], Signature, RecoveryId)]) {
    for (digest, signature, recovery) in signatures {
        black_box(
            VerifyingKey::recover_from_prehash(black_box(digest), signature, *recovery).unwrap(),
        );
    }
}

fn bench(c: &mut Criterion) {
    let packets = packets();
    let signatures = signatures(&packets);
    let mut group = c.benchmark_group("inbound-packets");
    group.throughput(Throughput::Elements(packets.len() as u64));
    group.bench_function("ours", |b| b.iter(|| decode_all(&packets)));
    group.bench_function("k256-recover", |b| b.iter(|| recover_all(&signatures)));
    group.finish();

    if devp2p_bench_support::should_run("inbound-packets") {
        let result = devp2p_bench_support::paired(
            31,
            10,
            || decode_all(&packets),
            || recover_all(&signatures),
        );
        let per_second = |d: Duration| packets.len() as f64 / d.as_secs_f64();
        println!(
            "paired inbound-packets: {result}; ours {:.0} packets/s, floor {:.0} recoveries/s, ours at {:.3}x the floor's rate",
            per_second(result.ours),
            per_second(result.floor),
            1.0 / result.ratio
        );
    }
}

/// The simulation runs once: a run takes tens of seconds, too long for criterion's samples.
fn simulation() {
    if !devp2p_bench_support::should_run("simulation") {
        return;
    }
    let started = Instant::now();
    let mut sim = sim::Sim::new(500, 0, 7);
    sim.bootstrap(Duration::from_secs(30));
    let bootstrapped = started.elapsed();
    for n in 0..50 {
        let target = sim.random_target();
        black_box(sim.lookup(1 + n * 7, target));
    }
    let total = started.elapsed();
    println!(
        "simulation: 500 nodes, bootstrap {:.1} s + 50 lookups {:.1} s = {:.1} s wall, {} datagrams ({:.0} per second, each signed and verified)",
        bootstrapped.as_secs_f64(),
        (total - bootstrapped).as_secs_f64(),
        total.as_secs_f64(),
        sim.delivered(),
        sim.delivered() as f64 / total.as_secs_f64()
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
fn main() {
    benches();
    simulation();
    Criterion::default().configure_from_args().final_summary();
}
