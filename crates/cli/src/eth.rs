//! `devp2p eth status` (a node's Status, checked against ours) and `devp2p eth serve` (a chain
//! served over eth/68, 69 and 70).
// A command-line driver: it owns the runtime, the clock, the sockets and the OS randomness.
#![allow(clippy::disallowed_methods)]

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use alloy_primitives::U256;
use clap::{Args as ClapArgs, Subcommand};
use devp2p_enr::{NodeRecord, PeerId};
use devp2p_eth_wire::{
    ChainReader, ChainSpec, EthError, EthStream, LocalStatus, MemoryChain, Status, respond,
};
use devp2p_p2p_capability::{Config, DisconnectReason, NodeInfo, P2pStream};
use devp2p_rlpx_framing::{NodeKey, RlpxStream};
use k256::{SecretKey, elliptic_curve::Generate};
use rand_core::UnwrapErr;
use serde_json::{Value, json};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    time::timeout,
};

use crate::CmdResult;

#[derive(Debug, Subcommand)]
pub(crate) enum EthCommand {
    /// Exchanges Status with a node and prints its Status.
    Status(StatusArgs),
    /// Serves a chain (a directory with genesis.json and chain.rlp) over eth/68, 69 and 70.
    Serve(ServeArgs),
}

#[derive(Debug, ClapArgs)]
pub(crate) struct StatusArgs {
    /// The node: `enode://…` URL or `enr:…` record.
    node: String,
    /// Our chain: mainnet, sepolia, holesky or hoodi (as an unsynced node at genesis).
    #[arg(long, default_value = "mainnet", conflicts_with = "chain")]
    network: String,
    /// Our chain from a directory with genesis.json and chain.rlp, at its head.
    #[arg(long, value_name = "DIR")]
    chain: Option<PathBuf>,
    /// Seconds allowed for the whole exchange.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, ClapArgs)]
pub(crate) struct ServeArgs {
    /// A directory with genesis.json and chain.rlp (e.g. testdata/ethtest).
    #[arg(long, value_name = "DIR")]
    chain: PathBuf,
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:30303")]
    addr: SocketAddr,
    /// Node key file (64 hex characters); a new random key when absent.
    #[arg(long, value_name = "FILE")]
    nodekey: Option<PathBuf>,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: Option<u64>,
    /// Sessions served at once; a connection beyond them is closed at once.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    max_peers: u32,
}

/// The wait before accepting again after `accept` failed (out of file descriptors, say): the
/// connection that failed stays queued, so an immediate retry would fail again, at full speed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

pub(crate) fn run(command: EthCommand) -> CmdResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    match command {
        EthCommand::Status(args) => runtime.block_on(status(&args)),
        EthCommand::Serve(args) => runtime.block_on(serve(&args)),
    }
}

fn load_chain(dir: &Path) -> Result<MemoryChain, String> {
    let genesis = std::fs::read_to_string(dir.join("genesis.json"))
        .map_err(|e| format!("{}: {e}", dir.join("genesis.json").display()))?;
    let blocks = std::fs::read(dir.join("chain.rlp"))
        .map_err(|e| format!("{}: {e}", dir.join("chain.rlp").display()))?;
    MemoryChain::load(&genesis, &blocks).map_err(|e| format!("{}: {e}", dir.display()))
}

fn local_status(chain: &MemoryChain) -> LocalStatus {
    LocalStatus {
        spec: chain.genesis().spec.clone(),
        head: chain.head(),
        total_difficulty: chain.genesis().header.header.difficulty,
        earliest: chain.earliest(),
    }
}

fn random_key() -> NodeKey {
    NodeKey::new(SecretKey::generate_from_rng(&mut UnwrapErr(
        getrandom::SysRng,
    )))
}

fn node_info(key: &NodeKey, port: u16) -> NodeInfo {
    NodeInfo {
        client_id: format!("devp2p-rs/{}", env!("CARGO_PKG_VERSION")),
        listen_port: port,
        id: *key.id(),
    }
}

