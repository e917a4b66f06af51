//! `devp2p discv5 …`: Node Discovery v5 from the command line: ping a node, resolve its newest
//! record, crawl the network, or run a node. Flags as the discv4 commands.
// A command-line driver: it owns the runtime, the clock and the OS randomness.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use clap::Subcommand;
use devp2p_discv5::{Config, Discv5Handle, DriverError, Enr, Event, NodeId, udp_addr, udp_addr_in};
use serde_json::{Value, json};
use tokio::time::timeout;

use crate::{
    CmdResult,
    discovery::{
        Common, Crawl, CrawlArgs, ListenArgs, NodeArgs, announce_note, bind, block_on, print_event,
        print_external, random_bytes, watch,
    },
};

#[derive(Debug, Subcommand)]
pub(crate) enum Discv5Command {
    /// Pings a node (after the handshake) and prints its PONG.
    Ping(NodeArgs),
    /// Prints a node's newest record: from the node itself (FINDNODE at distance 0), or found through
    /// the bootnodes.
    Resolve(NodeArgs),
    /// Walks the network with random lookups and lists every record found.
    Crawl(CrawlArgs),
    /// Runs a discovery node; prints its record first, then the nodes it adds and drops.
    Listen(ListenArgs),
}

pub(crate) fn run(command: Discv5Command) -> CmdResult {
    block_on(async {
        match command {
            Discv5Command::Ping(args) => ping(&args).await,
            Discv5Command::Resolve(args) => resolve(&args).await,
            Discv5Command::Crawl(args) => crawl(&args).await,
            Discv5Command::Listen(args) => listen(&args).await,
        }
    })
}

/// A record with a UDP address.
fn parse_record(text: &str) -> Result<Enr, String> {
    if crate::discovery::is_enode(text) {
        return Err(format!(
            "discv5 needs a node record (enr:…), not an enode URL: {:?}",
            text.trim()
        ));
    }
    let record = Enr::parse_any(text.trim())
        .map_err(|e| format!("invalid record {:?}: {e}", text.trim()))?;
    match udp_addr(&record) {
        None => Err(format!(
            "the record {:?} has no IP address with a UDP port",
            text.trim()
        )),
        Some(addr) if addr.port() == 0 => {
            Err(format!("the record {:?} has UDP port 0", text.trim()))
        }
        Some(_) => Ok(record),
    }
}

/// Starts our node and adds the bootnodes.
async fn start(common: &Common, first_contact: Option<&Enr>) -> Result<Discv5Handle, String> {
    let bootnodes = common
        .bootnodes()
        .map(parse_record)
        .collect::<Result<Vec<_>, _>>()?;
    let toward = first_contact
        .or(bootnodes.first())
        .and_then(udp_addr)
        .map(|a| a.ip());
    let (key, socket, announced) = bind(common, toward).await?;
    let mut builder = Enr::builder();
    // Numbered by the time in milliseconds, as go-ethereum numbers a record it has no database
    // for (and as `Discv5Handle::bind` does): a restart with the same key does not set it back.
    #[allow(clippy::disallowed_methods)] // A tool, not a protocol core.
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    builder.seq(millis.max(1)).ip(announced.ip());
    if announced.is_ipv4() {
        builder.udp(announced.port());
    } else {
        builder.udp6(announced.port());
    }
    let record = builder
        .build(&key)
        .map_err(|e| format!("cannot make our record: {e}"))?;
    // A given address is kept; otherwise the one other nodes agree on replaces ours.
    let config = Config {
        update_record: common.extaddr.is_none(),
        ..Config::default()
    };
    let node = Discv5Handle::spawn(socket, key, record, config)
        .map_err(|e| format!("cannot start the node: {e}"))?;
    for bootnode in bootnodes {
        node.add_enr(bootnode).await.map_err(|e| e.to_string())?;
    }
    Ok(node)
}

fn failed(record: &Enr, e: DriverError) -> String {
    let address = udp_addr(record).map_or_else(|| "the node".to_owned(), |a| a.to_string());
    match e {
        DriverError::Request(_) => format!("no answer from {address}"),
        other => format!("{address}: {other}"),
    }
}

async fn ping(args: &NodeArgs) -> CmdResult {
    let target = parse_record(&args.node)?;
    let node = start(&args.common, Some(&target)).await?;
    let started = Instant::now();
    let pong = timeout(Duration::from_secs(args.timeout), node.ping(target.clone()))
        .await
        .map_err(|_| format!("no answer within {} s", args.timeout))?
        .map_err(|e| failed(&target, e))?;
    let rtt = started.elapsed().as_secs_f64() * 1e3;
    if args.common.json {
        let out = json!({ "node_id": target.node_id().to_string(), "rtt_ms": rtt, "enr_seq": pong.enr_seq, "seen_as": pong.seen_as.to_string() });
        out!("{out}");
    } else {
        let from = udp_addr(&target).map(|a| a.to_string()).unwrap_or_default();
        out!(
            "pong from {from} in {rtt:.1} ms (handshake included): enr seq {}, sees us at {}",
            pong.enr_seq,
            pong.seen_as
        );
    }
    Ok(())
}

