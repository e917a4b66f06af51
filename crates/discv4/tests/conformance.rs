//! Conformance of our node, driven over real UDP: the node listens on 127.0.0.1, test peers
//! craft packets by hand from 127.0.0.2 (and 127.0.0.1 where a second address is the point).
//! Every wait is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::expect_used,
    clippy::disallowed_methods
)]

use std::{
    net::SocketAddr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use devp2p_discv4::{
    Config, Discv4Handle, Endpoint, EnrRequest, FindNode, Message, Neighbours, NodeRecord, PeerId,
    Ping, Pong, SigningKey,
    wire::{self, Packet},
};
use devp2p_rlp_codec::{Encodable, Header};
use tokio::{net::UdpSocket, time::timeout};

/// How long a test waits for a packet that should come.
const ANSWER: Duration = Duration::from_secs(3);
/// How long a test listens to show that nothing comes.
const SILENCE: Duration = Duration::from_millis(700);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn node() -> Discv4Handle {
    let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
    Discv4Handle::bind("127.0.0.1:0".parse().unwrap(), key, Config::default())
        .await
        .unwrap()
}

/// A hand-driven peer: its own key and socket.
struct Peer {
    key: SigningKey,
    id: PeerId,
    socket: UdpSocket,
}

impl Peer {
    async fn new(seed: u8, ip: &str) -> Self {
        Self::with_key(SigningKey::from_slice(&[seed; 32]).unwrap(), ip).await
    }

    async fn with_key(key: SigningKey, ip: &str) -> Self {
        let socket = UdpSocket::bind(format!("{ip}:0")).await.unwrap();
        let id = PeerId::from_public_key(&key.verifying_key().into());
        Self { key, id, socket }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn endpoint(&self) -> Endpoint {
        let addr = self.addr();
        Endpoint {
            ip: addr.ip(),
            udp_port: addr.port(),
            tcp_port: 0,
        }
    }

    fn record(&self) -> NodeRecord {
        let addr = self.addr();
        NodeRecord {
            id: self.id,
            ip: addr.ip(),
            tcp_port: 0,
            udp_port: addr.port(),
        }
    }

    async fn send(&self, to: SocketAddr, message: &Message) -> [u8; 32] {
        let (bytes, hash) = message.encode(&self.key);
        self.socket.send_to(&bytes, to).await.unwrap();
        hash
    }

    async fn send_raw(&self, to: SocketAddr, kind: u8, data: &[u8]) -> [u8; 32] {
        let (bytes, hash) = wire::encode_packet(&self.key, kind, data);
        self.socket.send_to(&bytes, to).await.unwrap();
        hash
    }

    /// The next packet within `wait`, or `None`.
    async fn recv_within(&self, wait: Duration) -> Option<(Packet, SocketAddr)> {
        let mut buf = [0u8; 1500];
        let (len, from) = timeout(wait, self.socket.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        Some((
            wire::decode(&buf[..len]).expect("our node sends valid packets"),
            from,
        ))
    }

    async fn recv(&self) -> (Packet, SocketAddr) {
        self.recv_within(ANSWER).await.expect("an answer")
    }

    /// Waits for a packet that `pick` accepts, skipping others (bounded by count and time).
    /// The next Pong (other packets skipped).
    async fn recv_pong(&self) -> Pong {
        self.recv_where(|p| match &p.message {
            Message::Pong(pong) => Some(pong.clone()),
            _ => None,
        })
        .await
    }

    async fn recv_where<T>(&self, mut pick: impl FnMut(&Packet) -> Option<T>) -> T {
        for _ in 0..20 {
            let (packet, _) = self.recv().await;
            if let Some(value) = pick(&packet) {
                return value;
            }
        }
        panic!("no matching packet among 20");
    }

    async fn assert_silence(&self) {
        if let Some((packet, _)) = self.recv_within(SILENCE).await {
            panic!("expected silence, got {:?}", packet.message);
        }
    }

    fn ping(&self, to: SocketAddr) -> Message {
        Message::Ping(Ping {
            version: 4,
            from: self.endpoint(),
            to: Endpoint {
                ip: to.ip(),
                udp_port: to.port(),
                tcp_port: 0,
            },
            expiration: unix_now() + 20,
            enr_seq: None,
        })
    }

    fn find_node(target: PeerId) -> Message {
        Message::FindNode(FindNode {
            target,
            expiration: unix_now() + 20,
        })
    }

    /// Pings the node and answers its ping back: each side then holds the other's endpoint proof.
    /// Our Pong to `ping`, received from `from`.
    fn pong(ping: &Packet, from: SocketAddr) -> Message {
        Message::Pong(Pong {
            to: Endpoint {
                ip: from.ip(),
                udp_port: from.port(),
                tcp_port: 0,
            },
            ping_hash: ping.hash,
            expiration: unix_now() + 20,
            enr_seq: None,
        })
    }

    async fn bond(&self, node: SocketAddr) {
        self.send(node, &self.ping(node)).await;
        let mut got_pong = false;
        let mut answered = false;
        for _ in 0..10 {
            let (packet, from) = self.recv().await;
            match packet.message {
                Message::Pong(_) => got_pong = true,
                Message::Ping(_) => {
                    self.send(from, &Self::pong(&packet, from)).await;
                    answered = true;
                }
                _ => {}
            }
            if got_pong && answered {
                // Let the node take our Pong before the next packet.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return;
            }
        }
        panic!("bonding did not complete");
    }

    async fn neighbours(&self) -> Neighbours {
        self.recv_where(|p| match &p.message {
            Message::Neighbours(n) => Some(n.clone()),
            _ => None,
        })
        .await
    }
}

#[tokio::test]
async fn ping_is_answered_with_a_pong_and_a_ping_back() {
    let node = node().await;
    let peer = Peer::new(1, "127.0.0.2").await;
    let hash = peer
        .send(node.local_addr(), &peer.ping(node.local_addr()))
        .await;
    let (first, from) = peer.recv().await;
    assert_eq!(from, node.local_addr());
    let Message::Pong(pong) = first.message else {
        panic!("first answer is not a Pong: {first:?}")
    };
    assert_eq!(pong.ping_hash, hash);
    assert_eq!(pong.to, peer.endpoint());
    assert_eq!(pong.enr_seq, Some(node.local_enr().seq()));
    assert_eq!(first.sender, node.local_record().id);
    let (second, _) = peer.recv().await;
    let Message::Ping(ping) = second.message else {
        panic!("no Ping back: {second:?}")
    };
    assert_eq!(ping.version, 4);
    assert_eq!(ping.to, peer.endpoint());
}

#[tokio::test]
async fn ping_with_a_wrong_to_is_still_answered() {
    let node = node().await;
    let peer = Peer::new(2, "127.0.0.2").await;
    let mut message = peer.ping(node.local_addr());
    if let Message::Ping(ping) = &mut message {
        ping.to = Endpoint {
            ip: [10, 9, 9, 9].into(),
            udp_port: 1,
            tcp_port: 1,
        };
    }
    let hash = peer.send(node.local_addr(), &message).await;
    let pong = peer.recv_pong().await;
    assert_eq!(pong.ping_hash, hash);
}

#[tokio::test]
async fn pong_goes_to_the_real_source_not_the_claimed_from() {
    let node = node().await;
    let peer = Peer::new(3, "127.0.0.2").await;
    let mut message = peer.ping(node.local_addr());
    if let Message::Ping(ping) = &mut message {
        ping.from = Endpoint {
            ip: [127, 0, 0, 3].into(),
            udp_port: 9,
            tcp_port: 30303,
        };
    }
    peer.send(node.local_addr(), &message).await;
    let pong = peer.recv_pong().await;
    assert_eq!(pong.to.ip, peer.addr().ip());
    assert_eq!(pong.to.udp_port, peer.addr().port());
    // The Ping back goes to the real source too (we received it on our socket).
    let ping_back = peer
        .recv_where(|p| match &p.message {
            Message::Ping(ping) => Some(ping.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        ping_back.to,
        Endpoint {
            tcp_port: 0,
            ..peer.endpoint()
        }
    );
}

#[tokio::test]
async fn ping_with_extra_eip8_fields_is_answered() {
    let node = node().await;
    let peer = Peer::new(4, "127.0.0.2").await;
    // [version 555, from, to, expiration, enr-seq 7, "extra", [1, 2]] and trailing bytes.
    let mut body = Vec::new();
    555u64.encode(&mut body);
    peer.endpoint().encode(&mut body);
    Endpoint {
        ip: node.local_addr().ip(),
        udp_port: node.local_addr().port(),
        tcp_port: 0,
    }
    .encode(&mut body);
    (unix_now() + 20).encode(&mut body);
    7u64.encode(&mut body);
    b"extra"[..].encode(&mut body);
    vec![1u64, 2].encode(&mut body);
    let mut data = Vec::new();
    Header::list(body.len()).encode(&mut data);
    data.extend_from_slice(&body);
    data.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let hash = peer.send_raw(node.local_addr(), 0x01, &data).await;
    let pong = peer.recv_pong().await;
    assert_eq!(pong.ping_hash, hash);
}

#[tokio::test]
async fn expired_pings_are_ignored() {
    let node = node().await;
    let peer = Peer::new(5, "127.0.0.2").await;
    for expiration in [unix_now() - 10, 1 << 63, u64::MAX] {
        let mut message = peer.ping(node.local_addr());
        if let Message::Ping(ping) = &mut message {
            ping.expiration = expiration;
        }
        peer.send(node.local_addr(), &message).await;
        peer.assert_silence().await;
    }
}

#[tokio::test]
async fn unknown_packet_types_are_ignored() {
    let node = node().await;
    let peer = Peer::new(6, "127.0.0.2").await;
    peer.send_raw(node.local_addr(), 0x09, &[0xc1, 0x80]).await;
    peer.send_raw(node.local_addr(), 0x00, &[0xc1, 0x80]).await;
    peer.assert_silence().await;
    // The node is alive and well.
    peer.send(node.local_addr(), &peer.ping(node.local_addr()))
        .await;
    assert!(matches!(peer.recv().await.0.message, Message::Pong(_)));
}

#[tokio::test]
async fn findnode_without_endpoint_proof_is_answered_once_our_ping_is() {
    let node = node().await;
    let peer = Peer::new(7, "127.0.0.2").await;
    peer.send(node.local_addr(), &Peer::find_node(peer.id))
        .await;
    // No Neighbours: a Ping, once, to prove the address.
    let (ping, from) = peer.recv().await;
    assert!(
        matches!(ping.message, Message::Ping(_)),
        "{:?}",
        ping.message
    );
    peer.assert_silence().await;
    // A node that answers that Ping (as a go-ethereum node that kept its bond with us from
    // before our restart does) gets its FINDNODE answered then.
    let peer = Peer::new(15, "127.0.0.2").await;
    peer.send(node.local_addr(), &Peer::find_node(peer.id))
        .await;
    let (ping, from_again) = peer.recv().await;
    assert!(matches!(ping.message, Message::Ping(_)));
    assert_eq!(from_again, from);
    peer.send(from, &Peer::pong(&ping, from)).await;
    peer.neighbours().await;
}

#[tokio::test]
async fn findnode_after_bonding_is_answered() {
    let node = node().await;
    let other = Peer::new(8, "127.0.0.2").await;
    other.bond(node.local_addr()).await;
    let peer = Peer::new(9, "127.0.0.2").await;
    peer.bond(node.local_addr()).await;
    peer.send(node.local_addr(), &Peer::find_node(other.id))
        .await;
    let neighbours = peer.neighbours().await;
    assert_eq!(neighbours.nodes, vec![other.record()]);
    assert!(neighbours.expiration > unix_now());
}

#[tokio::test]
async fn unsolicited_neighbours_are_never_served() {
    let node = node().await;
    let peer = Peer::new(10, "127.0.0.2").await;
    peer.bond(node.local_addr()).await;
    let planted = NodeRecord {
        id: PeerId([0x77; 64]),
        ip: [127, 0, 0, 2].into(),
        tcp_port: 1,
        udp_port: 1,
    };
    let unsolicited = Message::Neighbours(Neighbours {
        nodes: vec![planted],
        expiration: unix_now() + 20,
    });
    peer.send(node.local_addr(), &unsolicited).await;
    peer.send(node.local_addr(), &Peer::find_node(planted.id))
        .await;
    let neighbours = peer.neighbours().await;
    assert!(!neighbours.nodes.contains(&planted), "{neighbours:?}");
    assert!(
        node.table()
            .await
            .unwrap()
            .iter()
            .all(|n| n.record.id != planted.id)
    );
}

#[tokio::test]
async fn pong_with_a_wrong_hash_does_not_bond() {
    let node = node().await;
    let peer = Peer::new(11, "127.0.0.2").await;
    peer.send(node.local_addr(), &peer.ping(node.local_addr()))
        .await;
    // Answer each of the node's Pings (it retries) with a Pong naming another hash.
    for _ in 0..4 {
        let Some((packet, from)) = peer.recv_within(Duration::from_millis(800)).await else {
            break;
        };
        if let Message::Ping(_) = packet.message {
            let mut wrong = packet.hash;
            wrong[0] ^= 0xff;
            let pong = Message::Pong(Pong {
                to: Endpoint {
                    ip: from.ip(),
                    udp_port: from.port(),
                    tcp_port: 0,
                },
                ping_hash: wrong,
                expiration: unix_now() + 20,
                enr_seq: None,
            });
            peer.send(from, &pong).await;
        }
    }
    peer.send(node.local_addr(), &Peer::find_node(peer.id))
        .await;
    let answer = peer.recv_within(SILENCE).await;
    assert!(
        !matches!(
            answer,
            Some((
                Packet {
                    message: Message::Neighbours(_),
                    ..
                },
                _
            ))
        ),
        "{answer:?}"
    );
    assert!(node.table().await.unwrap().is_empty());
}

#[tokio::test]
async fn findnode_from_another_ip_than_the_bond_gets_only_a_ping() {
    let node = node().await;
    let key = SigningKey::from_slice(&[12; 32]).unwrap();
    let bonded = Peer::with_key(key.clone(), "127.0.0.2").await;
    bonded.bond(node.local_addr()).await;
    let elsewhere = Peer::with_key(key, "127.0.0.1").await;
    elsewhere
        .send(node.local_addr(), &Peer::find_node(bonded.id))
        .await;
    // Only a Ping, to prove that address first; no Neighbours.
    let (ping, _) = elsewhere.recv().await;
    assert!(matches!(ping.message, Message::Ping(_)));
    elsewhere.assert_silence().await;
    // From the bonded address such a request is answered. (Another target: the identical
    // packet, same signature within the same second, would be dropped as a replay.)
    bonded
        .send(node.local_addr(), &Peer::find_node(PeerId([1; 64])))
        .await;
    bonded.neighbours().await;
}

#[tokio::test]
async fn enr_request_is_answered_with_a_valid_record() {
    let node = node().await;
    let peer = Peer::new(13, "127.0.0.2").await;
    peer.bond(node.local_addr()).await;
    let request = Message::EnrRequest(EnrRequest {
        expiration: unix_now() + 20,
    });
    let hash = peer.send(node.local_addr(), &request).await;
    let response = peer
        .recv_where(|p| match &p.message {
            Message::EnrResponse(r) => Some(r.clone()),
            _ => None,
        })
        .await;
    assert_eq!(response.request_hash, hash);
    // The signature verifies; the record is the node's own.
    let record = response.record.verify().unwrap();
    assert_eq!(record.peer_id(), node.local_record().id);
    assert_eq!(record.udp(), Some(node.local_addr().port()));
    assert_eq!(record, node.local_enr());
}

#[tokio::test]
async fn replayed_packets_are_dropped() {
    let node = node().await;
    let peer = Peer::new(14, "127.0.0.2").await;
    let (bytes, _) = peer.ping(node.local_addr()).encode(&peer.key);
    peer.socket
        .send_to(&bytes, node.local_addr())
        .await
        .unwrap();
    assert!(matches!(peer.recv().await.0.message, Message::Pong(_)));
    peer.recv().await; // its Ping back
    peer.socket
        .send_to(&bytes, node.local_addr())
        .await
        .unwrap();
    // The node may retry its own Ping, but the replay gets no second Pong.
    for _ in 0..3 {
        if let Some((packet, _)) = peer.recv_within(SILENCE).await {
            assert!(
                !matches!(packet.message, Message::Pong(_)),
                "replay answered"
            );
        }
    }
}

#[tokio::test]
async fn our_node_bonds_and_looks_up_through_a_second_node() {
    let a = node().await;
    let b = Discv4Handle::bind(
        "127.0.0.2:0".parse().unwrap(),
        SigningKey::from_slice(&[0x43; 32]).unwrap(),
        Config::default(),
    )
    .await
    .unwrap();
    let pong = a.ping(b.local_record()).await.unwrap();
    assert_eq!(pong.to.udp_port, a.local_addr().port());
    let found = a.lookup(b.local_record().id).await.unwrap();
    assert!(found.contains(&b.local_record()), "{found:?}");
    let record = a.request_enr(b.local_record()).await.unwrap();
    assert_eq!(record, b.local_enr());
    assert!(
        b.table()
            .await
            .unwrap()
            .iter()
            .any(|n| n.record.id == a.local_record().id)
    );
}

#[tokio::test]
async fn the_handle_follows_a_predicted_external_address() {
    // Over loopback every node sees us at 127.0.0.1, so three hand-made peers on 127.0.0.2-4
    // (three reporters, the quorum set here) answer our Pings with Pongs that see us at a
    // public address.
    let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
    let config = Config {
        min_update_votes: 3,
        ..Config::default()
    };
    let node = Discv4Handle::bind("127.0.0.1:0".parse().unwrap(), key, config)
        .await
        .unwrap();
    let cloned_before = node.clone();
    let before = node.local_enr();
    let public: SocketAddr = "203.0.113.9:4242".parse().unwrap();
    for (seed, ip) in [(21, "127.0.0.2"), (22, "127.0.0.3"), (23, "127.0.0.4")] {
        let peer = Peer::new(seed, ip).await;
        let answer = async {
            let (ping, sender) = peer
                .recv_where(|p| matches!(p.message, Message::Ping(_)).then(|| (p.hash, p.sender)))
                .await;
            assert_eq!(sender, node.local_record().id);
            let pong = Message::Pong(Pong {
                to: Endpoint {
                    ip: public.ip(),
                    udp_port: public.port(),
                    tcp_port: 0,
                },
                ping_hash: ping,
                expiration: unix_now() + 20,
                enr_seq: None,
            });
            peer.send(node.local_addr(), &pong).await;
        };
        let (pong, ()) = tokio::join!(node.ping(peer.record()), answer);
        assert_eq!(pong.unwrap().to.udp_port, public.port());
    }
    assert_eq!(node.external_address().await.unwrap(), Some(public));
    let after = node.local_enr();
    assert_eq!(after.seq(), before.seq() + 1);
    assert_eq!(after.ip(), Some([203, 0, 113, 9].into()));
    assert_eq!(after.udp(), Some(4242));
    let record = node.local_record();
    assert_eq!((record.ip, record.udp_port), (public.ip(), public.port()));
    // Every handle reads the same node, clones made before the change too.
    assert_eq!(cloned_before.local_enr(), after);
    assert_eq!(cloned_before.local_record(), record);
}

/// With an event queue of one, two requests that fail at the same time still both get their
/// answer: an answer is never the event the full queue drops.
#[tokio::test]
async fn answers_survive_a_full_event_queue() {
    let config = Config {
        max_events: 1,
        request_timeout: Duration::from_millis(200),
        request_attempts: 1,
        ..Config::default()
    };
    let key = SigningKey::from_slice(&[0x43; 32]).unwrap();
    let node = Discv4Handle::bind("127.0.0.1:0".parse().unwrap(), key, config)
        .await
        .unwrap();
    let (a, b) = (
        Peer::new(1, "127.0.0.2").await,
        Peer::new(2, "127.0.0.2").await,
    );
    let (ra, rb) = timeout(Duration::from_secs(10), async {
        tokio::join!(node.ping(a.record()), node.ping(b.record()))
    })
    .await
    .expect("a request never got its answer");
    for result in [ra, rb] {
        assert_eq!(
            result,
            Err(devp2p_discv4::DriverError::Request(
                devp2p_discv4::RequestError::Timeout
            ))
        );
    }
}

/// When the task is gone (here its runtime was shut down), event subscriptions close instead
/// of waiting for ever, as the handle's calls fail instead of hanging.
#[test]
fn subscriptions_close_when_the_task_is_gone() {
    let first = tokio::runtime::Runtime::new().unwrap();
    let (node, mut events) = first.block_on(async {
        let node = node().await;
        let events = node.events();
        (node, events)
    });
    drop(first);
    let second = tokio::runtime::Runtime::new().unwrap();
    second.block_on(async {
        let closed = timeout(Duration::from_secs(5), events.recv()).await;
        assert_eq!(
            closed.unwrap(),
            Err(tokio::sync::broadcast::error::RecvError::Closed)
        );
        let later = timeout(Duration::from_secs(5), node.events().recv()).await;
        assert_eq!(
            later.unwrap(),
            Err(tokio::sync::broadcast::error::RecvError::Closed)
        );
    });
}
