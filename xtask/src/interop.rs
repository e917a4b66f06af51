//! `cargo xtask interop`: our nodes against third-party implementations on 127.0.0.1, one
//! PASS/FAIL line per scenario. The peers are npm packages at the versions pinned in
//! `xtask/interop/package-lock.json`, installed under `target/interop/` with `npm ci`.
//!
//! Scenarios (issue 4): our initiator completes the RLPx handshake with an ethereumjs server and
//! reads its first frame, its Hello; an ethereumjs client completes the handshake with our
//! listener and we read its Hello.
// A tool, not a protocol core: it spawns processes and reads the clock.
#![allow(clippy::disallowed_methods)]

use std::{path::Path, process::Stdio, time::Duration};

use devp2p_enr::PeerId;
use devp2p_rlp_codec::Rlp;
use devp2p_rlpx_framing::{Config, Message, NodeKey, RlpxStream};
use futures::StreamExt;
use k256::SecretKey;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    net::{TcpListener, TcpStream},
    process::{Child, Command},
    time::timeout,
};

use crate::{TaskResult, root, run as run_command};

/// Time allowed for each scenario, start of the peer included.
const SCENARIO_LIMIT: Duration = Duration::from_secs(30);
/// Keys of the two sides (fixed: interop runs are reproducible).
const OUR_KEY: [u8; 32] = [0x11; 32];
const THEIR_KEY: &str = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";

pub(crate) fn run() -> TaskResult {
    let dir = root().join("target/interop");
    install(&dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let scenarios: [(&str, Scenario); 2] = [
        (
            "rlpx: our initiator -> ethereumjs server, read its Hello",
            Scenario::OurInitiator,
        ),
        (
            "rlpx: ethereumjs client -> our listener, read its Hello",
            Scenario::TheirInitiator,
        ),
    ];
    let mut failed = 0;
    for (name, scenario) in scenarios {
        let outcome = runtime.block_on(async {
            timeout(SCENARIO_LIMIT, scenario.run(&dir))
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
    for file in ["package.json", "package-lock.json", "rlpx_peer.mjs"] {
        std::fs::copy(source.join(file), dir.join(file))
            .map_err(|e| format!("copy {file}: {e}"))?;
    }
    if dir
        .join("node_modules/@ethereumjs/devp2p/package.json")
        .exists()
    {
        return Ok(());
    }
    run_command(
        std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir),
    )
}

#[derive(Debug, Clone, Copy)]
enum Scenario {
    OurInitiator,
    TheirInitiator,
}

impl Scenario {
    async fn run(self, dir: &Path) -> Result<String, String> {
        let ours = NodeKey::new(SecretKey::from_slice(&OUR_KEY).map_err(|e| e.to_string())?);
        let their_secret = hex::decode(THEIR_KEY).map_err(|e| e.to_string())?;
        let theirs = SecretKey::from_slice(&their_secret).map_err(|e| e.to_string())?;
        let their_id = PeerId::from_public_key(&theirs.public_key());
        let config = Config::default();
        let mut stream = match self {
            Self::OurInitiator => {
                let mut peer = node(dir, &["server", THEIR_KEY])?;
                let port = wait_for_line(&mut peer, "LISTENING ").await?;
                let tcp = TcpStream::connect(format!("127.0.0.1:{port}"))
                    .await
                    .map_err(|e| format!("connect: {e}"))?;
                let stream = RlpxStream::connect(tcp, &ours, &their_id, &config).await;
                (stream.map_err(|e| format!("handshake: {e}"))?, peer)
            }
            Self::TheirInitiator => {
                let listener = TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| format!("bind: {e}"))?;
                let port = listener
                    .local_addr()
                    .map_err(|e| e.to_string())?
                    .port()
                    .to_string();
                let our_id = ours.id().to_string();
                let peer = node(dir, &["client", THEIR_KEY, &port, &our_id])?;
                let (tcp, _) = listener
                    .accept()
                    .await
                    .map_err(|e| format!("accept: {e}"))?;
                let stream = RlpxStream::accept(tcp, &ours, &config).await;
                (stream.map_err(|e| format!("handshake: {e}"))?, peer)
            }
        };
        if stream.0.remote_id() != their_id {
            return Err("handshake completed with an unexpected node id".to_owned());
        }
        let first = stream
            .0
            .next()
            .await
            .ok_or("closed before its first frame")?;
        let hello = first.map_err(|e| format!("first frame: {e}"))?;
        let (client, id) = read_hello(&hello)?;
        if id != their_id {
            return Err(format!("Hello carries node id {id}, not {their_id}"));
        }
        Ok(format!("Hello from {client:?}"))
    }
}

/// Starts the ethereumjs peer script; it is killed when dropped.
fn node(dir: &Path, args: &[&str]) -> Result<Child, String> {
    Command::new("node")
        .arg("rlpx_peer.mjs")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start node: {e}"))
}

/// Reads the child's output until a line starting with `prefix`; returns the rest of it.
async fn wait_for_line(child: &mut Child, prefix: &str) -> Result<String, String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
        if let Some(rest) = line.strip_prefix(prefix) {
            return Ok(rest.trim().to_owned());
        }
    }
    Err(format!("the peer exited before printing {prefix:?}"))
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