async fn status(args: &StatusArgs) -> CmdResult {
    let (id, address) = crate::rlpx::target(&args.node)?;
    let local = match &args.chain {
        Some(dir) => local_status(&load_chain(dir)?),
        None => {
            let spec = ChainSpec::by_name(&args.network)
                .ok_or_else(|| format!("unknown network {:?}", args.network))?;
            // An unsynced node: its head is the genesis, known by hash only.
            let mut head = devp2p_eth_wire::SealedHeader::seal(Default::default());
            head.hash = spec.schedule.genesis_hash;
            head.header.timestamp = spec.schedule.genesis_time;
            LocalStatus {
                spec,
                head,
                total_difficulty: U256::ZERO,
                earliest: 0,
            }
        }
    };
    let limit = Duration::from_secs(args.timeout);
    let outcome = timeout(limit, exchange(id, address, &local, limit))
        .await
        .map_err(|_| format!("no answer from {address} within {} s", args.timeout))??;
    let (version, theirs, refused) = outcome;
    let head = &local.head.header;
    let accepted = local
        .spec
        .fork_filter()
        .validate(theirs.fork_id(), head.number, head.timestamp);
    print_status(
        version,
        &theirs,
        accepted.is_ok(),
        refused.as_deref(),
        args.json,
    );
    match refused {
        None => Ok(()),
        Some(reason) => Err(format!("Status refused: {reason}")),
    }
}

/// Connects, negotiates and exchanges Status: the version, their Status, and why it was
/// refused if it was.
async fn exchange(
    id: PeerId,
    address: SocketAddr,
    local: &LocalStatus,
    limit: Duration,
) -> Result<(u8, Status, Option<String>), String> {
    let key = random_key();
    let tcp = TcpStream::connect(address)
        .await
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let rlpx = RlpxStream::connect(tcp, &key, &id, &Default::default())
        .await
        .map_err(|e| format!("RLPx handshake with {address} failed: {e}"))?;
    let p2p = P2pStream::handshake(
        rlpx,
        Config::default(),
        node_info(&key, 0),
        EthStream::<TcpStream>::capabilities(),
    )
    .await
    .map_err(|e| format!("Hello exchange with {address} failed: {e}"))?;
    match EthStream::handshake(p2p, local, limit).await {
        Ok(eth) => {
            let (version, theirs) = (eth.version() as u8, eth.remote_status().clone());
            let _ = eth.disconnect(DisconnectReason::DisconnectRequested).await;
            Ok((version, theirs, None))
        }
        Err(EthError::Status { status, error }) => {
            Ok((status.version(), *status, Some(error.to_string())))
        }
        Err(e) => Err(format!("Status exchange with {address} failed: {e}")),
    }
}

fn print_status(
    version: u8,
    status: &Status,
    accepted: bool,
    refused: Option<&str>,
    as_json: bool,
) {
    let fork = status.fork_id();
    if as_json {
        let mut out = json!({
            "version": version,
            "network_id": status.network_id(),
            "genesis": status.genesis().to_string(),
            "fork_id": { "hash": format!("0x{}", hex::encode(fork.hash)), "next": fork.next },
            "fork_id_accepted": accepted,
        });
        if let Value::Object(map) = &mut out {
            match status {
                Status::Eth68(s) => {
                    map.insert(
                        "total_difficulty".into(),
                        json!(s.total_difficulty.to_string()),
                    );
                    map.insert("head".into(), json!(s.head.to_string()));
                }
                Status::Eth69(s) => {
                    map.insert("earliest".into(), json!(s.earliest));
                    map.insert("latest".into(), json!(s.latest));
                    map.insert("latest_hash".into(), json!(s.latest_hash.to_string()));
                }
            }
            if let Some(reason) = refused {
                map.insert("refused".into(), json!(reason));
            }
        }
        out!("{out}");
        return;
    }
    out!("version           eth/{version}");
    out!("network id        {}", status.network_id());
    out!("genesis           {}", status.genesis());
    let verdict = if accepted { "accepted" } else { "rejected" };
    out!("fork id           {fork} ({verdict} by our filter)");
    match status {
        Status::Eth68(s) => {
            out!("total difficulty  {}", s.total_difficulty);
            out!("head              {}", s.head);
        }
        Status::Eth69(s) => {
            out!("block range       {}..={}", s.earliest, s.latest);
            out!("latest hash       {}", s.latest_hash);
        }
    }
    if let Some(reason) = refused {
        out!("refused           {reason}");
    }
}

