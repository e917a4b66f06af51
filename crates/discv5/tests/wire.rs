//! Round trips of every message type and packet kind, and the inputs the decoders refuse.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::net::IpAddr;

use devp2p_discv5::{
    Enr, EnrError, Message, NodeId, PublicKey, RequestId, SigningKey, crypto,
    wire::{self, MAX_PACKET_SIZE, MessageError, PacketError, PacketHeader, PacketKind, RawRecord},
};
use proptest::prelude::*;

mod common;
use common::tampered;

fn record(seed: u8) -> Enr {
    let key = SigningKey::from_slice(&[seed; 32]).unwrap();
    Enr::builder()
        .ip4([10, 0, 0, seed].into())
        .udp(30303)
        .build(&key)
        .unwrap()
}

fn request_id() -> impl Strategy<Value = RequestId> {
    proptest::collection::vec(any::<u8>(), 0..=8).prop_map(|b| RequestId::new(&b).unwrap())
}

fn message() -> impl Strategy<Value = Message> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..200);
    let ip = prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(|b| IpAddr::from(b).to_canonical()),
    ];
    prop_oneof![
        (request_id(), any::<u64>())
            .prop_map(|(req_id, enr_seq)| Message::Ping { req_id, enr_seq }),
        (request_id(), any::<u64>(), ip, any::<u16>()).prop_map(|(req_id, enr_seq, ip, port)| {
            Message::Pong {
                req_id,
                enr_seq,
                ip,
                port,
            }
        }),
        (request_id(), proptest::collection::vec(0u16..=256, 0..=256))
            .prop_map(|(req_id, distances)| Message::FindNode { req_id, distances }),
        (request_id(), any::<u64>(), 0usize..=3).prop_map(|(req_id, total, n)| Message::Nodes {
            req_id,
            total,
            enrs: (1..=n as u8).map(|seed| record(seed).into()).collect(),
        }),
        (request_id(), bytes(), bytes()).prop_map(|(req_id, protocol, request)| {
            Message::TalkReq {
                req_id,
                protocol,
                request,
            }
        }),
        (request_id(), bytes())
            .prop_map(|(req_id, response)| Message::TalkResp { req_id, response }),
    ]
}

fn kind() -> impl Strategy<Value = PacketKind> {
    prop_oneof![
        any::<[u8; 32]>().prop_map(|id| PacketKind::Message { src_id: NodeId(id) }),
        (any::<[u8; 16]>(), any::<u64>())
            .prop_map(|(id_nonce, enr_seq)| PacketKind::WhoAreYou { id_nonce, enr_seq }),
        (
            any::<[u8; 32]>(),
            any::<[u8; 64]>(),
            any::<[u8; 33]>(),
            proptest::option::of(1u8..4)
        )
            .prop_map(|(id, id_signature, ephemeral_pubkey, record_seed)| {
                PacketKind::Handshake {
                    src_id: NodeId(id),
                    id_signature,
                    ephemeral_pubkey,
                    record: record_seed.map(|seed| record(seed).into()),
                }
            }),
    ]
}

proptest! {
    #[test]
    fn every_message_round_trips(message in message()) {
        let encoded = message.encode();
        prop_assert_eq!(encoded.len(), message.encoded_len());
        prop_assert_eq!(encoded[0], message.message_type());
        prop_assert_eq!(Message::decode(&encoded).unwrap(), message);
    }

    #[test]
    fn every_packet_kind_round_trips(
        kind in kind(),
        masking_iv in any::<[u8; 16]>(),
        nonce in any::<[u8; 12]>(),
        dest in any::<[u8; 32]>(),
        message in proptest::collection::vec(any::<u8>(), 16..400),
    ) {
        let header = PacketHeader { masking_iv, nonce, kind };
        let message = if matches!(header.kind, PacketKind::WhoAreYou { .. }) { vec![] } else { message };
        let dest = NodeId(dest);
        let datagram = wire::encode_packet(&dest, &header, &message).unwrap();
        let packet = wire::decode_packet(&dest, &datagram).unwrap();
        prop_assert_eq!(&packet.header, &header);
        prop_assert_eq!(packet.message, &message[..]);
        prop_assert_eq!(packet.message_ad, header.message_ad());
    }

    /// Whatever the bytes, decoding returns (and does not panic).
    #[test]
    fn arbitrary_bytes_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1400)) {
        let _ = wire::decode_packet(&NodeId([1; 32]), &bytes);
        let _ = Message::decode(&bytes);
    }
}

