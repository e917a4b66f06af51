//! Ours vs `fastrlp` vs `alloy-rlp`, side by side in one run: integers, a list of hashes, real
//! Prague headers from `testdata/ethtest/chain.rlp` as derived structs, and a generic walk of the
//! whole chain. `cargo xtask bench rlp-codec` prints the ratios.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::{hint::black_box, time::Duration};

use alloy_primitives::{Address, B64, B256, Bloom, Bytes, U256};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use devp2p_rlp_codec::{self as ours, Rlp, RlpDecodable, RlpEncodable};

const OURS: &str = "ours";
const FASTRLP: &str = "fastrlp";
const ALLOY: &str = "alloy-rlp";

/// Deterministic pseudo-random numbers (xorshift) with every byte length represented.
fn numbers(n: usize) -> Vec<u64> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> ((i % 8) * 8)
        })
        .collect()
}

type Group<'a> = BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn group<'a>(c: &'a mut Criterion, name: &str, bytes: usize) -> Group<'a> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes as u64));
    g
}

/// Ours against alloy-rlp (the faster peer at decoding) in alternating short rounds, printed
/// beside criterion's results: a burst of load on the shared machine, which can move a
/// criterion ratio by tens of percent, hits both sides of a round alike.
fn paired_vs_alloy<A, B>(name: &str, iterations: u32, ours: impl Fn() -> A, alloy: impl Fn() -> B) {
    if devp2p_bench_support::should_run(name) {
        let result = devp2p_bench_support::paired(
            21,
            iterations,
            || {
                black_box(ours());
            },
            || {
                black_box(alloy());
            },
        );
        println!(
            "paired {name} vs alloy-rlp: {result}; ours at {:.2}x alloy-rlp's speed",
            1.0 / result.ratio
        );
    }
}

/// Benchmarks one library encoding each of `items` into one reused buffer.
fn encode_each<T>(
    g: &mut Group<'_>,
    library: &str,
    items: &[T],
    encode: impl Fn(&T, &mut Vec<u8>),
) {
    let mut out = Vec::new();
    g.bench_function(library, |b| {
        b.iter(|| {
            out.clear();
            for item in black_box(items) {
                encode(item, &mut out);
            }
        })
    });
}

fn integers(c: &mut Criterion) {
    let values = numbers(1000);
    let encoded: Vec<u8> = values.iter().flat_map(ours::encode_to_vec).collect();
    let mut g = group(c, "integers/encode", encoded.len());
    encode_each(&mut g, OURS, &values, |v, out| {
        ours::Encodable::encode(v, out)
    });
    encode_each(&mut g, FASTRLP, &values, |v, out| {
        fastrlp::Encodable::encode(v, out)
    });
    encode_each(&mut g, ALLOY, &values, |v, out| {
        alloy_rlp::Encodable::encode(v, out)
    });
    g.finish();

    let decode_ours = || {
        let mut rlp = Rlp::new(black_box(&encoded));
        let mut sum = 0u64;
        while !rlp.is_empty() {
            sum = sum.wrapping_add(rlp.decode::<u64>().unwrap());
        }
        sum
    };
    let decode_alloy = || {
        let mut buf = black_box(encoded.as_slice());
        let mut sum = 0u64;
        while !buf.is_empty() {
            sum = sum.wrapping_add(<u64 as alloy_rlp::Decodable>::decode(&mut buf).unwrap());
        }
        sum
    };
    let mut g = group(c, "integers/decode", encoded.len());
    g.bench_function(OURS, |b| b.iter(decode_ours));
    g.bench_function(FASTRLP, |b| {
        b.iter(|| {
            let mut buf = black_box(encoded.as_slice());
            let mut sum = 0u64;
            while !buf.is_empty() {
                sum = sum.wrapping_add(<u64 as fastrlp::Decodable>::decode(&mut buf).unwrap());
            }
            sum
        })
    });
    g.bench_function(ALLOY, |b| b.iter(decode_alloy));
    g.finish();
    paired_vs_alloy("integers/decode", 1000, decode_ours, decode_alloy);
}

