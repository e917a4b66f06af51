//! `devp2p discv4 …`: Node Discovery v4 from the command line: ping a node, fetch its record,
//! resolve its current address, crawl the network, or run a node.
// A command-line driver: it owns the runtime, the clock and the OS randomness.
#![allow(clippy::disallowed_methods)]

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket},
    path::PathBuf,
    time::{Duration, Instant},
};

use clap::{Args as ClapArgs, Subcommand};
use devp2p_discv4::{
    Config, Discv4Handle, DriverError, Endpoint, Event, NodeRecord, PeerId, SigningKey,
};
use devp2p_enr::Enr;
use k256::elliptic_curve::Generate;
use serde_json::{Value, json};
use tokio::{net::UdpSocket, time::timeout};

use crate::CmdResult;

#[derive(Debug, Subcommand)]
pub(crate) enum Discv4Command {
    /// Pings a node and prints its Pong.
    Ping(NodeArgs),
    /// Asks a node for its node record (EIP-868) and prints it.
    Requestenr(NodeArgs),
    /// Finds a node's current address through the network (bootnodes, else the node itself).
    Resolve(NodeArgs),
    /// Walks the network with random lookups and lists every node found.
    Crawl(CrawlArgs),
    /// Runs a discovery node; prints its enode URL first, then the nodes it adds and drops.
    Listen(ListenArgs),
}

/// Flags every subcommand takes.
#[derive(Debug, ClapArgs)]
pub(crate) struct Common {
    /// Bootnodes: comma-separated enode URLs or records (discv5: records).
    #[arg(long, value_delimiter = ',')]
    pub(crate) bootnodes: Vec<String>,
    /// Node key file (64 hex characters); a new random key when absent.
    #[arg(long, value_name = "FILE")]
    pub(crate) nodekey: Option<PathBuf>,
    /// UDP address to listen on (port 0: any free port).
    #[arg(long, default_value = "0.0.0.0:0")]
    pub(crate) addr: SocketAddr,
    /// The address to announce (default: the listen address, or when that is unspecified the
    /// local address that routes to the first node we talk to).
    #[arg(long, value_name = "IP:PORT")]
    pub(crate) extaddr: Option<SocketAddr>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, ClapArgs)]
pub(crate) struct NodeArgs {
    /// The node: `enode://…` URL or `enr:…` record (with an IP and a UDP port).
    node: String,
    /// Seconds allowed.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, ClapArgs)]
pub(crate) struct CrawlArgs {
    /// Seconds to crawl for.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// Write the nodes found to this file as JSON.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, ClapArgs)]
pub(crate) struct ListenArgs {
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: Option<u64>,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(command: Discv4Command) -> CmdResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        match command {
            Discv4Command::Ping(args) => ping(&args).await,
            Discv4Command::Requestenr(args) => request_enr(&args).await,
            Discv4Command::Resolve(args) => resolve(&args).await,
            Discv4Command::Crawl(args) => crawl(&args).await,
            Discv4Command::Listen(args) => listen(&args).await,
        }
    })
}

/// An enode URL or a record with an IP and a UDP port, as a discovery address.
fn parse_node(text: &str) -> Result<NodeRecord, String> {
    let text = text.trim();
    if text.starts_with("enode://") {
        return text
            .parse()
            .map_err(|e| format!("invalid enode URL {text:?}: {e}"));
    }
    let record = Enr::parse_any(text).map_err(|e| format!("invalid node {text:?}: {e}"))?;
    let (ip, udp, tcp) = match (record.ip(), record.udp(), record.ip6(), record.udp6()) {
        (Some(ip), Some(port), _, _) => (IpAddr::V4(ip), port, record.tcp()),
        (_, _, Some(ip), Some(port)) => (IpAddr::V6(ip), port, record.tcp6()),
        _ => {
            return Err(format!(
                "the record {text:?} has no IP address with a UDP port"
            ));
        }
    };
    Ok(NodeRecord {
        id: record.peer_id(),
        ip,
        tcp_port: tcp.unwrap_or(0),
        udp_port: udp,
    })
}

