//! `devp2p rlpx ping` against our own node on 127.0.0.1 (a good peer, a peer that refuses us,
//! one that hangs up mid-handshake, one that says nothing) and with bad input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::{io::Read, net::TcpListener as StdListener, thread, time::Duration};

use devp2p_p2p_capability::{Capability, Config, DisconnectReason, NodeInfo, P2pStream};
use devp2p_rlpx_framing::{Message, NodeKey, RlpxStream};
use futures::{SinkExt, StreamExt};
use k256::SecretKey;
use serde_json::Value;

mod common;
use common::devp2p;

fn server_key() -> NodeKey {
    NodeKey::new(SecretKey::from_slice(&[9; 32]).unwrap())
}

/// Runs `serve` on one accepted connection in a thread of its own; returns the enode URL.
fn serve_once<F, Fut>(serve: F) -> (String, thread::JoinHandle<()>)
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let handle = thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let accepted = tokio::time::timeout(Duration::from_secs(20), listener.accept()).await;
            if let Ok(Ok((socket, _))) = accepted {
                serve(socket).await;
            }
        });
    });
    (
        format!("enode://{}@127.0.0.1:{port}", server_key().id()),
        handle,
    )
}

fn ping(args: &[&str]) -> (i32, String, String) {
    devp2p(&[&["rlpx", "ping"], args].concat())
}

#[test]
fn prints_the_hello_and_disconnects_cleanly() {
    let (enode, server) = serve_once(|socket| async move {
        let key = server_key();
        let rlpx = RlpxStream::accept(socket, &key, &Default::default())
            .await
            .unwrap();
        let info = NodeInfo {
            client_id: "test-node/v1".into(),
            listen_port: 30303,
            id: *key.id(),
        };
        let caps = vec![Capability::new("eth", 68, 17)];
        let mut p2p = P2pStream::handshake(rlpx, Config::default(), info, caps)
            .await
            .unwrap();
        // The tool leaves with "disconnect requested".
        match p2p.next().await {
            Some(Err(devp2p_p2p_capability::P2pError::Disconnected(ended))) => {
                assert_eq!(ended.reason, DisconnectReason::DisconnectRequested);
                assert!(ended.by_peer);
            }
            other => panic!("expected a Disconnect, got {other:?}"),
        }
    });
    let (code, stdout, stderr) = ping(&[&enode, "--json"]);
    server.join().unwrap();
    assert_eq!(code, 0, "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["hello"]["client_id"], "test-node/v1");
    assert_eq!(json["hello"]["protocol_version"], 5);
    assert_eq!(json["hello"]["capabilities"][0], "eth/68");
    assert_eq!(json["hello"]["listen_port"], 30303);
    assert_eq!(json["hello"]["id"], server_key().id().to_string());
    assert!(json.get("disconnect").is_none());
}

#[test]
fn prints_the_disconnect_a_peer_sends_instead() {
    let (enode, server) = serve_once(|socket| async move {
        let mut rlpx = RlpxStream::accept(socket, &server_key(), &Default::default())
            .await
            .unwrap();
        rlpx.send(Message::new(0x01, vec![0xc1, 0x04]))
            .await
            .unwrap();
        let _ = rlpx.next().await;
    });
    let (code, stdout, stderr) = ping(&[&enode]);
    server.join().unwrap();
    assert_eq!(code, 1);
    // The line the README shows.
    assert_eq!(
        stdout,
        "disconnect        too many peers (0x04) (sent by peer)\n"
    );
    assert!(stderr.contains("sent no Hello"), "{stderr}");
}

#[test]
fn peer_closing_mid_handshake() {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut some = [0u8; 16];
        socket.read_exact(&mut some).unwrap();
    });
    let enode = format!("enode://{}@127.0.0.1:{port}", server_key().id());
    let (code, _, stderr) = ping(&[&enode]);
    server.join().unwrap();
    assert_eq!(code, 1);
    assert!(stderr.contains("RLPx handshake with 127.0.0.1"), "{stderr}");
}

#[test]
fn silent_peer_times_out() {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let enode = format!("enode://{}@127.0.0.1:{port}", server_key().id());
    let (code, _, stderr) = ping(&[&enode, "--timeout", "1"]);
    drop(listener);
    assert_eq!(code, 1);
    assert!(stderr.contains("within 1 s"), "{stderr}");
}

#[test]
fn unreachable_address() {
    // Nothing listens on port 1 of the loopback address.
    let enode = format!("enode://{}@127.0.0.1:1", server_key().id());
    let (code, _, stderr) = ping(&[&enode, "--timeout", "5"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot connect to 127.0.0.1:1"), "{stderr}");
}

#[test]
fn a_node_without_a_tcp_port() {
    let enode = format!("enode://{}@127.0.0.1:0?discport=30303", server_key().id());
    let (code, _, stderr) = ping(&[&enode]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("devp2p: the node has no TCP port (port 0)"),
        "{stderr}"
    );
}

#[test]
fn malformed_nodes() {
    for (node, message) in [
        ("enode://zz@127.0.0.1:30303", "invalid enode URL"),
        ("enode://1234@127.0.0.1:30303", "invalid enode URL"),
        ("enr:not-base64!", "invalid node"),
        ("nonsense", "invalid node"),
    ] {
        let (code, _, stderr) = ping(&[node]);
        assert_eq!(code, 1, "{node}");
        assert!(
            stderr.starts_with(&format!("devp2p: {message}")),
            "{node}: {stderr}"
        );
    }
    // A record with an IP address and a UDP port, but no TCP port.
    let (code, _, stderr) = ping(&[
        "enr:-IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5wBgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("devp2p: the node has no TCP port (port 0): enode://")
            && stderr.contains("@127.0.0.1:0?discport=30303"),
        "{stderr}"
    );
    // Usage errors.
    let (code, _, _) = ping(&[]);
    assert_eq!(code, 2);
    let (code, _, _) = ping(&["enode://x@1.2.3.4:1", "--timeout", "0"]);
    assert_eq!(code, 2);
}
