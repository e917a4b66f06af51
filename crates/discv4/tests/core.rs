//! The sans-IO core driven in memory with a virtual clock: what needs time or many addresses
//! (bond expiry, revalidation, address prediction, rate limits, a record that is not the
//! node's) is checked here, deterministically.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};

use devp2p_discv4::{
    Config, Discv4, Endpoint, Enr, EnrResponse, Event, FindNode, Message, NodeRecord, PeerId, Ping,
    Pong, RawRecord, RequestError, SigningKey, Transmit, wire,
};

const UNIX: u64 = 1_700_000_000;
/// Our record's first sequence number: the Unix time the node started at, in milliseconds.
const FIRST_SEQ: u64 = UNIX * 1000;

fn key(b: u8) -> SigningKey {
    SigningKey::from_slice(&[b; 32]).unwrap()
}

fn node(b: u8, addr: SocketAddr) -> Discv4 {
    node_with(b, addr, Config::default())
}

fn node_with(b: u8, addr: SocketAddr, config: Config) -> Discv4 {
    let endpoint = Endpoint {
        ip: addr.ip(),
        udp_port: addr.port(),
        tcp_port: 0,
    };
    Discv4::new(key(b), endpoint, config, start(), UNIX, [b; 32]).unwrap()
}

fn endpoint(addr: SocketAddr) -> Endpoint {
    Endpoint {
        ip: addr.ip(),
        udp_port: addr.port(),
        tcp_port: 0,
    }
}

fn record(key: &SigningKey, addr: SocketAddr) -> NodeRecord {
    NodeRecord {
        id: PeerId::from_public_key(&key.verifying_key().into()),
        ip: addr.ip(),
        tcp_port: 0,
        udp_port: addr.port(),
    }
}

/// A Ping from `key` at `from` to our node at `to`, as bytes.
fn ping_packet(key: &SigningKey, from: SocketAddr, to: SocketAddr) -> Vec<u8> {
    Message::Ping(Ping {
        version: 4,
        from: endpoint(from),
        to: endpoint(to),
        expiration: UNIX + 20,
        enr_seq: None,
    })
    .encode(key)
    .0
}

/// A Pong from `key` answering the Ping with `ping_hash`, sent to `to`, as bytes.
fn pong_packet(key: &SigningKey, to: SocketAddr, ping_hash: [u8; 32]) -> Vec<u8> {
    Message::Pong(Pong {
        to: endpoint(to),
        ping_hash,
        expiration: UNIX + 20,
        enr_seq: None,
    })
    .encode(key)
    .0
}

/// The decoded messages `ours` sends to `dst`, in order (others are dropped).
fn sent_to(ours: &mut Discv4, dst: SocketAddr) -> Vec<wire::Packet> {
    std::iter::from_fn(|| ours.poll_transmit())
        .filter(|t| t.dst == dst)
        .map(|t| wire::decode(&t.bytes).unwrap())
        .collect()
}

/// A on 10.0.0.1 and B on 10.0.0.2, A having pinged B (each proved its endpoint to the
/// other); with B's record.
fn a_pinged_b() -> (Net, SocketAddr, SocketAddr, NodeRecord) {
    let (a, b) = (addr("10.0.0.1:30303"), addr("10.0.0.2:30303"));
    let mut net = Net::new(vec![(a, node(1, a)), (b, node(2, b))]);
    let now = start();
    let record = net.node(b).local_record();
    net.node(a).ping(now, record);
    net.deliver(now);
    (net, a, b, record)
}

