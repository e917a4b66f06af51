//! EIP-8's RLPx handshake vectors (`testdata/rlpx/handshake.json`): every auth and ack packet,
//! legacy and EIP-8, decrypts with the recipient's key to the given fields, and B's secrets for
//! (Auth2, Ack2) match, down to the ingress MAC after "foo", computed directly and by B's
//! handshake state machine fed each auth packet.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use devp2p_ecies::{
    Config, Format, Handshake, HandshakeKeys, MacInit, NodeKey, Role, SecretInputs, Secrets,
    auth_ephemeral_key, decrypt, read_ack, read_auth,
};
use devp2p_enr::PeerId;
use k256::SecretKey;
use serde_json::Value;
use sha3::{Digest, Keccak256};

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/rlpx/handshake.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn bytes(v: &Value, path: &str) -> Vec<u8> {
    hex::decode(
        v.pointer(path)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{path}")),
    )
    .unwrap()
}

fn key(v: &Value, name: &str) -> SecretKey {
    SecretKey::from_slice(&bytes(v, &format!("/keys/{name}"))).unwrap()
}

fn id(key: &SecretKey) -> [u8; 64] {
    PeerId::from_public_key(&key.public_key()).0
}

fn format(packet: &Value) -> Format {
    if packet["format"].as_str().unwrap().starts_with("pre-EIP-8") {
        Format::Legacy
    } else {
        Format::Eip8
    }
}

#[test]
fn auth_packets_decrypt_to_their_fields() {
    let v = vectors();
    let (a, b) = (key(&v, "static_key_a"), key(&v, "static_key_b"));
    let auths = v["auth"].as_array().unwrap();
    assert_eq!(auths.len(), 3);
    for packet in auths {
        let name = packet["name"].as_str().unwrap();
        let wire = bytes(packet, "/packet");
        // ECIES alone: the plaintext, with the size prefix as MAC data for EIP-8.
        let authdata = bytes(packet, "/derived/ecies/authdata");
        let plain = decrypt(&b, &wire[authdata.len()..], &authdata).unwrap();
        assert_eq!(plain, bytes(packet, "/derived/plaintext"), "{name}");

        let (got_format, auth) = read_auth(&b, &wire).unwrap();
        assert_eq!(got_format, format(packet), "{name}");
        assert_eq!(auth.id, id(&a), "{name}");
        assert_eq!(auth.nonce.to_vec(), bytes(&v, "/keys/nonce_a"), "{name}");
        assert_eq!(
            auth.signature.to_vec(),
            bytes(packet, "/derived/signature"),
            "{name}"
        );
        let version = packet
            .pointer("/derived/version")
            .and_then(Value::as_u64)
            .unwrap_or(4);
        assert_eq!(auth.version, version, "{name}");
        let ephemeral = auth_ephemeral_key(&b, &auth).unwrap();
        assert_eq!(ephemeral, key(&v, "ephemeral_key_a").public_key(), "{name}");
    }
}

#[test]
fn ack_packets_decrypt_to_their_fields() {
    let v = vectors();
    let a = key(&v, "static_key_a");
    let acks = v["ack"].as_array().unwrap();
    assert_eq!(acks.len(), 3);
    for packet in acks {
        let name = packet["name"].as_str().unwrap();
        let wire = bytes(packet, "/packet");
        let (got_format, ack) = read_ack(&a, &wire).unwrap();
        assert_eq!(got_format, format(packet), "{name}");
        assert_eq!(ack.ephemeral, id(&key(&v, "ephemeral_key_b")), "{name}");
        assert_eq!(ack.nonce.to_vec(), bytes(&v, "/keys/nonce_b"), "{name}");
        let version = packet
            .pointer("/derived/version")
            .and_then(Value::as_u64)
            .unwrap_or(4);
        assert_eq!(ack.version, version, "{name}");
    }
}

