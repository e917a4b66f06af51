//! `devp2p`: the command-line tool of devp2p-rs, modelled on go-ethereum's `cmd/devp2p`.
//!
//! Errors are one line on stderr and exit code 1; usage errors exit with code 2.

/// `println!` for the tool's output. Once stdout is closed (piped into `head`, say), the program
/// ends quietly with success, as a Unix tool killed by SIGPIPE would, instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_out(format_args!($($arg)*), true)
    };
}

/// `eprintln!` for notes and errors: a closed stderr (`devp2p … 2>&1 | head`) loses the line
/// instead of panicking.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod discovery;
mod discv4;
mod discv5;
mod enrdump;
mod eth;
mod key;
mod rlpx;

use std::{io::Write, process::ExitCode};

/// Writes output, then a newline if `newline`; see [`out!`].
fn write_out(text: std::fmt::Arguments<'_>, newline: bool) {
    let mut stdout = std::io::stdout().lock();
    let end: &[u8] = if newline { b"\n" } else { b"" };
    if let Err(error) = stdout
        .write_fmt(text)
        .and_then(|()| stdout.write_all(end))
        .and_then(|()| stdout.flush())
    {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        note!("devp2p: cannot write the output: {error}");
        std::process::exit(1);
    }
}

use clap::{Parser, Subcommand, error::ErrorKind};

/// A command's failure, printed as one line.
type CmdResult = Result<(), String>;

/// Largest input file read (key files and records are a few hundred bytes at most).
const MAX_INPUT_FILE: u64 = 64 * 1024;

/// Reads a small input file, refusing anything larger than [`MAX_INPUT_FILE`].
fn read_small_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_INPUT_FILE {
        return Err(format!(
            "{}: larger than {MAX_INPUT_FILE} bytes, not a key or record",
            path.display()
        ));
    }
    Ok(bytes)
}

#[derive(Debug, Parser)]
#[command(
    name = "devp2p",
    version,
    about = "Ethereum devp2p tool: keys, node records, peers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Node keys: generate one, show its node id, enode URL or node record.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Prints a node record (enr: text, hex, or raw RLP in a file) in readable form.
    Enrdump(enrdump::Args),
    /// RLPx: talk to a node over TCP.
    #[command(subcommand)]
    Rlpx(rlpx::RlpxCommand),
    /// The eth protocol: a node's Status, or serve a chain.
    #[command(subcommand)]
    Eth(eth::EthCommand),
    /// Node Discovery v4: ping, records, lookups, crawling, a listening node.
    #[command(subcommand)]
    Discv4(discv4::Discv4Command),
    /// Node Discovery v5: ping, records, crawling, a listening node.
    #[command(subcommand)]
    Discv5(discv5::Discv5Command),
}

fn main() -> ExitCode {
    // go-ethereum spells the flag `-file`; accept that spelling too.
    let args = std::env::args_os().map(|a| if a == "-file" { "--file".into() } else { a });
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            write_out(format_args!("{err}"), false);
            return ExitCode::SUCCESS;
        }
        Err(err) if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = write!(std::io::stderr(), "{err}");
            return ExitCode::from(2);
        }
        Err(err) => {
            // clap's message up to its first blank line, on one line (usage and hints dropped).
            let text = err.to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty())
                .collect();
            note!(
                "devp2p: {} (see --help)",
                message.join(" ").trim_start_matches("error: ")
            );
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Key(cmd) => key::run(cmd),
        Command::Enrdump(args) => enrdump::run(&args),
        Command::Rlpx(cmd) => rlpx::run(cmd),
        Command::Eth(cmd) => eth::run(cmd),
        Command::Discv4(cmd) => discv4::run(cmd),
        Command::Discv5(cmd) => discv5::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            note!("devp2p: {msg}");
            ExitCode::FAILURE
        }
    }
}
