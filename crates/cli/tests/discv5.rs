//! `devp2p discv5 …` processes against each other on 127.0.0.1 and 127.0.0.2: `listen` prints
//! its record first; `ping`, `resolve` and `crawl` reach it; bad input and silent nodes fail
//! with one line.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use std::{net::UdpSocket, path::PathBuf};

use common::{Background, devp2p};
use devp2p_enr::{Enr, SigningKey};
use serde_json::Value;

/// `devp2p discv5 listen` on `ip`, with optional bootnodes.
fn listen(ip: &str, bootnodes: &str) -> Background {
    let addr = format!("{ip}:0");
    let mut args = vec!["discv5", "listen", "--addr", &addr, "--timeout", "60"];
    if !bootnodes.is_empty() {
        args.extend(["--bootnodes", bootnodes]);
    }
    let node = Background::start(&args);
    let record: Enr = node.first_line.parse().unwrap();
    assert_eq!(record.ip().unwrap().to_string(), ip);
    node
}

fn discv5(args: &[&str]) -> (i32, String, String) {
    devp2p(&[&["discv5"], args].concat())
}

#[test]
fn listen_prints_its_record_and_answers_ping() {
    let node = listen("127.0.0.1", "");
    let (code, stdout, stderr) = discv5(&["ping", &node.first_line, "--addr", "127.0.0.2:0"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("pong from 127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("sees us at 127.0.0.2:"), "{stdout}");
    let (code, stdout, stderr) = discv5(&["ping", &node.first_line, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let pong: Value = serde_json::from_str(&stdout).unwrap();
    // The record the node printed, numbered by the time it was made (in milliseconds).
    let record: Enr = node.first_line.parse().unwrap();
    assert_eq!(pong["enr_seq"].as_u64(), Some(record.seq()));
    assert!(record.seq() > 1_700_000_000_000, "{}", record.seq());
}

#[test]
fn resolve_and_crawl_find_nodes_through_a_bootnode() {
    let boot = listen("127.0.0.1", "");
    let mut member = listen("127.0.0.2", &boot.first_line);
    let added = member.line_where(|l| l.starts_with("added ")).unwrap();
    assert_eq!(added.trim_start_matches("added "), boot.first_line);

    let (code, stdout, stderr) = discv5(&["resolve", &member.first_line]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), member.first_line);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("discv5");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("crawl.json");
    let (code, _, stderr) = discv5(&[
        "crawl",
        "--bootnodes",
        &boot.first_line,
        "--timeout",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let records = listed(&std::fs::read_to_string(&out).unwrap());
    let _ = std::fs::remove_file(&out);
    assert!(records.contains(&boot.first_line), "{records:?}");
    assert!(records.contains(&member.first_line), "{records:?}");

    // Gone, the member is still in the bootnode's table, so lookups report it: resolving it
    // must still fail, since it does not answer.
    let gone = member.first_line.clone();
    drop(member);
    let (code, stdout, stderr) = discv5(&[
        "resolve",
        &gone,
        "--bootnodes",
        &boot.first_line,
        "--timeout",
        "20",
    ]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(
        stderr.contains("but the node does not answer there"),
        "{stderr}"
    );
    // Nor does a crawl list it, though the bootnode reports it and our lookups put it in our
    // table, unproven.
    let (code, stdout, stderr) = discv5(&[
        "crawl",
        "--bootnodes",
        &boot.first_line,
        "--timeout",
        "4",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        listed(&stdout),
        std::slice::from_ref(&boot.first_line),
        "{stderr}"
    );
}

/// The records of a crawl's JSON listing.
fn listed(json: &str) -> Vec<String> {
    let nodes: Value = serde_json::from_str(json).unwrap();
    nodes
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["enr"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn crawl_lists_only_nodes_that_answered() {
    let (_silent, record) = silent_node();
    // A failed crawl leaves what an earlier one wrote to --out.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("discv5-failed-crawl");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("earlier.json");
    std::fs::write(&out, "{\"earlier\":1}\n").unwrap();
    let (code, stdout, stderr) = discv5(&[
        "crawl",
        "--bootnodes",
        &record,
        "--timeout",
        "6",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert!(stderr.contains(" 0 nodes"), "{stderr}");
    assert!(stderr.ends_with("devp2p: no node answered\n"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "{\"earlier\":1}\n");
    let _ = std::fs::remove_file(&out);
}

/// The record of a node that never answers: a bound UDP socket nobody reads.
fn silent_node() -> (UdpSocket, String) {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let key = SigningKey::from_slice(&[5; 32]).unwrap();
    let record = Enr::builder()
        .ip4([127, 0, 0, 1].into())
        .udp(port)
        .build(&key)
        .unwrap();
    (silent, record.to_string())
}

#[test]
fn a_silent_node_and_bad_input_fail_with_one_line() {
    let (_silent, record) = silent_node();
    let (code, _, stderr) = discv5(&["ping", &record, "--timeout", "8"]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("devp2p: no answer"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);

    let (code, _, stderr) = discv5(&["ping", "enr:-xyz"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("invalid record"), "{stderr}");
    let enode = "enode://ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd31387574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f@127.0.0.1:30303";
    for enode in [enode.to_owned(), enode.replace("enode://", "Enode://")] {
        let (code, _, stderr) = discv5(&["ping", &enode]);
        assert_eq!(code, 1);
        assert!(
            stderr.starts_with("devp2p: discv5 needs a node record (enr:…), not an enode URL"),
            "{stderr}"
        );
    }
    let key = SigningKey::from_slice(&[5; 32]).unwrap();
    let no_udp = Enr::builder().build(&key).unwrap();
    let (code, _, stderr) = discv5(&["ping", &no_udp.to_string()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("no IP address with a UDP port"), "{stderr}");
    let port_0 = Enr::builder()
        .ip4([127, 0, 0, 1].into())
        .udp(0)
        .build(&key)
        .unwrap();
    let (code, _, stderr) = discv5(&["ping", &port_0.to_string(), "--timeout", "3"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("has UDP port 0"), "{stderr}");
    let (code, _, stderr) = discv5(&["crawl", "--timeout", "1"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("needs --bootnodes"), "{stderr}");
}
