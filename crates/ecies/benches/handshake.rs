//! Handshake cost against its floor in the same run: a complete initiator–recipient pair in
//! memory (auth, ack, secrets on both sides) next to the secp256k1 operations such a pair cannot
//! do without, counted below and each measured on its own too (group `k256`).
//!
//! An EIP-8 pair needs, over both sides:
//! - 4 key generations: both handshake ephemerals and both ECIES ephemerals;
//! - 3 fixed-base multiplications: the recipient's ephemeral public key (sent in ack) and the
//!   two ECIES ephemeral public keys;
//! - 8 ECDH: per side, the static shared secret, ECIES encrypt, ECIES decrypt and the ephemeral
//!   shared secret;
//! - 1 RFC 6979 signature (initiator) and 1 public key recovery (recipient);
//! - 5 public key parses with their curve check: the remote static key (initiator), the two
//!   ECIES ephemerals, the auth's static key and the ack's ephemeral key.
//!
//! `cargo xtask bench ecies` prints the ratio (ours/floor as a fraction); the line starting
//! `paired` gives it measured in alternating rounds, which shared machines disturb less.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::{hint::black_box, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use devp2p_ecies::{Config, Format, Handshake, HandshakeKeys, NodeKey};
use ecdsa::hazmat::sign_prehashed_rfc6979;
use k256::{
    PublicKey, Secp256k1, SecretKey,
    ecdh::diffie_hellman,
    ecdsa::VerifyingKey,
    elliptic_curve::{Generate, sec1::ToSec1Point},
};
use rand_core::{TryCryptoRng, TryRng};
use sha2::Sha256;

/// SplitMix64: fast deterministic randomness, so the RNG does not weigh on either side.
struct Rng(u64);

impl TryRng for Rng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}
impl TryCryptoRng for Rng {}

fn pair(
    rng: &mut Rng,
    config: &Config,
    initiator_key: &NodeKey,
    recipient_key: &NodeKey,
) -> [u8; 32] {
    let mut initiator = Handshake::initiator(
        config.clone(),
        HandshakeKeys::generate(initiator_key.clone(), rng),
        recipient_key.id(),
        rng,
    )
    .unwrap();
    let mut recipient = Handshake::recipient(
        config.clone(),
        HandshakeKeys::generate(recipient_key.clone(), rng),
    );
    recipient
        .handle_bytes(&initiator.poll_transmit().unwrap(), rng)
        .unwrap();
    initiator
        .handle_bytes(&recipient.poll_transmit().unwrap(), rng)
        .unwrap();
    let (ours, _) = initiator.take_secrets().unwrap();
    let (theirs, _) = recipient.take_secrets().unwrap();
    assert_eq!(ours.aes_secret, theirs.aes_secret);
    ours.aes_secret
}

/// Inputs for the floor's operations, made outside the measurement.
struct Operands {
    secret: SecretKey,
    public: PublicKey,
    encoded: Vec<u8>,
    prehash: [u8; 32],
    signature: k256::ecdsa::Signature,
    recovery: k256::ecdsa::RecoveryId,
}

impl Operands {
    fn new(rng: &mut Rng) -> Self {
        let secret = SecretKey::generate_from_rng(rng);
        let public = SecretKey::generate_from_rng(rng).public_key();
        let prehash = [0x5a; 32];
        let (signature, recovery) =
            sign_prehashed_rfc6979::<Secp256k1, Sha256>(&secret.to_nonzero_scalar(), &prehash, &[]);
        Self {
            encoded: public.to_sec1_point(false).as_bytes().to_vec(),
            secret,
            public,
            prehash,
            signature,
            recovery,
        }
    }

    fn keygen(&self, rng: &mut Rng) -> SecretKey {
        SecretKey::generate_from_rng(rng)
    }

    fn base_mul(&self) -> PublicKey {
        self.secret.public_key()
    }

    fn ecdh(&self) -> [u8; 32] {
        let shared = diffie_hellman(self.secret.to_nonzero_scalar(), self.public.as_affine());
        (*shared.raw_secret_bytes()).into()
    }

    fn sign(&self) -> k256::ecdsa::Signature {
        sign_prehashed_rfc6979::<Secp256k1, Sha256>(
            &self.secret.to_nonzero_scalar(),
            &self.prehash,
            &[],
        )
        .0
    }

    fn recover(&self) -> VerifyingKey {
        VerifyingKey::recover_from_prehash(&self.prehash, &self.signature, self.recovery).unwrap()
    }

    fn parse(&self) -> PublicKey {
        PublicKey::from_sec1_bytes(&self.encoded).unwrap()
    }
}

/// The k256 operations of one EIP-8 pair, counted in the module documentation.
fn floor(ops: &Operands, rng: &mut Rng) {
    for _ in 0..4 {
        black_box(ops.keygen(rng));
    }
    for _ in 0..3 {
        black_box(ops.base_mul());
    }
    for _ in 0..8 {
        black_box(ops.ecdh());
    }
    black_box(ops.sign());
    black_box(ops.recover());
    for _ in 0..5 {
        black_box(ops.parse());
    }
}

fn handshake(c: &mut Criterion) {
    let mut rng = Rng(1);
    let initiator_key = NodeKey::new(SecretKey::generate_from_rng(&mut rng));
    let recipient_key = NodeKey::new(SecretKey::generate_from_rng(&mut rng));
    let ops = Operands::new(&mut rng);

    let mut g = c.benchmark_group("k256");
    g.bench_function("keygen", |b| b.iter(|| ops.keygen(&mut rng)));
    g.bench_function("base-mul", |b| b.iter(|| black_box(&ops).base_mul()));
    g.bench_function("ecdh", |b| b.iter(|| black_box(&ops).ecdh()));
    g.bench_function("sign", |b| b.iter(|| black_box(&ops).sign()));
    g.bench_function("recover", |b| b.iter(|| black_box(&ops).recover()));
    g.bench_function("parse", |b| b.iter(|| black_box(&ops).parse()));
    g.finish();

    let eip8 = Config::default();
    let mut g = c.benchmark_group("handshake/eip8-pair");
    g.bench_function("ours", |b| {
        b.iter(|| pair(&mut rng, &eip8, &initiator_key, &recipient_key))
    });
    g.bench_function("floor", |b| b.iter(|| floor(black_box(&ops), &mut rng)));
    g.finish();
    if devp2p_bench_support::should_run("handshake/eip8-pair") {
        let mut rng2 = Rng(2);
        let result = devp2p_bench_support::paired(
            41,
            10,
            || {
                black_box(pair(&mut rng, &eip8, &initiator_key, &recipient_key));
            },
            || floor(black_box(&ops), &mut rng2),
        );
        println!("paired handshake/eip8-pair: {result}");
    }

    // The legacy format adds one fixed-base multiplication (the hash of the initiator's
    // ephemeral key goes into auth): only ours is measured, for comparison with EIP-8.
    let legacy = Config {
        format: Format::Legacy,
        ..Config::default()
    };
    let mut g = c.benchmark_group("handshake/legacy-pair");
    g.bench_function("ours", |b| {
        b.iter(|| pair(&mut rng, &legacy, &initiator_key, &recipient_key))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = handshake
}
criterion_main!(benches);