fn ping_packet(dest: &NodeId) -> (PacketHeader, Vec<u8>) {
    let header = PacketHeader {
        masking_iv: [3; 16],
        nonce: [4; 12],
        kind: PacketKind::Message {
            src_id: NodeId([5; 32]),
        },
    };
    let ping = Message::Ping {
        req_id: RequestId::new(&[1]).unwrap(),
        enr_seq: 1,
    };
    let sealed = crypto::encrypt_message(
        &[6; 16],
        &header.nonce,
        &ping.encode(),
        &header.message_ad(),
    );
    let datagram = wire::encode_packet(dest, &header, &sealed).unwrap();
    (header, datagram)
}

/// Builds a datagram for `dest` with the given raw (unmasked) header bytes and message.
fn masked(dest: &NodeId, header: &[u8], message: &[u8]) -> Vec<u8> {
    // Masked by hand (AES-128-CTR, key = dest[..16], IV = 0), so headers the encoder would
    // never make can be built.
    use aes::Aes128;
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let mut out = vec![0u8; 16];
    let mut masked = header.to_vec();
    let key: [u8; 16] = dest.0[..16].try_into().unwrap();
    ctr::Ctr128BE::<Aes128>::new(&key.into(), &[0u8; 16].into()).apply_keystream(&mut masked);
    out.extend_from_slice(&masked);
    out.extend_from_slice(message);
    out
}

fn static_header(flag: u8, authdata_size: u16) -> Vec<u8> {
    let mut h = b"discv5".to_vec();
    h.extend_from_slice(&[0, 1, flag]);
    h.extend_from_slice(&[0; 12]);
    h.extend_from_slice(&authdata_size.to_be_bytes());
    h
}

