//! The discv5 core in memory with a virtual clock: requests and answers between our nodes,
//! FINDNODE served from the table across several NODES messages, TALKREQ routing, timeouts, and
//! lookups in a small network.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};

use devp2p_discv5::{
    Config, Discv5, Enr, Event, IpMode, Message, NodeId, QueryId, RequestError, RequestId,
    SigningKey,
    session::{NodeAddress, SessionConfig, SessionEvent, Sessions},
    udp_addr, udp_addr_in,
    wire::{self, RawRecord},
};

mod common;
use common::tampered;

struct Net {
    nodes: BTreeMap<SocketAddr, Discv5>,
    events: Vec<(SocketAddr, Event)>,
    now: Instant,
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 9000))
}

/// The key of the node at index `i`.
fn key(i: usize) -> SigningKey {
    let mut secret = [7u8; 32];
    secret[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    SigningKey::from_slice(&secret).unwrap()
}

impl Net {
    fn new(count: usize) -> Self {
        Self::at(&(0..count).map(addr).collect::<Vec<_>>())
    }

    /// A node at each of `addrs`.
    fn at(addrs: &[SocketAddr]) -> Self {
        let now = Instant::now();
        let nodes = addrs
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let key = key(i);
                let record = Enr::builder().ip(a.ip()).udp(a.port()).build(&key).unwrap();
                (
                    a,
                    Discv5::new(key, record, Config::default(), now, [i as u8; 32]),
                )
            })
            .collect();
        Self {
            nodes,
            events: Vec::new(),
            now,
        }
    }

    /// Replaces node `i` of [`Net::new`] with a fresh one (same key and record) with `config`.
    fn reconfigure(&mut self, i: usize, config: Config) {
        let record = self.record(i);
        let node = Discv5::new(key(i), record, config, self.now, [i as u8; 32]);
        self.nodes.insert(addr(i), node);
    }

    fn node(&mut self, i: usize) -> &mut Discv5 {
        self.nodes.get_mut(&addr(i)).unwrap()
    }

    fn record(&self, i: usize) -> Enr {
        self.nodes[&addr(i)].local_record().clone()
    }

    /// Moves datagrams and fires timers until `until` (virtual), 1 ms per hop.
    fn run(&mut self, duration: Duration) {
        let until = self.now + duration;
        loop {
            let mut moved = false;
            let addrs: Vec<SocketAddr> = self.nodes.keys().copied().collect();
            for from in addrs {
                let node = self.nodes.get_mut(&from).unwrap();
                let out: Vec<_> = std::iter::from_fn(|| node.poll_transmit()).collect();
                while let Some(event) = node.poll_event() {
                    self.events.push((from, event));
                }
                for t in out {
                    moved = true;
                    if let Some(to) = self.nodes.get_mut(&t.dst) {
                        to.handle_datagram(self.now, from, &t.bytes);
                    }
                }
            }
            if moved {
                continue;
            }
            let next = self.nodes.values().filter_map(Discv5::poll_timeout).min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    for node in self.nodes.values_mut() {
                        if node.poll_timeout().is_some_and(|t| t <= self.now) {
                            node.handle_timeout(self.now);
                        }
                    }
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
    }

    fn take_events(&mut self, at: usize) -> Vec<Event> {
        let (mine, rest): (Vec<_>, Vec<_>) =
            self.events.drain(..).partition(|(a, _)| *a == addr(at));
        self.events = rest;
        mine.into_iter().map(|(_, e)| e).collect()
    }
}

#[test]
fn ping_pong_and_both_tables() {
    let mut net = Net::new(2);
    let b = net.record(1);
    let now = net.now;
    let id = net.node(0).ping(now, &b);
    net.run(Duration::from_millis(100));
    let events = net.take_events(0);
    let pong = events.iter().find_map(|e| match e {
        Event::Pong { id: got, result } if *got == id => Some(result.clone()),
        _ => None,
    });
    let pong = pong.unwrap().unwrap();
    assert_eq!(pong.seen_as, addr(0));
    assert_eq!(pong.enr_seq, b.seq());
    // A added B (it answered); B added A (A's handshake carried its record, at its address).
    assert!(events.contains(&Event::NodeAdded(b.clone())));
    assert!(net.node(0).table().contains(&b.node_id()));
    let a = net.record(0);
    assert!(net.node(1).table().contains(&a.node_id()));
}

/// The next timeout is the soonest thing due: nothing of an answered request, nor of the
/// handshake it made, is left to wake the node early.
#[test]
fn an_answered_request_leaves_no_timeout_behind() {
    let mut net = Net::new(2);
    let (b, start) = (net.record(1), net.now);
    net.node(0).ping(start, &b);
    let handshake = start + SessionConfig::default().handshake_timeout;
    assert_eq!(net.node(0).poll_timeout(), Some(handshake));
    net.run(Duration::from_millis(100));
    let revalidation = start + Config::default().revalidate_interval;
    assert_eq!(net.node(0).poll_timeout(), Some(revalidation));
}

#[test]
fn a_ping_announcing_a_newer_record_fetches_it() {
    let mut net = Net::new(2);
    let (a, b) = (net.record(0), net.record(1));
    let now = net.now;
    net.node(0).ping(now, &b);
    net.run(Duration::from_millis(100));
    net.node(1)
        .update_local_record(|builder| {
            builder.set("eth", &vec![vec![1u8, 2, 3, 4]]);
        })
        .unwrap();
    let newer = net.record(1);
    assert_eq!(newer.seq(), b.seq() + 1);
    // B pings A, announcing it: A fetches it (FINDNODE [0]) and its table has it.
    let now = net.now;
    net.node(1).ping(now, &a);
    net.run(Duration::from_millis(100));
    let entry = net.node(0).table().get(&b.node_id()).unwrap();
    assert_eq!(entry.value.record, newer);
}

#[test]
fn findnode_zero_returns_exactly_the_nodes_own_record() {
    let mut net = Net::new(2);
    let b = net.record(1);
    let now = net.now;
    let id = net.node(0).find_node(now, &b, vec![0]);
    net.run(Duration::from_millis(100));
    let nodes = net.take_events(0).into_iter().find_map(|e| match e {
        Event::Nodes { id: got, result } if got == id => Some(result),
        _ => None,
    });
    assert_eq!(nodes.unwrap().unwrap(), vec![b]);
}

#[test]
fn findnode_answers_span_several_nodes_messages() {
    // 40 nodes bootstrap from node 0, which then holds them all; node 1 asks for every
    // distance that holds any, and gets the 16-record limit in 6 messages of at most 3.
    let mut net = Net::new(41);
    let boot = net.record(0);
    let now = net.now;
    for i in 2..41 {
        net.node(i).add_enr(now, boot.clone()).unwrap();
    }
    net.run(Duration::from_secs(5));
    let table: Vec<NodeId> = net.node(0).table().iter().map(|e| e.id).collect();
    assert!(table.len() >= 20, "{}", table.len());
    let boot_id = boot.node_id();
    let mut distances: Vec<u16> = table.iter().map(|id| boot_id.log2_distance(id)).collect();
    distances.sort_unstable();
    distances.dedup();
    let now = net.now;
    let id = net.node(1).find_node(now, &boot, distances.clone());
    net.run(Duration::from_millis(100));
    let records = net.take_events(1).into_iter().find_map(|e| match e {
        Event::Nodes { id: got, result } if got == id => Some(result),
        _ => None,
    });
    let records = records.unwrap().unwrap();
    assert_eq!(records.len(), 16);
    for record in &records {
        assert!(table.contains(&record.node_id()));
        assert!(distances.contains(&boot_id.log2_distance(&record.node_id())));
    }
}

