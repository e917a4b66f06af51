//! The session layer in memory: handshakes both ways, messages in sessions, and the cases the
//! spec is strict about (a session is bound to its address; a pending challenge is repeated
//! unchanged; a handshake must answer our challenge and prove the node's key).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use devp2p_discv5::{
    Enr, EnrError, Message, NodeId, RequestId, SigningKey, crypto,
    session::{NodeAddress, SessionConfig, SessionEvent, Sessions, Transmit},
    wire::{self, PacketKind, RawRecord},
};

mod common;
use common::tampered;

struct Node {
    enr: Enr,
    addr: SocketAddr,
    sessions: Sessions,
}

fn node(b: u8, port: u16) -> Node {
    node_with(b, port, SessionConfig::default())
}

fn node_with(b: u8, port: u16, config: SessionConfig) -> Node {
    let key = SigningKey::from_slice(&[b; 32]).unwrap();
    let enr = Enr::builder()
        .ip4([127, 0, 0, 1].into())
        .udp(port)
        .build(&key)
        .unwrap();
    let sessions = Sessions::new(key.clone(), enr.clone(), config, [b; 32]);
    Node {
        enr,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        sessions,
    }
}

fn ping(id: u8) -> Message {
    Message::Ping {
        req_id: RequestId::new(&[id]).unwrap(),
        enr_seq: 1,
    }
}

fn transmits(node: &mut Node) -> Vec<Transmit> {
    std::iter::from_fn(|| node.sessions.poll_transmit()).collect()
}

fn events(node: &mut Node) -> Vec<SessionEvent> {
    std::iter::from_fn(|| node.sessions.poll_event()).collect()
}

/// A pings B without a session; B challenges it. Returns B's WHOAREYOU, which A has not seen
/// yet, and its challenge data.
fn challenge_from(now: Instant, a: &mut Node, b: &mut Node) -> (Transmit, Vec<u8>) {
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    deliver(now, a, b, None);
    let whoareyou = transmits(b).remove(0);
    let challenge = wire::decode_packet(&a.enr.node_id(), &whoareyou.bytes)
        .unwrap()
        .message_ad;
    (whoareyou, challenge)
}

/// Delivers everything `from` has to send to `to`, as if from `from.addr`.
fn deliver(now: Instant, from: &mut Node, to: &mut Node, known: Option<Enr>) -> usize {
    let out = transmits(from);
    for t in &out {
        assert_eq!(t.dst, to.addr);
        to.sessions
            .handle_datagram(now, from.addr, &t.bytes, |_| known.clone());
    }
    out.len()
}

fn flag(bytes: &[u8], to: &NodeId) -> u8 {
    wire::decode_packet(to, bytes).unwrap().header.kind.flag()
}

#[test]
fn handshake_then_messages_both_ways() {
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), node(2, 9002));
    assert!(a.sessions.send(now, &b.enr.clone(), b.addr, ping(1)));
    assert!(a.sessions.send(now, &b.enr.clone(), b.addr, ping(2))); // waits for the handshake
    let random = transmits(&mut a);
    assert_eq!(random.len(), 1);
    assert_eq!(flag(&random[0].bytes, &b.enr.node_id()), 0);
    b.sessions
        .handle_datagram(now, a.addr, &random[0].bytes, |_| None);
    let whoareyou = transmits(&mut b);
    assert_eq!(flag(&whoareyou[0].bytes, &a.enr.node_id()), 1);
    a.sessions
        .handle_datagram(now, b.addr, &whoareyou[0].bytes, |_| None);
    let handshake = transmits(&mut a);
    assert_eq!(
        handshake.len(),
        2,
        "the handshake with the first Ping, then the second in session"
    );
    assert_eq!(flag(&handshake[0].bytes, &b.enr.node_id()), 2);
    assert_eq!(flag(&handshake[1].bytes, &b.enr.node_id()), 0);
    for t in &handshake {
        b.sessions.handle_datagram(now, a.addr, &t.bytes, |_| None);
    }
    let at_b = events(&mut b);
    let from_a = NodeAddress {
        id: a.enr.node_id(),
        addr: a.addr,
    };
    assert_eq!(
        at_b,
        vec![
            SessionEvent::Established {
                node: from_a.clone(),
                record: Some(a.enr.clone())
            },
            SessionEvent::Message {
                node: from_a.clone(),
                message: ping(1)
            },
            SessionEvent::Message {
                node: from_a,
                message: ping(2)
            },
        ]
    );
    // B answers in the session, without a handshake of its own.
    let pong = Message::Pong {
        req_id: RequestId::new(&[1]).unwrap(),
        enr_seq: 1,
        ip: a.addr.ip(),
        port: a.addr.port(),
    };
    assert!(b.sessions.has_session(&a.enr.node_id(), a.addr));
    b.sessions.send(now, &a.enr.clone(), a.addr, pong.clone());
    assert_eq!(deliver(now, &mut b, &mut a, None), 1);
    let at_a = events(&mut a);
    assert!(
        matches!(&at_a[..], [SessionEvent::Established { .. }, SessionEvent::Message { message, .. }] if *message == pong),
        "{at_a:?}"
    );
}

