//! Per-call latency, interleaved call by call: (a) hand-written reqwest, (b) the generated
//! client, (c) the voiceclone adapter, for "create clone" and "query task" on each provider.
//! Every variant shares one reqwest connection pool and one fixed-body loopback server (on
//! its own thread and runtime).
//!
//! `cargo bench -p voiceclone-benches --bench latency`
//! Environment: BENCH_CALLS (per variant and repetition, default 20000), BENCH_REPS (3).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};
use voiceclone_benches::server::FixedServer;
use voiceclone_benches::variants::{Clients, OPS, Variant, call, env_or};
use voiceclone_benches::{KEY, stats};

const VARIANTS: [Variant; 3] = [Variant::Raw, Variant::Generated, Variant::Adapter];

fn main() {
    let calls: usize = env_or("BENCH_CALLS", 20_000);
    let reps: usize = env_or("BENCH_REPS", 3);
    let server = FixedServer::start().unwrap();
    let base = server.base_url();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let clients = Clients::new(&base, KEY, voiceclone::DEFAULT_MAX_IN_FLIGHT).unwrap();
        println!("calls per variant and repetition: {calls}, repetitions: {reps}");
        println!(
            "| operation | median (a) raw | (b)/(a) median (min-max) | (c)/(a) median (min-max) |"
        );
        println!("| --- | --- | --- | --- |");
        for op in OPS {
            let mut b_ratios = Vec::new();
            let mut c_ratios = Vec::new();
            let mut raw_medians = Vec::new();
            for _ in 0..reps {
                for i in 0..(calls / 10).max(100) {
                    call(&clients, op, VARIANTS[i % 3]).await.unwrap();
                }
                let mut samples: [Vec<Duration>; 3] =
                    std::array::from_fn(|_| Vec::with_capacity(calls));
                for i in 0..calls {
                    // Rotate the order so no variant always runs first after a pause.
                    for k in 0..3 {
                        let v = (i + k) % 3;
                        let t = Instant::now();
                        call(&clients, op, VARIANTS[v]).await.unwrap();
                        samples[v].push(t.elapsed());
                    }
                }
                let [a, b, c] = samples.map(|mut s| stats::median(&mut s));
                raw_medians.push(a);
                b_ratios.push(b.as_secs_f64() / a.as_secs_f64());
                c_ratios.push(c.as_secs_f64() / a.as_secs_f64());
            }
            let raw = stats::median(&mut raw_medians);
            println!(
                "| {} | {:.1} us | {} | {} |",
                op.name(),
                raw.as_secs_f64() * 1e6,
                stats::spread(&b_ratios),
                stats::spread(&c_ratios)
            );
        }
        println!("connections opened: {}", server.connections());
    });
}