#[test]
fn talkreq_unknown_protocol_gets_an_empty_answer_and_registered_ones_reach_the_app() {
    let mut net = Net::new(2);
    let b = net.record(1);
    let now = net.now;
    let unknown = net.node(0).talk_req(now, &b, b"nope", b"hello");
    net.run(Duration::from_millis(100));
    let answer = net.take_events(0).into_iter().find_map(|e| match e {
        Event::TalkResponse { id, result } if id == unknown => Some(result),
        _ => None,
    });
    assert_eq!(answer, Some(Ok(Vec::new())));

    assert!(net.node(1).register_talk_protocol(b"echo"));
    let now = net.now;
    let echo = net.node(0).talk_req(now, &b, b"echo", b"hello");
    net.run(Duration::from_millis(100));
    let request = net.take_events(1).into_iter().find_map(|e| match e {
        Event::TalkRequest {
            node,
            req_id,
            protocol,
            request,
        } => Some((node, req_id, protocol, request)),
        _ => None,
    });
    let (node, req_id, protocol, request) = request.unwrap();
    assert_eq!(
        (protocol.as_slice(), request.as_slice()),
        (&b"echo"[..], &b"hello"[..])
    );
    let now = net.now;
    assert!(
        net.node(1)
            .talk_response(now, &node, req_id, b"HELLO".to_vec())
    );
    net.run(Duration::from_millis(100));
    let answer = net.take_events(0).into_iter().find_map(|e| match e {
        Event::TalkResponse { id, result } if id == echo => Some(result),
        _ => None,
    });
    assert_eq!(answer, Some(Ok(b"HELLO".to_vec())));
}

#[test]
fn a_talkreq_that_went_out_is_not_sent_again() {
    // Node 1's application takes the request and never answers: it gets the request once, and
    // node 0's request times out.
    let mut net = Net::new(2);
    let b = net.record(1);
    assert!(net.node(1).register_talk_protocol(b"slow"));
    let now = net.now;
    let id = net.node(0).talk_req(now, &b, b"slow", b"hello");
    net.run(Duration::from_secs(10));
    let requests = net
        .take_events(1)
        .into_iter()
        .filter(|e| matches!(e, Event::TalkRequest { .. }))
        .count();
    assert_eq!(requests, 1);
    let result = net.take_events(0).into_iter().find_map(|e| match e {
        Event::TalkResponse { id: got, result } if got == id => Some(result),
        _ => None,
    });
    assert_eq!(result, Some(Err(RequestError::Timeout)));
}

#[test]
fn requests_to_a_silent_node_time_out() {
    let mut net = Net::new(1);
    let key = SigningKey::from_slice(&[9; 32]).unwrap();
    let nowhere = Enr::builder()
        .ip([10, 9, 9, 9].into())
        .udp(1)
        .build(&key)
        .unwrap();
    let now = net.now;
    let id = net.node(0).ping(now, &nowhere);
    net.run(Duration::from_secs(5));
    let result = net.take_events(0).into_iter().find_map(|e| match e {
        Event::Pong { id: got, result } if got == id => Some(result),
        _ => None,
    });
    assert_eq!(result, Some(Err(RequestError::Timeout)));
}

#[test]
fn lookups_find_the_closest_nodes_of_a_small_network() {
    let mut net = Net::new(60);
    let boot = net.record(0);
    let now = net.now;
    for i in 1..60 {
        net.node(i).add_enr(now, boot.clone()).unwrap();
    }
    net.run(Duration::from_secs(20));
    let all: Vec<NodeId> = (0..60).map(|i| net.record(i).node_id()).collect();
    let (mut exact, mut found_total) = (0, 0);
    for n in 0..10 {
        let from = 1 + n * 5;
        let target = NodeId([n as u8 * 23 + 1; 32]);
        let now = net.now;
        let id = net.node(from).lookup(now, target).unwrap();
        net.run(Duration::from_secs(10));
        let found = net.take_events(from).into_iter().find_map(|e| match e {
            Event::LookupFinished { id: got, nodes, .. } if got == id => Some(nodes),
            _ => None,
        });
        let found: Vec<NodeId> = found.unwrap().iter().map(Enr::node_id).collect();
        let mut truth: Vec<NodeId> = all.iter().copied().filter(|id| *id != all[from]).collect();
        truth.sort_by_key(|id| target.distance(id));
        truth.truncate(16);
        let hits = truth.iter().filter(|id| found.contains(id)).count();
        found_total += hits;
        if hits == 16 {
            exact += 1;
        }
    }
    eprintln!("{exact}/10 lookups exact, {found_total}/160 of the true closest found");
    // Sixty nodes make sparse far buckets: the 16th-closest nodes sit at log distance 255,
    // where a node's bucket of 16 cannot hold everyone. The 500-node bar is the simulation's.
    assert!(
        found_total >= 144,
        "{found_total}/160 found ({exact}/10 lookups exact)"
    );
}

#[test]
fn a_pong_announcing_a_newer_record_fetches_it() {
    let mut net = Net::new(2);
    let b = net.record(1);
    let now = net.now;
    net.node(0).ping(now, &b);
    net.run(Duration::from_millis(100));
    assert_eq!(
        net.node(0)
            .table()
            .get(&b.node_id())
            .unwrap()
            .value
            .record
            .seq(),
        1
    );
    // B's record changes (sequence number 2); A learns of it from the next PONG.
    let key = SigningKey::from_slice(&{
        let mut secret = [7u8; 32];
        secret[..8].copy_from_slice(&2u64.to_be_bytes());
        secret
    })
    .unwrap();
    let newer = b
        .update(&key, |builder| {
            builder.udp(9000).set("test", &1u8);
        })
        .unwrap();
    assert_eq!(newer.seq(), 2);
    net.node(1).set_local_record(newer.clone());
    let now = net.now;
    net.node(0).ping(now, &b);
    net.run(Duration::from_millis(100));
    assert_eq!(
        net.node(0).table().get(&b.node_id()).unwrap().value.record,
        newer
    );
    assert!(net.take_events(0).contains(&Event::NodeUpdated(newer)));
}

#[test]
fn three_agreeing_pongs_predict_our_external_address() {
    let mut net = Net::new(4);
    for i in 1..4 {
        let record = net.record(i);
        let now = net.now;
        net.node(0).ping(now, &record);
        net.run(Duration::from_millis(100));
        let expected = (i == 3).then_some(addr(0));
        assert_eq!(net.node(0).external_address(), expected, "after {i} PONGs");
    }
    assert!(
        net.take_events(0)
            .contains(&Event::ExternalAddress(addr(0)))
    );
    // The record already carried that address: it stays as it was (seq 1, as built).
    assert_eq!(net.node(0).local_record().seq(), 1);
}

/// Node 0 of a [`Net`] of `count` nodes announcing `announced` (its record's address) while
/// its packets come from `addr(0)`, as behind a NAT; it pings the others.
fn behind_a_nat(count: usize, announced: SocketAddr, config: Config) -> (Net, u64) {
    let mut net = Net::new(count);
    let record = Enr::builder()
        .ip(announced.ip())
        .udp(announced.port())
        .build(&key(0))
        .unwrap();
    let seq = record.seq();
    let node = Discv5::new(key(0), record, config, net.now, [0; 32]);
    net.nodes.insert(addr(0), node);
    for i in 1..count {
        let record = net.record(i);
        let now = net.now;
        net.node(0).ping(now, &record);
        net.run(Duration::from_millis(100));
    }
    (net, seq)
}

