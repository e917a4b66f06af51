//! The tokio driver over real UDP on 127.0.0.0/8: requests made from a handle keep their
//! deadlines (the task's timer is armed without a wake-up per request), and the node lets go
//! of its socket when the last handle is dropped, and its record is numbered by the time.
//! Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use devp2p_discv5::{Config, Discv5Handle, DriverError, Enr, RequestError, SigningKey};
use tokio::net::UdpSocket;

fn config() -> Config {
    let mut config = Config {
        request_timeout: Duration::from_millis(200),
        // Nothing else is due for a minute: a request whose deadline the task missed would
        // wait that long, well past the bound below.
        revalidate_interval: Duration::from_secs(60),
        ..Config::default()
    };
    config.session.handshake_timeout = Duration::from_millis(200);
    config
}

async fn node(seed: u8, config: Config) -> Discv5Handle {
    let key = SigningKey::from_slice(&[seed; 32]).unwrap();
    Discv5Handle::bind("127.0.0.1:0".parse().unwrap(), key, config)
        .await
        .unwrap()
}

/// A record for a socket that never answers.
async fn silent_peer(seed: u8) -> (UdpSocket, Enr) {
    let socket = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let key = SigningKey::from_slice(&[seed; 32]).unwrap();
    let record = Enr::builder()
        .ip(addr.ip())
        .udp(addr.port())
        .build(&key)
        .unwrap();
    (socket, record)
}

#[tokio::test]
async fn requests_to_a_silent_node_time_out_after_every_attempt() {
    let config = config();
    let attempts = u32::from(config.request_attempts);
    let node = node(1, config).await;
    let (socket, record) = silent_peer(0x77).await;
    // The task is idle, its timer armed far ahead; then requests come in one after another,
    // each while the timer is armed for an earlier one.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let ping_after = |wait: u64| {
        let (node, record) = (node.clone(), record.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            node.ping(record).await
        }
    };
    let pings = async { tokio::join!(ping_after(0), ping_after(50), ping_after(100)) };
    let (a, b, c) = tokio::time::timeout(Duration::from_secs(10), pings)
        .await
        .unwrap();
    for result in [a, b, c] {
        assert_eq!(result, Err(DriverError::Request(RequestError::Timeout)));
    }
    // Three attempts of 200 ms each, not fewer.
    assert!(started.elapsed() >= Duration::from_millis(200) * attempts);
    // Each attempt started a handshake: the peer saw its random packets.
    let mut buf = [0u8; 1500];
    let mut seen = 0;
    while socket.try_recv_from(&mut buf).is_ok() {
        seen += 1;
    }
    assert!(seen >= attempts, "{seen} packets for {attempts} attempts");
}

/// An entry set in a running node's record goes out with the next sequence number.
#[tokio::test]
async fn an_entry_set_in_our_record_is_served() {
    let (a, b) = (node(4, config()).await, node(5, config()).await);
    let before = a.local_enr().seq();
    let record = a
        .update_enr(|builder| {
            builder.set("eth", &vec![vec![0xfc_u8, 0x64, 0xec, 0x04]]);
        })
        .unwrap();
    assert_eq!(record.seq(), before + 1);
    assert_eq!(a.local_enr(), record);
    // Another node asking for it (FINDNODE [0]) gets the new record.
    let found = tokio::time::timeout(
        Duration::from_secs(10),
        b.find_node(record.clone(), vec![0]),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(found, [record]);
    // A value not of its key's form changes nothing.
    let refused = a.update_enr(|builder| {
        builder.set("udp", &vec![1u8, 2, 3]);
    });
    assert!(refused.is_err());
    assert_eq!(a.local_enr().seq(), before + 1);
}

/// Bound to an IPv4 address, a node has no way to a record that names only an IPv6 one: the
/// request fails at once rather than after its attempts.
#[tokio::test]
async fn a_node_bound_to_ipv4_does_not_try_an_ipv6_only_record() {
    let a = node(6, config()).await;
    let key = SigningKey::from_slice(&[9; 32]).unwrap();
    let record = Enr::builder()
        .ip("::1".parse().unwrap())
        .udp(9)
        .build(&key)
        .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), a.ping(record))
        .await
        .unwrap();
    assert_eq!(
        result.err(),
        Some(DriverError::Request(RequestError::NoAddress))
    );
}

