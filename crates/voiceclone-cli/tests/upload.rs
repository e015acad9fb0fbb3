//! `voiceclone clone PATH` and `voiceclone upload FILE` (issue 15): the built binary against
//! the in-process simulator, for both providers, with a generated 20-second WAV. The API key
//! never reaches stdout or stderr; failures before anything is sent are exit 2.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;

use voiceclone_sim::{FaultConfig, FaultKind, SimConfig};

use support::{Run, Sim, SpawnKilled};

const KEY: &str = "sk-upload-e2e-secret-0123456789";

impl Sim {
    fn start() -> Sim {
        Sim::fast(KEY)
    }
}

/// Runs the binary in `dir` with `sim`'s key for both providers and a clean environment.
fn run(sim: &Sim, dir: &Path, args: &[&str]) -> Run {
    let out = support::command(None, sim.key(), &[], args)
        .current_dir(dir)
        .output()
        .unwrap();
    Run::from_output(out, &[KEY], args)
}

/// A 20-second mono 16-bit 16 kHz PCM WAV of a soft tone.
fn write_wav(path: &Path, seconds: u32) {
    let rate = 16_000u32;
    let samples = rate * seconds;
    let mut v = Vec::with_capacity(44 + 2 * samples as usize);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + 2 * samples).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * 2).to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(2 * samples).to_le_bytes());
    for i in 0..samples {
        let t = f64::from(i) / f64::from(rate);
        let s = ((t * 220.0 * std::f64::consts::TAU).sin() * 3000.0) as i16;
        v.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, v).unwrap();
}

/// The "Done when": `clone ./sample.wav --name n --language en-US --wait` for both
/// providers, against the simulator, from a local 20-second WAV.
#[test]
fn clone_a_local_20_second_wav_and_wait_with_both_providers() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("sample.wav"), 20);
    let base = sim.url();
    for provider in ["vmeg", "jimmyai"] {
        let mut args = vec![
            "--allow-private-urls",
            "--provider",
            provider,
            "--base-url",
            &base,
            "clone",
            "./sample.wav",
        ];
        if provider == "vmeg" {
            // JimmyAI voices have no names: --name is refused for it (exit 2).
            args.extend(["--name", "n"]);
        }
        args.extend(["--language", "en-US", "--wait"]);
        let r = run(&sim, dir.path(), &args).expect(0);
        assert!(r.stdout.contains("voice"), "{provider}: {r:?}");
        // Nothing but the result on stdout: no progress bar (stderr is not a terminal).
        assert!(!r.stdout.contains("uploading"), "{r:?}");
        assert!(!r.stderr.contains("uploading"), "{r:?}");
    }
    let stats = sim.handle.stats();
    assert_eq!(stats.billable("vmeg.cloneVoiceCreateAsync"), 1);
    assert_eq!(stats.billable("jimmyai.createClone"), 1);
    assert_eq!(stats.requests("vmeg.materialPut"), 1);
    assert_eq!(stats.requests("jimmyai.uploadFile"), 1);

    // The same with --json: one object, the voice id in it.
    let j = run(
        &sim,
        dir.path(),
        &[
            "--allow-private-urls",
            "--provider",
            "vmeg",
            "--base-url",
            &base,
            "--json",
            "clone",
            "sample.wav",
            "--name",
            "n2",
            "--wait",
            "--poll-interval",
            "0.05",
        ],
    )
    .expect(0)
    .json();
    assert!(j["voice_id"].is_string(), "{j}");
}

#[test]
fn upload_prints_the_url_for_both_providers() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("sample.wav"), 20);
    let base = sim.url();
    for provider in ["vmeg", "jimmyai"] {
        let j = run(
            &sim,
            dir.path(),
            &[
                "--allow-private-urls",
                "--provider",
                provider,
                "--base-url",
                &base,
                "--json",
                "upload",
                "sample.wav",
            ],
        )
        .expect(0)
        .json();
        let url = j["file_url"].as_str().unwrap().to_owned();
        assert!(url.starts_with(&base), "{j}");
        // The URL clones.
        let mut args = vec![
            "--allow-private-urls",
            "--provider",
            provider,
            "--base-url",
            &base,
            "--json",
            "clone",
            &url,
        ];
        if provider == "vmeg" {
            args.extend(["--name", "from-url"]);
        }
        run(&sim, dir.path(), &args).expect(0);
        let r = run(
            &sim,
            dir.path(),
            &[
                "--allow-private-urls",
                "--provider",
                provider,
                "--base-url",
                &base,
                "upload",
                "sample.wav",
            ],
        )
        .expect(0);
        assert!(r.stdout.starts_with("uploaded: http"), "{r:?}");
    }
}

