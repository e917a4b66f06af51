//! discv5 past the handshake: a node that has asked a peer for a PING, a FINDNODE and a
//! TALKREQ receives whatever the fuzzer makes that peer say, encrypted in their session. So
//! fuzzing reaches the node's message handlers (answers matched to requests, records checked
//! against the distances asked, the table and address prediction updated), which random
//! datagrams never do: they stop at decryption. Never panics, and everything the node sends
//! stays within 1280 bytes.
//!
//! Input: a run of `op, len, len bytes`. By op (mod 5), the peer sends:
//! 0. the bytes as a message, if they decode, as they are;
//! 1. the bytes after the first as a message, with the request id of one of the node's
//!    requests (by the first byte);
//! 2. NODES for one of those requests (by the first byte), `total` from the second byte, and
//!    a record made and signed for each further 8 bytes: IPv4 address, UDP port, sequence
//!    number and which of eight keys (at most four records);
//! 3. nothing: time passes, the bytes' sum in 100 ms steps;
//! 4. the bytes as a raw datagram.
#![no_main]

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::OnceLock,
    time::{Duration, Instant},
};

use devp2p_discv5::{
    Config, Discv5, Enr, Event, Message, RequestId, SigningKey,
    session::{SessionConfig, SessionEvent, Sessions},
    wire::MAX_PACKET_SIZE,
};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    node_key: SigningKey,
    node_record: Enr,
    peer_key: SigningKey,
    peer_record: Enr,
    record_keys: Vec<SigningKey>,
    start: Instant,
}

const NODE: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 9000);
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 9000);

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = |byte: u8| SigningKey::from_slice(&[byte; 32]).unwrap();
        let record = |key: &SigningKey, addr: SocketAddr| {
            Enr::builder()
                .ip(addr.ip())
                .udp(addr.port())
                .build(key)
                .unwrap()
        };
        let (node_key, peer_key) = (key(1), key(2));
        Fixture {
            node_record: record(&node_key, NODE),
            peer_record: record(&peer_key, PEER),
            node_key,
            peer_key,
            record_keys: (0x10..0x18).map(key).collect(),
            start: Instant::now(),
        }
    })
}

/// The request id of a request (PING, FINDNODE, TALKREQ).
fn request_id(message: &Message) -> Option<RequestId> {
    match message {
        Message::Ping { req_id, .. }
        | Message::FindNode { req_id, .. }
        | Message::TalkReq { req_id, .. } => Some(*req_id),
        _ => None,
    }
}

fn with_request_id(message: Message, req_id: RequestId) -> Message {
    match message {
        Message::Ping { enr_seq, .. } => Message::Ping { req_id, enr_seq },
        Message::Pong {
            enr_seq, ip, port, ..
        } => Message::Pong {
            req_id,
            enr_seq,
            ip,
            port,
        },
        Message::FindNode { distances, .. } => Message::FindNode { req_id, distances },
        Message::Nodes { total, enrs, .. } => Message::Nodes {
            req_id,
            total,
            enrs,
        },
        Message::TalkReq {
            protocol, request, ..
        } => Message::TalkReq {
            req_id,
            protocol,
            request,
        },
        Message::TalkResp { response, .. } => Message::TalkResp { req_id, response },
    }
}

/// Records signed by the fixture's keys, one for each 8 bytes.
fn records(bytes: &[u8]) -> Vec<Enr> {
    bytes
        .chunks_exact(8)
        .take(4)
        .filter_map(|b| {
            let key = &fixture().record_keys[usize::from(b[7] % 8)];
            Enr::builder()
                .ip4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
                .udp(u16::from_be_bytes([b[4], b[5]]))
                .seq(u64::from(b[6]) + 1)
                .build(key)
                .ok()
        })
        .collect()
}

/// Delivers datagrams both ways until neither side sends; notes the node's requests and
/// answers its TALKREQs.
fn exchange(node: &mut Discv5, peer: &mut Sessions, now: Instant, requests: &mut Vec<RequestId>) {
    let node_record = &fixture().node_record;
    for _ in 0..16 {
        let mut moved = false;
        while let Some(transmit) = node.poll_transmit() {
            assert!(transmit.bytes.len() <= MAX_PACKET_SIZE);
            moved = true;
            if transmit.dst == PEER {
                let known = |id: &_| (*id == node_record.node_id()).then(|| node_record.clone());
                peer.handle_datagram(now, NODE, &transmit.bytes, known);
            }
        }
        while let Some(event) = peer.poll_event() {
            if let SessionEvent::Message { message, .. } = event {
                requests.extend(request_id(&message));
            }
        }
        while let Some(transmit) = peer.poll_transmit() {
            moved = true;
            node.handle_datagram(now, PEER, &transmit.bytes);
        }
        while let Some(event) = node.poll_event() {
            if let Event::TalkRequest {
                node: from, req_id, ..
            } = event
            {
                node.talk_response(now, &from, req_id, b"answer".to_vec());
            }
        }
        if !moved {
            return;
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut now = f.start;
    let mut node = Discv5::new(
        f.node_key.clone(),
        f.node_record.clone(),
        Config::default(),
        now,
        [1; 32],
    );
    let mut peer = Sessions::new(
        f.peer_key.clone(),
        f.peer_record.clone(),
        SessionConfig::default(),
        [2; 32],
    );
    node.register_talk_protocol(b"fz");
    node.ping(now, &f.peer_record);
    node.find_node(now, &f.peer_record, vec![0, 1, 255, 256]);
    node.talk_req(now, &f.peer_record, b"fz", b"request");
    let mut requests = Vec::new();
    exchange(&mut node, &mut peer, now, &mut requests);
    // The handshake ran: the peer holds the node's three requests.
    assert_eq!(requests.len(), 3);

    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let (bytes, after) = tail.split_at(usize::from(*len).min(tail.len()));
        rest = after;
        let pick = |i: Option<&u8>| requests[usize::from(i.copied().unwrap_or(0)) % requests.len()];
        match op % 5 {
            0 => {
                if let Ok(message) = Message::decode(bytes) {
                    peer.send(now, &f.node_record, NODE, message);
                }
            }
            1 => {
                if let Ok(message) = Message::decode(bytes.get(1..).unwrap_or_default()) {
                    let message = with_request_id(message, pick(bytes.first()));
                    peer.send(now, &f.node_record, NODE, message);
                }
            }
            2 => {
                let req_id = pick(bytes.first());
                let total = u64::from(bytes.get(1).copied().unwrap_or(1));
                let enrs = records(bytes.get(2..).unwrap_or_default())
                    .into_iter()
                    .map(Into::into)
                    .collect();
                peer.send(
                    now,
                    &f.node_record,
                    NODE,
                    Message::Nodes {
                        req_id,
                        total,
                        enrs,
                    },
                );
            }
            3 => {
                let steps: u64 = bytes.iter().map(|b| u64::from(*b)).sum();
                now += Duration::from_millis(100 * steps);
                node.handle_timeout(now);
                peer.handle_timeout(now);
            }
            _ => node.handle_datagram(now, PEER, bytes),
        }
        exchange(&mut node, &mut peer, now, &mut requests);
    }
});
