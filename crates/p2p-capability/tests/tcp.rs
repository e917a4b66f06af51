//! `P2pStream` over TCP on 127.0.0.1: two of our peers negotiate eth and a test protocol and
//! exchange messages on both, ping, and part with a reason; a peer sending a malicious Hello
//! gets a Disconnect and the connection closes.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use bytes::Bytes;
use devp2p_enr::PeerId;
use devp2p_p2p_capability::{
    Capability, Config, DisconnectReason, MAX_HELLO_SIZE, NodeInfo, P2pError, P2pStream,
    ProtocolError,
};
use devp2p_rlpx_framing::{FrameError, Message, NodeKey, RlpxError, RlpxStream};
use futures::{FutureExt, SinkExt, StreamExt};
use k256::SecretKey;
use tokio::{net::TcpStream, time::timeout};

mod common;
use common::noise;

const LIMIT: Duration = Duration::from_secs(10);

fn key(byte: u8) -> NodeKey {
    NodeKey::new(SecretKey::from_slice(&[byte; 32]).unwrap())
}

fn info(key: &NodeKey, name: &str) -> NodeInfo {
    NodeInfo {
        client_id: name.into(),
        listen_port: 0,
        id: *key.id(),
    }
}

fn caps() -> Vec<Capability> {
    vec![
        Capability::new("eth", 68, 17),
        Capability::new("test", 1, 4),
    ]
}

/// An RLPx connection pair on 127.0.0.1: (client, server).
async fn rlpx_pair(
    client: &NodeKey,
    server: &NodeKey,
) -> (RlpxStream<TcpStream>, RlpxStream<TcpStream>) {
    pair_with_buffers(client, server, None).await
}

/// Like [`rlpx_pair`], with 32 KiB socket buffers (the client's send, the server's receive),
/// so that a large message fills them and waits for the reader.
async fn small_buffer_pair(
    client: &NodeKey,
    server: &NodeKey,
) -> (RlpxStream<TcpStream>, RlpxStream<TcpStream>) {
    pair_with_buffers(client, server, Some(32 << 10)).await
}

/// An RLPx connection pair on 127.0.0.1, with `buffer` bytes for the client's send buffer and
/// the server's receive buffer when given.
async fn pair_with_buffers(
    client: &NodeKey,
    server: &NodeKey,
    buffer: Option<u32>,
) -> (RlpxStream<TcpStream>, RlpxStream<TcpStream>) {
    let listener = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(size) = buffer {
        listener.set_recv_buffer_size(size).unwrap();
    }
    listener.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = listener.listen(1).unwrap();
    let address = listener.local_addr().unwrap();
    let config = devp2p_rlpx_framing::Config::default();
    let accept = async {
        let (socket, _) = listener.accept().await.unwrap();
        RlpxStream::accept(socket, server, &config).await.unwrap()
    };
    let connect = async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        if let Some(size) = buffer {
            socket.set_send_buffer_size(size).unwrap();
        }
        let socket = socket.connect(address).await.unwrap();
        RlpxStream::connect(socket, client, server.id(), &config)
            .await
            .unwrap()
    };
    tokio::join!(connect, accept)
}