#[test]
fn a_predicted_address_goes_into_our_record() {
    let announced = SocketAddr::from(([10, 9, 9, 9], 7000));
    // Three agreeing nodes predict an address, but do not make the default quorum of ten
    // for changing our record.
    let (mut net, seq) = behind_a_nat(4, announced, Config::default());
    assert_eq!(net.node(0).external_address(), Some(addr(0)));
    assert_eq!(net.node(0).local_record().seq(), seq);
    // With a quorum of three, they do.
    let config = Config {
        min_update_votes: 3,
        ..Config::default()
    };
    let (mut net, seq) = behind_a_nat(4, announced, config);
    let record = net.node(0).local_record().clone();
    assert_eq!(
        (record.ip().map(IpAddr::V4), record.udp(), record.seq()),
        (Some(addr(0).ip()), Some(addr(0).port()), seq + 1)
    );
    // Asked for it, node 0 hands out the new record.
    let (now, zero) = (net.now, record.clone());
    let find = net.node(1).find_node(now, &zero, vec![0]);
    net.run(Duration::from_millis(100));
    let got = net.take_events(1).into_iter().find_map(|e| match e {
        Event::Nodes { id, result } if id == find => Some(result),
        _ => None,
    });
    assert_eq!(got, Some(Ok(vec![record])));

    // Not when the address is configured.
    let config = Config {
        update_record: false,
        min_update_votes: 3,
        ..Config::default()
    };
    let (mut net, seq) = behind_a_nat(4, announced, config);
    assert_eq!(net.node(0).external_address(), Some(addr(0)));
    let record = net.node(0).local_record();
    assert_eq!((record.udp(), record.seq()), (Some(7000), seq));
}

#[test]
fn node_ids_on_one_ip_vote_once_for_our_external_address() {
    // Four node ids on one host, then two more hosts.
    let ours = addr(0);
    let host = |port| SocketAddr::from(([10, 0, 9, 9], port));
    let others = [addr(1), addr(2)];
    let mut all = vec![ours, host(9001), host(9002), host(9003), host(9004)];
    all.extend(others);
    let mut net = Net::at(&all);
    let pong_from = |net: &mut Net, at: SocketAddr| {
        let record = net.nodes[&at].local_record().clone();
        let now = net.now;
        net.nodes.get_mut(&ours).unwrap().ping(now, &record);
        net.run(Duration::from_millis(100));
        net.nodes[&ours].external_address()
    };
    for port in 9001..=9004 {
        assert_eq!(pong_from(&mut net, host(port)), None, "after {port}");
    }
    assert_eq!(pong_from(&mut net, others[0]), None);
    assert_eq!(pong_from(&mut net, others[1]), Some(ours));
}

