//! EIP-8's discv4 packets (and go-ethereum's plain Ping) from `testdata/discv4/`: each decodes,
//! its signature recovers to the vectors' key, and every field matches.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::net::IpAddr;

use devp2p_discv4::{
    Endpoint, Message, PeerId, SigningKey,
    wire::{self, PacketError},
};
use serde_json::Value;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/discv4/eip8_packets.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn endpoint(v: &Value) -> Endpoint {
    Endpoint {
        ip: v["ip"].as_str().unwrap().parse::<IpAddr>().unwrap(),
        udp_port: v["udp"].as_u64().unwrap() as u16,
        tcp_port: v["tcp"].as_u64().unwrap() as u16,
    }
}

fn bytes32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn every_eip8_packet_decodes_with_the_given_key_and_fields() {
    let vectors = vectors();
    let key: PeerId = vectors["public_key"].as_str().unwrap().parse().unwrap();
    let packets = vectors["packets"].as_array().unwrap();
    assert_eq!(packets.len(), 6);
    for vector in packets {
        let name = vector["name"].as_str().unwrap();
        let bytes = hex::decode(vector["packet"].as_str().unwrap()).unwrap();
        let derived = &vector["derived"];
        let decoded = &derived["decoded"];
        let packet = wire::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(packet.sender, key, "{name}: recovered key");
        assert_eq!(packet.hash, bytes32(&derived["hash"]), "{name}");
        assert_eq!(
            packet.message.packet_type() as u64,
            derived["packet_type"].as_u64().unwrap()
        );
        let expiration = decoded["expiration"].as_u64().unwrap();
        match &packet.message {
            Message::Ping(ping) => {
                assert_eq!(ping.version, decoded["version"].as_u64().unwrap(), "{name}");
                assert_eq!(ping.from, endpoint(&decoded["from"]), "{name}");
                assert_eq!(ping.to, endpoint(&decoded["to"]), "{name}");
                assert_eq!(ping.expiration, expiration);
                // EIP-868: an integer 5th element is the ENR sequence number; a list is not.
                let extra = decoded["extra_list_elements_rlp"].as_array().unwrap();
                let seq = extra
                    .first()
                    .and_then(|e| e.as_str())
                    .filter(|e| e.len() == 2);
                assert_eq!(
                    ping.enr_seq,
                    seq.map(|s| u64::from_str_radix(s, 16).unwrap()),
                    "{name}"
                );
            }
            Message::Pong(pong) => {
                assert_eq!(pong.to, endpoint(&decoded["to"]), "{name}");
                assert_eq!(pong.ping_hash, bytes32(&decoded["ping_hash"]));
                assert_eq!(pong.expiration, expiration);
                assert_eq!(
                    pong.enr_seq, None,
                    "{name}: a list is not a sequence number"
                );
            }
            Message::FindNode(find) => {
                let target: PeerId = decoded["target"].as_str().unwrap().parse().unwrap();
                assert_eq!(find.target, target);
                assert_eq!(find.expiration, expiration);
            }
            Message::Neighbours(neighbours) => {
                let nodes = decoded["nodes"].as_array().unwrap();
                assert_eq!(neighbours.nodes.len(), nodes.len());
                for (got, want) in neighbours.nodes.iter().zip(nodes) {
                    let e = endpoint(want);
                    assert_eq!(
                        (got.ip, got.udp_port, got.tcp_port),
                        (e.ip, e.udp_port, e.tcp_port)
                    );
                    assert_eq!(
                        got.id,
                        want["id"].as_str().unwrap().parse::<PeerId>().unwrap()
                    );
                }
                assert_eq!(neighbours.expiration, expiration);
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
}

#[test]
fn our_encoding_of_the_plain_ping_matches_the_vector_data() {
    let vectors = vectors();
    let vector = &vectors["packets"][0];
    let bytes = hex::decode(vector["packet"].as_str().unwrap()).unwrap();
    let packet = wire::decode(&bytes).unwrap();
    let secret = hex::decode(vectors["private_key"].as_str().unwrap()).unwrap();
    let key = SigningKey::from_slice(&secret).unwrap();
    let (ours, hash) = packet.message.encode(&key);
    // Signatures differ (the vectors' were not deterministic); type and data are identical.
    assert_eq!(
        hex::encode(&ours[97..]),
        format!(
            "01{}",
            vector["derived"]["packet_data_rlp"].as_str().unwrap()
        )
    );
    let again = wire::decode(&ours).unwrap();
    assert_eq!(
        (again.hash, again.message, again.sender),
        (hash, packet.message, packet.sender)
    );
}

#[test]
fn tampered_truncated_and_oversized_packets_are_refused() {
    let vectors = vectors();
    let bytes = hex::decode(vectors["packets"][0]["packet"].as_str().unwrap()).unwrap();
    let mut tampered = bytes.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(wire::decode(&tampered), Err(PacketError::HashMismatch));
    assert_eq!(wire::decode(&bytes[..98]), Err(PacketError::TooShort(98)));
    assert_eq!(wire::decode(&[0; 1281]), Err(PacketError::TooLarge(1281)));
    // A valid hash over a bad signature: recovery fails.
    let mut bad_sig = bytes.clone();
    bad_sig[32..96].fill(0);
    let hash = sha3_hash(&bad_sig[32..]);
    bad_sig[..32].copy_from_slice(&hash);
    assert_eq!(wire::decode(&bad_sig), Err(PacketError::InvalidSignature));
    // Unknown type 0x07 under a valid hash.
    let mut unknown = bytes;
    unknown[97] = 0x07;
    let hash = sha3_hash(&unknown[32..]);
    unknown[..32].copy_from_slice(&hash);
    assert_eq!(wire::decode(&unknown), Err(PacketError::UnknownType(0x07)));
}

fn sha3_hash(data: &[u8]) -> [u8; 32] {
    use sha3::{Digest, Keccak256};
    Keccak256::digest(data).into()
}

#[test]
fn ports_with_a_leading_zero_byte_are_accepted() {
    // ethereumjs sends TCP port 0 as the byte 00: [ip, udp 30303, 00].
    let key = SigningKey::from_slice(&[3; 32]).unwrap();
    let ping = |to: &[u8]| {
        let endpoint = [0xc9, 0x84, 127, 0, 0, 1, 0x82, 0x76, 0x5f, 0x00];
        let mut body = vec![0x04];
        body.extend_from_slice(&endpoint);
        body.extend_from_slice(to);
        body.extend_from_slice(&[0x84, 0x70, 0, 0, 0]);
        let mut data = vec![0xc0 + body.len() as u8];
        data.extend_from_slice(&body);
        wire::encode_packet(&key, 0x01, &data).0
    };
    let zero_port = [0xc9, 0x84, 127, 0, 0, 1, 0x82, 0x76, 0x5f, 0x00];
    let Message::Ping(decoded) = wire::decode(&ping(&zero_port)).unwrap().message else {
        panic!("not a Ping")
    };
    assert_eq!(
        decoded.to,
        Endpoint {
            ip: [127, 0, 0, 1].into(),
            udp_port: 30303,
            tcp_port: 0
        }
    );
    // Three bytes are no port.
    let long_port = [0xcc, 0x84, 127, 0, 0, 1, 0x82, 0x76, 0x5f, 0x83, 0, 0, 1];
    assert_eq!(
        wire::decode(&ping(&long_port)).unwrap_err(),
        PacketError::InvalidPort(3)
    );
}

/// go-ethereum reads an IP of any length (its own Pings carry an empty one when it knows no
/// endpoint): a Ping with one decodes with that IP unspecified, and a Neighbours entry with
/// one is skipped while the others count.
#[test]
fn ips_of_other_lengths_are_not_errors_of_the_packet() {
    use devp2p_rlp_codec::{Header, encode_to_vec};
    let list = |items: &[Vec<u8>]| {
        let payload = items.concat();
        let mut out = Vec::new();
        Header::list(payload.len()).encode(&mut out);
        out.extend(payload);
        out
    };
    let key = SigningKey::from_slice(&[3; 32]).unwrap();
    let expiration = encode_to_vec(&1_700_000_020u64);
    let endpoint = |ip: &[u8]| {
        list(&[
            encode_to_vec(ip),
            encode_to_vec(&30303u16),
            encode_to_vec(&0u16),
        ])
    };
    let ping = list(&[
        encode_to_vec(&4u64),
        endpoint(&[]),
        endpoint(&[127, 0, 0, 1]),
        expiration.clone(),
    ]);
    let packet = wire::encode_packet(&key, 0x01, &ping).0;
    let Message::Ping(decoded) = wire::decode(&packet).unwrap().message else {
        panic!("not a Ping")
    };
    assert!(decoded.from.ip.is_unspecified());
    assert_eq!(decoded.to.ip, IpAddr::from([127, 0, 0, 1]));

    let node = |ip: &[u8], id: u8| {
        list(&[
            encode_to_vec(ip),
            encode_to_vec(&30303u16),
            encode_to_vec(&30303u16),
            encode_to_vec(&[id; 64][..]),
        ])
    };
    let entries = list(&[
        node(&[10, 0, 0, 1], 1),
        node(&[1, 2, 3, 4, 5], 2),
        node(&[10, 0, 0, 3], 3),
    ]);
    let packet = wire::encode_packet(&key, 0x04, &list(&[entries, expiration])).0;
    let Message::Neighbours(decoded) = wire::decode(&packet).unwrap().message else {
        panic!("not Neighbours")
    };
    let ids: Vec<u8> = decoded.nodes.iter().map(|n| n.id.0[0]).collect();
    assert_eq!(ids, [1, 3]);
}
