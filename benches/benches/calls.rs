//! Instructions per call, counted with callgrind (exact and repeatable, unlike time):
//! (a) hand-written reqwest against (c) the voiceclone adapter, for each of the four calls.
//!
//! Without arguments (as `cargo bench` runs it) this binary drives the measurement: it
//! starts the fixed-body server in a child process (so only the client is counted), then
//! runs itself under `valgrind --tool=callgrind` in client mode for N1 and N2 calls of each
//! variant and operation, and reports `(Ir(N2) - Ir(N1)) / (N2 - N1)`: process start-up,
//! runtime and client construction and warm-up cancel out.
//!
//! Client mode: `calls --client <base_url> <a|b|c> <op> <n>` (op: vmeg-create, vmeg-query,
//! jimmy-create, jimmy-query) makes 20 warm-up calls then `n` calls on a current-thread
//! runtime.
//!
//! `cargo bench -p voiceclone-benches --bench calls`; per-function listings:
//! `scripts/callgrind.sh`. Environment: BENCH_N1 (100), BENCH_N2 (600), BENCH_REPS (1;
//! counts repeat to within a few hundred instructions per call), BENCH_CALLGRIND_DIR (keep
//! the callgrind.out files there).
//! Skipped (with a message) when valgrind is not installed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use voiceclone_benches::child::{ChildServer, Role, run_if_child};
use voiceclone_benches::variants::{Clients, OPS, Op, Variant, call, env_or};
use voiceclone_benches::{KEY, stats};

const WARMUP: usize = 20;

fn client_mode(args: &[String]) {
    let [base, variant, op, n] = args else {
        panic!("usage: calls --client <base_url> <a|b|c> <op> <n>");
    };
    let variant = Variant::parse(variant).expect("variant a, b or c");
    let op = Op::parse(op).expect("op");
    let n: usize = n.parse().expect("n");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let clients = Clients::new(base, KEY, voiceclone::DEFAULT_MAX_IN_FLIGHT).unwrap();
        for _ in 0..WARMUP + n {
            call(&clients, op, variant).await.unwrap();
        }
    });
}

/// Total instructions (`Ir`) recorded in a callgrind output file.
fn total_ir(out: &Path) -> u64 {
    let text = std::fs::read_to_string(out).unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no totals in {}", out.display()))
}

fn run_callgrind(dir: &Path, base: &str, variant: Variant, op: Op, n: usize, rep: usize) -> u64 {
    let exe = std::env::current_exe().unwrap();
    let out = dir.join(format!(
        "callgrind.{}.{}.{n}.{rep}.out",
        variant.letter(),
        op.short()
    ));
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg("--quiet")
        .arg(&exe)
        .args([
            "--client",
            base,
            variant.letter(),
            op.short(),
            &n.to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success(), "callgrind run failed");
    total_ir(&out)
}

fn main() {
    run_if_child();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--client") {
        client_mode(&args[1..]);
        return;
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("valgrind not found: instructions-per-call benchmark skipped");
        return;
    }
    let n1: usize = env_or("BENCH_N1", 100);
    let n2: usize = env_or("BENCH_N2", 600);
    let reps: usize = env_or("BENCH_REPS", 1);
    let keep = std::env::var_os("BENCH_CALLGRIND_DIR").map(PathBuf::from);
    let scratch = tempfile::tempdir().unwrap();
    let dir = keep.unwrap_or_else(|| scratch.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let server = ChildServer::spawn(&Role::Fixed).unwrap();

    println!(
        "instructions per call = (Ir({n2}) - Ir({n1})) / {}",
        n2 - n1
    );
    println!(
        "| operation | (a) raw, instr/call | (c) adapter, instr/call | (c)/(a) median (min-max) |"
    );
    println!("| --- | --- | --- | --- |");
    let mut all_ratios = Vec::new();
    let (mut sum_a, mut sum_c) = (0f64, 0f64);
    for op in OPS {
        let per = |variant: Variant, rep: usize| {
            let lo = run_callgrind(&dir, &server.base_url, variant, op, n1, rep);
            let hi = run_callgrind(&dir, &server.base_url, variant, op, n2, rep);
            (hi.saturating_sub(lo)) as f64 / (n2 - n1) as f64
        };
        let mut a_counts = Vec::new();
        let mut c_counts = Vec::new();
        let mut ratios = Vec::new();
        for rep in 0..reps {
            let a = per(Variant::Raw, rep);
            let c = per(Variant::Adapter, rep);
            a_counts.push(a);
            c_counts.push(c);
            ratios.push(c / a);
        }
        a_counts.sort_by(f64::total_cmp);
        c_counts.sort_by(f64::total_cmp);
        let (a, c) = (a_counts[a_counts.len() / 2], c_counts[c_counts.len() / 2]);
        sum_a += a;
        sum_c += c;
        all_ratios.extend_from_slice(&ratios);
        println!(
            "| {} | {a:.0} | {c:.0} | {} |",
            op.name(),
            stats::spread(&ratios)
        );
    }
    println!(
        "| all four | {sum_a:.0} | {sum_c:.0} | {:.3} |",
        sum_c / sum_a
    );
    if sum_c / sum_a > 1.05 {
        println!(
            "TARGET MISSED: (c)/(a) instructions > 1.05; see scripts/callgrind.sh for where they go"
        );
    }
}
