//! `RlpxStream` over TCP on 127.0.0.1: our initiator and our recipient handshake and exchange
//! messages of 0 B, 1 B, 16 B, 1 MiB and the maximum size in both directions; a silent peer times
//! out, a peer that hangs up mid-handshake is reported, and a node id off the curve is refused
//! before anything is sent.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Duration;

use devp2p_ecies::Format;
use devp2p_enr::PeerId;
use devp2p_rlpx_framing::{Config, MAX_FRAME_SIZE, Message, NodeKey, RlpxError, RlpxStream};
use futures::{SinkExt, StreamExt};
use k256::SecretKey;
use tokio::net::{TcpListener, TcpStream};

fn key(byte: u8) -> NodeKey {
    NodeKey::new(SecretKey::from_slice(&[byte; 32]).unwrap())
}

fn id(key: &NodeKey) -> PeerId {
    *key.id()
}

async fn connected_pair(config: Config) -> (RlpxStream<TcpStream>, RlpxStream<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (server_key, client_key) = (key(2), key(1));
    let server = async {
        let (socket, _) = listener.accept().await.unwrap();
        RlpxStream::accept(socket, &server_key, &config)
            .await
            .unwrap()
    };
    let client = async {
        let socket = TcpStream::connect(address).await.unwrap();
        RlpxStream::connect(socket, &client_key, &id(&server_key), &config)
            .await
            .unwrap()
    };
    let (client, server) = tokio::join!(client, server);
    assert_eq!(client.remote_id(), id(&key(2)));
    assert_eq!(server.remote_id(), id(&key(1)));
    (client, server)
}

fn payload(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn messages_of_every_size_both_ways() {
    for format in [Format::Eip8, Format::Legacy] {
        let config = Config {
            handshake: devp2p_ecies::Config {
                format,
                ..Default::default()
            },
            ..Config::default()
        };
        let (mut client, mut server) =
            tokio::time::timeout(Duration::from_secs(10), connected_pair(config))
                .await
                .unwrap();
        // The largest message: a one-byte id and the data fill a 2^24 - 1 byte frame.
        for (i, size) in [0, 1, 16, 1 << 20, MAX_FRAME_SIZE - 1]
            .into_iter()
            .enumerate()
        {
            let to_server = Message::new(0x10 + i as u64, payload(size, 1));
            let to_client = Message::new(0x20 + i as u64, payload(size, 2));
            // Each direction sends while the other side reads: a large message does not fit in
            // the socket buffers.
            let exchange = async {
                let (sent, got_server) =
                    tokio::join!(client.send(to_server.clone()), server.next());
                sent.unwrap();
                let (sent, got_client) =
                    tokio::join!(server.send(to_client.clone()), client.next());
                sent.unwrap();
                (got_server.unwrap().unwrap(), got_client.unwrap().unwrap())
            };
            let (got_server, got_client) = tokio::time::timeout(Duration::from_secs(30), exchange)
                .await
                .unwrap();
            assert_eq!(
                got_server, to_server,
                "{format:?}, {size} bytes to the server"
            );
            assert_eq!(
                got_client, to_client,
                "{format:?}, {size} bytes to the client"
            );
        }
        // A clean close ends the peer's stream.
        client.close().await.unwrap();
        assert!(
            tokio::time::timeout(Duration::from_secs(5), server.next())
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_silent_peer_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = Config {
        handshake_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let silent = async {
        let (socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(socket);
    };
    let client = async {
        let socket = TcpStream::connect(address).await.unwrap();
        RlpxStream::connect(socket, &key(1), &id(&key(2)), &config).await
    };
    let (result, ()) = tokio::join!(client, silent);
    assert!(matches!(result, Err(RlpxError::Timeout)), "{result:?}");
}

#[tokio::test]
async fn a_peer_hanging_up_mid_handshake_is_reported() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let rude = async {
        let (socket, _) = listener.accept().await.unwrap();
        drop(socket);
    };
    let client = async {
        let socket = TcpStream::connect(address).await.unwrap();
        RlpxStream::connect(socket, &key(1), &id(&key(2)), &Config::default()).await
    };
    let (result, ()) = tokio::join!(client, rude);
    assert!(
        matches!(
            result,
            Err(RlpxError::ClosedDuringHandshake | RlpxError::Io(_))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_node_id_off_the_curve_is_refused_before_sending() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = async {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut socket, &mut received)
            .await
            .unwrap();
        received
    };
    let client = async {
        let socket = TcpStream::connect(address).await.unwrap();
        // (0, 0) is not on secp256k1: 0² ≠ 0³ + 7.
        RlpxStream::connect(socket, &key(1), &PeerId([0; 64]), &Config::default()).await
    };
    let (result, received) = tokio::join!(client, server);
    assert!(
        matches!(result, Err(RlpxError::InvalidRemoteId)),
        "{result:?}"
    );
    assert!(received.is_empty());
}