/// README: "An upload shows a progress bar on stderr when stderr is a terminal (never with
/// `--json` or `--quiet`); stdout carries only the result."
#[test]
fn an_upload_shows_its_progress_bar_on_a_terminal_but_not_with_json_or_quiet() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    // A recording of its own for each run: VMEG skips the PUT (and so the bar) for a file
    // it already holds.
    for (seconds, file) in [(20, "a.wav"), (21, "b.wav"), (22, "c.wav")] {
        write_wav(&dir.path().join(file), seconds);
    }
    let base = sim.url();
    let args = |extra: &[&'static str], file: &'static str| {
        let mut a = vec!["--allow-private-urls", "--provider", "vmeg", "--base-url"];
        a.push(base.as_str());
        a.extend_from_slice(extra);
        a.extend(["upload", file]);
        a
    };
    let (code, out, terminal) =
        support::run_on_a_terminal(sim.key(), Some(dir.path()), &args(&[], "a.wav"));
    assert_eq!(code, 0, "{out} {terminal}");
    assert!(
        terminal.contains("uploading"),
        "no bar on the terminal: {terminal:?}"
    );
    assert!(
        out.starts_with("uploaded: http") && !out.contains("uploading"),
        "{out:?}"
    );
    for (quiet, file) in [("--json", "b.wav"), ("--quiet", "c.wav")] {
        let (code, out, terminal) =
            support::run_on_a_terminal(sim.key(), Some(dir.path()), &args(&[quiet], file));
        assert_eq!(code, 0, "{quiet}: {out} {terminal}");
        assert!(!terminal.contains("uploading"), "{quiet}: {terminal:?}");
        assert!(!out.contains("uploading"), "{quiet}: {out:?}");
    }
    assert_eq!(
        sim.handle.stats().requests("vmeg.materialPut"),
        3,
        "each run sent its file"
    );
}

#[test]
fn a_missing_file_or_a_refused_one_is_exit_2_with_nothing_sent() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("short.wav"), 10);
    let base = sim.url();
    let before = sim.requests();
    for (provider, arg, needle) in [
        ("vmeg", "./missing.wav", "no such file"),
        ("jimmyai", "missing.wav", "no such file"),
        // Not an http(s) URL: a local path, and there is no such file.
        ("vmeg", "ftp://example.com/a.wav", "no such file"),
        // JimmyAI wants more than 15 s.
        ("jimmyai", "short.wav", "15 s"),
    ] {
        let j = run(
            &sim,
            dir.path(),
            &[
                "--allow-private-urls",
                "--provider",
                provider,
                "--base-url",
                &base,
                "--json",
                "clone",
                arg,
            ],
        )
        .expect(2)
        .json();
        assert_eq!(j["error"]["field"], "audio_file", "{j}");
        assert_eq!(j["error"]["step"], "read_file", "{j}");
        assert_eq!(j["error"]["no_clone_submitted"], true, "{j}");
        assert!(
            j["error"]["message"].as_str().unwrap().contains(needle),
            "{j}"
        );
        let r = run(
            &sim,
            dir.path(),
            &[
                "--allow-private-urls",
                "--provider",
                provider,
                "--base-url",
                &base,
                "upload",
                "missing.wav",
            ],
        )
        .expect(2);
        assert!(r.stderr.contains("no such file"), "{r:?}");
    }
    assert_eq!(sim.requests(), before, "nothing may be sent");
}

#[test]
fn a_put_cut_off_is_exit_3_naming_the_step_and_no_clone_is_billed() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("sample.wav"), 20);
    sim.handle
        .fail_next("vmeg.materialPut", FaultKind::DropBefore, 10)
        .unwrap();
    let base = sim.url();
    let j = run(
        &sim,
        dir.path(),
        &[
            "--allow-private-urls",
            "--provider",
            "vmeg",
            "--base-url",
            &base,
            "--json",
            "clone",
            "sample.wav",
            "--name",
            "n",
        ],
    )
    .expect(3)
    .json();
    assert_eq!(j["error"]["step"], "put", "{j}");
    assert_eq!(j["error"]["no_clone_submitted"], true, "{j}");
    assert_eq!(sim.handle.stats().billable_total(), 0);
    assert_eq!(sim.handle.stats().requests("vmeg.cloneVoiceCreateAsync"), 0);
}