#[test]
fn lan_and_loopback_records_are_passed_on_only_within_their_network() {
    // Node 0, on a public address, knows node 1 on a LAN and node 2 on loopback (each pinged
    // it). Asked for both distances, it sends a public requester neither record, a LAN
    // requester the LAN one, and a loopback requester both. (Node 0 may also send records of
    // earlier requesters; only the two are looked at.)
    let (public, lan, local) = (
        SocketAddr::from(([11, 0, 0, 1], 9000)),
        SocketAddr::from(([10, 0, 0, 1], 9000)),
        SocketAddr::from(([127, 0, 0, 1], 9000)),
    );
    let mut net = Net::at(&[public, lan, local]);
    let records: Vec<Enr> = [public, lan, local]
        .iter()
        .map(|a| net.nodes[a].local_record().clone())
        .collect();
    let now = net.now;
    for a in [lan, local] {
        net.nodes.get_mut(&a).unwrap().ping(now, &records[0]);
    }
    net.run(Duration::from_millis(100));
    let distances: Vec<u16> = records[1..]
        .iter()
        .map(|r| records[0].node_id().log2_distance(&r.node_id()))
        .collect();
    let (lan_id, local_id) = (records[1].node_id(), records[2].node_id());
    let mut ask = |seed: u8, from: SocketAddr| {
        let mut peer = Peer::new(seed, from);
        let find = Message::FindNode {
            req_id: RequestId::new(&[seed]).unwrap(),
            distances: distances.clone(),
        };
        assert!(peer.sessions.send(net.now, &records[0], public, find));
        let mut ids: Vec<NodeId> = peer
            .exchange_with(&mut net, public)
            .into_iter()
            .flat_map(|(_, m)| match m {
                Message::Nodes { enrs, .. } => enrs,
                _ => Vec::new(),
            })
            .map(|raw| raw.verify().unwrap().node_id())
            .filter(|id| [lan_id, local_id].contains(id))
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![lan_id, local_id];
    both.sort();
    assert_eq!(ask(0x51, SocketAddr::from(([12, 0, 0, 7], 9000))), []);
    assert_eq!(ask(0x52, SocketAddr::from(([10, 0, 0, 2], 9000))), [lan_id]);
    assert_eq!(ask(0x53, SocketAddr::from(([127, 0, 0, 2], 9000))), both);
}

/// Records of `count` keys from `seed` on, at 10.0.`subnet`.i:9000.
fn lan_records(seed: u8, subnet: u8, count: u8) -> Vec<Enr> {
    (0..count)
        .map(|i| {
            let key = SigningKey::from_slice(&[seed + i; 32]).unwrap();
            Enr::builder()
                .ip([10, 0, subnet, i].into())
                .udp(9000)
                .build(&key)
                .unwrap()
        })
        .collect()
}

/// Node 0 of `net` asks `peer` for the distances of `records`: the query's id, and the node
/// and request id the peer answers.
fn ask_for(net: &mut Net, peer: &mut Peer, records: &[Enr]) -> (QueryId, NodeAddress, RequestId) {
    let peer_id = peer.record.node_id();
    let distances = records
        .iter()
        .map(|r| peer_id.log2_distance(&r.node_id()))
        .collect();
    let now = net.now;
    let find = net.node(0).find_node(now, &peer.record, distances);
    let received = peer.exchange(net, 0);
    let (from, request) = received[0].clone();
    (find, from, *request.request_id())
}

/// Node 0 of a one-node [`Net`] asks a peer on the LAN for the distances of `records`; the
/// peer answers with them all. What node 0 reports it received.
fn taken_from_an_answer_of(records: &[Enr]) -> Vec<Event> {
    let mut net = Net::new(1);
    let mut peer = Peer::new(0x21, addr(1));
    let (_, from, req_id) = ask_for(&mut net, &mut peer, records);
    let answer = Message::Nodes {
        req_id,
        total: 1,
        enrs: records.iter().map(RawRecord::from).collect(),
    };
    assert!(peer.sessions.reply(net.now, &from, &answer));
    peer.exchange(&mut net, 0);
    answers(&mut net, 0)
}

/// A record of a node with key `[seed; 32]` at `ip`, port 9000.
fn record_at(seed: u8, ip: [u8; 4]) -> Enr {
    let key = SigningKey::from_slice(&[seed; 32]).unwrap();
    Enr::builder().ip(ip.into()).udp(9000).build(&key).unwrap()
}

/// The records of a NODES answer's event.
fn nodes_of(events: &[Event]) -> Vec<Enr> {
    match events {
        [
            Event::Nodes {
                result: Ok(records),
                ..
            },
        ] => records.clone(),
        _ => panic!("{events:?}"),
    }
}

#[test]
fn our_own_record_in_a_nodes_answer_is_dropped() {
    // A peer answers node 0's FINDNODE with node 0's own record (an honest node has it at
    // the distance a self-lookup asks for) and one other: only the other is taken, so a
    // lookup never queries or returns the node itself.
    let own = Net::new(1).record(0);
    let other = record_at(0x43, [10, 0, 7, 2]);
    let taken = taken_from_an_answer_of(&[own, other.clone()]);
    assert_eq!(nodes_of(&taken), [other]);
}

#[test]
fn nodes_answers_cannot_point_into_our_own_host() {
    // A peer on the LAN answers node 0's FINDNODE with a record on loopback and one on the
    // LAN: node 0 keeps only the LAN one. A LAN sender may not point it at 127.0.0.1.
    let (local, lan) = (
        record_at(0x41, [127, 0, 0, 1]),
        record_at(0x42, [10, 0, 7, 1]),
    );
    let taken = taken_from_an_answer_of(&[local, lan.clone()]);
    assert_eq!(nodes_of(&taken), [lan]);
}

#[test]
fn records_a_lookup_found_are_kept_but_not_passed_on_unproven() {
    // Node 3 answers a ping of node 2, then goes silent. Node 0 looks up node 3's id through
    // node 2: node 3 enters node 0's table from node 2's answer, unproven, and node 0 does not
    // hand it to node 1, while node 2 (which node 3 answered) does.
    let mut net = Net::new(4);
    let (two, three) = (net.record(2), net.record(3));
    let now = net.now;
    net.node(2).ping(now, &three);
    net.node(0).ping(now, &two);
    net.run(Duration::from_millis(100));
    net.nodes.remove(&addr(3));
    let now = net.now;
    net.node(0).lookup(now, three.node_id()).unwrap();
    net.run(Duration::from_secs(5));
    assert!(net.node(0).table().contains(&three.node_id()));

    let ask = |net: &mut Net, of: usize| {
        let record = net.record(of);
        let distance = record.node_id().log2_distance(&three.node_id());
        let now = net.now;
        let id = net.node(1).find_node(now, &record, vec![distance]);
        net.run(Duration::from_millis(100));
        let records = net.take_events(1).into_iter().find_map(|e| match e {
            Event::Nodes { id: got, result } if got == id => Some(result),
            _ => None,
        });
        records
            .unwrap()
            .unwrap()
            .iter()
            .any(|r| r.node_id() == three.node_id())
    };
    assert!(!ask(&mut net, 0), "node 0 passed on an unproven record");
    assert!(ask(&mut net, 2), "node 2 did not pass on a proven one");
}

#[test]
fn a_node_that_only_contacted_us_is_not_passed_on_before_it_answers() {
    // A peer pings node 0, whose table takes the peer's record from the handshake and which
    // pings the peer in turn; node 0 hands the record to node 1 only once the peer answers.
    let mut net = Net::new(2);
    let mut peer = Peer::new(0x41, addr(5));
    let (now, zero) = (net.now, net.record(0));
    let ping = Message::Ping {
        req_id: RequestId::new(&[1]).unwrap(),
        enr_seq: 1,
    };
    assert!(peer.sessions.send(now, &zero, addr(0), ping));
    let received = peer.exchange(&mut net, 0);
    assert!(
        received
            .iter()
            .any(|(_, m)| matches!(m, Message::Pong { .. }))
    );
    let their_ping = received
        .iter()
        .find_map(|(_, m)| match m {
            Message::Ping { req_id, .. } => Some(*req_id),
            _ => None,
        })
        .expect("node 0 pings the peer");
    assert!(net.node(0).table().contains(&peer.record.node_id()));
    let passed_on = |net: &mut Net, peer: &Enr| {
        let distance = zero.node_id().log2_distance(&peer.node_id());
        let now = net.now;
        let id = net.node(1).find_node(now, &zero, vec![distance]);
        net.run(Duration::from_millis(100));
        let records = net.take_events(1).into_iter().find_map(|e| match e {
            Event::Nodes { id: got, result } if got == id => Some(result),
            _ => None,
        });
        records.unwrap().unwrap().contains(peer)
    };
    assert!(!passed_on(&mut net, &peer.record), "passed on unproven");
    let pong = Message::Pong {
        req_id: their_ping,
        enr_seq: 1,
        ip: addr(0).ip(),
        port: addr(0).port(),
    };
    let node = NodeAddress {
        id: zero.node_id(),
        addr: addr(0),
    };
    assert!(peer.sessions.reply(net.now, &node, &pong));
    peer.exchange(&mut net, 0);
    assert!(
        passed_on(&mut net, &peer.record),
        "not passed on once proven"
    );
}

#[test]
fn ping_backs_are_one_per_node_and_take_half_the_request_slots_at_most() {
    // Node 0 has 4 request slots. One key from two addresses is pinged back once; of three
    // other nodes, only the first gets a ping back (two slots are the most ping-backs take).
    let mut net = Net::new(1);
    net.reconfigure(
        0,
        Config {
            max_requests: 4,
            ..Config::default()
        },
    );
    let zero = net.record(0);
    let contact = |peer: &mut Peer, net: &mut Net, b: u8| {
        let ping = Message::Ping {
            req_id: RequestId::new(&[b]).unwrap(),
            enr_seq: 1,
        };
        assert!(peer.sessions.send(net.now, &zero, addr(0), ping));
        peer.exchange(net, 0)
            .iter()
            .filter(|(_, m)| matches!(m, Message::Ping { .. }))
            .count()
    };
    // The same node moved, with a newer record: its handshake carries it.
    let (mut first, mut moved) = (Peer::new(0x51, addr(5)), Peer::new(0x51, addr(6)));
    let key = SigningKey::from_slice(&[0x51; 32]).unwrap();
    moved.record = Enr::builder()
        .ip(addr(6).ip())
        .udp(addr(6).port())
        .seq(2)
        .build(&key)
        .unwrap();
    moved.sessions = Sessions::new(
        key,
        moved.record.clone(),
        SessionConfig::default(),
        [0x51; 32],
    );
    assert_eq!(contact(&mut first, &mut net, 1), 1);
    assert_eq!(contact(&mut moved, &mut net, 2), 0, "pinged twice at once");
    let pinged: Vec<usize> = [0x52u8, 0x53, 0x54]
        .iter()
        .enumerate()
        .map(|(i, &seed)| contact(&mut Peer::new(seed, addr(7 + i)), &mut net, seed))
        .collect();
    assert_eq!(pinged, [1, 0, 0]);
}

#[test]
fn a_proven_node_takes_the_place_of_an_unproven_one_in_a_full_bucket() {
    // All nodes but 0, 1 and one live node of node 0's farthest bucket introduce themselves
    // to node 1 and go silent. Node 0's lookups through node 1 fill that bucket with their
    // records, unproven. Then the live node contacts node 0: it gets a place, and an unproven
    // entry gives way.
    let mut net = Net::new(62);
    let (one, zero) = (net.record(1), net.record(0).node_id());
    let live = (2..62)
        .find(|&i| zero.log2_distance(&net.record(i).node_id()) == 256)
        .unwrap();
    let silent: Vec<usize> = (2..62).filter(|&i| i != live).collect();
    let now = net.now;
    for &i in &silent {
        net.node(i).ping(now, &one);
    }
    net.run(Duration::from_millis(100));
    for &i in &silent {
        net.nodes.remove(&addr(i));
    }
    let now = net.now;
    net.node(0).ping(now, &one);
    net.run(Duration::from_millis(100));
    let now = net.now;
    for n in 0..8u8 {
        net.node(0).lookup(now, NodeId([n * 31; 32])).unwrap();
    }
    net.run(Duration::from_secs(2));
    let table = net.node(0).table();
    assert_eq!(table.bucket_len(256), 16, "bucket 256 not full");
    let unproven = table
        .at_distance(256)
        .filter(|e| e.value.liveness == 0)
        .count();
    assert!(unproven > 0);

    let (now, zero_record) = (net.now, net.record(0));
    net.node(live).ping(now, &zero_record);
    net.run(Duration::from_millis(100));
    let live_id = net.record(live).node_id();
    let table = net.node(0).table();
    assert!(table.contains(&live_id));
    assert_eq!(table.bucket_len(256), 16);
    let left = table
        .at_distance(256)
        .filter(|e| e.value.liveness == 0)
        .count();
    assert_eq!(left, unproven - 1);
}

/// A peer with nothing but a session layer: it answers whatever the test makes it say.
struct Peer {
    record: Enr,
    addr: SocketAddr,
    sessions: Sessions,
}

impl Peer {
    fn new(seed: u8, addr: SocketAddr) -> Self {
        let key = SigningKey::from_slice(&[seed; 32]).unwrap();
        let record = Enr::builder()
            .ip(addr.ip())
            .udp(addr.port())
            .build(&key)
            .unwrap();
        let sessions = Sessions::new(key, record.clone(), SessionConfig::default(), [seed; 32]);
        Self {
            record,
            addr,
            sessions,
        }
    }

    /// Moves datagrams between node `i` of `net` and the peer until neither sends; returns
    /// the messages the peer received, in order.
    fn exchange(&mut self, net: &mut Net, i: usize) -> Vec<(NodeAddress, Message)> {
        self.exchange_with(net, addr(i))
    }

    /// As [`Peer::exchange`], with the node at `at`.
    fn exchange_with(&mut self, net: &mut Net, at: SocketAddr) -> Vec<(NodeAddress, Message)> {
        let now = net.now;
        let node = net.nodes.get_mut(&at).unwrap();
        let mut received = Vec::new();
        loop {
            let mut moved = false;
            while let Some(t) = node.poll_transmit() {
                moved = true;
                if t.dst == self.addr {
                    self.sessions.handle_datagram(now, at, &t.bytes, |_| None);
                }
            }
            while let Some(t) = self.sessions.poll_transmit() {
                moved = true;
                node.handle_datagram(now, self.addr, &t.bytes);
            }
            while let Some(event) = self.sessions.poll_event() {
                if let SessionEvent::Message { node, message } = event {
                    received.push((node, message));
                }
            }
            while let Some(event) = node.poll_event() {
                net.events.push((at, event));
            }
            if !moved {
                return received;
            }
        }
    }
}

/// The request id of the first message in `received` that `pick` takes.
fn req_id(received: &[(NodeAddress, Message)], pick: impl Fn(&Message) -> bool) -> RequestId {
    *received
        .iter()
        .find(|(_, m)| pick(m))
        .unwrap()
        .1
        .request_id()
}

/// The answers to requests (PONG, NODES and TALKRESP events) that node `i` reported.
fn answers(net: &mut Net, i: usize) -> Vec<Event> {
    net.take_events(i)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::Pong { .. } | Event::Nodes { .. } | Event::TalkResponse { .. }
            )
        })
        .collect()
}