fn hashes(c: &mut Criterion) {
    let raw: Vec<[u8; 32]> = numbers(4 * 1000)
        .chunks(4)
        .map(|w| {
            let mut h = [0u8; 32];
            for (dst, word) in h.chunks_mut(8).zip(w) {
                dst.copy_from_slice(&word.to_be_bytes());
            }
            h
        })
        .collect();
    let alloy_hashes: Vec<B256> = raw.iter().copied().map(B256::from).collect();
    let encoded = ours::encode_to_vec(&raw);

    let mut g = group(c, "hashes/encode", encoded.len());
    encode_each(&mut g, OURS, &[&raw], |list, out| {
        ours::Encodable::encode(list, out)
    });
    encode_each(&mut g, FASTRLP, &[&raw], |list, out| {
        fastrlp::Encodable::encode(list, out)
    });
    encode_each(&mut g, ALLOY, &[&alloy_hashes], |list, out| {
        alloy_rlp::Encodable::encode(list, out)
    });
    g.finish();

    let decode_ours = || ours::decode_exact::<Vec<[u8; 32]>>(black_box(&encoded)).unwrap();
    let decode_alloy = || alloy_rlp::decode_exact::<Vec<B256>>(black_box(&encoded)).unwrap();
    let mut g = group(c, "hashes/decode", encoded.len());
    g.bench_function(OURS, |b| b.iter(decode_ours));
    g.bench_function(FASTRLP, |b| {
        b.iter(|| {
            <Vec<[u8; 32]> as fastrlp::Decodable>::decode(&mut black_box(encoded.as_slice()))
                .unwrap()
        })
    });
    g.bench_function(ALLOY, |b| b.iter(decode_alloy));
    g.finish();
    paired_vs_alloy("hashes/decode", 500, decode_ours, decode_alloy);
}

/// A Prague header (21 fields), one struct per library with that library's derive.
macro_rules! header {
    ($name:ident, [$($derive:path),*], $h:ty, $a:ty, $bloom:ty, $u:ty, $bytes:ty, $nonce:ty) => {
        #[derive(Debug, PartialEq, $($derive),*)]
        struct $name {
            parent_hash: $h,
            ommers_hash: $h,
            beneficiary: $a,
            state_root: $h,
            transactions_root: $h,
            receipts_root: $h,
            logs_bloom: $bloom,
            difficulty: $u,
            number: u64,
            gas_limit: u64,
            gas_used: u64,
            timestamp: u64,
            extra_data: $bytes,
            mix_hash: $h,
            nonce: $nonce,
            base_fee_per_gas: u64,
            withdrawals_root: $h,
            blob_gas_used: u64,
            excess_blob_gas: u64,
            parent_beacon_block_root: $h,
            requests_hash: $h,
        }
    };
}
header!(
    OurHeader,
    [RlpEncodable, RlpDecodable],
    B256,
    Address,
    Bloom,
    U256,
    Bytes,
    B64
);
header!(
    AlloyHeader,
    [alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable],
    B256,
    Address,
    Bloom,
    U256,
    Bytes,
    B64
);
header!(
    FastHeader,
    [fastrlp::Encodable, fastrlp::Decodable],
    [u8; 32],
    [u8; 20],
    [u8; 256],
    u128,
    bytes::Bytes,
    [u8; 8]
);

/// The raw header of every block in the chain that has all 21 Prague fields.
fn prague_headers(chain: &[u8]) -> Vec<&[u8]> {
    let mut rlp = Rlp::new(chain);
    let mut headers = Vec::new();
    while !rlp.is_empty() {
        let header = rlp.list().unwrap().raw().unwrap();
        if Rlp::new(header)
            .list()
            .unwrap()
            .iter::<ours::Item<'_>>()
            .count()
            == 21
        {
            headers.push(header);
        }
    }
    headers
}

