//! Two sessions against each other in memory with a virtual clock: negotiation, snappy,
//! keepalive, the Ping flood limit, ingress back-pressure, and every malicious Hello, each
//! ending in a Disconnect and never in a panic.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use devp2p_enr::PeerId;
use devp2p_p2p_capability::{
    Capability, CapabilityInfo, Config, DisconnectReason, Disconnected, Event, Hello,
    LocalHelloError, MAX_SENT_HELLO_SIZE, NodeInfo, ProtocolError, SendError, Session,
};
use devp2p_rlpx_framing::Message;

mod common;
use common::noise;

const A: PeerId = PeerId([0xaa; 64]);
const B: PeerId = PeerId([0xbb; 64]);

fn info(id: PeerId) -> NodeInfo {
    NodeInfo {
        client_id: "test".into(),
        listen_port: 30303,
        id,
    }
}

fn eth(version: u32) -> Capability {
    Capability::new("eth", version, if version >= 69 { 18 } else { 17 })
}

fn test_cap() -> Capability {
    Capability::new("test", 1, 4)
}

/// Two sessions and a virtual clock.
struct Pair {
    a: Session,
    b: Session,
    now: Instant,
}

impl Pair {
    fn new(config: Config, a_caps: Vec<Capability>, b_caps: Vec<Capability>) -> Self {
        let now = Instant::now();
        Self {
            a: Session::new(config.clone(), info(A), a_caps, B, now).unwrap(),
            b: Session::new(config, info(B), b_caps, A, now).unwrap(),
            now,
        }
    }

    /// Moves messages both ways until neither side has anything to send.
    fn deliver(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(m) = self.a.poll_transmit() {
                self.b.handle_message(self.now, m);
                moved = true;
            }
            while let Some(m) = self.b.poll_transmit() {
                self.a.handle_message(self.now, m);
                moved = true;
            }
            if !moved {
                return;
            }
        }
        panic!("the sessions never went quiet");
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
    }

    fn established() -> Self {
        let mut pair = Self::new(
            Config::default(),
            vec![eth(68), eth(69), eth(70), test_cap()],
            vec![test_cap(), eth(68), eth(69)],
        );
        pair.deliver();
        assert_eq!(pair.a.poll_event(), Some(Event::Established));
        assert_eq!(pair.b.poll_event(), Some(Event::Established));
        pair
    }
}

/// A Ping as a peer speaking p2p v5 sends it.
fn ping() -> Message {
    Message::new(
        0x02,
        snap::raw::Encoder::new().compress_vec(&[0xc0]).unwrap(),
    )
}

fn events(session: &mut Session) -> Vec<Event> {
    core::iter::from_fn(|| session.poll_event()).collect()
}

