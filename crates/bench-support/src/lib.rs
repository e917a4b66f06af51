//! Paired measurements for the workspace's benchmarks, and a simulated network for the
//! discovery simulations ([`sim`]) (internal, not published).
//!
//! Criterion times each function in its own stretch of seconds, so on a shared machine a burst
//! of load that hits one function and not the other moves a ratio by tens of percent. For the
//! ratios our goals are stated in, [`paired`] alternates the two sides in short rounds and takes
//! the median of the per-round ratios: load that lasts longer than a round affects both sides of
//! it alike.
//!
//! ```
//! let (mut a, mut b) = (0u64, 0u64);
//! let result = devp2p_bench_support::paired(5, 100, || a += 1, || b += 2);
//! assert!(result.ratio > 0.0);
//! assert_eq!((a, b), (600, 1200)); // a warm-up run and 5 rounds of 100, each side
//! ```
// A measurement tool: reading the clock is its job.
#![allow(clippy::disallowed_methods)]

pub mod sim;

use std::time::{Duration, Instant};

/// The outcome of [`paired`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    /// Median over the rounds of (time of ours / time of the floor).
    pub ratio: f64,
    /// Median time of one run of ours.
    pub ours: Duration,
    /// Median time of one run of the floor.
    pub floor: Duration,
}

impl core::fmt::Display for Paired {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "ours/floor {:.3} (ours {:?}, floor {:?}, medians of paired rounds)",
            self.ratio, self.ours, self.floor
        )
    }
}

/// Whether to run the paired measurement `name`: not when the benchmark binary runs as a smoke
/// test (`cargo bench -- --test`), and, when a filter is given (`cargo bench -- keccak`), only if
/// `name` contains it, as criterion does for its own benchmarks.
pub fn should_run(name: &str) -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--test") {
        return false;
    }
    args.iter()
        .find(|arg| !arg.starts_with('-'))
        .is_none_or(|filter| name.contains(filter.as_str()))
}

fn time(iterations: u32, run: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        run();
    }
    start.elapsed() / iterations.max(1)
}

fn median<T: Copy + PartialOrd>(values: &mut [T]) -> Option<T> {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(core::cmp::Ordering::Equal));
    values.get(values.len() / 2).copied()
}

/// Runs `ours` and `floor` for `iterations` each, in `rounds` rounds, alternating which goes
/// first; returns the median ratio and the median times.
pub fn paired(
    rounds: usize,
    iterations: u32,
    mut ours: impl FnMut(),
    mut floor: impl FnMut(),
) -> Paired {
    time(iterations, &mut ours);
    time(iterations, &mut floor);
    let mut ratios = Vec::with_capacity(rounds);
    let mut ours_times = Vec::with_capacity(rounds);
    let mut floor_times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = time(iterations, &mut ours);
            (a, time(iterations, &mut floor))
        } else {
            let b = time(iterations, &mut floor);
            (time(iterations, &mut ours), b)
        };
        ratios.push(a.as_secs_f64() / b.as_secs_f64().max(f64::MIN_POSITIVE));
        ours_times.push(a);
        floor_times.push(b);
    }
    Paired {
        ratio: median(&mut ratios).unwrap_or(f64::NAN),
        ours: median(&mut ours_times).unwrap_or_default(),
        floor: median(&mut floor_times).unwrap_or_default(),
    }
}
