//! CPU cost under load: 64 calls in flight through one client, a fixed number of calls;
//! client CPU time (user + sys) per call for (a) hand-written reqwest and (c) the adapter,
//! measured alternately in blocks within one run.
//!
//! The fixed-body server runs in a child process, so this process's CPU time is the
//! client's: the sum of `/proc/self/task/*/schedstat` (ns resolution, user + sys of every
//! thread), cross-checked with `/proc/self/stat` utime + stime (10 ms ticks). Each block
//! mixes the four calls (VMEG and JimmyAI, create and query) round robin.
//!
//! `cargo bench -p voiceclone-benches --bench load_cpu`
//! Environment: BENCH_CALLS (calls per block, default 20000), BENCH_REPS (5),
//! BENCH_IN_FLIGHT (64).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use voiceclone_benches::child::{ChildServer, Role, run_if_child};
use voiceclone_benches::variants::{Clients, OPS, Variant, call, env_or};
use voiceclone_benches::{KEY, proc, stats};

struct Block {
    cpu: Duration,
    ticks: Duration,
    wall: Duration,
}

async fn block(clients: &Arc<Clients>, variant: Variant, calls: usize, in_flight: usize) -> Block {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu0 = proc::threads_cpu().unwrap();
    let (u0, s0) = proc::process_cpu().unwrap();
    let t0 = Instant::now();
    let workers: Vec<_> = (0..in_flight)
        .map(|_| {
            let clients = Arc::clone(clients);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= calls {
                        break;
                    }
                    call(&clients, OPS[i % OPS.len()], variant).await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let wall = t0.elapsed();
    let cpu = proc::threads_cpu().unwrap().saturating_sub(cpu0);
    let (u1, s1) = proc::process_cpu().unwrap();
    Block {
        cpu,
        ticks: (u1 + s1).saturating_sub(u0 + s0),
        wall,
    }
}

fn us_per_call(d: Duration, calls: usize) -> f64 {
    d.as_secs_f64() * 1e6 / calls as f64
}

fn main() {
    run_if_child();
    let calls: usize = env_or("BENCH_CALLS", 20_000);
    let reps: usize = env_or("BENCH_REPS", 5);
    let in_flight: usize = env_or("BENCH_IN_FLIGHT", 64);
    let mut server = ChildServer::spawn(&Role::Fixed).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-client")
        .build()
        .unwrap();
    let clients = Arc::new(Clients::new(&server.base_url, KEY, in_flight).unwrap());
    println!(
        "{in_flight} calls in flight, {calls} calls per block (the four calls round robin), {reps} repetitions of (a, c) blocks in alternating order"
    );
    let results = rt.block_on(async {
        // Warm-up: connections, allocator, caches.
        for v in [Variant::Raw, Variant::Adapter] {
            block(&clients, v, calls / 4, in_flight).await;
        }
        let mut out = Vec::new();
        for rep in 0..reps {
            let order = if rep % 2 == 0 {
                [Variant::Raw, Variant::Adapter]
            } else {
                [Variant::Adapter, Variant::Raw]
            };
            let mut a = None;
            let mut c = None;
            for v in order {
                let b = block(&clients, v, calls, in_flight).await;
                match v {
                    Variant::Raw => a = Some(b),
                    _ => c = Some(b),
                }
            }
            out.push((a.unwrap(), c.unwrap()));
        }
        out
    });
    println!(
        "| rep | (a) CPU us/call | (c) CPU us/call | (c)/(a) | (a) calls/s | (c) calls/s | (c)/(a) by /proc/self/stat ticks |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut ratios = Vec::new();
    let mut tick_ratios = Vec::new();
    for (i, (a, c)) in results.iter().enumerate() {
        let r = c.cpu.as_secs_f64() / a.cpu.as_secs_f64();
        let rt_ = c.ticks.as_secs_f64() / a.ticks.as_secs_f64().max(1e-9);
        ratios.push(r);
        tick_ratios.push(rt_);
        println!(
            "| {} | {:.1} | {:.1} | {r:.3} | {:.0} | {:.0} | {rt_:.3} |",
            i + 1,
            us_per_call(a.cpu, calls),
            us_per_call(c.cpu, calls),
            calls as f64 / a.wall.as_secs_f64(),
            calls as f64 / c.wall.as_secs_f64(),
        );
    }
    println!(
        "client CPU per call (c)/(a): {} (schedstat); {} (stat ticks)",
        stats::spread(&ratios),
        stats::spread(&tick_ratios)
    );
    println!(
        "connections opened: {}",
        server.connections().unwrap_or_default()
    );
}
