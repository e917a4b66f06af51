//! discv5 against sigp's `discv5` crate (what reth and lighthouse run), in process, both
//! directions: handshake, PING, FINDNODE, TALKREQ, lookups, tables.

use std::{net::Ipv4Addr, time::Duration};

use discv5::{ConfigBuilder, Discv5 as Sigp, Event as SigpEvent, ListenConfig};
use enr::{CombinedKey, Enr as SigpEnr};
use tokio::time::timeout;

use super::discv5::{free_port, our_node, our_pair};

const OUR_KEYS: [[u8; 32]; 2] = [[0x51; 32], [0x52; 32]];
const STEP: Duration = Duration::from_secs(8);

type TheirEnr = SigpEnr<CombinedKey>;

/// A sigp node on 127.0.0.1 that answers TALKREQ "echo" with the request. Its port is found
/// free a moment before it binds it; another process may take it in between, so a failed
/// start is tried again on another port, three times in all.
async fn start_sigp() -> Result<Sigp, String> {
    let mut failed = String::new();
    for _ in 0..3 {
        match start_sigp_on(free_port()?).await {
            Ok(sigp) => return Ok(sigp),
            Err(e) => failed = e,
        }
    }
    Err(failed)
}

async fn start_sigp_on(port: u16) -> Result<Sigp, String> {
    let mut secret = [0x61u8; 32];
    let key = CombinedKey::secp256k1_from_bytes(&mut secret).map_err(|e| e.to_string())?;
    let enr = TheirEnr::builder()
        .ip4(Ipv4Addr::LOCALHOST)
        .udp4(port)
        .build(&key)
        .map_err(|e| e.to_string())?;
    let listen = ListenConfig::Ipv4 {
        ip: Ipv4Addr::LOCALHOST,
        port,
    };
    let mut sigp =
        Sigp::new(enr, key, ConfigBuilder::new(listen).build()).map_err(|e| e.to_string())?;
    sigp.start().await.map_err(|e| format!("sigp start: {e}"))?;
    let mut events = sigp.event_stream().await.map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let SigpEvent::TalkRequest(request) = event
                && request.protocol() == b"echo"
            {
                let body = request.body().to_vec();
                let _ = request.respond(body);
            }
        }
    });
    Ok(sigp)
}

fn to_ours(record: &TheirEnr) -> Result<devp2p_discv5::Enr, String> {
    record
        .to_base64()
        .parse()
        .map_err(|e| format!("their record in ours: {e}"))
}

fn to_theirs(record: &devp2p_discv5::Enr) -> Result<TheirEnr, String> {
    record
        .to_string()
        .parse()
        .map_err(|e| format!("our record in theirs: {e}"))
}

async fn step<T, E: std::fmt::Display>(
    what: &str,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    timeout(STEP, future)
        .await
        .map_err(|_| format!("{what}: no answer in time"))?
        .map_err(|e| format!("{what}: {e}"))
}

/// Ours asks sigp: PING, FINDNODE `[0]`, TALKREQ echo, a lookup; sigp has us in its table.
pub(super) async fn ours_to_sigp() -> Result<String, String> {
    let sigp = start_sigp().await?;
    let theirs = to_ours(&sigp.local_enr())?;
    let ours = our_node([127, 0, 0, 1], OUR_KEYS[0]).await?;
    let pong = step("ping", ours.ping(theirs.clone())).await?;
    if pong.seen_as != ours.local_addr() {
        return Err(format!(
            "PONG says we are {}, not {}",
            pong.seen_as,
            ours.local_addr()
        ));
    }
    let own = step("findnode", ours.find_node(theirs.clone(), vec![0])).await?;
    if own != [theirs.clone()] {
        return Err(format!(
            "FINDNODE [0] returned {} records, not its own",
            own.len()
        ));
    }
    let echo = step(
        "talkreq",
        ours.talk_req(theirs.clone(), b"echo".to_vec(), b"hi".to_vec()),
    )
    .await?;
    if echo != b"hi" {
        return Err(format!("echo answered {echo:?}"));
    }
    let found = step("lookup", ours.lookup(theirs.node_id())).await?;
    if found.first() != Some(&theirs) {
        return Err(format!(
            "our lookup of its id did not put it first ({} found)",
            found.len()
        ));
    }
    let our_id = ours.local_enr().node_id();
    if !sigp
        .table_entries_enr()
        .iter()
        .any(|e| e.node_id().raw() == our_id.0)
    {
        return Err("sigp's table lacks us".into());
    }
    Ok(format!(
        "PONG (enr seq {}, sees us at {}), FINDNODE [0] = its record, TALKREQ echo answered, our lookup found it, we are in its table",
        pong.enr_seq, pong.seen_as
    ))
}

/// Sigp asks ours, which knows a second node of ours: PING, FINDNODE at the second node's
/// distance, TALKREQ for an unknown protocol, a lookup of the second node; ours has sigp in
/// its table.
pub(super) async fn sigp_to_ours() -> Result<String, String> {
    let (ours, second) = our_pair(OUR_KEYS).await?;
    let second_id = second.local_enr().node_id();
    let sigp = start_sigp().await?;
    let our_record = to_theirs(&ours.local_enr())?;
    sigp.add_enr(our_record.clone())
        .map_err(|e| format!("sigp add_enr: {e}"))?;
    let pong = step("sigp ping", sigp.send_ping(our_record.clone())).await?;
    if pong.enr_seq != ours.local_enr().seq() {
        return Err(format!("our PONG carried seq {}", pong.enr_seq));
    }
    let distance = ours.local_enr().node_id().log2_distance(&second_id);
    let nodes = step(
        "sigp findnode",
        sigp.find_node_designated_peer(our_record.clone(), vec![u64::from(distance)]),
    )
    .await?;
    if nodes.len() != 1 || nodes.iter().any(|n| n.node_id().raw() != second_id.0) {
        return Err(format!(
            "FINDNODE [{distance}] returned {} records",
            nodes.len()
        ));
    }
    let contact = discv5::NodeContact::try_from_enr(our_record, discv5::IpMode::default())
        .map_err(|_| "our record is not contactable for sigp")?;
    let empty = step(
        "sigp talkreq",
        sigp.talk_req(contact, b"nope".to_vec(), b"x".to_vec()),
    )
    .await?;
    if !empty.is_empty() {
        return Err(format!(
            "TALKREQ for an unknown protocol answered {empty:?}"
        ));
    }
    let target = enr::NodeId::new(&second_id.0);
    let found = step("sigp lookup", sigp.find_node(target)).await?;
    if !found.iter().any(|n| n.node_id().raw() == second_id.0) {
        return Err(format!(
            "sigp's lookup did not find our second node ({} found)",
            found.len()
        ));
    }
    let their_id = sigp.local_enr().node_id().raw();
    if !ours
        .table()
        .await
        .is_ok_and(|t| t.iter().any(|n| n.record.node_id().0 == their_id))
    {
        return Err("sigp is not in our table".into());
    }
    Ok(format!(
        "our PONG (enr seq {}, sees it at {}:{}), FINDNODE [{distance}] = our second node, unknown TALKREQ answered empty, its lookup found our second node, it is in our table",
        pong.enr_seq, pong.ip, pong.port
    ))
}
