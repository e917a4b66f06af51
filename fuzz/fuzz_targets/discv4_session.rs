//! discv4 with a peer that signs what the fuzzer says: a node that has a peer as its bootnode
//! (so it pings it, then looks up through it) and wants its record receives packets
//! genuinely signed by that peer, including answers that name the node's own pings and ENR
//! requests by hash. So fuzzing reaches bonding, Neighbours matched to a FINDNODE, ENR
//! responses matched to a request and address votes, which `discv4_packet` (signed by keys
//! nobody asked) does not. Never panics, everything the node sends stays within 1280 bytes,
//! and what it sends the peer decodes.
//!
//! Input: a run of `op, len, len bytes`. By op (mod 7), the peer sends:
//! 0. `packet-type || packet-data` from the bytes, signed;
//! 1. PONG to the node's last PING, its ENR sequence number from the first byte;
//! 2. PING, its ENR sequence number from the first byte;
//! 3. NEIGHBOURS with a node for each 9 bytes: IPv4 address, UDP and TCP ports, and which of
//!    eight keys (at most twelve nodes);
//! 4. ENRRESPONSE to the node's last ENR request, with the peer's record or (first byte odd)
//!    one signed by another key;
//! 5. nothing: time passes, the bytes' sum in 100 ms steps;
//! 6. the bytes as a raw datagram.
#![no_main]

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::OnceLock,
    time::{Duration, Instant},
};

use devp2p_discv4::{
    Config, Discv4, Endpoint, Enr, EnrResponse, MAX_PACKET_SIZE, Message, Neighbours, NodeRecord,
    PeerId, Ping, Pong, RawRecord, SigningKey, wire,
};
use libfuzzer_sys::fuzz_target;

/// The node's clock starts at this Unix time.
const UNIX_TIME: u64 = 1_700_000_000;

const NODE: Endpoint = Endpoint {
    ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
    udp_port: 30303,
    tcp_port: 30303,
};
const PEER: Endpoint = Endpoint {
    ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
    udp_port: 30303,
    tcp_port: 30303,
};

struct Fixture {
    node_key: SigningKey,
    peer_key: SigningKey,
    peer: NodeRecord,
    peer_record: Enr,
    other_record: Enr,
    ids: Vec<PeerId>,
    start: Instant,
}

fn id(key: &SigningKey) -> PeerId {
    PeerId::from_public_key(&key.verifying_key().into())
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = |byte: u8| SigningKey::from_slice(&[byte; 32]).unwrap();
        let record = |key: &SigningKey| {
            Enr::builder()
                .ip(PEER.ip)
                .udp(PEER.udp_port)
                .tcp(PEER.tcp_port)
                .build(key)
                .unwrap()
        };
        let peer_key = key(2);
        Fixture {
            node_key: key(1),
            peer: NodeRecord {
                id: id(&peer_key),
                ip: PEER.ip,
                tcp_port: PEER.tcp_port,
                udp_port: PEER.udp_port,
            },
            peer_record: record(&peer_key),
            other_record: record(&key(3)),
            peer_key,
            ids: (0x10..0x18).map(|byte| id(&key(byte))).collect(),
            start: Instant::now(),
        }
    })
}

fn addr(endpoint: Endpoint) -> SocketAddr {
    SocketAddr::new(endpoint.ip, endpoint.udp_port)
}

/// What the peer remembers of the node's packets to it.
#[derive(Default)]
struct Heard {
    ping: [u8; 32],
    enr_request: [u8; 32],
}

/// Hands the node's packets to the peer (which only takes note) and drains the node's events.
fn settle(node: &mut Discv4, heard: &mut Heard) {
    while let Some(transmit) = node.poll_transmit() {
        assert!(transmit.bytes.len() <= MAX_PACKET_SIZE);
        if transmit.dst != addr(PEER) {
            continue;
        }
        let packet = wire::decode(&transmit.bytes).unwrap();
        match packet.message {
            Message::Ping(_) => heard.ping = packet.hash,
            Message::EnrRequest(_) => heard.enr_request = packet.hash,
            _ => {}
        }
    }
    while node.poll_event().is_some() {}
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut now = f.start;
    let mut node = Discv4::new(
        f.node_key.clone(),
        NODE,
        Config::default(),
        now,
        UNIX_TIME,
        [1; 32],
    )
    .unwrap();
    node.add_bootnode(now, f.peer);
    node.request_enr(now, f.peer);
    let mut heard = Heard::default();
    settle(&mut node, &mut heard);

    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let (bytes, after) = tail.split_at(usize::from(*len).min(tail.len()));
        rest = after;
        let first = bytes.first().copied().unwrap_or(0);
        let expiration = UNIX_TIME + now.duration_since(f.start).as_secs() + 20;
        let message = match op % 7 {
            0 => {
                let Some((&kind, data)) = bytes.split_first() else {
                    continue;
                };
                let (datagram, _) = wire::encode_packet(&f.peer_key, kind, data);
                node.handle_datagram(now, addr(PEER), &datagram);
                None
            }
            1 => Some(Message::Pong(Pong {
                to: NODE,
                ping_hash: heard.ping,
                expiration,
                enr_seq: Some(u64::from(first)),
            })),
            2 => Some(Message::Ping(Ping {
                version: 4,
                from: PEER,
                to: NODE,
                expiration,
                enr_seq: Some(u64::from(first)),
            })),
            3 => {
                let nodes = bytes
                    .chunks_exact(9)
                    .take(12)
                    .map(|b| NodeRecord {
                        id: f.ids[usize::from(b[8] % 8)],
                        ip: Ipv4Addr::new(b[0], b[1], b[2], b[3]).into(),
                        udp_port: u16::from_be_bytes([b[4], b[5]]),
                        tcp_port: u16::from_be_bytes([b[6], b[7]]),
                    })
                    .collect();
                Some(Message::Neighbours(Neighbours { nodes, expiration }))
            }
            4 => Some(Message::EnrResponse(EnrResponse {
                request_hash: heard.enr_request,
                record: RawRecord::from(if first % 2 == 0 {
                    &f.peer_record
                } else {
                    &f.other_record
                }),
            })),
            5 => {
                let steps: u64 = bytes.iter().map(|b| u64::from(*b)).sum();
                now += Duration::from_millis(100 * steps);
                node.handle_timeout(now);
                None
            }
            _ => {
                node.handle_datagram(now, addr(PEER), bytes);
                None
            }
        };
        if let Some(message) = message {
            let (datagram, _) = message.encode(&f.peer_key);
            node.handle_datagram(now, addr(PEER), &datagram);
        }
        settle(&mut node, &mut heard);
    }
});
