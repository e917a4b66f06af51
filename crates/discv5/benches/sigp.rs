//! Ours against sigp's `discv5` 0.12 in the same run, over loopback UDP, each node in the same
//! tokio runtime: handshakes per second (a fresh client pings a server: random packet,
//! WHOAREYOU, handshake with the PING, PONG) and PING/PONG round trips per second on an
//! established session. Measured with `paired` (alternating rounds, median ratio), twice: with
//! the calls made by a task of the runtime, and by the bench's thread outside it.
//!
//! Our per-IP handshake limit is lifted here (all clients share 127.0.0.1; sigp's limits are
//! off by default). `cargo xtask bench discv5` runs it; `-- --test` (CI) only checks that it
//! builds.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::disallowed_methods
)]

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use devp2p_bench_support::{Paired, paired, should_run};
use devp2p_discv5::{Config, Discv5, Discv5Handle, Enr, SigningKey};
use discv5::{ConfigBuilder, Discv5 as Sigp, ListenConfig};
use enr::{CombinedKey, Enr as SigpEnr};
use tokio::runtime::Runtime;

const ROUNDS: usize = 11;

const HANDSHAKES_PER_ROUND: u32 = 5;
const PINGS_PER_ROUND: u32 = 50;

/// Which secp256k1 code our handshakes ran on (the `libsecp256k1` feature).
const BACKEND: &str = if cfg!(feature = "libsecp256k1") {
    "libsecp256k1"
} else {
    "k256"
};

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn ours(seed: u32) -> Discv5Handle {
    let mut secret = [0x11u8; 32];
    secret[..4].copy_from_slice(&seed.to_be_bytes());
    let key = SigningKey::from_slice(&secret).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    Discv5Handle::bind(addr, key, Config::default())
        .await
        .unwrap()
}

async fn sigp(seed: u32) -> Sigp {
    let port = free_port();
    let mut secret = [0x22u8; 32];
    secret[..4].copy_from_slice(&seed.to_be_bytes());
    let key = CombinedKey::secp256k1_from_bytes(&mut secret).unwrap();
    let enr = SigpEnr::builder()
        .ip4(Ipv4Addr::LOCALHOST)
        .udp4(port)
        .build(&key)
        .unwrap();
    let listen = ListenConfig::Ipv4 {
        ip: Ipv4Addr::LOCALHOST,
        port,
    };
    let mut node = Sigp::new(enr, key, ConfigBuilder::new(listen).build()).unwrap();
    node.start().await.unwrap();
    node
}

/// Our cores wired directly, no sockets and no tasks: what a handshake (with its PING) and a
/// round trip cost in CPU alone, nearly all of it the handshake's secp256k1 work. The handshake
/// figure bounds how far above sigp (which does the same k256 work) any driver can go.
fn in_memory() -> (Duration, Duration) {
    let core = |seed: u32| {
        let mut secret = [0x33u8; 32];
        secret[..4].copy_from_slice(&seed.to_be_bytes());
        let key = SigningKey::from_slice(&secret).unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], 1000 + seed as u16));
        let record = Enr::builder()
            .ip(addr.ip())
            .udp(addr.port())
            .build(&key)
            .unwrap();
        (
            Discv5::new(
                key,
                record,
                Config::default(),
                Instant::now(),
                [seed as u8; 32],
            ),
            addr,
        )
    };
    let exchange = |client: &mut (Discv5, SocketAddr), server: &mut (Discv5, SocketAddr)| {
        let now = Instant::now();
        client.0.ping(now, server.0.local_record());
        let mut moved = true;
        while moved {
            moved = false;
            while let Some(t) = client.0.poll_transmit() {
                server.0.handle_datagram(now, client.1, &t.bytes);
                moved = true;
            }
            while let Some(t) = server.0.poll_transmit() {
                client.0.handle_datagram(now, server.1, &t.bytes);
                moved = true;
            }
        }
        while client.0.poll_event().is_some() || server.0.poll_event().is_some() {}
    };
    const N: u32 = 200;
    let mut server = core(0);
    let mut clients: Vec<_> = (1..=N).map(core).collect();
    let started = Instant::now();
    for client in &mut clients {
        exchange(client, &mut server);
    }
    let handshake = started.elapsed() / N;
    let started = Instant::now();
    for _ in 0..10 * N {
        exchange(&mut clients[0], &mut server);
    }
    (handshake, started.elapsed() / (10 * N))
}

/// Where the timed calls come from.
#[derive(Clone, Copy)]
enum Caller {
    /// A task of the runtime, as an application calls a node: one task makes a round's calls
    /// one after the other (spawning it is timed too, once per round).
    Task,
    /// The bench's own thread, outside the runtime (`block_on` per call): every call also
    /// wakes that thread, which the kernel may have put on the other core.
    Thread,
}

impl Caller {
    const ALL: [Self; 2] = [Self::Task, Self::Thread];

