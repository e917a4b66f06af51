//! `cargo xtask interop`: our nodes against third-party implementations on 127.0.0.1, one
//! PASS/FAIL line per scenario. The peers are npm packages at the versions pinned in
//! `xtask/interop/package-lock.json`, installed under `target/interop/` with `npm ci`.
//!
//! Scenarios: our initiator completes the RLPx handshake with an ethereumjs server and reads its
//! first frame, its Hello; an ethereumjs client completes the handshake with our listener and we
//! read its Hello. Then the `p2p` session both ways: Hello exchanged, eth/68 negotiated, our Ping
//! answered with a Pong, and our Disconnect's reason reported by ethereumjs. And `devp2p rlpx
//! ping` against an ethereumjs server. Then eth/68 both ways on the ethtest chain, and discv4
//! against ethereumjs's DPT both ways and with `devp2p discv4 ping` (see `interop/discv4.rs`),
//! and discv5 against `@chainsafe/discv5` and sigp's `discv5` crate, both ways.
// A tool, not a protocol core: it spawns processes and reads the clock.
#![allow(clippy::disallowed_methods)]

use std::{path::Path, process::Stdio, time::Duration};

use devp2p_enr::PeerId;
use devp2p_eth_wire::{
    BlockId, ChainReader, EthMessage, EthStream, EthVersion, GetBlockHeaders, HeadersQuery,
    LocalStatus, MemoryChain, respond,
};
use devp2p_p2p_capability::{
    Capability, Config as P2pConfig, DisconnectReason, NodeInfo, P2pStream,
};
use devp2p_rlp_codec::Rlp;
use devp2p_rlpx_framing::{Config, Message, NodeKey, RlpxStream};
use futures::StreamExt;
use k256::SecretKey;
use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines},
    net::{TcpListener, TcpStream},
    process::{Child, ChildStdin, ChildStdout, Command},
    time::timeout,
};

use crate::{TaskResult, root, run as run_command};

/// Time allowed for each scenario, start of the peer included.
const SCENARIO_LIMIT: Duration = Duration::from_secs(30);
/// Keys of the two sides (fixed: interop runs are reproducible).
const OUR_KEY: [u8; 32] = [0x11; 32];
const THEIR_KEY: &str = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
/// The ethereumjs scripts: a plain RLPx/p2p node, and an eth/68 node on the ethtest chain.
const RLPX_PEER: &str = "rlpx_peer.mjs";
const ETH_PEER: &str = "eth_peer.mjs";
/// The ethereumjs discv4 (DPT) node.
const DPT_PEER: &str = "dpt_peer.mjs";
/// The @chainsafe/discv5 node.
const DISCV5_PEER: &str = "discv5_peer.mjs";

mod discv4;
mod discv5;
mod sigp;