/// The one Disconnected event among `session`'s events.
fn disconnected(session: &mut Session) -> Disconnected {
    let all = events(session);
    let found: Vec<_> = all
        .iter()
        .filter_map(|e| match e {
            Event::Disconnected(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(found.len(), 1, "{all:?}");
    found[0].clone()
}

#[test]
fn negotiates_and_exchanges_on_both_capabilities() {
    let mut pair = Pair::established();
    let table: Vec<(String, u32, u64)> = pair
        .a
        .shared_capabilities()
        .iter()
        .map(|s| (s.capability.name.clone(), s.capability.version, s.offset))
        .collect();
    assert_eq!(
        table,
        [("eth".into(), 69, 0x10), ("test".into(), 1, 0x10 + 18)]
    );
    assert_eq!(pair.a.shared_capabilities(), pair.b.shared_capabilities());
    assert!(pair.a.is_compressed() && pair.b.is_compressed());
    assert_eq!(pair.b.remote_hello().unwrap().id, A);

    pair.a
        .send(0, 0x11, Bytes::from_static(b"eth data"))
        .unwrap();
    pair.a.send(1, 0x03, Bytes::from(vec![7; 5000])).unwrap();
    let wire: Vec<Message> = core::iter::from_fn(|| pair.a.poll_transmit()).collect();
    assert_eq!(
        wire.iter().map(|m| m.id).collect::<Vec<_>>(),
        [0x21, 0x10 + 18 + 3]
    );
    // Compressed on the wire.
    assert!(wire[1].data.len() < 500);
    for m in wire {
        pair.b.handle_message(pair.now, m);
    }
    let got: Vec<_> = core::iter::from_fn(|| pair.b.poll_message()).collect();
    assert_eq!(
        (got[0].capability, got[0].id, &got[0].data[..]),
        (0, 0x11, &b"eth data"[..])
    );
    assert_eq!(
        (got[1].capability, got[1].id, got[1].data.len()),
        (1, 0x03, 5000)
    );
}

#[test]
fn no_shared_capability_is_a_useless_peer() {
    let mut pair = Pair::new(Config::default(), vec![eth(68)], vec![eth(69), test_cap()]);
    pair.deliver();
    let ours = disconnected(&mut pair.a);
    assert_eq!(ours.reason, DisconnectReason::UselessPeer);
    assert_eq!(ours.cause, Some(ProtocolError::NoSharedCapability));
    assert!(!ours.by_peer);
    // The peer's Hello is still known.
    assert_eq!(ours.remote_hello.unwrap().client_id, "test");
    assert!(pair.a.is_closed() && pair.b.is_closed());
    // Each side refused the other and sent its Disconnect first: both hear the other's.
    let theirs = disconnected(&mut pair.b);
    assert_eq!(theirs.reason, DisconnectReason::UselessPeer);
}

#[test]
fn p2p_v4_peer_gets_no_snappy() {
    let now = Instant::now();
    let mut a = Session::new(Config::default(), info(A), vec![eth(68)], B, now).unwrap();
    let hello = Hello {
        protocol_version: 4,
        client_id: "old".into(),
        capabilities: vec![CapabilityInfo::new("eth", 68)],
        listen_port: 0,
        id: B,
    };
    a.handle_message(now, Message::new(0x00, hello.encode()));
    assert!(a.is_established() && !a.is_compressed());
    let _hello = a.poll_transmit();
    a.send(0, 1, Bytes::from_static(&[0xc0])).unwrap();
    assert_eq!(a.poll_transmit().unwrap().data[..], [0xc0]);
    // Uncompressed, a frame holds the one-byte id and at most 2^24 - 2 bytes of data; the
    // error gives the frame's size.
    let largest = (1 << 24) - 2;
    assert_eq!(a.send(0, 1, Bytes::from(vec![0; largest])), Ok(()));
    assert_eq!(
        a.send(0, 1, Bytes::from(vec![0; largest + 1])),
        Err(SendError::TooLarge(1 << 24))
    );
}

#[test]
fn keepalive_with_virtual_clock() {
    let mut pair = Pair::established();
    let start = pair.now;
    // Silence for 15 s: A pings (B pings too, on the same schedule).
    assert_eq!(pair.a.poll_timeout(), Some(start + Duration::from_secs(15)));
    pair.advance(Duration::from_secs(15));
    let ping = pair.a.poll_transmit().unwrap();
    assert_eq!(ping.id, 0x02);
    pair.b.handle_message(pair.now, ping);
    let pong = core::iter::from_fn(|| pair.b.poll_transmit())
        .find(|m| m.id == 0x03)
        .unwrap();
    pair.a
        .handle_message(pair.now + Duration::from_millis(30), pong);
    assert_eq!(
        events(&mut pair.a),
        [Event::Pong(Duration::from_millis(30))]
    );
    // Now B goes silent: A pings after 15 s, then gives up 20 s later with reason 0x0b.
    pair.now += Duration::from_millis(30);
    let t = pair.now;
    pair.a.handle_timeout(t + Duration::from_secs(15));
    assert_eq!(pair.a.poll_transmit().unwrap().id, 0x02);
    pair.a.handle_timeout(t + Duration::from_secs(34));
    assert!(!pair.a.is_closed());
    assert_eq!(pair.a.poll_timeout(), Some(t + Duration::from_secs(35)));
    pair.a.handle_timeout(t + Duration::from_secs(35));
    let ended = disconnected(&mut pair.a);
    assert_eq!(ended.reason, DisconnectReason::PingTimeout);
    assert_eq!(ended.cause, Some(ProtocolError::Timeout));
    assert_eq!(pair.a.poll_transmit().unwrap().id, 0x01);
    assert_eq!(pair.a.poll_timeout(), None);
}

#[test]
fn hello_timeout() {
    let now = Instant::now();
    let mut a = Session::new(Config::default(), info(A), vec![eth(68)], B, now).unwrap();
    assert_eq!(a.poll_transmit().unwrap().id, 0x00);
    a.handle_timeout(now + Duration::from_millis(9999));
    assert!(!a.is_closed());
    a.handle_timeout(now + Duration::from_secs(10));
    assert_eq!(disconnected(&mut a).reason, DisconnectReason::PingTimeout);
    // Disconnect goes out uncompressed: snappy was never agreed.
    assert_eq!(
        a.poll_transmit().unwrap(),
        Message::new(0x01, vec![0xc1, 0x0b])
    );
}

#[test]
fn ping_flood_is_limited() {
    let mut pair = Pair::established();
    let ping = Message::new(
        0x02,
        snap::raw::Encoder::new().compress_vec(&[0xc0]).unwrap(),
    );
    for _ in 0..50 {
        pair.b.handle_message(pair.now, ping.clone());
    }
    let pongs = core::iter::from_fn(|| pair.b.poll_transmit())
        .filter(|m| m.id == 0x03)
        .count();
    assert_eq!(pongs, 10);
    // Two seconds later, two more are answered.
    pair.now += Duration::from_secs(2);
    for _ in 0..5 {
        pair.b.handle_message(pair.now, ping.clone());
    }
    let pongs = core::iter::from_fn(|| pair.b.poll_transmit())
        .filter(|m| m.id == 0x03)
        .count();
    assert_eq!(pongs, 2);
    assert!(!pair.b.is_closed());
}

/// A and B sharing eth and `test`, B taking 3 unread messages per capability; A has queued 3
/// `test` messages for B, not yet sent.
fn three_queued() -> Pair {
    let config = Config {
        ingress_messages: 3,
        ..Config::default()
    };
    let mut pair = Pair::new(config, vec![eth(68), test_cap()], vec![eth(68), test_cap()]);
    pair.deliver();
    for i in 0..3 {
        pair.a.send(1, 0, Bytes::from(vec![i])).unwrap();
    }
    pair
}

#[test]
fn ingress_back_pressure() {
    let mut pair = three_queued();
    pair.a.send(0, 0, Bytes::from_static(b"eth")).unwrap();
    let wire: Vec<Message> = core::iter::from_fn(|| pair.a.poll_transmit()).collect();
    for m in wire {
        pair.b.handle_message(pair.now, m);
    }
    assert!(!pair.b.wants_input());
    // eth's message is not stuck behind test's backlog.
    let first_two: Vec<usize> = (0..2)
        .map(|_| pair.b.poll_message().unwrap().capability)
        .collect();
    assert_eq!(first_two, [0, 1]);
    assert!(pair.b.wants_input());
}

/// B with a full `test` queue (three messages from A it has not taken).
fn b_not_reading() -> Pair {
    let mut pair = three_queued();
    let wire: Vec<Message> = core::iter::from_fn(|| pair.a.poll_transmit()).collect();
    for m in wire {
        pair.b.handle_message(pair.now, m);
    }
    assert!(!pair.b.wants_input());
    pair
}

#[test]
fn a_session_that_stops_reading_does_not_blame_the_peer() {
    // B's application leaves a full queue for 20 s (the Pong timeout): B is not reading, so
    // neither its Ping timer nor a Pong deadline runs. Once drained, the keepalive works as
    // before.
    let mut pair = b_not_reading();
    for _ in 0..2 {
        pair.now += Duration::from_secs(10);
        pair.b.handle_timeout(pair.now);
    }
    assert!(!pair.b.is_closed());
    assert!(
        pair.b.poll_transmit().is_none(),
        "no Ping while not reading"
    );
    while pair.b.poll_message().is_some() {}
    pair.now += Duration::from_secs(16);
    pair.b.handle_timeout(pair.now);
    let sent: Vec<u64> = core::iter::from_fn(|| pair.b.poll_transmit())
        .map(|m| m.id)
        .collect();
    assert_eq!(sent, [0x02], "a Ping after 15 s of silence");
    pair.now += Duration::from_secs(21);
    pair.b.handle_timeout(pair.now);
    assert!(pair.b.is_closed(), "and the Pong deadline holds again");
}

#[test]
fn a_queue_that_stays_full_does_not_keep_the_session_forever() {
    // A peer that fills our queue and stops reading our answers (so the application, blocked
    // sending, never drains it) gets one Pong timeout of grace, then the usual keepalive.
    let mut pair = b_not_reading();
    let start = pair.now;
    while !pair.b.is_closed() && pair.now < start + Duration::from_secs(300) {
        pair.now += Duration::from_secs(5);
        pair.b.handle_timeout(pair.now);
    }
    assert!(pair.b.is_closed());
    assert!(
        pair.now - start <= Duration::from_secs(60),
        "{:?}",
        pair.now - start
    );
}

#[test]
fn a_peer_that_talks_but_does_not_read_meets_the_write_deadline() {
    // B stops reading: A's connection keeps a backlog. B's Pings every 5 s keep the keepalive
    // content (they are not silence), so only the write deadline can end the session.
    let mut pair = Pair::established();
    let start = pair.now;
    pair.a.handle_write(start, 1000, 0);
    assert_eq!(pair.a.poll_timeout(), Some(start + Duration::from_secs(15)));
    for step in 1..=3 {
        pair.now = start + Duration::from_secs(5 * step);
        pair.a.handle_message(pair.now, ping());
        pair.a.handle_timeout(pair.now);
        assert!(!pair.a.is_closed(), "closed after {step} Pings");
        // What went out meanwhile (Pongs) is still stuck: bytes wait, none went out.
        pair.a.handle_write(pair.now, 1000, 0);
    }
    assert_eq!(pair.a.poll_timeout(), Some(start + Duration::from_secs(20)));
    pair.now = start + Duration::from_secs(20);
    pair.a.handle_message(pair.now, ping());
    pair.a.handle_timeout(pair.now);
    let ended = disconnected(&mut pair.a);
    assert_eq!(ended.reason, DisconnectReason::PingTimeout);
    assert_eq!(ended.cause, Some(ProtocolError::WriteTimeout));
    assert!(!ended.by_peer);
}

#[test]
fn writing_that_progresses_or_drains_restarts_the_write_deadline() {
    // A backlog large enough that the drain rate (64 KiB/s) allows it minutes.
    const BIG: usize = 16 << 20;
    let mut pair = Pair::established();
    let start = pair.now;
    let s = Duration::from_secs;
    pair.a.handle_write(start, BIG, 0);
    // Some bytes went out at 19 s, others still wait: the clock starts again from there.
    pair.a.handle_write(start + s(19), BIG, 1000);
    pair.a.handle_write(start + s(30), BIG, 0);
    pair.now = start + s(25);
    pair.a.handle_message(pair.now, ping());
    pair.a.handle_timeout(pair.now);
    assert!(!pair.a.is_closed());
    assert_eq!(pair.a.poll_timeout(), Some(start + s(39)));
    // Everything written: no deadline, and the next wait starts its own.
    pair.a.handle_write(start + s(38), 0, 1000);
    pair.a.handle_write(start + s(50), BIG, 0);
    assert_eq!(pair.a.poll_timeout(), Some(start + s(40)));
    pair.now = start + s(60);
    pair.a.handle_message(pair.now, ping());
    pair.a.handle_timeout(pair.now);
    assert!(!pair.a.is_closed());
    assert_eq!(pair.a.poll_timeout(), Some(start + s(70)));
}

/// A peer that reads a little just before each stall deadline restarts that clock for ever;
/// the drain rate still ends the session: 2 MiB at 64 KiB/s may take 20 s + 32 s.
#[test]
fn a_backlog_that_drains_too_slowly_meets_the_write_deadline() {
    let mut pair = Pair::established();
    let start = pair.now;
    let s = Duration::from_secs;
    let mut waiting = 2 << 20;
    pair.a.handle_write(start, waiting, 0);
    for step in 1..=2 {
        pair.now = start + s(19 * step);
        waiting -= 1000;
        pair.a.handle_write(pair.now, waiting, 1000);
        pair.a.handle_message(pair.now, ping());
        pair.a.handle_timeout(pair.now);
        assert!(!pair.a.is_closed(), "closed at step {step}");
    }
    assert_eq!(pair.a.poll_timeout(), Some(start + s(52)));
    pair.now = start + s(52);
    pair.a.handle_write(pair.now, waiting - 1000, 1000);
    pair.a.handle_message(pair.now, ping());
    pair.a.handle_timeout(pair.now);
    let ended = disconnected(&mut pair.a);
    assert_eq!(ended.cause, Some(ProtocolError::WriteTimeout));
    // Rate 0: only stalls count.
    let mut pair = Pair::new(
        Config {
            min_write_rate: 0,
            ..Config::default()
        },
        vec![eth(68)],
        vec![eth(68)],
    );
    pair.deliver();
    let start = pair.now;
    pair.a.handle_write(start, waiting, 0);
    for step in 1..=10 {
        pair.now = start + s(19 * step);
        pair.a.handle_write(pair.now, waiting, 1000);
        pair.a.handle_message(pair.now, ping());
        pair.a.handle_timeout(pair.now);
    }
    assert!(!pair.a.is_closed());
}

/// A peer that reads at twice the minimum rate while answers keep queueing (bytes always
/// wait) is never cut off: what goes out keeps the allowance ahead of the clock.
#[test]
fn a_fast_reader_of_a_backlog_that_never_empties_is_kept() {
    let mut pair = Pair::established();
    let start = pair.now;
    let rate = usize::try_from(Config::default().min_write_rate).unwrap();
    pair.a.handle_write(start, 1 << 20, 0);
    for second in 1..=600 {
        pair.now = start + Duration::from_secs(second);
        pair.a.handle_write(pair.now, 1 << 20, 2 * rate);
        pair.a.handle_message(pair.now, ping());
        pair.a.handle_timeout(pair.now);
        assert!(!pair.a.is_closed(), "closed after {second} s");
    }
}

#[test]
fn send_errors() {
    let now = Instant::now();
    let mut a = Session::new(Config::default(), info(A), vec![eth(68)], B, now).unwrap();
    assert_eq!(a.send(0, 0, Bytes::new()), Err(SendError::NotEstablished));
    let mut pair = Pair::established();
    assert_eq!(
        pair.a.send(2, 0, Bytes::new()),
        Err(SendError::UnknownCapability(2))
    );
    assert_eq!(
        pair.a.send(1, 4, Bytes::new()),
        Err(SendError::UnknownMessage { id: 4, count: 4 })
    );
    // The limit is 2^24 - 1 bytes, go-ethereum's: exactly 16 MiB is too large.
    let max = (1 << 24) - 1;
    assert_eq!(
        pair.a.send(0, 0, Bytes::from(vec![0; max + 1])),
        Err(SendError::TooLarge(max + 1))
    );
    // Within the size limit but not within one frame once compressed (incompressible bytes
    // grow a little); compressible ones of the same size go.
    match pair.a.send(0, 0, Bytes::from(noise(max, 7))) {
        Err(SendError::TooLarge(frame)) => assert!(frame > max, "{frame}"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(pair.a.send(0, 0, Bytes::from(vec![0; max])), Ok(()));
    pair.a.disconnect(DisconnectReason::ClientQuitting);
    assert_eq!(pair.a.send(0, 0, Bytes::new()), Err(SendError::Closed));
    assert_eq!(
        Session::new(
            Config::default(),
            info(A),
            vec![Capability::new("ninechars", 1, 1)],
            B,
            now
        )
        .err(),
        Some(LocalHelloError::Capability("ninechars".into()))
    );
}

#[test]
fn a_hello_peers_would_refuse_is_not_sent() {
    // go-ethereum refuses Hello data over 2048 bytes, reth a first frame over 2048 (with the
    // id's byte): a client id that makes it 2047 bytes goes, one byte longer does not.
    let now = Instant::now();
    let with_client_id = |len: usize| {
        let local = NodeInfo {
            client_id: "x".repeat(len),
            ..info(A)
        };
        Session::new(Config::default(), local, vec![eth(68)], B, now)
    };
    let fits = (1..MAX_SENT_HELLO_SIZE)
        .rev()
        .find(|&len| with_client_id(len).is_ok())
        .unwrap();
    let mut session = with_client_id(fits).unwrap();
    let hello = session.poll_transmit().unwrap();
    assert_eq!(hello.data.len(), MAX_SENT_HELLO_SIZE);
    assert_eq!(
        with_client_id(fits + 1).err(),
        Some(LocalHelloError::TooLarge(MAX_SENT_HELLO_SIZE + 1))
    );
}

#[test]
fn graceful_disconnect_reaches_the_peer() {
    let mut pair = Pair::established();
    pair.a.disconnect(DisconnectReason::ClientQuitting);
    pair.a.disconnect(DisconnectReason::TooManyPeers);
    pair.deliver();
    let ours = disconnected(&mut pair.a);
    assert_eq!(
        (ours.reason, ours.by_peer),
        (DisconnectReason::ClientQuitting, false)
    );
    let theirs = disconnected(&mut pair.b);
    assert_eq!(
        (theirs.reason, theirs.by_peer),
        (DisconnectReason::ClientQuitting, true)
    );
}

#[test]
fn bare_uncompressed_disconnect_is_understood() {
    // ethereumjs sends the bare reason without compression even with snappy on.
    let mut pair = Pair::established();
    pair.a
        .handle_message(pair.now, Message::new(0x01, vec![0x04]));
    assert_eq!(
        disconnected(&mut pair.a).reason,
        DisconnectReason::TooManyPeers
    );
    // geth's compressed list form.
    let mut pair = Pair::established();
    pair.a
        .handle_message(pair.now, Message::new(0x01, vec![0x02, 0x04, 0xc1, 0x08]));
    assert_eq!(
        disconnected(&mut pair.a).reason,
        DisconnectReason::ClientQuitting
    );
}

/// A Disconnect whose reason cannot be read still ends the session as the peer's doing, with
/// nothing sent back (go-ethereum reads it as reason 0xff, `DiscInvalid`): empty data, a reason
/// past one byte, a list of one, and snappy data that does not decompress.
#[test]
fn an_unreadable_disconnect_is_still_the_peers() {
    for data in [
        vec![],
        vec![0x82, 0x01, 0x04],
        vec![0xc3, 0x82, 0x01, 0x04],
        vec![0x05, 0xff],
    ] {
        let mut pair = Pair::established();
        pair.a
            .handle_message(pair.now, Message::new(0x01, data.clone()));
        let ended = disconnected(&mut pair.a);
        assert_eq!(
            (ended.reason, ended.by_peer, ended.cause),
            (DisconnectReason::Other(0xff), true, None),
            "{data:02x?}"
        );
        assert!(pair.a.poll_transmit().is_none(), "{data:02x?}");
    }
    // Before the Hello too.
    let now = Instant::now();
    let mut a = Session::new(Config::default(), info(A), vec![eth(68)], B, now).unwrap();
    let _ = a.poll_transmit();
    a.handle_message(now, Message::new(0x01, vec![0xc3, 0x82, 0x01, 0x04]));
    let ended = disconnected(&mut a);
    assert_eq!(
        (ended.reason, ended.by_peer),
        (DisconnectReason::Other(0xff), true)
    );
    assert!(a.poll_transmit().is_none());
}

#[test]
fn first_message_disconnect_is_legal() {
    let now = Instant::now();
    let mut a = Session::new(Config::default(), info(A), vec![eth(68)], B, now).unwrap();
    a.handle_message(now, Message::new(0x01, vec![0xc1, 0x04]));
    let ended = disconnected(&mut a);
    assert_eq!(
        (ended.reason, ended.by_peer),
        (DisconnectReason::TooManyPeers, true)
    );
}

#[test]
fn oversized_snappy_claim_is_refused() {
    let mut pair = Pair::established();
    // 1 GiB announced, nothing behind it.
    pair.a.handle_message(
        pair.now,
        Message::new(0x10, vec![0x80, 0x80, 0x80, 0x80, 0x04]),
    );
    let ended = disconnected(&mut pair.a);
    assert_eq!(ended.reason, DisconnectReason::ProtocolBreach);
    assert_eq!(
        ended.cause,
        Some(ProtocolError::DecompressedTooLarge(1 << 30))
    );
    let mut pair = Pair::established();
    pair.a
        .handle_message(pair.now, Message::new(0x10, vec![0x05, 0xff]));
    assert_eq!(disconnected(&mut pair.a).cause, Some(ProtocolError::Snappy));
}

#[test]
fn unknown_message_ids() {
    // Past every shared capability: a breach.
    for id in [0x10 + 18 + 4, u64::MAX] {
        let mut pair = Pair::established();
        pair.a
            .handle_message(pair.now, Message::new(id, vec![0x01, 0x00, 0xc0]));
        let ended = disconnected(&mut pair.a);
        assert_eq!(ended.reason, DisconnectReason::ProtocolBreach, "{id:#x}");
    }
    // The base protocol's other ids (a second Hello, ids a later p2p version may use) are
    // ignored, as go-ethereum discards them: the session goes on.
    for id in [0x00, 0x04, 0x0f] {
        let mut pair = Pair::established();
        pair.a
            .handle_message(pair.now, Message::new(id, vec![0x01, 0x00, 0xc0]));
        assert!(!pair.a.is_closed(), "{id:#x}");
        assert!(pair.a.poll_transmit().is_none(), "{id:#x}");
    }
}

/// Feeds `first` to a fresh session as the peer's first message; returns how it ended.
fn first_message(first: Message) -> Disconnected {
    let now = Instant::now();
    let mut a = Session::new(Config::default(), info(A), vec![eth(68)], B, now).unwrap();
    let _ = a.poll_transmit();
    a.handle_message(now, first);
    assert!(a.is_closed());
    let ended = disconnected(&mut a);
    let sent = a.poll_transmit().unwrap();
    assert_eq!(sent.id, 0x01);
    // Compressed when the Hello agreed on snappy before it was refused.
    let reason = DisconnectReason::decode(&sent.data).or_else(|_| {
        DisconnectReason::decode(
            &snap::raw::Decoder::new()
                .decompress_vec(&sent.data)
                .unwrap(),
        )
    });
    assert_eq!(reason.unwrap(), ended.reason);
    ended
}

fn hello_with_id(id: &[u8], caps: Vec<CapabilityInfo>) -> Vec<u8> {
    use devp2p_rlp_codec::{Header, encode_to_vec};
    let payload = [
        encode_to_vec(&5u64),
        encode_to_vec("evil"),
        encode_to_vec(&caps),
        encode_to_vec(&30303u16),
        encode_to_vec(id),
    ]
    .concat();
    let mut out = Vec::new();
    Header::list(payload.len()).encode(&mut out);
    out.extend(payload);
    out
}

#[test]
fn malicious_hello_random_2k_capability_name() {
    let name = String::from_utf8_lossy(&noise(2048, 1)).into_owned();
    let caps = vec![CapabilityInfo { name, version: 1 }];
    let ended = first_message(Message::new(0x00, hello_with_id(&B.0, caps)));
    assert_eq!(ended.reason, DisconnectReason::ProtocolBreach);
    assert!(matches!(ended.cause, Some(ProtocolError::HelloTooLarge(_))));
    // Under the size limit, a long name is left out (as go-ethereum leaves it): with nothing
    // else offered, nothing is shared.
    let caps = vec![CapabilityInfo::new("abcdefghi", 1)];
    let ended = first_message(Message::new(0x00, hello_with_id(&B.0, caps)));
    assert_eq!(ended.cause, Some(ProtocolError::NoSharedCapability));
    assert_eq!(ended.reason, DisconnectReason::UselessPeer);
}

#[test]
fn malicious_hello_node_id_one_byte_too_long() {
    let mut id = B.0.to_vec();
    id.push(0xbb);
    let ended = first_message(Message::new(0x00, hello_with_id(&id, vec![])));
    assert_eq!(ended.cause, Some(ProtocolError::NodeIdLength(65)));
    assert_eq!(ended.reason, DisconnectReason::ProtocolBreach);
}

#[test]
fn malicious_hello_node_id_doubled() {
    let id = [B.0, B.0].concat();
    let ended = first_message(Message::new(0x00, hello_with_id(&id, vec![])));
    assert_eq!(ended.cause, Some(ProtocolError::NodeIdLength(128)));
}

#[test]
fn malicious_hello_random_node_id() {
    let caps = vec![CapabilityInfo::new("eth", 68)];
    let ended = first_message(Message::new(0x00, hello_with_id(&noise(64, 7), caps)));
    assert_eq!(ended.reason, DisconnectReason::UnexpectedIdentity);
    let ended = first_message(Message::new(0x00, hello_with_id(&[0; 64], vec![])));
    assert_eq!(ended.reason, DisconnectReason::NullNodeIdentity);
}

#[test]
fn malicious_hello_with_capability_message_id() {
    let caps = vec![CapabilityInfo::new("eth", 68)];
    let ended = first_message(Message::new(0x10, hello_with_id(&B.0, caps)));
    assert_eq!(ended.cause, Some(ProtocolError::ExpectedHello(0x10)));
    assert_eq!(ended.reason, DisconnectReason::ProtocolBreach);
}

#[test]
fn garbage_first_messages() {
    for seed in 1..200u64 {
        let data = noise((seed as usize * 13) % 3000, seed);
        let ended = first_message(Message::new(0x00, data));
        assert!(!ended.by_peer);
    }
}

#[test]
fn oversized_ping_is_refused() {
    // A Ping announcing 2 KiB of body: far beyond an empty list, refused before decompressing.
    let mut pair = Pair::established();
    let big = snap::raw::Encoder::new()
        .compress_vec(&[0xc0; 2048])
        .unwrap();
    pair.a.handle_message(pair.now, Message::new(0x02, big));
    assert_eq!(
        disconnected(&mut pair.a).cause,
        Some(ProtocolError::DecompressedTooLarge(2048))
    );
}
