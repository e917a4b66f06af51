//! What the `discv4` and `discv5` commands share: their flags, the key and socket set-up, the
//! crawl's clock and listing, and the event watch of `listen`.
// A command-line driver: it owns the runtime, the clock and the OS randomness.
#![allow(clippy::disallowed_methods)]

use std::{
    collections::{BTreeMap, HashSet, VecDeque},
    fs::File,
    io::Write,
    net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket},
    path::PathBuf,
    time::{Duration, Instant},
};

use clap::Args as ClapArgs;
use devp2p_enr::SigningKey;
use k256::elliptic_curve::Generate;
use serde_json::{Value, json};
use tokio::{net::UdpSocket, sync::broadcast, task::JoinSet, time::timeout};

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

/// Whether `text` is an enode URL (the scheme in any case, as go-ethereum reads it).
pub(crate) fn is_enode(text: &str) -> bool {
    text.trim()
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("enode://"))
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

/// Nodes a crawl checks at once.
const MAX_CHECKS: usize = 16;

/// A crawl: random lookups until its deadline, progress on stderr every 5 s, and the nodes
/// that answered us (by node id, as JSON objects). Lookups also return nodes that never
/// answered (other nodes reported them), so a reported node is listed only once it answers a
/// check (a ping) or enters our table.
pub(crate) struct Crawl<N> {
    started: Instant,
    deadline: Instant,
    lookups: u64,
    last_report: Instant,
    /// `--out`, created before the crawl so that a bad path fails at once.
    out: Option<(PathBuf, File)>,
    pub(crate) found: BTreeMap<String, Value>,
    /// Node ids lookups reported: checked, being checked, or waiting for a check.
    reported: HashSet<String>,
    unchecked: VecDeque<N>,
    checks: JoinSet<Option<N>>,
}