pub(crate) fn run() -> TaskResult {
    let dir = root().join("target/interop");
    install(&dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let cli = crate::build_cli()?;
    let scenarios: [(&str, Scenario); 14] = [
        (
            "rlpx: our initiator -> ethereumjs server, read its Hello",
            Scenario::Rlpx(Side::Ours),
        ),
        (
            "rlpx: ethereumjs client -> our listener, read its Hello",
            Scenario::Rlpx(Side::Theirs),
        ),
        (
            "p2p: our node -> ethereumjs server: Hello, eth/68, Ping/Pong, Disconnect 0x08",
            Scenario::P2p(Side::Ours),
        ),
        (
            "p2p: ethereumjs client -> our node: Hello, eth/68, Ping/Pong, Disconnect 0x08",
            Scenario::P2p(Side::Theirs),
        ),
        (
            "cli: devp2p rlpx ping <ethereumjs server>",
            Scenario::CliPing,
        ),
        (
            "eth/68: our node -> ethereumjs server: Status both ways, GetBlockHeaders both ways",
            Scenario::Eth(Side::Ours),
        ),
        (
            "eth/68: ethereumjs client -> our node: Status both ways, GetBlockHeaders both ways",
            Scenario::Eth(Side::Theirs),
        ),
        (
            "discv4: our node -> ethereumjs DPT: bond, ping, lookup finds a second DPT node, each lists the other",
            Scenario::Discv4(Side::Ours),
        ),
        (
            "discv4: ethereumjs DPT -> our node: bond, its lookup through us finds our second node, each lists the other",
            Scenario::Discv4(Side::Theirs),
        ),
        (
            "cli: devp2p discv4 ping <ethereumjs DPT>",
            Scenario::Discv4Cli,
        ),
        (
            "discv5: our node -> @chainsafe/discv5: handshake, PING, FINDNODE [0], TALKREQ, its table",
            Scenario::Discv5(Side::Ours),
        ),
        (
            "discv5: @chainsafe/discv5 -> our node: handshake, PING, FINDNODE returns our table, TALKREQ, its lookup",
            Scenario::Discv5(Side::Theirs),
        ),
        (
            "discv5: our node -> sigp discv5 0.12: handshake, PING, FINDNODE [0], TALKREQ, lookup, its table",
            Scenario::Sigp(Side::Ours),
        ),
        (
            "discv5: sigp discv5 0.12 -> our node: handshake, PING, FINDNODE returns our table, TALKREQ, its lookup",
            Scenario::Sigp(Side::Theirs),
        ),
    ];
    let mut failed = 0;
    for (name, scenario) in scenarios {
        let outcome = runtime.block_on(async {
            timeout(SCENARIO_LIMIT, scenario.run(&dir, &cli))
                .await
                .unwrap_or_else(|_| Err(format!("no result within {} s", SCENARIO_LIMIT.as_secs())))
        });
        match outcome {
            Ok(detail) => println!("PASS {name} ({detail})"),
            Err(reason) => {
                failed += 1;
                println!("FAIL {name}: {reason}");
            }
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} interop scenario(s) failed"))
    }
}

/// Copies the pinned manifest and lock file into `dir` and installs them with `npm ci`.
fn install(dir: &Path) -> TaskResult {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let source = root().join("xtask/interop");
    for file in [
        "package.json",
        "package-lock.json",
        RLPX_PEER,
        ETH_PEER,
        DPT_PEER,
        DISCV5_PEER,
    ] {
        std::fs::copy(source.join(file), dir.join(file))
            .map_err(|e| format!("copy {file}: {e}"))?;
    }
    // `npm ci` is skipped only when the installed packages came from this very lock file:
    // after a change of the pinned versions, the peers are installed afresh.
    let lock = std::fs::read(dir.join("package-lock.json"))
        .map_err(|e| format!("read package-lock.json: {e}"))?;
    let stamp = dir.join("node_modules").join(".devp2p-installed-lock.json");
    if std::fs::read(&stamp).is_ok_and(|installed| installed == lock) {
        return Ok(());
    }
    run_command(
        std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir),
    )?;
    std::fs::write(&stamp, &lock).map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}

#[derive(Debug, Clone, Copy)]
enum Side {
    /// We connect to an ethereumjs server.
    Ours,
    /// An ethereumjs client connects to our listener.
    Theirs,
}

#[derive(Debug, Clone, Copy)]
enum Scenario {
    Rlpx(Side),
    P2p(Side),
    CliPing,
    Eth(Side),
    Discv4(Side),
    Discv4Cli,
    Discv5(Side),
    Sigp(Side),
}

/// An ethereumjs peer process and its output, line by line.
struct Peer {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Peer {
    /// Starts the ethereumjs peer script; it is killed when dropped.
    fn start(dir: &Path, script: &str, args: &[&str]) -> Result<Self, String> {
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start node: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        Ok(Self {
            _child: child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        })
    }

    /// Sends the script a command line.
    async fn send(&mut self, line: &str) -> Result<(), String> {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| format!("cannot write to the peer: {e}"))
    }

    /// Reads the output until a line starting with `prefix`; returns the rest of it.
    async fn expect(&mut self, prefix: &str) -> Result<String, String> {
        while let Some(line) = self.lines.next_line().await.map_err(|e| e.to_string())? {
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.trim().to_owned());
            }
        }
        Err(format!("the peer exited before printing {prefix:?}"))
    }
}

