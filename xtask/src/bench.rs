//! `cargo xtask bench [crate]`: runs criterion benchmarks and prints, for each benchmark group,
//! our time beside each peer's and the ratio against the fastest peer.
//!
//! Convention for every benchmark in the workspace: a group per scenario (`integers/decode`), a
//! function `ours` and one function per peer or floor (`fastrlp`, `alloy-rlp`, `keccak+aes`).

use std::{collections::BTreeMap, fs, path::Path, process::Command, time::SystemTime};

use serde_json::Value;

use crate::{TaskResult, cargo, root, run as run_command};

/// The function id of our implementation in every group.
const OURS: &str = "ours";

pub(crate) fn run(krate: Option<&str>) -> TaskResult {
    // A tool, not a protocol core: the wall clock only tells this run's results from older ones.
    #[allow(clippy::disallowed_methods)]
    let started = SystemTime::now();
    let package = krate.map(|k| format!("devp2p-{k}"));
    let mut args = vec!["bench", "--locked", "--all-features"];
    match &package {
        Some(p) => args.extend(["-p", p.as_str()]),
        None => args.push("--workspace"),
    }
    cargo(&args)?;
    if package.as_deref().is_none_or(|p| p == "devp2p-discv5") {
        // All features put discv5's handshakes on libsecp256k1; its default is k256.
        println!("devp2p-discv5 again on its default features (k256):");
        cargo(&[
            "bench",
            "--locked",
            "-p",
            "devp2p-discv5",
            "--bench",
            "sigp",
        ])?;
        // On two cores its round trips depend on whether the kernel puts the caller and the
        // runtime's threads on the same core (waking the other costs tens of microseconds);
        // on one core the ratios are the work each library does.
        let taskset = Command::new("taskset").arg("-V").output();
        if taskset.is_ok_and(|out| out.status.success()) {
            println!("devp2p-discv5 (libsecp256k1) once more, pinned to one core (taskset -c 0):");
            let mut cmd = Command::new("taskset");
            cmd.args(["-c", "0", env!("CARGO")])
                .args(["bench", "--locked", "-p", "devp2p-discv5", "--all-features"])
                .args(["--bench", "sigp"])
                .current_dir(root());
            // Core 0 may be outside this process's cpuset (a container): the runs above stand.
            if let Err(e) = run_command(&mut cmd) {
                println!("(no run pinned to one core: {e})");
            }
        } else {
            println!("(taskset not found: no run pinned to one core)");
        }
    }
    let groups = collect(&root().join("target/criterion"), started)?;
    if groups.is_empty() {
        // Benchmarks with only `paired` lines (discv5 against sigp) print their own results.
        println!("no criterion groups in this run: the `paired` lines above are its results");
        return Ok(());
    }
    print_table(&groups);
    Ok(())
}

/// Median time in nanoseconds per function, per group, for results written after `since`.
type Groups = BTreeMap<String, BTreeMap<String, f64>>;

fn collect(dir: &Path, since: SystemTime) -> Result<Groups, String> {
    let mut groups = Groups::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(groups);
    };
    for group_dir in entries.flatten().map(|e| e.path()) {
        let Ok(functions) = fs::read_dir(&group_dir) else {
            continue;
        };
        for function_dir in functions.flatten().map(|e| e.path()) {
            let estimates = function_dir.join("new/estimates.json");
            let benchmark = function_dir.join("new/benchmark.json");
            let fresh = fs::metadata(&estimates)
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified >= since);
            if !fresh {
                continue;
            }
            let (Some(ids), Some(est)) = (read_json(&benchmark), read_json(&estimates)) else {
                continue;
            };
            let text = |key| {
                ids.pointer(key)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (group, function) = (text("/group_id"), text("/function_id"));
            if let Some(median) = est
                .pointer("/median/point_estimate")
                .and_then(Value::as_f64)
            {
                groups.entry(group).or_default().insert(function, median);
            }
        }
    }
    Ok(groups)
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&fs::read_to_string(path).ok()?).ok()
}

fn print_table(groups: &Groups) {
    println!();
    println!(
        "{:<22} {:>12}  {:<42} {:>12}",
        "benchmark", "ours", "peers", "ours vs best"
    );
    for (group, functions) in groups {
        let Some(ours) = functions.get(OURS) else {
            continue;
        };
        let peers: Vec<_> = functions
            .iter()
            .filter(|(name, _)| name.as_str() != OURS)
            .collect();
        let Some(best) = peers.iter().map(|(_, t)| **t).reduce(f64::min) else {
            println!("{group:<22} {:>12}", human(*ours));
            continue;
        };
        let peer_text = peers
            .iter()
            .map(|(name, t)| format!("{name} {}", human(**t)))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "{group:<22} {:>12}  {peer_text:<42} {:>11.2}x",
            human(*ours),
            best / ours
        );
    }
    println!("(ratio > 1: ours is faster than the fastest peer by that factor; medians)");
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}
