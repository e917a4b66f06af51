//! Conformance of our node over real UDP: the node listens on 127.0.0.1; a test peer on
//! 127.0.0.2 does the handshake by hand (wire format and crypto only), so it can send what a
//! well-behaved implementation would not. Every wait is bounded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::{net::SocketAddr, time::Duration};

use devp2p_discv5::{
    Config, Discv5Handle, Enr, Message, NodeId, RequestId, SigningKey,
    crypto::{self, SessionKeys},
    wire::{self, Nonce, PacketHeader, PacketKind},
};
use tokio::{net::UdpSocket, time::timeout};

const ANSWER: Duration = Duration::from_secs(3);
const SILENCE: Duration = Duration::from_millis(700);

async fn node() -> Discv5Handle {
    let key = SigningKey::from_slice(&[0x42; 32]).unwrap();
    Discv5Handle::bind("127.0.0.1:0".parse().unwrap(), key, Config::default())
        .await
        .unwrap()
}

/// A hand-driven peer.
struct Peer {
    key: SigningKey,
    enr: Enr,
    socket: UdpSocket,
    keys: Option<SessionKeys>,
    counter: u8,
}

impl Peer {
    async fn new(seed: u8, ip: &str) -> Self {
        let key = SigningKey::from_slice(&[seed; 32]).unwrap();
        let socket = UdpSocket::bind(format!("{ip}:0")).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let enr = Enr::builder()
            .ip(addr.ip())
            .udp(addr.port())
            .build(&key)
            .unwrap();
        Self {
            key,
            enr,
            socket,
            keys: None,
            counter: 0,
        }
    }

