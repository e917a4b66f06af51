//! The RLPx frame decoder fed arbitrary bytes after a fixed handshake (fixed secrets): never
//! panics; a frame that decodes re-encodes, on a fresh pair, to a frame that decodes the same.
#![no_main]

use bytes::BytesMut;
use devp2p_ecies::{MacInit, Secrets};
use devp2p_enr::PeerId;
use devp2p_rlpx_framing::{Message, RlpxCodec};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};

/// `cargo xtask fuzz rlpx_frame` seeds frames made under these same secrets (xtask/src/fuzz.rs).
fn secrets(egress: &[u8], ingress: &[u8]) -> Secrets {
    Secrets {
        remote_id: PeerId([1; 64]),
        aes_secret: [0x11; 32],
        mac_secret: [0x22; 32],
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

fuzz_target!(|data: &[u8]| {
    let mut receiver = RlpxCodec::new(&secrets(b"b", b"a"), 1 << 16);
    let mut input = BytesMut::from(data);
    let mut decoded: Vec<Message> = Vec::new();
    while let Ok(Some(message)) = receiver.decode(&mut input) {
        decoded.push(message);
        if decoded.len() > 64 {
            break;
        }
    }
    let _ = receiver.decode_eof(&mut input);

    // Whatever arbitrary messages look like, our own frames of them decode back.
    let (mut tx, mut rx) = (
        RlpxCodec::new(&secrets(b"a", b"b"), 1 << 16),
        RlpxCodec::new(&secrets(b"b", b"a"), 1 << 16),
    );
    let message = Message::new(u64::from(data.first().copied().unwrap_or(0)), data.to_vec());
    let mut wire = BytesMut::new();
    if data.len() < 1 << 15 && tx.encode(message.clone(), &mut wire).is_ok() {
        assert_eq!(rx.decode(&mut wire).ok().flatten(), Some(message));
    }
});
