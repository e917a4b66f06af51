//! `cargo xtask fuzz <target>`: libFuzzer on the stable toolchain.
//!
//! cargo-fuzz needs nightly only for `-Zsanitizer`; coverage instrumentation itself uses stable
//! codegen flags. So the target is built here with the same SanitizerCoverage passes cargo-fuzz
//! enables, without AddressSanitizer (the code under test forbids `unsafe`), and run with a seed
//! corpus made from the test vectors. `cargo fuzz run <target>` works too on a nightly toolchain.

use std::{fs, path::Path, process::Command};

use devp2p_rlp_codec::Rlp;
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
    println!("fuzz {target}: {seeds} seed inputs from testdata/, running for {seconds} s");

    let artifacts = target_dir.join("artifacts").join(target);
    fs::create_dir_all(&artifacts)
        .map_err(|e| format!("cannot create {}: {e}", artifacts.display()))?;
    let binary = target_dir.join(&host).join("release").join(target);
    run(Command::new(binary)
        .arg(format!("-max_total_time={seconds}"))
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
        _ => Vec::new(),
    };
    for (i, seed) in seeds.iter().enumerate() {
        let path = corpus.join(format!("seed-{i:04}"));
        fs::write(&path, seed).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(seeds.len())
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
