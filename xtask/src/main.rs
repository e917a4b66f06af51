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

/// The `devp2p` binary `cargo build` wrote, in the target directory cargo reports (which
/// follows `CARGO_TARGET_DIR`, `build.target-dir` and the rest); `target/` if cargo cannot say.
fn cli_binary() -> PathBuf {
    let target = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root())
        .output()
        .ok()
        .and_then(|out| serde_json::from_slice::<serde_json::Value>(&out.stdout).ok())
        .and_then(|meta| meta.get("target_directory")?.as_str().map(PathBuf::from))
        .unwrap_or_else(|| root().join("target"));
    target
        .join("debug")
        .join(format!("devp2p{}", std::env::consts::EXE_SUFFIX))
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
