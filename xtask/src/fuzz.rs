//! `cargo xtask fuzz <target>`: libFuzzer on the stable toolchain.
//!
//! cargo-fuzz needs nightly only for `-Zsanitizer`; coverage instrumentation itself uses stable
//! codegen flags. So the target is built here with the same SanitizerCoverage passes cargo-fuzz
//! enables, without AddressSanitizer (the code under test forbids `unsafe`), and run with a seed
//! corpus made from the test vectors. `cargo fuzz run <target>` works too on a nightly toolchain.

use std::{fs, path::Path, process::Command};

use bytes::BytesMut;
use devp2p_ecies::{MacInit, Secrets};
use devp2p_enr::PeerId;
use devp2p_p2p_capability::{CapabilityInfo, Hello};
use devp2p_rlp_codec::Rlp;
use devp2p_rlpx_framing::{FrameCodec, MAX_FRAME_SIZE};
use serde_json::Value;

use crate::{TaskResult, root, run};

/// SanitizerCoverage settings as cargo-fuzz uses them, plus `cfg(fuzzing)` and runtime checks.
const FUZZ_RUSTFLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    --cfg fuzzing -Cdebug-assertions -Coverflow-checks";

pub(crate) fn run_target(target: &str, seconds: u64) -> TaskResult {
    let root = root();
    let fuzz_dir = root.join("fuzz");
    if !fuzz_dir
        .join("fuzz_targets")
        .join(format!("{target}.rs"))
        .exists()
    {
        return Err(format!("no fuzz target `{target}` in fuzz/fuzz_targets/"));
    }
    let host = host_triple()?;
    let target_dir = root.join("target/fuzz");
    run(Command::new(env!("CARGO"))
        .args([
            "build",
            "--locked",
            "--release",
            "--bin",
            target,
            "--target",
            &host,
            "--target-dir",
        ])
        .arg(&target_dir)
        .arg("--manifest-path")
        .arg(fuzz_dir.join("Cargo.toml"))
        .env("RUSTFLAGS", FUZZ_RUSTFLAGS))?;

    let corpus = target_dir.join("corpus").join(target);
    fs::create_dir_all(&corpus).map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
    let seeds = write_seeds(target, &root.join("testdata"), &corpus)?;
    println!("fuzz {target}: {seeds} seed inputs, running for {seconds} s");

    let artifacts = target_dir.join("artifacts").join(target);
    fs::create_dir_all(&artifacts)
        .map_err(|e| format!("cannot create {}: {e}", artifacts.display()))?;
    let binary = target_dir.join(&host).join("release").join(target);
    run(Command::new(binary)
        .arg(format!("-max_total_time={seconds}"))
        // One input may take at most 10 s (libFuzzer's default is 20 minutes): a hang is
        // reported as one, within the run's time.
        .arg("-timeout=10")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        .arg(&corpus))
}

