//! What the `discv4` and `discv5` commands share: their flags, the key and socket set-up, the
//! crawl's clock and listing, and the event watch of `listen`.
// A command-line driver: it owns the runtime, the clock and the OS randomness.
#![allow(clippy::disallowed_methods)]

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use clap::Args as ClapArgs;
use devp2p_enr::SigningKey;
use k256::elliptic_curve::Generate;
use serde_json::{Value, json};
use tokio::{net::UdpSocket, sync::broadcast, time::timeout};

use crate::CmdResult;

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

impl Common {
    /// The bootnodes given, blanks left out.
    pub(crate) fn bootnodes(&self) -> impl Iterator<Item = &str> {
        self.bootnodes
            .iter()
            .map(|b| b.trim())
            .filter(|b| !b.is_empty())
    }
}

#[derive(Debug, ClapArgs)]
pub(crate) struct NodeArgs {
    /// The node: an `enr:…` record (discv4 also takes an `enode://…` URL), with an IP and a
    /// UDP port.
    pub(crate) node: String,
    /// Seconds allowed.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) timeout: u64,
    #[command(flatten)]
    pub(crate) common: Common,
}

#[derive(Debug, ClapArgs)]
pub(crate) struct CrawlArgs {
    /// Seconds to crawl for.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) timeout: u64,
    /// Write the nodes found to this file as JSON.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) common: Common,
}

#[derive(Debug, ClapArgs)]
pub(crate) struct ListenArgs {
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) timeout: Option<u64>,
    #[command(flatten)]
    pub(crate) common: Common,
}

/// Runs a command on a single-threaded runtime.
pub(crate) fn block_on(command: impl Future<Output = CmdResult>) -> CmdResult {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(command)
}

/// Our key, a bound socket, and the address to announce: `--extaddr`, else the listen address,
/// else (listening on an unspecified address) the local address that routes toward `toward`.
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

/// Random bytes, for lookup targets.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // Without OS randomness the walk is still a walk, over a fixed target.
    let _ = getrandom::fill(&mut bytes);
    bytes
}

/// A crawl: random lookups until its deadline, progress on stderr every 5 s, and the nodes
/// found (by node id, as JSON objects).
pub(crate) struct Crawl {
    started: Instant,
    deadline: Instant,
    lookups: u64,
    last_report: Instant,
    pub(crate) found: BTreeMap<String, Value>,
}

impl Crawl {
    /// A crawl of `args`; an error when it has no bootnodes to start from.
    pub(crate) fn new(args: &CrawlArgs) -> Result<Self, String> {
        if args.common.bootnodes().next().is_none() {
            return Err("crawl needs --bootnodes".to_owned());
        }
        let started = Instant::now();
        Ok(Self {
            started,
            deadline: started + Duration::from_secs(args.timeout),
            lookups: 0,
            last_report: started,
            found: BTreeMap::new(),
        })
    }

    /// The time left, `None` once the deadline has passed.
    pub(crate) fn time_left(&self) -> Option<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// Counts a finished lookup.
    pub(crate) fn lookup_done(&mut self) {
        self.lookups += 1;
    }

    /// Reports progress when 5 s have passed since the last report.
    pub(crate) fn report(&mut self) {
        if self.last_report.elapsed() >= Duration::from_secs(5) {
            self.last_report = Instant::now();
            eprintln!(
                "crawl: {:.0} s, {} lookups, {} nodes",
                self.started.elapsed().as_secs_f64(),
                self.lookups,
                self.found.len()
            );
        }
    }

    /// Seconds since the crawl started.
    pub(crate) fn seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Writes the listing: to `args.out` as JSON, else to stdout as JSON with `--json`, else
    /// one line per node (the `text_key` field of each).
    pub(crate) fn finish(self, args: &CrawlArgs, text_key: &str) -> CmdResult {
        eprintln!(
            "crawl: done, {} lookups, {} nodes",
            self.lookups,
            self.found.len()
        );
        let write = |file: &Path, listing: &Value| {
            std::fs::write(file, format!("{listing:#}\n"))
                .map_err(|e| format!("cannot write {}: {e}", file.display()))
        };
        match &args.out {
            Some(file) => write(file, &Value::Object(self.found.into_iter().collect()))?,
            None if args.common.json => {
                println!("{}", Value::Object(self.found.into_iter().collect()));
            }
            None => {
                for value in self.found.values() {
                    println!(
                        "{}",
                        value
                            .get(text_key)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                    );
                }
            }
        }
        Ok(())
    }
}

/// Hands each event to `on_event` until the node stops or `seconds` pass (forever when
/// `None`); events missed by a slow reader are skipped.
pub(crate) async fn watch<E: Clone>(
    mut events: broadcast::Receiver<E>,
    seconds: Option<u64>,
    mut on_event: impl FnMut(E),
) {
    let watching = async {
        loop {
            match events.recv().await {
                Ok(event) => on_event(event),
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    };
    match seconds {
        Some(seconds) => {
            let _ = timeout(Duration::from_secs(seconds), watching).await;
        }
        None => watching.await,
    }
}

/// Prints a table change: `added <node>` or, as JSON, `{"event": "added", key: node}`.
pub(crate) fn print_event(what: &str, key: &str, node: &str, as_json: bool) {
    if as_json {
        println!("{}", json!({ "event": what, key: node }));
    } else {
        println!("{what} {node}");
    }
}