async fn serve(args: &ServeArgs) -> CmdResult {
    let chain = Arc::new(load_chain(&args.chain)?);
    let key = match &args.nodekey {
        Some(file) => {
            let signing = crate::key::load(file)?;
            NodeKey::new(SecretKey::from(signing.as_nonzero_scalar()))
        }
        None => random_key(),
    };
    let listener = TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let enode = NodeRecord {
        id: *key.id(),
        ip: enode_ip(local.ip()),
        tcp_port: local.port(),
        udp_port: local.port(),
    };
    out!("{enode}");
    if local.ip().is_unspecified() {
        note!(
            "note: listening on {local} (every interface); the enode URL names {}, which only this host can reach: other hosts need one of its addresses in its place",
            enode.ip
        );
    }
    let status = Arc::new(local_status(&chain));
    let sessions = Arc::new(Semaphore::new(args.max_peers as usize));
    let serving = async {
        let mut failing = false;
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !failing {
                        note!(
                            "cannot accept connections: {e} (retrying every {} ms)",
                            ACCEPT_BACKOFF.as_millis()
                        );
                    }
                    failing = true;
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            failing = false;
            let Ok(permit) = Arc::clone(&sessions).try_acquire_owned() else {
                note!("{peer}: refused (--max-peers {} reached)", args.max_peers);
                continue;
            };
            let (chain, status, key) = (chain.clone(), status.clone(), key.clone());
            tokio::spawn(async move {
                if let Err(e) = session(tcp, &key, &chain, &status, local.port()).await {
                    note!("{peer}: {e}");
                }
                drop(permit);
            });
        }
    };
    match args.timeout {
        Some(seconds) => {
            let _ = timeout(Duration::from_secs(seconds), serving).await;
            Ok(())
        }
        None => serving.await,
    }
}

/// The IP the printed enode URL names: the listen address, or (listening on every interface)
/// the loopback address, which at least works on this host, rather than the unusable
/// unspecified address.
fn enode_ip(listening: IpAddr) -> IpAddr {
    match listening {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    }
}

/// One peer: handshakes, then answers requests until the peer leaves.
async fn session(
    tcp: TcpStream,
    key: &NodeKey,
    chain: &MemoryChain,
    status: &LocalStatus,
    port: u16,
) -> Result<(), String> {
    let _ = tcp.set_nodelay(true);
    let rlpx = RlpxStream::accept(tcp, key, &Default::default())
        .await
        .map_err(|e| format!("RLPx: {e}"))?;
    let p2p = P2pStream::handshake(
        rlpx,
        Config::default(),
        node_info(key, port),
        EthStream::<TcpStream>::capabilities(),
    )
    .await
    .map_err(|e| format!("Hello: {e}"))?;
    let mut eth = EthStream::handshake(p2p, status, Duration::from_secs(5))
        .await
        .map_err(|e| format!("Status: {e}"))?;
    let version = eth.version();
    loop {
        let message = match eth.next_message().await {
            Ok(message) => message,
            Err(EthError::P2p(_)) => return Ok(()),
            Err(e) => {
                let reason = match e {
                    EthError::UnexpectedStatus => DisconnectReason::ProtocolBreach,
                    _ => DisconnectReason::SubprotocolError,
                };
                let _ = eth.disconnect(reason).await;
                return Err(e.to_string());
            }
        };
        if let Some(reply) = respond(chain, version, &message) {
            eth.send(&reply).await.map_err(|e| e.to_string())?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enode_names_loopback_rather_than_the_unspecified_address() {
        let v4: IpAddr = Ipv4Addr::UNSPECIFIED.into();
        let v6: IpAddr = Ipv6Addr::UNSPECIFIED.into();
        assert_eq!(enode_ip(v4), IpAddr::from(Ipv4Addr::LOCALHOST));
        assert_eq!(enode_ip(v6), IpAddr::from(Ipv6Addr::LOCALHOST));
        let given: IpAddr = [192, 0, 2, 1].into();
        assert_eq!(enode_ip(given), given);
    }
}
