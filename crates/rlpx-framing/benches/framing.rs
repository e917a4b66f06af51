//! Framing throughput, ours against its floor in the same run: encoding and decoding messages of
//! 64 B, 1 KiB and 1 MiB, next to the raw cost the work cannot go below (AES-256-CTR over the
//! bytes and keccak256 absorbing them for the MAC), where the floor's keccak is the one the codec
//! was built with: `tiny-keccak` by default, `sha3` or `keccak-asm` with their features. The keccak
//! implementations on crates.io are measured side by side too (`sha3`, `tiny-keccak`,
//! `keccak-asm`). `cargo bench -p devp2p-rlpx-framing` measures the default build; `cargo xtask
//! bench rlpx-framing` builds with all features and prints the ratios (ours/floor as a fraction).
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
    BatchSize, BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main,
    measurement::WallTime,
};
use ctr::{
    Ctr128BE,
    cipher::{KeyIvInit, StreamCipher},
};
use devp2p_ecies::{MacInit, Secrets};
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
        egress_mac: MacInit {
            seed: [0x33; 32],
            message: egress.to_vec(),
        },
        ingress_mac: MacInit {
            seed: [0x33; 32],
            message: ingress.to_vec(),
        },
    }
}

/// The keccak256 the codec was built with (see src/keccak.rs for the precedence).
#[derive(Clone)]
struct CodecKeccak {
    #[cfg(feature = "asm-keccak")]
    inner: keccak_asm::Keccak256,
    #[cfg(all(feature = "sha3-keccak", not(feature = "asm-keccak")))]
    inner: Keccak256,
    #[cfg(not(any(feature = "sha3-keccak", feature = "asm-keccak")))]
    inner: tiny_keccak::Keccak,
}

impl CodecKeccak {
    fn new() -> Self {
        Self {
            #[cfg(feature = "asm-keccak")]
            inner: <keccak_asm::Keccak256 as keccak_asm::Digest>::new(),
            #[cfg(all(feature = "sha3-keccak", not(feature = "asm-keccak")))]
            inner: Keccak256::new(),
            #[cfg(not(any(feature = "sha3-keccak", feature = "asm-keccak")))]
            inner: tiny_keccak::Keccak::v256(),
        }
    }

    fn update(&mut self, data: &[u8]) {
        #[cfg(feature = "asm-keccak")]
        keccak_asm::Digest::update(&mut self.inner, data);
        #[cfg(all(feature = "sha3-keccak", not(feature = "asm-keccak")))]
        Digest::update(&mut self.inner, data);
        #[cfg(not(any(feature = "sha3-keccak", feature = "asm-keccak")))]
        tiny_keccak::Hasher::update(&mut self.inner, data);
    }

    fn digest(data: &[u8]) -> [u8; 32] {
        let mut hash = Self::new();
        hash.update(data);
        let mut out = [0u8; 32];
        #[cfg(feature = "asm-keccak")]
        out.copy_from_slice(&keccak_asm::Digest::finalize(hash.inner));
        #[cfg(all(feature = "sha3-keccak", not(feature = "asm-keccak")))]
        out.copy_from_slice(&hash.inner.finalize());
        #[cfg(not(any(feature = "sha3-keccak", feature = "asm-keccak")))]
        tiny_keccak::Hasher::finalize(hash.inner, &mut out);
        out
    }
}

/// The floor: AES-256-CTR over the padded bytes and keccak256 absorbing them.
struct Floor {
    data: Vec<u8>,
    cipher: Ctr128BE<Aes256>,
    mac: CodecKeccak,
}

impl Floor {
    fn new(size: usize) -> Self {
        Self {
            data: vec![0xab; size.next_multiple_of(16)],
            cipher: Ctr128BE::<Aes256>::new(&[1; 32].into(), &[0; 16].into()),
            mac: CodecKeccak::new(),
        }
    }

    fn run(&mut self) {
        self.cipher.apply_keystream(black_box(&mut self.data));
        self.mac.update(&self.data);
    }

    fn bench(mut self, g: &mut BenchmarkGroup<'_, WallTime>) {
        g.bench_function("floor", |b| b.iter(|| self.run()));
    }
}