/// Review 25 pass 2b #2: an upload step refused before any clone was sent (VMEG's
/// `gen-upload-url`, JimmyAI's `files/upload`, answered 500 on every attempt) keeps its exit
/// 1: calling again is safe (`no_clone_submitted`), and nothing is to be looked up. Only the
/// create's own refusal that does not prove nothing was made is exit 3.
#[test]
fn an_upload_step_refused_before_the_clone_was_sent_stays_exit_1() {
    let sim = Sim::start();
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("sample.wav"), 20);
    let base = sim.url();
    for (provider, op, step, create) in [
        (
            "vmeg",
            "vmeg.materialGenUploadUrl",
            "request_upload_url",
            "vmeg.cloneVoiceCreateAsync",
        ),
        (
            "jimmyai",
            "jimmyai.uploadFile",
            "upload_file",
            "jimmyai.createClone",
        ),
    ] {
        sim.handle.fail_next(op, FaultKind::Http500, 10).unwrap();
        let mut args = vec![
            "--allow-private-urls",
            "--provider",
            provider,
            "--base-url",
            &base,
            "--json",
            "clone",
            "sample.wav",
        ];
        if provider == "vmeg" {
            args.extend(["--name", "n"]);
        }
        let j = run(&sim, dir.path(), &args).expect(1).json();
        let e = &j["error"];
        assert_eq!(e["step"], step, "{j}");
        assert_eq!(e["no_clone_submitted"], true, "{j}");
        assert!(e.get("submitted_at").is_none(), "{j}");
        let message = e["message"].as_str().unwrap();
        assert!(!message.contains("does not prove"), "{j}");
        assert!(!message.contains("reconcile"), "{j}");
        assert_eq!(sim.handle.stats().requests(create), 0, "{provider}");
        sim.handle.clear_scripted_faults();
    }
}

/// A WAV of `seconds` of silence (mono 16-bit 16 kHz: 32 KB a second), cheap to make large.
fn write_silent_wav(path: &Path, seconds: u32) {
    let rate = 16_000u32;
    let data = 2 * rate * seconds;
    let mut v = Vec::with_capacity(44 + data as usize);
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * 2).to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data.to_le_bytes());
    v.resize(44 + data as usize, 0);
    std::fs::write(path, v).unwrap();
}

/// Review 26 #4: SIGINT while a local recording is still going up (the storage PUT or
/// `files/upload` held by the server before it reads the body, so the upload stops part
/// way) says that no clone was submitted, with nothing to look up: the library sends the
/// create only once the upload is done. Before, it said "whether a job was created (and
/// billed) is not known" with a lookup, for a create that was never sent.
#[cfg(unix)]
#[test]
fn a_signal_during_the_upload_says_no_clone_was_submitted() {
    let faults = FaultConfig {
        latency: std::time::Duration::from_secs(30),
        ..Default::default()
    };
    let sim = Sim::with(
        SimConfig::default().with_speed(1000.0).with_faults(faults),
        KEY,
    );
    let dir = tempfile::tempdir().unwrap();
    // 16 MB: far more than the loopback connection's buffers take while the server does not
    // read, so the upload is still part way when the signal comes.
    write_silent_wav(&dir.path().join("long.wav"), 500);
    let base = sim.url();
    for (provider, op) in [
        ("vmeg", "vmeg.materialPut"),
        ("jimmyai", "jimmyai.uploadFile"),
    ] {
        sim.handle.fail_next(op, FaultKind::Latency, 1).unwrap();
        let mut args = vec![
            "--allow-private-urls",
            "--provider",
            provider,
            "--base-url",
            &base,
            "--json",
            "clone",
            "long.wav",
        ];
        if provider == "vmeg" {
            args.extend(["--name", "n"]);
        }
        let child = support::command(None, sim.key(), &[], &args)
            .current_dir(dir.path())
            .spawn_killed();
        support::wait_until("the upload never reached the server", 30, || {
            sim.handle.stats().requests(op) >= 1
        });
        // The server has the request head, so the first bytes have gone out; the margin lets
        // the command take its progress report before the signal.
        std::thread::sleep(std::time::Duration::from_millis(500));
        support::send_signal(&child, "-INT");
        let r = Run::from_output(child.wait_with_output().unwrap(), &[KEY], &args);
        let j = r.json();
        let e = &j["error"];
        assert_eq!(e["kind"], "interrupted", "{provider}: {j}");
        assert_eq!(e["no_clone_submitted"], true, "{provider}: {j}");
        let message = e["message"].as_str().unwrap();
        assert!(!message.contains("not known"), "{provider}: {j}");
        assert!(!message.contains("reconcile"), "{provider}: {j}");
        assert!(e.get("submitted_at").is_none(), "{provider}: {j}");
        assert!(e.get("idempotency_key").is_none(), "{provider}: {j}");
        assert_eq!(r.code, 3, "{provider}: {r:?}");
        let stats = sim.handle.stats();
        assert_eq!(stats.billable_total(), 0, "{provider}");
        assert_eq!(stats.requests("vmeg.cloneVoiceCreateAsync"), 0);
        assert_eq!(stats.requests("jimmyai.createClone"), 0);
    }
}
