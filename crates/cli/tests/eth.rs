//! Two `devp2p` processes: `eth status` against `eth serve` on 127.0.0.1 reports the ethtest
//! chain's Status; an eth session of our own against the server gets its headers and bodies;
//! and an eth handshake that gets no Status says why it ends.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::disallowed_methods
)]

mod common;

use std::time::Duration;

use devp2p_enr::NodeRecord;
use devp2p_eth_wire::{
    BlockId, ChainReader, EthError, EthMessage, EthStream, GetBlockBodies, GetBlockHeaders,
    HeadersQuery, LocalStatus, MemoryChain,
};
use devp2p_p2p_capability::{Config, DisconnectReason, NodeInfo, P2pError, P2pStream};
use devp2p_rlpx_framing::{NodeKey, RlpxStream};
use k256::SecretKey;
use serde_json::Value;

use common::{Background, devp2p};

const CHAIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/ethtest");

/// `devp2p eth serve` on a free port, its enode URL read; killed when dropped.
fn serve() -> Background {
    serve_with(&[])
}

/// `eth serve` of the test chain on a free loopback port.
const SERVE: [&str; 6] = ["eth", "serve", "--chain", CHAIN, "--addr", "127.0.0.1:0"];

/// As [`serve`], with `extra` arguments.
fn serve_with(extra: &[&str]) -> Background {
    let server = Background::start(&[&SERVE[..], &["--timeout", "60"], extra].concat());
    assert!(
        server.first_line.starts_with("enode://"),
        "{}",
        server.first_line
    );
    server
}

fn status(args: &[&str]) -> (i32, String, String) {
    devp2p(&[&["eth", "status"], args].concat())
}

