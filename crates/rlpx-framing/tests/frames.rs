//! The frame codec without sockets: go-ethereum's frame vector, ethereumjs's frames with their
//! MACs, round trips of every size, and each kind of bad input as a typed error.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use bytes::BytesMut;
use devp2p_ecies::{MacInit, Secrets};
use devp2p_enr::PeerId;
use devp2p_rlpx_framing::{FrameCodec, FrameError, MAX_FRAME_SIZE, Message, RlpxCodec, RlpxError};
use serde_json::Value;
use sha3::{Digest, Keccak256};
use tokio_util::codec::{Decoder, Encoder};

/// Two matching sides of a session: A's egress MAC is B's ingress and the other way round.
fn sides(aes: [u8; 32], mac: [u8; 32]) -> (Secrets, Secrets) {
    let init = |message: &[u8]| MacInit {
        seed: [0x33; 32],
        message: message.to_vec(),
    };
    let (a_out, b_out) = (init(b"a to b"), init(b"b to a"));
    let id = PeerId([7; 64]);
    let a = Secrets {
        remote_id: id,
        aes_secret: aes,
        mac_secret: mac,
        egress_mac: a_out.clone(),
        ingress_mac: b_out.clone(),
    };
    let b = Secrets {
        remote_id: id,
        aes_secret: aes,
        mac_secret: mac,
        egress_mac: b_out,
        ingress_mac: a_out,
    };
    (a, b)
}

fn codecs(max: usize) -> (RlpxCodec, RlpxCodec) {
    let (a, b) = sides([0x11; 32], [0x22; 32]);
    (RlpxCodec::new(&a, max), RlpxCodec::new(&b, max))
}

#[test]
fn geth_frame_ciphertexts() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/rlpx/frame_geth.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let hex = |p: &str| hex::decode(v.pointer(p).unwrap().as_str().unwrap()).unwrap();
    let secret: [u8; 32] = hex("/aes_secret").try_into().unwrap();
    assert_eq!(secret, <[u8; 32]>::from(Keccak256::digest(b"")));
    // The vector's MACs come from a fake hash; its ciphertexts depend only on the AES keystream.
    let (a, _) = sides(secret, hex("/mac_secret").try_into().unwrap());
    let mut out = BytesMut::new();
    FrameCodec::new(&a, MAX_FRAME_SIZE)
        .encode(&[0x08], &hex("/msg_payload_rlp"), &mut out)
        .unwrap();
    assert_eq!(out.len(), 64);
    assert_eq!(out[..16], hex("/derived/header_ciphertext")[..]);
    assert_eq!(out[32..48], hex("/derived/frame_ciphertext")[..]);
}

/// Three frames in a row written by ethereumjs (`testdata/rlpx/frame_ethereumjs.json`, made by
/// `xtask/interop/frame_vector.mjs`): ours writes the same bytes, both MACs included, and
/// reads them back. Unlike go-ethereum's vector, its MACs come from a real keccak256.
#[test]
fn ethereumjs_frames_byte_for_byte() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/rlpx/frame_ethereumjs.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let hex = |v: &Value| hex::decode(v.as_str().unwrap()).unwrap();
    let mac = MacInit {
        seed: hex(&v["mac_seed"]).try_into().unwrap(),
        message: hex(&v["init_message"]),
    };
    let secrets = Secrets {
        remote_id: PeerId([7; 64]),
        aes_secret: hex(&v["aes_secret"]).try_into().unwrap(),
        mac_secret: hex(&v["mac_secret"]).try_into().unwrap(),
        egress_mac: mac.clone(),
        ingress_mac: mac,
    };
    let frames = v["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 3);
    let mut codec = FrameCodec::new(&secrets, MAX_FRAME_SIZE);
    let (mut ours, mut theirs) = (BytesMut::new(), Vec::new());
    for frame in frames {
        let body = hex(&frame["body"]);
        // The message id's RLP: one byte, or a length byte and the id.
        let id_len = usize::from(body[0].saturating_sub(0x80)) + 1;
        codec
            .encode(&body[..id_len], &body[id_len..], &mut ours)
            .unwrap();
        for part in ["header", "header_mac", "frame", "frame_mac"] {
            theirs.extend(hex(&frame[part]));
        }
    }
    assert_eq!(hex::encode(&ours), hex::encode(&theirs));
    let mut input = BytesMut::from(&theirs[..]);
    for frame in frames {
        let body = codec.decode(&mut input).unwrap().unwrap();
        assert_eq!(body[..], hex(&frame["body"])[..]);
    }
    assert!(input.is_empty());
}

fn round_trip(sizes: &[usize], byte_by_byte: bool) {
    let (mut a, mut b) = codecs(MAX_FRAME_SIZE);
    let mut wire = BytesMut::new();
    let messages: Vec<Message> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            Message::new(
                0x10 + i as u64,
                (0..size).map(|j| (j * 31 + i) as u8).collect::<Vec<_>>(),
            )
        })
        .collect();
    for m in &messages {
        a.encode(m.clone(), &mut wire).unwrap();
    }
    let mut received = Vec::new();
    if byte_by_byte {
        let mut input = BytesMut::new();
        for byte in wire {
            input.extend_from_slice(&[byte]);
            while let Some(m) = b.decode(&mut input).unwrap() {
                received.push(m);
            }
        }
    } else {
        while let Some(m) = b.decode(&mut wire).unwrap() {
            received.push(m);
        }
        assert!(wire.is_empty());
    }
    assert_eq!(received, messages);
}