/// A and B with a session; returns them.
fn established(now: Instant) -> (Node, Node) {
    let (mut a, mut b) = (node(1, 9001), node(2, 9002));
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    for _ in 0..2 {
        deliver(now, &mut a, &mut b, None);
        deliver(now, &mut b, &mut a, None);
    }
    events(&mut a);
    events(&mut b);
    assert!(b.sessions.has_session(&a.enr.node_id(), a.addr));
    (a, b)
}

#[test]
fn a_session_is_not_valid_from_another_address() {
    let now = Instant::now();
    let (mut a, mut b) = established(now);
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(7));
    let packet = transmits(&mut a).remove(0);
    // The same packet from another address: B answers with WHOAREYOU, not the message.
    let elsewhere = SocketAddr::from(([127, 0, 0, 2], 9001));
    b.sessions
        .handle_datagram(now, elsewhere, &packet.bytes, |_| None);
    let out = transmits(&mut b);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dst, elsewhere);
    assert_eq!(flag(&out[0].bytes, &a.enr.node_id()), 1);
    assert!(events(&mut b).is_empty());
    // From the session's address it is read.
    b.sessions
        .handle_datagram(now, a.addr, &packet.bytes, |_| None);
    assert!(
        matches!(&events(&mut b)[..], [SessionEvent::Message { message, .. }] if *message == ping(7))
    );
}

#[test]
fn a_pending_challenge_is_repeated_unchanged() {
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), node(2, 9002));
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    let random = transmits(&mut a).remove(0);
    b.sessions
        .handle_datagram(now, a.addr, &random.bytes, |_| None);
    let first = transmits(&mut b).remove(0);
    // Another message packet before the handshake (here: the same one again, and a new one).
    b.sessions.handle_datagram(
        now + Duration::from_millis(100),
        a.addr,
        &random.bytes,
        |_| None,
    );
    let mut other = node(1, 9001);
    other.sessions.send(now, &b.enr.clone(), b.addr, ping(2));
    let second_random = transmits(&mut other).remove(0);
    b.sessions.handle_datagram(
        now + Duration::from_millis(200),
        a.addr,
        &second_random.bytes,
        |_| None,
    );
    let repeats = transmits(&mut b);
    assert_eq!(repeats.len(), 2);
    for repeat in repeats {
        assert_eq!(
            repeat.bytes, first.bytes,
            "same nonce, same id-nonce, same bytes"
        );
    }
    // Once it expires (twice the handshake timeout), a new challenge is made.
    b.sessions.handle_timeout(now + Duration::from_secs(3));
    b.sessions
        .handle_datagram(now + Duration::from_secs(3), a.addr, &random.bytes, |_| {
            None
        });
    assert_ne!(transmits(&mut b).remove(0).bytes, first.bytes);
}

#[test]
fn a_handshake_sent_again_after_a_second_still_answers_the_challenge() {
    // sigp's node sends its handshake packet again when no answer came within its 1 s
    // request timeout: the copy, 1.5 s after our WHOAREYOU, still finds the challenge.
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), node(2, 9002));
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    deliver(now, &mut a, &mut b, None);
    deliver(now, &mut b, &mut a, None);
    let handshake = transmits(&mut a).remove(0);
    let later = now + Duration::from_millis(1500);
    b.sessions.handle_timeout(later);
    b.sessions
        .handle_datagram(later, a.addr, &handshake.bytes, |_| None);
    assert_established(&mut b);
}

#[test]
fn a_stray_whoareyou_is_ignored() {
    let now = Instant::now();
    let (mut a, b) = (node(1, 9001), node(2, 9002));
    // A WHOAREYOU nobody asked for. (Handshakes that do not prove the key are refused in
    // `refused_handshakes_leave_the_challenge_to_the_real_one`.)
    let stray = wire::PacketHeader {
        masking_iv: [9; 16],
        nonce: [9; 12],
        kind: PacketKind::WhoAreYou {
            id_nonce: [1; 16],
            enr_seq: 0,
        },
    };
    let stray = wire::encode_packet(&a.enr.node_id(), &stray, &[]).unwrap();
    a.sessions.handle_datagram(now, b.addr, &stray, |_| None);
    assert!(transmits(&mut a).is_empty());
}

#[test]
fn a_whoareyou_counts_only_from_the_address_asked() {
    let now = Instant::now();
    let elsewhere = SocketAddr::from(([127, 0, 0, 2], 9002));
    // For a handshake we started.
    let (mut a, mut b) = (node(1, 9001), node(2, 9002));
    let (whoareyou, _) = challenge_from(now, &mut a, &mut b);
    a.sessions
        .handle_datagram(now, elsewhere, &whoareyou.bytes, |_| None);
    assert!(transmits(&mut a).is_empty());
    a.sessions
        .handle_datagram(now, b.addr, &whoareyou.bytes, |_| None);
    let handshake = transmits(&mut a);
    assert_eq!(flag(&handshake[0].bytes, &b.enr.node_id()), 2);
    // For a message sent in a session: the session stays.
    let (mut a, mut b) = established(now);
    b.sessions = Sessions::new(
        SigningKey::from_slice(&[2; 32]).unwrap(),
        b.enr.clone(),
        SessionConfig::default(),
        [9; 32],
    );
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(5));
    deliver(now, &mut a, &mut b, None);
    let whoareyou = transmits(&mut b).remove(0);
    a.sessions
        .handle_datagram(now, elsewhere, &whoareyou.bytes, |_| None);
    assert!(transmits(&mut a).is_empty());
    assert!(a.sessions.has_session(&b.enr.node_id(), b.addr));
    a.sessions
        .handle_datagram(now, b.addr, &whoareyou.bytes, |_| None);
    assert_eq!(flag(&transmits(&mut a)[0].bytes, &b.enr.node_id()), 2);
}

