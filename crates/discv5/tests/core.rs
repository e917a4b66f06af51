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
    net::SocketAddr,
    time::{Duration, Instant},
};

use devp2p_discv5::{Config, Discv5, Enr, Event, NodeId, SigningKey};

struct Net {
    nodes: BTreeMap<SocketAddr, Discv5>,
    events: Vec<(SocketAddr, Event)>,
    now: Instant,
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 9000))
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
                let mut secret = [7u8; 32];
                secret[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
                let key = SigningKey::from_slice(&secret).unwrap();
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
    assert!(net.node(1).talk_response(&node, req_id, b"HELLO".to_vec()));
    net.run(Duration::from_millis(100));
    let answer = net.take_events(0).into_iter().find_map(|e| match e {
        Event::TalkResponse { id, result } if id == echo => Some(result),
        _ => None,
    });
    assert_eq!(answer, Some(Ok(b"HELLO".to_vec())));
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
    assert_eq!(result, Some(Err(devp2p_discv5::RequestError::Timeout)));
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
fn nodes_answers_cannot_point_into_our_own_host() {
    // Node 0 (10.0.0.0, a LAN address) knows node 2 (LAN) and a node on loopback. Asked by
    // node 1 for both distances, it sends both records; node 1 keeps only the LAN one: a LAN
    // sender may not point it at 127.0.0.1.
    let mut net = Net::new(3);
    let key = SigningKey::from_slice(&[9u8; 32]).unwrap();
    let local = SocketAddr::from(([127, 0, 0, 1], 9000));
    let record = Enr::builder()
        .ip(local.ip())
        .udp(local.port())
        .build(&key)
        .unwrap();
    let loopback_id = record.node_id();
    net.nodes.insert(
        local,
        Discv5::new(key, record, Config::default(), net.now, [9; 32]),
    );
    let boot = net.record(0);
    let now = net.now;
    net.nodes.get_mut(&local).unwrap().ping(now, &boot);
    net.node(2).ping(now, &boot);
    net.run(Duration::from_millis(100));
    assert!(net.node(0).table().contains(&loopback_id));
    let lan_id = net.record(2).node_id();
    let distances = vec![
        boot.node_id().log2_distance(&loopback_id),
        boot.node_id().log2_distance(&lan_id),
    ];
    let now = net.now;
    let id = net.node(1).find_node(now, &boot, distances);
    net.run(Duration::from_millis(100));
    let records = net.take_events(1).into_iter().find_map(|e| match e {
        Event::Nodes { id: got, result } if got == id => Some(result),
        _ => None,
    });
    let ids: Vec<NodeId> = records.unwrap().unwrap().iter().map(Enr::node_id).collect();
    assert_eq!(ids, [lan_id]);
}

#[test]
fn records_a_lookup_found_are_kept_but_not_passed_on_unproven() {
    // Node 3 introduces itself to node 2, then goes silent. Node 0 looks up node 3's id
    // through node 2: node 3 enters node 0's table from node 2's answer, unproven, and node 0
    // does not hand it to node 1, while node 2 (which node 3 answered) does.
    let mut net = Net::new(4);
    let (two, three) = (net.record(2), net.record(3));
    let now = net.now;
    net.node(3).ping(now, &two);
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