/// Our key, a bound socket, and the address to announce: `--extaddr`, else the listen address,
/// else (listening on an unspecified address) the local address that routes toward `toward`.
/// Shared by the discv4 and discv5 commands.
pub(crate) async fn bind(
    common: &Common,
    toward: Option<IpAddr>,
) -> Result<(SigningKey, UdpSocket, SocketAddr), String> {
    let key = match &common.nodekey {
        Some(file) => crate::key::load(file)?,
        None => SigningKey::try_generate().map_err(|e| format!("no randomness for a key: {e}"))?,
    };
    let socket = UdpSocket::bind(common.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", common.addr))?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let announced = match common.extaddr {
        Some(ext) => ext,
        None if local.ip().is_unspecified() => {
            let ip = toward
                .and_then(route_ip)
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            SocketAddr::new(ip, local.port())
        }
        None => local,
    };
    Ok((key, socket, announced))
}

/// Starts our node: key, socket, announced endpoint; adds the bootnodes.
async fn start(
    common: &Common,
    first_contact: Option<&NodeRecord>,
) -> Result<Discv4Handle, String> {
    let bootnodes = common
        .bootnodes
        .iter()
        .filter(|b| !b.trim().is_empty())
        .map(|b| parse_node(b))
        .collect::<Result<Vec<_>, _>>()?;
    let toward = first_contact.or(bootnodes.first()).map(|n| n.ip);
    let (key, socket, announced) = bind(common, toward).await?;
    let endpoint = Endpoint {
        ip: announced.ip(),
        udp_port: announced.port(),
        tcp_port: 0,
    };
    let node = Discv4Handle::spawn(socket, key, endpoint, Config::default())
        .map_err(|e| format!("cannot start the node: {e}"))?;
    for bootnode in bootnodes {
        node.add_bootnode(bootnode)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(node)
}

/// The local IP the OS would send from to reach `ip` (no packet is sent).
fn route_ip(ip: IpAddr) -> Option<IpAddr> {
    let any: SocketAddr = if ip.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        "[::]:0".parse().ok()?
    };
    let probe = StdUdpSocket::bind(any).ok()?;
    probe.connect(SocketAddr::new(ip, 9)).ok()?;
    probe.local_addr().ok().map(|a| a.ip())
}

fn failed(node: &NodeRecord, e: DriverError) -> String {
    let address = SocketAddr::new(node.ip, node.udp_port);
    match e {
        DriverError::Request(_) => format!("no answer from {address}"),
        other => format!("{address}: {other}"),
    }
}