#[test]
fn handshakes_that_timed_out_do_not_crowd_out_a_pending_one() {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let config = SessionConfig {
        max_pending: 3,
        max_sessions: 0,
        ..SessionConfig::default()
    };
    let (mut a, mut b) = (node_with(1, 9001, config), node(2, 9002));
    let silent: Vec<Enr> = (10..16).map(|i| node(i, 9100).enr).collect();
    let send = |a: &mut Node, now, to: &Enr| {
        assert!(
            a.sessions
                .send(now, to, SocketAddr::from(([127, 0, 0, 1], 9100)), ping(1))
        );
        transmits(a);
    };
    for to in &silent[..3] {
        send(&mut a, at(0), to);
    }
    a.sessions.handle_timeout(at(1000));
    for to in &silent[3..5] {
        send(&mut a, at(1000), to);
    }
    a.sessions.send(at(1500), &b.enr.clone(), b.addr, ping(2));
    deliver(at(1500), &mut a, &mut b, None);
    let whoareyou = transmits(&mut b).remove(0);
    a.sessions.handle_timeout(at(2000));
    // Six handshakes were started and five timed out: B's is still answered.
    send(&mut a, at(2000), &silent[5]);
    a.sessions
        .handle_datagram(at(2000), b.addr, &whoareyou.bytes, |_| None);
    assert_eq!(flag(&transmits(&mut a)[0].bytes, &b.enr.node_id()), 2);
}

/// A handshake packet to `to` from the node of `from`'s id, answering `challenge`, its
/// id-signature made with `signer` and carrying `record`.
fn handshake_packet(
    to: &Enr,
    from: &Enr,
    signer: &SigningKey,
    record: Option<RawRecord>,
    challenge: &[u8],
) -> Vec<u8> {
    let ephemeral = SigningKey::from_slice(&[4; 32]).unwrap();
    let ephemeral_pubkey = crypto::public_key_to_bytes(&ephemeral.verifying_key().into());
    let keys = crypto::derive_keys(
        &ephemeral,
        to.public_key(),
        &from.node_id(),
        &to.node_id(),
        challenge,
    );
    let header = wire::PacketHeader {
        masking_iv: [7; 16],
        nonce: [8; 12],
        kind: PacketKind::Handshake {
            src_id: from.node_id(),
            id_signature: crypto::id_sign(signer, challenge, &ephemeral_pubkey, &to.node_id()),
            ephemeral_pubkey,
            record,
        },
    };
    let sealed = crypto::encrypt_message(
        &keys.initiator_key,
        &header.nonce,
        &ping(1).encode(),
        &header.message_ad(),
    );
    wire::encode_packet(&to.node_id(), &header, &sealed).unwrap()
}

#[test]
fn refused_handshakes_leave_the_challenge_to_the_real_one() {
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), node(2, 9002));
    let (whoareyou, challenge) = challenge_from(now, &mut a, &mut b);
    // From A's id and address, before A answers: an id-signature by another key, and A's own
    // signature with A's record tampered (its signature no longer verifies). Both refused.
    let forger = SigningKey::from_slice(&[3; 32]).unwrap();
    let forged = handshake_packet(
        &b.enr,
        &a.enr,
        &forger,
        Some(a.enr.clone().into()),
        &challenge,
    );
    let tampered = tampered(&a.enr);
    assert_eq!(tampered.verify(), Err(EnrError::BadSignature));
    let a_key = SigningKey::from_slice(&[1; 32]).unwrap();
    let bad_record = handshake_packet(&b.enr, &a.enr, &a_key, Some(tampered), &challenge);
    for packet in [&forged, &bad_record] {
        b.sessions.handle_datagram(now, a.addr, packet, |_| None);
        assert!(events(&mut b).is_empty());
        assert!(!b.sessions.has_session(&a.enr.node_id(), a.addr));
    }
    // A's handshake, its message tampered with: refused too.
    a.sessions
        .handle_datagram(now, b.addr, &whoareyou.bytes, |_| None);
    let mut handshake = transmits(&mut a).remove(0);
    let last = handshake.bytes.len() - 1;
    handshake.bytes[last] ^= 1; // the message's GCM tag
    b.sessions
        .handle_datagram(now, a.addr, &handshake.bytes, |_| None);
    assert!(events(&mut b).is_empty());
    // The challenge is still there: A's intact handshake is accepted, once.
    handshake.bytes[last] ^= 1;
    b.sessions
        .handle_datagram(now, a.addr, &handshake.bytes, |_| None);
    let accepted = events(&mut b);
    assert!(
        matches!(&accepted[..], [SessionEvent::Established { .. }, SessionEvent::Message { message, .. }] if *message == ping(1)),
        "{accepted:?}"
    );
    b.sessions
        .handle_datagram(now, a.addr, &handshake.bytes, |_| None);
    assert!(events(&mut b).is_empty(), "a replayed handshake");
}