/// Both sides' keys.
struct Keys {
    ours: NodeKey,
    their_id: PeerId,
}

impl Keys {
    fn new() -> Result<Self, String> {
        let ours = NodeKey::new(SecretKey::from_slice(&OUR_KEY).map_err(|e| e.to_string())?);
        let their_secret = hex::decode(THEIR_KEY).map_err(|e| e.to_string())?;
        let theirs = SecretKey::from_slice(&their_secret).map_err(|e| e.to_string())?;
        Ok(Self {
            ours,
            their_id: PeerId::from_public_key(&theirs.public_key()),
        })
    }
}

impl Scenario {
    async fn run(self, dir: &Path, cli: &Path) -> Result<String, String> {
        let keys = Keys::new()?;
        match self {
            Self::Rlpx(side) => {
                let (mut stream, _peer) = connect(dir, &keys, side, RLPX_PEER, &[]).await?;
                let first = stream.next().await.ok_or("closed before its first frame")?;
                let hello = first.map_err(|e| format!("first frame: {e}"))?;
                let (client, id) = read_hello(&hello)?;
                if id != keys.their_id {
                    return Err(format!("Hello carries node id {id}, not {}", keys.their_id));
                }
                Ok(format!("Hello from {client:?}"))
            }
            Self::P2p(side) => p2p_session(dir, &keys, side).await,
            Self::CliPing => cli_ping(dir, cli, &keys).await,
            Self::Eth(side) => eth_session(dir, &keys, side).await,
            Self::Discv4(Side::Ours) => discv4::ours_to_dpt(dir).await,
            Self::Discv4(Side::Theirs) => discv4::dpt_to_ours(dir).await,
            Self::Discv4Cli => discv4::cli_ping(dir, cli).await,
            Self::Discv5(Side::Ours) => discv5::ours_to_chainsafe(dir).await,
            Self::Discv5(Side::Theirs) => discv5::chainsafe_to_ours(dir).await,
            Self::Sigp(Side::Ours) => sigp::ours_to_sigp().await,
            Self::Sigp(Side::Theirs) => sigp::sigp_to_ours().await,
        }
    }
}

/// An RLPx connection with an ethereumjs peer running `script`, set up from `side`. The script
/// gets `server <key> <args…>` or `client <key> <args…> <our port> <our node id>`.
async fn connect(
    dir: &Path,
    keys: &Keys,
    side: Side,
    script: &str,
    args: &[&str],
) -> Result<(RlpxStream<TcpStream>, Peer), String> {
    let config = Config::default();
    let (stream, peer) = match side {
        Side::Ours => {
            let server = [&["server", THEIR_KEY][..], args].concat();
            let mut peer = Peer::start(dir, script, &server)?;
            let port = peer.expect("LISTENING ").await?;
            let tcp = TcpStream::connect(format!("127.0.0.1:{port}"))
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let _ = tcp.set_nodelay(true);
            let stream = RlpxStream::connect(tcp, &keys.ours, &keys.their_id, &config).await;
            (stream, peer)
        }
        Side::Theirs => {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|e| format!("bind: {e}"))?;
            let port = listener
                .local_addr()
                .map_err(|e| e.to_string())?
                .port()
                .to_string();
            let our_id = keys.ours.id().to_string();
            let client = [&["client", THEIR_KEY][..], args, &[&port, &our_id]].concat();
            let peer = Peer::start(dir, script, &client)?;
            let (tcp, _) = listener
                .accept()
                .await
                .map_err(|e| format!("accept: {e}"))?;
            let _ = tcp.set_nodelay(true);
            (RlpxStream::accept(tcp, &keys.ours, &config).await, peer)
        }
    };
    let stream = stream.map_err(|e| format!("handshake: {e}"))?;
    if stream.remote_id() != keys.their_id {
        return Err("handshake completed with an unexpected node id".to_owned());
    }
    Ok((stream, peer))
}

