//! Walks a file of concatenated RLP blocks (by default the 600-block test chain embedded from
//! `testdata/ethtest/chain.rlp`), decodes every nested item strictly (so all of it is canonical),
//! prints what it found.
//!
//! ```text
//! cargo run --release -p devp2p-rlp-codec --example chain_stats [-- path/to/chain.rlp]
//! ```

use std::{process::ExitCode, time::Instant};

use devp2p_rlp_codec::{DecodeError, Item, Rlp};
use sha3::{Digest, Keccak256};

/// The chain of go-ethereum's eth protocol test suite (blocks 1 to 600).
static EMBEDDED_CHAIN: &[u8] = include_bytes!("../../../testdata/ethtest/chain.rlp");

#[derive(Debug, Default)]
struct Stats {
    items: usize,
    lists: usize,
    max_depth: usize,
}

/// Walks every nested item with a stack of its own rather than by recursion, so that a file of
/// deeply nested lists cannot overflow the thread's stack.
fn walk(rlp: Rlp<'_>, stats: &mut Stats) -> Result<(), DecodeError> {
    let mut open = vec![rlp];
    while let Some(cursor) = open.last_mut() {
        if cursor.is_empty() {
            open.pop();
            continue;
        }
        let item = cursor.item()?;
        stats.items += 1;
        stats.max_depth = stats.max_depth.max(open.len() - 1);
        if let Item::List(inner) = item {
            stats.lists += 1;
            open.push(inner);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let owned;
    let (name, input) = match std::env::args_os().nth(1) {
        Some(path) => match std::fs::read(&path) {
            Ok(bytes) => {
                owned = bytes;
                (path.to_string_lossy().into_owned(), owned.as_slice())
            }
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.to_string_lossy());
                return ExitCode::FAILURE;
            }
        },
        None => (
            "embedded testdata/ethtest/chain.rlp".to_owned(),
            EMBEDDED_CHAIN,
        ),
    };

    #[allow(clippy::disallowed_methods)] // an example program timing itself, not a protocol core
    let started = Instant::now();
    let mut stats = Stats::default();
    let mut blocks = Rlp::new(input);
    let mut count = 0usize;
    let mut head = None;
    let result = (|| {
        while !blocks.is_empty() {
            let block = blocks.raw()?;
            let header = Rlp::new(block).list()?.raw()?;
            head = Some(Keccak256::digest(header));
            walk(Rlp::new(block), &mut stats)?;
            count += 1;
        }
        Ok::<_, DecodeError>(())
    })();
    let elapsed = started.elapsed();
    if let Err(e) = result {
        eprintln!("error: {name}: block {count}: {e}");
        return ExitCode::FAILURE;
    }
    println!("input:       {name} ({} bytes)", input.len());
    println!("blocks:      {count}");
    println!(
        "items:       {} ({} lists), nesting depth up to {}",
        stats.items, stats.lists, stats.max_depth
    );
    if let Some(hash) = head {
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        println!("head header: keccak256 {hex}");
    }
    println!(
        "all canonical; walked in {:.2} ms",
        elapsed.as_secs_f64() * 1e3
    );
    ExitCode::SUCCESS
}