#[test]
fn refused_packets_each_get_their_error() {
    let dest = NodeId([0xbb; 32]);
    let (_, datagram) = ping_packet(&dest);
    assert_eq!(
        wire::decode_packet(&dest, &datagram[..62]),
        Err(PacketError::TooShort(62))
    );
    assert_eq!(
        wire::decode_packet(&dest, &[0; MAX_PACKET_SIZE + 1]),
        Err(PacketError::TooLarge(1281))
    );
    // Another node's packet unmasks to garbage.
    assert_eq!(
        wire::decode_packet(&NodeId([0xaa; 32]), &datagram),
        Err(PacketError::WrongProtocolId)
    );
    let mut wrong_id = static_header(0, 32);
    wrong_id[0] = b'x';
    wrong_id.extend_from_slice(&[5; 32]);
    assert_eq!(
        wire::decode_packet(&dest, &masked(&dest, &wrong_id, &[0; 16])),
        Err(PacketError::WrongProtocolId)
    );
    let mut version = static_header(0, 32);
    version[7] = 2;
    version.extend_from_slice(&[5; 32]);
    assert_eq!(
        wire::decode_packet(&dest, &masked(&dest, &version, &[0; 16])),
        Err(PacketError::UnsupportedVersion(2))
    );
    let mut flag = static_header(3, 32);
    flag.extend_from_slice(&[5; 32]);
    assert_eq!(
        wire::decode_packet(&dest, &masked(&dest, &flag, &[0; 16])),
        Err(PacketError::UnknownFlag(3))
    );
    // authdata-size past the end.
    let mut truncated = static_header(0, 200);
    truncated.extend_from_slice(&[5; 32]);
    assert_eq!(
        wire::decode_packet(&dest, &masked(&dest, &truncated, &[0; 16])),
        Err(PacketError::TruncatedAuthData(200))
    );
    // Flag 0 with 31 bytes of authdata; WHOAREYOU with 25.
    let mut short = static_header(0, 31);
    short.extend_from_slice(&[5; 31]);
    assert_eq!(
        wire::decode_packet(&dest, &masked(&dest, &short, &[0; 16])),
        Err(PacketError::AuthDataSize { flag: 0, size: 31 })
    );
    let mut long = static_header(1, 25);
    long.extend_from_slice(&[5; 25]);
    assert_eq!(
        wire::decode_packet(&dest, &masked(&dest, &long, &[])),
        Err(PacketError::AuthDataSize { flag: 1, size: 25 })
    );
    // A handshake cut inside its signature, and one with other key sizes.
    let mut handshake = static_header(2, 60);
    handshake.extend_from_slice(&[5; 32]);
    handshake.extend_from_slice(&[64, 33]);
    handshake.extend_from_slice(&[0; 26]);
    assert_eq!(
        wire::decode_packet(&dest, &masked(&dest, &handshake, &[0; 16])),
        Err(PacketError::AuthDataSize { flag: 2, size: 60 })
    );
    let mut sizes = static_header(2, 34 + 65 + 33);
    sizes.extend_from_slice(&[5; 32]);
    sizes.extend_from_slice(&[65, 33]);
    sizes.extend_from_slice(&[0; 98]);
    assert_eq!(
        wire::decode_packet(&dest, &masked(&dest, &sizes, &[0; 16])),
        Err(PacketError::UnsupportedKeySizes {
            sig_size: 65,
            key_size: 33
        })
    );
    // A WHOAREYOU with a message, a message packet without a full tag.
    let mut whoareyou = static_header(1, 24);
    whoareyou.extend_from_slice(&[5; 24]);
    assert!(wire::decode_packet(&dest, &masked(&dest, &whoareyou, &[])).is_ok());
    assert_eq!(
        wire::decode_packet(&dest, &masked(&dest, &whoareyou, &[1])),
        Err(PacketError::UnexpectedMessage(1))
    );
    let mut message = static_header(0, 32);
    message.extend_from_slice(&[5; 32]);
    assert_eq!(
        wire::decode_packet(&dest, &masked(&dest, &message, &[0; 15])),
        Err(PacketError::MessageTooShort(15))
    );
    // A handshake record that is not a valid record: a signature and no sequence number.
    let mut bad_record = static_header(2, 34 + 64 + 33 + 2);
    bad_record.extend_from_slice(&[5; 32]);
    bad_record.extend_from_slice(&[64, 33]);
    bad_record.extend_from_slice(&[0; 97]);
    bad_record.extend_from_slice(&[0xc1, 0x80]);
    assert!(matches!(
        wire::decode_packet(&dest, &masked(&dest, &bad_record, &[0; 16])),
        Err(PacketError::InvalidRecord(_))
    ));
}

#[test]
fn encoding_refuses_what_decoding_refuses() {
    let dest = NodeId([0xbb; 32]);
    let (header, _) = ping_packet(&dest);
    assert_eq!(
        wire::encode_packet(&dest, &header, &[0; 15]),
        Err(PacketError::MessageTooShort(15))
    );
    assert_eq!(
        wire::encode_packet(&dest, &header, &[0; 1300]),
        Err(PacketError::TooLarge(16 + 23 + 32 + 1300))
    );
    let whoareyou = PacketHeader {
        kind: PacketKind::WhoAreYou {
            id_nonce: [0; 16],
            enr_seq: 0,
        },
        ..header
    };
    assert_eq!(
        wire::encode_packet(&dest, &whoareyou, &[0; 16]),
        Err(PacketError::UnexpectedMessage(16))
    );
}

