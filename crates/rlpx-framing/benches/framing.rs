//! Framing throughput, ours against its floor in the same run: encoding and decoding messages of
//! 64 B, 1 KiB and 1 MiB, next to the raw cost the work cannot go below (AES-256-CTR over the
//! bytes and keccak256 absorbing them for the MAC). The keccak implementations on crates.io are
//! measured side by side too: `sha3` (what the codec uses) and `keccak-asm`.
//! `cargo xtask bench rlpx-framing` prints the ratios (for the floors, ours/floor as a fraction).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::{hint::black_box, time::Duration};

use aes::Aes256;
use bytes::BytesMut;
use criterion::{
    BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use ctr::{
    Ctr128BE,
    cipher::{KeyIvInit, StreamCipher},
};
use devp2p_ecies::Secrets;
use devp2p_enr::PeerId;
use devp2p_rlpx_framing::{Message, RlpxCodec};
use sha3::{Digest, Keccak256};
use tokio_util::codec::{Decoder, Encoder};

const SIZES: [(&str, usize); 3] = [("64B", 64), ("1KiB", 1024), ("1MiB", 1 << 20)];

fn secrets(egress: &[u8], ingress: &[u8]) -> Secrets {
    Secrets {
        remote_id: PeerId([7; 64]),
        aes_secret: [1; 32],
        mac_secret: [2; 32],
        egress_mac: Keccak256::new().chain_update(egress),
        ingress_mac: Keccak256::new().chain_update(ingress),
    }
}

/// The floor: AES-256-CTR over the padded bytes and keccak256 absorbing them.
fn floor(g: &mut BenchmarkGroup<'_, WallTime>, size: usize) {
    let mut data = vec![0xab; size.next_multiple_of(16)];
    let mut cipher = Ctr128BE::<Aes256>::new(&[1; 32].into(), &[0; 16].into());
    let mut mac = Keccak256::new();
    g.bench_function("floor", |b| {
        b.iter(|| {
            cipher.apply_keystream(black_box(&mut data));
            mac.update(&data);
        })
    });
}

fn framing(c: &mut Criterion) {
    for (label, size) in SIZES {
        let message = Message::new(0x10, vec![0xab; size]);

        let mut g = c.benchmark_group(format!("encode/{label}"));
        g.throughput(Throughput::Bytes(size as u64));
        let mut tx = RlpxCodec::new(&secrets(b"a", b"b"), 1 << 24);
        let mut out = BytesMut::with_capacity(size + 64);
        g.bench_function("ours", |b| {
            b.iter(|| {
                out.clear();
                tx.encode(black_box(message.clone()), &mut out).unwrap();
            })
        });
        floor(&mut g, size);
        g.finish();

        // Each frame decodes once (the MAC state moves on): decode from a batch, and start a
        // fresh receiver on the same batch when it runs out.
        let mut g = c.benchmark_group(format!("decode/{label}"));
        g.throughput(Throughput::Bytes(size as u64));
        let frames = if size > 100_000 { 64 } else { 4096 };
        let mut tx = RlpxCodec::new(&secrets(b"a", b"b"), 1 << 24);
        let mut wire = BytesMut::new();
        for _ in 0..frames {
            tx.encode(message.clone(), &mut wire).unwrap();
        }
        let mut rx = RlpxCodec::new(&secrets(b"b", b"a"), 1 << 24);
        let mut input = wire.clone();
        g.bench_function("ours", |b| {
            b.iter(|| {
                if input.is_empty() {
                    rx = RlpxCodec::new(&secrets(b"b", b"a"), 1 << 24);
                    input = wire.clone();
                }
                black_box(rx.decode(&mut input).unwrap().unwrap());
            })
        });
        floor(&mut g, size);
        g.finish();
    }

    // keccak256 implementations over 1 MiB: `ours` is the `sha3` crate the codec uses.
    let data = vec![0xab; 1 << 20];
    let mut g = c.benchmark_group("keccak256/1MiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("ours", |b| b.iter(|| Keccak256::digest(black_box(&data))));
    g.bench_function("keccak-asm", |b| {
        b.iter(|| <keccak_asm::Keccak256 as keccak_asm::Digest>::digest(black_box(&data)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = framing
}
criterion_main!(benches);
