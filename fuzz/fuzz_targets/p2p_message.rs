//! The `p2p` session fed arbitrary messages (any id, any payload, compressed or not) in either
//! state, and the Hello and Disconnect decoders fed arbitrary bytes: never panics, and every
//! output stays within the limits.
//!
//! Input: a flags byte (bit 0: the peer's Hello says p2p v5, i.e. snappy; bit 1: start before
//! the Hello exchange), then messages as `id (1 byte) || length (2 bytes, big-endian) || data`.
#![no_main]

use std::time::{Duration, Instant};

use devp2p_enr::PeerId;
use devp2p_p2p_capability::{
    Capability, CapabilityInfo, Config, DisconnectReason, Event, Hello, NodeInfo, Session,
};
use devp2p_rlpx_framing::Message;
use libfuzzer_sys::fuzz_target;

const US: PeerId = PeerId([0x11; 64]);
const PEER: PeerId = PeerId([0x22; 64]);

fn session(snappy: bool, established: bool, now: Instant) -> Session {
    let caps = vec![
        Capability::new("eth", 68, 17),
        Capability::new("test", 1, 4),
    ];
    let info = NodeInfo {
        client_id: "fuzz".into(),
        listen_port: 0,
        id: US,
    };
    let mut session = Session::new(Config::default(), info, caps, PEER, now).unwrap();
    let _hello = session.poll_transmit();
    if established {
        let hello = Hello {
            protocol_version: if snappy { 5 } else { 4 },
            client_id: "peer".into(),
            capabilities: vec![
                CapabilityInfo::new("eth", 68),
                CapabilityInfo::new("test", 1),
            ],
            listen_port: 0,
            id: PEER,
        };
        session.handle_message(now, Message::new(0x00, hello.encode()));
        assert_eq!(session.poll_event(), Some(Event::Established));
    }
    session
}

fuzz_target!(|data: &[u8]| {
    let _ = Hello::decode(data);
    let _ = DisconnectReason::decode(data);

    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let mut now = Instant::now();
    let mut session = session(flags & 1 == 1, flags & 2 == 0, now);
    while let [id, high, low, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*high, *low])).min(tail.len());
        let (payload, next) = tail.split_at(len);
        rest = next;
        now += Duration::from_millis(u64::from(*id));
        session.handle_message(now, Message::new(u64::from(*id), payload.to_vec()));
        session.handle_timeout(now);
        while let Some(message) = session.poll_transmit() {
            assert!(message.data.len() <= 1 << 24);
        }
        while let Some(message) = session.poll_message() {
            assert!(message.data.len() <= 16 << 20);
            assert!(message.capability < session.shared_capabilities().len());
        }
        while session.poll_event().is_some() {}
    }
});