/// A bound node's record starts at the time in milliseconds, so a node restarted with the same
/// key announces a newer record than the one it had (as go-ethereum's without a database).
#[tokio::test]
async fn a_bound_node_numbers_its_record_by_the_time() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let first = node(3, config()).await.local_enr().seq();
    assert!(u128::from(first) >= before, "{first} < {before}");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let restarted = node(3, config()).await.local_enr().seq();
    assert!(restarted > first, "{restarted} <= {first}");
}

#[tokio::test]
async fn the_socket_is_released_when_the_last_handle_is_dropped() {
    let node = node(2, config()).await;
    let addr = node.local_addr();
    let clone = node.clone();
    drop(node);
    // A clone still holds the node.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(UdpSocket::bind(addr).await.is_err());
    drop(clone);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if UdpSocket::bind(addr).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the socket stayed bound");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_handle_reports_the_record_with_the_predicted_address() {
    // A node on 127.0.0.1 whose record names another address (as behind a NAT) pings three
    // nodes on three other addresses; they see it at its socket's address, and the handle's
    // record then says so.
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let real = socket.local_addr().unwrap();
    let key = SigningKey::from_slice(&[0x61; 32]).unwrap();
    let announced = Enr::builder()
        .ip([127, 0, 0, 9].into())
        .udp(9)
        .build(&key)
        .unwrap();
    let quorum_of_three = Config {
        min_update_votes: 3,
        ..config()
    };
    let node = Discv5Handle::spawn(socket, key, announced.clone(), quorum_of_three).unwrap();
    assert_eq!(node.local_enr(), announced);
    for (i, ip) in [[127, 0, 0, 2], [127, 0, 0, 3], [127, 0, 0, 4]]
        .into_iter()
        .enumerate()
    {
        let key = SigningKey::from_slice(&[0x62 + i as u8; 32]).unwrap();
        let addr = std::net::SocketAddr::from((ip, 0));
        let peer = Discv5Handle::bind(addr, key, config()).await.unwrap();
        let pong = tokio::time::timeout(Duration::from_secs(5), node.ping(peer.local_enr()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pong.seen_as, real);
    }
    let record = node.local_enr();
    assert_eq!(
        (record.ip().map(std::net::IpAddr::V4), record.udp()),
        (Some(real.ip()), Some(real.port()))
    );
    assert_eq!(record.seq(), announced.seq() + 1);
}

/// With an event queue of one, two requests that fail at the same time still both get their
/// answer: an answer is never the event the full queue drops.
#[tokio::test]
async fn answers_survive_a_full_event_queue() {
    let mut config = config();
    config.max_events = 1;
    config.request_attempts = 1;
    let node = node(3, config).await;
    let (_socket, record) = silent_peer(0x77).await;
    let (_second_socket, second) = silent_peer(0x78).await;
    let (a, b) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(node.ping(record), node.ping(second))
    })
    .await
    .expect("a request never got its answer");
    for result in [a, b] {
        assert_eq!(result, Err(DriverError::Request(RequestError::Timeout)));
    }
}

/// A response too large for a packet is refused, not dropped in silence; the asking node gets
/// an empty one instead.
#[tokio::test]
async fn a_talk_response_that_cannot_be_sent_is_an_error() {
    let a = node(6, config()).await;
    let mut requests = a.register_talk_handler(b"x".to_vec(), 4).await.unwrap();
    let b = node(7, config()).await;
    let (answered, asked) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(
            async {
                let request = requests.recv().await.unwrap();
                request.respond(vec![0; 2000]).await
            },
            b.talk_req(a.local_enr(), b"x".to_vec(), b"hi".to_vec())
        )
    })
    .await
    .unwrap();
    assert_eq!(answered, Err(DriverError::NotSent));
    assert_eq!(asked, Ok(Vec::new()));
}

