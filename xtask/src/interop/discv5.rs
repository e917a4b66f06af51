//! discv5 against @chainsafe/discv5 (`discv5_peer.mjs`), both directions: handshake, PING,
//! FINDNODE returning the other's table, TALKREQ.

use std::{path::Path, time::Duration};

use devp2p_discv5::{Config, Discv5Handle, Enr, SigningKey};
use tokio::time::timeout;

use super::{DISCV5_PEER, Peer};

const CHAINSAFE_KEY: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";
const OUR_KEYS: [[u8; 32]; 2] = [[0x31; 32], [0x32; 32]];
const STEP: Duration = Duration::from_secs(8);

/// A UDP port on 127.0.0.1 free a moment ago, for a peer that binds the port it is given.
pub(super) fn free_port() -> Result<u16, String> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(socket.local_addr().map_err(|e| e.to_string())?.port())
}

struct Chainsafe {
    peer: Peer,
    record: Enr,
}

impl Chainsafe {
    /// Starts on a port found free a moment before. Another process may take it in between,
    /// so a failed start is tried again on another port, three times in all.
    async fn start(dir: &Path, bootnode: Option<&Enr>) -> Result<Self, String> {
        let mut failed = String::new();
        for _ in 0..3 {
            match Self::start_on(dir, bootnode, free_port()?).await {
                Ok(node) => return Ok(node),
                Err(e) => failed = e,
            }
        }
        Err(failed)
    }

    async fn start_on(dir: &Path, bootnode: Option<&Enr>, port: u16) -> Result<Self, String> {
        let port = port.to_string();
        let boot = bootnode.map(ToString::to_string);
        let args: Vec<&str> = [CHAINSAFE_KEY, port.as_str()]
            .into_iter()
            .chain(boot.as_deref())
            .collect();
        let mut peer = Peer::start(dir, DISCV5_PEER, &args)?;
        let text = timeout(STEP, peer.expect("LISTENING "))
            .await
            .map_err(|_| "chainsafe did not start")??;
        let record: Enr = text.parse().map_err(|e| format!("its record: {e}"))?;
        Ok(Self { peer, record })
    }

    /// Sends a command and returns the rest of the answer line starting with `answer`.
    async fn ask(&mut self, command: &str, answer: &str) -> Result<String, String> {
        self.peer.send(command).await?;
        let line = timeout(STEP, self.peer.expect(""))
            .await
            .map_err(|_| format!("no answer to {command:?}"))??;
        line.strip_prefix(answer)
            .map(|rest| rest.trim().to_owned())
            .ok_or_else(|| format!("{command:?} answered {line:?}"))
    }

    async fn ids(&mut self, command: &str, answer: &str) -> Result<Vec<String>, String> {
        let list = self.ask(command, answer).await?;
        Ok(list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect())
    }
}

/// One of our nodes on `ip`, any port, with the secret key `key`.
pub(super) async fn our_node(ip: [u8; 4], key: [u8; 32]) -> Result<Discv5Handle, String> {
    let key = SigningKey::from_slice(&key).map_err(|e| e.to_string())?;
    Discv5Handle::bind((ip, 0).into(), key, Config::default())
        .await
        .map_err(|e| format!("bind: {e}"))
}