fn headers(c: &mut Criterion, chain: &[u8]) {
    let raw = prague_headers(chain);
    assert!(raw.len() > 100, "only {} Prague headers", raw.len());
    let total: usize = raw.iter().map(|h| h.len()).sum();
    let our_headers: Vec<OurHeader> = raw.iter().map(|h| ours::decode_exact(h).unwrap()).collect();
    let alloy_headers: Vec<AlloyHeader> = raw
        .iter()
        .map(|h| alloy_rlp::decode_exact(h).unwrap())
        .collect();
    let fast_headers: Vec<FastHeader> = raw
        .iter()
        .map(|h| <FastHeader as fastrlp::Decodable>::decode(&mut &h[..]).unwrap())
        .collect();
    let mut g = group(c, "headers/encode", total);
    encode_each(&mut g, OURS, &our_headers, |h, out| {
        ours::Encodable::encode(h, out)
    });
    encode_each(&mut g, FASTRLP, &fast_headers, |h, out| {
        fastrlp::Encodable::encode(h, out)
    });
    encode_each(&mut g, ALLOY, &alloy_headers, |h, out| {
        alloy_rlp::Encodable::encode(h, out)
    });
    g.finish();

    let decode_ours = || {
        for h in black_box(&raw) {
            black_box(ours::decode_exact::<OurHeader>(h).unwrap());
        }
    };
    let decode_alloy = || {
        for h in black_box(&raw) {
            black_box(alloy_rlp::decode_exact::<AlloyHeader>(h).unwrap());
        }
    };
    let mut g = group(c, "headers/decode", total);
    g.bench_function(OURS, |b| b.iter(decode_ours));
    g.bench_function(FASTRLP, |b| {
        b.iter(|| {
            for h in black_box(&raw) {
                black_box(<FastHeader as fastrlp::Decodable>::decode(&mut &h[..]).unwrap());
            }
        })
    });
    g.bench_function(ALLOY, |b| b.iter(decode_alloy));
    g.finish();
    paired_vs_alloy("headers/decode", 20, decode_ours, decode_alloy);
}

/// The generic tree for each peer (ours is `common::Tree`); each decodes a list through its
/// library's own `Vec<T>` impl.
#[derive(Debug, PartialEq)]
enum FastTree {
    Bytes(Vec<u8>),
    List(Vec<Self>),
}

impl fastrlp::Decodable for FastTree {
    fn decode(buf: &mut &[u8]) -> Result<Self, fastrlp::DecodeError> {
        if buf.first().is_some_and(|b| *b >= 0xc0) {
            return Ok(Self::List(fastrlp::Decodable::decode(buf)?));
        }
        let header = fastrlp::Header::decode(buf)?;
        let (payload, rest) = buf
            .split_at_checked(header.payload_length)
            .ok_or(fastrlp::DecodeError::InputTooShort { needed: None })?;
        *buf = rest;
        Ok(Self::Bytes(payload.to_vec()))
    }
}

impl fastrlp::Encodable for FastTree {
    fn encode(&self, out: &mut dyn bytes::BufMut) {
        match self {
            Self::Bytes(b) => fastrlp::Encodable::encode(&b.as_slice(), out),
            Self::List(items) => fastrlp::encode_list::<Self, Self>(items, out),
        }
    }
    fn length(&self) -> usize {
        match self {
            Self::Bytes(b) => fastrlp::Encodable::length(&b.as_slice()),
            Self::List(items) => fastrlp::list_length::<Self, Self>(items),
        }
    }
}

#[derive(Debug, PartialEq)]
enum AlloyTree {
    Bytes(Vec<u8>),
    List(Vec<Self>),
}

impl alloy_rlp::Decodable for AlloyTree {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(if buf.first().is_some_and(|b| *b >= 0xc0) {
            Self::List(alloy_rlp::Decodable::decode(buf)?)
        } else {
            Self::Bytes(alloy_rlp::Header::decode_bytes(buf, false)?.to_vec())
        })
    }
}

impl alloy_rlp::Encodable for AlloyTree {
    fn encode(&self, out: &mut dyn bytes::BufMut) {
        match self {
            Self::Bytes(b) => alloy_rlp::Encodable::encode(b.as_slice(), out),
            Self::List(items) => alloy_rlp::encode_list::<Self, Self>(items, out),
        }
    }
    fn length(&self) -> usize {
        match self {
            Self::Bytes(b) => alloy_rlp::Encodable::length(b.as_slice()),
            Self::List(items) => alloy_rlp::list_length::<Self, Self>(items),
        }
    }
}

/// Counts every item of `rlp` without allocating: ours.
fn walk_ours(rlp: Rlp<'_>) -> usize {
    let mut rlp = rlp;
    let mut n = 0;
    while !rlp.is_empty() {
        n += 1;
        if let ours::Item::List(inner) = rlp.item().unwrap() {
            n += walk_ours(inner);
        }
    }
    n
}