/// Encoding and decoding against the floor in alternating rounds (see devp2p-bench-support).
fn paired(label: &str, size: usize, message: &Message) {
    let (rounds, iterations) = if size > 100_000 { (21, 2) } else { (41, 200) };
    let mut tx = RlpxCodec::new(&secrets(b"a", b"b"), 1 << 24);
    let mut out = BytesMut::with_capacity(size + 64);
    let mut floor = Floor::new(size);
    let result = devp2p_bench_support::paired(
        rounds,
        iterations,
        || {
            out.clear();
            tx.encode(black_box(message.clone()), &mut out).unwrap();
        },
        || floor.run(),
    );
    println!("paired encode/{label}: {result}");

    // Consecutive frames of one session, each decoded once, in order.
    let total = (rounds + 1) * iterations as usize;
    let mut tx = RlpxCodec::new(&secrets(b"a", b"b"), 1 << 24);
    let mut frames = Vec::with_capacity(total);
    for _ in 0..total {
        let mut wire = BytesMut::new();
        tx.encode(message.clone(), &mut wire).unwrap();
        frames.push(wire);
    }
    let mut rx = RlpxCodec::new(&secrets(b"b", b"a"), 1 << 24);
    let mut frames = frames.into_iter();
    let result = devp2p_bench_support::paired(
        rounds,
        iterations,
        || {
            let mut input = frames.next().unwrap();
            black_box(rx.decode(&mut input).unwrap().unwrap());
        },
        || floor.run(),
    );
    println!("paired decode/{label}: {result}");
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
        Floor::new(size).bench(&mut g);
        g.finish();

        // Each frame decodes once (the MAC state moves on): every iteration gets a fresh
        // receiver and its own copy of the frame, made outside the measurement.
        let mut g = c.benchmark_group(format!("decode/{label}"));
        g.throughput(Throughput::Bytes(size as u64));
        let mut tx = RlpxCodec::new(&secrets(b"a", b"b"), 1 << 24);
        let mut wire = BytesMut::new();
        tx.encode(message.clone(), &mut wire).unwrap();
        let batch = if size > 100_000 {
            BatchSize::PerIteration
        } else {
            BatchSize::SmallInput
        };
        g.bench_function("ours", |b| {
            b.iter_batched(
                || (RlpxCodec::new(&secrets(b"b", b"a"), 1 << 24), wire.clone()),
                |(mut rx, mut input)| black_box(rx.decode(&mut input).unwrap().unwrap()),
                batch,
            )
        });
        Floor::new(size).bench(&mut g);
        g.finish();

        if devp2p_bench_support::should_run(&format!("encode/{label} decode/{label}")) {
            paired(label, size, &message);
        }
    }

    keccak(c);
}

/// The keccak256 implementations on crates.io, side by side: `ours` is the one the codec uses
/// (`sha3` by default, `keccak-asm` with the `asm-keccak` feature). Two shapes matter for
/// framing: absorbing a large body, and finalizing a copy of a running state (four per frame).
fn keccak(c: &mut Criterion) {
    use tiny_keccak::Hasher;

    let data = vec![0xab; 1 << 20];
    let mut g = c.benchmark_group("keccak256/1MiB");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("ours", |b| b.iter(|| CodecKeccak::digest(black_box(&data))));
    g.bench_function("sha3", |b| b.iter(|| Keccak256::digest(black_box(&data))));
    g.bench_function("tiny-keccak", |b| {
        b.iter(|| {
            let mut k = tiny_keccak::Keccak::v256();
            k.update(black_box(&data));
            let mut out = [0u8; 32];
            k.finalize(&mut out);
            out
        })
    });
    g.bench_function("keccak-asm", |b| {
        b.iter(|| <keccak_asm::Keccak256 as keccak_asm::Digest>::digest(black_box(&data)))
    });
    g.finish();

    if devp2p_bench_support::should_run("keccak256/1MiB") {
        let tiny = |data: &[u8]| {
            let mut k = tiny_keccak::Keccak::v256();
            k.update(data);
            let mut out = [0u8; 32];
            k.finalize(&mut out);
            out
        };
        let asm = |data: &[u8]| <keccak_asm::Keccak256 as keccak_asm::Digest>::digest(data);
        let sha3 = |data: &[u8]| Keccak256::digest(data);
        let vs_sha3 = devp2p_bench_support::paired(
            21,
            10,
            || {
                black_box(tiny(black_box(&data)));
            },
            || {
                black_box(sha3(black_box(&data)));
            },
        );
        println!("paired keccak256/1MiB tiny-keccak/sha3: {vs_sha3}");
        let vs_sha3 = devp2p_bench_support::paired(
            21,
            10,
            || {
                black_box(asm(black_box(&data)));
            },
            || {
                black_box(sha3(black_box(&data)));
            },
        );
        println!("paired keccak256/1MiB keccak-asm/sha3: {vs_sha3}");
    }

    let mut g = c.benchmark_group("keccak256/finalize-copy");
    let state = Keccak256::new().chain_update([1u8; 100]);
    g.bench_function("sha3", |b| b.iter(|| black_box(&state).clone().finalize()));
    let mut tiny = tiny_keccak::Keccak::v256();
    tiny.update(&[1u8; 100]);
    g.bench_function("tiny-keccak", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            black_box(&tiny).clone().finalize(&mut out);
            out
        })
    });
    let asm = <keccak_asm::Keccak256 as keccak_asm::Digest>::new_with_prefix([1u8; 100]);
    g.bench_function("keccak-asm", |b| {
        b.iter(|| keccak_asm::Digest::finalize(black_box(&asm).clone()))
    });
    if devp2p_bench_support::should_run("keccak256/finalize-copy") {
        let result = devp2p_bench_support::paired(
            41,
            2000,
            || {
                let mut out = [0u8; 32];
                black_box(&tiny).clone().finalize(&mut out);
                black_box(out);
            },
            || {
                black_box(black_box(&state).clone().finalize());
            },
        );
        println!("paired keccak256/finalize-copy tiny-keccak/sha3: {result}");
        let result = devp2p_bench_support::paired(
            41,
            2000,
            || {
                black_box(keccak_asm::Digest::finalize(black_box(&asm).clone()));
            },
            || {
                black_box(black_box(&state).clone().finalize());
            },
        );
        println!("paired keccak256/finalize-copy keccak-asm/sha3: {result}");
    }
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