#[test]
fn a_handshake_over_the_rate_limit_keeps_its_challenge() {
    // One WHOAREYOU or handshake per second from an IP: the WHOAREYOU takes it, so A's
    // handshake right after is over the limit. Sent again a second later, it is accepted.
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), one_per_second(2, 9002));
    a.addr = SocketAddr::from(([192, 0, 2, 1], 9001));
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    deliver(now, &mut a, &mut b, None);
    deliver(now, &mut b, &mut a, None);
    let handshake = transmits(&mut a).remove(0);
    b.sessions
        .handle_datagram(now, a.addr, &handshake.bytes, |_| None);
    assert!(events(&mut b).is_empty());
    let later = now + Duration::from_millis(1500);
    b.sessions
        .handle_datagram(later, a.addr, &handshake.bytes, |_| None);
    assert_established(&mut b);
}

#[test]
fn a_pending_challenge_is_repeated_beyond_the_rate_limit() {
    // A's first packet takes the WHOAREYOU its IP may have this second; the same packet
    // again (a retransmission, or a Ping sent before the handshake completes) gets the same
    // WHOAREYOU, which costs nothing to repeat.
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), one_per_second(2, 9002));
    a.addr = SocketAddr::from(([192, 0, 2, 1], 9001));
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    let random = transmits(&mut a).remove(0);
    b.sessions
        .handle_datagram(now, a.addr, &random.bytes, |_| None);
    let first = transmits(&mut b);
    b.sessions
        .handle_datagram(now, a.addr, &random.bytes, |_| None);
    let again = transmits(&mut b);
    assert_eq!(first.len(), 1);
    assert_eq!(again, first);
    // Up to eight times: packets spoofed from A's address cannot make B send it more.
    for _ in 0..20 {
        b.sessions
            .handle_datagram(now, a.addr, &random.bytes, |_| None);
    }
    assert_eq!(transmits(&mut b).len(), 7);
}

#[test]
fn packets_spoofed_from_a_nodes_ip_do_not_keep_it_from_its_challenge() {
    // A junk packet from A's IP, with a made-up node id, takes the one WHOAREYOU a second
    // that IP may have. A itself, a node B knows at that address, is still challenged.
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), one_per_second(2, 9002));
    a.addr = SocketAddr::from(([192, 0, 2, 1], 9001));
    let a_key = SigningKey::from_slice(&[1; 32]).unwrap();
    let known = Enr::builder()
        .ip4([192, 0, 2, 1].into())
        .udp(9001)
        .build(&a_key)
        .unwrap();
    let spoofed_from = SocketAddr::from(([192, 0, 2, 1], 30000));
    spoof_one_from(now, &mut b, spoofed_from, 0xee);
    assert_eq!(transmits(&mut b).len(), 1, "the junk's WHOAREYOU");
    // An unknown node from that IP gets nothing more this second.
    spoof_one_from(now, &mut b, spoofed_from, 0xef);
    assert!(transmits(&mut b).is_empty());
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    assert_eq!(deliver(now, &mut a, &mut b, Some(known)), 1);
    let whoareyou = transmits(&mut b);
    assert_eq!(whoareyou.len(), 1, "A's WHOAREYOU");
    assert_eq!(flag(&whoareyou[0].bytes, &a.enr.node_id()), 1);
}

/// A message packet from the made-up node id `[id; 32]` reaches `to` from `from`.
fn spoof_one_from(now: Instant, to: &mut Node, from: SocketAddr, id: u8) {
    let header = wire::PacketHeader {
        masking_iv: [id; 16],
        nonce: [id; 12],
        kind: PacketKind::Message {
            src_id: NodeId([id; 32]),
        },
    };
    let junk = wire::encode_packet(&to.enr.node_id(), &header, &[0; 20]).unwrap();
    to.sessions.handle_datagram(now, from, &junk, |_| None);
}

#[test]
fn a_node_whose_handshake_was_lost_is_challenged_again_for_what_it_sends_next() {
    // As go-ethereum does, A stores its session as it sends its handshake. The handshake is
    // lost; a second later A writes in that session. B's challenge is still pending, but a
    // WHOAREYOU naming A's first packet would be ignored (A has no request by that nonce any
    // more): B challenges the new packet, and A's second handshake carries it.
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), node(2, 9002));
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    deliver(now, &mut a, &mut b, None);
    let first = transmits(&mut b);
    for t in &first {
        a.sessions.handle_datagram(now, b.addr, &t.bytes, |_| None);
    }
    assert_eq!(transmits(&mut a).len(), 1, "the handshake, lost");
    let later = now + Duration::from_millis(1100);
    a.sessions.send(later, &b.enr.clone(), b.addr, ping(2));
    let in_session = transmits(&mut a);
    assert_eq!(in_session.len(), 1);
    b.sessions
        .handle_datagram(later, a.addr, &in_session[0].bytes, |_| None);
    let again = transmits(&mut b);
    assert_eq!(again.len(), 1);
    assert_ne!(again, first, "a new challenge");
    let named = wire::decode_packet(&a.enr.node_id(), &again[0].bytes).unwrap();
    let sent = wire::decode_packet(&b.enr.node_id(), &in_session[0].bytes).unwrap();
    assert_eq!(named.header.nonce, sent.header.nonce);
    a.sessions
        .handle_datagram(later, b.addr, &again[0].bytes, |_| None);
    deliver(later, &mut a, &mut b, None);
    let at_b = events(&mut b);
    assert!(
        matches!(&at_b[..], [SessionEvent::Established { .. }, SessionEvent::Message { message, .. }] if *message == ping(2)),
        "{at_b:?}"
    );
}

