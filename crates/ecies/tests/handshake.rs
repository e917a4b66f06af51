//! Our initiator against our recipient in memory, both formats, fed whole or byte by byte; and
//! every kind of bad input, each a typed error.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use devp2p_ecies::{
    Config, EciesError, Format, Handshake, HandshakeError, HandshakeKeys, MAX_HANDSHAKE_SIZE,
    NodeKey, Secrets, decrypt, encrypt, read_auth,
};
use devp2p_enr::PeerId;
use k256::SecretKey;
use rand_core::{TryCryptoRng, TryRng};
use sha3::{Digest, Keccak256};

/// Deterministic randomness for tests: keccak256 of a counter.
struct TestRng(u64);

impl TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(32) {
            self.0 += 1;
            let block = Keccak256::digest(self.0.to_be_bytes());
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}
impl TryCryptoRng for TestRng {}

fn secret(byte: u8) -> SecretKey {
    SecretKey::from_slice(&[byte; 32]).unwrap()
}

fn pair(format: Format, rng: &mut TestRng) -> (Handshake, Handshake) {
    let config = Config {
        format,
        ..Config::default()
    };
    let bob_id = PeerId::from_public_key(&secret(2).public_key());
    let alice = Handshake::initiator(
        config.clone(),
        HandshakeKeys::generate(NodeKey::new(secret(1)), rng),
        &bob_id,
        rng,
    )
    .unwrap();
    let bob = Handshake::recipient(
        config,
        HandshakeKeys::generate(NodeKey::new(secret(2)), rng),
    );
    (alice, bob)
}

fn assert_matching(alice: &Secrets, bob: &Secrets) {
    assert_eq!(alice.aes_secret, bob.aes_secret);
    assert_eq!(alice.mac_secret, bob.mac_secret);
    assert_eq!(alice.egress_mac, bob.ingress_mac);
    assert_eq!(alice.ingress_mac, bob.egress_mac);
    assert_ne!(alice.egress_mac, alice.ingress_mac);
    assert_eq!(
        alice.remote_id,
        PeerId::from_public_key(&secret(2).public_key())
    );
    assert_eq!(
        bob.remote_id,
        PeerId::from_public_key(&secret(1).public_key())
    );
}

/// The session secrets are overwritten when dropped (`ZeroizeOnDrop`), and `zeroize` clears
/// every secret byte, MAC seeds and handshake messages included.
#[test]
fn secrets_are_cleared() {
    use devp2p_ecies::MacInit;
    use zeroize::{Zeroize, ZeroizeOnDrop};
    fn cleared_on_drop<T: ZeroizeOnDrop>() {}
    cleared_on_drop::<Secrets>();
    cleared_on_drop::<MacInit>();
    let mac = |byte: u8| MacInit {
        seed: [byte; 32],
        message: vec![byte; 10],
    };
    let mut secrets = Secrets {
        remote_id: PeerId::from_public_key(&secret(2).public_key()),
        aes_secret: [1; 32],
        mac_secret: [2; 32],
        egress_mac: mac(3),
        ingress_mac: mac(4),
    };
    secrets.zeroize();
    for bytes in [
        secrets.aes_secret,
        secrets.mac_secret,
        secrets.egress_mac.seed,
        secrets.ingress_mac.seed,
    ] {
        assert_eq!(bytes, [0; 32]);
    }
    assert!(secrets.egress_mac.message.is_empty() && secrets.ingress_mac.message.is_empty());
    // The remote id is no secret: kept.
    assert_eq!(
        secrets.remote_id,
        PeerId::from_public_key(&secret(2).public_key())
    );
}