#[test]
fn only_the_matching_kind_of_message_answers_a_request() {
    // A PING, a TALKREQ and a FINDNODE to a peer that first answers each with the two wrong
    // kinds of message (under the right request id), then with the right one. The wrong ones
    // answer nothing; the requests wait for, and get, their real answers.
    let mut net = Net::new(1);
    let mut peer = Peer::new(0x21, addr(1));
    let now = net.now;
    let ping = net.node(0).ping(now, &peer.record);
    let talk = net.node(0).talk_req(now, &peer.record, b"proto", b"hello");
    let find = net.node(0).find_node(now, &peer.record, vec![0]);
    let received = peer.exchange(&mut net, 0);
    let from = received[0].0.clone();
    let ping_id = req_id(&received, |m| matches!(m, Message::Ping { .. }));
    let talk_id = req_id(&received, |m| matches!(m, Message::TalkReq { .. }));
    let find_id = req_id(&received, |m| matches!(m, Message::FindNode { .. }));
    let pong = |req_id| Message::Pong {
        req_id,
        enr_seq: 1,
        ip: from.addr.ip(),
        port: from.addr.port(),
    };
    let nodes = |req_id, record: &Enr| Message::Nodes {
        req_id,
        total: 1,
        enrs: vec![record.into()],
    };
    let talk_resp = |req_id| Message::TalkResp {
        req_id,
        response: b"answer".to_vec(),
    };
    let record = peer.record.clone();
    for wrong in [
        talk_resp(ping_id),
        nodes(ping_id, &record),
        pong(talk_id),
        nodes(talk_id, &record),
        pong(find_id),
        talk_resp(find_id),
    ] {
        assert!(peer.sessions.reply(net.now, &from, &wrong));
    }
    peer.exchange(&mut net, 0);
    assert_eq!(answers(&mut net, 0), [], "a wrong kind of answer was taken");

    for right in [pong(ping_id), talk_resp(talk_id), nodes(find_id, &record)] {
        assert!(peer.sessions.reply(net.now, &from, &right));
    }
    peer.exchange(&mut net, 0);
    let got = answers(&mut net, 0);
    assert!(
        matches!(&got[..], [
            Event::Pong { id: p, result: Ok(_) },
            Event::TalkResponse { id: t, result: Ok(answer) },
            Event::Nodes { id: f, result: Ok(records) },
        ] if *p == ping && *t == talk && *f == find && answer == b"answer" && *records == [record.clone()]),
        "{got:?}"
    );
}

#[test]
fn nodes_records_are_verified_in_an_answer_and_no_more_than_it_takes() {
    // Node 0 takes at most 3 records per FINDNODE. The peer sends an unsolicited NODES, then
    // answers the FINDNODE with a record whose signature is bad and four good ones, all at
    // the distances asked: the bad one is refused and uses up one of the three, the next two
    // are taken and the rest dropped unread.
    let mut net = Net::new(1);
    net.reconfigure(
        0,
        Config {
            max_nodes_accepted: 3,
            ..Config::default()
        },
    );
    let mut peer = Peer::new(0x21, addr(1));
    let records = lan_records(0x30, 5, 5);
    let (find, from, req_id) = ask_for(&mut net, &mut peer, &records);

    let unsolicited = Message::Nodes {
        req_id: RequestId::new(&[0xee]).unwrap(),
        total: 1,
        enrs: records.iter().map(RawRecord::from).collect(),
    };
    assert!(peer.sessions.reply(net.now, &from, &unsolicited));
    peer.exchange(&mut net, 0);
    let events = net.take_events(0);
    let offered = |e: &Event| match e {
        Event::Nodes { .. } => true,
        Event::NodeAdded(r) => records.contains(r),
        _ => false,
    };
    assert!(!events.iter().any(offered), "{events:?}");

    let mut enrs = vec![tampered(&records[0])];
    enrs.extend(records[1..].iter().map(RawRecord::from));
    let answer = Message::Nodes {
        req_id,
        total: 1,
        enrs,
    };
    assert!(peer.sessions.reply(net.now, &from, &answer));
    peer.exchange(&mut net, 0);
    assert_eq!(
        answers(&mut net, 0),
        [Event::Nodes {
            id: find,
            result: Ok(records[1..3].to_vec())
        }]
    );
}

#[test]
fn a_findnode_answered_in_part_ends_with_what_came() {
    // The peer announces two NODES messages and sends one, late: the rest is given one
    // request timeout more, and when no more comes, the request ends with that one's records
    // and is not sent again (the node did answer).
    let mut net = Net::new(1);
    let mut peer = Peer::new(0x22, addr(1));
    let records = lan_records(0x40, 6, 2);
    let now = net.now;
    let (find, from, req_id) = ask_for(&mut net, &mut peer, &records);
    // Sent at `now` with a handshake to make: due 2 s later. The first part comes at 1.5 s.
    net.now += Duration::from_millis(1500);
    let first = Message::Nodes {
        req_id,
        total: 2,
        enrs: vec![RawRecord::from(&records[0])],
    };
    assert!(peer.sessions.reply(net.now, &from, &first));
    peer.exchange(&mut net, 0);
    let at = |ms: u64| now + Duration::from_millis(ms);
    net.node(0).handle_timeout(at(2200));
    peer.exchange(&mut net, 0); // the node's events, if any, into `net`
    assert!(
        answers(&mut net, 0).is_empty(),
        "ended before the rest was due"
    );
    net.now = at(2600);
    net.node(0).handle_timeout(at(2600));
    let again = peer.exchange(&mut net, 0);
    assert!(
        !again
            .iter()
            .any(|(_, m)| matches!(m, Message::FindNode { .. })),
        "the FINDNODE went again"
    );
    assert_eq!(
        answers(&mut net, 0),
        [Event::Nodes {
            id: find,
            result: Ok(vec![records[0].clone()])
        }]
    );
}

