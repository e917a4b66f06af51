//! discv4 against ethereumjs's DPT (`dpt_peer.mjs`): bonding, ping and lookups both ways, and
//! `devp2p discv4 ping`. DPT has no EIP-868 (ENRRequest goes unanswered), so that part is
//! reported, not required.

use std::{path::Path, time::Duration};

use devp2p_discv4::{Config, Discv4Handle, NodeRecord, PeerId, SigningKey};
use serde_json::Value;
use tokio::{process::Command, time::timeout};

use super::{DPT_PEER, Peer};

/// DPT nodes' keys, and our two nodes' keys.
const DPT_KEYS: [&str; 2] = [
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
];
const OUR_KEYS: [[u8; 32]; 2] = [[0x21; 32], [0x22; 32]];
/// How long one step (an answer, a table change) may take.
const STEP: Duration = Duration::from_secs(8);

/// A DPT node: its process and its address.
struct Dpt {
    peer: Peer,
    record: NodeRecord,
}

impl Dpt {
    async fn start(dir: &Path, key: &str, bootnode: Option<&NodeRecord>) -> Result<Self, String> {
        let boot = bootnode.map(ToString::to_string);
        let args: Vec<&str> = [key].into_iter().chain(boot.as_deref()).collect();
        let mut peer = Peer::start(dir, DPT_PEER, &args)?;
        let listening = peer.expect("LISTENING ").await?;
        let (port, id) = listening.split_once(' ').ok_or("bad LISTENING line")?;
        let port: u16 = port.parse().map_err(|_| "bad port")?;
        let id: PeerId = id.parse().map_err(|e| format!("bad node id: {e}"))?;
        Ok(Self {
            peer,
            record: NodeRecord {
                id,
                ip: [127, 0, 0, 1].into(),
                tcp_port: 0,
                udp_port: port,
            },
        })
    }

    /// Waits until DPT reports each of `ids` added to its table.
    async fn expect_added(&mut self, ids: &[PeerId]) -> Result<(), String> {
        let mut missing: Vec<String> = ids.iter().map(ToString::to_string).collect();
        timeout(STEP, async {
            while !missing.is_empty() {
                let added = self.peer.expect("PEER ADDED ").await?;
                missing.retain(|id| !added.starts_with(id.as_str()));
            }
            Ok::<_, String>(())
        })
        .await
        .map_err(|_| {
            format!(
                "DPT did not add {} node(s) within {} s",
                missing.len(),
                STEP.as_secs()
            )
        })?
    }

    /// Runs DPT's lookup, then returns the ids in its table.
    async fn lookup_and_list(&mut self) -> Result<Vec<PeerId>, String> {
        self.peer.send("LOOKUP").await?;
        timeout(STEP, self.peer.expect("LOOKUP DONE"))
            .await
            .map_err(|_| "DPT's lookup did not finish")??;
        self.peer.send("PEERS").await?;
        let list = timeout(STEP, self.peer.expect("PEERS"))
            .await
            .map_err(|_| "DPT did not list its peers")??;
        list.split(',')
            .filter(|id| !id.is_empty())
            .map(|id| id.parse().map_err(|e| format!("bad id {id:?}: {e}")))
            .collect()
    }
}

async fn our_node(ip: [u8; 4], key: [u8; 32]) -> Result<Discv4Handle, String> {
    let key = SigningKey::from_slice(&key).map_err(|e| e.to_string())?;
    Discv4Handle::bind((ip, 0).into(), key, Config::default())
        .await
        .map_err(|e| format!("bind: {e}"))
}

