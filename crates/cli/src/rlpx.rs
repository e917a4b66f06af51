//! `devp2p rlpx ping`: the RLPx handshake and the `p2p` Hello exchange with a remote node; prints
//! its Hello, or the Disconnect it sent instead, then disconnects cleanly.
// A command-line driver: it owns the runtime, the clock and the OS randomness.
#![allow(clippy::disallowed_methods)]

use std::{net::SocketAddr, time::Duration};

use clap::{Args as ClapArgs, Subcommand};
use devp2p_enr::{Enr, NodeRecord, PeerId};
use devp2p_p2p_capability::{
    Capability, Config, DisconnectReason, Disconnected, Hello, NodeInfo, P2pError, P2pStream,
};
use devp2p_rlpx_framing::{NodeKey, RlpxStream};
use k256::{SecretKey, elliptic_curve::Generate};
use rand_core::UnwrapErr;
use serde_json::{Value, json};
use tokio::{net::TcpStream, time::timeout};

use crate::CmdResult;

#[derive(Debug, Subcommand)]
pub(crate) enum RlpxCommand {
    /// Handshakes with a node and prints its Hello (or the Disconnect it sent instead).
    Ping(PingArgs),
}

#[derive(Debug, ClapArgs)]
pub(crate) struct PingArgs {
    /// The node: `enode://…` URL or `enr:…` record (with an IP and a TCP port).
    node: String,
    /// Seconds allowed for the whole exchange.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The capabilities we announce, so that peers find something in common and answer with
/// their Hello rather than a Disconnect; we leave before speaking any of them.
fn capabilities() -> Vec<Capability> {
    vec![
        Capability::new("eth", 68, 17),
        Capability::new("eth", 69, 18),
        Capability::new("eth", 70, 18),
        Capability::new("snap", 1, 8),
    ]
}

pub(crate) fn run(command: RlpxCommand) -> CmdResult {
    let RlpxCommand::Ping(args) = command;
    let (id, address) = target(&args.node)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let limit = Duration::from_secs(args.timeout);
    let outcome = runtime
        .block_on(async { timeout(limit, ping(id, address)).await })
        .map_err(|_| format!("no answer from {address} within {} s", args.timeout))??;
    print(&outcome, args.json);
    if outcome.hello.is_some() {
        Ok(())
    } else {
        Err(format!("{address} sent no Hello"))
    }
}

/// The node id and TCP address of an enode URL or a node record. A record gives the address
/// go-ethereum would dial ([`Enr::node_record`]: the more global of `ip` and `ip6`, `tcp6`
/// falling back to `tcp`).
pub(crate) fn target(node: &str) -> Result<(PeerId, SocketAddr), String> {
    let node = node.trim();
    let record: NodeRecord = if crate::discovery::is_enode(node) {
        node.parse()
            .map_err(|e| format!("invalid enode URL: {e}"))?
    } else {
        Enr::parse_any(node)
            .map_err(|e| format!("invalid node: {e}"))?
            .node_record()
            .ok_or("the record has no IP address with a port")?
    };
    if record.tcp_port == 0 {
        return Err(format!("the node has no TCP port (port 0): {record}"));
    }
    Ok((record.id, SocketAddr::new(record.ip, record.tcp_port)))
}

/// What the exchange brought back.
struct Outcome {
    hello: Option<Hello>,
    /// The Disconnect that ended it, when it was not ours after a successful exchange.
    disconnect: Option<Disconnected>,
}

async fn ping(id: PeerId, address: SocketAddr) -> Result<Outcome, String> {
    let key = NodeKey::new(SecretKey::generate_from_rng(&mut UnwrapErr(
        getrandom::SysRng,
    )));
    let tcp = TcpStream::connect(address)
        .await
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    // Small messages (Hello, Ping) should not wait for Nagle's algorithm.
    let _ = tcp.set_nodelay(true);
    let rlpx = RlpxStream::connect(tcp, &key, &id, &devp2p_rlpx_framing::Config::default())
        .await
        .map_err(|e| format!("RLPx handshake with {address} failed: {e}"))?;
    let info = NodeInfo {
        client_id: format!("devp2p-rs/{}", env!("CARGO_PKG_VERSION")),
        listen_port: 0,
        id: *key.id(),
    };
    match P2pStream::handshake(rlpx, Config::default(), info, capabilities()).await {
        Ok(stream) => {
            let hello = stream.remote_hello().cloned();
            // Best effort: the peer may already be gone.
            let _ = stream
                .disconnect(DisconnectReason::DisconnectRequested)
                .await;
            Ok(Outcome {
                hello,
                disconnect: None,
            })
        }
        Err(P2pError::Disconnected(ended)) => Ok(Outcome {
            hello: ended.remote_hello.as_deref().cloned(),
            disconnect: Some(ended),
        }),
        Err(e) => Err(format!("Hello exchange with {address} failed: {e}")),
    }
}

fn print(outcome: &Outcome, as_json: bool) {
    if as_json {
        let mut out = serde_json::Map::new();
        if let Some(hello) = &outcome.hello {
            out.insert(
                "hello".into(),
                json!({
                    "protocol_version": hello.protocol_version,
                    "client_id": hello.client_id,
                    "capabilities": hello.capabilities.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "listen_port": hello.listen_port,
                    "id": hello.id.to_string(),
                }),
            );
        }
        if let Some(ended) = &outcome.disconnect {
            out.insert(
                "disconnect".into(),
                json!({
                    "reason": ended.reason.code(),
                    "text": ended.reason.to_string(),
                    "by_peer": ended.by_peer,
                }),
            );
        }
        out!("{}", Value::Object(out));
        return;
    }
    if let Some(hello) = &outcome.hello {
        let caps: Vec<String> = hello.capabilities.iter().map(ToString::to_string).collect();
        out!("protocol version  {}", hello.protocol_version);
        out!("client id         {}", hello.client_id);
        out!("capabilities      {}", caps.join(" "));
        out!("listen port       {}", hello.listen_port);
        out!("node id           {}", hello.id);
    }
    if let Some(ended) = &outcome.disconnect {
        let by = if ended.by_peer { "peer" } else { "we" };
        out!("disconnect        {} (sent by {by})", ended.reason);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use devp2p_enr::{Enr, SigningKey};

    use super::target;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7; 32]).unwrap()
    }

    fn address(record: Enr) -> Result<(IpAddr, u16), String> {
        target(&record.to_string()).map(|(_, address)| (address.ip(), address.port()))
    }

    #[test]
    fn records_are_dialed_where_go_ethereum_would() {
        let build = |builder: &mut devp2p_enr::Builder| builder.build(&key()).unwrap();
        // `ip6` with a plain `tcp`: the port serves both families (EIP-778).
        let v6 = build(Enr::builder().ip6(Ipv6Addr::LOCALHOST).tcp(30303));
        assert_eq!(address(v6), Ok((IpAddr::V6(Ipv6Addr::LOCALHOST), 30303)));
        // A global IPv6 beats a private IPv4.
        let global = "2001:db8::1".parse().unwrap();
        let both = build(
            Enr::builder()
                .ip(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2)))
                .ip6(global)
                .tcp(1)
                .tcp6(2),
        );
        assert_eq!(address(both), Ok((IpAddr::V6(global), 2)));
        let udp_only = build(Enr::builder().ip(IpAddr::V4(Ipv4Addr::LOCALHOST)).udp(1));
        assert!(address(udp_only).is_err());
        assert!(address(build(&mut Enr::builder())).is_err());
    }

    #[test]
    fn the_enode_scheme_is_read_in_any_case() {
        let record = Enr::builder()
            .ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .tcp(30303)
            .build(&key())
            .unwrap();
        let lower = record
            .node_record()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let url = lower.replacen("enode://", "ENODE://", 1);
        assert!(url.starts_with("ENODE://"));
        assert_eq!(target(&url).map(|(_, address)| address.port()), Ok(30303));
    }
}
