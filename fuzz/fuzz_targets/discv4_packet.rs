//! discv4 packets: arbitrary datagrams through `wire::decode` and a node's `handle_datagram`;
//! never panics, every message that decodes re-encodes to the same message, and everything the
//! node sends stays within 1280 bytes.
//!
//! Only datagrams that decode reach the node: others are dropped before anything else happens.
//!
//! Input: a mode byte, then the rest. Mode bit 0 clear: the rest is a whole datagram. Set: the
//! rest is `packet-type || packet-data`, which gets a valid hash over a fixed signature, so
//! fuzzing reaches the RLP decoders instead of stopping at the hash check.
#![no_main]

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use devp2p_discv4::{Config, Discv4, Endpoint, SigningKey, wire};
use libfuzzer_sys::fuzz_target;
use sha3::{Digest, Keccak256};

fn key() -> SigningKey {
    SigningKey::from_slice(&[0x42; 32]).unwrap()
}

/// A well-formed signature (of an unrelated message): recovery gives some key or fails.
fn signature() -> &'static [u8] {
    static SIGNATURE: OnceLock<Vec<u8>> = OnceLock::new();
    SIGNATURE.get_or_init(|| {
        let (packet, _) = wire::encode_packet(&key(), 0x05, &[0xc5, 0x84, 0x7f, 0, 0, 0]);
        packet[32..97].to_vec()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let datagram = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let mut signed = signature().to_vec();
        signed.extend_from_slice(rest);
        let mut datagram = Keccak256::digest(&signed).to_vec();
        datagram.extend_from_slice(&signed);
        datagram
    };
    // A datagram that does not decode is dropped before the node looks at anything else.
    let Ok(packet) = wire::decode(&datagram) else {
        return;
    };
    let (again, _) = packet.message.encode(&key());
    assert_eq!(wire::decode(&again).unwrap().message, packet.message);

    let now = Instant::now();
    let here = Endpoint {
        ip: [127, 0, 0, 1].into(),
        udp_port: 30303,
        tcp_port: 30303,
    };
    // Expirations count from 2001, so the vectors' 2006 timestamps are still valid.
    let mut node = Discv4::new(key(), here, Config::default(), now, 1_000_000_000, [1; 32]).unwrap();
    node.handle_datagram(now, "127.0.0.2:30303".parse().unwrap(), &datagram);
    node.handle_timeout(now + Duration::from_secs(1));
    while let Some(transmit) = node.poll_transmit() {
        assert!(transmit.bytes.len() <= wire::MAX_PACKET_SIZE);
    }
    while node.poll_event().is_some() {}
});
