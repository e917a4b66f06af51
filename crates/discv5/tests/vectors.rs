//! The vectors of `discv5-wire-test-vectors.md` from `testdata/discv5/`: the cryptographic
//! primitives, and every packet decoded as node B (each field checked, the message decrypted)
//! and re-encoded from its inputs byte for byte.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use devp2p_discv5::{
    Enr, Message, NodeId, PublicKey, RequestId, SigningKey, crypto,
    wire::{self, PacketHeader, PacketKind},
};
use serde_json::Value;

fn testdata(name: &str) -> String {
    let path = format!(
        "{}/../../testdata/discv5/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

fn json(name: &str) -> Value {
    serde_json::from_str(&testdata(name)).unwrap()
}

fn bytes(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn array<const N: usize>(v: &Value) -> [u8; N] {
    bytes(v).try_into().unwrap()
}

fn secret(v: &Value) -> SigningKey {
    SigningKey::from_slice(&bytes(v)).unwrap()
}

fn public(v: &Value) -> PublicKey {
    crypto::public_key_from_bytes(&array(v)).unwrap()
}

fn node_id(v: &Value) -> NodeId {
    NodeId(array(v))
}

fn public_of(key: &SigningKey) -> PublicKey {
    PublicKey::from(key.verifying_key())
}

#[test]
fn ecdh_vector() {
    let v = &json("crypto.json")["ecdh"];
    let shared = crypto::ecdh(&secret(&v["secret_key"]), &public(&v["public_key"]));
    assert_eq!(shared, array::<33>(&v["shared_secret"]));
}

#[test]
fn key_derivation_vector() {
    let v = &json("crypto.json")["key_derivation"];
    let ephemeral = secret(&v["ephemeral_key"]);
    let dest = public(&v["dest_pubkey"]);
    assert_eq!(
        crypto::ecdh(&ephemeral, &dest),
        array::<33>(&v["derived"]["ecdh_secret"])
    );
    let (a, b) = (node_id(&v["node_id_a"]), node_id(&v["node_id_b"]));
    let keys = crypto::derive_keys(&ephemeral, &dest, &a, &b, &bytes(&v["challenge_data"]));
    assert_eq!(keys.initiator_key, array::<16>(&v["initiator_key"]));
    assert_eq!(keys.recipient_key, array::<16>(&v["recipient_key"]));
}

#[test]
fn id_nonce_signature_vector() {
    let v = &json("crypto.json")["id_nonce_signing"];
    let key = secret(&v["static_key"]);
    assert_eq!(
        crypto::public_key_to_bytes(&public_of(&key)),
        array::<33>(&v["derived"]["static_pubkey_compressed"])
    );
    let challenge = bytes(&v["challenge_data"]);
    let ephemeral = array::<33>(&v["ephemeral_pubkey"]);
    let node_b = node_id(&v["node_id_b"]);
    let signature = crypto::id_sign(&key, &challenge, &ephemeral, &node_b);
    assert_eq!(signature, array::<64>(&v["id_signature"]));
    crypto::id_verify(
        &public_of(&key),
        &challenge,
        &ephemeral,
        &node_b,
        &signature,
    )
    .unwrap();
    // Any other input, or another key, fails.
    let mut other = challenge.clone();
    other[0] ^= 1;
    assert_eq!(
        crypto::id_verify(&public_of(&key), &other, &ephemeral, &node_b, &signature),
        Err(crypto::CryptoError::InvalidSignature)
    );
    let stranger = public_of(&SigningKey::from_slice(&[9; 32]).unwrap());
    assert!(crypto::id_verify(&stranger, &challenge, &ephemeral, &node_b, &signature).is_err());
}

#[test]
fn aes_gcm_vector() {
    let v = &json("crypto.json")["aes_gcm"];
    let (key, nonce) = (array::<16>(&v["encryption_key"]), array::<12>(&v["nonce"]));
    let (pt, ad) = (bytes(&v["pt"]), bytes(&v["ad"]));
    let sealed = crypto::encrypt_message(&key, &nonce, &pt, &ad);
    assert_eq!(sealed, bytes(&v["message_ciphertext"]));
    assert_eq!(
        crypto::decrypt_message(&key, &nonce, &sealed, &ad).unwrap(),
        pt
    );
    let mut tampered = sealed;
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(
        crypto::decrypt_message(&key, &nonce, &tampered, &ad),
        Err(crypto::CryptoError::DecryptionFailed)
    );
}

fn packet_vectors() -> (Value, Vec<Value>) {
    let all = json("packets.json");
    let packets = all["packets"].as_array().unwrap().clone();
    assert_eq!(packets.len(), 4);
    (all, packets)
}

/// Decodes every packet as node B and checks every field, the header bytes, the message
/// (decrypted with the read key) and, for handshakes, signature and key derivation.
#[test]
fn every_packet_decodes_as_node_b() {
    let (all, packets) = packet_vectors();
    let key_a = secret(&all["node_a_key"]);
    let key_b = secret(&all["node_b_key"]);
    let id_a = NodeId::from_public_key(&public_of(&key_a));
    let id_b = NodeId::from_public_key(&public_of(&key_b));
    assert_eq!(id_a, node_id(&all["derived"]["node_a_id"]));
    assert_eq!(id_b, node_id(&all["derived"]["node_b_id"]));

    for vector in &packets {
        let name = vector["name"].as_str().unwrap();
        let (inputs, derived) = (&vector["inputs"], &vector["derived"]);
        let datagram = bytes(&vector["packet"]);
        assert_eq!(datagram.len() as u64, derived["length"].as_u64().unwrap());
        assert_eq!(node_id(&inputs["dest_node_id"]), id_b, "{name}");

        let packet =
            wire::decode_packet(&id_b, &datagram).unwrap_or_else(|e| panic!("{name}: {e}"));
        let header = &packet.header;
        assert_eq!(
            header.masking_iv,
            array::<16>(&derived["masking_iv"]),
            "{name}"
        );
        assert_eq!(header.nonce, array::<12>(&derived["nonce"]), "{name}");
        assert_eq!(
            u64::from(header.kind.flag()),
            derived["flag"].as_u64().unwrap()
        );
        // message-ad = masking-iv || header, and the header is what the vector unmasked.
        let mut ad = array::<16>(&derived["masking_iv"]).to_vec();
        ad.extend_from_slice(&bytes(&derived["header"]));
        assert_eq!(packet.message_ad, ad, "{name}");
        assert_eq!(header.message_ad(), ad, "{name}: header re-encoded");
        assert_eq!(
            &ad[16..22],
            derived["protocol_id"].as_str().unwrap().as_bytes()
        );
        assert_eq!(
            u64::from(u16::from_be_bytes([ad[22], ad[23]])),
            derived["version"].as_u64().unwrap()
        );
        assert_eq!(
            u64::from(u16::from_be_bytes([ad[37], ad[38]])),
            derived["authdata_size"].as_u64().unwrap()
        );
        assert_eq!(&ad[39..], bytes(&derived["authdata"]), "{name}");

        match &header.kind {
            PacketKind::Message { src_id } => {
                assert_eq!(*src_id, node_id(&derived["src_id"]));
                assert_eq!(*src_id, id_a);
            }
            PacketKind::WhoAreYou { id_nonce, enr_seq } => {
                assert_eq!(*id_nonce, array::<16>(&derived["id_nonce"]));
                assert_eq!(*enr_seq, derived["enr_seq"].as_u64().unwrap());
                assert_eq!(packet.message, b"", "{name}");
                assert_eq!(packet.message_ad, bytes(&derived["challenge_data"]));
                assert_eq!(
                    packet.message_ad,
                    bytes(&inputs["whoareyou_challenge_data"])
                );
                assert_eq!(header.challenge_data(), packet.message_ad);
                continue;
            }
            PacketKind::Handshake {
                src_id,
                id_signature,
                ephemeral_pubkey,
                record,
            } => {
                assert_eq!(*src_id, node_id(&derived["src_id"]));
                assert_eq!(derived["sig_size"].as_u64(), Some(64));
                assert_eq!(derived["eph_key_size"].as_u64(), Some(33));
                assert_eq!(*id_signature, array::<64>(&derived["id_signature"]));
                assert_eq!(*ephemeral_pubkey, array::<33>(&derived["eph_pubkey"]));
                assert_eq!(*ephemeral_pubkey, array::<33>(&inputs["ephemeral_pubkey"]));
                match (record, derived["record"].as_str()) {
                    (None, None) => {}
                    (Some(record), Some(hex)) => {
                        assert_eq!(record.as_bytes(), hex::decode(hex).unwrap());
                        let record = record.verify().unwrap();
                        assert_eq!(record.to_rlp(), hex::decode(hex).unwrap());
                        assert_eq!(record.to_string(), derived["record_text"].as_str().unwrap());
                        assert_eq!(record.seq(), derived["record_seq"].as_u64().unwrap());
                        assert_eq!(record.node_id(), id_a);
                        let pairs: Vec<(String, String)> = record
                            .pairs()
                            .map(|(k, v)| {
                                let value = devp2p_rlp_codec_bytes(v);
                                (String::from_utf8(k.to_vec()).unwrap(), hex::encode(value))
                            })
                            .collect();
                        let want: Vec<(String, String)> = derived["record_pairs"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| {
                                (
                                    p["key"].as_str().unwrap().to_owned(),
                                    p["value_hex"].as_str().unwrap().to_owned(),
                                )
                            })
                            .collect();
                        assert_eq!(pairs, want, "{name}");
                    }
                    other => panic!("{name}: record {other:?}"),
                }
                // Node B: verify A's signature over the challenge it sent, derive the keys
                // from its static key and A's ephemeral key.
                let challenge = bytes(&inputs["whoareyou_challenge_data"]);
                crypto::id_verify(
                    &public_of(&key_a),
                    &challenge,
                    ephemeral_pubkey,
                    &id_b,
                    id_signature,
                )
                .unwrap_or_else(|e| panic!("{name}: {e}"));
                let ephemeral = crypto::public_key_from_bytes(ephemeral_pubkey).unwrap();
                let keys = crypto::derive_keys(&key_b, &ephemeral, &id_a, &id_b, &challenge);
                assert_eq!(
                    crypto::ecdh(&key_b, &ephemeral),
                    array::<33>(&derived["ecdh_secret"])
                );
                assert_eq!(keys.initiator_key, array::<16>(&derived["initiator_key"]));
                assert_eq!(keys.recipient_key, array::<16>(&derived["recipient_key"]));
                assert_eq!(keys.initiator_key, array::<16>(&inputs["read_key"]));
            }
        }
        assert_eq!(
            packet.message,
            bytes(&derived["message_ciphertext"]),
            "{name}"
        );
        assert_eq!(packet.message_ad, bytes(&derived["message_ad"]), "{name}");
        let plaintext = crypto::decrypt_message(
            &array(&inputs["read_key"]),
            &header.nonce,
            packet.message,
            &packet.message_ad,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plaintext, bytes(&derived["message_plaintext"]), "{name}");
        let message = Message::decode(&plaintext).unwrap();
        assert_eq!(
            u64::from(message.message_type()),
            derived["message_type"].as_u64().unwrap()
        );
        assert_eq!(
            message,
            Message::Ping {
                req_id: RequestId::new(&bytes(&derived["ping_req_id"])).unwrap(),
                enr_seq: derived["ping_enr_seq"].as_u64().unwrap(),
            },
            "{name}"
        );
        assert_eq!(message.encode(), plaintext, "{name}");
    }
}

/// The value bytes of a record pair (an RLP string).
fn devp2p_rlp_codec_bytes(item: &[u8]) -> Vec<u8> {
    devp2p_rlp_codec::decode_exact::<&[u8]>(item)
        .unwrap()
        .to_vec()
}

/// Builds every packet from the spec's inputs alone (node A's side: sign, derive, encrypt;
/// node B's side for WHOAREYOU) and gets the vector's bytes exactly.
#[test]
fn every_packet_encodes_from_its_inputs() {
    let (all, packets) = packet_vectors();
    let key_a = secret(&all["node_a_key"]);
    let key_b = secret(&all["node_b_key"]);
    for vector in &packets {
        let name = vector["name"].as_str().unwrap();
        let inputs = &vector["inputs"];
        let src_id = node_id(&inputs["src_node_id"]);
        let dest_id = node_id(&inputs["dest_node_id"]);
        // Every vector's masking IV is zero.
        let masking_iv = [0; 16];
        let ping = || Message::Ping {
            req_id: RequestId::new(&bytes(&inputs["ping_req_id"])).unwrap(),
            enr_seq: inputs["ping_enr_seq"].as_u64().unwrap(),
        };
        let (header, key) = match name {
            "ping_message" => (
                PacketHeader {
                    masking_iv,
                    nonce: array(&inputs["nonce"]),
                    kind: PacketKind::Message { src_id },
                },
                array::<16>(&inputs["read_key"]),
            ),
            "whoareyou" => {
                let header = PacketHeader {
                    masking_iv,
                    nonce: array(&inputs["whoareyou_request_nonce"]),
                    kind: PacketKind::WhoAreYou {
                        id_nonce: array(&inputs["whoareyou_id_nonce"]),
                        enr_seq: inputs["whoareyou_enr_seq"].as_u64().unwrap(),
                    },
                };
                assert_eq!(
                    header.challenge_data(),
                    bytes(&inputs["whoareyou_challenge_data"])
                );
                let datagram = wire::encode_packet(&dest_id, &header, &[]).unwrap();
                assert_eq!(datagram, bytes(&vector["packet"]), "{name}");
                continue;
            }
            _ => {
                // The WHOAREYOU B sent, rebuilt from its inputs, gives the challenge data.
                let challenge_header = PacketHeader {
                    masking_iv,
                    nonce: array(&inputs["whoareyou_request_nonce"]),
                    kind: PacketKind::WhoAreYou {
                        id_nonce: array(&inputs["whoareyou_id_nonce"]),
                        enr_seq: inputs["whoareyou_enr_seq"].as_u64().unwrap(),
                    },
                };
                let challenge = challenge_header.challenge_data();
                assert_eq!(challenge, bytes(&inputs["whoareyou_challenge_data"]));
                let ephemeral = secret(&inputs["ephemeral_key"]);
                let ephemeral_pubkey = crypto::public_key_to_bytes(&public_of(&ephemeral));
                assert_eq!(ephemeral_pubkey, array::<33>(&inputs["ephemeral_pubkey"]));
                let keys = crypto::derive_keys(
                    &ephemeral,
                    &public_of(&key_b),
                    &src_id,
                    &dest_id,
                    &challenge,
                );
                // The record goes along when B's copy is older: enr-seq 0 means B has none.
                let record = (inputs["whoareyou_enr_seq"].as_u64() == Some(0)).then(|| {
                    let text = vector["derived"]["record_text"].as_str().unwrap();
                    text.parse::<Enr>().unwrap().into()
                });
                (
                    PacketHeader {
                        masking_iv,
                        nonce: array(&inputs["nonce"]),
                        kind: PacketKind::Handshake {
                            src_id,
                            id_signature: crypto::id_sign(
                                &key_a,
                                &challenge,
                                &ephemeral_pubkey,
                                &dest_id,
                            ),
                            ephemeral_pubkey,
                            record,
                        },
                    },
                    keys.initiator_key,
                )
            }
        };
        assert_eq!(key, array::<16>(&inputs["read_key"]), "{name}");
        let sealed =
            crypto::encrypt_message(&key, &header.nonce, &ping().encode(), &header.message_ad());
        let datagram = wire::encode_packet(&dest_id, &header, &sealed).unwrap();
        assert_eq!(
            hex::encode(&datagram),
            vector["packet"].as_str().unwrap(),
            "{name}"
        );
    }
}

/// go-ethereum's copies (`geth_v5wire/`) hold the same four packets.
#[test]
fn go_ethereum_copies_are_the_same_packets() {
    let (_, packets) = packet_vectors();
    let files = [
        ("ping_message", "v5.1-ping-message.txt"),
        ("whoareyou", "v5.1-whoareyou.txt"),
        ("ping_handshake", "v5.1-ping-handshake.txt"),
        ("ping_handshake_with_enr", "v5.1-ping-handshake-enr.txt"),
    ];
    for (name, file) in files {
        let text = testdata(&format!("geth_v5wire/{file}"));
        let hex: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| l.trim().chars())
            .collect();
        let vector = packets.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(hex, vector["packet"].as_str().unwrap(), "{file}");
        let key_b = json("packets.json")["node_b_key"].clone();
        let id_b = NodeId::from_public_key(&public_of(&secret(&key_b)));
        wire::decode_packet(&id_b, &hex::decode(&hex).unwrap()).unwrap();
    }
}
