//! `devp2p discv4 …`: Node Discovery v4 from the command line: ping a node, fetch its record,
//! resolve its current address, crawl the network, or run a node.
// A command-line driver: it owns the runtime, the clock and the OS randomness.
#![allow(clippy::disallowed_methods)]

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use clap::Subcommand;
use devp2p_discv4::{Config, Discv4Handle, DriverError, Endpoint, Event, NodeRecord, PeerId};
use devp2p_enr::Enr;
use serde_json::json;
use tokio::time::timeout;

use crate::{
    CmdResult,
    discovery::{
        Common, Crawl, CrawlArgs, ListenArgs, NodeArgs, bind, block_on, print_event, random_bytes,
        watch,
    },
};

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

pub(crate) fn run(command: Discv4Command) -> CmdResult {
    block_on(async {
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

/// Starts our node: key, socket, announced endpoint; adds the bootnodes.
async fn start(
    common: &Common,
    first_contact: Option<&NodeRecord>,
) -> Result<Discv4Handle, String> {
    let bootnodes = common
        .bootnodes()
        .map(parse_node)
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
    let node = start(&args.common, Some(&target)).await?;
    if args.common.bootnodes().next().is_none() {
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
    let mut crawl = Crawl::new(args)?;
    let node = start(&args.common, None).await?;
    let mut events = node.events();
    while let Some(left) = crawl.time_left() {
        if let Ok(Ok(nodes)) = timeout(left, node.lookup(PeerId(random_bytes()))).await {
            crawl.lookup_done();
            for n in nodes {
                record_node(&mut crawl, &n);
            }
        }
        while let Ok(event) = events.try_recv() {
            if let Event::NodeAdded(n) = event {
                record_node(&mut crawl, &n);
            }
        }
        crawl.report();
    }
    for entry in node.table().await.map_err(|e| e.to_string())? {
        record_node(&mut crawl, &entry.record);
    }
    crawl.finish(args, "enode")
}

fn record_node(crawl: &mut Crawl, node: &NodeRecord) {
    let seconds = crawl.seconds();
    crawl
        .found
        .entry(node.node_id().to_string())
        .or_insert_with(|| json!({ "enode": node.to_string(), "first_seen_s": seconds }));
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
    let as_json = args.common.json;
    watch(node.events(), args.timeout, |event| match event {
        Event::NodeAdded(n) => print_event("added", "enode", &n.to_string(), as_json),
        Event::NodeRemoved(n) => print_event("removed", "enode", &n.to_string(), as_json),
        Event::ExternalAddress(addr) if !as_json => println!("external address {addr}"),
        _ => {}
    })
    .await;
    Ok(())
}