/// A talk request the application drops unanswered, or leaves in its handler's queue when it
/// drops the receiver, is answered with an empty TALKRESP: the asking node does not wait for a
/// timeout.
#[tokio::test]
async fn talk_requests_dropped_unanswered_get_an_empty_response() {
    let a = node(8, config()).await;
    let mut requests = a.register_talk_handler(b"x".to_vec(), 4).await.unwrap();
    let b = node(9, config()).await;
    let (_, asked) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(
            async { drop(requests.recv().await.unwrap()) },
            b.talk_req(a.local_enr(), b"x".to_vec(), b"one".to_vec())
        )
    })
    .await
    .unwrap();
    assert_eq!(asked, Ok(Vec::new()));

    let (_, asked) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(
            async {
                while requests.is_empty() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                drop(requests);
            },
            b.talk_req(a.local_enr(), b"x".to_vec(), b"two".to_vec())
        )
    })
    .await
    .unwrap();
    assert_eq!(asked, Ok(Vec::new()));
}

/// A talk request that finds its handler's queue full is answered at once with an empty
/// TALKRESP; the one in the queue waits for the application's answer.
#[tokio::test]
async fn a_talk_request_finding_the_queue_full_gets_an_empty_response() {
    let a = node(10, config()).await;
    let mut requests = a.register_talk_handler(b"x".to_vec(), 1).await.unwrap();
    let b = node(11, config()).await;
    let ask = |request: &[u8]| {
        let (b, record, request) = (b.clone(), a.local_enr(), request.to_vec());
        tokio::spawn(async move { b.talk_req(record, b"x".to_vec(), request).await })
    };
    let (mut one, mut two) = (ask(b"one"), ask(b"two"));
    tokio::time::timeout(Duration::from_secs(10), async {
        let (overflowed, queued) = tokio::select! {
            answer = &mut one => (answer, two),
            answer = &mut two => (answer, one),
        };
        assert_eq!(overflowed.unwrap(), Ok(Vec::new()));
        let request = requests.recv().await.unwrap();
        request.respond(b"yes".to_vec()).await.unwrap();
        assert_eq!(queued.await.unwrap(), Ok(b"yes".to_vec()));
    })
    .await
    .unwrap();
}

/// A talk request held unanswered (or waiting unread in its handler's queue) does not keep the
/// node running once the last handle is gone; answering it then fails.
#[tokio::test]
async fn a_held_talk_request_does_not_keep_the_node() {
    let a = node(4, config()).await;
    let addr = a.local_addr();
    let mut requests = a.register_talk_handler(b"x".to_vec(), 4).await.unwrap();
    let b = node(5, config()).await;
    let (held, _) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(
            async { requests.recv().await.unwrap() },
            b.talk_req(a.local_enr(), b"x".to_vec(), b"hi".to_vec())
        )
    })
    .await
    .unwrap();
    assert_eq!(held.request, b"hi");
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    while UdpSocket::bind(addr).await.is_err() {
        assert!(Instant::now() < deadline, "the socket stayed bound");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(held.respond(Vec::new()).await, Err(DriverError::Stopped));
    drop(requests);
}

/// When the task is gone (here its runtime was shut down), event subscriptions close instead
/// of waiting for ever, as the handle's calls fail instead of hanging.
#[test]
fn subscriptions_close_when_the_task_is_gone() {
    use tokio::sync::broadcast::error::RecvError;
    let first = tokio::runtime::Runtime::new().unwrap();
    let (node, mut events) = first.block_on(async {
        let node = node(6, config()).await;
        let events = node.events();
        (node, events)
    });
    drop(first);
    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let wait = Duration::from_secs(5);
        let closed = tokio::time::timeout(wait, events.recv()).await;
        assert_eq!(closed.unwrap(), Err(RecvError::Closed));
        let later = tokio::time::timeout(wait, node.events().recv()).await;
        assert_eq!(later.unwrap(), Err(RecvError::Closed));
        assert_eq!(node.table().await, Err(DriverError::Stopped));
    });
}