#[test]
fn loopback_is_exempt_from_the_rate_limit() {
    // Three nodes of a local devnet, all on 127.0.0.1, reach B at once: with one WHOAREYOU or
    // handshake per second and IP, all three get theirs and complete them.
    let now = Instant::now();
    let mut b = one_per_second(2, 9002);
    for i in 0..3u8 {
        let mut a = node(10 + i, 9100 + u16::from(i));
        a.sessions.send(now, &b.enr.clone(), b.addr, ping(i));
        deliver(now, &mut a, &mut b, None);
        assert_eq!(
            deliver(now, &mut b, &mut a, None),
            1,
            "node {i}: no WHOAREYOU"
        );
        deliver(now, &mut a, &mut b, None);
        let established = events(&mut b);
        assert!(
            matches!(established.first(), Some(SessionEvent::Established { .. })),
            "node {i}: {established:?}"
        );
    }
}

/// A node with a per-IP limit of one WHOAREYOU or handshake per second, without bursts.
fn one_per_second(b: u8, port: u16) -> Node {
    let config = SessionConfig {
        handshakes_per_ip_second: 1,
        handshake_burst: 1,
        handshake_timeout: Duration::from_secs(5),
        ..SessionConfig::default()
    };
    node_with(b, port, config)
}

/// `count` message packets reach `to` from made-up node ids at made-up addresses (spoofed:
/// none will answer); each gets a challenge.
fn spoof(now: Instant, to: &mut Node, count: u16) {
    for i in 0..count {
        let [hi, lo] = i.to_be_bytes();
        let mut src_id = [0xee; 32];
        src_id[..2].copy_from_slice(&[hi, lo]);
        let header = wire::PacketHeader {
            masking_iv: [lo; 16],
            nonce: [hi; 12],
            kind: PacketKind::Message {
                src_id: NodeId(src_id),
            },
        };
        let junk = wire::encode_packet(&to.enr.node_id(), &header, &[0; 20]).unwrap();
        let from = SocketAddr::from(([10, 1, hi, lo], 9000));
        to.sessions.handle_datagram(now, from, &junk, |_| None);
    }
}

/// A pings B; `spoofed` junk packets reach B after its WHOAREYOU left and before A's handshake
/// arrives. What B reports.
fn handshake_behind_junk(mut b: Node, spoofed: u16) -> Vec<SessionEvent> {
    let now = Instant::now();
    let mut a = node(1, 9001);
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    deliver(now, &mut a, &mut b, None);
    let whoareyou = transmits(&mut b);
    spoof(now, &mut b, spoofed);
    assert_eq!(transmits(&mut b).len(), usize::from(spoofed));
    for t in &whoareyou {
        a.sessions.handle_datagram(now, b.addr, &t.bytes, |_| None);
    }
    deliver(now, &mut a, &mut b, None);
    events(&mut b)
}

#[test]
fn a_real_challenge_outlives_far_more_spoofed_ones_than_fit_a_round_trip() {
    // 3000 spoofed packets arrive while A's handshake is on its way: A's challenge is still
    // there when it comes.
    let at_b = handshake_behind_junk(node(2, 9002), 3000);
    assert!(
        matches!(&at_b[..], [SessionEvent::Established { .. }, SessionEvent::Message { message, .. }] if *message == ping(1)),
        "{at_b:?}"
    );
    // With room for 8 challenges, 8 spoofed ones push it out: the bound is the table's size.
    assert_eq!(handshake_behind_junk(with_challenges(2, 9002, 8), 8), []);
}

/// Like [`node`], with room for `max_challenges` challenges.
fn with_challenges(b: u8, port: u16, max_challenges: usize) -> Node {
    let config = SessionConfig {
        max_challenges,
        ..SessionConfig::default()
    };
    node_with(b, port, config)
}

/// A pings B with no session (random packet, WHOAREYOU, handshake with the Ping); what B
/// reports.
fn pinged_through_a_handshake(now: Instant, a: &mut Node, b: &mut Node) -> Vec<SessionEvent> {
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    for _ in 0..2 {
        deliver(now, a, b, None);
        deliver(now, b, a, None);
    }
    events(b)
}

