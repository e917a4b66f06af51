//! `devp2p enrdump`: a node record in readable form, for people or (`--json`) for programs.

use std::{net::Ipv4Addr, net::Ipv6Addr, path::PathBuf};

use clap::Args as ClapArgs;
use devp2p_enr::Enr;
use devp2p_rlp_codec::{RlpDecodable, decode_exact};
use serde_json::{Map, Value, json};

use crate::CmdResult;

#[derive(Debug, ClapArgs)]
pub(crate) struct Args {
    /// The record: `enr:…` text or hex of its RLP.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    record: Option<String>,
    /// Read the record from a file instead: text, hex, or raw RLP bytes.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// EIP-2124's ENR entry under `eth`: `[[fork hash, fork next]]`.
#[derive(Debug, RlpDecodable)]
#[rlp(ignore_extra)]
struct ForkIdEntry {
    hash: [u8; 4],
    next: u64,
}

pub(crate) fn run(args: &Args) -> CmdResult {
    let record = match (&args.record, &args.file) {
        (Some(text), _) if text.trim().is_empty() => {
            return Err("the record is empty".to_owned());
        }
        (Some(text), _) => Enr::parse_any(text).map_err(|e| format!("invalid record: {e}"))?,
        (None, Some(path)) => {
            let bytes = crate::read_small_file(path)?;
            if bytes.trim_ascii().is_empty() {
                return Err(format!("{}: the file is empty", path.display()));
            }
            parse_file(&bytes).map_err(|e| format!("{}: invalid record: {e}", path.display()))?
        }
        (None, None) => return Err("give a record or --file".to_owned()),
    };
    if args.json {
        out!("{}", to_json(&record));
    } else {
        crate::write_out(format_args!("{}", to_text(&record)), false);
    }
    Ok(())
}

/// A file holds the text form, hex, or the raw RLP.
fn parse_file(bytes: &[u8]) -> Result<Enr, devp2p_enr::EnrError> {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.trim().starts_with("enr:") || is_hex(text.trim()) => Enr::parse_any(text),
        _ => Enr::from_rlp(bytes),
    }
}

fn is_hex(text: &str) -> bool {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A readable value for a known key, or `None` to show the raw RLP.
fn readable(key: &[u8], raw: &[u8]) -> Option<String> {
    match key {
        b"id" => decode_exact::<&str>(raw).ok().map(str::to_owned),
        b"ip" => decode_exact::<[u8; 4]>(raw)
            .ok()
            .map(|ip| Ipv4Addr::from(ip).to_string()),
        b"ip6" => decode_exact::<[u8; 16]>(raw)
            .ok()
            .map(|ip| Ipv6Addr::from(ip).to_string()),
        b"tcp" | b"udp" | b"quic" | b"tcp6" | b"udp6" | b"quic6" => {
            decode_exact::<u16>(raw).ok().map(|port| port.to_string())
        }
        b"secp256k1" => decode_exact::<&[u8]>(raw).ok().map(hex::encode),
        b"eth" => decode_exact::<Vec<ForkIdEntry>>(raw)
            .ok()
            .and_then(|entries| {
                let first = entries.first()?;
                Some(format!(
                    "fork id {} next {}",
                    hex::encode(first.hash),
                    first.next
                ))
            }),
        _ => None,
    }
}

/// How a key is shown: as text when it is UTF-8 without control characters, else as `0x` and
/// its hex (so that two keys that are not text never show, or map in JSON, as one).
enum Name {
    Text(String),
    Hex(String),
}

fn key_name(key: &[u8]) -> Name {
    match core::str::from_utf8(key) {
        Ok(text) if !text.chars().any(char::is_control) => Name::Text(text.to_owned()),
        _ => Name::Hex(format!("0x{}", hex::encode(key))),
    }
}

fn to_text(record: &Enr) -> String {
    let mut out = format!("Node ID: {}\n", record.node_id());
    if let Some(url) = record.node_record() {
        out += &format!("URLv4:   {url}\n");
    }
    let pairs: Vec<_> = record.pairs().collect();
    out += &format!(
        "Record has sequence number {} and {} key/value pairs.\n",
        record.seq(),
        pairs.len()
    );
    let names: Vec<String> = pairs
        .iter()
        .map(|(key, _)| match key_name(key) {
            Name::Text(text) => format!("\"{text}\""),
            Name::Hex(hex) => hex,
        })
        .collect();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    for ((key, raw), name) in pairs.into_iter().zip(names) {
        let value = readable(key, raw).unwrap_or_else(|| format!("raw {}", hex::encode(raw)));
        out += &format!("  {name:<width$} {value}\n");
    }
    out
}

fn to_json(record: &Enr) -> Value {
    let mut pairs = Map::new();
    for (key, raw) in record.pairs() {
        let value = match readable(key, raw) {
            Some(text) => match key {
                b"tcp" | b"udp" | b"quic" | b"tcp6" | b"udp6" | b"quic6" => {
                    decode_exact::<u16>(raw)
                        .map(Value::from)
                        .unwrap_or(Value::String(text))
                }
                _ => Value::String(text),
            },
            None => json!({ "raw": hex::encode(raw) }),
        };
        let (Name::Text(name) | Name::Hex(name)) = key_name(key);
        pairs.insert(name, value);
    }
    json!({
        "node_id": record.node_id().to_string(),
        "enode": record.node_record().map(|url| url.to_string()),
        "seq": record.seq(),
        "signature": hex::encode(record.signature()),
        "record": record.to_string(),
        "pairs": pairs,
    })
}
