//! The multiplexer + snappy path on realistic eth payloads, next to snappy alone in the same run.
//! Payloads come from the 600-block chain in `testdata/ethtest/chain.rlp`: a BlockHeaders
//! response of 192 headers, a BlockBodies response of 64 bodies, and a 100-byte announcement.
//!
//! - `send/*`: `Session::send` and `poll_transmit` (route the id, compress), floor: compressing
//!   the payload with snappy;
//! - `receive/*`: `Session::handle_message` and `poll_message` (route, check the announced size,
//!   decompress, queue), floor: decompressing it.
//!
//! `cargo xtask bench p2p-capability` prints the ratios (ours/floor as a fraction); the
//! throughput columns of criterion's own output give MB/s, and messages/s is one over the time.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods
)]

use std::{hint::black_box, time::Duration, time::Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use devp2p_enr::PeerId;
use devp2p_p2p_capability::{Capability, Config, NodeInfo, Session};
use devp2p_rlp_codec::{Header, Rlp};
use devp2p_rlpx_framing::Message;

/// The raw RLP of each block in the chain file.
fn blocks() -> Vec<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/ethtest/chain.rlp"
    );
    let chain = std::fs::read(path).expect("testdata/ethtest/chain.rlp");
    let mut rlp = Rlp::new(&chain);
    let mut blocks = Vec::new();
    while !rlp.is_empty() {
        blocks.push(rlp.raw().unwrap().to_vec());
    }
    blocks
}

/// `[request-id, [items...]]`, as eth/66+ responses are.
fn response(items: &[&[u8]]) -> Vec<u8> {
    let inner = items.concat();
    let mut list = Vec::new();
    Header::list(inner.len()).encode(&mut list);
    list.extend(inner);
    let mut out = Vec::new();
    Header::list(list.len() + 5).encode(&mut out);
    out.extend([0x84, 0x12, 0x34, 0x56, 0x78]);
    out.extend(list);
    out
}

fn payloads() -> Vec<(&'static str, Vec<u8>)> {
    let blocks = blocks();
    let parts: Vec<(Vec<u8>, Vec<u8>)> = blocks
        .iter()
        .map(|block| {
            // A block is [header, transactions, ommers, withdrawals...]: the body is the rest.
            let mut fields = Rlp::new(block).list().unwrap();
            let header = fields.raw().unwrap().to_vec();
            let body = fields.remaining();
            let mut out = Vec::new();
            Header::list(body.len()).encode(&mut out);
            out.extend(body);
            (header, out)
        })
        .collect();
    let headers: Vec<&[u8]> = parts.iter().take(192).map(|(h, _)| &h[..]).collect();
    let bodies: Vec<&[u8]> = parts
        .iter()
        .skip(400)
        .take(64)
        .map(|(_, b)| &b[..])
        .collect();
    // NewPooledTransactionHashes-sized: [types, sizes, [2 hashes]].
    let mut hashes = vec![
        0xf8, 0x4c, 0x82, 0x02, 0x02, 0xc6, 0x82, 0x01, 0x00, 0x82, 0x02, 0x00,
    ];
    hashes.extend([0xf8, 0x42, 0xa0]);
    hashes.extend((0..32u8).map(|i| i.wrapping_mul(37)));
    hashes.push(0xa0);
    hashes.extend((0..32u8).map(|i| i.wrapping_mul(91).wrapping_add(7)));
    vec![
        ("headers", response(&headers)),
        ("bodies", response(&bodies)),
        ("announce", hashes),
    ]
}

fn established() -> (Session, Session, Instant) {
    let now = Instant::now();
    let caps = || {
        vec![
            Capability::new("eth", 68, 17),
            Capability::new("snap", 1, 8),
        ]
    };
    let info = |byte| NodeInfo {
        client_id: "bench".into(),
        listen_port: 0,
        id: PeerId([byte; 64]),
    };
    let mut a = Session::new(Config::default(), info(1), caps(), PeerId([2; 64]), now).unwrap();
    let mut b = Session::new(Config::default(), info(2), caps(), PeerId([1; 64]), now).unwrap();
    b.handle_message(now, a.poll_transmit().unwrap());
    a.handle_message(now, b.poll_transmit().unwrap());
    assert!(a.is_established() && b.is_established() && a.is_compressed());
    (a, b, now)
}

fn mux(c: &mut Criterion) {
    for (label, payload) in payloads() {
        let data = Bytes::from(payload);
        let compressed = snap::raw::Encoder::new().compress_vec(&data).unwrap();

        let mut g = c.benchmark_group(format!("send/{label}"));
        g.throughput(Throughput::Bytes(data.len() as u64));
        let (mut a, _, _) = established();
        g.bench_function("ours", |b| {
            b.iter(|| {
                a.send(0, 0x04, black_box(data.clone())).unwrap();
                a.poll_transmit().unwrap()
            })
        });
        let mut encoder = snap::raw::Encoder::new();
        let mut out = vec![0; snap::raw::max_compress_len(data.len())];
        g.bench_function("floor", |b| {
            b.iter(|| encoder.compress(black_box(&data), &mut out).unwrap())
        });
        g.finish();

        let mut g = c.benchmark_group(format!("receive/{label}"));
        g.throughput(Throughput::Bytes(data.len() as u64));
        let (_, mut receiver, now) = established();
        let wire = Message::new(0x14, compressed.clone());
        g.bench_function("ours", |b| {
            b.iter(|| {
                receiver.handle_message(now, black_box(wire.clone()));
                receiver.poll_message().unwrap()
            })
        });
        let mut decoder = snap::raw::Decoder::new();
        g.bench_function("floor", |b| {
            b.iter(|| decoder.decompress_vec(black_box(&compressed)).unwrap())
        });
        g.finish();
        println!(
            "{label}: {} bytes, {} compressed",
            data.len(),
            compressed.len()
        );
        if devp2p_bench_support::should_run(&format!("send/{label} receive/{label}")) {
            let result = devp2p_bench_support::paired(
                41,
                50,
                || {
                    a.send(0, 0x04, black_box(data.clone())).unwrap();
                    black_box(a.poll_transmit().unwrap());
                },
                || {
                    black_box(encoder.compress(black_box(&data), &mut out).unwrap());
                },
            );
            println!("paired send/{label}: {result}");
            let result = devp2p_bench_support::paired(
                41,
                50,
                || {
                    receiver.handle_message(now, black_box(wire.clone()));
                    black_box(receiver.poll_message().unwrap());
                },
                || {
                    black_box(decoder.decompress_vec(black_box(&compressed)).unwrap());
                },
            );
            println!("paired receive/{label}: {result}");
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = mux
}
criterion_main!(benches);