/// Hello both ways, eth/68 negotiated on both sides (we also offer eth/69, eth/70 and a test
/// protocol), a Ping answered, and our Disconnect reason as ethereumjs reports it.
async fn p2p_session(dir: &Path, keys: &Keys, side: Side) -> Result<String, String> {
    let (rlpx, mut peer) = connect(dir, keys, side, RLPX_PEER, &[]).await?;
    let info = NodeInfo {
        client_id: "devp2p-rs/interop".into(),
        listen_port: 0,
        id: *keys.ours.id(),
    };
    let caps = vec![
        Capability::new("eth", 68, 17),
        Capability::new("eth", 69, 18),
        Capability::new("eth", 70, 18),
        Capability::new("test", 1, 2),
    ];
    let mut session = P2pStream::handshake(rlpx, P2pConfig::default(), info, caps)
        .await
        .map_err(|e| format!("p2p handshake: {e}"))?;
    let client = session
        .remote_hello()
        .map(|h| h.client_id.clone())
        .unwrap_or_default();
    let shared: Vec<String> = session
        .shared_capabilities()
        .iter()
        .map(|s| {
            format!(
                "{}/{}@{:#x}",
                s.capability.name, s.capability.version, s.offset
            )
        })
        .collect();
    if shared != ["eth/68@0x10"] {
        return Err(format!("we negotiated {shared:?}, not eth/68 at 0x10"));
    }
    let theirs = peer.expect("PEER ADDED ").await?;
    if theirs != "eth/68" {
        return Err(format!("ethereumjs negotiated {theirs:?}, not eth/68"));
    }
    let rtt = session.ping().await.map_err(|e| format!("ping: {e}"))?;
    session
        .disconnect(DisconnectReason::ClientQuitting)
        .await
        .map_err(|e| format!("disconnect: {e}"))?;
    let removed = peer.expect("PEER REMOVED ").await?;
    if removed != "8 false" {
        return Err(format!(
            "ethereumjs reports the end as {removed:?}, not reason 8 sent by us"
        ));
    }
    Ok(format!(
        "Hello from {client:?}, eth/68 both sides, Pong after {} µs, ethereumjs saw reason 8",
        rtt.as_micros()
    ))
}

/// eth/68 on the ethtest chain with ethereumjs: each side accepts the other's Status (their fork
/// id through our EIP-2124 filter, ours through theirs), each answers the other's
/// GetBlockHeaders, and our Disconnect reason is reported.
async fn eth_session(dir: &Path, keys: &Keys, side: Side) -> Result<String, String> {
    let chain_dir = root().join("testdata/ethtest");
    let genesis =
        std::fs::read_to_string(chain_dir.join("genesis.json")).map_err(|e| e.to_string())?;
    let blocks = std::fs::read(chain_dir.join("chain.rlp")).map_err(|e| e.to_string())?;
    let chain = MemoryChain::load(&genesis, &blocks).map_err(|e| e.to_string())?;
    let genesis_hash = hex::encode(chain.genesis().header.hash);
    let head_hash = hex::encode(chain.head().hash);
    let chain_arg = chain_dir.to_string_lossy().into_owned();
    let args = [chain_arg.as_str(), &genesis_hash, &head_hash];
    let (rlpx, mut peer) = connect(dir, keys, side, ETH_PEER, &args).await?;
    let info = NodeInfo {
        client_id: "devp2p-rs/interop".into(),
        listen_port: 0,
        id: *keys.ours.id(),
    };
    let p2p = P2pStream::handshake(
        rlpx,
        P2pConfig::default(),
        info,
        EthStream::<TcpStream>::capabilities(),
    )
    .await
    .map_err(|e| format!("p2p handshake: {e}"))?;
    let local = LocalStatus {
        spec: chain.genesis().spec.clone(),
        head: chain.head(),
        total_difficulty: chain.genesis().header.header.difficulty,
        earliest: 0,
    };
    let mut eth = EthStream::handshake(p2p, &local, Duration::from_secs(10))
        .await
        .map_err(|e| format!("Status: {e}"))?;
    if eth.version() != EthVersion::Eth68 {
        return Err(format!("negotiated {:?}, not eth/68", eth.version()));
    }
    let theirs = eth.remote_status().fork_id();
    let accepted = peer.expect("STATUS ").await?;
    eth.send(&EthMessage::GetBlockHeaders(GetBlockHeaders {
        request_id: 5,
        query: HeadersQuery {
            start: BlockId::Number(1),
            limit: 3,
            skip: 0,
            reverse: false,
        },
    }))
    .await
    .map_err(|e| format!("send: {e}"))?;
    let (mut answered, mut received) = (false, false);
    while !(answered && received) {
        let message = eth
            .next_message()
            .await
            .map_err(|e| format!("receive: {e}"))?;
        if let Some(reply) = respond(&chain, EthVersion::Eth68, &message) {
            eth.send(&reply).await.map_err(|e| format!("send: {e}"))?;
            answered = true;
        } else if let EthMessage::BlockHeaders(reply) = message {
            let hashes: Vec<_> = reply.headers.iter().map(|h| h.hash).collect();
            let expected: Vec<_> = (1..=3)
                .filter_map(|n| chain.header_by_number(n).map(|h| h.hash))
                .collect();
            if reply.request_id != 5 || hashes != expected {
                return Err(format!(
                    "their BlockHeaders (id {}) are not blocks 1-3",
                    reply.request_id
                ));
            }
            received = true;
        }
    }
    let served = peer.expect("HEADERS ").await?;
    if served != "77 10,12" {
        return Err(format!(
            "ethereumjs got {served:?} for its request 77, not blocks 10,12"
        ));
    }
    eth.disconnect(DisconnectReason::ClientQuitting)
        .await
        .map_err(|e| format!("disconnect: {e}"))?;
    let removed = peer.expect("PEER REMOVED ").await?;
    if removed != "8 false" {
        return Err(format!(
            "ethereumjs reports the end as {removed:?}, not reason 8"
        ));
    }
    Ok(format!(
        "their fork id {theirs} accepted by us, ours accepted by them ({accepted}); they served blocks 1-3, we served 10,12"
    ))
}