#[test]
fn status_against_serve_reports_the_ethtest_chain() {
    let server = serve();
    let (code, stdout, stderr) = status(&[&server.first_line, "--chain", CHAIN, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["version"], 70);
    assert_eq!(json["network_id"], 3_503_995_874_084_926u64);
    assert_eq!(json["latest"], 600);
    assert_eq!(json["fork_id"]["hash"], "0x377aaa78");
    assert_eq!(json["fork_id"]["next"], 0);
    assert_eq!(json["fork_id_accepted"], true);
    assert_eq!(
        json["latest_hash"],
        "0x44e3809c9a3cda717f00aea3a9da336d149612c8d5657fbc0028176ef8d94d2a"
    );

    // From another network the Status is printed, refused, and the exit code says so.
    let (code, stdout, _) = status(&[&server.first_line, "--network", "sepolia"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("fork id           0x377aaa78 next 0 (rejected by our filter)"),
        "{stdout}"
    );
    assert!(stdout.contains("refused           network id"), "{stdout}");
}

#[test]
fn status_bad_input() {
    let (code, _, stderr) = status(&["enode://zz@127.0.0.1:1"]);
    assert_eq!(
        (code, stderr.starts_with("devp2p: invalid enode URL")),
        (1, true),
        "{stderr}"
    );
    let enode = "enode://ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd31387574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f@127.0.0.1:1";
    let (code, _, stderr) = status(&[enode, "--network", "nowhere"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("unknown network"), "{stderr}");
    let (code, _, stderr) = status(&[enode, "--timeout", "5"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot connect"), "{stderr}");
}

#[test]
fn serve_refuses_connections_beyond_max_peers() {
    let server = serve_with(&["--max-peers", "1"]);
    let record: NodeRecord = server.first_line.parse().unwrap();
    // A peer that says nothing holds the only session (until the RLPx handshake times out).
    let idle = std::net::TcpStream::connect((record.ip, record.tcp_port)).unwrap();
    let (code, _, stderr) = status(&[&server.first_line, "--chain", CHAIN, "--timeout", "5"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("RLPx handshake with 127.0.0.1"), "{stderr}");
    // Once it leaves, the next peer is served.
    drop(idle);
    let served = (0..20).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        status(&[&server.first_line, "--chain", CHAIN, "--timeout", "5"]).0 == 0
    });
    assert!(served);
}

/// Out of file descriptors, `accept` fails while connections wait: the server must wait a
/// little before it tries again, not spin.
#[cfg(target_os = "linux")]
#[test]
fn serve_does_not_spin_when_accept_fails() {
    use std::{
        io::{BufRead, BufReader},
        process::{Command, Stdio},
    };
    let mut child = Command::new("sh")
        .args(["-c", r#"ulimit -n 24 && exec "$0" "$@""#])
        .arg(assert_cmd::cargo::cargo_bin("devp2p"))
        .args(["eth", "serve", "--chain", CHAIN, "--addr", "127.0.0.1:0"])
        .args(["--timeout", "30"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let record: NodeRecord = first.trim().parse().unwrap();
    // More connections than the server has descriptors left; each accepted one waits for its
    // RLPx handshake, which takes 10 s to time out.
    let _peers: Vec<_> = (0..40)
        .map(|_| std::net::TcpStream::connect((record.ip, record.tcp_port)).unwrap())
        .collect();
    let cpu_ticks = || {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
        // utime and stime, the 14th and 15th fields, after the parenthesised command name.
        let fields: Vec<u64> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .skip(11)
            .take(2)
            .map(|f| f.parse().unwrap())
            .collect();
        fields[0] + fields[1]
    };
    std::thread::sleep(Duration::from_millis(300));
    let before = cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks() - before;
    let _ = child.kill();
    let _ = child.wait();
    // A spinning server uses the whole second (100 ticks); one that waits, next to nothing.
    assert!(used < 30, "{used} ticks of CPU in 1 s");
}

#[test]
fn serve_timeout_is_at_least_one_second() {
    let (code, stdout, stderr) = devp2p(&[&SERVE[..], &["--timeout", "0"]].concat());
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    assert!(stderr.contains("--timeout"), "{stderr}");
}

/// The ethtest chain, and our Status on it.
fn ethtest() -> (MemoryChain, LocalStatus) {
    let genesis = std::fs::read_to_string(format!("{CHAIN}/genesis.json")).unwrap();
    let blocks = std::fs::read(format!("{CHAIN}/chain.rlp")).unwrap();
    let chain = MemoryChain::load(&genesis, &blocks).unwrap();
    let local = LocalStatus {
        spec: chain.genesis().spec.clone(),
        head: chain.head(),
        total_difficulty: chain.genesis().header.header.difficulty,
        earliest: 0,
    };
    (chain, local)
}

#[tokio::test]
async fn serve_answers_headers_and_bodies_and_ends_on_a_second_status() {
    let server = serve();
    let record: NodeRecord = server.first_line.parse().unwrap();
    let (chain, local) = ethtest();
    let key = NodeKey::new(SecretKey::from_slice(&[5; 32]).unwrap());
    let tcp = tokio::net::TcpStream::connect((record.ip, record.tcp_port))
        .await
        .unwrap();
    let rlpx = RlpxStream::connect(tcp, &key, &record.id, &Default::default())
        .await
        .unwrap();
    let info = NodeInfo {
        client_id: "test".into(),
        listen_port: 0,
        id: *key.id(),
    };
    let p2p = P2pStream::handshake(
        rlpx,
        Config::default(),
        info,
        EthStream::<tokio::net::TcpStream>::capabilities(),
    )
    .await
    .unwrap();
    let mut eth = EthStream::handshake(p2p, &local, Duration::from_secs(10))
        .await
        .unwrap();
    let one = chain.header_by_number(1).unwrap().hash;
    eth.send(&EthMessage::GetBlockHeaders(GetBlockHeaders {
        request_id: 42,
        query: HeadersQuery {
            start: BlockId::Hash(one),
            limit: 2,
            skip: 1,
            reverse: false,
        },
    }))
    .await
    .unwrap();
    let EthMessage::BlockHeaders(reply) = eth.next_message().await.unwrap() else {
        panic!("not BlockHeaders")
    };
    assert_eq!(reply.request_id, 42);
    let numbers: Vec<u64> = reply.headers.iter().map(|h| h.header.number).collect();
    assert_eq!(numbers, [1, 3]);
    let hash = chain.header_by_number(300).unwrap().hash;
    eth.send(&EthMessage::GetBlockBodies(GetBlockBodies {
        request_id: 0,
        hashes: vec![hash],
    }))
    .await
    .unwrap();
    let EthMessage::BlockBodies(reply) = eth.next_message().await.unwrap() else {
        panic!("not BlockBodies")
    };
    assert_eq!((reply.request_id, reply.bodies.len()), (0, 1));
    assert_eq!(reply.bodies[0], chain.body(&hash).unwrap());
    // A second Status breaks the protocol: the server ends the session, saying so.
    let again = EthMessage::Status(eth.remote_status().clone());
    eth.send(&again).await.unwrap();
    match tokio::time::timeout(Duration::from_secs(10), eth.next_message()).await {
        Ok(Err(EthError::P2p(P2pError::Disconnected(end)))) => {
            assert_eq!(
                (end.reason, end.by_peer),
                (DisconnectReason::ProtocolBreach, true)
            );
        }
        other => panic!("expected the server's Disconnect, got {other:?}"),
    }
}

#[tokio::test]
async fn a_peer_that_sends_no_status_is_told_why() {
    use futures::StreamExt;
    // A waits 300 ms for a Status that B, once its Hello is done, never sends: A ends the
    // session with reason 0x0b, and B hears it.
    let (_, local) = ethtest();
    let (key_a, key_b) = (
        NodeKey::new(SecretKey::from_slice(&[6; 32]).unwrap()),
        NodeKey::new(SecretKey::from_slice(&[7; 32]).unwrap()),
    );
    let id_a = *key_a.id();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let info = |key: &NodeKey| NodeInfo {
        client_id: "test".into(),
        listen_port: 0,
        id: *key.id(),
    };
    let caps = EthStream::<tokio::net::TcpStream>::capabilities;
    let a = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let rlpx = RlpxStream::accept(tcp, &key_a, &Default::default())
            .await
            .unwrap();
        let p2p = P2pStream::handshake(rlpx, Config::default(), info(&key_a), caps())
            .await
            .unwrap();
        EthStream::handshake(p2p, &local, Duration::from_millis(300))
            .await
            .err()
    });
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let rlpx = RlpxStream::connect(tcp, &key_b, &id_a, &Default::default())
        .await
        .unwrap();
    let mut b = P2pStream::handshake(rlpx, Config::default(), info(&key_b), caps())
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match b.next().await {
                Some(Err(P2pError::Disconnected(end))) => return Some(end),
                None => return None,
                _ => {}
            }
        }
    })
    .await
    .unwrap();
    let end = ended.expect("a Disconnect, not just the end of the connection");
    assert_eq!(
        (end.reason, end.by_peer),
        (DisconnectReason::PingTimeout, true)
    );
    assert!(matches!(a.await.unwrap(), Some(EthError::Timeout)));
}
