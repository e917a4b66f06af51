//! Decoding and encoding all 600 headers and all 600 bodies of `testdata/ethtest/chain.rlp` as
//! eth messages (BlockHeaders, BlockBodies), next to the floor in the same run: a generic walk
//! of the same bytes that visits every RLP item without building anything.
//! `cargo xtask bench eth-wire` prints the ratios; the `paired` lines measure them in
//! alternating rounds (see devp2p-bench-support).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::{hint::black_box, time::Duration};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use devp2p_eth_wire::{Block, BlockBodies, BlockHeaders, EthMessage, EthVersion, id};
use devp2p_rlp_codec::{Item, Rlp, decode_exact};

/// Counts every item, descending into lists.
fn walk(mut rlp: Rlp<'_>) -> usize {
    let mut n = 0;
    while !rlp.is_empty() {
        n += 1;
        if let Item::List(inner) = rlp.item().unwrap() {
            n += walk(inner);
        }
    }
    n
}

fn messages() -> [(&'static str, u8, EthMessage); 2] {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/ethtest/chain.rlp"
    ))
    .unwrap();
    let mut rlp = Rlp::new(&bytes);
    let mut blocks: Vec<Block> = Vec::new();
    while !rlp.is_empty() {
        blocks.push(decode_exact(rlp.raw().unwrap()).unwrap());
    }
    [
        (
            "headers",
            id::BLOCK_HEADERS,
            EthMessage::BlockHeaders(BlockHeaders {
                request_id: 1,
                headers: blocks.iter().map(|b| b.header.clone()).collect(),
            }),
        ),
        (
            "bodies",
            id::BLOCK_BODIES,
            EthMessage::BlockBodies(BlockBodies {
                request_id: 1,
                bodies: blocks.iter().map(Block::body).collect(),
            }),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let version = EthVersion::Eth69;
    for (label, message_id, message) in messages() {
        let data = message.encode(version).unwrap();
        println!(
            "{label}: {} bytes, {} items",
            data.len(),
            walk(Rlp::new(&data))
        );

        let mut g = c.benchmark_group(format!("{label}/decode"));
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("ours", |b| {
            b.iter(|| EthMessage::decode(version, message_id, black_box(&data)).unwrap())
        });
        g.bench_function("floor", |b| b.iter(|| walk(Rlp::new(black_box(&data)))));
        g.finish();

        let mut g = c.benchmark_group(format!("{label}/encode"));
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("ours", |b| {
            b.iter(|| black_box(&message).encode(version).unwrap())
        });
        g.bench_function("floor", |b| b.iter(|| walk(Rlp::new(black_box(&data)))));
        g.finish();

        if devp2p_bench_support::should_run(&format!("{label}/decode {label}/encode")) {
            let decode = devp2p_bench_support::paired(
                41,
                20,
                || {
                    black_box(EthMessage::decode(version, message_id, black_box(&data)).unwrap());
                },
                || {
                    black_box(walk(Rlp::new(black_box(&data))));
                },
            );
            println!("paired {label}/decode: {decode}");
            let encode = devp2p_bench_support::paired(
                41,
                20,
                || {
                    black_box(black_box(&message).encode(version).unwrap());
                },
                || {
                    black_box(walk(Rlp::new(black_box(&data))));
                },
            );
            println!("paired {label}/encode: {encode}");
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = bench
}
criterion_main!(benches);