#[test]
fn a_tampered_message_fails_authentication() {
    let dest = NodeId([0xbb; 32]);
    let (_, datagram) = ping_packet(&dest);
    // A flipped nonce byte (masked in the header, so the unmasked nonce changes) and a
    // flipped tag byte both fail authentication.
    for position in [16 + 9 + 5, datagram.len() - 1] {
        let mut tampered = datagram.clone();
        tampered[position] ^= 0x01;
        let packet = wire::decode_packet(&dest, &tampered).unwrap();
        assert_eq!(
            crypto::decrypt_message(
                &[6; 16],
                &packet.header.nonce,
                packet.message,
                &packet.message_ad
            ),
            Err(crypto::CryptoError::DecryptionFailed)
        );
    }
    let packet = wire::decode_packet(&dest, &datagram).unwrap();
    assert_eq!(
        crypto::decrypt_message(
            &[7; 16],
            &packet.header.nonce,
            packet.message,
            &packet.message_ad
        ),
        Err(crypto::CryptoError::DecryptionFailed),
        "wrong key"
    );
}

#[test]
fn refused_messages_each_get_their_error() {
    assert_eq!(Message::decode(&[]), Err(MessageError::Empty));
    assert_eq!(
        Message::decode(&[0x07, 0xc0]),
        Err(MessageError::UnknownType(0x07))
    );
    assert_eq!(
        Message::decode(&[0x00, 0xc0]),
        Err(MessageError::UnknownType(0x00))
    );
    assert_eq!(
        Message::decode(&[0x01; 1281]),
        Err(MessageError::TooLarge(1281))
    );
    // PING with a 9-byte request id; 8 bytes are fine.
    let mut ping = vec![0x01, 0xcb, 0x89];
    ping.extend_from_slice(&[1; 9]);
    ping.push(0x01);
    assert_eq!(
        Message::decode(&ping),
        Err(MessageError::RequestIdTooLong(9))
    );
    let ping8 = [0x01, 0xca, 0x88, 1, 1, 1, 1, 1, 1, 1, 1, 0x01];
    assert!(Message::decode(&ping8).is_ok());
    // Extra element, trailing byte.
    assert!(matches!(
        Message::decode(&[0x01, 0xc3, 0x01, 0x01, 0x01]),
        Err(MessageError::Rlp(_))
    ));
    assert!(matches!(
        Message::decode(&[0x01, 0xc2, 0x01, 0x01, 0x00]),
        Err(MessageError::Rlp(_))
    ));
    // PONG with a 5-byte IP.
    let pong = [
        0x02, 0xcb, 0x01, 0x01, 0x85, 1, 2, 3, 4, 5, 0x82, 0x76, 0x5f,
    ];
    assert_eq!(Message::decode(&pong), Err(MessageError::InvalidIp(5)));
    // FINDNODE with distance 257 (kept, to be skipped when answering), with distance 2^16,
    // and with 257 distances.
    let find = [0x03, 0xc5, 0x01, 0xc3, 0x82, 0x01, 0x01];
    assert_eq!(
        Message::decode(&find),
        Ok(Message::FindNode {
            req_id: RequestId::new(&[1]).unwrap(),
            distances: vec![257],
        })
    );
    let find = [0x03, 0xc6, 0x01, 0xc4, 0x83, 0x01, 0x00, 0x00];
    assert_eq!(
        Message::decode(&find),
        Err(MessageError::InvalidDistance(0x1_0000))
    );
    let too_many = Message::FindNode {
        req_id: RequestId::default(),
        distances: vec![256; 257],
    };
    assert_eq!(
        Message::decode(&too_many.encode()),
        Err(MessageError::TooManyDistances)
    );
    // NODES with a broken record (a signature and no sequence number).
    let nodes = [0x04, 0xc5, 0x01, 0x01, 0xc2, 0xc1, 0x80];
    assert!(matches!(
        Message::decode(&nodes),
        Err(MessageError::InvalidEnr(_))
    ));
}

