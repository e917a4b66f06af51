//! discv5 packets: arbitrary datagrams unmasked and checked by `wire::decode_packet` as a fixed
//! node (the vectors' node B), and arbitrary plaintexts through `Message::decode`; never
//! panics, every header that decodes re-encodes to the same datagram, and every message that
//! decodes re-encodes to the same message.
//!
//! Input: a mode byte, then the rest. Mode bit 0 clear: the rest is a whole datagram. Set: the
//! rest is a message plaintext (`message-type || RLP`), so fuzzing reaches the message decoders
//! without having to pass AES-GCM.
#![no_main]

use devp2p_discv5::{Message, NodeId, PublicKey, SigningKey, wire};
use libfuzzer_sys::fuzz_target;

/// Node B of the spec's test vectors, so the vector packets unmask.
fn local_id() -> NodeId {
    let secret: [u8; 32] = [
        0x66, 0xfb, 0x62, 0xbf, 0xbd, 0x66, 0xb9, 0x17, 0x7a, 0x13, 0x8c, 0x1e, 0x5c, 0xdd, 0xbe,
        0x4f, 0x7c, 0x30, 0xc3, 0x43, 0xe9, 0x4e, 0x68, 0xdf, 0x87, 0x69, 0x45, 0x9c, 0xb1, 0xcd,
        0xe6, 0x28,
    ];
    let key = SigningKey::from_slice(&secret).unwrap();
    NodeId::from_public_key(&PublicKey::from(key.verifying_key()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let local = local_id();
        let Ok(packet) = wire::decode_packet(&local, rest) else {
            return;
        };
        assert_eq!(packet.header.message_ad(), packet.message_ad);
        let again = wire::encode_packet(&local, &packet.header, packet.message).unwrap();
        assert_eq!(again, rest);
    } else if let Ok(message) = Message::decode(rest) {
        assert_eq!(message.encode(), rest);
    }
});