/// Two of our nodes, on 127.0.0.1 and 127.0.0.2: the second bootstraps from the first, and
/// the first has it in its table (waited for, up to 5 s).
pub(super) async fn our_pair(keys: [[u8; 32]; 2]) -> Result<(Discv5Handle, Discv5Handle), String> {
    let ours = our_node([127, 0, 0, 1], keys[0]).await?;
    let second = our_node([127, 0, 0, 2], keys[1]).await?;
    second
        .add_enr(ours.local_enr().clone())
        .await
        .map_err(|e| e.to_string())?;
    let second_id = second.local_enr().node_id();
    for _ in 0..50 {
        if ours
            .table()
            .await
            .is_ok_and(|t| t.iter().any(|n| n.record.node_id() == second_id))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((ours, second))
}

fn hex_id(record: &Enr) -> String {
    record.node_id().to_string()
}

/// Ours asks chainsafe: PING, FINDNODE `[0]`, TALKREQ (its echo protocol and an unknown one),
/// then a lookup; chainsafe lists us in its table.
pub(super) async fn ours_to_chainsafe(dir: &Path) -> Result<String, String> {
    let mut theirs = Chainsafe::start(dir, None).await?;
    let ours = our_node([127, 0, 0, 1], OUR_KEYS[0]).await?;
    let pong = timeout(STEP, ours.ping(theirs.record.clone()))
        .await
        .map_err(|_| "no PONG in time")?
        .map_err(|e| format!("ping: {e}"))?;
    if pong.seen_as != ours.local_addr() {
        return Err(format!(
            "PONG says we are {}, not {}",
            pong.seen_as,
            ours.local_addr()
        ));
    }
    let own = timeout(STEP, ours.find_node(theirs.record.clone(), vec![0]))
        .await
        .map_err(|_| "no NODES in time")?
        .map_err(|e| format!("findnode: {e}"))?;
    if own != [theirs.record.clone()] {
        return Err(format!(
            "FINDNODE [0] returned {} records, not its own",
            own.len()
        ));
    }
    let echo = timeout(
        STEP,
        ours.talk_req(theirs.record.clone(), b"echo".to_vec(), b"hi".to_vec()),
    )
    .await
    .map_err(|_| "no TALKRESP in time")?
    .map_err(|e| format!("talkreq: {e}"))?;
    if echo != b"hi" {
        return Err(format!("echo answered {echo:?}"));
    }
    let table = theirs.ids("TABLE", "TABLE").await?;
    if !table.contains(&hex_id(&ours.local_enr())) {
        return Err(format!("chainsafe's table lacks us: {table:?}"));
    }
    Ok(format!(
        "PONG (enr seq {}, sees us at {}), FINDNODE [0] = its record, TALKREQ echo answered, we are in its table",
        pong.enr_seq, pong.seen_as
    ))
}

/// Chainsafe bootstraps from ours, which knows a second node of ours: its PING, FINDNODE and
/// TALKREQ are answered; FINDNODE at the second node's distance returns it; its lookup finds
/// both, and ours has it in the table.
pub(super) async fn chainsafe_to_ours(dir: &Path) -> Result<String, String> {
    let (ours, second) = our_pair(OUR_KEYS).await?;
    let second_id = second.local_enr().node_id();
    let mut theirs = Chainsafe::start(dir, Some(&ours.local_enr())).await?;
    let our_text = ours.local_enr().to_string();
    let pong = theirs.ask(&format!("PING {our_text}"), "PONG").await?;
    let (seq, seen) = pong.split_once(' ').ok_or("bad PONG line")?;
    if seq != ours.local_enr().seq().to_string() {
        return Err(format!("PONG carries enr seq {seq}"));
    }
    let distance = ours.local_enr().node_id().log2_distance(&second_id);
    let nodes = theirs
        .ids(&format!("FINDNODE {our_text} {distance}"), "NODES")
        .await?;
    if nodes != [hex_id(&second.local_enr())] {
        return Err(format!("FINDNODE [{distance}] returned {nodes:?}"));
    }
    let empty = theirs
        .ask(&format!("TALK {our_text} nope 01"), "TALKRESP")
        .await?;
    if !empty.is_empty() {
        return Err(format!(
            "TALKREQ for an unknown protocol answered {empty:?}"
        ));
    }
    let found = theirs
        .ids(&format!("LOOKUP {}", hex_id(&second.local_enr())), "LOOKUP")
        .await?;
    if !found.contains(&hex_id(&second.local_enr())) {
        return Err(format!(
            "chainsafe's lookup did not find our second node: {found:?}"
        ));
    }
    let their_id = theirs.record.node_id();
    if !ours
        .table()
        .await
        .is_ok_and(|t| t.iter().any(|n| n.record.node_id() == their_id))
    {
        return Err("chainsafe is not in our table".into());
    }
    Ok(format!(
        "our PONG (enr seq {seq}, sees it at {seen}), FINDNODE [{distance}] = our second node, unknown TALKREQ answered empty, its lookup found our second node, it is in our table"
    ))
}