async fn resolve(args: &NodeArgs) -> CmdResult {
    let target = parse_record(&args.node)?;
    let node = start(&args.common, Some(&target)).await?;
    let id = target.node_id();
    // The node's own record, when it answers FINDNODE [0] at the address of `record`.
    let ask = |record: Enr| async {
        let records = node.find_node(record, vec![0]).await.ok()?;
        records.into_iter().find(|r| r.node_id() == id)
    };
    let address = |record: &Enr| udp_addr(record).map(|a| a.to_string()).unwrap_or_default();
    let found = timeout(Duration::from_secs(args.timeout), async {
        // The node itself first; failing that, the network.
        if let Some(record) = ask(target.clone()).await {
            return Ok(record);
        }
        if args.common.bootnodes().next().is_none() {
            return Err(format!("no answer from {}", address(&target)));
        }
        for _ in 0..3 {
            let Ok(nodes) = node.lookup(id).await else {
                break;
            };
            if let Some(reported) = nodes.into_iter().find(|r| r.node_id() == id) {
                // Lookups also return nodes that never answered: it must answer there.
                return ask(reported.clone()).await.ok_or_else(|| {
                    format!(
                        "found at {}, but the node does not answer there",
                        address(&reported)
                    )
                });
            }
        }
        Err(format!(
            "{id} does not answer at {}, and the bootnodes do not know it",
            address(&target)
        ))
    })
    .await
    .map_err(|_| format!("not resolved within {} s", args.timeout))??;
    let newest = if found.seq() >= target.seq() {
        found
    } else {
        target
    };
    if args.common.json {
        out!(
            "{}",
            json!({ "enr": newest.to_string(), "seq": newest.seq() })
        );
    } else {
        out!("{newest}");
    }
    Ok(())
}

async fn crawl(args: &CrawlArgs) -> CmdResult {
    let mut crawl = Crawl::new(args)?;
    let node = start(&args.common, None).await?;
    let mut events = node.events();
    let check = |record: Enr| {
        let node = node.clone();
        async move { node.ping(record.clone()).await.ok().map(|_| record) }
    };
    while let Some(left) = crawl.time_left() {
        if let Ok(Ok(records)) = timeout(left, node.lookup(NodeId(random_bytes()))).await {
            crawl.lookup_done();
            for record in records {
                let id = record.node_id().to_string();
                if crawl.found.contains_key(&id) {
                    remember(&mut crawl, &record);
                } else {
                    crawl.reported(id, record);
                }
            }
        }
        while let Ok(event) = events.try_recv() {
            // A lookup puts what it finds into the table unproven: a node added is checked
            // like any other it reported.
            if let Event::NodeAdded(record) | Event::NodeUpdated(record) = event {
                crawl.reported(record.node_id().to_string(), record);
            }
        }
        for record in crawl.check(check) {
            remember(&mut crawl, &record);
        }
        crawl.report();
    }
    // Table entries that answered our pings (the others are unproven lookup finds).
    for entry in node.table().await.map_err(|e| e.to_string())? {
        if entry.liveness > 0 {
            remember(&mut crawl, &entry.record);
        }
    }
    crawl.finish(args.common.json, "enr")
}

/// Keeps the newest record of each node that answered.
fn remember(crawl: &mut Crawl<Enr>, record: &Enr) {
    let listed =
        json!({ "enr": record.to_string(), "seq": record.seq(), "first_seen_s": crawl.seconds() });
    let entry = crawl
        .found
        .entry(record.node_id().to_string())
        .or_insert_with(|| listed.clone());
    if entry
        .get("seq")
        .and_then(Value::as_u64)
        .is_some_and(|seq| seq < record.seq())
    {
        *entry = listed;
    }
}

async fn listen(args: &ListenArgs) -> CmdResult {
    let node = start(&args.common, None).await?;
    let me = node.local_enr();
    let announced = udp_addr(&me).unwrap_or_else(|| node.local_addr());
    if let Some(note) = announce_note(&args.common, announced) {
        note!("{note}");
    }
    if args.common.json {
        out!(
            "{}",
            json!({ "enr": me.to_string(), "node_id": me.node_id().to_string() })
        );
    } else {
        out!("{me}");
    }
    let (as_json, fixed) = (args.common.json, args.common.extaddr.is_some());
    let mut announced = announced;
    watch(node.events(), args.timeout, |event| match event {
        Event::NodeAdded(record) => print_event("added", "enr", &record.to_string(), as_json),
        Event::NodeRemoved(record) => print_event("removed", "enr", &record.to_string(), as_json),
        Event::ExternalAddress(seen) => {
            let record = node.local_enr();
            let now = udp_addr_in(&record, seen.is_ipv6()).unwrap_or(announced);
            print_external(seen, announced, now, fixed, as_json);
            if now != announced {
                print_event("record", "enr", &record.to_string(), as_json);
            }
            announced = now;
        }
        _ => {}
    })
    .await;
    Ok(())
}