#[test]
fn a_limit_of_zero_nodes_messages_takes_one() {
    let mut net = Net::new(2);
    net.reconfigure(
        0,
        Config {
            max_nodes_messages: 0,
            ..Config::default()
        },
    );
    let b = net.record(1);
    let now = net.now;
    let id = net.node(0).find_node(now, &b, vec![0]);
    net.run(Duration::from_millis(100));
    assert_eq!(
        answers(&mut net, 0),
        [Event::Nodes {
            id,
            result: Ok(vec![b])
        }]
    );
}

#[test]
fn a_records_address_is_its_most_public_and_ipv6_takes_udp_without_udp6() {
    let key = SigningKey::from_slice(&[9; 32]).unwrap();
    let ip6: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
    let build = |udp: Option<u16>, udp6: Option<u16>| {
        let mut builder = Enr::builder();
        builder.ip6(ip6);
        if let Some(port) = udp {
            builder.udp(port);
        }
        if let Some(port) = udp6 {
            builder.udp6(port);
        }
        builder.build(&key).unwrap()
    };
    let at = |port| Some(SocketAddr::new(ip6.into(), port));
    assert_eq!(udp_addr(&build(Some(30303), None)), at(30303));
    assert_eq!(udp_addr(&build(Some(30303), Some(30304))), at(30304));
    assert_eq!(udp_addr(&build(None, Some(30304))), at(30304));
    assert_eq!(udp_addr(&build(None, None)), None);
    // Of two addresses, the one that reaches further (as go-ethereum chooses); IPv4 when they
    // reach as far, with its own port.
    let both = |ip4: [u8; 4], ip6: std::net::Ipv6Addr| {
        let record = Enr::builder()
            .ip4(ip4.into())
            .ip6(ip6)
            .udp(30303)
            .udp6(30304)
            .build(&key)
            .unwrap();
        udp_addr(&record)
    };
    let v4 = |ip: [u8; 4]| Some(SocketAddr::from((ip, 30303)));
    let v6 = |ip: std::net::Ipv6Addr| Some(SocketAddr::new(ip.into(), 30304));
    assert_eq!(both([11, 0, 0, 1], ip6), v4([11, 0, 0, 1]));
    // go-ethereum's record when it knows no IPv4 address of its own: 127.0.0.1 beside IPv6.
    assert_eq!(both([127, 0, 0, 1], ip6), v6(ip6));
    assert_eq!(both([10, 0, 0, 1], ip6), v6(ip6));
    let unique_local: std::net::Ipv6Addr = "fd00::1".parse().unwrap();
    assert_eq!(both([11, 0, 0, 1], unique_local), v4([11, 0, 0, 1]));
    assert_eq!(both([10, 0, 0, 1], unique_local), v4([10, 0, 0, 1]));
    assert_eq!(both([127, 0, 0, 1], unique_local), v6(unique_local));
    assert_eq!(
        both([127, 0, 0, 1], std::net::Ipv6Addr::LOCALHOST),
        v4([127, 0, 0, 1])
    );
    // A node reached over IPv6 at a record without `udp6` is a valid request target.
    let mut net = Net::new(1);
    let now = net.now;
    let id = net.node(0).ping(now, &build(Some(30303), None));
    net.run(Duration::from_millis(1));
    assert!(!net.take_events(0).contains(&Event::Pong {
        id,
        result: Err(RequestError::NoAddress)
    }));
}

#[test]
fn an_older_record_does_not_replace_a_newer_one_in_the_replacement_cache() {
    // Node 0 knows only the peer and runs two lookups through it at once. The peer answers the
    // first with 20 records of nodes in node 0's farthest bucket (16 fill it, the rest wait in
    // its replacement cache), one of them at sequence number 2, and the second with that node's
    // older record, sequence number 1. The cache keeps the newer.
    let mut net = Net::new(1);
    net.reconfigure(
        0,
        Config {
            max_nodes_accepted: 32,
            max_nodes_messages: 8,
            ..Config::default()
        },
    );
    // A peer on node 0's side of the id space, so that a node can be far from both.
    let zero = net.record(0).node_id();
    let mut peer = (0x41..)
        .map(|seed| Peer::new(seed, addr(1)))
        .find(|p| (p.record.node_id().0[0] ^ zero.0[0]) & 0x80 == 0)
        .unwrap();
    let peer_id = peer.record.node_id();
    let now = net.now;
    net.node(0).ping(now, &peer.record);
    let received = peer.exchange(&mut net, 0);
    let from = received[0].0.clone();
    let pong = Message::Pong {
        req_id: req_id(&received, |m| matches!(m, Message::Ping { .. })),
        enr_seq: peer.record.seq(),
        ip: from.addr.ip(),
        port: from.addr.port(),
    };
    assert!(peer.sessions.reply(net.now, &from, &pong));
    peer.exchange(&mut net, 0);
    assert!(net.node(0).table().contains(&peer_id));
    // Targets whose top bit differs from the peer's: each FINDNODE asks for the far distances.
    let far = |low: u8| {
        let mut target = peer_id.0;
        target[0] ^= 0x80;
        target[31] ^= low;
        NodeId(target)
    };
    let now = net.now;
    net.node(0).lookup(now, far(1)).unwrap();
    net.node(0).lookup(now, far(2)).unwrap();
    let finds: Vec<(NodeAddress, RequestId, Vec<u16>)> = peer
        .exchange(&mut net, 0)
        .into_iter()
        .filter_map(|(from, m)| match m {
            Message::FindNode { req_id, distances } => Some((from, req_id, distances)),
            _ => None,
        })
        .collect();
    assert_eq!(finds.len(), 2);
    let asked = |id: NodeId| {
        finds
            .iter()
            .all(|(_, _, d)| d.contains(&peer_id.log2_distance(&id)))
    };
    let record = |seed: u16, seq: u64| {
        let mut secret = [0x55u8; 32];
        secret[..2].copy_from_slice(&seed.to_be_bytes());
        let key = SigningKey::from_slice(&secret).unwrap();
        Enr::builder()
            .ip([10, 0, 7, seed as u8].into())
            .udp(9000)
            .seq(seq)
            .build(&key)
            .unwrap()
    };
    let fitting: Vec<u16> = (0..2000)
        .filter(|&seed| {
            let id = record(seed, 1).node_id();
            zero.log2_distance(&id) == 256 && asked(id)
        })
        .take(20)
        .collect();
    assert_eq!(fitting.len(), 20);
    let newer: Vec<Enr> = fitting.iter().map(|&seed| record(seed, 2)).collect();
    let answer = |net: &mut Net,
                  peer: &mut Peer,
                  (from, req_id): (&NodeAddress, RequestId),
                  enrs: &[Enr]| {
        for chunk in enrs.chunks(3) {
            let nodes = Message::Nodes {
                req_id,
                total: enrs.len().div_ceil(3) as u64,
                enrs: chunk.iter().map(RawRecord::from).collect(),
            };
            assert!(peer.sessions.reply(net.now, from, &nodes));
        }
        peer.exchange(net, 0);
    };
    answer(&mut net, &mut peer, (&finds[0].0, finds[0].1), &newer);
    let waiting = |net: &mut Net| -> Vec<Enr> {
        net.node(0)
            .table()
            .replacements(256)
            .map(|e| e.value.record.clone())
            .collect()
    };
    let cached = waiting(&mut net);
    assert!(!cached.is_empty(), "nothing went to the replacement cache");
    let x = cached[0].clone();
    let seed = fitting[newer.iter().position(|r| *r == x).unwrap()];
    answer(
        &mut net,
        &mut peer,
        (&finds[1].0, finds[1].1),
        &[record(seed, 1)],
    );
    let now_cached = waiting(&mut net);
    let kept = now_cached
        .iter()
        .find(|r| r.node_id() == x.node_id())
        .unwrap();
    assert_eq!(kept.seq(), 2);
}