#[test]
fn a_full_challenge_table_still_challenges_a_real_node() {
    // 300 message packets from made-up node ids at made-up addresses (spoofed: none will
    // answer) leave B more pending challenges than it keeps; A's handshake still completes.
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), with_challenges(2, 9002, 256));
    spoof(now, &mut b, 300);
    let challenged = transmits(&mut b).len();
    let at_b = pinged_through_a_handshake(now, &mut a, &mut b);
    assert!(
        matches!(&at_b[..], [SessionEvent::Established { .. }, SessionEvent::Message { message, .. }] if *message == ping(1)),
        "{at_b:?}"
    );
    assert_eq!(challenged, 300, "every junk packet was challenged");
}

#[test]
fn a_flood_from_more_addresses_than_are_tracked_still_lets_a_real_node_in() {
    // The per-IP limiter tracks 256 addresses here; 2000 spoofed ones come first.
    let config = SessionConfig {
        max_challenges: 256,
        max_sessions: 256,
        ..SessionConfig::default()
    };
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), node_with(2, 9002, config));
    spoof(now, &mut b, 2000);
    assert_eq!(
        transmits(&mut b).len(),
        2000,
        "every junk packet was challenged"
    );
    let at_b = pinged_through_a_handshake(now, &mut a, &mut b);
    assert!(
        matches!(&at_b[..], [SessionEvent::Established { .. }, SessionEvent::Message { message, .. }] if *message == ping(1)),
        "{at_b:?}"
    );
}

#[test]
fn a_handshake_without_record_needs_the_known_one() {
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), node(2, 9002));
    // B knows A's record at its current sequence number: the WHOAREYOU says so, A's handshake
    // carries no record, and B verifies against the one it knows.
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    let known = a.enr.clone();
    deliver(now, &mut a, &mut b, Some(known));
    deliver(now, &mut b, &mut a, None);
    let handshake = transmits(&mut a).remove(0);
    let decoded = wire::decode_packet(&b.enr.node_id(), &handshake.bytes).unwrap();
    assert!(matches!(
        decoded.header.kind,
        PacketKind::Handshake { record: None, .. }
    ));
    b.sessions
        .handle_datagram(now, a.addr, &handshake.bytes, |_| Some(a.enr.clone()));
    assert!(matches!(
        &events(&mut b)[..],
        [
            SessionEvent::Established { record: None, .. },
            SessionEvent::Message { .. }
        ]
    ));
}

#[test]
fn an_unanswered_handshake_times_out_with_its_messages() {
    let now = Instant::now();
    let (mut a, b) = (node(1, 9001), node(2, 9002));
    a.sessions.send(now, &b.enr, b.addr, ping(1));
    a.sessions.send(now, &b.enr, b.addr, ping(2));
    let deadline = a.sessions.poll_timeout().unwrap();
    a.sessions.handle_timeout(deadline);
    let expected = SessionEvent::HandshakeTimeout {
        node: NodeAddress {
            id: b.enr.node_id(),
            addr: b.addr,
        },
        dropped: vec![ping(1), ping(2)],
    };
    assert_eq!(events(&mut a), vec![expected]);
}

#[test]
fn a_node_that_lost_the_session_gets_a_new_handshake_with_the_message() {
    let now = Instant::now();
    let (mut a, mut b) = established(now);
    // B restarts: it forgets every session.
    let key = SigningKey::from_slice(&[2; 32]).unwrap();
    b.sessions = Sessions::new(key, b.enr.clone(), SessionConfig::default(), [9; 32]);
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(5));
    deliver(now, &mut a, &mut b, None); // in the old session: B cannot read it
    let whoareyou = transmits(&mut b);
    assert_eq!(flag(&whoareyou[0].bytes, &a.enr.node_id()), 1);
    a.sessions
        .handle_datagram(now, b.addr, &whoareyou[0].bytes, |_| None);
    let handshake = transmits(&mut a);
    assert_eq!(flag(&handshake[0].bytes, &b.enr.node_id()), 2);
    b.sessions
        .handle_datagram(now, a.addr, &handshake[0].bytes, |_| None);
    let events = events(&mut b);
    assert!(
        matches!(&events[..], [SessionEvent::Established { .. }, SessionEvent::Message { message, .. }] if *message == ping(5)),
        "{events:?}"
    );
}

#[test]
fn only_the_latest_messages_sent_in_a_session_are_kept_for_a_whoareyou() {
    let now = Instant::now();
    let config = SessionConfig {
        max_pending: 2,
        ..SessionConfig::default()
    };
    let (mut a, mut b) = (node_with(1, 9001, config), node(2, 9002));
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    for _ in 0..2 {
        deliver(now, &mut a, &mut b, None);
        deliver(now, &mut b, &mut a, None);
    }
    assert!(a.sessions.has_session(&b.enr.node_id(), b.addr));
    for id in 5..=7 {
        a.sessions.send(now, &b.enr.clone(), b.addr, ping(id));
    }
    let sent = transmits(&mut a);
    // B restarts (forgets every session) twice, seeing one of the messages each time.
    let whoareyou_for = |b: &mut Node, packet: &Transmit| {
        let key = SigningKey::from_slice(&[2; 32]).unwrap();
        b.sessions = Sessions::new(key, b.enr.clone(), SessionConfig::default(), [9; 32]);
        b.sessions
            .handle_datagram(now, a.addr, &packet.bytes, |_| None);
        transmits(b).remove(0)
    };
    let (oldest, latest) = (
        whoareyou_for(&mut b, &sent[0]),
        whoareyou_for(&mut b, &sent[2]),
    );
    // Two are kept: the first message is forgotten, the last goes again in a handshake.
    a.sessions
        .handle_datagram(now, b.addr, &oldest.bytes, |_| None);
    assert!(transmits(&mut a).is_empty());
    a.sessions
        .handle_datagram(now, b.addr, &latest.bytes, |_| None);
    let handshake = transmits(&mut a);
    assert_eq!(flag(&handshake[0].bytes, &b.enr.node_id()), 2);
    b.sessions
        .handle_datagram(now, a.addr, &handshake[0].bytes, |_| None);
    assert_eq!(messages(&events(&mut b)), [ping(7)]);
}