/// Counts every item of `buf` without allocating, with fastrlp's header decoder.
fn walk_fastrlp(mut buf: &[u8]) -> usize {
    let mut n = 0;
    while !buf.is_empty() {
        n += 1;
        let header = fastrlp::Header::decode(&mut buf).unwrap();
        let (payload, rest) = buf.split_at(header.payload_length);
        if header.list {
            n += walk_fastrlp(payload);
        }
        buf = rest;
    }
    n
}

/// Counts every item of `buf` without allocating, with alloy-rlp's header decoder.
fn walk_alloy(mut buf: &[u8]) -> usize {
    let mut n = 0;
    while !buf.is_empty() {
        n += 1;
        let header = alloy_rlp::Header::decode(&mut buf).unwrap();
        let (payload, rest) = buf.split_at(header.payload_length);
        if header.list {
            n += walk_alloy(payload);
        }
        buf = rest;
    }
    n
}

fn chain_walk(c: &mut Criterion, chain: &[u8]) {
    let items = walk_ours(Rlp::new(chain));
    assert_eq!(items, walk_fastrlp(chain));
    assert_eq!(items, walk_alloy(chain));

    let mut g = group(c, "chain/walk", chain.len());
    g.bench_function(OURS, |b| b.iter(|| walk_ours(Rlp::new(black_box(chain)))));
    g.bench_function(FASTRLP, |b| b.iter(|| walk_fastrlp(black_box(chain))));
    g.bench_function(ALLOY, |b| b.iter(|| walk_alloy(black_box(chain))));
    g.finish();
    paired_vs_alloy(
        "chain/walk",
        20,
        || walk_ours(Rlp::new(black_box(chain))),
        || walk_alloy(black_box(chain)),
    );

    let decode_ours = |input: &[u8]| {
        let mut rlp = Rlp::new(input);
        let mut blocks = Vec::new();
        while !rlp.is_empty() {
            blocks.push(rlp.decode::<common::Tree>().unwrap());
        }
        blocks
    };
    let decode_fast = |mut input: &[u8]| {
        let mut blocks = Vec::new();
        while !input.is_empty() {
            blocks.push(<FastTree as fastrlp::Decodable>::decode(&mut input).unwrap());
        }
        blocks
    };
    let decode_alloy = |mut input: &[u8]| {
        let mut blocks = Vec::new();
        while !input.is_empty() {
            blocks.push(<AlloyTree as alloy_rlp::Decodable>::decode(&mut input).unwrap());
        }
        blocks
    };
    let mut g = group(c, "chain/decode", chain.len());
    g.bench_function(OURS, |b| b.iter(|| decode_ours(black_box(chain))));
    g.bench_function(FASTRLP, |b| b.iter(|| decode_fast(black_box(chain))));
    g.bench_function(ALLOY, |b| b.iter(|| decode_alloy(black_box(chain))));
    g.finish();
    paired_vs_alloy(
        "chain/decode",
        2,
        || decode_ours(black_box(chain)),
        || decode_alloy(black_box(chain)),
    );

    let (our_tree, fast_tree, alloy_tree) =
        (decode_ours(chain), decode_fast(chain), decode_alloy(chain));
    let mut check = Vec::new();
    our_tree
        .iter()
        .for_each(|block| ours::Encodable::encode(block, &mut check));
    assert!(check == chain, "ours does not reproduce the chain");
    check.clear();
    fast_tree
        .iter()
        .for_each(|block| fastrlp::Encodable::encode(block, &mut check));
    assert!(check == chain, "fastrlp does not reproduce the chain");
    check.clear();
    alloy_tree
        .iter()
        .for_each(|block| alloy_rlp::Encodable::encode(block, &mut check));
    assert!(check == chain, "alloy-rlp does not reproduce the chain");
    let mut g = group(c, "chain/encode", chain.len());
    encode_each(&mut g, OURS, &our_tree, |block, out| {
        ours::Encodable::encode(block, out)
    });
    encode_each(&mut g, FASTRLP, &fast_tree, |block, out| {
        fastrlp::Encodable::encode(block, out)
    });
    encode_each(&mut g, ALLOY, &alloy_tree, |block, out| {
        alloy_rlp::Encodable::encode(block, out)
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    let chain =
        std::fs::read(common::testdata("ethtest/chain.rlp")).expect("testdata/ethtest/chain.rlp");
    integers(c);
    hashes(c);
    headers(c, &chain);
    chain_walk(c, &chain);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = all
}
criterion_main!(benches);