    const fn name(self) -> &'static str {
        match self {
            Self::Task => "from a task",
            Self::Thread => "from a thread outside the runtime",
        }
    }

    /// Times rounds of `calls` calls, ours (each call made by what `ours` hands out) against
    /// sigp's, paired; the times are per call.
    fn paired<A, B, FA, FB>(
        self,
        rt: &Runtime,
        calls: u32,
        mut ours: impl FnMut() -> A,
        mut theirs: impl FnMut() -> B,
    ) -> Paired
    where
        A: FnOnce() -> FA + Send + 'static,
        B: FnOnce() -> FB + Send + 'static,
        FA: Future<Output = ()> + Send + 'static,
        FB: Future<Output = ()> + Send + 'static,
    {
        let result = match self {
            Self::Task => paired(
                ROUNDS,
                1,
                || in_task(rt, (0..calls).map(|_| ours()).collect()),
                || in_task(rt, (0..calls).map(|_| theirs()).collect()),
            ),
            Self::Thread => paired(
                ROUNDS,
                calls,
                || rt.block_on(ours()()),
                || rt.block_on(theirs()()),
            ),
        };
        let per_call = match self {
            Self::Task => calls,
            Self::Thread => 1,
        };
        Paired {
            ratio: result.ratio,
            ours: result.ours / per_call,
            floor: result.floor / per_call,
        }
    }
}

/// Makes the calls one after the other in one task of the runtime, and waits for it.
fn in_task<C, F>(rt: &Runtime, calls: Vec<C>)
where
    C: FnOnce() -> F + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    rt.block_on(rt.spawn(async move {
        for call in calls {
            call().await;
        }
    }))
    .unwrap();
}

fn main() {
    let rt = Runtime::new().unwrap();
    let per_second = |d: Duration| 1.0 / d.as_secs_f64();

    if should_run("discv5/handshake") {
        // A fresh client per handshake: a warm-up round and ROUNDS timed ones, per caller.
        let clients = Caller::ALL.len() * (ROUNDS + 1) * HANDSHAKES_PER_ROUND as usize;
        let (server, our_clients, sigp_server, sigp_clients) = rt.block_on(async {
            let server = ours(0).await;
            let mut our_clients = Vec::new();
            for i in 1..=clients as u32 {
                our_clients.push(ours(i).await);
            }
            let sigp_server = sigp(0).await;
            let mut sigp_clients = Vec::new();
            for i in 1..=clients as u32 {
                sigp_clients.push(Arc::new(sigp(i).await));
            }
            (server, our_clients, sigp_server, sigp_clients)
        });
        // Handed out as clones, so that no node is dropped (and stopped) while timed.
        let (mut next_ours, mut next_sigp) = (our_clients.iter(), sigp_clients.iter());
        let target = server.local_enr();
        let sigp_target = sigp_server.local_enr();
        let mut floors = Vec::new();
        for caller in Caller::ALL {
            let result = caller.paired(
                &rt,
                HANDSHAKES_PER_ROUND,
                || {
                    let (client, target) = (next_ours.next().unwrap().clone(), target.clone());
                    move || async move {
                        client.ping(target).await.unwrap();
                    }
                },
                || {
                    let (client, target) = (next_sigp.next().unwrap().clone(), sigp_target.clone());
                    move || async move {
                        client.send_ping(target).await.unwrap();
                    }
                },
            );
            println!(
                "paired discv5/handshake ({BACKEND}, {}): {result}; ours {:.0} handshakes/s, sigp {:.0}/s, ours at {:.2}x sigp's rate",
                caller.name(),
                per_second(result.ours),
                per_second(result.floor),
                1.0 / result.ratio
            );
            floors.push(result.floor);
        }
        let floor = floors.into_iter().min().unwrap_or_default();
        let (handshake, round_trip) = in_memory();
        println!(
            "discv5 in memory ({BACKEND}; no sockets, no tasks): handshake with PING {handshake:.2?}, round trip {round_trip:.2?}; sigp's fastest handshake over loopback above took {floor:.2?}, so no driver over this handshake code exceeds {:.2}x sigp",
            floor.as_secs_f64() / handshake.as_secs_f64()
        );
    }

    if should_run("discv5/ping") {
        let (a, b, c, d) = rt.block_on(async {
            (
                ours(1000).await,
                ours(1001).await,
                Arc::new(sigp(1000).await),
                sigp(1001).await,
            )
        });
        let (b_enr, d_enr) = (b.local_enr(), d.local_enr());
        // Sessions first, then only round trips are timed.
        rt.block_on(a.ping(b_enr.clone())).unwrap();
        rt.block_on(c.send_ping(d_enr.clone())).unwrap();
        for caller in Caller::ALL {
            let result = caller.paired(
                &rt,
                PINGS_PER_ROUND,
                || {
                    let (a, b_enr) = (a.clone(), b_enr.clone());
                    move || async move {
                        a.ping(b_enr).await.unwrap();
                    }
                },
                || {
                    let (c, d_enr) = (c.clone(), d_enr.clone());
                    move || async move {
                        c.send_ping(d_enr).await.unwrap();
                    }
                },
            );
            println!(
                "paired discv5/ping ({}): {result}; ours {:.0} round trips/s, sigp {:.0}/s, ours at {:.2}x sigp's rate",
                caller.name(),
                per_second(result.ours),
                per_second(result.floor),
                1.0 / result.ratio
            );
        }
    }
}