#[test]
fn recipient_secrets_match() {
    let v = vectors();
    let auth = bytes(&v, "/auth/1/packet");
    let ack = bytes(&v, "/ack/1/packet");
    let nonce_a: [u8; 32] = bytes(&v, "/keys/nonce_a").try_into().unwrap();
    let nonce_b: [u8; 32] = bytes(&v, "/keys/nonce_b").try_into().unwrap();
    let secrets = Secrets::derive(&SecretInputs {
        role: Role::Recipient,
        ephemeral_key: &key(&v, "ephemeral_key_b"),
        remote_ephemeral: &key(&v, "ephemeral_key_a").public_key(),
        initiator_nonce: &nonce_a,
        recipient_nonce: &nonce_b,
        auth: &auth,
        ack: &ack,
        remote_id: PeerId(id(&key(&v, "static_key_a"))),
    });
    assert_secrets_of_b(&v, &secrets);
    let foo = mac_after(&secrets.ingress_mac, b"foo");
    assert_eq!(foo.to_vec(), bytes(&v, "/secrets/ingress_mac_foo"));

    // The initiator's view of the same exchange mirrors it.
    let initiator = Secrets::derive(&SecretInputs {
        role: Role::Initiator,
        ephemeral_key: &key(&v, "ephemeral_key_a"),
        remote_ephemeral: &key(&v, "ephemeral_key_b").public_key(),
        initiator_nonce: &nonce_a,
        recipient_nonce: &nonce_b,
        auth: &auth,
        ack: &ack,
        remote_id: PeerId(id(&key(&v, "static_key_b"))),
    });
    assert_eq!(initiator.aes_secret, secrets.aes_secret);
    let egress_foo = mac_after(&initiator.egress_mac, b"foo");
    assert_eq!(egress_foo.to_vec(), bytes(&v, "/secrets/ingress_mac_foo"));
}

#[test]
fn recipient_handshake_reaches_the_vector_secrets() {
    let v = vectors();
    let nonce_b: [u8; 32] = bytes(&v, "/keys/nonce_b").try_into().unwrap();
    let keys = || HandshakeKeys {
        static_key: NodeKey::new(key(&v, "static_key_b")),
        ephemeral_key: key(&v, "ephemeral_key_b"),
        nonce: nonce_b,
    };
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let packets = v["auth"].as_array().unwrap();
    assert_eq!(packets.len(), 3);
    for (i, packet) in packets.iter().enumerate() {
        let wire = hex::decode(packet["packet"].as_str().unwrap()).unwrap();
        // Whole, then a byte at a time.
        for piece in [wire.len(), 1] {
            let mut b = Handshake::recipient(Config::default(), keys());
            for chunk in wire.chunks(piece) {
                b.handle_bytes(chunk, &mut rng).unwrap();
            }
            assert!(b.is_complete(), "auth {i}");
            assert_eq!(b.remote_id(), Some(PeerId(id(&key(&v, "static_key_a")))));
            assert!(b.poll_transmit().is_some(), "auth {i}: the ack");
            let (secrets, rest) = b.take_secrets().unwrap();
            assert!(rest.is_empty());
            // The secrets depend on the keys and nonces only, the same in every auth.
            assert_secrets_of_b(&v, &secrets);
            // B's ingress MAC starts from the auth as received (with Auth2's size prefix).
            if i == 1 {
                let foo = mac_after(&secrets.ingress_mac, b"foo");
                assert_eq!(foo.to_vec(), bytes(&v, "/secrets/ingress_mac_foo"));
            }
        }
    }
}

/// B's aes-secret and mac-secret are the vector's.
fn assert_secrets_of_b(v: &Value, secrets: &Secrets) {
    assert_eq!(secrets.aes_secret.to_vec(), bytes(v, "/secrets/aes_secret"));
    assert_eq!(secrets.mac_secret.to_vec(), bytes(v, "/secrets/mac_secret"));
}

/// The MAC digest once `data` is absorbed after the handshake.
fn mac_after(init: &MacInit, data: &[u8]) -> Vec<u8> {
    Keccak256::new()
        .chain_update(init.seed)
        .chain_update(&init.message)
        .chain_update(data)
        .finalize()
        .to_vec()
}