#[test]
fn nodes_at_privileged_ports_or_without_address_are_not_taken() {
    let key = |seed: u8| SigningKey::from_slice(&[seed; 32]).unwrap();
    let at_port = |seed: u8, port: u16| {
        Enr::builder()
            .ip([10, 0, 7, seed].into())
            .udp(port)
            .build(&key(seed))
            .unwrap()
    };
    let dns = at_port(0x61, 53);
    let edge = at_port(0x62, 1024);
    let nowhere = Enr::builder().build(&key(0x63)).unwrap();
    let fine = at_port(0x64, 1025);
    let taken = taken_from_an_answer_of(&[dns, edge, nowhere, fine.clone()]);
    assert_eq!(nodes_of(&taken), [fine]);
}

#[test]
fn a_request_too_large_for_a_packet_fails_at_once() {
    let mut net = Net::new(1);
    let peer = Peer::new(0x21, addr(1));
    let now = net.now;
    let too_large = vec![0u8; wire::MAX_MESSAGE_SIZE];
    let node = net.node(0);
    let id = node.talk_req(now, &peer.record, b"big", &too_large);
    assert_eq!(
        node.poll_event(),
        Some(Event::TalkResponse {
            id,
            result: Err(RequestError::TooLarge)
        })
    );
    assert!(node.poll_transmit().is_none(), "nothing was sent");
}

/// Node 0 of `net` pings a peer at `peer_addr`, which answers that it saw node 0 at `seen_as`.
fn reported(net: &mut Net, seed: u8, peer_addr: SocketAddr, seen_as: SocketAddr) {
    let mut peer = Peer::new(seed, peer_addr);
    let now = net.now;
    net.node(0).ping(now, &peer.record);
    let received = peer.exchange(net, 0);
    let pong = Message::Pong {
        req_id: req_id(&received, |m| matches!(m, Message::Ping { .. })),
        enr_seq: 1,
        ip: seen_as.ip(),
        port: seen_as.port(),
    };
    assert!(peer.sessions.reply(net.now, &received[0].0, &pong));
    peer.exchange(net, 0);
}

#[test]
fn ipv4_and_ipv6_reports_of_our_address_are_counted_apart() {
    // Ten nodes over IPv4 and ten over IPv6 each report our address in their family: both go
    // into our record (the default quorum is ten), neither outvoting the other.
    let mut net = Net::new(1);
    let (ext4, ext6) = (
        SocketAddr::from(([11, 9, 9, 9], 9000)),
        SocketAddr::new("2a01:4f8:99::9".parse().unwrap(), 9000),
    );
    for i in 0..20u16 {
        let (peer_addr, seen_as) = if i % 2 == 0 {
            (SocketAddr::from(([12, 0, 0, i as u8], 9000)), ext4)
        } else {
            let ip = format!("2a01:4f8:{i}::1").parse().unwrap();
            (SocketAddr::new(ip, 9000), ext6)
        };
        reported(&mut net, 0x40 + i as u8, peer_addr, seen_as);
    }
    let node = net.node(0);
    assert_eq!(
        (
            node.external_address_in(false),
            node.external_address_in(true)
        ),
        (Some(ext4), Some(ext6))
    );
    let record = node.local_record();
    assert_eq!(udp_addr_in(record, false), Some(ext4));
    assert_eq!(udp_addr_in(record, true), Some(ext6));
}

#[test]
fn a_report_in_the_other_address_family_is_not_counted() {
    // Ten nodes answering over IPv4 claim they saw us at an IPv6 address: an honest node
    // reports the address of the path it answers over, so none of them counts.
    let mut net = Net::new(1);
    let lie = SocketAddr::new("2a01:4f8:66::6".parse().unwrap(), 53);
    for i in 0..10u8 {
        reported(
            &mut net,
            0x60 + i,
            SocketAddr::from(([12, 0, 1, i], 9000)),
            lie,
        );
    }
    let node = net.node(0);
    assert_eq!(node.external_address(), None);
    assert_eq!(udp_addr_in(node.local_record(), true), None);
}