/// The host target triple, from `rustc -vV`.
fn host_triple() -> Result<String, String> {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .map_err(|e| format!("rustc -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .ok_or_else(|| "rustc -vV printed no host triple".to_owned())
}

/// Writes seed inputs for `target` into `corpus`; returns how many.
fn write_seeds(target: &str, testdata: &Path, corpus: &Path) -> Result<usize, String> {
    let seeds = match target {
        "rlp" => rlp_seeds(testdata)?,
        "enr" => enr_seeds(testdata)?,
        "ecies_auth" => rlpx_seeds(testdata)?,
        "rlpx_frame" => frame_seeds()?,
        "p2p_message" => p2p_seeds(),
        "eth_message" => eth_seeds(testdata)?,
        "discv4_packet" => discv4_seeds(testdata)?,
        "discv4_session" => discv4_session_seeds(),
        "discv5_packet" => discv5_seeds(testdata)?,
        "discv5_session" => discv5_session_seeds(),
        _ => Vec::new(),
    };
    for (i, seed) in seeds.iter().enumerate() {
        let path = corpus.join(format!("seed-{i:04}"));
        fs::write(&path, seed).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(seeds.len())
}

/// EIP-8's discv4 packets, each whole (mode 0) and as type and data under the target's own hash
/// and signature (mode 1).
fn discv4_seeds(testdata: &Path) -> Result<Vec<Vec<u8>>, String> {
    let path = testdata.join("discv4/eip8_packets.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let packets = json
        .get("packets")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{}: no packets", path.display()))?;
    let mut seeds = Vec::new();
    for packet in packets {
        let bytes = packet
            .get("packet")
            .and_then(Value::as_str)
            .and_then(|p| hex::decode(p).ok())
            .ok_or_else(|| format!("{}: bad packet", path.display()))?;
        seeds.push([&[0u8][..], &bytes].concat());
        seeds.push([&[1u8][..], bytes.get(97..).unwrap_or_default()].concat());
    }
    Ok(seeds)
}

/// The four packets of the discv5 wire test vectors, whole (mode 0), and their decrypted
/// messages as plaintexts (mode 1).
fn discv5_seeds(testdata: &Path) -> Result<Vec<Vec<u8>>, String> {
    let path = testdata.join("discv5/packets.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let packets = json
        .get("packets")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{}: no packets", path.display()))?;
    let hex_field = |packet: &Value, pointer: &str| {
        packet
            .pointer(pointer)
            .and_then(Value::as_str)
            .and_then(|p| hex::decode(p).ok())
    };
    let mut seeds = Vec::new();
    for packet in packets {
        let bytes = hex_field(packet, "/packet")
            .ok_or_else(|| format!("{}: bad packet", path.display()))?;
        seeds.push([&[0u8][..], &bytes].concat());
        if let Some(plaintext) = hex_field(packet, "/derived/message_plaintext") {
            seeds.push([&[1u8][..], &plaintext].concat());
        }
    }
    Ok(seeds)
}

/// Runs of `op, len, bytes` for the `discv4_session` target: the bond both ways, time for
/// the node to send its FINDNODE, then Neighbours (two nodes) and the ENR response, in a few
/// orders.
fn discv4_session_seeds() -> Vec<Vec<u8>> {
    let pong = [1, 1, 1];
    let ping = [2, 1, 1];
    let wait = [5, 1, 5];
    let neighbours = [
        &[3, 18][..],
        &[10, 0, 0, 1, 0x76, 0x5f, 0x76, 0x5f, 0],
        &[10, 0, 0, 2, 0x76, 0x5f, 0x76, 0x5f, 1],
    ]
    .concat();
    let enr = [4, 1, 0];
    vec![
        [&pong[..], &ping, &wait, &neighbours, &enr].concat(),
        [&ping[..], &pong, &wait, &enr, &neighbours].concat(),
        [&pong[..], &wait, &ping, &wait, &neighbours, &neighbours].concat(),
        [&pong[..], &enr, &[4, 1, 1]].concat(),
    ]
}

/// Runs of `op, len, bytes` for the `discv5_session` target: each kind of message (answers and
/// requests alike) under each of the node's three request ids, NODES with two records for
/// each request, and a run of time passing and a bare datagram.
fn discv5_session_seeds() -> Vec<Vec<u8>> {
    use devp2p_discv5::{Message, RequestId};
    let id = RequestId::new(&[7]).unwrap_or_default();
    let messages = [
        Message::Pong {
            req_id: id,
            enr_seq: 2,
            ip: [127, 0, 0, 1].into(),
            port: 9000,
        },
        Message::Nodes {
            req_id: id,
            total: 1,
            enrs: Vec::new(),
        },
        Message::TalkResp {
            req_id: id,
            response: b"response".to_vec(),
        },
        Message::TalkReq {
            req_id: id,
            protocol: b"fz".to_vec(),
            request: b"request".to_vec(),
        },
        Message::FindNode {
            req_id: id,
            distances: vec![0, 256],
        },
    ];
    let op = |op: u8, bytes: &[u8]| {
        let len = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
        [
            &[op, len][..],
            bytes.get(..usize::from(len)).unwrap_or(bytes),
        ]
        .concat()
    };
    let mut seeds: Vec<Vec<u8>> = (0u8..3)
        .flat_map(|request| {
            messages
                .iter()
                .map(move |message| op(1, &[&[request][..], &message.encode()].concat()))
        })
        .collect();
    // NODES with two records for each request; then time passing and a bare datagram.
    for request in 0u8..3 {
        seeds.push(op(
            2,
            &[
                request, 2, 10, 0, 0, 1, 0x76, 0x5f, 1, 0, 10, 0, 0, 2, 0x76, 0x5f, 2, 3,
            ],
        ));
    }
    seeds.push([op(3, &[50]), op(3, &[200, 200]), op(4, &[0; 63])].concat());
    seeds
}

/// Every auth and ack packet of EIP-8's handshake vectors.
fn rlpx_seeds(testdata: &Path) -> Result<Vec<Vec<u8>>, String> {
    let path = testdata.join("rlpx/handshake.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let packets = ["auth", "ack"]
        .iter()
        .filter_map(|kind| json.get(kind).and_then(Value::as_array))
        .flatten()
        .filter_map(|p| p.get("packet").and_then(Value::as_str));
    packets
        .map(|p| hex::decode(p).map_err(|e| format!("{}: {e}", path.display())))
        .collect()
}

/// Frames the `rlpx_frame` target decodes: made under the same fixed secrets as that target
/// (AES secret 11.., MAC secret 22.., MAC seeds 33.. then "a" for this sender), so fuzzing
/// starts past the MAC checks and reaches the body. Each seed is a run of consecutive frames.
fn frame_seeds() -> Result<Vec<Vec<u8>>, String> {
    let secrets = fuzz_secrets(b"a", b"b");
    let runs: [&[(&[u8], &[u8])]; 4] = [
        // p2p Ping, as a frame body: the message id's RLP then the data.
        &[(&[0x02], &[0xc0])],
        // An empty body, then a one-byte one.
        &[(&[0x80], &[]), (&[0x01], &[0x00])],
        // A capability message crossing the 16-byte padding boundary, then a Disconnect.
        &[(&[0x10], &[0xab; 40]), (&[0x01], &[0xc1, 0x04])],
        // A larger body.
        &[(&[0x11], &[0x5a; 1000])],
    ];
    runs.iter()
        .map(|run| {
            let mut codec = FrameCodec::new(&secrets, MAX_FRAME_SIZE);
            let mut out = BytesMut::new();
            for (head, data) in run.iter() {
                codec
                    .encode(head, data, &mut out)
                    .map_err(|e| format!("seed frame: {e}"))?;
            }
            Ok(out.to_vec())
        })
        .collect()
}

/// Message runs for the `p2p_message` target: a flags byte (bit 0 snappy, bit 1 before the
/// Hello exchange), then `id || length (2 bytes) || data` per message.
fn p2p_seeds() -> Vec<Vec<u8>> {
    let message = |id: u8, data: &[u8]| {
        let mut out = vec![id];
        out.extend((data.len() as u16).to_be_bytes());
        out.extend(data);
        out
    };
    let hello = Hello {
        protocol_version: 5,
        client_id: "seed".into(),
        capabilities: vec![
            CapabilityInfo::new("eth", 68),
            CapabilityInfo::new("test", 1),
        ],
        listen_port: 30303,
        id: PeerId([0x22; 64]),
    };
    vec![
        // Snappy: Ping [], an eth message [1, 2, 3], a test message, Disconnect [8].
        [
            &[0x01][..],
            &message(0x02, &[0x01, 0x00, 0xc0]),
            &message(0x10, &[0x04, 0x0c, 0xc3, 0x01, 0x02, 0x03]),
            &message(0x21, &[0x01, 0x00, 0x80]),
            &message(0x01, &[0x02, 0x04, 0xc1, 0x08]),
        ]
        .concat(),
        // Before the Hello exchange: the peer's Hello, then a Pong.
        [
            &[0x03][..],
            &message(0x00, &hello.encode()),
            &message(0x03, &[0x01, 0x00, 0xc0]),
        ]
        .concat(),
        // No snappy: plain RLP, and ethereumjs's bare Disconnect.
        [
            &[0x00][..],
            &message(0x02, &[0xc0]),
            &message(0x11, &[0xc2, 0x80, 0x80]),
            &message(0x01, &[0x04]),
        ]
        .concat(),
    ]
}

/// Inputs for the `eth_message` target (`version selector || id || data`): real headers, bodies
/// and transactions of the first blocks of `ethtest/chain.rlp`, in each version's form.
fn eth_seeds(testdata: &Path) -> Result<Vec<Vec<u8>>, String> {
    use devp2p_eth_wire::{
        Block, BlockBodies, BlockHeaders, BlockId, EthMessage, EthVersion, GetBlockHeaders,
        HeadersQuery,
    };
    let path = testdata.join("ethtest/chain.rlp");
    let chain = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rlp = Rlp::new(&chain);
    let mut blocks: Vec<Block> = Vec::new();
    for _ in 0..4 {
        let raw = rlp.raw().map_err(|e| format!("{}: {e}", path.display()))?;
        blocks.push(devp2p_rlp_codec::decode_exact(raw).map_err(|e| e.to_string())?);
    }
    let messages = [
        EthMessage::BlockHeaders(BlockHeaders {
            request_id: 1,
            headers: blocks.iter().map(|b| b.header.clone()).collect(),
        }),
        EthMessage::BlockBodies(BlockBodies {
            request_id: 2,
            bodies: blocks.iter().map(Block::body).collect(),
        }),
        EthMessage::Transactions(blocks.iter().flat_map(|b| b.transactions.clone()).collect()),
        EthMessage::GetBlockHeaders(GetBlockHeaders {
            request_id: 3,
            query: HeadersQuery {
                start: BlockId::Number(1),
                limit: 2,
                skip: 1,
                reverse: false,
            },
        }),
    ];
    let mut seeds = Vec::new();
    for (selector, version) in EthVersion::ALL.iter().enumerate() {
        for message in &messages {
            let data = message.encode(*version).map_err(|e| e.to_string())?;
            seeds.push([&[selector as u8, message.id()][..], &data].concat());
        }
    }
    Ok(seeds)
}

/// The fixed session of the `rlpx_frame` target, seen from the side whose MACs start with
/// `egress` and `ingress`.
fn fuzz_secrets(egress: &[u8], ingress: &[u8]) -> Secrets {
    let mac = |message: &[u8]| MacInit {
        seed: [0x33; 32],
        message: message.to_vec(),
    };
    Secrets {
        remote_id: PeerId([1; 64]),
        aes_secret: [0x11; 32],
        mac_secret: [0x22; 32],
        egress_mac: mac(egress),
        ingress_mac: mac(ingress),
    }
}

/// The EIP-778 record as text, hex and RLP.
fn enr_seeds(testdata: &Path) -> Result<Vec<Vec<u8>>, String> {
    let path = testdata.join("enr/eip778.json");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let field = |p: &str| json.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let (Some(record), Some(rlp_hex)) = (field("/text"), field("/derived/rlp_hex")) else {
        return Err(format!(
            "{}: missing text or derived.rlp_hex",
            path.display()
        ));
    };
    let rlp = hex::decode(&rlp_hex).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(vec![record.into_bytes(), rlp_hex.into_bytes(), rlp])
}

/// Every `out` of the RLP test vectors, valid and invalid, and the first blocks of the chain.
fn rlp_seeds(testdata: &Path) -> Result<Vec<Vec<u8>>, String> {
    let mut seeds = Vec::new();
    for file in [
        "rlp/rlptest.json",
        "rlp/invalidRLPTest.json",
        "rlp/RandomRLPTests/example.json",
    ] {
        let path = testdata.join(file);
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let json: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let cases = json.as_object().into_iter().flat_map(|o| o.values());
        for out in cases.filter_map(|case| case.get("out").and_then(Value::as_str)) {
            let hex = out.strip_prefix("0x").unwrap_or(out);
            seeds.push(hex::decode(hex).map_err(|e| format!("{}: {out}: {e}", path.display()))?);
        }
    }
    let chain = testdata.join("ethtest/chain.rlp");
    let chain = fs::read(&chain).map_err(|e| format!("{}: {e}", chain.display()))?;
    let mut blocks = Rlp::new(&chain);
    for _ in 0..16 {
        let block = blocks.raw().map_err(|e| format!("chain.rlp: {e}"))?;
        seeds.push(block.to_vec());
    }
    Ok(seeds)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame seeds decode under the receiving side of the fuzz target's session, so the
    /// fuzzer starts from inputs that pass both MAC checks.
    #[test]
    fn frame_seeds_decode() {
        let seeds = frame_seeds().unwrap();
        assert_eq!(seeds.len(), 4);
        for seed in seeds {
            let mut codec = FrameCodec::new(&fuzz_secrets(b"b", b"a"), 1 << 16);
            let mut input = BytesMut::from(&seed[..]);
            let mut frames = 0;
            while let Some(body) = codec.decode(&mut input).unwrap() {
                assert!(!body.is_empty());
                frames += 1;
            }
            assert!(input.is_empty());
            assert!(frames >= 1);
        }
    }
}