#[tokio::test]
async fn two_peers_exchange_on_both_capabilities() {
    timeout(LIMIT, async {
        let (ka, kb) = (key(1), key(2));
        let (ra, rb) = rlpx_pair(&ka, &kb).await;
        let (a, b) = tokio::join!(
            P2pStream::handshake(ra, Config::default(), info(&ka, "alice"), caps()),
            P2pStream::handshake(rb, Config::default(), info(&kb, "bob"), caps()),
        );
        let (mut a, mut b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.remote_hello().unwrap().client_id, "bob");
        assert_eq!(b.remote_hello().unwrap().id, PeerId(ka.id().0));
        assert_eq!(a.shared_capabilities().len(), 2);

        a.send(0, 0x05, Bytes::from_static(b"eth message"))
            .await
            .unwrap();
        a.send(1, 0x03, Bytes::from(vec![0x42; 100_000]))
            .await
            .unwrap();
        b.send(1, 0x00, Bytes::from_static(b"reply")).await.unwrap();
        let first = b.next().await.unwrap().unwrap();
        assert_eq!(
            (first.capability, first.id, &first.data[..]),
            (0, 0x05, &b"eth message"[..])
        );
        let second = b.next().await.unwrap().unwrap();
        assert_eq!(
            (second.capability, second.id, second.data.len()),
            (1, 0x03, 100_000)
        );
        let reply = a.next().await.unwrap().unwrap();
        assert_eq!((reply.capability, &reply.data[..]), (1, &b"reply"[..]));

        // A Ping is answered while the other side is being polled.
        let (rtt, polled) = tokio::join!(a.ping(), timeout(Duration::from_millis(500), b.next()));
        rtt.unwrap();
        assert!(polled.is_err(), "no capability message was sent");

        a.disconnect(DisconnectReason::ClientQuitting)
            .await
            .unwrap();
        match b.next().await {
            Some(Err(P2pError::Disconnected(ended))) => {
                assert_eq!(ended.reason, DisconnectReason::ClientQuitting);
                assert!(ended.by_peer);
            }
            other => panic!("expected the Disconnect, got {other:?}"),
        }
        assert!(b.next().await.is_none());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn no_shared_capability_ends_both_handshakes() {
    timeout(LIMIT, async {
        let (ka, kb) = (key(1), key(2));
        let (ra, rb) = rlpx_pair(&ka, &kb).await;
        let (a, b) = tokio::join!(
            P2pStream::handshake(
                ra,
                Config::default(),
                info(&ka, "a"),
                vec![Capability::new("eth", 68, 17)]
            ),
            P2pStream::handshake(
                rb,
                Config::default(),
                info(&kb, "b"),
                vec![Capability::new("snap", 1, 8)]
            ),
        );
        for result in [a.map(|_| ()), b.map(|_| ())] {
            match result {
                Err(P2pError::Disconnected(ended)) => {
                    assert_eq!(ended.reason, DisconnectReason::UselessPeer);
                    assert!(ended.remote_hello.is_some());
                }
                other => panic!("expected UselessPeer, got {other:?}"),
            }
        }
    })
    .await
    .unwrap();
}

/// Sends `first` from a raw RLPx connection to our `P2pStream`; returns how our side ended and
/// the message the raw side got back after our Hello.
async fn malicious(first: Message) -> (P2pError, Option<Message>) {
    timeout(LIMIT, async {
        let (ka, kb) = (key(1), key(2));
        let (ours, mut raw) = rlpx_pair(&ka, &kb).await;
        let ours = P2pStream::handshake(ours, Config::default(), info(&ka, "ours"), caps());
        let evil = async {
            raw.send(first).await.unwrap();
            let hello = raw.next().await.unwrap().unwrap();
            assert_eq!(hello.id, 0x00);
            let reply = raw.next().await.and_then(Result::ok);
            // Then the connection closes.
            assert!(
                timeout(LIMIT, raw.next())
                    .await
                    .unwrap()
                    .is_none_or(|r| r.is_err())
            );
            reply
        };
        let (ours, reply) = tokio::join!(ours, evil);
        (ours.map(|_| ()).unwrap_err(), reply)
    })
    .await
    .unwrap()
}

fn hello(id: &[u8], cap_name: &str) -> Vec<u8> {
    use devp2p_p2p_capability::CapabilityInfo;
    use devp2p_rlp_codec::{Header, encode_to_vec};
    let caps = vec![CapabilityInfo {
        name: cap_name.into(),
        version: 68,
    }];
    let payload = [
        encode_to_vec(&5u64),
        encode_to_vec("evil"),
        encode_to_vec(&caps),
        encode_to_vec(&0u16),
        encode_to_vec(id),
    ]
    .concat();
    let mut out = Vec::new();
    Header::list(payload.len()).encode(&mut out);
    out.extend(payload);
    out
}

fn assert_breach((error, reply): (P2pError, Option<Message>), cause: ProtocolError) {
    match error {
        P2pError::Disconnected(ended) => {
            assert_eq!(ended.cause, Some(cause));
            let reply = reply.unwrap();
            assert_eq!(reply.id, 0x01);
            assert_eq!(DisconnectReason::decode(&reply.data).unwrap(), ended.reason);
        }
        other => panic!("expected a Disconnect, got {other:?}"),
    }
}

#[tokio::test]
async fn malicious_hellos_over_tcp() {
    let b_id = key(2).id().0;
    let mut longer = b_id.to_vec();
    longer.push(0);
    assert_breach(
        malicious(Message::new(0x00, hello(&longer, "eth"))).await,
        ProtocolError::NodeIdLength(65),
    );
    assert_breach(
        malicious(Message::new(0x00, hello(&[b_id, b_id].concat(), "eth"))).await,
        ProtocolError::NodeIdLength(128),
    );
    assert_breach(
        malicious(Message::new(0x10, hello(&b_id, "eth"))).await,
        ProtocolError::ExpectedHello(0x10),
    );
}

/// A first frame larger than a Hello can be is refused when its header is read: the peer
/// cannot make us buffer more than 2 KiB before it has said who it is. It gets no Disconnect,
/// as from go-ethereum: the connection closes.
#[tokio::test]
async fn a_first_frame_over_a_hellos_size_is_refused_at_its_header() {
    let b_id = key(2).id().0;
    let long_name = "x".repeat(2048);
    let long_hello = hello(&b_id, &long_name);
    let (error, reply) = malicious(Message::new(0x00, long_hello.clone())).await;
    match error {
        P2pError::Rlpx(RlpxError::Frame(FrameError::TooLarge(size))) => {
            assert_eq!(size, 1 + long_hello.len());
        }
        other => panic!("expected the frame refused, got {other:?}"),
    }
    assert!(reply.is_none());
    // The largest Hello there can be comes through, to the Hello's own checks: its one
    // capability has a name too long to share.
    let mut name = String::new();
    while hello(&b_id, &name).len() < MAX_HELLO_SIZE {
        name.push('x');
    }
    let largest = hello(&b_id, &name);
    assert_eq!(largest.len(), MAX_HELLO_SIZE);
    match malicious(Message::new(0x00, largest)).await {
        (P2pError::Disconnected(ended), Some(reply)) => {
            assert_eq!(ended.reason, DisconnectReason::UselessPeer);
            assert_eq!(reply.id, 0x01);
        }
        other => panic!("expected a Disconnect for want of a capability, got {other:?}"),
    }
}

/// Our handshake over `ours` (with key `key`) once the raw side has sent `messages`, all before
/// a single flush, so that they reach us together.
async fn handshake_after(
    ours: RlpxStream<TcpStream>,
    raw: &mut RlpxStream<TcpStream>,
    key: &NodeKey,
    messages: impl IntoIterator<Item = Message>,
) -> P2pStream<TcpStream> {
    for message in messages {
        raw.feed(message).await.unwrap();
    }
    raw.flush().await.unwrap();
    P2pStream::handshake(ours, Config::default(), info(key, "ours"), caps())
        .await
        .unwrap()
}

/// The size limit for frames before the Hello is lifted as soon as the Hello has come: a large
/// message right behind it, in the same read, is taken.
#[tokio::test]
async fn a_large_message_right_behind_the_hello_is_taken() {
    timeout(LIMIT, async {
        let (ka, kb) = (key(1), key(2));
        let (ours, mut raw) = rlpx_pair(&ka, &kb).await;
        // p2p v4: no snappy, so the message's frame is as large as its data.
        let hello = devp2p_p2p_capability::Hello {
            protocol_version: 4,
            ..their_hello(&kb)
        };
        let messages = [
            Message::new(0x00, hello.encode()),
            Message::new(0x10, vec![0x42; 100_000]),
        ];
        let mut session = handshake_after(ours, &mut raw, &ka, messages).await;
        let message = session.next().await.unwrap().unwrap();
        assert_eq!(
            (message.capability, message.id, message.data.len()),
            (0, 0x00, 100_000)
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn random_node_id_over_tcp() {
    // Valid Hello, but not the key the handshake authenticated: reason 0x09, sent compressed
    // (the Hello agreed on snappy).
    let (error, reply) = malicious(Message::new(0x00, hello(&[0x5a; 64], "eth"))).await;
    let P2pError::Disconnected(ended) = error else {
        panic!("expected a Disconnect, got {error:?}");
    };
    assert_eq!(ended.reason, DisconnectReason::UnexpectedIdentity);
    let reply = reply.unwrap();
    let data = snap::raw::Decoder::new()
        .decompress_vec(&reply.data)
        .unwrap();
    assert_eq!(data, [0xc1, 0x09]);
}

#[tokio::test]
async fn hello_and_disconnect_in_one_read() {
    timeout(LIMIT, async {
        let (ka, kb) = (key(1), key(2));
        let (ours, mut raw) = rlpx_pair(&ka, &kb).await;
        let theirs = devp2p_p2p_capability::Hello {
            protocol_version: 5,
            client_id: "hasty".into(),
            capabilities: vec![devp2p_p2p_capability::CapabilityInfo::new("eth", 68)],
            listen_port: 0,
            id: *kb.id(),
        };
        let messages = [
            Message::new(0x00, theirs.encode()),
            Message::new(0x01, vec![0xc1, 0x04]),
        ];
        let mut session = handshake_after(ours, &mut raw, &ka, messages).await;
        assert_eq!(session.remote_hello().unwrap().client_id, "hasty");
        match session.next().await {
            Some(Err(P2pError::Disconnected(ended))) => {
                assert_eq!(ended.reason, DisconnectReason::TooManyPeers);
                assert!(ended.by_peer);
            }
            other => panic!("expected the Disconnect, got {other:?}"),
        }
        // And a peer that sends its Hello and closes without a word.
        let (ours, mut raw) = rlpx_pair(&ka, &kb).await;
        raw.send(Message::new(0x00, theirs.encode())).await.unwrap();
        raw.close().await.unwrap();
        drop(raw);
        let mut session = P2pStream::handshake(ours, Config::default(), info(&ka, "ours"), caps())
            .await
            .unwrap();
        assert!(matches!(session.next().await, Some(Err(P2pError::Closed))));
    })
    .await
    .unwrap();
}

/// A peer whose Hello is followed, in the same read, by a frame that fails its MAC: the
/// handshake succeeds, and the stream's first item is that failure, not a bare "closed".
#[tokio::test]
async fn a_bad_frame_right_after_the_hello_is_reported() {
    timeout(LIMIT, async {
        let (ka, kb) = (key(1), key(2));
        let (ours, mut raw) = rlpx_pair(&ka, &kb).await;
        raw.send(Message::new(0x00, their_hello(&kb).encode()))
            .await
            .unwrap();
        // A frame header and its MAC, 32 bytes that are not one.
        assert_eq!(raw.get_ref().try_write(&[0x5a; 32]).unwrap(), 32);
        let mut session = P2pStream::handshake(ours, Config::default(), info(&ka, "ours"), caps())
            .await
            .unwrap();
        match session.next().await {
            Some(Err(P2pError::Rlpx(RlpxError::Frame(FrameError::HeaderMacMismatch)))) => {}
            other => panic!("expected the MAC failure, got {other:?}"),
        }
        assert!(session.next().await.is_none());
    })
    .await
    .unwrap();
}

/// A peer that sends its Hello and a capability message and then hangs up without a
/// Disconnect: the message still reaches the application, then the end.
#[tokio::test]
async fn messages_before_a_hang_up_are_delivered() {
    timeout(LIMIT, async {
        let (ka, kb) = (key(1), key(2));
        let (ours, mut raw) = rlpx_pair(&ka, &kb).await;
        raw.feed(Message::new(0x00, their_hello(&kb).encode()))
            .await
            .unwrap();
        raw.feed(Message::new(0x10, snappy(&[0xc1, 0x07])))
            .await
            .unwrap();
        raw.close().await.unwrap();
        drop(raw);
        let mut session = P2pStream::handshake(ours, Config::default(), info(&ka, "ours"), caps())
            .await
            .unwrap();
        match session.next().await {
            Some(Ok(message)) => {
                assert_eq!((message.capability, message.id), (0, 0));
                assert_eq!(message.data.as_ref(), [0xc1, 0x07]);
            }
            other => panic!("expected the eth message, got {other:?}"),
        }
        assert!(matches!(session.next().await, Some(Err(P2pError::Closed))));
        assert!(session.next().await.is_none());
    })
    .await
    .unwrap();
}

/// A peer that never reads but sends a Ping every 100 ms: it is never silent, so the keepalive
/// alone would let a blocked `send` wait for ever. The write deadline ends the session.
#[tokio::test]
async fn a_peer_that_talks_but_never_reads_cannot_hold_a_send_forever() {
    let (ka, kb) = (key(1), key(2));
    let (ours, mut raw) = rlpx_pair(&ka, &kb).await;
    raw.send(Message::new(0x00, their_hello(&kb).encode()))
        .await
        .unwrap();
    let config = Config {
        ping_interval: Duration::from_millis(200),
        pong_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_millis(500),
        ..Config::default()
    };
    let mut a = P2pStream::handshake(ours, config, info(&ka, "alice"), caps())
        .await
        .unwrap();
    let talker = async {
        for _ in 0..200 {
            if raw.send(Message::new(0x02, snappy(&[0xc0]))).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let message = Bytes::from(noise(1 << 20, 0x2545_f491_4f6c_dd1d));
    let sender = async {
        loop {
            if let Err(error) = a.send(0, 0x03, message.clone()).await {
                return error;
            }
        }
    };
    let ended = timeout(LIMIT, async {
        tokio::select! {
            error = sender => error,
            () = talker => panic!("the peer stopped talking first"),
        }
    })
    .await
    .expect("the send is still blocked");
    match ended {
        P2pError::Disconnected(ended) => {
            assert_eq!(ended.cause, Some(ProtocolError::WriteTimeout));
            assert!(!ended.by_peer);
        }
        other => panic!("expected our Disconnect, got {other:?}"),
    }
}

/// A peer that reads, but slowly: its socket buffers are small and it takes what arrived once
/// every 50 ms. Each flush of a 2 MiB message then waits for it many times, never near the
/// write deadline (200 ms) in a row: the message goes through. A deadline on the whole flush
/// would have ended the session.
#[tokio::test]
async fn a_slow_reader_is_not_a_stalled_one() {
    let (ka, kb) = (key(1), key(2));
    let (ra, rb) = small_buffer_pair(&ka, &kb).await;
    let strict = Config {
        write_timeout: Duration::from_millis(200),
        ..Config::default()
    };
    let (a, b) = tokio::join!(
        P2pStream::handshake(ra, strict, info(&ka, "alice"), caps()),
        P2pStream::handshake(rb, Config::default(), info(&kb, "bob"), caps()),
    );
    let (mut a, mut b) = (a.unwrap(), b.unwrap());
    let message = Bytes::from(noise(2 << 20, 0x0bad_5eed_0bad_5eed));
    let reader = async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            // One poll: what has arrived, and no more.
            if let Some(Some(received)) = b.next().now_or_never() {
                return received;
            }
        }
    };
    let sender = async {
        let sent = a.send(1, 0x03, message.clone()).await;
        assert!(sent.is_ok(), "a peer that reads was dropped: {sent:?}");
    };
    let ((), received) = timeout(LIMIT, async { tokio::join!(sender, reader) })
        .await
        .expect("the message did not get through");
    assert_eq!(received.unwrap().data, message);
}

fn their_hello(key: &NodeKey) -> devp2p_p2p_capability::Hello {
    devp2p_p2p_capability::Hello {
        protocol_version: 5,
        client_id: "raw".into(),
        capabilities: vec![devp2p_p2p_capability::CapabilityInfo::new("eth", 68)],
        listen_port: 0,
        id: *key.id(),
    }
}

fn snappy(data: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(data).unwrap()
}

/// A peer that reads, but too slowly: 4 KiB every 50 ms, straight off its socket (2 MiB would
/// take it about 26 s). Bytes go out often enough that writing never stalls for the write
/// timeout (3 s), but 2 MiB at a minimum rate of 2 MiB/s may take 3 s + 1 s: then the session
/// ends, well within the test's limit.
#[tokio::test]
async fn a_reader_below_the_minimum_rate_cannot_hold_a_send() {
    let (ka, kb) = (key(1), key(2));
    let (ra, rb) = small_buffer_pair(&ka, &kb).await;
    let strict = Config {
        write_timeout: Duration::from_secs(3),
        min_write_rate: 2 << 20,
        ..Config::default()
    };
    let (a, b) = tokio::join!(
        P2pStream::handshake(ra, strict, info(&ka, "alice"), caps()),
        P2pStream::handshake(rb, Config::default(), info(&kb, "bob"), caps()),
    );
    let (mut a, b) = (a.unwrap(), b.unwrap());
    let message = Bytes::from(noise(2 << 20, 0x5eed_0bad_5eed_0bad));
    let trickle = async {
        let mut buf = [0u8; 4 << 10];
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = b.rlpx().get_ref().try_read(&mut buf);
        }
    };
    let sent = timeout(LIMIT, async {
        tokio::select! {
            sent = a.send(1, 0x03, message) => sent,
            () = trickle => unreachable!(),
        }
    })
    .await
    .expect("the send is still held");
    match sent {
        Err(P2pError::Disconnected(ended)) => {
            assert_eq!(ended.cause, Some(ProtocolError::WriteTimeout));
            assert!(!ended.by_peer);
        }
        other => panic!("expected the write deadline, got {other:?}"),
    }
}

/// A peer that completes the Hello exchange and then never reads: our sends fill the
/// connection until one cannot be flushed, the keepalive's Ping cannot go out either and the
/// session ends for want of a Pong. The blocked send then returns that end within the grace
/// for flushing the Disconnect, instead of waiting for a peer that will never read.
#[tokio::test]
async fn a_peer_that_stops_reading_cannot_hold_a_send_forever() {
    let (ka, kb) = (key(1), key(2));
    let (ra, rb) = rlpx_pair(&ka, &kb).await;
    let fast = Config {
        ping_interval: Duration::from_millis(200),
        pong_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let (a, b) = tokio::join!(
        P2pStream::handshake(ra, fast, info(&ka, "alice"), caps()),
        P2pStream::handshake(rb, Config::default(), info(&kb, "bob"), caps()),
    );
    let (mut a, _silent) = (a.unwrap(), b.unwrap());
    // Bytes snappy cannot shrink, so that they fill the connection's buffers.
    let message = Bytes::from(noise(1 << 20, 0x2545_f491_4f6c_dd1d));
    let mut sent = 0;
    let ended = timeout(LIMIT, async {
        loop {
            match a.send(1, 0x03, message.clone()).await {
                Ok(()) => sent += 1,
                Err(error) => return error,
            }
        }
    })
    .await
    .expect("the send is still blocked");
    match ended {
        P2pError::Disconnected(ended) => {
            assert_eq!(ended.reason, DisconnectReason::PingTimeout);
            assert!(!ended.by_peer);
        }
        other => panic!("expected our Disconnect, got {other:?}"),
    }
    assert!(
        sent < 64,
        "{sent} MiB went out to a peer that does not read"
    );
}