#[test]
fn a_findnode_distance_over_256_is_skipped_not_refused() {
    // As go-ethereum: the valid distance is answered, the other matches nothing.
    let mut net = Net::new(1);
    let mut peer = Peer::new(0x31, addr(1));
    let (now, zero) = (net.now, net.record(0));
    let find = Message::FindNode {
        req_id: RequestId::new(&[5]).unwrap(),
        distances: vec![300, 0],
    };
    assert!(peer.sessions.send(now, &zero, addr(0), find));
    let received = peer.exchange(&mut net, 0);
    // Besides the answer, node 0 pings the peer that contacted it.
    let answers: Vec<_> = received
        .iter()
        .filter(|(_, m)| !matches!(m, Message::Ping { .. }))
        .collect();
    match &answers[..] {
        [(_, Message::Nodes { total: 1, enrs, .. })] => {
            assert_eq!(enrs, &[RawRecord::from(&zero)]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_node_without_bootnodes_still_refreshes_its_table() {
    // Node 0 pinged node 1 (so each knows the other); nobody added a bootnode. Half an hour
    // on, node 0's refresh looks up nodes.
    let mut net = Net::new(2);
    let (now, one) = (net.now, net.record(1));
    net.node(0).ping(now, &one);
    net.run(Duration::from_secs(1));
    net.take_events(0);
    net.run(Duration::from_secs(31 * 60));
    let lookups = net
        .take_events(0)
        .into_iter()
        .filter(|e| matches!(e, Event::LookupFinished { .. }))
        .count();
    assert!(lookups >= 2, "{lookups} lookups");
}

#[test]
fn refresh_and_revalidate_intervals_of_duration_max_mean_never() {
    let config = Config {
        refresh_interval: Duration::MAX,
        revalidate_interval: Duration::MAX,
        ..Config::default()
    };
    let now = Instant::now();
    let record = Enr::builder().udp(9000).build(&key(0)).unwrap();
    let mut node = Discv5::new(key(0), record, config, now, [0; 32]);
    // Nothing to do, ever, until there is a node to ask.
    assert_eq!(node.poll_timeout(), None);
    let bootnode = Enr::builder()
        .ip([10, 0, 0, 2].into())
        .udp(9000)
        .build(&key(1))
        .unwrap();
    node.add_enr(now, bootnode).unwrap();
    node.handle_timeout(now);
    node.handle_timeout(now + Duration::from_secs(3600));
}

/// With an event queue of two, three pings to silent nodes that fail at the same instant still
/// each get their answer (the driver completes requests only from these events).
#[test]
fn a_full_event_queue_keeps_every_answer() {
    let mut config = Config {
        max_events: 2,
        request_attempts: 1,
        ..Config::default()
    };
    config.session.max_events = 16;
    let record = |i: usize| {
        Enr::builder()
            .ip(addr(i).ip())
            .udp(addr(i).port())
            .build(&key(i))
            .unwrap()
    };
    let now = Instant::now();
    let mut ours = Discv5::new(key(0), record(0), config, now, [0; 32]);
    let mut requests: Vec<_> = (1..=3).map(|i| ours.ping(now, &record(i))).collect();
    while ours.poll_transmit().is_some() {}
    let mut at = now;
    let mut answered = Vec::new();
    // Every deadline up to well past the requests' own, each handled once (a bounded number).
    for _ in 0..100 {
        let Some(due) = ours
            .poll_timeout()
            .filter(|due| *due < now + Duration::from_secs(30))
        else {
            break;
        };
        at = at.max(due) + Duration::from_secs(5);
        ours.handle_timeout(at);
        while ours.poll_transmit().is_some() {}
        answered.extend(
            std::iter::from_fn(|| ours.poll_event()).filter_map(|event| match event {
                Event::Pong {
                    id,
                    result: Err(RequestError::Timeout),
                } => Some(id),
                _ => None,
            }),
        );
    }
    answered.sort_unstable();
    requests.sort_unstable();
    assert_eq!(answered, requests);
}

/// A node that stops answering revalidation leaves the table, and the proven node waiting in
/// its bucket's replacement cache takes its place: both are reported.
#[test]
fn a_promoted_replacement_is_reported_as_added() {
    let mut net = Net::new(8);
    let id0 = net.record(0).node_id();
    let distance = |i: usize| id0.log2_distance(&net.record(i).node_id());
    let (first, second) = {
        let same: Vec<usize> = (2..8)
            .filter(|&i| (1..i).any(|j| distance(j) == distance(i)))
            .collect();
        let second = same[0];
        let first = (1..second)
            .find(|&j| distance(j) == distance(second))
            .unwrap();
        (first, second)
    };
    let mut config = Config::default();
    config.table.bucket_size = 1;
    net.reconfigure(0, config);
    let (a, b) = (net.record(first), net.record(second));
    let now = net.now;
    net.node(0).ping(now, &a);
    net.run(Duration::from_millis(100));
    let now = net.now;
    net.node(0).ping(now, &b);
    net.run(Duration::from_millis(100));
    assert!(net.node(0).table().contains(&a.node_id()));
    assert!(net.node(0).table().replacement(&b.node_id()).is_some());
    net.take_events(0);

    net.nodes.remove(&addr(first));
    net.run(Duration::from_secs(600));
    assert!(net.node(0).table().contains(&b.node_id()));
    let events = net.take_events(0);
    let removed = events
        .iter()
        .position(|e| *e == Event::NodeRemoved(a.clone()));
    let added = events
        .iter()
        .position(|e| *e == Event::NodeAdded(b.clone()));
    assert!(removed.is_some() && removed < added, "{events:?}");
}

/// Two nodes on IPv6 sockets, A and B, with `modes`; B's record also names an IPv4 address,
/// which no socket here answers at.
fn dual_stack_pair(modes: [IpMode; 2]) -> (Net, [SocketAddr; 2]) {
    // A public IPv4 address too: as public as the IPv6 one, it is the one a dual-stack socket
    // contacts.
    dual_stack_pair_with(modes, [11, 0, 0, 2])
}

/// [`dual_stack_pair`] with B's record naming `b_ip4` as its IPv4 address.
fn dual_stack_pair_with(modes: [IpMode; 2], b_ip4: [u8; 4]) -> (Net, [SocketAddr; 2]) {
    let now = Instant::now();
    let a: SocketAddr = "[2001:db8::1]:9000".parse().unwrap();
    let b: SocketAddr = "[2001:db8::2]:9000".parse().unwrap();
    let records = [
        Enr::builder()
            .ip(a.ip())
            .udp(a.port())
            .build(&key(0))
            .unwrap(),
        Enr::builder()
            .ip4(b_ip4.into())
            .ip(b.ip())
            .udp(b.port())
            .build(&key(1))
            .unwrap(),
    ];
    let nodes = [a, b]
        .into_iter()
        .zip(records)
        .zip(modes)
        .enumerate()
        .map(|(i, ((at, record), ip_mode))| {
            let config = Config {
                ip_mode,
                ..Config::default()
            };
            (at, Discv5::new(key(i), record, config, now, [i as u8; 32]))
        })
        .collect();
    let net = Net {
        nodes,
        events: Vec::new(),
        now,
    };
    (net, [a, b])
}

#[test]
fn an_ipv6_socket_contacts_a_node_at_its_ipv6_address() {
    // Dual-stack, the IPv4 address goes first (as public as the IPv6 one) and reaches nobody
    // here; IPv6-only, the node answers.
    for (mode, answered) in [(IpMode::DualStack, false), (IpMode::V6, true)] {
        let (mut net, [a, b]) = dual_stack_pair([mode, IpMode::V6]);
        let (now, b_record) = (net.now, net.nodes[&b].local_record().clone());
        let id = net.nodes.get_mut(&a).unwrap().ping(now, &b_record);
        net.run(Duration::from_secs(5));
        let result = net.events.iter().find_map(|(at, e)| match e {
            Event::Pong { id: got, result } if *at == a && *got == id => Some(result),
            _ => None,
        });
        assert_eq!(
            result.is_some_and(Result::is_ok),
            answered,
            "{mode:?}: {result:?}"
        );
    }
    // An IPv4 socket does not try a record that names only an IPv6 address.
    let (net, [a, _]) = dual_stack_pair([IpMode::V4, IpMode::V6]);
    let ipv6_only = net.nodes[&a].local_record().clone();
    let config = Config {
        ip_mode: IpMode::V4,
        ..Config::default()
    };
    let mut v4 = Discv5::new(key(5), ipv6_only.clone(), config, net.now, [5; 32]);
    v4.ping(net.now, &ipv6_only);
    assert!(v4.poll_transmit().is_none());
}

#[test]
fn a_node_that_contacts_us_enters_the_table_only_at_the_address_we_would_use() {
    // B's handshake comes from its IPv6 address and carries its record, which also names an
    // IPv4 address. An IPv6 socket would contact B where it came from: B enters the table
    // (unproven, pinged back there). A dual-stack one would contact B at the IPv4 address,
    // which B has not proven (it could name anyone's): B does not enter. Unless that IPv4
    // address is loopback, as go-ethereum announces when it knows no IPv4 address of its own:
    // then the IPv6 one is where a dual-stack socket contacts B.
    for (mode, b_ip4, enters) in [
        (IpMode::V6, [11, 0, 0, 2], true),
        (IpMode::DualStack, [11, 0, 0, 2], false),
        (IpMode::DualStack, [127, 0, 0, 1], true),
    ] {
        let (mut net, [a, b]) = dual_stack_pair_with([mode, IpMode::V6], b_ip4);
        let (now, a_record) = (net.now, net.nodes[&a].local_record().clone());
        let b_id = net.nodes[&b].local_record().node_id();
        net.nodes.get_mut(&b).unwrap().ping(now, &a_record);
        net.run(Duration::from_millis(50));
        assert_eq!(
            net.nodes[&a].table().contains(&b_id),
            enters,
            "{mode:?}, {b_ip4:?}"
        );
    }
}

/// A record whose only address is an IPv4-mapped `ip6` is contacted at the IPv4 address,
/// where its node's datagrams (the WHOAREYOU first) come from: the handshake completes.
#[test]
fn a_record_with_an_ipv4_mapped_ip6_is_reached_at_its_ipv4_address() {
    let mut net = Net::new(2);
    net.reconfigure(
        0,
        Config {
            ip_mode: IpMode::DualStack,
            ..Config::default()
        },
    );
    let b = addr(1);
    let b_ip = std::net::Ipv4Addr::new(10, 0, 0, 1);
    assert_eq!(b.ip(), IpAddr::V4(b_ip));
    let mapped = Enr::builder()
        .seq(2)
        .ip6(b_ip.to_ipv6_mapped())
        .udp(b.port())
        .build(&key(1))
        .unwrap();
    assert_eq!(udp_addr(&mapped), Some(b));
    let now = net.now;
    let id = net.node(0).ping(now, &mapped);
    net.run(Duration::from_secs(1));
    assert!(net.take_events(0).iter().any(|e| matches!(
        e,
        Event::Pong { id: got, result: Ok(_) } if *got == id
    )));
}

#[test]
fn a_socket_address_gives_its_ip_mode() {
    for (socket, mode) in [
        ("127.0.0.1:0", IpMode::V4),
        ("0.0.0.0:0", IpMode::V4),
        ("[::ffff:10.0.0.1]:0", IpMode::V4),
        ("[::]:0", IpMode::DualStack),
        ("[::1]:0", IpMode::V6),
        ("[2001:db8::1]:0", IpMode::V6),
    ] {
        assert_eq!(IpMode::of_socket(socket.parse().unwrap()), mode, "{socket}");
    }
}