#[test]
fn both_formats_whole_and_byte_by_byte() {
    let mut rng = TestRng(7);
    for format in [Format::Eip8, Format::Legacy] {
        for byte_by_byte in [false, true] {
            let (mut alice, mut bob) = pair(format, &mut rng);
            let auth = alice.poll_transmit().unwrap();
            match format {
                Format::Legacy => assert_eq!(auth.len(), 307),
                Format::Eip8 => assert!(auth.len() > 307 && auth.len() <= 2 + MAX_HANDSHAKE_SIZE),
            }
            if byte_by_byte {
                for (i, b) in auth.iter().enumerate() {
                    assert!(!bob.is_complete(), "complete after {i} bytes");
                    bob.handle_bytes(&[*b], &mut rng).unwrap();
                }
            } else {
                bob.handle_bytes(&auth, &mut rng).unwrap();
            }
            assert!(bob.is_complete());
            let ack = bob.poll_transmit().unwrap();
            assert_eq!(ack.len() == 210, format == Format::Legacy);
            // The first frame may arrive in the same read as the ack: it is handed over.
            let mut with_frame = ack.clone();
            with_frame.extend_from_slice(b"frame bytes");
            alice.handle_bytes(&with_frame, &mut rng).unwrap();
            let (alice_secrets, rest) = alice.take_secrets().unwrap();
            assert_eq!(rest, b"frame bytes");
            let (bob_secrets, rest) = bob.take_secrets().unwrap();
            assert!(rest.is_empty());
            assert_matching(&alice_secrets, &bob_secrets);
        }
    }
}

#[test]
fn recipient_answers_in_the_format_it_received() {
    let mut rng = TestRng(9);
    let bob_id = PeerId::from_public_key(&secret(2).public_key());
    let legacy = Config {
        format: Format::Legacy,
        ..Config::default()
    };
    let mut alice = Handshake::initiator(
        legacy,
        HandshakeKeys::generate(NodeKey::new(secret(1)), &mut rng),
        &bob_id,
        &mut rng,
    )
    .unwrap();
    // Bob is configured for EIP-8 but must answer a legacy auth with a legacy ack.
    let mut bob = Handshake::recipient(
        Config::default(),
        HandshakeKeys::generate(NodeKey::new(secret(2)), &mut rng),
    );
    bob.handle_bytes(&alice.poll_transmit().unwrap(), &mut rng)
        .unwrap();
    assert_eq!(bob.poll_transmit().unwrap().len(), 210);
}

#[test]
fn random_padding_varies_the_size() {
    let mut rng = TestRng(11);
    let sizes: std::collections::BTreeSet<usize> = (0..20)
        .map(|_| {
            pair(Format::Eip8, &mut rng)
                .0
                .poll_transmit()
                .unwrap()
                .len()
        })
        .collect();
    assert!(sizes.len() > 5, "{sizes:?}");
}

fn auth_for_bob(rng: &mut TestRng) -> Vec<u8> {
    pair(Format::Eip8, rng).0.poll_transmit().unwrap()
}

fn bob(rng: &mut TestRng) -> Handshake {
    Handshake::recipient(
        Config::default(),
        HandshakeKeys::generate(NodeKey::new(secret(2)), rng),
    )
}

#[test]
fn bad_input_is_a_typed_error() {
    let mut rng = TestRng(13);
    let auth = auth_for_bob(&mut rng);

    // Truncated: the stream waits for more; a standalone read says so.
    let mut b = bob(&mut rng);
    b.handle_bytes(&auth[..auth.len() - 1], &mut rng).unwrap();
    assert!(!b.is_complete());
    assert_eq!(
        read_auth(&secret(2), &auth[..auth.len() - 1]),
        Err(HandshakeError::Truncated)
    );

    // Tampered ciphertext, and a wrong tag.
    for at in [2 + 65 + 16 + 3, auth.len() - 1] {
        let mut tampered = auth.clone();
        tampered[at] ^= 0x40;
        let mut b = bob(&mut rng);
        assert_eq!(
            b.handle_bytes(&tampered, &mut rng),
            Err(HandshakeError::Ecies(EciesError::MacMismatch))
        );
        // A failed handshake stays failed.
        assert_eq!(
            b.handle_bytes(&[0], &mut rng),
            Err(HandshakeError::UnexpectedInput)
        );
    }

    // Not for us: another node's key.
    let mut carol = Handshake::recipient(
        Config::default(),
        HandshakeKeys::generate(NodeKey::new(secret(3)), &mut rng),
    );
    assert_eq!(
        carol.handle_bytes(&auth, &mut rng),
        Err(HandshakeError::Ecies(EciesError::MacMismatch))
    );

    // Oversized size prefix: refused before the body arrives.
    let mut b = bob(&mut rng);
    assert_eq!(
        b.handle_bytes(&[0x08, 0x01], &mut rng),
        Err(HandshakeError::TooLarge(2049))
    );

    // The ECIES ephemeral key is not on the curve.
    let mut off_curve = auth.clone();
    off_curve[2 + 1..2 + 65].copy_from_slice(&[0x11; 64]);
    let mut b = bob(&mut rng);
    assert_eq!(
        b.handle_bytes(&off_curve, &mut rng),
        Err(HandshakeError::Ecies(EciesError::InvalidPublicKey))
    );

    // Too short to hold ECIES at all.
    let mut b = bob(&mut rng);
    assert_eq!(
        b.handle_bytes(&[0x00, 0x05, 1, 2, 3, 4, 5], &mut rng),
        Err(HandshakeError::Ecies(EciesError::TooShort(5)))
    );
}

