//! `devp2p key …`: node key files (64 hex characters, go-ethereum's format) and what derives
//! from a key: node id, enode URL, node record.

use std::{
    fs::OpenOptions,
    io::Write,
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
};

use clap::{Args, Subcommand};
use devp2p_enr::{Enr, NodeRecord, PeerId, SigningKey};
use k256::elliptic_curve::Generate;

use crate::CmdResult;

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Writes a new random node key to FILE (which must not exist yet).
    Generate {
        /// Where to write the key.
        file: PathBuf,
    },
    /// Prints the node id (keccak256 of the public key) of the key in FILE.
    ToId {
        /// Key file.
        file: PathBuf,
    },
    /// Prints the enode URL of the key in FILE.
    ToEnode(Endpoint),
    /// Prints a signed node record (enr:…) for the key in FILE, with sequence number 1.
    ToEnr(Endpoint),
}

#[derive(Debug, Args)]
pub(crate) struct Endpoint {
    /// Key file.
    file: PathBuf,
    /// IP address of the node.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    ip: IpAddr,
    /// TCP (RLPx) port.
    #[arg(long, default_value_t = 30303)]
    tcp: u16,
    /// UDP (discovery) port; defaults to the TCP port.
    #[arg(long)]
    udp: Option<u16>,
}

pub(crate) fn run(cmd: KeyCommand) -> CmdResult {
    match cmd {
        KeyCommand::Generate { file } => generate(&file),
        KeyCommand::ToId { file } => {
            let key = load(&file)?;
            out!(
                "{}",
                PeerId::from_public_key(&key.verifying_key().into()).node_id()
            );
            Ok(())
        }
        KeyCommand::ToEnode(endpoint) => {
            let key = load(&endpoint.file)?;
            let url = NodeRecord {
                id: PeerId::from_public_key(&key.verifying_key().into()),
                ip: endpoint.ip,
                tcp_port: endpoint.tcp,
                udp_port: endpoint.udp.unwrap_or(endpoint.tcp),
            };
            out!("{url}");
            Ok(())
        }
        KeyCommand::ToEnr(endpoint) => {
            let key = load(&endpoint.file)?;
            let record = Enr::builder()
                .ip(endpoint.ip)
                .tcp(endpoint.tcp)
                .udp(endpoint.udp.unwrap_or(endpoint.tcp))
                .build(&key)
                .map_err(|e| format!("cannot build the record: {e}"))?;
            out!("{record}");
            Ok(())
        }
    }
}

fn generate(file: &Path) -> CmdResult {
    let key = SigningKey::try_generate().map_err(|e| format!("no randomness for a key: {e}"))?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options
        .open(file)
        .map_err(|e| format!("cannot create {}: {e}", file.display()))?;
    writeln!(out, "{}", hex::encode(key.to_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    out!(
        "{}",
        PeerId::from_public_key(&key.verifying_key().into()).node_id()
    );
    Ok(())
}

/// Reads a key file: 64 hex characters (an optional `0x` and surrounding whitespace allowed).
pub(crate) fn load(file: &Path) -> Result<SigningKey, String> {
    let bytes = crate::read_small_file(file)?;
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    let text = text.strip_prefix("0x").unwrap_or(text);
    let mut secret = [0u8; 32];
    hex::decode_to_slice(text, &mut secret)
        .map_err(|_| format!("{}: a key file holds 64 hex characters", file.display()))?;
    SigningKey::from_slice(&secret)
        .map_err(|_| format!("{}: not a valid secp256k1 secret key", file.display()))
}
