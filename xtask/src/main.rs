//! Project tasks, run as `cargo xtask <task>`: the test suite, fuzzing on the stable toolchain,
//! benchmarks with a ratio table against the peers, and interop runs against third-party nodes.

mod bench;
mod fuzz;
mod interop;

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use clap::{Parser, Subcommand};

/// Result of a task; errors are printed as one line.
type TaskResult = Result<(), String>;

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "devp2p-rs project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Runs every test of the workspace with all features, `--locked` (a stale `Cargo.lock`
    /// fails instead of being rewritten).
    Test,
    /// Builds a fuzz target with coverage instrumentation and runs it under libFuzzer.
    Fuzz {
        /// Fuzz target name (a file in `fuzz/fuzz_targets/`), e.g. `rlp`.
        target: String,
        /// How long to fuzz, at least 1 s (libFuzzer would take 0 as no limit).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        seconds: u64,
    },
    /// Runs a crate's criterion benchmarks and prints ours-vs-peers ratios.
    Bench {
        /// Crate folder under `crates/` (e.g. `rlp-codec`); all crates when omitted.
        #[arg(value_name = "CRATE")]
        krate: Option<String>,
    },
    /// Runs our nodes against third-party implementations on loopback.
    Interop,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.task {
        Task::Test => cargo(&["test", "--workspace", "--all-features", "--locked"]),
        Task::Fuzz { target, seconds } => fuzz::run_target(&target, seconds),
        Task::Bench { krate } => bench::run(krate.as_deref()),
        Task::Interop => interop::run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("xtask: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's folder).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Builds the `devp2p` CLI and returns the path of the executable, as cargo reports it (which
/// follows `CARGO_TARGET_DIR`, `CARGO_BUILD_TARGET`, `build.target-dir` and the rest).
fn build_cli() -> Result<PathBuf, String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "build",
            "--locked",
            "--quiet",
            "-p",
            "devp2p-cli",
            "--bin",
            "devp2p",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(root())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo build -p devp2p-cli: {}", output.status));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message.get("reason").and_then(serde_json::Value::as_str) == Some("compiler-artifact")
        })
        .find_map(|message| message.get("executable")?.as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo build -p devp2p-cli reported no executable".to_owned())
}

/// Runs `cargo` with `args` in the workspace root.
fn cargo(args: &[&str]) -> TaskResult {
    run(Command::new(env!("CARGO")).args(args).current_dir(root()))
}

/// Runs a command to completion, failing on a non-zero exit.
fn run(cmd: &mut Command) -> TaskResult {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed: {status}", cmd.get_program()))
    }
}