#[test]
fn every_size_round_trips() {
    round_trip(&[0, 1, 14, 15, 16, 17, 1 << 20], false);
    // The largest frame: the body is the one-byte id plus the data.
    round_trip(&[MAX_FRAME_SIZE - 1], false);
    round_trip(&[0, 1, 16, 100], true);
}

#[test]
fn oversized_messages_are_refused() {
    let (mut a, _) = codecs(MAX_FRAME_SIZE);
    let err = a
        .encode(
            Message::new(0x10, vec![0; MAX_FRAME_SIZE]),
            &mut BytesMut::new(),
        )
        .unwrap_err();
    assert!(matches!(err, RlpxError::Frame(FrameError::TooLarge(n)) if n == MAX_FRAME_SIZE + 1));

    // A frame over the receiver's limit is refused from its header alone.
    let (mut a, _) = codecs(MAX_FRAME_SIZE);
    let (_, mut b) = codecs(1024);
    let mut wire = BytesMut::new();
    a.encode(Message::new(0x10, vec![0; 2000]), &mut wire)
        .unwrap();
    let mut header_only = wire.split_to(32);
    assert!(matches!(
        b.decode(&mut header_only),
        Err(RlpxError::Frame(FrameError::TooLarge(2001)))
    ));
}

#[test]
fn tampering_is_detected() {
    for (at, expected) in [
        (3, FrameError::HeaderMacMismatch),
        (20, FrameError::HeaderMacMismatch),
        (40, FrameError::FrameMacMismatch),
        (70, FrameError::FrameMacMismatch),
    ] {
        let (mut a, mut b) = codecs(MAX_FRAME_SIZE);
        let mut wire = BytesMut::new();
        a.encode(Message::new(0x10, vec![5; 40]), &mut wire)
            .unwrap();
        wire[at] ^= 1;
        match b.decode(&mut wire) {
            Err(RlpxError::Frame(err)) => assert_eq!(err, expected, "byte {at}"),
            other => panic!("byte {at}: {other:?}"),
        }
    }
}

#[test]
fn closed_mid_frame_and_bad_message_ids() {
    let (mut a, mut b) = codecs(MAX_FRAME_SIZE);
    let mut wire = BytesMut::new();
    a.encode(Message::new(0x10, vec![1; 100]), &mut wire)
        .unwrap();
    let mut partial = wire.split_to(50);
    assert!(b.decode(&mut partial).unwrap().is_none());
    assert!(matches!(
        b.decode_eof(&mut partial),
        Err(RlpxError::ClosedMidFrame)
    ));
    let (_, mut b) = codecs(MAX_FRAME_SIZE);
    assert!(b.decode_eof(&mut BytesMut::new()).unwrap().is_none());

    // A body that does not start with a canonical integer.
    let (a, b) = sides([0x11; 32], [0x22; 32]);
    let (mut frames, mut rx) = (
        FrameCodec::new(&a, MAX_FRAME_SIZE),
        RlpxCodec::new(&b, MAX_FRAME_SIZE),
    );
    // It fails the read side like any bad frame: the next one, though sound, is not read.
    let mut wire = BytesMut::new();
    frames.encode(&[0x00], b"data", &mut wire).unwrap();
    frames.encode(&[0x10], b"data", &mut wire).unwrap();
    for _ in 0..2 {
        assert!(matches!(
            rx.decode(&mut wire),
            Err(RlpxError::Frame(FrameError::InvalidMessageId(_)))
        ));
    }
}

#[test]
fn a_failed_frame_ends_the_read_side() {
    // The first frame's body is tampered with; the second is sound. The codec keeps
    // reporting the first failure and reads nothing further.
    let (mut a, mut b) = codecs(MAX_FRAME_SIZE);
    let mut wire = BytesMut::new();
    for _ in 0..2 {
        a.encode(Message::new(0x10, vec![5; 40]), &mut wire)
            .unwrap();
    }
    wire[40] ^= 1;
    for _ in 0..2 {
        assert!(matches!(
            b.decode(&mut wire),
            Err(RlpxError::Frame(FrameError::FrameMacMismatch))
        ));
    }
    assert_eq!(wire.len(), 96, "bytes of the second frame were read");
}

#[test]
fn a_header_alone_does_not_reserve_its_whole_frame() {
    let (mut a, mut b) = codecs(MAX_FRAME_SIZE);
    let mut wire = BytesMut::new();
    a.encode(Message::new(0x10, vec![0; 1 << 20]), &mut wire)
        .unwrap();
    let mut received = BytesMut::from(&wire[..32]);
    assert!(b.decode(&mut received).unwrap().is_none());
    assert!(
        received.capacity() <= 128 * 1024,
        "reserved {} bytes",
        received.capacity()
    );
    // As the body arrives the frame is still read whole.
    for chunk in wire[32..].chunks(100_000) {
        received.extend_from_slice(chunk);
    }
    let message = b.decode(&mut received).unwrap().unwrap();
    assert_eq!(message.data.len(), 1 << 20);
}

/// The frame ciphers clear their key schedules and counter state when dropped (the `zeroize`
/// features of `aes` and `ctr`): this does not compile without them. The keccak MAC states
/// cannot be cleared.
#[test]
fn frame_ciphers_are_cleared_on_drop() {
    fn cleared_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    cleared_on_drop::<aes::Aes256>();
    cleared_on_drop::<ctr::Ctr128BE<aes::Aes256>>();
}