/// `devp2p rlpx ping --json` against an ethereumjs server.
async fn cli_ping(dir: &Path, cli: &Path, keys: &Keys) -> Result<String, String> {
    let mut peer = Peer::start(dir, RLPX_PEER, &["server", THEIR_KEY])?;
    let port = peer.expect("LISTENING ").await?;
    let enode = format!("enode://{}@127.0.0.1:{port}", keys.their_id);
    let output = Command::new(cli)
        .args(["rlpx", "ping", &enode, "--json", "--timeout", "10"])
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run devp2p: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "devp2p failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let json: Value = serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let client = json
        .pointer("/hello/client_id")
        .and_then(Value::as_str)
        .ok_or("no client_id in the output")?;
    let id = json.pointer("/hello/id").and_then(Value::as_str);
    if id != Some(keys.their_id.to_string().as_str()) {
        return Err(format!("printed node id {id:?}, not {}", keys.their_id));
    }
    let removed = peer.expect("PEER REMOVED ").await?;
    if removed != "0 false" {
        return Err(format!(
            "ethereumjs reports the end as {removed:?}, not reason 0"
        ));
    }
    Ok(format!(
        "printed Hello from {client:?}; ethereumjs saw reason 0"
    ))
}

/// The client id and node id of a Hello: `[version, client-id, caps, listen-port, node-id, ...]`.
fn read_hello(message: &Message) -> Result<(String, PeerId), String> {
    if message.id != 0x00 {
        return Err(format!(
            "first message has id {:#x}, not Hello (0x00)",
            message.id
        ));
    }
    let mut hello = Rlp::new(&message.data)
        .list()
        .map_err(|e| format!("Hello: {e}"))?;
    let field = |e| format!("Hello: {e}");
    let _version: u64 = hello.decode().map_err(field)?;
    let client: &str = hello.decode().map_err(field)?;
    hello.raw().map_err(field)?;
    let _port: u64 = hello.decode().map_err(field)?;
    let id: [u8; 64] = hello.decode().map_err(field)?;
    Ok((client.to_owned(), PeerId(id)))
}
