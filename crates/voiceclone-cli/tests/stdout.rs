//! A result stdout cannot take (a full disk, a reader gone) is never lost in silence: a
//! command that made a (paid) job says so on stderr with the job, and exits 3, so a script
//! does not read the missing output as success and submit again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Stdio;

use support::{SAMPLE, Sim, SpawnKilled, command};

const KEY: &str = "sk-stdout-very-secret-0123456789";

/// Runs the binary against `sim` with stdout on `/dev/full`; returns the exit code and stderr.
fn run_on_full_disk(sim: &Sim, args: &[&str]) -> (i32, String) {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = command(Some(&sim.url()), sim.key(), &[], args)
        .stdout(Stdio::from(full))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains(KEY), "the key was printed: {stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

#[test]
fn a_job_whose_result_stdout_cannot_take_is_reported_on_stderr_with_exit_3() {
    let sim = Sim::fast(KEY);
    for mode in [&["--json"][..], &["--quiet"], &[]] {
        let mut args = vec!["--provider", "vmeg"];
        args.extend_from_slice(mode);
        args.extend(["clone", SAMPLE, "--name", "full disk"]);
        let before = sim.handle.stats().requests_total;
        let (code, stderr) = run_on_full_disk(&sim, &args);
        assert_eq!(code, 3, "{mode:?}: {stderr}");
        assert!(sim.handle.stats().requests_total > before, "nothing sent");
        assert!(
            stderr.contains("could not be written to stdout"),
            "{stderr}"
        );
        assert!(
            stderr.contains("vmeg:clone:"),
            "{mode:?}: no job id in {stderr}"
        );
        // The result on stderr says the code the process exits with (before: the work's 0).
        if mode == ["--json"] {
            let j: serde_json::Value = stderr
                .lines()
                .find(|l| l.starts_with('{'))
                .and_then(|l| serde_json::from_str(l).ok())
                .unwrap_or_else(|| panic!("no JSON result on stderr: {stderr}"));
            assert_eq!(j["exit_code"], code, "{j}");
            assert!(
                j["job_id"].as_str().unwrap().starts_with("vmeg:clone:"),
                "{j}"
            );
        }
    }
}

/// Review 34-e #2: a create whose outcome is unknown but whose error keeps its own kind (a
/// JimmyAI create answered 503 "busy": no key, no task id, only its submit time) names a job
/// too: with stdout a closed pipe (its reader gone), the whole result, `submitted_at`
/// included, goes to stderr. Before, it counted as naming nothing and was dropped in silence.
#[test]
fn an_unknown_create_that_keeps_its_kind_is_reported_on_stderr_when_stdout_is_gone() {
    let sim = Sim::fast(KEY);
    sim.handle
        .fail_next(
            "jimmyai.createClone",
            voiceclone_sim::FaultKind::Http503,
            10,
        )
        .unwrap();
    let mut child = command(
        Some(&sim.url()),
        sim.key(),
        &[],
        &[
            "--provider",
            "jimmyai",
            "--json",
            "clone",
            "https://cdn.example.com/a.wav",
            "--text",
            "Hi.",
        ],
    )
    .spawn_killed();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let j: serde_json::Value = stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON result on stderr: {stderr}"));
    assert!(j["error"]["submitted_at"].is_string(), "{j}");
    assert_eq!(j["exit_code"], 3, "{j}");
}

#[test]
fn a_listing_stdout_cannot_take_fails_and_a_closed_pipe_after_it_is_no_error() {
    let sim = Sim::fast(KEY);
    let (code, stderr) = run_on_full_disk(&sim, &["--provider", "vmeg", "voices", "--system"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("could not be written to stdout"),
        "{stderr}"
    );
    // A reader that has gone (`| head -1` after its line): the listing names no job, so the
    // command keeps its own exit code and says nothing.
    let mut child = command(
        Some(&sim.url()),
        sim.key(),
        &[],
        &["--provider", "vmeg", "voices", "--system"],
    )
    .spawn_killed();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("could not be written"), "{stderr}");
}