fn start() -> Instant {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// Nodes by address; `deliver` moves datagrams between them until none are left. A datagram
/// from a node arrives from `seen_as[node]` when set (a NAT), else from the node's address.
/// Every datagram sent is kept in `sent` with its sender's address.
struct Net {
    nodes: HashMap<SocketAddr, Discv4>,
    seen_as: HashMap<SocketAddr, SocketAddr>,
    offline: Vec<SocketAddr>,
    events: Vec<(SocketAddr, Event)>,
    sent: Vec<(SocketAddr, Transmit)>,
}

impl Net {
    fn new(nodes: Vec<(SocketAddr, Discv4)>) -> Self {
        Self {
            nodes: nodes.into_iter().collect(),
            seen_as: HashMap::new(),
            offline: Vec::new(),
            events: Vec::new(),
            sent: Vec::new(),
        }
    }

    fn deliver(&mut self, now: Instant) {
        for _ in 0..100 {
            let mut moved = false;
            let addrs: Vec<SocketAddr> = self.nodes.keys().copied().collect();
            for from in addrs {
                let node = self.nodes.get_mut(&from).unwrap();
                let mut out = Vec::new();
                while let Some(t) = node.poll_transmit() {
                    out.push(t);
                }
                while let Some(e) = node.poll_event() {
                    self.events.push((from, e));
                }
                let source = self.seen_as.get(&from).copied().unwrap_or(from);
                for t in out {
                    moved = true;
                    self.sent.push((from, t.clone()));
                    if self.offline.contains(&t.dst) || self.offline.contains(&from) {
                        continue;
                    }
                    let dst = if let Some((real, _)) =
                        self.seen_as.iter().find(|(_, seen)| **seen == t.dst)
                    {
                        *real
                    } else {
                        t.dst
                    };
                    // As a dual-stack socket does: `::ffff:a.b.c.d` reaches a.b.c.d.
                    let dst = SocketAddr::new(dst.ip().to_canonical(), dst.port());
                    if let Some(to) = self.nodes.get_mut(&dst) {
                        to.handle_datagram(now, source, &t.bytes);
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the network did not settle");
    }

    /// Advances every node's timers to `until`, delivering as it goes.
    fn run_until(&mut self, mut now: Instant, until: Instant) -> Instant {
        loop {
            self.deliver(now);
            let next = self.nodes.values().filter_map(Discv4::poll_timeout).min();
            match next {
                Some(at) if at <= until => {
                    now = now.max(at);
                    for node in self.nodes.values_mut() {
                        if node.poll_timeout().is_some_and(|t| t <= now) {
                            node.handle_timeout(now);
                        }
                    }
                }
                _ => return until,
            }
        }
    }

    fn node(&mut self, at: SocketAddr) -> &mut Discv4 {
        self.nodes.get_mut(&at).unwrap()
    }
}

#[test]
fn external_address_is_predicted_once_three_nodes_agree() {
    let public = addr("203.0.113.9:4242");
    for answering in 1..=3 {
        let (net, ours, _) = predicted_by(answering, Config::default(), Some(public));
        let predicted = net.nodes[&ours].external_address();
        assert_eq!(
            predicted,
            (answering == 3).then_some(public),
            "{answering} Pongs"
        );
        let event = (ours, Event::ExternalAddress(public));
        assert_eq!(net.events.contains(&event), answering == 3);
    }
}

/// Our node (key 1, TCP port 30305) at 10.0.0.1 behind a NAT that maps it to `public`
/// (`None`: no NAT), and three peers; each peer answers a Ping of ours, so three agree on our
/// address. With our address and the peers'.
fn predicted_by_three_peers(
    config: Config,
    public: Option<SocketAddr>,
) -> (Net, SocketAddr, [SocketAddr; 3]) {
    predicted_by(3, config, public)
}

/// As [`predicted_by_three_peers`], with only the first `answering` peers pinged.
fn predicted_by(
    answering: usize,
    config: Config,
    public: Option<SocketAddr>,
) -> (Net, SocketAddr, [SocketAddr; 3]) {
    predicted_for(answering, config, public, addr("10.0.0.1:30303").ip())
}

/// As [`predicted_by`], our node announcing `announced` as its IP.
fn predicted_for(
    answering: usize,
    config: Config,
    public: Option<SocketAddr>,
    announced: IpAddr,
) -> (Net, SocketAddr, [SocketAddr; 3]) {
    let ours = addr("10.0.0.1:30303");
    let peers = [
        addr("10.0.1.1:30303"),
        addr("10.0.2.1:30303"),
        addr("10.0.3.1:30303"),
    ];
    let announced = Endpoint {
        ip: announced,
        tcp_port: 30305,
        ..endpoint(ours)
    };
    let core = Discv4::new(key(1), announced, config, start(), UNIX, [1; 32]).unwrap();
    let mut nodes = vec![(ours, core)];
    nodes.extend(
        peers
            .iter()
            .enumerate()
            .map(|(i, a)| (*a, node(2 + i as u8, *a))),
    );
    let mut net = Net::new(nodes);
    if let Some(public) = public {
        net.seen_as.insert(ours, public);
    }
    let now = start();
    for &peer in peers.iter().take(answering) {
        let record = net.node(peer).local_record();
        net.node(ours).ping(now, record);
        net.deliver(now);
    }
    (net, ours, peers)
}

/// The `from` of the Ping our node sends to `peer` when asked to ping it now.
fn ping_from(net: &mut Net, ours: SocketAddr, peer: SocketAddr) -> Endpoint {
    let record = net.node(peer).local_record();
    let now = start();
    net.node(ours).ping(now, record);
    let pings: Vec<Endpoint> = sent_to(net.node(ours), peer)
        .into_iter()
        .filter_map(|p| match p.message {
            Message::Ping(ping) => Some(ping.from),
            _ => None,
        })
        .collect();
    assert_eq!(pings.len(), 1, "{pings:?}");
    pings[0]
}

/// The default config with a quorum of three for changing our endpoint.
fn quorum_of_three() -> Config {
    Config {
        min_update_votes: 3,
        ..Config::default()
    }
}

/// Three peers see us at `public` under `config`: the address is predicted, but our endpoint
/// and record stay as they were.
fn predicted_but_not_announced(config: Config, public: SocketAddr) {
    let (mut net, ours, _) = predicted_by_three_peers(config, Some(public));
    assert_eq!(net.node(ours).external_address(), Some(public));
    assert_eq!(net.node(ours).local_record().ip, ours.ip());
    assert_eq!(net.node(ours).local_enr().seq(), FIRST_SEQ);
}

#[test]
fn three_votes_predict_an_address_but_do_not_make_the_default_quorum() {
    predicted_but_not_announced(Config::default(), addr("203.0.113.9:4242"));
}

#[test]
fn a_predicted_address_becomes_our_endpoint_and_record() {
    let public = addr("203.0.113.9:4242");
    let (mut net, ours, peers) = predicted_by_three_peers(quorum_of_three(), Some(public));
    assert_eq!(net.node(ours).external_address(), Some(public));
    assert!(net.events.contains(&(ours, Event::ExternalAddress(public))));
    let record = net.node(ours).local_record();
    assert_eq!(
        (record.ip, record.udp_port, record.tcp_port),
        (public.ip(), public.port(), 30305)
    );
    let enr = net.node(ours).local_enr().clone();
    assert_eq!(enr.seq(), FIRST_SEQ + 1, "re-signed once");
    assert_eq!(enr.ip(), Some([203, 0, 113, 9].into()));
    assert_eq!(enr.udp(), Some(4242));
    assert_eq!(enr.tcp(), Some(30305));
    assert_eq!(Enr::from_rlp(enr.to_rlp()).unwrap(), enr, "validly signed");
    let expected = Endpoint {
        ip: public.ip(),
        udp_port: public.port(),
        tcp_port: 30305,
    };
    assert_eq!(ping_from(&mut net, ours, peers[0]), expected);
}

#[test]
fn a_prediction_of_the_other_address_family_changes_nothing() {
    // An IPv4 endpoint, and peers that see us at an IPv6 address (a dual-stack socket): our
    // record keeps one address, the IPv4 one.
    predicted_but_not_announced(quorum_of_three(), addr("[2a01:4f8::9]:4242"));
}

#[test]
fn a_socket_on_every_address_takes_the_first_prediction_of_either_family() {
    // Bound to `[::]`, our endpoint has no address and our record no `ip`: peers that see us
    // at an IPv4 address give us one.
    let public = addr("203.0.113.9:4242");
    let unspecified = addr("[::]:0").ip();
    let (mut net, ours, _) = predicted_for(3, quorum_of_three(), Some(public), unspecified);
    assert_eq!(net.node(ours).local_record().ip, public.ip());
    assert_eq!(
        net.node(ours).local_enr().ip(),
        Some([203, 0, 113, 9].into())
    );
}

#[test]
fn without_update_endpoint_a_prediction_changes_nothing() {
    let public = addr("203.0.113.9:4242");
    let config = Config {
        update_endpoint: false,
        ..quorum_of_three()
    };
    let (mut net, ours, peers) = predicted_by_three_peers(config, Some(public));
    assert_eq!(net.node(ours).external_address(), Some(public));
    let configured = Endpoint {
        tcp_port: 30305,
        ..endpoint(ours)
    };
    let record = net.node(ours).local_record();
    assert_eq!(
        (record.ip, record.udp_port, record.tcp_port),
        (ours.ip(), ours.port(), 30305)
    );
    let enr = net.node(ours).local_enr().clone();
    assert_eq!(enr.seq(), FIRST_SEQ);
    assert_eq!(enr.ip(), Some([10, 0, 0, 1].into()));
    assert_eq!(ping_from(&mut net, ours, peers[0]), configured);
}

#[test]
fn a_prediction_of_our_own_endpoint_changes_nothing() {
    let (mut net, ours, peers) = predicted_by_three_peers(quorum_of_three(), None);
    assert_eq!(net.node(ours).external_address(), Some(ours));
    assert!(net.events.contains(&(ours, Event::ExternalAddress(ours))));
    let enr = net.node(ours).local_enr().clone();
    assert_eq!(enr.seq(), FIRST_SEQ);
    assert_eq!(
        (enr.ip(), enr.udp(), enr.tcp()),
        (Some([10, 0, 0, 1].into()), Some(30303), Some(30305))
    );
    let configured = Endpoint {
        tcp_port: 30305,
        ..endpoint(ours)
    };
    assert_eq!(ping_from(&mut net, ours, peers[0]), configured);
}

#[test]
fn bonds_expire_after_24_hours() {
    let (mut net, a, b, record) = a_pinged_b();
    let now = start();
    // B proved its endpoint to A: A answers B's FINDNODE.
    let find = |expiration| {
        Message::FindNode(FindNode {
            target: record.id,
            expiration,
        })
        .encode(&key(2))
        .0
    };
    let answer = |node: &mut Discv4| {
        let sent: Vec<Message> = std::iter::from_fn(|| node.poll_transmit())
            .map(|t| wire::decode(&t.bytes).unwrap().message)
            .collect();
        match sent.as_slice() {
            [Message::Neighbours(_)] => "Neighbours",
            [Message::Ping(_)] => "Ping",
            other => panic!("{other:?}"),
        }
    };
    net.node(a).handle_datagram(now, b, &find(UNIX + 20));
    assert_eq!(answer(net.node(a)), "Neighbours");
    // A day later, without a new Pong, it does not: it pings B first.
    let later = now + Duration::from_secs(24 * 3600 + 1);
    let unix_later = UNIX + 24 * 3600 + 1;
    net.node(a)
        .handle_datagram(later, b, &find(unix_later + 20));
    assert_eq!(answer(net.node(a)), "Ping");
}

#[test]
fn a_silent_node_leaves_the_table_by_revalidation() {
    let (mut net, a, b, record) = a_pinged_b();
    let now = start();
    assert_eq!(net.node(a).table().len(), 1);
    // While B answers, revalidation keeps it.
    let now = net.run_until(now, now + Duration::from_secs(60));
    assert_eq!(net.node(a).table().len(), 1);
    net.offline.push(b);
    net.run_until(now, now + Duration::from_secs(600));
    assert!(net.node(a).table().is_empty());
    assert!(net.events.contains(&(a, Event::NodeRemoved(record))));
}

/// Our node at 10.0.0.1 after B (key 2, at 10.0.0.2) bonded with it by hand (our Ping back
/// answered with a Pong); with B's address and its record in our table.
fn bonded_by_hand() -> (Discv4, SocketAddr, NodeRecord) {
    bonded_by_hand_with(Config::default())
}

/// [`bonded_by_hand`] with our node on `config`.
fn bonded_by_hand_with(config: Config) -> (Discv4, SocketAddr, NodeRecord) {
    let a = addr("10.0.0.1:30303");
    let b = addr("10.0.0.2:30303");
    let now = start();
    let mut ours = node_with(1, a, config);
    // B bonds with us by hand: our Ping back is answered with a Pong.
    let b_key = key(2);
    let b_ping = Message::Ping(Ping {
        version: 4,
        from: Endpoint {
            ip: b.ip(),
            udp_port: b.port(),
            tcp_port: 0,
        },
        to: Endpoint {
            ip: a.ip(),
            udp_port: a.port(),
            tcp_port: 0,
        },
        expiration: UNIX + 20,
        enr_seq: None,
    });
    ours.handle_datagram(now, b, &b_ping.encode(&b_key).0);
    let _pong = ours.poll_transmit().unwrap();
    let ping_back = wire::decode(&ours.poll_transmit().unwrap().bytes).unwrap();
    ours.handle_datagram(now, b, &pong_packet(&b_key, a, ping_back.hash));
    let b_record = ours.table().iter().next().unwrap().value.record;
    (ours, b, b_record)
}

#[test]
fn a_node_that_fails_five_findnode_queries_in_a_row_leaves_the_table() {
    // B answers Pings, and only the 4th of our FINDNODE queries. Buckets of 4, so that B alone fills a quarter of its
    // own; no refresh or revalidation of our own to add queries or Pings.
    let config = Config {
        table: devp2p_kbucket::Config {
            bucket_size: 4,
            ..devp2p_kbucket::Config::default()
        },
        refresh_interval: Duration::MAX,
        revalidate_interval: Duration::MAX,
        ..Config::default()
    };
    let (mut ours, b, b_record) = bonded_by_hand_with(config);
    let b_key = key(2);
    let a = addr("10.0.0.1:30303");
    let mut now = start();
    let mut removed_after = None;
    for round in 1..=9u8 {
        let lookup = ours.lookup(now, PeerId([round; 64])).unwrap();
        let mut finished = false;
        for _ in 0..200 {
            let expiration = UNIX + now.duration_since(start()).as_secs() + 20;
            while let Some(t) = ours.poll_transmit() {
                let packet = wire::decode(&t.bytes).unwrap();
                if let Message::Ping(_) = packet.message {
                    let pong = Message::Pong(Pong {
                        to: endpoint(a),
                        ping_hash: packet.hash,
                        expiration,
                        enr_seq: None,
                    });
                    ours.handle_datagram(now, b, &pong.encode(&b_key).0);
                } else if let Message::FindNode(_) = packet.message
                    && round == 4
                {
                    let answer = Message::Neighbours(devp2p_discv4::Neighbours {
                        nodes: Vec::new(),
                        expiration,
                    });
                    ours.handle_datagram(now, b, &answer.encode(&b_key).0);
                }
            }
            while let Some(event) = ours.poll_event() {
                match event {
                    Event::LookupFinished { id, .. } if id == lookup => finished = true,
                    Event::NodeRemoved(node) if node == b_record => {
                        removed_after.get_or_insert(round);
                    }
                    _ => {}
                }
            }
            if finished {
                break;
            }
            now = ours.poll_timeout().unwrap().max(now);
            ours.handle_timeout(now);
        }
        assert!(finished, "lookup {round} did not finish");
    }
    // Three failures, an answer, then five failures in a row.
    assert_eq!(removed_after, Some(9));
}

#[test]
fn a_node_proving_a_new_address_for_a_request_keeps_its_table_entry() {
    // B, in our table, asks from another address, which it has not proved. Our Ping there
    // is answered and so is B's request; B's entry keeps its address (and TCP port): that
    // Ping learnt no TCP port, and B's own Ping from there would bring one.
    let (mut ours, _, b_record) = bonded_by_hand();
    let elsewhere = addr("10.0.0.3:30303");
    let now = start();
    while ours.poll_event().is_some() {}
    let find = Message::FindNode(FindNode {
        target: PeerId([7; 64]),
        expiration: UNIX + 20,
    });
    ours.handle_datagram(now, elsewhere, &find.encode(&key(2)).0);
    let ping = ours.poll_transmit().unwrap();
    assert_eq!(ping.dst, elsewhere);
    let ping = wire::decode(&ping.bytes).unwrap();
    assert!(matches!(ping.message, Message::Ping(_)));
    let pong = pong_packet(&key(2), addr("10.0.0.1:30303"), ping.hash);
    ours.handle_datagram(now, elsewhere, &pong);
    let answer = wire::decode(&ours.poll_transmit().unwrap().bytes).unwrap();
    assert!(matches!(answer.message, Message::Neighbours(_)));
    let events: Vec<Event> = std::iter::from_fn(|| ours.poll_event()).collect();
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(ours.table().iter().next().unwrap().value.record, b_record);
}

#[test]
fn a_record_that_is_not_the_nodes_is_refused() {
    // Someone else's (validly signed) record, and B's own with a broken signature.
    let other = Enr::builder().udp(1).build(&key(9)).unwrap();
    let mut forged = Enr::builder()
        .udp(1)
        .build(&key(2))
        .unwrap()
        .to_rlp()
        .to_vec();
    forged[10] ^= 1;
    for record in [RawRecord::from(other), RawRecord::new(&forged).unwrap()] {
        let (mut ours, b, b_record) = bonded_by_hand();
        let (now, b_key) = (start(), key(2));
        let request = ours.request_enr(now, b_record);
        let enr_request = wire::decode(&ours.poll_transmit().unwrap().bytes).unwrap();
        assert!(matches!(enr_request.message, Message::EnrRequest(_)));
        let response = Message::EnrResponse(EnrResponse {
            request_hash: enr_request.hash,
            record,
        });
        ours.handle_datagram(now, b, &response.encode(&b_key).0);
        let result = std::iter::from_fn(|| ours.poll_event()).find_map(|e| match e {
            Event::EnrResult { id, result, .. } if id == request => Some(result),
            _ => None,
        });
        assert_eq!(result, Some(Err(RequestError::WrongRecord)));
    }
}

/// Delivers to `ours` (at `to`) a Ping signed by `sender` from `from`, its expiration
/// `UNIX + 20 + n` (distinct packets, so the replay filter keeps out of the way); whether
/// `ours` answered with a Pong.
fn pinged(
    ours: &mut Discv4,
    now: Instant,
    to: SocketAddr,
    from: SocketAddr,
    sender: u8,
    n: u64,
) -> bool {
    let ping = Message::Ping(Ping {
        version: 4,
        from: Endpoint {
            ip: from.ip(),
            udp_port: from.port(),
            tcp_port: 0,
        },
        to: Endpoint {
            ip: to.ip(),
            udp_port: to.port(),
            tcp_port: 0,
        },
        expiration: UNIX + 20 + n,
        enr_seq: None,
    });
    ours.handle_datagram(now, from, &ping.encode(&key(sender)).0);
    std::iter::from_fn(|| ours.poll_transmit())
        .filter(|t| matches!(wire::decode(&t.bytes).unwrap().message, Message::Pong(_)))
        .count()
        > 0
}

#[test]
fn pings_beyond_the_per_ip_burst_are_dropped() {
    let a = addr("10.0.0.1:30303");
    let now = start();
    let mut ours = node(1, a);
    let burst = Config::default().rate_limit_burst as usize;
    // Distinct senders on one IP, so neither replay filter nor bonds interfere.
    let answered = (0..burst + 50)
        .filter(|&i| {
            let from = addr(&format!("10.9.9.9:{}", 1000 + i));
            pinged(&mut ours, now, a, from, 10 + (i % 200) as u8, i as u64)
        })
        .count();
    assert_eq!(answered, burst);
    // Another IP is not affected.
    assert!(pinged(&mut ours, now, a, addr("10.8.8.8:1"), 7, 0));
}

#[test]
fn a_flood_from_fresh_addresses_keeps_out_neither_newcomers_nor_a_spent_limit() {
    let a = addr("10.0.0.1:30303");
    let now = start();
    let config = Config {
        rate_limit_ips: 4,
        rate_limit_per_second: 1,
        rate_limit_burst: 2,
        ..Config::default()
    };
    let mut ours = node_with(1, a, config);
    // One address spends its burst.
    let busy = addr("10.9.8.1:1000");
    let answered = (0..3)
        .filter(|&n| pinged(&mut ours, now, a, busy, 9, n))
        .count();
    assert_eq!(answered, 2);
    // Twenty fresh addresses, five times what the limiter tracks: each is answered.
    for i in 10..30 {
        assert!(pinged(
            &mut ours,
            now,
            a,
            addr(&format!("10.9.9.{i}:1000")),
            i,
            0
        ));
    }
    // The spent address is still held to its own bucket.
    assert!(!pinged(&mut ours, now, a, busy, 9, 3));
}

#[test]
fn a_full_neighbours_packet_of_ipv6_nodes_fits_in_1280_bytes() {
    let node = |i: u8| NodeRecord {
        id: PeerId([i; 64]),
        ip: "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
        tcp_port: u16::MAX,
        udp_port: u16::MAX,
    };
    let packet = |n: u8| {
        Message::Neighbours(devp2p_discv4::Neighbours {
            nodes: (0..n).map(node).collect(),
            expiration: u64::MAX,
        })
        .encode(&key(1))
        .0
    };
    assert!(
        packet(12).len() <= wire::MAX_PACKET_SIZE,
        "{}",
        packet(12).len()
    );
    assert!(packet(13).len() > wire::MAX_PACKET_SIZE);
}

/// reth asks for our record as soon as our Pong to its Ping arrives, before its Pong to our
/// Ping back reaches us. The request waits for that Pong, which proves the address, and is
/// answered then; as is a FINDNODE sent at the same moment, up to four requests.
#[test]
fn requests_made_before_our_ping_back_is_answered_are_held() {
    let (a, b) = (addr("10.0.0.1:30303"), addr("10.0.0.2:30303"));
    let mut ours = node(1, a);
    let now = start();
    ours.handle_datagram(now, b, &ping_packet(&key(2), b, a));
    let ping_back = sent_to(&mut ours, b)
        .into_iter()
        .find(|p| matches!(p.message, Message::Ping(_)))
        .unwrap();
    let (enr_request, request_hash) = Message::EnrRequest(devp2p_discv4::EnrRequest {
        expiration: UNIX + 20,
    })
    .encode(&key(2));
    ours.handle_datagram(now, b, &enr_request);
    let find = Message::FindNode(FindNode {
        target: PeerId([7; 64]),
        expiration: UNIX + 20,
    });
    ours.handle_datagram(now, b, &find.encode(&key(2)).0);
    // Four are held at most: these come too many.
    for i in 1..=4 {
        let more = Message::EnrRequest(devp2p_discv4::EnrRequest {
            expiration: UNIX + 20 + i,
        });
        ours.handle_datagram(now, b, &more.encode(&key(2)).0);
    }
    assert!(sent_to(&mut ours, b).is_empty(), "nothing before the proof");
    ours.handle_datagram(now, b, &pong_packet(&key(2), a, ping_back.hash));
    let answers = sent_to(&mut ours, b);
    assert!(answers.iter().any(|p| matches!(&p.message,
        Message::EnrResponse(r) if r.request_hash == request_hash)));
    assert!(
        answers
            .iter()
            .any(|p| matches!(p.message, Message::Neighbours(_)))
    );
    assert_eq!(answers.len(), 4, "{answers:?}");
}

#[test]
fn a_ping_back_to_an_unbonded_pinger_is_sent_once() {
    let (a, b, silent) = (
        addr("10.0.0.1:30303"),
        addr("10.0.0.2:30303"),
        addr("10.0.0.3:30303"),
    );
    let mut ours = node(1, a);
    let now = start();
    // B pings us and never answers: it gets a Pong and one Ping back, which is not retried.
    ours.handle_datagram(now, b, &ping_packet(&key(2), b, a));
    let mut to_b = sent_to(&mut ours, b);
    // Our own Ping to a silent node, by contrast, is retried.
    ours.ping(now, record(&key(3), silent));
    let mut to_silent = sent_to(&mut ours, silent);
    let mut now = now;
    let until = now + Duration::from_secs(10);
    while let Some(at) = ours.poll_timeout().filter(|at| *at <= until) {
        now = at;
        ours.handle_timeout(now);
        let out: Vec<Transmit> = std::iter::from_fn(|| ours.poll_transmit()).collect();
        for t in out {
            let packet = wire::decode(&t.bytes).unwrap();
            if t.dst == b {
                to_b.push(packet);
            } else if t.dst == silent {
                to_silent.push(packet);
            }
        }
    }
    let pings = |packets: &[wire::Packet]| {
        packets
            .iter()
            .filter(|p| matches!(p.message, Message::Ping(_)))
            .count()
    };
    assert!(matches!(to_b[0].message, Message::Pong(_)), "{to_b:?}");
    assert_eq!(pings(&to_b), 1, "Pings back to B");
    assert_eq!(pings(&to_silent), 3, "our own Pings");
    assert!(ours.table().is_empty());
}

#[test]
fn ping_back_places_free_up_when_their_pings_end_or_become_ours() {
    // 16 places, so ping-backs hold at most 4. Each is counted while it is a ping-back.
    let a = addr("10.0.0.1:30303");
    let mut ours = node_with(
        1,
        a,
        Config {
            max_pings: 16,
            ..quiet()
        },
    );
    let mut now = start();
    let pinged_back = |ours: &mut Discv4, now: Instant, i: u8| {
        let from = SocketAddr::from(([10, 9, 0, i], 30303));
        ours.handle_datagram(now, from, &ping_packet(&key(10 + i), from, a));
        sent_to(ours, from)
            .iter()
            .any(|p| matches!(p.message, Message::Ping(_)))
    };
    assert!((0..4).all(|i| pinged_back(&mut ours, now, i)));
    assert!(!pinged_back(&mut ours, now, 4));
    // We ping one of those nodes ourselves: that Ping is ours now, and a place is free.
    ours.ping(
        now,
        record(&key(10), SocketAddr::from(([10, 9, 0, 0], 30303))),
    );
    assert!(pinged_back(&mut ours, now, 5));
    assert!(!pinged_back(&mut ours, now, 6));
    // Ping-backs are not retried: at their timeout they end, and their places are free.
    now += Config::default().request_timeout;
    ours.handle_timeout(now);
    assert!((7..11).all(|i| pinged_back(&mut ours, now, i)));
    assert!(!pinged_back(&mut ours, now, 11));
}

#[test]
fn a_flood_of_pings_from_fresh_keys_leaves_room_for_our_own_ping() {
    let a = addr("10.0.0.1:30303");
    let config = Config {
        max_pings: 16,
        ..Config::default()
    };
    let mut ours = node_with(1, a, config);
    let now = start();
    let mut pongs = 0;
    let mut pings_back = 0;
    for i in 0..40u8 {
        let from = SocketAddr::from(([10, 9, 0, i], 30303));
        ours.handle_datagram(now, from, &ping_packet(&key(10 + i), from, a));
        for packet in sent_to(&mut ours, from) {
            match packet.message {
                Message::Pong(_) => pongs += 1,
                Message::Ping(_) => pings_back += 1,
                _ => {}
            }
        }
    }
    // Every Ping is answered; ping-backs stop at a quarter of the 16 places.
    assert_eq!(pongs, 40);
    assert_eq!(pings_back, 4);
    // Under 4 places, ping-backs still get one.
    let mut small = node_with(
        1,
        a,
        Config {
            max_pings: 2,
            ..Config::default()
        },
    );
    let from = addr("10.9.1.1:30303");
    small.handle_datagram(now, from, &ping_packet(&key(9), from, a));
    let back = sent_to(&mut small, from);
    assert!(
        back.iter().any(|p| matches!(p.message, Message::Ping(_))),
        "{back:?}"
    );
    // Our own Ping still goes out.
    let other = addr("10.0.0.2:30303");
    let request = ours.ping(now, record(&key(2), other));
    let busy = std::iter::from_fn(|| ours.poll_event()).any(|e| {
        matches!(e, Event::PingResult { id, result: Err(RequestError::Busy), .. } if id == request)
    });
    assert!(!busy, "our Ping was refused as busy");
    let sent = sent_to(&mut ours, other);
    assert!(
        matches!(sent.as_slice(), [p] if matches!(p.message, Message::Ping(_))),
        "{sent:?}"
    );
}

#[test]
fn many_keys_on_one_ip_vote_once_for_our_external_address() {
    let a = addr("10.0.0.1:30303");
    let mut ours = node(1, a);
    let now = start();
    let (truth, lie) = (addr("203.0.113.9:4242"), addr("198.51.100.66:6666"));
    // We ping node `b` at `from`; it answers that it sees us at `seen_as`.
    let pong = |ours: &mut Discv4, b: u8, from: SocketAddr, seen_as: SocketAddr| {
        ours.ping(now, record(&key(b), from));
        let ping = sent_to(ours, from).pop().unwrap();
        assert!(matches!(ping.message, Message::Ping(_)));
        ours.handle_datagram(now, from, &pong_packet(&key(b), seen_as, ping.hash));
    };
    // Ten keys on one host report the lie: one vote, below the three needed.
    for b in 10..20u8 {
        let from = SocketAddr::from(([10, 6, 6, 6], 1000 + u16::from(b)));
        pong(&mut ours, b, from, lie);
    }
    assert_eq!(ours.external_address(), None);
    // Three hosts report the truth: three votes against one.
    for (i, b) in (30..33u8).enumerate() {
        let from = SocketAddr::from(([10, 7, i as u8, 1], 30303));
        pong(&mut ours, b, from, truth);
    }
    assert_eq!(ours.external_address(), Some(truth));
    assert!(
        std::iter::from_fn(|| ours.poll_event()).all(|e| e != Event::ExternalAddress(lie)),
        "the lie was predicted"
    );
}

/// Decodes the datagrams `from` sent to `to` in `net` and keeps those `pick` accepts.
fn sent_between<T>(
    net: &Net,
    from: SocketAddr,
    to: SocketAddr,
    pick: impl Fn(Message) -> Option<T>,
) -> Vec<T> {
    net.sent
        .iter()
        .filter(|(sender, t)| *sender == from && t.dst == to)
        .filter_map(|(_, t)| pick(wire::decode(&t.bytes).unwrap().message))
        .collect()
}

#[test]
fn an_empty_neighbours_answer_is_an_answer() {
    // B knows nobody but us: it answers our FINDNODE with an empty Neighbours.
    let (mut net, a, b, record) = a_pinged_b();
    let now = start();
    let lookup = net.node(a).lookup(now, PeerId([7; 64])).unwrap();
    net.run_until(now, now + Duration::from_secs(5));
    let finished = net.events.iter().find_map(|(at, e)| match e {
        Event::LookupFinished { id, nodes, .. } if *at == a && *id == lookup => Some(nodes),
        _ => None,
    });
    assert_eq!(finished, Some(&vec![record]));
    let answers = sent_between(&net, b, a, |m| match m {
        Message::Neighbours(n) => Some(n.nodes),
        _ => None,
    });
    assert_eq!(answers, vec![Vec::new()]);
    // B answered: it is not asked again.
    let find_nodes = sent_between(&net, a, b, |m| {
        matches!(m, Message::FindNode(_)).then_some(())
    });
    assert_eq!(find_nodes.len(), 1, "FINDNODEs sent to B");
}

#[test]
fn a_refresh_answered_with_empty_neighbours_is_not_retried_early() {
    // B, a fresh bootnode, knows nobody but us: the refresh's lookups get empty Neighbours.
    let (a, b) = (addr("10.0.0.1:30303"), addr("10.0.0.2:30303"));
    let mut net = Net::new(vec![(a, node(1, a)), (b, node(2, b))]);
    let now = start();
    let bootnode = net.node(b).local_record();
    net.node(a).add_bootnode(now, bootnode);
    let now = net.run_until(now, now + Duration::from_secs(5));
    let finished = net
        .events
        .iter()
        .filter(|(at, e)| *at == a && matches!(e, Event::LookupFinished { .. }))
        .count();
    assert_eq!(finished, 2, "the refresh's two lookups");
    // B answered, so the next refresh is half an hour away, not the 10 s of a failed bootstrap.
    net.sent.clear();
    net.run_until(now, now + Duration::from_secs(20));
    let find_nodes = sent_between(&net, a, b, |m| {
        matches!(m, Message::FindNode(_)).then_some(())
    });
    assert!(find_nodes.is_empty(), "{} FINDNODEs", find_nodes.len());
}

#[test]
fn findnodes_to_one_node_wait_for_each_other() {
    // Two lookups at once, and B is the only node A knows: both query B. Neighbours name no
    // request, so the second FINDNODE waits for the first's answer instead of racing it (where
    // the first query would take both answers and the second re-ask until it gave up).
    let (mut net, a, b, record) = a_pinged_b();
    let now = start();
    net.sent.clear();
    let first = net.node(a).lookup(now, PeerId([7; 64])).unwrap();
    let second = net.node(a).lookup(now, PeerId([8; 64])).unwrap();
    net.run_until(now, now + Duration::from_secs(5));
    for lookup in [first, second] {
        let finished = net.events.iter().find_map(|(at, e)| match e {
            Event::LookupFinished { id, nodes, .. } if *at == a && *id == lookup => Some(nodes),
            _ => None,
        });
        assert_eq!(finished, Some(&vec![record]), "lookup {lookup:?}");
    }
    // In order on the wire: FINDNODE, its Neighbours, the other FINDNODE, its Neighbours.
    let exchange: Vec<(SocketAddr, Option<PeerId>)> = net
        .sent
        .iter()
        .filter_map(|(from, t)| match wire::decode(&t.bytes).unwrap().message {
            Message::FindNode(f) => Some((*from, Some(f.target))),
            Message::Neighbours(_) => Some((*from, None)),
            _ => None,
        })
        .collect();
    assert_eq!(
        exchange,
        [
            (a, Some(PeerId([7; 64]))),
            (b, None),
            (a, Some(PeerId([8; 64]))),
            (b, None)
        ]
    );
}

#[test]
fn a_findnode_sent_when_the_one_before_it_ends_is_not_timed_out_with_it() {
    // Two FINDNODEs to B, the second waiting for the first, both due at the same moment: the
    // first, answered in part, ends then and sends the second, which must wait for its own
    // answer rather than be timed out at once with the first (and ping B again).
    let (mut ours, b, _) = bonded_by_hand();
    let now = start();
    while ours.poll_transmit().is_some() {}
    ours.lookup(now, PeerId([7; 64])).unwrap();
    ours.lookup(now, PeerId([8; 64])).unwrap();
    let sent = sent_to(&mut ours, b);
    assert_eq!(sent.len(), 1);
    assert!(matches!(sent[0].message, Message::FindNode(_)));
    // A short answer, 50 ms before the deadline both FINDNODEs share.
    let timeout = Config::default().request_timeout;
    let answer = Message::Neighbours(devp2p_discv4::Neighbours {
        nodes: Vec::new(),
        expiration: UNIX + 20,
    });
    let late = now + timeout - Duration::from_millis(50);
    ours.handle_datagram(late, b, &answer.encode(&key(2)).0);
    assert_eq!(ours.poll_timeout(), Some(now + timeout));
    ours.handle_timeout(now + timeout);
    let sent: Vec<Message> = sent_to(&mut ours, b)
        .into_iter()
        .map(|p| p.message)
        .collect();
    assert!(
        matches!(&sent[..], [Message::FindNode(f)] if f.target == PeerId([8; 64])),
        "{sent:?}"
    );
}

#[test]
fn an_answer_identical_to_an_earlier_one_is_taken() {
    // go-ethereum and reth sign deterministically and write whole-second expirations, so the
    // same FINDNODE answered twice within a second gets the same packet twice. B's answer to a
    // first lookup is handed to A again as the answer to a second one: it counts, and the
    // second lookup ends at once instead of after the query's timeout.
    let (mut net, a, b, record) = a_pinged_b();
    let now = start();
    net.node(a).lookup(now, PeerId([7; 64])).unwrap();
    net.deliver(now);
    let answers: Vec<Vec<u8>> = net
        .sent
        .iter()
        .filter(|(from, t)| {
            *from == b
                && t.dst == a
                && matches!(
                    wire::decode(&t.bytes).unwrap().message,
                    Message::Neighbours(_)
                )
        })
        .map(|(_, t)| t.bytes.to_vec())
        .collect();
    let [answer] = answers.as_slice() else {
        panic!("{} Neighbours from B", answers.len());
    };
    net.offline.push(b);
    net.events.clear();
    net.sent.clear();
    let second = net.node(a).lookup(now, PeerId([7; 64])).unwrap();
    // The second FINDNODE goes out once the first query has stopped waiting for more.
    let now = net.run_until(now, now + Duration::from_millis(60));
    let asked = sent_between(&net, a, b, |m| {
        matches!(m, Message::FindNode(_)).then_some(())
    });
    assert_eq!(asked.len(), 1, "FINDNODEs sent to B");
    net.node(a).handle_datagram(now, b, answer);
    net.run_until(now, now + Duration::from_millis(100));
    let finished = net.events.iter().find_map(|(at, e)| match e {
        Event::LookupFinished { id, nodes, .. } if *at == a && *id == second => Some(nodes),
        _ => None,
    });
    assert_eq!(finished, Some(&vec![record]));
}

#[test]
fn a_node_that_kept_its_bond_across_our_restart_is_answered_after_one_ping() {
    // A and B bonded; B restarts (same key and address) and has forgotten the bond, which A
    // still holds (as go-ethereum keeps bonds in its database): A asks B without pinging. B
    // pings A, and A's Pong gets the FINDNODE answered, long before A's query would time out.
    let (mut net, a, b, record) = a_pinged_b();
    let now = start();
    net.nodes.insert(b, node(2, b));
    net.sent.clear();
    net.events.clear();
    let lookup = net.node(a).lookup(now, PeerId([7; 64])).unwrap();
    net.run_until(now, now + Duration::from_millis(100));
    let finished = net.events.iter().find_map(|(at, e)| match e {
        Event::LookupFinished { id, nodes, .. } if *at == a && *id == lookup => Some(nodes),
        _ => None,
    });
    assert_eq!(finished, Some(&vec![record]));
    let pings = sent_between(&net, b, a, |m| matches!(m, Message::Ping(_)).then_some(()));
    let answers = sent_between(&net, b, a, |m| match m {
        Message::Neighbours(n) => Some(n.nodes),
        _ => None,
    });
    assert_eq!((pings.len(), answers.len()), (1, 1));
    // That Ping alone does not put A in B's table: it told B no TCP port.
    assert!(
        !net.events
            .iter()
            .any(|(at, e)| *at == b && matches!(e, Event::NodeAdded(_)))
    );
}

#[test]
fn lan_nodes_are_passed_on_only_to_lan_requesters() {
    // A, on a public address, knows two public nodes and two on a LAN.
    let a = addr("11.0.0.1:30303");
    let (public, other_public) = (addr("11.0.0.2:30303"), addr("12.0.0.7:30303"));
    let (lan, other_lan) = (addr("192.168.1.5:30303"), addr("192.168.1.6:30303"));
    let known = [(2, public), (3, other_public), (4, lan), (5, other_lan)];
    let mut nodes = vec![(a, node(1, a))];
    nodes.extend(known.iter().map(|&(b, at)| (at, node(b, at))));
    let mut net = Net::new(nodes);
    let now = start();
    for &(_, at) in &known {
        let record = net.node(at).local_record();
        net.node(a).ping(now, record);
    }
    net.deliver(now);
    let ask = |net: &mut Net, b: u8, from: SocketAddr| {
        let find = Message::FindNode(FindNode {
            target: PeerId([7; 64]),
            expiration: UNIX + 20,
        });
        net.node(a)
            .handle_datagram(now, from, &find.encode(&key(b)).0);
        let mut ips: Vec<_> = sent_to(net.node(a), from)
            .into_iter()
            .flat_map(|p| match p.message {
                Message::Neighbours(n) => n.nodes,
                _ => Vec::new(),
            })
            .map(|n| n.ip)
            .collect();
        ips.sort();
        ips
    };
    assert_eq!(ask(&mut net, 2, public), [other_public.ip()]);
    assert_eq!(
        ask(&mut net, 4, lan),
        [public.ip(), other_public.ip(), other_lan.ip()]
    );
}

/// No refresh or revalidation: only the requests under test set timeouts.
fn quiet() -> Config {
    Config {
        revalidate_interval: Duration::MAX,
        refresh_interval: Duration::MAX,
        ..Config::default()
    }
}

#[test]
fn a_request_to_a_node_that_never_pings_back_goes_after_the_bond_wait() {
    // K answers our Ping but does not ping us back (as ethereumjs may not): the ENRRequest
    // goes once `bond_wait` has passed, not when the whole bond times out.
    let (a, k) = (addr("10.0.0.1:30303"), addr("10.0.0.3:30303"));
    let mut ours = node_with(1, a, quiet());
    let now = start();
    ours.request_enr(now, record(&key(3), k));
    let ping = wire::decode(&ours.poll_transmit().unwrap().bytes).unwrap();
    ours.handle_datagram(now, k, &pong_packet(&key(3), a, ping.hash));
    assert!(ours.poll_transmit().is_none());
    let due = now + Config::default().bond_wait;
    assert_eq!(ours.poll_timeout(), Some(due));
    ours.handle_timeout(due);
    let request = wire::decode(&ours.poll_transmit().unwrap().bytes).unwrap();
    assert!(matches!(request.message, Message::EnrRequest(_)));
}

#[test]
fn a_request_that_failed_leaves_no_timeout_behind() {
    // Every Ping to an offline node goes unanswered: the request fails with the last of
    // them, before its own deadline, which must not wake the node afterwards.
    let mut ours = node_with(1, addr("10.0.0.1:30303"), quiet());
    let mut now = start();
    ours.request_enr(now, record(&key(3), addr("10.0.0.3:30303")));
    let mut failed = false;
    for _ in 0..10 {
        while ours.poll_transmit().is_some() {}
        failed |= std::iter::from_fn(|| ours.poll_event())
            .any(|e| matches!(e, Event::EnrResult { result: Err(_), .. }));
        if failed {
            break;
        }
        now = ours.poll_timeout().unwrap();
        ours.handle_timeout(now);
    }
    assert!(failed);
    assert_eq!(ours.poll_timeout(), None);
}

/// The next timeout is the soonest thing due: answered requests leave nothing behind to
/// wake the node early.
#[test]
fn answered_requests_leave_no_timeout_behind() {
    let config = quiet();
    let (a, b) = (addr("10.0.0.1:30303"), addr("10.0.0.2:30303"));
    let mut net = Net::new(vec![
        (a, node_with(1, a, config.clone())),
        (b, node_with(2, b, config.clone())),
    ]);
    let now = start();
    let record = net.node(b).local_record();
    net.node(a).ping(now, record);
    assert_eq!(
        net.node(a).poll_timeout(),
        Some(now + config.request_timeout)
    );
    net.deliver(now);
    assert_eq!(net.node(a).poll_timeout(), None);
    net.node(a).request_enr(now, record);
    assert!(net.node(a).poll_timeout().is_some());
    net.deliver(now);
    assert!(
        net.events
            .iter()
            .any(|(at, e)| *at == a && matches!(e, Event::EnrResult { result: Ok(_), .. }))
    );
    assert_eq!(net.node(a).poll_timeout(), None);
}

#[test]
fn intervals_too_long_to_add_turn_their_work_off() {
    let config = Config {
        revalidate_interval: Duration::MAX,
        refresh_interval: Duration::MAX,
        ..Config::default()
    };
    let mut node = node_with(1, addr("10.0.0.1:30303"), config);
    assert_eq!(node.poll_timeout(), None);
    node.handle_timeout(start() + Duration::from_secs(3600));
    assert!(node.poll_transmit().is_none());
}

#[test]
fn neighbours_at_privileged_ports_are_not_contacted() {
    // B answers A's FINDNODE with a node at port 53 and one at port 1025: A goes on with the
    // second only, so B cannot aim A's packets at a DNS server.
    let (dns, fine) = (addr("10.0.7.1:53"), addr("10.0.7.2:1025"));
    let contacted = contacted_after(vec![record(&key(8), dns), record(&key(9), fine)]);
    assert!(contacted.contains(&fine), "{contacted:?}");
    assert!(!contacted.contains(&dns), "{contacted:?}");
}

#[test]
fn neighbours_whose_id_is_no_public_key_are_not_contacted() {
    // An id of 64 bytes that is no point of the curve names no node: go-ethereum skips it.
    let (junk, fine) = (addr("10.0.7.1:30303"), addr("10.0.7.2:30303"));
    let mut no_key = record(&key(8), junk);
    no_key.id = PeerId([0xff; 64]);
    assert!(no_key.id.to_public_key().is_none());
    let contacted = contacted_after(vec![no_key, record(&key(9), fine)]);
    assert!(contacted.contains(&fine), "{contacted:?}");
    assert!(!contacted.contains(&junk), "{contacted:?}");
}

/// Where A sends datagrams in the 5 s after B answers its lookup's FINDNODE with `nodes`.
fn contacted_after(nodes: Vec<NodeRecord>) -> Vec<SocketAddr> {
    let (mut net, a, b, _) = a_pinged_b();
    let now = start();
    net.node(a).lookup(now, PeerId([7; 64])).unwrap();
    assert!(
        sent_to(net.node(a), b)
            .iter()
            .any(|p| matches!(p.message, Message::FindNode(_)))
    );
    let neighbours = Message::Neighbours(devp2p_discv4::Neighbours {
        nodes,
        expiration: UNIX + 20,
    });
    net.node(a)
        .handle_datagram(now, b, &neighbours.encode(&key(2)).0);
    let until = now + Duration::from_secs(5);
    let mut contacted = Vec::new();
    loop {
        contacted.extend(std::iter::from_fn(|| net.node(a).poll_transmit()).map(|t| t.dst));
        match net.node(a).poll_timeout().filter(|at| *at <= until) {
            Some(at) => net.node(a).handle_timeout(at),
            None => break,
        }
    }
    contacted
}

/// A bonded with B (B answered A's Ping); then Pings from 64 fresh keys at 64 public
/// addresses of one /24 overflow A's 32 bonds, each key answering A's Ping back if
/// `answering` (the table's IP limits then let 10 of them in). Whether B's FINDNODE is still
/// answered afterwards (its proof survived).
fn b_served_after_a_flood(answering: bool) -> bool {
    let (a, b) = (addr("10.0.0.1:30303"), addr("10.0.0.2:30303"));
    let config = Config {
        max_bonds: 32,
        ..Config::default()
    };
    let mut net = Net::new(vec![(a, node_with(1, a, config)), (b, node(2, b))]);
    let now = start();
    let record = net.node(b).local_record();
    net.node(a).ping(now, record);
    net.deliver(now);
    for i in 0..64u8 {
        let from = SocketAddr::from(([11, 1, 0, i], 30303));
        let flooder = key(100 + i);
        net.node(a)
            .handle_datagram(now, from, &ping_packet(&flooder, from, a));
        for packet in sent_to(net.node(a), from) {
            if let (Message::Ping(_), true) = (&packet.message, answering) {
                let pong = pong_packet(&flooder, a, packet.hash);
                net.node(a).handle_datagram(now, from, &pong);
            }
        }
    }
    std::iter::from_fn(|| net.node(a).poll_transmit()).for_each(drop);
    let find = Message::FindNode(FindNode {
        target: PeerId([7; 64]),
        expiration: UNIX + 20,
    });
    net.node(a).handle_datagram(now, b, &find.encode(&key(2)).0);
    sent_to(net.node(a), b)
        .iter()
        .any(|p| matches!(p.message, Message::Neighbours(_)))
}

#[test]
fn a_flood_of_pings_from_fresh_keys_keeps_the_proofs_peers_need() {
    // Keys that never answer, and keys that answer our Pings back (so their bonds are proven
    // too): either way B, in A's table, keeps its proof.
    assert!(b_served_after_a_flood(false));
    assert!(b_served_after_a_flood(true));
}

#[test]
fn pings_to_one_node_at_two_addresses_are_two_pings() {
    // A knows B's key at a second, stale address. A ping there does not swallow one to the
    // real address, and B's Pong from the real address answers only that one.
    let (mut net, a, b, record) = a_pinged_b();
    let now = start();
    let stale = NodeRecord {
        ip: "10.0.0.9".parse().unwrap(),
        ..record
    };
    net.sent.clear();
    net.events.clear();
    let to_stale = net.node(a).ping(now, stale);
    let to_real = net.node(a).ping(now, record);
    net.deliver(now);
    let pinged: Vec<SocketAddr> = net
        .sent
        .iter()
        .filter(|(from, t)| {
            *from == a && matches!(wire::decode(&t.bytes).unwrap().message, Message::Ping(_))
        })
        .map(|(_, t)| t.dst)
        .collect();
    assert_eq!(pinged, [addr("10.0.0.9:30303"), b]);
    let results: Vec<(u64, bool)> = net
        .events
        .iter()
        .filter_map(|(at, e)| match e {
            Event::PingResult { id, result, .. } if *at == a => Some((id.0, result.is_ok())),
            _ => None,
        })
        .collect();
    assert_eq!(
        results,
        [(to_real.0, true)],
        "the stale one is still waiting"
    );
    assert_ne!(to_stale, to_real);
}

#[test]
fn a_node_without_bootnodes_still_refreshes_its_table() {
    // B pinged A and A pinged back, so each knows the other; nobody added a bootnode. Half an
    // hour on, A's refresh asks B for nodes.
    let (mut net, a, b, _) = a_pinged_b();
    let now = start();
    net.sent.clear();
    net.run_until(now, now + Duration::from_secs(31 * 60));
    let find_nodes = sent_between(&net, a, b, |m| {
        matches!(m, Message::FindNode(_)).then_some(())
    });
    assert!(!find_nodes.is_empty());
}

/// Our node asks B (bonded by hand) for its record once per entry of `records`, and B
/// answers each time with the next; what our table then holds for B, and the last result.
fn enr_answered_with(records: &[Enr]) -> (Option<Enr>, Option<Result<Enr, RequestError>>) {
    let (mut ours, b, b_record) = bonded_by_hand();
    let now = start();
    let mut result = None;
    for record in records {
        let request = ours.request_enr(now, b_record);
        let enr_request = wire::decode(&ours.poll_transmit().unwrap().bytes).unwrap();
        let response = Message::EnrResponse(EnrResponse {
            request_hash: enr_request.hash,
            record: record.into(),
        });
        ours.handle_datagram(now, b, &response.encode(&key(2)).0);
        result = std::iter::from_fn(|| ours.poll_event()).find_map(|e| match e {
            Event::EnrResult { id, result, .. } if id == request => Some(result),
            _ => None,
        });
    }
    let stored = ours.table().iter().next().unwrap().value.enr.clone();
    (stored, result)
}

#[test]
fn a_record_naming_a_loopback_address_or_older_than_the_known_one_stays_out_of_the_table() {
    let at = |seq: u64, ip: [u8; 4]| {
        Enr::builder()
            .seq(seq)
            .ip4(ip.into())
            .udp(30303)
            .build(&key(2))
            .unwrap()
    };
    // A record on B's network is kept.
    let fine = at(5, [10, 0, 0, 2]);
    let answered = enr_answered_with(std::slice::from_ref(&fine));
    assert_eq!(answered, (Some(fine.clone()), Some(Ok(fine.clone()))));
    // One naming 127.0.0.1 is handed to the caller, not kept: B is not on our host.
    let local = at(6, [127, 0, 0, 1]);
    assert_eq!(
        enr_answered_with(std::slice::from_ref(&local)),
        (None, Some(Ok(local)))
    );
    // Nor does an older record replace a newer one.
    let older = at(4, [10, 0, 0, 2]);
    let answered = enr_answered_with(&[fine.clone(), older.clone()]);
    assert_eq!(answered, (Some(fine), Some(Ok(older))));
}

#[test]
fn a_refresh_interval_of_duration_max_means_no_refresh() {
    let a = addr("10.0.0.1:30303");
    let config = Config {
        refresh_interval: Duration::MAX,
        ..Config::default()
    };
    let mut ours = node_with(1, a, config);
    let now = start();
    ours.add_bootnode(now, record(&key(2), addr("10.0.0.2:30303")));
    // The refresh that adding a bootnode starts runs, and the next is never due.
    ours.handle_timeout(now);
    ours.handle_timeout(now + Duration::from_secs(3600));
}

#[test]
fn a_revalidation_missed_at_an_old_address_does_not_count_at_the_new_one() {
    // B answered A at its old address, then moved: A's revalidation Ping goes to the old
    // address, unanswered, while B answers a Ping at the new one. The miss at the old address
    // does not count against the entry, which now has the new one.
    let (a, old, new) = (
        addr("10.0.0.1:30303"),
        addr("10.0.0.2:30303"),
        addr("10.0.0.3:30303"),
    );
    let mut net = Net::new(vec![
        (a, node(1, a)),
        (old, node(2, old)),
        (new, node(2, new)),
    ]);
    let mut now = start();
    let at_old = net.node(old).local_record();
    net.node(a).ping(now, at_old);
    net.deliver(now);
    net.offline.push(old);
    net.sent.clear();
    let pinged_old = |net: &Net| {
        !sent_between(net, a, old, |m| matches!(m, Message::Ping(_)).then_some(())).is_empty()
    };
    while !pinged_old(&net) && now < start() + Duration::from_secs(120) {
        now = net.run_until(now, now + Duration::from_millis(100));
    }
    assert!(pinged_old(&net), "a revalidation Ping to the old address");
    let at_new = net.node(new).local_record();
    net.node(a).ping(now, at_new);
    net.deliver(now);
    let entry = |net: &mut Net| {
        let entries: Vec<(NodeRecord, u32)> = net
            .node(a)
            .table()
            .iter()
            .map(|e| (e.value.record, e.value.liveness))
            .collect();
        entries
    };
    let answered = entry(&mut net);
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].0, at_new);
    // The Ping to the old address times out (three attempts of 500 ms).
    net.run_until(now, now + Duration::from_secs(2));
    assert_eq!(entry(&mut net), answered);
}

/// With an event queue of two, three pings to silent nodes that fail at the same instant still
/// each get their answer (the driver completes requests only from these events).
#[test]
fn a_full_event_queue_keeps_every_answer() {
    let config = Config {
        max_events: 2,
        request_attempts: 1,
        ..Config::default()
    };
    let mut ours = node_with(1, addr("127.0.0.1:30301"), config);
    let now = start();
    let silent: Vec<NodeRecord> = (2..5)
        .map(|b| {
            record(
                &key(b),
                addr(&format!("127.0.0.2:{}", 30300 + u16::from(b))),
            )
        })
        .collect();
    let requests: Vec<_> = silent.iter().map(|node| ours.ping(now, *node)).collect();
    while ours.poll_transmit().is_some() {}
    let deadline = ours.poll_timeout().unwrap();
    ours.handle_timeout(deadline + Duration::from_secs(10));
    let mut answered: Vec<_> = std::iter::from_fn(|| ours.poll_event())
        .filter_map(|event| match event {
            Event::PingResult {
                id,
                result: Err(RequestError::Timeout),
                ..
            } => Some(id),
            _ => None,
        })
        .collect();
    answered.sort_unstable();
    assert_eq!(answered, requests);
}

/// A bonded node's own Pings keep its entry fresh but do not add to its liveness, which counts
/// answers to our Pings: pinging us often buys no slack for revalidations it fails.
#[test]
fn pings_from_a_bonded_node_do_not_raise_its_liveness() {
    let (a, b) = (addr("1.1.1.1:30303"), addr("2.2.2.2:30303"));
    let mut net = Net::new(vec![(a, node(1, a)), (b, node(2, b))]);
    let now = start();
    let b_record = net.node(b).local_record();
    let a_record = net.node(a).local_record();
    net.node(a).ping(now, b_record);
    net.deliver(now);
    let b_id = b_record.node_id();
    let liveness = |net: &mut Net| net.node(a).table().get(&b_id).unwrap().value.liveness;
    let before = liveness(&mut net);
    for second in 1..=10 {
        let at = now + Duration::from_secs(second);
        net.node(b).ping(at, a_record);
        net.deliver(at);
    }
    assert_eq!(liveness(&mut net), before);
    let at = now + Duration::from_secs(11);
    net.node(a).ping(at, b_record);
    net.deliver(at);
    assert_eq!(liveness(&mut net), before + 1);
}

/// A node in the table answering from an address whose /24 is full in its bucket (IP limits)
/// keeps its old endpoint, and is not counted as seen at the new one.
#[test]
fn a_node_seen_where_the_ip_limits_keep_it_out_is_not_refreshed() {
    let ours = addr("1.1.1.1:30303");
    let moved = addr("5.5.5.1:30303");
    let our_id = record(&key(1), ours).node_id();
    let distance = |b: u8| our_id.log2_distance(&record(&key(b), ours).node_id());
    // Two nodes in the same bucket as the moving node (key 2), both in 9.9.9.0/24.
    let same: Vec<u8> = (3..=255u8)
        .filter(|b| distance(*b) == distance(2))
        .take(2)
        .collect();
    let (q1, q2) = (addr("9.9.9.1:30303"), addr("9.9.9.2:30303"));
    let mut net = Net::new(vec![
        (ours, node(1, ours)),
        (moved, node(2, moved)),
        (q1, node(same[0], q1)),
        (q2, node(same[1], q2)),
    ]);
    let now = start();
    for peer in [moved, q1, q2] {
        let record = net.node(peer).local_record();
        net.node(ours).ping(now, record);
    }
    net.deliver(now);
    let id = record(&key(2), moved).node_id();
    let before = net.node(ours).table().get(&id).unwrap().clone();
    assert_eq!(net.node(ours).table().len(), 3);

    // The node (same key) now pings from 9.9.9.3: we bond with it there, and it answers.
    let now = now + Duration::from_secs(5);
    let there = addr("9.9.9.3:30303");
    net.nodes.remove(&moved);
    net.nodes.insert(there, node(2, there));
    net.node(there).ping(now, record(&key(1), ours));
    net.deliver(now);
    assert!(
        net.sent
            .iter()
            .any(|(from, t)| *from == ours && t.dst == there)
    );

    let after = net.node(ours).table().get(&id).unwrap();
    assert_eq!(after.value.record.ip, moved.ip());
    assert_eq!(after.value.liveness, before.value.liveness);
    assert_eq!(after.last_seen, before.last_seen);
    assert!(
        !net.events
            .iter()
            .any(|(at, e)| *at == ours && matches!(e, Event::NodeUpdated(_)))
    );
}

/// The wall clock can be set again (NTP steps it; a suspend stops the monotonic clock): our
/// expirations follow it, and a packet it has expired is dropped.
#[test]
fn expirations_follow_the_wall_clock_when_it_is_set() {
    let (ours, peer) = (addr("10.0.0.1:30303"), addr("10.0.0.2:30303"));
    let mut node = node(1, ours);
    let now = start();
    let an_hour_on = UNIX + 3600;
    node.set_unix_time(now, an_hour_on);
    // Valid for 20 s by the first clock, long expired by the new one: no Pong.
    node.handle_datagram(now, peer, &ping_packet(&key(2), peer, ours));
    assert!(sent_to(&mut node, peer).is_empty());
    // Our Ping expires 20 s after the new time.
    node.ping(now, record(&key(2), peer));
    let expirations: Vec<u64> = sent_to(&mut node, peer)
        .into_iter()
        .filter_map(|p| match p.message {
            Message::Ping(ping) => Some(ping.expiration),
            _ => None,
        })
        .collect();
    assert_eq!(expirations, [an_hour_on + 20]);
}

/// A node that lost its bond with us (a restart) drops our ENRRequest although we hold a live
/// bond with it. The retry pings it, and the bond is made again (its ping-back answered)
/// before the request goes again: with two attempts, the second gets the answer.
#[test]
fn a_retry_after_the_node_forgot_us_bonds_again_first() {
    let (a, b) = (addr("10.0.0.1:30303"), addr("10.0.0.2:30303"));
    let config = Config {
        request_attempts: 2,
        // No revalidation Ping meanwhile, which would make the bond again by itself.
        revalidate_interval: Duration::from_secs(3600),
        ..Config::default()
    };
    let mut net = Net::new(vec![(a, node_with(1, a, config)), (b, node(2, b))]);
    let now = start();
    let b_record = net.node(b).local_record();
    net.node(a).ping(now, b_record);
    net.deliver(now);
    // A minute later B restarts: same key and address, no bonds.
    let later = now + Duration::from_secs(60);
    net.nodes.insert(b, node(2, b));
    net.events.clear();
    let id = net.node(a).request_enr(later, b_record);
    net.run_until(later, later + Duration::from_secs(30));
    let result = net.events.iter().find_map(|(at, event)| match event {
        Event::EnrResult {
            id: got, result, ..
        } if *at == a && *got == id => Some(result.clone()),
        _ => None,
    });
    assert!(
        matches!(result, Some(Ok(ref enr)) if enr.node_id() == b_record.node_id()),
        "{result:?}"
    );
}

/// An `eth` entry set in our record is served to a node asking for it, and stays when a
/// predicted address changes the endpoint; the address keys stay the endpoint's.
#[test]
fn entries_set_in_our_record_are_served_and_kept() {
    let (a, b) = (addr("10.0.0.1:30303"), addr("10.0.0.2:30303"));
    let mut net = Net::new(vec![(a, node(1, a)), (b, node(2, b))]);
    let now = start();
    let fork_id = ([0xfc_u8, 0x64, 0xec, 0x04], 1_150_000u64);
    let eth = devp2p_rlp_codec::encode_to_vec(&vec![fork_id.0.to_vec()]);
    let before = net.node(a).local_enr().seq();
    net.node(a)
        .update_enr(|builder| {
            builder.set("eth", &vec![fork_id.0.to_vec()]).remove("udp");
        })
        .unwrap();
    let record = net.node(a).local_enr().clone();
    assert_eq!(record.seq(), before + 1);
    assert_eq!(record.get_raw("eth"), Some(&eth[..]));
    assert_eq!(
        record.udp(),
        Some(a.port()),
        "the endpoint's keys are put back"
    );
    // The same change again changes nothing.
    net.node(a)
        .update_enr(|builder| {
            builder.set("eth", &vec![fork_id.0.to_vec()]);
        })
        .unwrap();
    assert_eq!(net.node(a).local_enr().seq(), before + 1);
    let a_record = net.node(a).local_record();
    let id = net.node(b).request_enr(now, a_record);
    net.run_until(now, now + Duration::from_secs(5));
    let served = net.events.iter().find_map(|(at, event)| match event {
        Event::EnrResult {
            id: got, result, ..
        } if *at == b && *got == id => result.clone().ok(),
        _ => None,
    });
    assert_eq!(served, Some(record));
    net.node(a)
        .set_endpoint(endpoint(addr("10.0.0.9:30303")))
        .unwrap();
    let moved = net.node(a).local_enr().clone();
    assert_eq!(moved.ip(), Some([10, 0, 0, 9].into()));
    assert_eq!(moved.get_raw("eth"), Some(&eth[..]));
}

/// A node given with an IPv4-mapped address (`::ffff:10.0.0.2`) is the node at 10.0.0.2: its
/// Pong, which comes from 10.0.0.2, answers the Ping.
#[test]
fn a_node_given_with_a_mapped_address_answers() {
    let (a, b) = (addr("10.0.0.1:30303"), addr("10.0.0.2:30303"));
    let mut net = Net::new(vec![(a, node(1, a)), (b, node(2, b))]);
    let now = start();
    let mut mapped = net.node(b).local_record();
    mapped.ip = addr("[::ffff:10.0.0.2]:30303").ip();
    let id = net.node(a).ping(now, mapped);
    net.run_until(now, now + Duration::from_secs(5));
    let result = net.events.iter().find_map(|(at, event)| match event {
        Event::PingResult {
            id: got, result, ..
        } if *at == a && *got == id => Some(result.clone()),
        _ => None,
    });
    assert!(matches!(result, Some(Ok(_))), "{result:?}");
}

/// A node whose record we fetched announces a newer one (its Pong to our revalidation Ping
/// carries a higher sequence number): we fetch it again, as go-ethereum's revalidation does,
/// and the table keeps the new one. (Its endpoint changes too, as its TCP port does: the
/// fetched record must survive that until the new one comes.)
#[test]
fn a_newer_record_seen_on_revalidation_is_fetched() {
    let (mut net, a, b, b_record) = a_pinged_b();
    let now = start();
    let id = net.node(a).request_enr(now, b_record);
    net.deliver(now);
    assert!(net.events.iter().any(|(at, e)| *at == a
        && matches!(e, Event::EnrResult { id: got, result: Ok(_), .. } if *got == id)));
    let b_id = b_record.node_id();
    let old_seq = net
        .node(a)
        .table()
        .get(&b_id)
        .unwrap()
        .value
        .enr
        .as_ref()
        .unwrap()
        .seq();
    // B's record changes (its TCP port).
    net.node(b)
        .set_endpoint(Endpoint {
            ip: b.ip(),
            udp_port: b.port(),
            tcp_port: 30304,
        })
        .unwrap();
    let new_seq = net.node(b).local_enr().seq();
    assert!(new_seq > old_seq);
    net.events.clear();
    net.run_until(now, now + Duration::from_secs(12));
    let entry = net.node(a).table().get(&b_id).unwrap();
    assert_eq!(entry.value.enr.as_ref().map(Enr::seq), Some(new_seq));
    // Only the table learned it: no answer to a request nobody made.
    assert!(
        !net.events
            .iter()
            .any(|(at, e)| *at == a && matches!(e, Event::EnrResult { .. })),
        "{:?}",
        net.events
    );
}

/// The nodes of a local devnet all send from 127.0.0.1: loopback is not held to the per-IP
/// burst that a remote address is.
#[test]
fn loopback_sources_share_no_rate_limit() {
    let ours_at = addr("127.0.0.1:30303");
    let now = start();
    let mut ours = node(1, ours_at);
    let burst = Config::default().rate_limit_burst as usize;
    let answered = (0..burst + 50)
        .filter(|&i| {
            let from = addr(&format!("127.0.0.1:{}", 1000 + i));
            pinged(
                &mut ours,
                now,
                ours_at,
                from,
                10 + (i % 200) as u8,
                i as u64,
            )
        })
        .count();
    assert_eq!(answered, burst + 50);
}