    fn id(&self) -> NodeId {
        self.enr.node_id()
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// A fresh nonce or IV (distinct per packet; the peer is deterministic).
    fn fresh<const N: usize>(&mut self) -> [u8; N] {
        self.counter += 1;
        [self.counter; N]
    }

    async fn send(&self, to: &Discv5Handle, header: &PacketHeader, message: &[u8]) {
        let bytes = wire::encode_packet(&to.local_enr().node_id(), header, message).unwrap();
        self.socket.send_to(&bytes, to.local_addr()).await.unwrap();
    }

    async fn recv_within(&self, wait: Duration) -> Option<Vec<u8>> {
        let mut buf = [0u8; 1500];
        let (len, _) = timeout(wait, self.socket.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        Some(buf[..len].to_vec())
    }

    /// A message packet of random content (no session): asks for a WHOAREYOU. Returns its nonce.
    async fn random_packet(&mut self, to: &Discv5Handle) -> Nonce {
        let header = PacketHeader {
            masking_iv: self.fresh(),
            nonce: self.fresh(),
            kind: PacketKind::Message { src_id: self.id() },
        };
        let content: [u8; 20] = self.fresh();
        self.send(to, &header, &content).await;
        header.nonce
    }

    /// The next WHOAREYOU: its bytes, nonce and challenge data.
    async fn whoareyou(&self) -> (Vec<u8>, Nonce, Vec<u8>) {
        let bytes = self.recv_within(ANSWER).await.expect("a WHOAREYOU");
        let packet = wire::decode_packet(&self.id(), &bytes).unwrap();
        assert_eq!(packet.header.kind.flag(), 1, "not a WHOAREYOU");
        let nonce = packet.header.nonce;
        let challenge = packet.message_ad;
        (bytes, nonce, challenge)
    }

    /// The whole handshake, its packet carrying `plaintext` (a message's encoding).
    async fn handshake(&mut self, to: &Discv5Handle, plaintext: &[u8]) {
        self.random_packet(to).await;
        let (_, _, challenge) = self.whoareyou().await;
        let remote = to.local_enr();
        let ephemeral = SigningKey::from_slice(&[0x77; 32]).unwrap();
        let ephemeral_pubkey = crypto::public_key_to_bytes(&ephemeral.verifying_key().into());
        let keys = crypto::derive_keys(
            &ephemeral,
            remote.public_key(),
            &self.id(),
            &remote.node_id(),
            &challenge,
        );
        let header = PacketHeader {
            masking_iv: self.fresh(),
            nonce: self.fresh(),
            kind: PacketKind::Handshake {
                src_id: self.id(),
                id_signature: crypto::id_sign(
                    &self.key,
                    &challenge,
                    &ephemeral_pubkey,
                    &remote.node_id(),
                ),
                ephemeral_pubkey,
                record: Some(self.enr.clone().into()),
            },
        };
        let sealed = crypto::encrypt_message(
            &keys.initiator_key,
            &header.nonce,
            plaintext,
            &header.message_ad(),
        );
        self.send(to, &header, &sealed).await;
        self.keys = Some(keys);
    }

    /// Sends `plaintext` in the session.
    async fn send_in_session(&mut self, to: &Discv5Handle, plaintext: &[u8]) {
        let header = PacketHeader {
            masking_iv: self.fresh(),
            nonce: self.fresh(),
            kind: PacketKind::Message { src_id: self.id() },
        };
        let key = self.keys.as_ref().unwrap().initiator_key;
        let sealed = crypto::encrypt_message(&key, &header.nonce, plaintext, &header.message_ad());
        self.send(to, &header, &sealed).await;
    }

    /// The next message in the session within `wait`, other than a PING: the node pings a
    /// peer that contacted it, to prove it before passing it on, and this peer does not answer.
    async fn message_within(&self, wait: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let bytes = self.recv_within(left).await?;
            let packet = wire::decode_packet(&self.id(), &bytes).unwrap();
            assert_eq!(packet.header.kind.flag(), 0, "expected a message packet");
            let key = self.keys.as_ref().unwrap().recipient_key;
            let plain = crypto::decrypt_message(
                &key,
                &packet.header.nonce,
                packet.message,
                &packet.message_ad,
            )
            .unwrap();
            match Message::decode(&plain).unwrap() {
                Message::Ping { .. } => {}
                message => return Some(message),
            }
        }
    }

    async fn message(&self) -> Message {
        self.message_within(ANSWER).await.expect("a message")
    }
}

fn req(bytes: &[u8]) -> RequestId {
    RequestId::new(bytes).unwrap()
}

/// An encoded PING with request id `id`.
fn ping(id: &[u8]) -> Vec<u8> {
    Message::Ping {
        req_id: req(id),
        enr_seq: 1,
    }
    .encode()
}

#[tokio::test]
async fn ping_gets_a_pong_with_the_same_request_id_and_our_source_address() {
    let node = node().await;
    let mut peer = Peer::new(1, "127.0.0.2").await;
    let id = req(&[1, 2, 3, 4, 5, 6, 7, 8]);
    peer.handshake(
        &node,
        &Message::Ping {
            req_id: id,
            enr_seq: 1,
        }
        .encode(),
    )
    .await;
    let Message::Pong {
        req_id,
        enr_seq,
        ip,
        port,
    } = peer.message().await
    else {
        panic!("not a PONG")
    };
    assert_eq!(req_id, id);
    assert_eq!(enr_seq, node.local_enr().seq());
    assert_eq!(SocketAddr::new(ip, port), peer.addr());
}

#[tokio::test]
async fn a_nine_byte_request_id_gets_no_pong() {
    let node = node().await;
    let mut peer = Peer::new(2, "127.0.0.2").await;
    peer.handshake(&node, &ping(&[1])).await;
    assert!(matches!(peer.message().await, Message::Pong { .. }));
    // PING [9-byte id, 1]: 0x01 || c b 89 <9 bytes> 01.
    let mut long_id = vec![0x01, 0xcb, 0x89];
    long_id.extend_from_slice(&[9; 9]);
    long_id.push(0x01);
    peer.send_in_session(&node, &long_id).await;
    assert!(peer.message_within(SILENCE).await.is_none());
}

#[tokio::test]
async fn a_session_from_one_address_is_not_valid_from_another() {
    let node = node().await;
    let mut peer = Peer::new(3, "127.0.0.2").await;
    peer.handshake(&node, &ping(&[1])).await;
    assert!(matches!(peer.message().await, Message::Pong { .. }));
    // Same key, same session keys, another address.
    let mut moved = Peer::new(3, "127.0.0.1").await;
    moved.keys = peer.keys.clone();
    moved.counter = 100;
    moved.send_in_session(&node, &ping(&[2])).await;
    let (_, _, _) = moved.whoareyou().await;
    // From the session's address the same kind of packet is answered.
    peer.send_in_session(&node, &ping(&[3])).await;
    assert!(matches!(peer.message().await, Message::Pong { .. }));
}

#[tokio::test]
async fn a_ping_before_the_handshake_completes_gets_the_same_whoareyou() {
    let node = node().await;
    let mut peer = Peer::new(4, "127.0.0.2").await;
    let first_nonce = peer.random_packet(&node).await;
    let (first, nonce, challenge) = peer.whoareyou().await;
    assert_eq!(nonce, first_nonce);
    peer.random_packet(&node).await;
    let (second, second_nonce, second_challenge) = peer.whoareyou().await;
    assert_eq!(second_nonce, first_nonce, "same nonce");
    assert_eq!(second_challenge, challenge, "same challenge");
    assert_eq!(second, first);
}

#[tokio::test]
async fn talkreq_for_an_unknown_protocol_gets_an_empty_talkresp_with_the_same_id() {
    let node = node().await;
    let mut peer = Peer::new(5, "127.0.0.2").await;
    let talk = |id: &[u8]| {
        Message::TalkReq {
            req_id: req(id),
            protocol: b"nope".to_vec(),
            request: b"hi".to_vec(),
        }
        .encode()
    };
    peer.handshake(&node, &talk(&[5, 6])).await;
    assert_eq!(
        peer.message().await,
        Message::TalkResp {
            req_id: req(&[5, 6]),
            response: Vec::new()
        }
    );
    // An empty request id too.
    peer.send_in_session(&node, &talk(&[])).await;
    assert_eq!(
        peer.message().await,
        Message::TalkResp {
            req_id: req(&[]),
            response: Vec::new()
        }
    );
}

#[tokio::test]
async fn findnode_zero_returns_exactly_our_record() {
    let node = node().await;
    let mut peer = Peer::new(6, "127.0.0.2").await;
    peer.handshake(
        &node,
        &Message::FindNode {
            req_id: req(&[6]),
            distances: vec![0],
        }
        .encode(),
    )
    .await;
    let answer = peer.message().await;
    assert_eq!(
        answer,
        Message::Nodes {
            req_id: req(&[6]),
            total: 1,
            enrs: vec![node.local_enr().into()]
        }
    );
}

#[tokio::test]
async fn findnode_for_populated_distances_returns_them_all_across_nodes_messages() {
    let node = node().await;
    // Ten other nodes bootstrap from ours and so enter its table, and answer its pings.
    let mut others = Vec::new();
    for i in 0..10u8 {
        let key = SigningKey::from_slice(&[0x50 + i; 32]).unwrap();
        let other = Discv5Handle::bind("127.0.0.1:0".parse().unwrap(), key, Config::default())
            .await
            .unwrap();
        other.add_enr(node.local_enr().clone()).await.unwrap();
        others.push(other);
    }
    let mut table = Vec::new();
    for _ in 0..50 {
        table = node.table().await.unwrap();
        if table.len() == others.len() && table.iter().all(|e| e.liveness > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(table.len(), others.len());
    let own = node.local_enr().node_id();
    let mut distances: Vec<u16> = table
        .iter()
        .map(|e| own.log2_distance(&e.record.node_id()))
        .collect();
    distances.sort_unstable();
    distances.dedup();

    let mut peer = Peer::new(7, "127.0.0.2").await;
    peer.handshake(
        &node,
        &Message::FindNode {
            req_id: req(&[7]),
            distances: distances.clone(),
        }
        .encode(),
    )
    .await;
    let mut records = Vec::new();
    let mut messages = 0;
    let mut filled: Vec<usize> = Vec::new();
    let mut expected_total = None;
    loop {
        let Message::Nodes {
            req_id,
            total,
            enrs,
        } = peer.message().await
        else {
            panic!("not NODES")
        };
        assert_eq!(req_id, req(&[7]));
        assert_eq!(
            *expected_total.get_or_insert(total),
            total,
            "total must not change"
        );
        // Packed as go-ethereum packs them: at most 1000 bytes of records a message, and each
        // message full (the next record would not have fitted).
        let sizes: Vec<usize> = enrs.iter().map(|r| r.as_bytes().len()).collect();
        let bytes: usize = sizes.iter().sum();
        assert!(bytes <= 1000, "{bytes} bytes of records");
        if let (Some(previous), Some(first)) = (filled.last(), sizes.first()) {
            assert!(
                previous + first > 1000,
                "{previous} + {first} bytes would have fitted"
            );
        }
        filled.push(bytes);
        records.extend(enrs.iter().map(|r| r.verify().unwrap()));
        messages += 1;
        if messages == total {
            break;
        }
    }
    // Ten records of about 140 bytes each are more than one message holds.
    assert!(messages > 1, "ten records take several NODES messages");
    assert!(messages <= 5, "go-ethereum reads at most 5 NODES messages");
    // Not the peer's own record: its handshake put it in the table, but it never answered.
    let mut got: Vec<NodeId> = records.iter().map(Enr::node_id).collect();
    let mut want: Vec<NodeId> = table.iter().map(|e| e.record.node_id()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert!(
        peer.message_within(SILENCE).await.is_none(),
        "nothing beyond `total`"
    );
}

#[tokio::test]
async fn two_of_our_nodes_talk_through_the_handle() {
    let a = node().await;
    let b = Discv5Handle::bind(
        "127.0.0.2:0".parse().unwrap(),
        SigningKey::from_slice(&[0x43; 32]).unwrap(),
        Config::default(),
    )
    .await
    .unwrap();
    let mut requests = b.register_talk_handler(b"echo".to_vec(), 4).await.unwrap();
    let pong = a.ping(b.local_enr().clone()).await.unwrap();
    assert_eq!(pong.seen_as, a.local_addr());
    let answer = tokio::spawn({
        let a = a.clone();
        let b = b.local_enr().clone();
        async move { a.talk_req(b, b"echo".to_vec(), b"hello".to_vec()).await }
    });
    let request = timeout(ANSWER, requests.recv()).await.unwrap().unwrap();
    assert_eq!(request.request, b"hello");
    request.respond(b"HELLO".to_vec()).await.unwrap();
    assert_eq!(answer.await.unwrap().unwrap(), b"HELLO");
    let found = a.lookup(b.local_enr().node_id()).await.unwrap();
    assert_eq!(found.first(), Some(&b.local_enr()));
    assert_eq!(
        a.find_node(b.local_enr().clone(), vec![0]).await.unwrap(),
        vec![b.local_enr().clone()]
    );
}
