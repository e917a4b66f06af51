//! `devp2p discv4 …` processes against each other on 127.0.0.1 and 127.0.0.2: `listen` prints
//! its enode first; `ping`, `requestenr`, `resolve` and `crawl` reach it; bad input and silent
//! nodes fail with one line.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::net::UdpSocket;

use common::{Background, devp2p};
use devp2p_enr::{Enr, NodeRecord, PeerId, SigningKey};
use serde_json::Value;

/// `devp2p discv4 listen` on `ip`, with optional bootnodes.
fn listen(ip: &str, bootnodes: &str) -> Background {
    let addr = format!("{ip}:0");
    let mut args = vec!["discv4", "listen", "--addr", &addr, "--timeout", "60"];
    if !bootnodes.is_empty() {
        args.extend(["--bootnodes", bootnodes]);
    }
    let node = Background::start(&args);
    let record: NodeRecord = node.first_line.parse().unwrap();
    assert_eq!(record.ip.to_string(), ip);
    node
}

fn discv4(args: &[&str]) -> (i32, String, String) {
    devp2p(&[&["discv4"], args].concat())
}

#[test]
fn listen_prints_its_enode_and_answers_ping_and_requestenr() {
    let node = listen("127.0.0.1", "");
    let enode = node.first_line.clone();
    let (code, stdout, stderr) = discv4(&["ping", &enode, "--addr", "127.0.0.2:0"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("pong from 127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("sees us at 127.0.0.2:"), "{stdout}");

    let (code, stdout, stderr) = discv4(&["ping", &enode, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let pong: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(pong["enr_seq"], 1);
    assert!(pong["rtt_ms"].as_f64().unwrap() > 0.0);

    let (code, stdout, stderr) = discv4(&["requestenr", &enode]);
    assert_eq!(code, 0, "{stderr}");
    let record: Enr = stdout.trim().parse().unwrap();
    let listening: NodeRecord = enode.parse().unwrap();
    assert_eq!(record.peer_id(), listening.id);
    assert_eq!(record.udp(), Some(listening.udp_port));
}

#[test]
fn resolve_and_crawl_find_nodes_through_a_bootnode() {
    let boot = listen("127.0.0.1", "");
    let mut member = listen("127.0.0.2", &boot.first_line);
    // The member has bonded with the bootnode once the bootnode shows up in its table.
    let added = member.line_where(|l| l.starts_with("added ")).unwrap();
    assert!(
        added.ends_with(&boot.first_line["enode://".len() + 128..]),
        "{added}"
    );

    let (code, stdout, stderr) = discv4(&[
        "resolve",
        &member.first_line,
        "--bootnodes",
        &boot.first_line,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), member.first_line);

    let out = std::env::temp_dir().join(format!("devp2p-crawl-{}.json", std::process::id()));
    let (code, _, stderr) = discv4(&[
        "crawl",
        "--bootnodes",
        &boot.first_line,
        "--timeout",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("crawl: done"), "{stderr}");
    let nodes: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    let enodes: Vec<&str> = nodes
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["enode"].as_str().unwrap())
        .collect();
    assert!(enodes.contains(&boot.first_line.as_str()), "{enodes:?}");
    assert!(enodes.contains(&member.first_line.as_str()), "{enodes:?}");
}

#[test]
fn a_silent_node_and_bad_input_fail_with_one_line() {
    // A UDP socket that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let key = SigningKey::from_slice(&[5; 32]).unwrap();
    let id = PeerId::from_public_key(&key.verifying_key().into());
    let enode = format!("enode://{id}@127.0.0.1:{port}");
    let (code, _, stderr) = discv4(&["ping", &enode, "--timeout", "3"]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("devp2p: no answer"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);

    let (code, _, stderr) = discv4(&["ping", "enode://zz@127.0.0.1:1"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("invalid enode URL"), "{stderr}");
    let (code, _, stderr) = discv4(&["requestenr", "enr:-xyz"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("invalid node"), "{stderr}");
    let (code, _, stderr) = discv4(&["crawl", "--timeout", "1"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("needs --bootnodes"), "{stderr}");
    let (code, _, stderr) = discv4(&["listen", "--addr", "not-an-address"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--addr"), "{stderr}");
}
