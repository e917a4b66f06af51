//! `devp2p discv4 …` processes against each other on 127.0.0.1 and 127.0.0.2: `listen` prints
//! its enode first; `ping`, `requestenr`, `resolve` and `crawl` reach it; bad input and silent
//! nodes fail with one line.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::{
    net::UdpSocket,
    path::PathBuf,
    time::{Duration, Instant},
};

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
    assert!(pong["rtt_ms"].as_f64().unwrap() > 0.0);

    let (code, stdout, stderr) = discv4(&["requestenr", &enode]);
    assert_eq!(code, 0, "{stderr}");
    let record: Enr = stdout.trim().parse().unwrap();
    // The Pong names the record's sequence number: the time it was made, in milliseconds.
    assert_eq!(pong["enr_seq"].as_u64(), Some(record.seq()));
    assert!(record.seq() > 1_700_000_000_000, "{}", record.seq());
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

    let out = scratch("crawl.json");
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

    // Gone, the member is still in the bootnode's table, so lookups report it: resolving it
    // must still fail, since it does not answer.
    let gone = member.first_line.clone();
    drop(member);
    let (code, stdout, stderr) = discv4(&[
        "resolve",
        &gone,
        "--bootnodes",
        &boot.first_line,
        "--timeout",
        "10",
    ]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(
        stderr.contains("but the node does not answer there"),
        "{stderr}"
    );
}

/// A file path in this test binary's scratch directory (under the target directory).
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("discv4");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The enode URL of a node that never answers: a bound UDP socket nobody reads.
fn silent_node() -> (UdpSocket, String) {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let key = SigningKey::from_slice(&[5; 32]).unwrap();
    let id = PeerId::from_public_key(&key.verifying_key().into());
    (silent, format!("enode://{id}@127.0.0.1:{port}"))
}

#[test]
fn a_node_that_never_answers_is_neither_resolved_nor_crawled() {
    let (_silent, enode) = silent_node();
    let (code, stdout, stderr) = discv4(&["resolve", &enode, "--timeout", "10"]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(
        stderr.starts_with("devp2p: no answer from 127.0.0.1:"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let (code, stdout, stderr) = discv4(&["crawl", "--bootnodes", &enode, "--timeout", "3"]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(stderr.contains("crawl: done, "), "{stderr}");
    assert!(stderr.contains(" 0 nodes"), "{stderr}");
    assert!(stderr.ends_with("devp2p: no node answered\n"), "{stderr}");
}

#[test]
#[allow(clippy::disallowed_methods)] // It times the command.
fn crawl_creates_its_out_file_before_crawling() {
    let (_silent, enode) = silent_node();
    let bad = scratch("missing-dir").join("nodes.json");
    let started = Instant::now();
    let (code, stdout, stderr) = discv4(&[
        "crawl",
        "--bootnodes",
        &enode,
        "--timeout",
        "20",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(started.elapsed() < Duration::from_secs(10), "{stderr}");
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(stderr.starts_with("devp2p: cannot create "), "{stderr}");
}

#[test]
fn listen_reports_its_external_address_and_that_it_keeps_announcing_another() {
    let helpers: Vec<Background> = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .into_iter()
        .map(|ip| listen(ip, ""))
        .collect();
    let bootnodes: Vec<&str> = helpers.iter().map(|h| h.first_line.as_str()).collect();
    let bootnodes = bootnodes.join(",");
    let mut node = Background::start(&[
        "discv4",
        "listen",
        "--addr",
        "127.0.0.1:0",
        "--extaddr",
        "127.0.0.9:9",
        "--bootnodes",
        &bootnodes,
        "--timeout",
        "20",
    ]);
    assert!(
        node.first_line.ends_with("@127.0.0.9:0?discport=9"),
        "{}",
        node.first_line
    );
    // Three nodes see us at our socket's address, not the one we announce.
    let line = node
        .line_where(|l| l.starts_with("external address "))
        .unwrap();
    assert!(line.starts_with("external address 127.0.0.1:"), "{line}");
    assert!(
        line.ends_with("(other nodes see us there; announcing 127.0.0.9:9, fixed by --extaddr)"),
        "{line}"
    );
}

#[test]
fn a_silent_node_and_bad_input_fail_with_one_line() {
    let (_silent, enode) = silent_node();
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
    // UDP port 0 (an enode URL's port, or its discport) cannot be reached: said at once, in
    // whatever case the scheme is written.
    let id = "ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd31387574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f";
    for node in [
        format!("enode://{id}@127.0.0.1:0"),
        format!("ENODE://{id}@127.0.0.1:30303?discport=0"),
    ] {
        let (code, _, stderr) = discv4(&["ping", &node, "--timeout", "3"]);
        assert_eq!(code, 1);
        assert!(stderr.contains("has UDP port 0"), "{stderr}");
    }
    let (code, _, stderr) = discv4(&["crawl", "--timeout", "1"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("needs --bootnodes"), "{stderr}");
    let (code, _, stderr) = discv4(&["listen", "--addr", "not-an-address"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--addr"), "{stderr}");
}