#[test]
fn a_peer_with_our_own_key_is_refused() {
    let mut rng = TestRng(17);
    let me = PeerId::from_public_key(&secret(2).public_key());
    let mut mirror = Handshake::initiator(
        Config::default(),
        HandshakeKeys::generate(NodeKey::new(secret(2)), &mut rng),
        &me,
        &mut rng,
    )
    .unwrap();
    let mut b = bob(&mut rng);
    assert_eq!(
        b.handle_bytes(&mirror.poll_transmit().unwrap(), &mut rng),
        Err(HandshakeError::OwnKey)
    );
}

#[test]
fn bytes_fed_after_completion_are_handed_over() {
    let mut rng = TestRng(19);
    let (mut alice, mut bob) = pair(Format::Eip8, &mut rng);
    bob.handle_bytes(&alice.poll_transmit().unwrap(), &mut rng)
        .unwrap();
    let mut ack = bob.poll_transmit().unwrap();
    ack.extend_from_slice(b"first ");
    alice.handle_bytes(&ack, &mut rng).unwrap();
    assert!(alice.is_complete());
    // More of the frame stream arrives before the secrets are taken: kept, in order.
    alice.handle_bytes(b"frame, ", &mut rng).unwrap();
    alice.handle_bytes(b"second read", &mut rng).unwrap();
    let (_, rest) = alice.take_secrets().unwrap();
    assert_eq!(rest, b"first frame, second read");
    // Once the secrets are taken, the bytes belong to the frame codec.
    assert_eq!(
        alice.handle_bytes(b"late", &mut rng),
        Err(HandshakeError::UnexpectedInput)
    );

    // The recipient too: bytes after the auth, before the ack was even taken.
    let (mut alice, mut bob) = pair(Format::Eip8, &mut rng);
    bob.handle_bytes(&alice.poll_transmit().unwrap(), &mut rng)
        .unwrap();
    bob.handle_bytes(b"early", &mut rng).unwrap();
    assert!(bob.take_secrets().is_none());
    bob.poll_transmit().unwrap();
    assert_eq!(bob.take_secrets().unwrap().1, b"early");
}

/// A pre-EIP-8 auth from Alice, decrypted, changed by `edit`, and encrypted to Bob again: a
/// valid ECIES message whose plaintext differs only where `edit` changed it.
fn legacy_auth_edited(rng: &mut TestRng, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let (mut alice, _) = pair(Format::Legacy, rng);
    let mut plain = decrypt(&secret(2), &alice.poll_transmit().unwrap(), &[]).unwrap();
    assert_eq!(plain.len(), 194);
    edit(&mut plain);
    encrypt(rng, &secret(2).public_key(), &plain, &[])
}

#[test]
fn legacy_auth_with_a_wrong_ephemeral_key_hash_is_refused() {
    let mut rng = TestRng(23);
    // Untouched, the re-encrypted auth is accepted: our encoder writes the right hash.
    let auth = legacy_auth_edited(&mut rng, |_| {});
    assert_eq!(read_auth(&secret(2), &auth).unwrap().0, Format::Legacy);
    let mut b = bob(&mut rng);
    b.handle_bytes(&auth, &mut rng).unwrap();
    assert!(b.is_complete());

    // keccak256(ephemeral-pubk) sits after the 65-byte signature.
    for at in [65, 65 + 31] {
        let auth = legacy_auth_edited(&mut rng, |plain| plain[at] ^= 0x01);
        assert_eq!(
            read_auth(&secret(2), &auth),
            Err(HandshakeError::EphemeralKeyHash)
        );
        let mut b = bob(&mut rng);
        assert_eq!(
            b.handle_bytes(&auth, &mut rng),
            Err(HandshakeError::EphemeralKeyHash)
        );
        assert!(!b.is_complete());
    }
}