async fn ping(args: &NodeArgs) -> CmdResult {
    let target = parse_node(&args.node)?;
    let node = start(&args.common, Some(&target)).await?;
    let limit = Duration::from_secs(args.timeout);
    let pong = timeout(limit, node.ping(target))
        .await
        .map_err(|_| format!("no answer within {} s", args.timeout))?
        .map_err(|e| failed(&target, e))?;
    let seen_as = SocketAddr::new(pong.to.ip, pong.to.udp_port);
    if args.common.json {
        let out = json!({
            "node": target.to_string(),
            "rtt_ms": pong.rtt.as_secs_f64() * 1e3,
            "enr_seq": pong.enr_seq,
            "seen_as": seen_as.to_string(),
        });
        println!("{out}");
    } else {
        let seq = pong
            .enr_seq
            .map_or_else(|| "none".to_owned(), |s| s.to_string());
        println!(
            "pong from {} in {:.1} ms: enr seq {seq}, sees us at {seen_as}",
            SocketAddr::new(target.ip, target.udp_port),
            pong.rtt.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

async fn request_enr(args: &NodeArgs) -> CmdResult {
    let target = parse_node(&args.node)?;
    let node = start(&args.common, Some(&target)).await?;
    let limit = Duration::from_secs(args.timeout);
    let record = timeout(limit, node.request_enr(target))
        .await
        .map_err(|_| format!("no answer within {} s", args.timeout))?
        .map_err(|e| failed(&target, e))?;
    if args.common.json {
        println!(
            "{}",
            json!({ "enr": record.to_string(), "seq": record.seq(), "node_id": record.node_id().to_string() })
        );
    } else {
        println!("{record}");
    }
    Ok(())
}

async fn resolve(args: &NodeArgs) -> CmdResult {
    let target = parse_node(&args.node)?;
    let mut common_bootnodes = args.common.bootnodes.clone();
    common_bootnodes.retain(|b| !b.trim().is_empty());
    let node = start(&args.common, Some(&target)).await?;
    if common_bootnodes.is_empty() {
        node.add_bootnode(target).await.map_err(|e| e.to_string())?;
    }
    let limit = Duration::from_secs(args.timeout);
    let found = timeout(limit, async {
        // The first lookup may run before any bootnode answered; a few rounds settle it.
        for _ in 0..3 {
            let nodes = node.lookup(target.id).await.map_err(|e| e.to_string())?;
            if let Some(found) = nodes.into_iter().find(|n| n.id == target.id) {
                return Ok::<_, String>(Some(found));
            }
        }
        Ok(None)
    })
    .await
    .map_err(|_| format!("not resolved within {} s", args.timeout))??;
    let Some(found) = found else {
        return Err(format!("{} not found in the network", target.id.node_id()));
    };
    // A node that answers at the address found is what was asked for.
    let record = timeout(limit, node.request_enr(found))
        .await
        .ok()
        .and_then(Result::ok);
    if args.common.json {
        println!(
            "{}",
            json!({ "enode": found.to_string(), "enr": record.map(|r| r.to_string()) })
        );
    } else {
        println!("{found}");
    }
    Ok(())
}

async fn crawl(args: &CrawlArgs) -> CmdResult {
    if args.common.bootnodes.iter().all(|b| b.trim().is_empty()) {
        return Err("crawl needs --bootnodes".to_owned());
    }
    let node = start(&args.common, None).await?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout);
    let mut found: BTreeMap<String, Value> = BTreeMap::new();
    let mut events = node.events();
    let mut lookups = 0u64;
    let mut last_report = Instant::now();
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        let target = PeerId(random_bytes());
        if let Ok(Ok(nodes)) = timeout(left, node.lookup(target)).await {
            lookups += 1;
            for n in nodes {
                record_node(&mut found, &n, started);
            }
        }
        while let Ok(event) = events.try_recv() {
            if let Event::NodeAdded(n) = event {
                record_node(&mut found, &n, started);
            }
        }
        if last_report.elapsed() >= Duration::from_secs(5) {
            last_report = Instant::now();
            eprintln!(
                "crawl: {:.0} s, {lookups} lookups, {} nodes",
                started.elapsed().as_secs_f64(),
                found.len()
            );
        }
    }
    for entry in node.table().await.map_err(|e| e.to_string())? {
        record_node(&mut found, &entry.record, started);
    }
    eprintln!("crawl: done, {lookups} lookups, {} nodes", found.len());
    let listing = Value::Object(found.into_iter().collect());
    match &args.out {
        Some(file) => std::fs::write(file, format!("{listing:#}\n"))
            .map_err(|e| format!("cannot write {}: {e}", file.display()))?,
        None if args.common.json => println!("{listing}"),
        None => {
            if let Value::Object(map) = &listing {
                for value in map.values() {
                    println!("{}", value["enode"].as_str().unwrap_or_default());
                }
            }
        }
    }
    Ok(())
}

fn record_node(found: &mut BTreeMap<String, Value>, node: &NodeRecord, started: Instant) {
    found.entry(node.node_id().to_string()).or_insert_with(
        || json!({ "enode": node.to_string(), "first_seen_s": started.elapsed().as_secs() }),
    );
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // Without OS randomness the walk is still a walk, over a fixed target.
    let _ = getrandom::fill(&mut bytes);
    bytes
}

async fn listen(args: &ListenArgs) -> CmdResult {
    let node = start(&args.common, None).await?;
    let me = node.local_record();
    if args.common.json {
        println!(
            "{}",
            json!({ "enode": me.to_string(), "enr": node.local_enr().to_string() })
        );
    } else {
        println!("{me}");
    }
    let mut events = node.events();
    let watching = async {
        loop {
            match events.recv().await {
                Ok(Event::NodeAdded(n)) => print_event("added", &n, args.common.json),
                Ok(Event::NodeRemoved(n)) => print_event("removed", &n, args.common.json),
                Ok(Event::ExternalAddress(addr)) if !args.common.json => {
                    println!("external address {addr}")
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    };
    match args.timeout {
        Some(seconds) => {
            let _ = timeout(Duration::from_secs(seconds), watching).await;
        }
        None => watching.await,
    }
    Ok(())
}

fn print_event(what: &str, node: &NodeRecord, as_json: bool) {
    if as_json {
        println!("{}", json!({ "event": what, "enode": node.to_string() }));
    } else {
        println!("{what} {node}");
    }
}