#[test]
fn a_message_too_large_for_the_handshake_follows_it_in_the_session() {
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), node(2, 9002));
    // Fits an ordinary packet (MAX_MESSAGE_SIZE), not a handshake with A's record.
    let talk = Message::TalkReq {
        req_id: RequestId::new(&[7]).unwrap(),
        protocol: b"big".to_vec(),
        request: vec![0xab; 1000],
    };
    assert!(talk.encode().len() <= wire::MAX_MESSAGE_SIZE);
    // One that fits no packet at all is refused at once.
    let too_large = Message::TalkReq {
        req_id: RequestId::new(&[8]).unwrap(),
        protocol: b"big".to_vec(),
        request: vec![0xab; wire::MAX_MESSAGE_SIZE],
    };
    assert!(!a.sessions.send(now, &b.enr.clone(), b.addr, too_large));
    assert!(transmits(&mut a).is_empty());
    a.sessions.send(now, &b.enr.clone(), b.addr, talk.clone());
    deliver(now, &mut a, &mut b, None);
    deliver(now, &mut b, &mut a, None);
    let sent = transmits(&mut a);
    let flags: Vec<u8> = sent
        .iter()
        .map(|t| flag(&t.bytes, &b.enr.node_id()))
        .collect();
    assert_eq!(
        flags,
        [2, 0],
        "the handshake, then the message in the session"
    );
    for t in &sent {
        b.sessions.handle_datagram(now, a.addr, &t.bytes, |_| None);
    }
    let at_b = events(&mut b);
    assert!(
        matches!(
            &at_b[..],
            [
                SessionEvent::Established { .. },
                SessionEvent::Message { message: Message::Ping { .. }, .. },
                SessionEvent::Message { message, .. },
            ] if *message == talk
        ),
        "{at_b:?}"
    );
}

#[test]
fn a_whoareyou_with_enr_seq_zero_gets_our_record_even_at_seq_zero() {
    let now = Instant::now();
    let key = SigningKey::from_slice(&[1; 32]).unwrap();
    let enr = Enr::builder()
        .seq(0)
        .ip4([127, 0, 0, 1].into())
        .udp(9001)
        .build(&key)
        .unwrap();
    assert_eq!(enr.seq(), 0);
    let mut a = Node {
        sessions: Sessions::new(key, enr.clone(), SessionConfig::default(), [1; 32]),
        enr,
        addr: SocketAddr::from(([127, 0, 0, 1], 9001)),
    };
    let mut b = node(2, 9002);
    let at_b = pinged_through_a_handshake(now, &mut a, &mut b);
    assert!(
        matches!(&at_b[..], [SessionEvent::Established { record: Some(r), .. }, SessionEvent::Message { .. }] if *r == a.enr),
        "{at_b:?}"
    );
}

/// A and B each send two messages to the other with no session, at once: both random
/// packets, then both WHOAREYOUs, then both handshakes (with the second messages right behind
/// Both sides' packets are in flight at once: collects both, then delivers both.
fn cross(now: Instant, a: &mut Node, b: &mut Node) {
    let (from_a, from_b) = (transmits(a), transmits(b));
    for t in &from_a {
        b.sessions.handle_datagram(now, a.addr, &t.bytes, |_| None);
    }
    for t in &from_b {
        a.sessions.handle_datagram(now, b.addr, &t.bytes, |_| None);
    }
}

/// them, in the new sessions) cross. Returns what each side received.
fn crossing(a_seed: u8, b_seed: u8) -> (Node, Node, Vec<SessionEvent>, Vec<SessionEvent>) {
    let now = Instant::now();
    let (mut a, mut b) = (node(a_seed, 9001), node(b_seed, 9002));
    for (first, second) in [(1, 5), (2, 6)] {
        let (from, to) = if first == 1 {
            (&mut a, &b)
        } else {
            (&mut b, &a)
        };
        from.sessions
            .send(now, &to.enr.clone(), to.addr, ping(first));
        from.sessions
            .send(now, &to.enr.clone(), to.addr, ping(second));
    }
    let (mut at_a, mut at_b) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        cross(now, &mut a, &mut b);
        at_a.extend(events(&mut a));
        at_b.extend(events(&mut b));
    }
    (a, b, at_a, at_b)
}

