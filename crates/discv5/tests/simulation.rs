//! 500 discv5 cores in one process with virtual time: after bootstrapping from one node, random
//! lookups must find the true 16 closest nodes to their targets, with and without packet loss.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::disallowed_methods
)] // Wall time is measured for the report.

mod sim;

use std::time::{Duration, Instant};

use devp2p_discv5::Enr;
use sim::Sim;

const NODES: usize = 500;
const LOOKUPS: usize = 50;
const K: usize = 16;

/// Runs the scenario and returns (lookups that found exactly the true 16, nodes found in all).
fn scenario(loss_percent: u64, seed: u64) -> (usize, usize) {
    let started = Instant::now();
    let mut sim = Sim::new(NODES, loss_percent, seed);
    sim.bootstrap(Duration::from_secs(30));
    let mut exact = 0;
    let mut found_total = 0;
    for n in 0..LOOKUPS {
        let from = 1 + (n * 37) % (NODES - 1);
        let target = sim.random_target();
        let found: Vec<_> = sim.lookup(from, target).iter().map(Enr::node_id).collect();
        let truth = sim.true_closest(&target, K, from);
        let hits = truth.iter().filter(|id| found.contains(id)).count();
        found_total += hits;
        if hits == K {
            exact += 1;
        }
    }
    let (delivered, lost) = sim.net.counts();
    // The loss asked for is the loss applied (within two points over this many datagrams).
    let share = lost * 100 / (delivered + lost).max(1);
    assert!(
        share.abs_diff(loss_percent) <= 2,
        "{lost} of {} datagrams lost",
        delivered + lost
    );
    eprintln!(
        "discv5, {NODES} nodes, {loss_percent}% loss: {exact}/{LOOKUPS} lookups exact, {found_total}/{} of the true closest found; {delivered} datagrams delivered, {lost} lost; {:.1} s wall",
        LOOKUPS * K,
        started.elapsed().as_secs_f64()
    );
    (exact, found_total)
}

#[test]
fn lookups_find_the_true_closest_nodes() {
    let (exact, found) = scenario(0, 7);
    assert!(exact * 100 >= LOOKUPS * 95, "{exact}/{LOOKUPS} exact");
    assert!(found * 100 >= LOOKUPS * K * 95, "{found} found");
}

#[test]
fn lookups_converge_with_20_percent_loss() {
    let (exact, found) = scenario(20, 11);
    assert!(exact * 100 >= LOOKUPS * 95, "{exact}/{LOOKUPS} exact");
    assert!(found * 100 >= LOOKUPS * K * 95, "{found} found");
}