#[test]
fn record_signatures_are_left_to_whoever_uses_the_record() {
    // A record whose signature does not verify: a handshake packet and a NODES message
    // carrying it decode (decoding does no ECDSA work); verifying the record fails.
    let good = record(1);
    let bad = tampered(&good);
    assert_eq!(bad.verify(), Err(EnrError::BadSignature));
    assert_eq!(RawRecord::from(&good).verify(), Ok(good.clone()));

    let dest = NodeId([0xbb; 32]);
    let header = PacketHeader {
        masking_iv: [1; 16],
        nonce: [2; 12],
        kind: PacketKind::Handshake {
            src_id: good.node_id(),
            id_signature: [3; 64],
            ephemeral_pubkey: [4; 33],
            record: Some(bad.clone()),
        },
    };
    let datagram = wire::encode_packet(&dest, &header, &[0; 16]).unwrap();
    assert_eq!(
        wire::decode_packet(&dest, &datagram).unwrap().header,
        header
    );

    // A signature of the wrong length is found when the record is verified too (as
    // go-ethereum finds it), so the message's other records are kept.
    let mut fields = devp2p_rlp_codec::Rlp::new(good.to_rlp()).list().unwrap();
    fields.bytes().unwrap();
    let mut payload = devp2p_rlp_codec::encode_to_vec(&[0x11u8; 65][..]);
    payload.extend_from_slice(fields.remaining());
    let mut long_signature = Vec::new();
    devp2p_rlp_codec::Header::list(payload.len()).encode(&mut long_signature);
    long_signature.extend(payload);
    let long_signature = RawRecord::new(&long_signature).unwrap();
    assert_eq!(
        long_signature.verify(),
        Err(EnrError::InvalidSignatureLength)
    );

    let nodes = Message::Nodes {
        req_id: RequestId::new(&[1]).unwrap(),
        total: 1,
        enrs: vec![bad, long_signature, RawRecord::from(&good)],
    };
    assert_eq!(Message::decode(&nodes.encode()), Ok(nodes));
}

#[test]
fn request_ids_hold_up_to_eight_bytes() {
    assert_eq!(RequestId::new(&[1; 9]), None);
    assert_eq!(RequestId::new(&[1, 2]).unwrap().as_bytes(), &[1, 2]);
    assert_eq!(RequestId::from([7; 8]).as_bytes(), &[7; 8]);
    assert_eq!(RequestId::default().as_bytes(), b"");
    assert_eq!(
        format!("{:?}", RequestId::new(&[0xab, 1]).unwrap()),
        "RequestId(ab01)"
    );
}

#[test]
fn the_handshake_agrees_on_keys_both_ways() {
    let (key_a, key_b) = (
        SigningKey::from_slice(&[1; 32]).unwrap(),
        SigningKey::from_slice(&[2; 32]).unwrap(),
    );
    let ephemeral = SigningKey::from_slice(&[3; 32]).unwrap();
    let pk = |k: &SigningKey| PublicKey::from(k.verifying_key());
    let (a, b) = (
        NodeId::from_public_key(&pk(&key_a)),
        NodeId::from_public_key(&pk(&key_b)),
    );
    let challenge = [9u8; 63];
    let ours = crypto::derive_keys(&ephemeral, &pk(&key_b), &a, &b, &challenge);
    let theirs = crypto::derive_keys(&key_b, &pk(&ephemeral), &a, &b, &challenge);
    assert_eq!(ours, theirs);
    assert_ne!(ours.initiator_key, ours.recipient_key);
    assert_eq!(format!("{ours:?}"), "SessionKeys(..)");
    assert_eq!(
        crypto::public_key_from_bytes(&[0; 33]),
        Err(crypto::CryptoError::InvalidPublicKey)
    );
    // Only the compressed form: a SEC1 "compact" point (tag 05) of the same x is refused
    // (k256's SEC1 parser alone would take it), on either backend.
    let mut compact = crypto::public_key_to_bytes(&pk(&key_b));
    assert!(crypto::public_key_from_bytes(&compact).is_ok());
    compact[0] = 0x05;
    assert_eq!(
        crypto::public_key_from_bytes(&compact),
        Err(crypto::CryptoError::InvalidPublicKey)
    );
}