fn messages(events: &[SessionEvent]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Message { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn handshakes_that_cross_leave_both_sides_with_one_session() {
    // Both orders of the node ids: each side writes in the session it started (where
    // go-ethereum writes and reads) and reads in both.
    for (a_seed, b_seed) in [(1, 2), (2, 1)] {
        let now = Instant::now();
        let (mut a, mut b, at_a, at_b) = crossing(a_seed, b_seed);
        // The second messages went in each sender's own session, read as the other's.
        assert_eq!(messages(&at_a), [ping(2), ping(6)], "{a_seed}/{b_seed}");
        assert_eq!(messages(&at_b), [ping(1), ping(5)], "{a_seed}/{b_seed}");
        // Each side now writes with keys the other reads, both ways.
        a.sessions.send(now, &b.enr.clone(), b.addr, ping(3));
        assert_eq!(deliver(now, &mut a, &mut b, None), 1);
        b.sessions.send(now, &a.enr.clone(), a.addr, ping(4));
        assert_eq!(deliver(now, &mut b, &mut a, None), 1);
        assert_eq!(messages(&events(&mut b)), [ping(3)], "{a_seed}/{b_seed}");
        assert_eq!(messages(&events(&mut a)), [ping(4)], "{a_seed}/{b_seed}");
        assert!(transmits(&mut a).is_empty() && transmits(&mut b).is_empty());
    }
}

#[test]
fn a_whoareyou_after_the_nodes_own_handshake_uses_its_session() {
    // B's handshake reaches A before B's WHOAREYOU for A's own packet: A sends its message in
    // the session B's handshake made instead of starting a second one.
    let now = Instant::now();
    let (mut a, mut b) = (node(1, 9001), node(2, 9002));
    a.sessions.send(now, &b.enr.clone(), b.addr, ping(1));
    b.sessions.send(now, &a.enr.clone(), a.addr, ping(2));
    let random_from_a = transmits(&mut a);
    deliver(now, &mut b, &mut a, None); // B's random packet; A challenges it
    for t in &random_from_a {
        b.sessions.handle_datagram(now, a.addr, &t.bytes, |_| None);
    }
    let whoareyou_from_b = transmits(&mut b);
    deliver(now, &mut a, &mut b, None); // A's WHOAREYOU; B answers with its handshake
    deliver(now, &mut b, &mut a, None); // B's handshake, before B's WHOAREYOU
    for t in &whoareyou_from_b {
        a.sessions.handle_datagram(now, b.addr, &t.bytes, |_| None);
    }
    let sent = transmits(&mut a);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        flag(&sent[0].bytes, &b.enr.node_id()),
        0,
        "no second handshake"
    );
    for t in &sent {
        b.sessions.handle_datagram(now, a.addr, &t.bytes, |_| None);
    }
    assert_eq!(messages(&events(&mut b)), [ping(1)]);
    assert_eq!(messages(&events(&mut a)), [ping(2)]);
}

#[test]
fn a_handshake_lost_while_crossing_is_made_good_by_the_repeated_challenge() {
    let now = Instant::now();
    let (mut x, mut y) = (node(1, 9001), node(2, 9002));
    // Either side could lose its handshake; here the one with the lower node id does.
    let (lo, hi) = if x.enr.node_id() < y.enr.node_id() {
        (&mut x, &mut y)
    } else {
        (&mut y, &mut x)
    };
    lo.sessions.send(now, &hi.enr.clone(), hi.addr, ping(1));
    hi.sessions.send(now, &lo.enr.clone(), lo.addr, ping(2));
    // Random packets cross, then the WHOAREYOUs.
    cross(now, lo, hi);
    cross(now, lo, hi);
    // Both handshakes cross; lo's is lost, hi's arrives (with ping 2).
    transmits(lo);
    assert_eq!(deliver(now, hi, lo, None), 1);
    assert_eq!(messages(&events(lo)), [ping(2)]);
    // lo writes in the session it started, which hi never got: hi repeats its challenge, and
    // lo takes hi's session from then on.
    lo.sessions.send(now, &hi.enr.clone(), hi.addr, ping(3));
    deliver(now, lo, hi, None);
    let repeated = transmits(hi);
    assert_eq!(flag(&repeated[0].bytes, &lo.enr.node_id()), 1);
    for t in &repeated {
        lo.sessions
            .handle_datagram(now, hi.addr, &t.bytes, |_| None);
    }
    lo.sessions.send(now, &hi.enr.clone(), hi.addr, ping(4));
    assert_eq!(deliver(now, lo, hi, None), 1);
    hi.sessions.send(now, &lo.enr.clone(), lo.addr, ping(5));
    assert_eq!(deliver(now, hi, lo, None), 1);
    assert_eq!(messages(&events(hi)), [ping(4)]);
    assert_eq!(messages(&events(lo)), [ping(5)]);
}

/// `node` reports a session established by the handshake, then the message it carried.
fn assert_established(node: &mut Node) {
    let accepted = events(node);
    assert!(
        matches!(
            &accepted[..],
            [
                SessionEvent::Established { .. },
                SessionEvent::Message { .. }
            ]
        ),
        "{accepted:?}"
    );
}
