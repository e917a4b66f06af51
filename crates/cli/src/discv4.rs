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
use tokio::time::{Instant, timeout, timeout_at};

use crate::{
    CmdResult,
    discovery::{
        Common, Crawl, CrawlArgs, ListenArgs, NodeArgs, announce_note, bind, block_on, print_event,
        print_external, random_bytes, watch,
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
    let node = if crate::discovery::is_enode(text) {
        text.parse()
            .map_err(|e| format!("invalid enode URL {text:?}: {e}"))?
    } else {
        let record = Enr::parse_any(text).map_err(|e| format!("invalid node {text:?}: {e}"))?;
        // IPv6 takes `udp6`, or `udp` when the record has none (EIP-778).
        let ip6_port = record.udp6().or(record.udp());
        let (ip, udp, tcp) = match (record.ip(), record.udp(), record.ip6(), ip6_port) {
            (Some(ip), Some(port), _, _) => (IpAddr::V4(ip), port, record.tcp()),
            (_, _, Some(ip), Some(port)) => (IpAddr::V6(ip), port, record.tcp6().or(record.tcp())),
            _ => {
                return Err(format!(
                    "the record {text:?} has no IP address with a UDP port"
                ));
            }
        };
        NodeRecord {
            id: record.peer_id(),
            ip,
            tcp_port: tcp.unwrap_or(0),
            udp_port: udp,
        }
    };
    if node.udp_port == 0 {
        return Err(format!("the node {text:?} has UDP port 0"));
    }
    Ok(node)
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
    // A given address is kept; otherwise the one other nodes agree on replaces ours.
    let config = Config {
        update_endpoint: common.extaddr.is_none(),
        ..Config::default()
    };
    let node = Discv4Handle::spawn(socket, key, endpoint, config)
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
        out!("{out}");
    } else {
        let seq = pong
            .enr_seq
            .map_or_else(|| "none".to_owned(), |s| s.to_string());
        out!(
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
        out!(
            "{}",
            json!({ "enr": record.to_string(), "seq": record.seq(), "node_id": record.node_id().to_string() })
        );
    } else {
        out!("{record}");
    }
    Ok(())
}

async fn resolve(args: &NodeArgs) -> CmdResult {
    let target = parse_node(&args.node)?;
    let node = start(&args.common, Some(&target)).await?;
    let through_network = args.common.bootnodes().next().is_some();
    if !through_network {
        node.add_bootnode(target).await.map_err(|e| e.to_string())?;
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let too_late = || format!("not resolved within {} s", args.timeout);
    let found = timeout_at(deadline, async {
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
    .map_err(|_| too_late())??;
    let Some(found) = found else {
        return Err(format!("{} not found in the network", target.id.node_id()));
    };
    // Lookups also return nodes that never answered: the node must answer where it was found.
    let record = timeout_at(deadline, node.request_enr(found))
        .await
        .map_err(|_| too_late())?
        .map_err(|e| match e {
            DriverError::Request(_) if through_network => format!(
                "found at {}, but the node does not answer there",
                SocketAddr::new(found.ip, found.udp_port)
            ),
            other => failed(&found, other),
        })?;
    if args.common.json {
        out!(
            "{}",
            json!({ "enode": found.to_string(), "enr": record.to_string() })
        );
    } else {
        out!("{found}");
    }
    Ok(())
}

async fn crawl(args: &CrawlArgs) -> CmdResult {
    let mut crawl = Crawl::new(args)?;
    let node = start(&args.common, None).await?;
    let mut events = node.events();
    let check = |n: NodeRecord| {
        let node = node.clone();
        async move { node.ping(n).await.ok().map(|_| n) }
    };
    while let Some(left) = crawl.time_left() {
        if let Ok(Ok(nodes)) = timeout(left, node.lookup(PeerId(random_bytes()))).await {
            crawl.lookup_done();
            for n in nodes {
                crawl.reported(n.node_id().to_string(), n);
            }
        }
        while let Ok(event) = events.try_recv() {
            // A node enters the table once it proved its endpoint: it answered.
            if let Event::NodeAdded(n) = event {
                record_node(&mut crawl, &n);
            }
        }
        for n in crawl.check(check) {
            record_node(&mut crawl, &n);
        }
        crawl.report();
    }
    for entry in node.table().await.map_err(|e| e.to_string())? {
        record_node(&mut crawl, &entry.record);
    }
    crawl.finish(args.common.json, "enode")
}

fn record_node(crawl: &mut Crawl<NodeRecord>, node: &NodeRecord) {
    let seconds = crawl.seconds();
    crawl
        .found
        .entry(node.node_id().to_string())
        .or_insert_with(|| json!({ "enode": node.to_string(), "first_seen_s": seconds }));
}

async fn listen(args: &ListenArgs) -> CmdResult {
    let node = start(&args.common, None).await?;
    let me = node.local_record();
    let announced = SocketAddr::new(me.ip, me.udp_port);
    if let Some(note) = announce_note(&args.common, announced) {
        note!("{note}");
    }
    if args.common.json {
        out!(
            "{}",
            json!({ "enode": me.to_string(), "enr": node.local_enr().to_string() })
        );
    } else {
        out!("{me}");
    }
    let (as_json, fixed) = (args.common.json, args.common.extaddr.is_some());
    let mut announced = announced;
    watch(node.events(), args.timeout, |event| match event {
        Event::NodeAdded(n) => print_event("added", "enode", &n.to_string(), as_json),
        Event::NodeRemoved(n) => print_event("removed", "enode", &n.to_string(), as_json),
        Event::ExternalAddress(seen) => {
            let me = node.local_record();
            let now = SocketAddr::new(me.ip, me.udp_port);
            print_external(seen, announced, now, fixed, as_json);
            if now != announced {
                print_event("enode", "enode", &me.to_string(), as_json);
            }
            announced = now;
        }
        _ => {}
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    /// An IPv6 record with `udp` and no `udp6` has that port for IPv6 too (EIP-778), as
    /// go-ethereum reads it; an IPv4 address comes first when there is one.
    #[test]
    fn an_ipv6_record_without_udp6_takes_udp() {
        let key = devp2p_discv4::SigningKey::from_slice(&[6; 32]).unwrap();
        let ip6 = Enr::builder()
            .ip6(Ipv6Addr::LOCALHOST)
            .udp(9)
            .tcp(10)
            .build(&key)
            .unwrap();
        let node = parse_node(&ip6.to_string()).unwrap();
        assert_eq!(
            (node.ip, node.udp_port, node.tcp_port),
            (IpAddr::V6(Ipv6Addr::LOCALHOST), 9, 10)
        );
        let both = Enr::builder()
            .ip4([127, 0, 0, 1].into())
            .ip6(Ipv6Addr::LOCALHOST)
            .udp(9)
            .build(&key)
            .unwrap();
        assert_eq!(
            parse_node(&both.to_string()).unwrap().ip,
            IpAddr::from([127, 0, 0, 1])
        );
    }
}