impl<N: Send + 'static> Crawl<N> {
    /// A crawl of `args`, its `--out` file created; an error when it has no bootnodes to start
    /// from or the file cannot be created.
    pub(crate) fn new(args: &CrawlArgs) -> Result<Self, String> {
        if args.common.bootnodes().next().is_none() {
            return Err("crawl needs --bootnodes".to_owned());
        }
        let out = match &args.out {
            Some(path) => {
                // Opened, not emptied: a crawl that fails leaves an earlier listing there.
                let file = File::options()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                Some((path.clone(), file))
            }
            None => None,
        };
        let started = Instant::now();
        Ok(Self {
            started,
            deadline: started + Duration::from_secs(args.timeout),
            lookups: 0,
            last_report: started,
            out,
            found: BTreeMap::new(),
            reported: HashSet::new(),
            unchecked: VecDeque::new(),
            checks: JoinSet::new(),
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

    /// A node a lookup returned, under its node id: checked later unless already listed.
    pub(crate) fn reported(&mut self, id: String, node: N) {
        if !self.found.contains_key(&id) && self.reported.insert(id) {
            self.unchecked.push_back(node);
        }
    }

    /// Collects the nodes whose checks have answered since the last call, and starts checks
    /// of waiting nodes (at most [`MAX_CHECKS`] at once) with `check`, which yields the node
    /// when it answered.
    pub(crate) fn check<F>(&mut self, check: impl Fn(N) -> F) -> Vec<N>
    where
        F: Future<Output = Option<N>> + Send + 'static,
    {
        let mut answered = Vec::new();
        while let Some(done) = self.checks.try_join_next() {
            if let Ok(Some(node)) = done {
                answered.push(node);
            }
        }
        while self.checks.len() < MAX_CHECKS
            && let Some(node) = self.unchecked.pop_front()
        {
            self.checks.spawn(check(node));
        }
        answered
    }

    /// Reports progress when 5 s have passed since the last report.
    pub(crate) fn report(&mut self) {
        if self.last_report.elapsed() >= Duration::from_secs(5) {
            self.last_report = Instant::now();
            note!(
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

    /// Writes the listing: to the `--out` file as JSON, else to stdout as JSON with `--json`,
    /// else one line per node (the `text_key` field of each). An error when no node answered.
    pub(crate) fn finish(self, as_json: bool, text_key: &str) -> CmdResult {
        let silent = self
            .reported
            .iter()
            .filter(|id| !self.found.contains_key(*id))
            .count();
        note!(
            "crawl: done, {} lookups, {} nodes ({silent} more reported that did not answer in time)",
            self.lookups,
            self.found.len(),
        );
        if self.found.is_empty() {
            return Err("no node answered".to_owned());
        }
        match self.out {
            Some((path, mut file)) => {
                let listing = Value::Object(self.found.into_iter().collect());
                file.set_len(0)
                    .and_then(|()| writeln!(file, "{listing:#}"))
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            None if as_json => {
                out!("{}", Value::Object(self.found.into_iter().collect()));
            }
            None => {
                for value in self.found.values() {
                    out!(
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

/// What `listen` says about the address it announces when it had to pick one (listening on an
/// unspecified address without `--extaddr`); `None` otherwise. The node replaces it with the
/// address other nodes agree they see it at, when that differs.
pub(crate) fn announce_note(common: &Common, announced: SocketAddr) -> Option<String> {
    if common.extaddr.is_some() || !common.addr.ip().is_unspecified() {
        return None;
    }
    let guess = if announced.ip().is_loopback() {
        "a loopback address: only this host can reach it"
    } else {
        "this host's address toward the first bootnode, which a NAT may hide"
    };
    Some(format!(
        "note: listening on {}, announcing {announced}, {guess}, until other nodes agree they see us elsewhere; give --extaddr IP:PORT to announce a fixed one",
        SocketAddr::new(common.addr.ip(), announced.port())
    ))
}

/// Prints the external address other nodes agree they see us at: `before` is the address we
/// announced until then, `after` the one we announce now (of `seen`'s address family). The
/// node takes the seen one into its record once enough nodes agree, unless `--extaddr` fixed
/// the address (`fixed`).
pub(crate) fn print_external(
    seen: SocketAddr,
    before: SocketAddr,
    after: SocketAddr,
    fixed: bool,
    as_json: bool,
) {
    if as_json {
        out!(
            "{}",
            json!({ "event": "external address", "address": seen.to_string(), "announced": after.to_string() })
        );
    } else if seen != after && fixed {
        out!(
            "external address {seen} (other nodes see us there; announcing {after}, fixed by --extaddr)"
        );
    } else if seen != after {
        out!(
            "external address {seen} (other nodes see us there; announcing {after} until {UPDATE_QUORUM} of them agree)"
        );
    } else if seen != before {
        out!("external address {seen} (announced from now on, in place of {before})");
    } else {
        out!("external address {seen} (as announced)");
    }
}

/// How many nodes must agree on our address before the node announces it (the discovery
/// crates' default `min_update_votes`).
const UPDATE_QUORUM: usize = 10;

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
        out!("{}", json!({ "event": what, key: node }));
    } else {
        out!("{what} {node}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(addr: &str, extaddr: Option<&str>) -> Common {
        Common {
            bootnodes: Vec::new(),
            nodekey: None,
            addr: addr.parse().unwrap(),
            extaddr: extaddr.map(|a| a.parse().unwrap()),
            json: false,
        }
    }

    #[test]
    fn listen_says_when_the_announced_address_is_a_guess() {
        let loopback = "127.0.0.1:4000".parse().unwrap();
        let note = announce_note(&common("0.0.0.0:0", None), loopback).unwrap();
        assert_eq!(
            note,
            "note: listening on 0.0.0.0:4000, announcing 127.0.0.1:4000, a loopback address: \
             only this host can reach it, until other nodes agree they see us elsewhere; give \
             --extaddr IP:PORT to announce a fixed one"
        );
        let routed = "192.0.2.1:4000".parse().unwrap();
        let note = announce_note(&common("[::]:0", None), routed).unwrap();
        assert!(note.contains("toward the first bootnode"), "{note}");
        // Chosen addresses are no guess.
        assert_eq!(announce_note(&common("127.0.0.1:0", None), loopback), None);
        let given = Some("192.0.2.1:4000");
        assert_eq!(announce_note(&common("0.0.0.0:0", given), routed), None);
    }
}
