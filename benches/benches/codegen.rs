//! Codegen: the built xtask binary, run directly (not through cargo), for both specs.
//!
//! - wall time of one `codegen` run (both specs: parse, check, progenitor, prettyplease,
//!   write) and of one `codegen --check` run; target < 100 ms;
//! - determinism: 100 runs into a scratch tree, the generated files removed before each
//!   run, every output hashed: one hash per generated file.
//!
//! The binary: `XTASK_BIN` if set, else it is built with
//! `cargo build -p xtask --release --target-dir target/bench-xtask` (a separate target
//! directory, so this does not wait for the lock `cargo bench` holds on `target/`).
//! The scratch tree is a copy of `specs/` and both `generated.rs`, used through
//! `VOICECLONE_XTASK_ROOT`.
//!
//! `cargo bench -p voiceclone-benches --bench codegen`
//! Environment: BENCH_RUNS (timed runs per repetition, default 30), BENCH_REPS (3),
//! BENCH_DETERMINISM_RUNS (100).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use voiceclone_benches::stats;

const GENERATED: [&str; 2] = [
    "crates/vmeg-client/src/generated.rs",
    "crates/jimmyai-client/src/generated.rs",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

fn xtask_binary(root: &Path) -> PathBuf {
    if let Some(bin) = std::env::var_os("XTASK_BIN") {
        return PathBuf::from(bin);
    }
    let target = root.join("target/bench-xtask");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building xtask (release) into {}", target.display());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "-q", "-p", "xtask", "--release", "--target-dir"])
        .arg(&target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build -p xtask --release failed");
    target.join("release/xtask")
}

fn copy_tree(root: &Path, scratch: &Path) {
    let specs = root.join("specs");
    std::fs::create_dir_all(scratch.join("specs")).unwrap();
    for entry in std::fs::read_dir(&specs).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), scratch.join("specs").join(entry.file_name())).unwrap();
        }
    }
    for g in GENERATED {
        let to = scratch.join(g);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root.join(g), to).unwrap();
    }
}

fn run(bin: &Path, scratch: &Path, args: &[&str]) -> (Duration, bool) {
    let t = Instant::now();
    let out = Command::new(bin)
        .args(args)
        .env("VOICECLONE_XTASK_ROOT", scratch)
        .output()
        .expect("xtask runs");
    let elapsed = t.elapsed();
    if !out.status.success() && args != ["codegen", "--check"] {
        panic!(
            "xtask {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (elapsed, out.status.success())
}

fn hash(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let runs = env_usize("BENCH_RUNS", 30);
    let reps = env_usize("BENCH_REPS", 3);
    let det_runs = env_usize("BENCH_DETERMINISM_RUNS", 100);
    let root = workspace_root();
    let bin = xtask_binary(&root);
    let scratch = tempfile::tempdir().unwrap();
    copy_tree(&root, scratch.path());
    println!("xtask binary: {}", bin.display());

    // Write once so that the scratch tree is current, then warm the page cache.
    run(&bin, scratch.path(), &["codegen"]);
    for _ in 0..3 {
        run(&bin, scratch.path(), &["codegen", "--check"]);
    }

    println!(
        "| command | median per run, ms (min-max of the {reps} repetition medians) | runs per repetition |"
    );
    println!("| --- | --- | --- |");
    for args in [&["codegen"][..], &["codegen", "--check"][..]] {
        let mut medians = Vec::new();
        for _ in 0..reps {
            let mut samples: Vec<Duration> = (0..runs)
                .map(|_| {
                    let (t, ok) = run(&bin, scratch.path(), args);
                    assert!(ok, "xtask {args:?} failed on a current tree");
                    t
                })
                .collect();
            medians.push(stats::median(&mut samples));
        }
        let mut sorted = medians.clone();
        let median = stats::median(&mut sorted);
        println!(
            "| `xtask {}` (both specs) | {:.1} ({:.1}-{:.1}) | {runs} |",
            args.join(" "),
            ms(median),
            ms(sorted[0]),
            ms(sorted[sorted.len() - 1]),
        );
        if median >= Duration::from_millis(100) {
            println!("TARGET MISSED: xtask {} takes >= 100 ms", args.join(" "));
        }
    }

    // Determinism: remove the outputs, regenerate, hash; repeat.
    let mut hashes: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    for _ in 0..det_runs {
        for g in GENERATED {
            let _ = std::fs::remove_file(scratch.path().join(g));
        }
        run(&bin, scratch.path(), &["codegen"]);
        for g in GENERATED {
            *hashes
                .entry(g)
                .or_default()
                .entry(hash(&scratch.path().join(g)))
                .or_default() += 1;
        }
    }
    println!();
    println!("determinism over {det_runs} runs (outputs removed before each run):");
    let mut deterministic = true;
    for (file, seen) in &hashes {
        let committed = hash(&root.join(file));
        let matches = seen.contains_key(&committed);
        println!(
            "  {file}: {} distinct output(s); sha256 {}; committed file {}",
            seen.len(),
            seen.keys().map(|h| &h[..16]).collect::<Vec<_>>().join(", "),
            if matches {
                "identical"
            } else {
                "differs (stale or being edited)"
            }
        );
        deterministic &= seen.len() == 1;
    }
    println!(
        "deterministic: {}",
        if deterministic { "yes" } else { "NO" }
    );
    assert!(deterministic, "codegen output differs between runs");
}