/// Whether `node`'s table holds `id`, polled until [`STEP`] passes.
async fn eventually_in_table(node: &Discv4Handle, id: PeerId) -> bool {
    for _ in 0..(STEP.as_millis() / 100) {
        if node
            .table()
            .await
            .is_ok_and(|t| t.iter().any(|n| n.record.id == id))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Ours bootstraps from a DPT node that knows a second DPT node: our ping is answered, our
/// lookup finds the second one (which then bonds with us), and the first lists us after its own
/// lookup.
pub(super) async fn ours_to_dpt(dir: &Path) -> Result<String, String> {
    let mut first = Dpt::start(dir, DPT_KEYS[0], None).await?;
    let second = Dpt::start(dir, DPT_KEYS[1], Some(&first.record)).await?;
    first.expect_added(&[second.record.id]).await?;

    let ours = our_node([127, 0, 0, 1], OUR_KEYS[0]).await?;
    let pong = timeout(STEP, ours.ping(first.record))
        .await
        .map_err(|_| "no Pong in time")?
        .map_err(|e| format!("ping: {e}"))?;
    ours.add_bootnode(first.record)
        .await
        .map_err(|e| e.to_string())?;
    let found = timeout(STEP, ours.lookup(ours.local_record().id))
        .await
        .map_err(|_| "our lookup did not finish")?
        .map_err(|e| format!("lookup: {e}"))?;
    if !found.iter().any(|n| n.id == second.record.id) {
        return Err(format!(
            "our lookup did not find the second DPT node ({} found)",
            found.len()
        ));
    }
    if !eventually_in_table(&ours, second.record.id).await {
        return Err("the second DPT node never entered our table".into());
    }
    if !eventually_in_table(&ours, first.record.id).await {
        return Err("the first DPT node is not in our table".into());
    }
    let theirs = first.lookup_and_list().await?;
    if !theirs.contains(&ours.local_record().id) {
        return Err(format!("DPT's table lacks our node: {theirs:?}"));
    }
    let enr = timeout(Duration::from_secs(3), ours.request_enr(first.record)).await;
    let enr = match enr {
        Ok(Ok(_)) => "ENRRequest answered",
        _ => "ENRRequest unanswered: DPT has no EIP-868",
    };
    Ok(format!(
        "Pong in {:.1} ms; our lookup found both DPT nodes, both in our table; DPT lists us; {enr}",
        pong.rtt.as_secs_f64() * 1e3
    ))
}

/// A DPT node bootstraps from ours, which knows a second node of ours: DPT adds both (the
/// second learnt from our Neighbours), we add DPT, and our lookup of DPT's id finds it.
pub(super) async fn dpt_to_ours(dir: &Path) -> Result<String, String> {
    let ours = our_node([127, 0, 0, 1], OUR_KEYS[0]).await?;
    let second = our_node([127, 0, 0, 2], OUR_KEYS[1]).await?;
    second
        .add_bootnode(ours.local_record())
        .await
        .map_err(|e| e.to_string())?;
    if !eventually_in_table(&ours, second.local_record().id).await {
        return Err("our two nodes did not bond".into());
    }
    let mut dpt = Dpt::start(dir, DPT_KEYS[0], Some(&ours.local_record())).await?;
    dpt.expect_added(&[ours.local_record().id, second.local_record().id])
        .await?;
    if !eventually_in_table(&ours, dpt.record.id).await {
        return Err("DPT never entered our table".into());
    }
    let found = timeout(STEP, ours.lookup(dpt.record.id))
        .await
        .map_err(|_| "our lookup did not finish")?
        .map_err(|e| format!("lookup: {e}"))?;
    if found.first().map(|n| n.id) != Some(dpt.record.id) {
        return Err(format!(
            "our lookup of DPT's id did not put it first: {found:?}"
        ));
    }
    let theirs = dpt.lookup_and_list().await?;
    for node in [ours.local_record(), second.local_record()] {
        if !theirs.contains(&node.id) {
            return Err(format!("DPT's table lacks {}", node.id.node_id()));
        }
    }
    Ok(format!(
        "DPT added us and our second node (from our Neighbours); DPT in our table; our lookup of its id found it; DPT lists {} nodes",
        theirs.len()
    ))
}

/// `devp2p discv4 ping` against a DPT node.
pub(super) async fn cli_ping(dir: &Path, cli: &Path) -> Result<String, String> {
    let dpt = Dpt::start(dir, DPT_KEYS[0], None).await?;
    let output = Command::new(cli)
        .args([
            "discv4",
            "ping",
            &dpt.record.to_string(),
            "--json",
            "--timeout",
            "10",
        ])
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
    let rtt = json
        .get("rtt_ms")
        .and_then(Value::as_f64)
        .ok_or("no rtt_ms in the output")?;
    let seen = json
        .get("seen_as")
        .and_then(Value::as_str)
        .ok_or("no seen_as in the output")?;
    Ok(format!("Pong in {rtt:.1} ms, DPT sees us at {seen}"))
}
