//! `speak --text-file F --out DIR` against a careless user and a hostile directory: a
//! manifest edited by hand, a symlink planted where the tool writes, two runs on one
//! directory at once. Each is answered before anything is billed twice or a file outside
//! the directory is touched.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use voiceclone_sim::SimConfig;

use support::{FAST_POLL, FakeVmeg, MANIFEST, Run, Sim, SpawnKilled, case, manifest, run_binary};

const KEY: &str = "sk-long-hostile-secret-0123456789";
const VOICE: &str = "sv_en_us_female_01";

/// A simulator whose tasks take ten minutes, with the next `held` VMEG TTS creates answered
/// 1.5 s late: a signal then meets submits on their way, or the waits behind them.
fn slow_tasks_with_held_creates(held: u32) -> Sim {
    let faults = voiceclone_sim::FaultConfig {
        latency: Duration::from_millis(1500),
        ..Default::default()
    };
    let sim = Sim::with(
        SimConfig::default()
            .with_durations(Duration::from_secs(600), Duration::from_secs(600))
            .with_faults(faults),
        KEY,
    );
    sim.handle
        .fail_next(
            "vmeg.ttsCreateAsync",
            voiceclone_sim::FaultKind::Latency,
            held,
        )
        .unwrap();
    sim
}

fn paid(sim: &Sim) -> u64 {
    let s = sim.handle.stats();
    s.billable("vmeg.ttsCreateAsync") + s.billable("vmeg.ttsCreate")
}

fn run(sim: &Sim, args: &[&str]) -> Run {
    run_binary(Some(&sim.url()), sim.key(), &[], &[], args)
}

/// `n` VMEG parts (50 lines of about 500 characters each), no two alike.
fn text(parts: usize) -> String {
    (0..parts * 650)
        .map(|i| format!("Sentence number {i} of the script. "))
        .collect()
}

fn speak_args<'a>(file: &'a str, out: &'a str) -> Vec<&'a str> {
    let mut a = vec![
        "--provider",
        "vmeg",
        "--json",
        "--allow-private-urls",
        "speak",
        "--voice",
        VOICE,
        "--text-file",
        file,
        "--out",
        out,
    ];
    a.extend(FAST_POLL);
    a
}

/// A part's `index` is the part's position: a manifest whose indexes were edited (out of
/// range, duplicated) is refused like one from another text (exit 2, naming the manifest)
/// before anything is sent, instead of being trusted (an `index` of `usize::MAX` overflowed
/// `index + 1` in the run's summary: a panic, exit 101).
/// Writes `bytes` as DIR's manifest and reruns: refused (exit 2) before anything is sent.
/// The error's JSON, for the test to check its kind and message.
fn rerun_refused(sim: &Sim, args: &[&str], dir: &Path, bytes: &[u8], what: &str) -> Value {
    std::fs::write(dir.join(MANIFEST), bytes).unwrap();
    let requests = sim.requests();
    let r = run(sim, args);
    assert_eq!(r.code, 2, "{what}: {r:?}");
    assert_eq!(sim.requests(), requests, "{what}: something was sent");
    r.json()["error"].clone()
}

#[test]
fn a_manifest_with_edited_part_indexes_is_refused_before_anything_is_sent() {
    let sim = Sim::fast(KEY);
    let c = case(&text(2));
    let args = speak_args(&c.file, &c.out);
    run(&sim, &args).expect(0);
    let dir = Path::new(&c.out);
    let good = std::fs::read(dir.join(MANIFEST)).unwrap();
    for (what, index) in [
        ("out of range", Value::from(u64::MAX)),
        ("past the last part", Value::from(7u64)),
        ("a duplicate", Value::from(0u64)),
    ] {
        let mut m: Value = serde_json::from_slice(&good).unwrap();
        m["parts"][1]["index"] = index;
        let bytes = serde_json::to_vec(&m).unwrap();
        let e = rerun_refused(&sim, &args, dir, &bytes, what);
        assert_eq!(e["kind"], "manifest_mismatch", "{what}: {e}");
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains(MANIFEST) && msg.contains("index"), "{msg}");
        // Starting over elsewhere pays again for the parts already made: said, not advised.
        assert!(msg.contains("pays again"), "{msg}");
    }
    // The manifest as written resumes (nothing left to do, nothing sent).
    std::fs::write(dir.join(MANIFEST), &good).unwrap();
    let requests = sim.requests();
    run(&sim, &args).expect(0);
    assert_eq!(sim.requests(), requests);
}

/// Review 24-d #7: the parts' task ids are checked when a manifest is resumed, by field: one
/// task held by two parts (as `job_id` or in `past_job_ids`), a `done` or `submitted` part
/// without a `job_id`, an id that does not parse or is not a speech task of the manifest's
/// provider. Each is refused (exit 2, `manifest_mismatch`, naming the field) before anything
/// is sent. Before, two parts holding one task both downloaded its audio (exit 0), a `done`
/// part without a job id whose file went missing was submitted again as new, paid work, and
/// an id of another kind failed only later, as a wait.
#[test]
fn a_manifest_whose_job_ids_cannot_be_trusted_is_refused_before_anything_is_sent() {
    let sim = Sim::fast(KEY);
    let c = case(&text(2));
    let args = speak_args(&c.file, &c.out);
    run(&sim, &args).expect(0);
    let dir = Path::new(&c.out);
    let good = std::fs::read(dir.join(MANIFEST)).unwrap();
    let first: Value = serde_json::from_slice(&good).unwrap();
    let first_job = first["parts"][0]["job_id"].clone();
    assert!(first_job.is_string(), "{first}");
    type Edit<'a> = Box<dyn Fn(&mut Value) + 'a>;
    let cases: Vec<(&str, &str, Edit<'_>)> = vec![
        ("one task for two parts", "job_id", {
            let j = first_job.clone();
            Box::new(move |m| m["parts"][1]["job_id"] = j.clone())
        }),
        ("a past task of another part", "past_job_ids", {
            let j = first_job.clone();
            Box::new(move |m| m["parts"][1]["past_job_ids"] = vec![j.clone()].into())
        }),
        (
            "done without a job id",
            "without a job_id",
            Box::new(|m| {
                m["parts"][0].as_object_mut().unwrap().remove("job_id");
                std::fs::remove_file(dir.join("001-01.wav")).ok();
            }),
        ),
        (
            "submitted without a job id",
            "without a job_id",
            Box::new(|m| {
                m["parts"][1]["state"] = "submitted".into();
                m["parts"][1]["job_id"] = Value::Null;
            }),
        ),
        (
            "an id that does not parse",
            "job_id",
            Box::new(|m| m["parts"][0]["job_id"] = "vmeg:voice:t-1".into()),
        ),
        (
            "an id of the other provider",
            "job_id",
            Box::new(|m| m["parts"][0]["job_id"] = "jimmyai:speech:audio_1".into()),
        ),
        (
            "an id of another kind",
            "past_job_ids",
            Box::new(|m| m["parts"][0]["past_job_ids"] = vec!["vmeg:clone:t-1"].into()),
        ),
    ];
    for (what, field, edit) in cases {
        let mut m: Value = serde_json::from_slice(&good).unwrap();
        edit(&mut m);
        let bytes = serde_json::to_vec(&m).unwrap();
        let e = rerun_refused(&sim, &args, dir, &bytes, what);
        assert_eq!(e["kind"], "manifest_mismatch", "{what}: {e}");
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains(field) && msg.contains("part"), "{what}: {msg}");
    }
    // The manifest as written resumes: the missing file is fetched again, nothing paid.
    std::fs::write(dir.join(MANIFEST), &good).unwrap();
    let paid_before = paid(&sim);
    run(&sim, &args).expect(0);
    assert_eq!(paid(&sim), paid_before);
}

/// The manifest is written through a temporary file in DIR. A symlink planted at that
/// file's name (someone else's directory, a shared one) is not followed: the file it
/// points at keeps its content. Before the fix the tool opened the fixed name
/// `.voiceclone-manifest.json.tmp` with `File::create` and wrote the manifest into the
/// symlink's target.
#[cfg(unix)]
#[test]
fn a_symlink_planted_at_the_manifests_temporary_file_is_not_followed() {
    let sim = Sim::fast(KEY);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    std::fs::create_dir_all(dir).unwrap();
    let victim = c.tmp.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join(format!(".{MANIFEST}.tmp"))).unwrap();
    // Where a result goes, too: a new run (no manifest) refuses to replace it; a rerun
    // that downloads the part again replaces it, never writes through it.
    let victim2 = c.tmp.path().join("victim2.txt");
    std::fs::write(&victim2, b"precious too").unwrap();
    std::os::unix::fs::symlink(&victim2, dir.join("001-01.wav")).unwrap();
    run(&sim, &speak_args(&c.file, &c.out)).expect(2);
    assert_eq!(sim.requests(), 0);
    std::fs::remove_file(dir.join("001-01.wav")).unwrap();

    run(&sim, &speak_args(&c.file, &c.out)).expect(0);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    std::fs::remove_file(dir.join("001-01.wav")).unwrap();
    std::os::unix::fs::symlink(&victim2, dir.join("001-01.wav")).unwrap();
    run(&sim, &speak_args(&c.file, &c.out)).expect(0);
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_eq!(std::fs::read(&victim2).unwrap(), b"precious too");
    assert_eq!(manifest(dir)["parts"][0]["state"], "done");
    assert_eq!(
        &std::fs::read(dir.join("001-01.wav")).unwrap()[..4],
        b"RIFF"
    );
}

/// Two runs on one DIR at once: the second is refused (exit 2, naming the directory) and
/// sends nothing, instead of submitting the parts the first has not reached yet (which the
/// first then submits again: each paid twice) and overwriting the first's manifest.
#[test]
fn a_second_run_on_the_same_directory_is_refused_while_the_first_runs() {
    let sim = Sim::with(
        SimConfig::default().with_durations(Duration::from_millis(10), Duration::from_secs(2)),
        KEY,
    );
    let c = case(&text(3));
    let dir = Path::new(&c.out);
    let mut first_args = speak_args(&c.file, &c.out);
    first_args.extend(["--concurrency", "1"]);
    let first = support::command(Some(&sim.url()), sim.key(), &[], &first_args).spawn_killed();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(dir.join(MANIFEST).exists() && manifest(dir)["parts"][0]["state"] == "submitted") {
        assert!(Instant::now() < deadline, "the first run submitted nothing");
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = run(&sim, &speak_args(&c.file, &c.out));
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    assert_eq!(second.code, 2, "{second:?}");
    let j = second.json();
    assert_eq!(j["error"]["kind"], "manifest_locked", "{j}");
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains(c.out.as_str()),
        "{j}"
    );
    let parts = manifest(dir)["parts"].as_array().unwrap().len() as u64;
    assert_eq!(paid(&sim), parts, "a part was paid twice");
}

/// A run on another machine sharing `DIR` (NFS, SMB: there a directory's `flock` is local,
/// a regular file's reaches the server) holds the lock file: this run is refused, nothing
/// sent. Here another process of this machine holds the file's lock alone, as the server
/// would show it (review 35-c #2).
#[cfg(unix)]
#[test]
fn a_run_holding_the_lock_file_refuses_another_run_on_the_directory() {
    use rustix::fs::{FlockOperation, Mode, OFlags, flock, open};
    let sim = Sim::fast(KEY);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    std::fs::create_dir_all(dir).unwrap();
    let held = open(
        dir.join(".voiceclone-manifest.lock"),
        // CLOEXEC: a child another test spawns meanwhile must not inherit the lock.
        OFlags::RDWR | OFlags::CREATE | OFlags::CLOEXEC,
        Mode::RUSR | Mode::WUSR,
    )
    .unwrap();
    flock(&held, FlockOperation::NonBlockingLockExclusive).unwrap();
    let r = run(&sim, &speak_args(&c.file, &c.out));
    assert_eq!(r.code, 2, "{r:?}");
    let j = r.json();
    assert_eq!(j["error"]["kind"], "manifest_locked", "{r:?}");
    // A lock a dead machine left on a shared file system: the way out is named, not only
    // another --out, which pays again (review 35 pass 2 #3).
    let msg = j["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("remove") && msg.contains(".voiceclone-manifest.lock"),
        "{msg}"
    );
    assert_eq!(paid(&sim), 0);
    drop(held);
    // The run makes the lock file itself this time.
    std::fs::remove_file(dir.join(".voiceclone-manifest.lock")).unwrap();
    run(&sim, &speak_args(&c.file, &c.out)).expect(0);
    // Shared as the manifest is (0666 less the umask): another user's run sharing DIR can
    // open and lock it (review 35 pass 2 #2; it was 0600).
    use std::os::unix::fs::PermissionsExt;
    let mode = |name: &str| {
        std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(".voiceclone-manifest.lock"), mode(MANIFEST));
}

/// A symlink planted at the lock file's name is not followed (nothing is created or locked
/// at its target): the run warns that only the directory's lock holds, and goes on.
#[cfg(unix)]
#[test]
fn a_symlink_at_the_lock_file_is_not_followed() {
    let sim = Sim::fast(KEY);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    std::fs::create_dir_all(dir).unwrap();
    let target = c.tmp.path().join("elsewhere.lock");
    std::os::unix::fs::symlink(&target, dir.join(".voiceclone-manifest.lock")).unwrap();
    let r = run(&sim, &speak_args(&c.file, &c.out)).expect(0);
    assert!(
        r.stderr
            .contains("going on with the directory's lock alone"),
        "{}",
        r.stderr
    );
    assert!(!target.exists(), "the symlink was followed");
}

/// A manifest that is no regular file (a FIFO, a symlink to a device such as `/dev/zero`)
/// is refused at once (exit 2, `invalid_manifest`, nothing sent) instead of being read: the
/// open of a FIFO blocked the run forever, and `/dev/zero` was read until memory ran out.
#[cfg(unix)]
#[test]
fn a_manifest_that_is_no_regular_file_is_refused_at_once() {
    let sim = Sim::fast(KEY);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    std::fs::create_dir_all(dir).unwrap();
    let fifo = dir.join(MANIFEST);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let mut child = support::command(
        Some(&sim.url()),
        sim.key(),
        &[],
        &speak_args(&c.file, &c.out),
    )
    .spawn_killed();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the run hung on a FIFO at the manifest's path");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(2), "{out:?}");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["error"]["kind"], "invalid_manifest", "{j}");
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a regular file"),
        "{j}"
    );
    assert_eq!(sim.requests(), 0);
}

/// A JimmyAI part the vendor accepted, whose `submitted` record could not be written (the
/// disk filled, the directory went read-only): the task is paid for and JimmyAI has no task
/// list, so its job id is the only way to it. The run's error names it, so that the user
/// can fetch the audio instead of paying again with `--resubmit-unknown` (before, the job id
/// was dropped with an "io" error and the rerun only said the part's outcome was unknown).
#[test]
fn a_jimmyai_task_whose_record_cannot_be_written_is_named_in_the_error() {
    let faults = voiceclone_sim::FaultConfig {
        rate_latency: 1.0,
        latency: Duration::from_millis(1500),
        ..Default::default()
    };
    let sim = Sim::with(
        SimConfig::default().with_speed(1000.0).with_faults(faults),
        KEY,
    );
    let mut clone = vec![
        "--provider",
        "jimmyai",
        "--json",
        "clone",
        support::SAMPLE,
        "--wait",
    ];
    clone.extend(FAST_POLL);
    let v = run(&sim, &clone).expect(0).json()["voice_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let c = case("One short text to speak.");
    let dir = Path::new(&c.out);
    let mut args = speak_args(&c.file, &c.out);
    args[1] = "jimmyai";
    args[6] = v.as_str();
    args.remove(2); // human output
    let child = support::command(Some(&sim.url()), sim.key(), &[], &args).spawn_killed();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(dir.join(MANIFEST).exists() && manifest(dir)["parts"][0]["state"] == "submitting") {
        assert!(Instant::now() < deadline, "no submit recorded");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The submit is on its way (1.5 s of latency): the manifest can no longer be replaced.
    let saved = c.tmp.path().join("saved.json");
    std::fs::rename(dir.join(MANIFEST), &saved).unwrap();
    std::fs::create_dir_all(dir.join(MANIFEST).join("blocker")).unwrap();
    let out = child.wait_with_output().unwrap();
    // Exit 3 (a record of an answer lost), not 2 ("nothing was sent").
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(sim.handle.stats().billable("jimmyai.createAudio"), 1);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.contains("jimmyai:speech:"),
        "the paid task's id was not reported: {out:?}"
    );
}

/// A `done` part's files are files of DIR: a manifest whose file names were edited into
/// paths out of it (`/abs/path`, `../x`) is refused before anything is sent, instead of the
/// named file being hashed and, when it matched the recorded size and SHA-256, listed as
/// the part's audio.
#[test]
fn a_manifest_whose_file_names_leave_the_directory_is_refused() {
    use sha2::Digest;
    let sim = Sim::fast(KEY);
    let c = case(&text(1));
    let args = speak_args(&c.file, &c.out);
    run(&sim, &args).expect(0);
    let dir = Path::new(&c.out);
    let good = std::fs::read(dir.join(MANIFEST)).unwrap();
    let elsewhere = c.tmp.path().join("not-audio.txt");
    std::fs::write(&elsewhere, b"some file of the user's").unwrap();
    let sha = hex::encode(sha2::Sha256::digest(b"some file of the user's"));
    for name in [
        elsewhere.display().to_string(),
        "../not-audio.txt".to_owned(),
    ] {
        let mut m: Value = serde_json::from_slice(&good).unwrap();
        m["parts"][0]["files"][0] = serde_json::json!({
            "name": name, "bytes": 23, "sha256": sha,
        });
        let bytes = serde_json::to_vec(&m).unwrap();
        let e = rerun_refused(&sim, &args, dir, &bytes, &name);
        assert_eq!(e["kind"], "manifest_mismatch", "{e}");
        assert!(
            e["message"].as_str().unwrap().contains("plain file name"),
            "{e}"
        );
    }
}

/// A manifest damaged or edited into nonsense (cut off, wrong types, numbers out of range,
/// an unknown state) is refused (exit 2, `invalid_manifest`, naming the file) before
/// anything is sent; a submit time that is no time (`u64::MAX` ms, past year 9999) is
/// refused by name (exit 2, `manifest_mismatch`, as other hand edits are), not a panic.
#[test]
fn a_damaged_manifest_is_refused_before_anything_is_sent() {
    let sim = Sim::fast(KEY);
    let c = case(&text(1));
    let args = speak_args(&c.file, &c.out);
    run(&sim, &args).expect(0);
    let dir = Path::new(&c.out);
    let good = std::fs::read(dir.join(MANIFEST)).unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut m: Value = serde_json::from_slice(&good).unwrap();
        f(&mut m);
        serde_json::to_vec(&m).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("cut off", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        (
            "index a string",
            edit(&|m| m["parts"][0]["index"] = "0".into()),
        ),
        (
            "index negative",
            edit(&|m| m["parts"][0]["index"] = (-1).into()),
        ),
        (
            "a time past u64",
            String::from_utf8(edit(&|m| m["parts"][0]["submitted_at_ms"] = 1.into()))
                .unwrap()
                .replace("\"submitted_at_ms\":1", "\"submitted_at_ms\":1e30")
                .into_bytes(),
        ),
        (
            "unknown state",
            edit(&|m| m["parts"][0]["state"] = "paid".into()),
        ),
        ("parts not a list", edit(&|m| m["parts"] = "none".into())),
    ];
    for (what, bytes) in cases {
        let e = rerun_refused(&sim, &args, dir, &bytes, what);
        assert_eq!(e["kind"], "invalid_manifest", "{what}: {e}");
        assert!(
            e["message"].as_str().unwrap().contains(MANIFEST),
            "{what}: {e}"
        );
    }
    // A part of unknown outcome "sent" in the far future: refused naming the field, nothing
    // resent (before: reported as unknown, exit 3; the time was added with `+`, a panic
    // where `SystemTime` is narrower than u64::MAX ms).
    std::fs::write(
        dir.join(MANIFEST),
        edit(&|m| {
            let p = &mut m["parts"][0];
            p["state"] = "submitting".into();
            p["submitted_at_ms"] = u64::MAX.into();
            p.as_object_mut().unwrap().remove("job_id");
            p.as_object_mut().unwrap().remove("files");
        }),
    )
    .unwrap();
    let requests = sim.requests();
    let j = run(&sim, &args).expect(2).json();
    assert_eq!(j["error"]["kind"], "manifest_mismatch", "{j}");
    let msg = j["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("submitted_at_ms") && msg.contains(MANIFEST),
        "{msg}"
    );
    assert_eq!(sim.requests(), requests);
}

/// The regular files in DIR other than the manifest: (name, bytes).
fn results(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            e.file_type().unwrap().is_file()
                && e.file_name() != MANIFEST
                && e.file_name() != ".voiceclone-manifest.lock"
        })
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    v.sort();
    v
}

fn fake_run(fake: &FakeVmeg, args: &[&str]) -> Run {
    run_binary(Some(&fake.url), KEY, &[], &[], args)
}

/// A server handing out a result for each line of a VMEG part (here 16 KiB each, as a
/// hostile one could hand out 50 x 256 MiB) meets the run's `--max-total-bytes`: no file
/// past the budget reaches the disk (a declared `Content-Length` is refused before its
/// body; a chunked body without one is cut at what is left and removed), the run stops
/// downloading and starts no further part (one create of three), exits 1 (paid tasks
/// exist: not 2) with `download_budget` naming the budget and the manifest, and the manifest
/// holds the sent part's job id. The rerun with a larger budget downloads everything and
/// pays for no part twice.
#[test]
fn a_run_downloads_no_more_than_its_byte_budget_and_the_rerun_finishes_without_paying_again() {
    const FILE: u64 = 16 * 1024;
    const BUDGET: u64 = 50_000; // three files (49,152 bytes), not four
    for chunked in [false, true] {
        let fake = FakeVmeg::start(0, FILE as usize, chunked);
        let c = case(&text(3));
        let dir = Path::new(&c.out);
        let budget = BUDGET.to_string();
        let mut args = speak_args(&c.file, &c.out);
        args.extend(["--concurrency", "1", "--max-total-bytes", budget.as_str()]);
        let r = fake_run(&fake, &args);
        assert_eq!(r.code, 1, "chunked {chunked}: {r:?}");
        let e = r.json()["error"].clone();
        assert_eq!(e["kind"], "download_budget", "{e}");
        let msg = e["message"].as_str().unwrap();
        for needed in ["--max-total-bytes", "50000", MANIFEST, "rerun"] {
            assert!(msg.contains(needed), "{needed:?} missing: {msg}");
        }
        assert_eq!(e["max_total_bytes"], BUDGET, "{e}");
        let files = results(dir);
        let on_disk: u64 = files.iter().map(|(_, n)| n).sum();
        assert!(
            on_disk <= BUDGET,
            "chunked {chunked}: {on_disk} bytes: {files:?}"
        );
        assert_eq!(
            files.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["001-01.wav", "001-02.wav", "001-03.wav"],
            "chunked {chunked}"
        );
        // One part sent; the others never started.
        assert_eq!(fake.creates(), 1, "chunked {chunked}");
        let m = manifest(dir);
        assert_eq!(m["parts"][0]["state"], "submitted", "{m}");
        assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t1", "{m}");
        assert_eq!(m["parts"][1]["state"], "planned", "{m}");
        assert_eq!(m["parts"][2]["state"], "planned", "{m}");

        // The rerun with room for all three parts: part 1 downloaded from its task, 2 and 3
        // sent once each.
        let mut args = speak_args(&c.file, &c.out);
        args.extend(["--max-total-bytes", "3000000"]);
        fake_run(&fake, &args).expect(0);
        assert_eq!(
            fake.creates(),
            3,
            "chunked {chunked}: a part was paid twice"
        );
        let files = results(dir);
        let lines: usize = (0..3).map(|k| part_lines(dir, k)).sum();
        assert_eq!(files.len(), lines, "chunked {chunked}");
        assert!(files.iter().all(|(_, n)| *n == FILE), "{files:?}");
    }
}

/// A result host answering an empty 200 for a part's audio: the download is refused, so the
/// run exits 1 naming the part, the part stays `submitted` with its job id and no file is
/// left; the rerun, once the host serves the audio, downloads it from the known task without
/// paying again. Before: exit 0, the part recorded `done` with the empty file's SHA-256, and
/// every rerun skipped it (the paid audio was never fetched again).
#[test]
fn an_empty_answer_for_a_parts_audio_is_not_done_and_the_rerun_fetches_it() {
    let fake = FakeVmeg::start(0, 1000, false);
    fake.serve_empty_files(true);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 1, "{r:?}");
    let e = r.json()["error"].clone();
    assert_eq!(e["part"], 1, "{e}");
    assert_eq!(e["kind"], "download", "{e}");
    assert_eq!(fake.creates(), 1);
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "submitted", "{m}");
    assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t1", "{m}");
    assert!(results(dir).is_empty(), "{:?}", results(dir));

    fake.serve_empty_files(false);
    fake_run(&fake, &args).expect(0);
    assert_eq!(fake.creates(), 1, "the part was paid again");
    assert_eq!(manifest(dir)["parts"][0]["state"], "done");
    let files = results(dir);
    assert_eq!(files.len(), part_lines(dir, 0), "{files:?}");
    assert!(
        files
            .iter()
            .all(|(n, b)| n.starts_with("001-") && *b == 1000),
        "{files:?}"
    );
}

/// Plain output (no `--json`) of a run that stopped names every part sent and not done with
/// its job id, or, left `submitting`, its idempotency key: README, "the result lists every
/// part with its job id". Before, stdout said only "0 of 3 parts done; ..." and the error
/// pointed at `parts`, a field only `--json` prints: the paid task's id was in the manifest
/// alone.
#[test]
fn plain_output_names_the_job_of_every_part_sent_and_not_done() {
    // The download budget stops the run with part 1 sent and not downloaded.
    let fake = FakeVmeg::start(0, 16 * 1024, false);
    let c = case(&text(3));
    let mut args = speak_args(&c.file, &c.out);
    args.retain(|a| *a != "--json");
    args.extend(["--concurrency", "1", "--max-total-bytes", "50000"]);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("part 1 of 3: submitted as job vmeg:speech:t1"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("see `parts`"), "{r:?}");

    // A submit answered "key already used": the part is left `submitting`, named with its
    // key.
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_creates_with(409, key_used());
    let c = case(&text(1));
    let mut args = speak_args(&c.file, &c.out);
    args.retain(|a| *a != "--json");
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let key = manifest(Path::new(&c.out))["parts"][0]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("part 1 of 1: its submit was sent"))
        .unwrap_or_else(|| panic!("{r:?}"));
    assert!(line.contains(&key), "{line}");
}

/// A server whose failure answers name one task for every submit (a 502 whose `data.taskId`
/// is always `t-same`): the first part takes it as its task (the answer named it), but the
/// second part's lost submit must not take a task another part holds: its own task is
/// unknown (exit 3, naming the part), never the first part's audio under its name.
#[test]
fn a_task_named_for_two_parts_is_taken_by_one_and_the_other_is_unknown() {
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_creates_with(
        502,
        serde_json::json!({"code": 502, "message": "upstream failed", "data": {"taskId": "t-same"}}),
    );
    let c = case(&text(2));
    let dir = Path::new(&c.out);
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "1"]);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let m = manifest(dir);
    let job = |k: usize| m["parts"][k]["job_id"].as_str().unwrap_or("").to_owned();
    assert!(job(0).ends_with("t-same"), "{m}");
    assert!(!job(1).ends_with("t-same"), "{m}");
    assert_eq!(m["parts"][1]["state"], "submitting", "{m}");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("another part"), "{msg}");
    let files = results_in(dir);
    assert_eq!(files.len(), part_lines(dir, 0), "{files:?}");
    assert!(
        files.iter().all(|n| n.starts_with("001-")),
        "only the first part's audio: {files:?}"
    );
}

/// `--max-total-bytes` of 0 or not a number is refused by name (exit 2) before anything
/// is sent.
#[test]
fn a_zero_or_unparsable_byte_budget_is_refused_before_anything_is_sent() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    for bad in ["0", "lots", "-5", ""] {
        for json in [true, false] {
            let mut args = speak_args(&c.file, &c.out);
            if !json {
                args.retain(|a| *a != "--json");
            }
            let flag = format!("--max-total-bytes={bad}");
            args.push(&flag);
            let r = fake_run(&fake, &args);
            assert_eq!(r.code, 2, "{bad:?}: {r:?}");
            let shown = format!("{}{}", r.stdout, r.stderr);
            assert!(shown.contains("--max-total-bytes"), "{bad:?}: {r:?}");
        }
    }
    assert_eq!(fake.requests(), 0);
    assert!(!Path::new(&c.out).exists());
}

/// Parts 1 and 2 were sent (paid, two at a time) and part 1's audio is downloading when
/// the manifest can no longer be replaced (the server's hook puts a directory at its path
/// when the first file is asked for: a disk that filled, a directory gone read-only; this
/// works as root too, where `chmod` denies nothing). Recording part 1 as done fails, and so
/// does every later write: exit 3, not 2 ("nothing was sent"), and the error names both
/// paid tasks (`job_ids` with `--json`, the message on stderr without), which the manifest
/// may not record. Part 3 is not sent: its record before the submit cannot be written.
#[test]
fn a_manifest_write_that_fails_after_a_part_was_paid_is_exit_3_naming_its_task() {
    for json in [true, false] {
        let fake = FakeVmeg::start(0, 1000, false);
        let c = case(&text(3));
        let dir = Path::new(&c.out).to_path_buf();
        let saved = c.tmp.path().join("saved.json");
        let mut done = false;
        let blocked = dir.clone();
        fake.on_request(move |path| {
            if path.starts_with("/files/") && !done {
                done = true;
                std::fs::rename(blocked.join(MANIFEST), &saved).unwrap();
                std::fs::create_dir_all(blocked.join(MANIFEST).join("blocker")).unwrap();
            }
        });
        let mut args = speak_args(&c.file, &c.out);
        if !json {
            args.retain(|a| *a != "--json");
        }
        args.extend(["--concurrency", "2"]);
        let r = fake_run(&fake, &args);
        assert_eq!(r.code, 3, "{r:?}");
        assert_eq!(fake.creates(), 2, "part 3 was sent without a record");
        let msg = if json {
            let j = r.json();
            let e = &j["error"];
            let mut ids: Vec<&str> = e["job_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            ids.sort_unstable();
            assert_eq!(ids, ["vmeg:speech:t1", "vmeg:speech:t2"], "{e}");
            assert_eq!(j["parts"][2]["state"], "planned", "{j}");
            e["message"].as_str().unwrap().to_owned()
        } else {
            r.stderr.clone()
        };
        for needed in ["vmeg:speech:t1", "vmeg:speech:t2", MANIFEST] {
            assert!(msg.contains(needed), "{needed:?} missing: {msg}");
        }
        // The ids in the list, the command to paste in backticks (before: the other way
        // round), with the key's variable to run it with.
        assert!(
            msg.contains("Keep these ids (`voiceclone --provider vmeg ")
                && msg.contains(
                    " wait --kind speech ID` (run it with the same `VMEG_API_KEY` as this run) waits"
                ),
            "{msg}"
        );
    }
}

/// A part's audio that cannot be written to `DIR` (a disk that filled, a path taken) stops
/// the run from starting further parts, as the download budget does: every one of them would
/// be paid for with nowhere to keep its audio (review 35-c #3). Before: the run went on and
/// paid for every part of the text, exit 1 only at the end.
#[test]
fn audio_that_cannot_be_written_stops_further_parts() {
    let fake = FakeVmeg::start(0, 1000, false);
    let c = case(&text(3));
    let blocked = Path::new(&c.out).to_path_buf();
    let mut done = false;
    fake.on_request(move |path| {
        if path.starts_with("/files/") && !done {
            done = true;
            // The finished file's name is taken by a directory: the rename into place fails.
            std::fs::create_dir_all(blocked.join("001-01.wav").join("blocker")).unwrap();
        }
    });
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "1"]);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(
        fake.creates(),
        1,
        "parts were sent after the audio could not be written"
    );
    let j = r.json();
    let msg = j["error"]["message"].as_str().unwrap();
    assert!(msg.contains("no further part was started"), "{msg}");
    assert_eq!(j["parts"][1]["state"], "planned", "{j}");
}

/// Review 33 pass 2 #6: a rerun that sends nothing (its part `submitted`, only waited for)
/// and cannot write the manifest when the part's task reads finished (the disk filled, the
/// path replaced) is exit 1 naming the part and saying its task is paid, as a failed
/// download is; never exit 2 (`io`), which promises that nothing was sent: a script reading
/// it as "bad input, nothing paid" may start over in another `--out` and pay again.
#[test]
fn a_manifest_write_failing_on_a_finished_read_is_not_exit_2() {
    let fake = FakeVmeg::start(0, 1000, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out).to_path_buf();
    let args = speak_args(&c.file, &c.out);
    fake_run(&fake, &args).expect(0);
    // As if the first run had stopped before reading its task: `submitted`, nothing
    // downloaded.
    let mut m = manifest(&dir);
    for f in m["parts"][0]["files"].as_array().unwrap() {
        std::fs::remove_file(dir.join(s(&f["name"]))).unwrap();
    }
    m["parts"][0]["state"] = "submitted".into();
    m["parts"][0]["files"] = serde_json::json!([]);
    m["parts"][0]["finished_seen_at_ms"] = Value::Null;
    std::fs::write(dir.join(MANIFEST), m.to_string()).unwrap();
    let saved = c.tmp.path().join("saved.json");
    let blocked = dir.clone();
    let mut done = false;
    fake.on_request(move |_| {
        if !done {
            done = true;
            std::fs::rename(blocked.join(MANIFEST), &saved).unwrap();
            std::fs::create_dir_all(blocked.join(MANIFEST).join("blocker")).unwrap();
        }
    });
    let creates = fake.creates();
    let r = fake_run(&fake, &args).expect(1);
    assert_eq!(fake.creates(), creates, "{r:?}");
    let e = r.json()["error"].clone();
    assert_eq!(e["part"], 1, "{e}");
    assert!(s(&e["message"]).contains("its task is paid"), "{e}");
}

/// Review 35-c #7: as above, for every other read of a paid task whose note cannot be
/// written: its task read failed, not known to VMEG, finished with a line VMEG failed, or
/// finished with a line the client cannot read. Each names the part, its task (`job_id`) and
/// says it is paid, with the exit its read gives when recorded: 1 for a task or line that
/// failed, 3 for an outcome not known (never 1, "failed, submit again": pass 2d #5); before,
/// each was exit 2 (`io`, "nothing was sent"), without the part.
#[test]
fn a_manifest_write_failing_after_any_task_read_is_not_exit_2() {
    let unreadable = serde_json::json!({"uri": "", "duration": 0, "errorMessage": ""});
    let failed_line = serde_json::json!({"uri": "", "duration": 0, "errorMessage": "refused"});
    let cases: [(&str, u16, Option<Value>, i32); 4] = [
        ("task failed", 200, None, 1),
        ("task not found", 404, None, 3),
        ("a line failed", 200, Some(failed_line), 1),
        ("a line unreadable", 200, Some(unreadable), 3),
    ];
    let mut wrong = Vec::new();
    for (what, status, line2, code) in cases {
        let fake = FakeVmeg::start(0, 1000, false);
        let c = case(&three_lines());
        let dir = Path::new(&c.out).to_path_buf();
        let args = speak_args(&c.file, &c.out);
        fake_run(&fake, &args).expect(0);
        let mut m = manifest(&dir);
        for f in m["parts"][0]["files"].as_array().unwrap() {
            std::fs::remove_file(dir.join(s(&f["name"]))).unwrap();
        }
        m["parts"][0]["state"] = "submitted".into();
        m["parts"][0]["files"] = serde_json::json!([]);
        m["parts"][0]["finished_seen_at_ms"] = Value::Null;
        std::fs::write(dir.join(MANIFEST), m.to_string()).unwrap();
        let body = match (status, line2) {
            (404, _) => TASK_NOT_FOUND.to_owned(),
            (_, Some(line2)) => detail_with_line2(&fake.url, "t1", line2),
            (_, None) => failed_detail("t1"),
        };
        fake.answer_detail_of("t1", status, &body, Duration::ZERO);
        let saved = c.tmp.path().join("saved.json");
        let blocked = dir.clone();
        let mut done = false;
        fake.on_request(move |_| {
            if !done {
                done = true;
                std::fs::rename(blocked.join(MANIFEST), &saved).unwrap();
                std::fs::create_dir_all(blocked.join(MANIFEST).join("blocker")).unwrap();
            }
        });
        let creates = fake.creates();
        let r = fake_run(&fake, &args);
        assert_eq!(fake.creates(), creates, "{what}: {r:?}");
        let e = r.json()["error"].clone();
        if r.code != code
            || e["part"] != 1
            || e["job_id"].as_str().is_none()
            || !s(&e["message"]).contains("its task is paid")
        {
            wrong.push(format!("{what}: exit {}: {e}", r.code));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Review 33 pass 2 #7: a part whose past tasks are at the 1,000 the manifest records (a
/// part failing every time, rerun in a loop) is not submitted again: exit 1 saying so, the
/// manifest left loadable. Before, the 1,001st submit was written, and every later run was
/// refused with exit 2 ("was it edited by hand?"), with no way on but editing it.
#[test]
fn a_part_submitted_as_often_as_the_manifest_records_is_not_submitted_again() {
    let fake = FakeVmeg::start(0, 1000, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out).to_path_buf();
    let args = speak_args(&c.file, &c.out);
    fake_run(&fake, &args).expect(0);
    let mut m = manifest(&dir);
    for f in m["parts"][0]["files"].as_array().unwrap() {
        std::fs::remove_file(dir.join(s(&f["name"]))).unwrap();
    }
    m["parts"][0]["state"] = "failed".into();
    m["parts"][0]["files"] = serde_json::json!([]);
    m["parts"][0]["error"] = "line 1 failed".into();
    m["parts"][0]["past_job_ids"] = (0..1000)
        .map(|n| Value::from(format!("vmeg:speech:old{n}")))
        .collect::<Vec<_>>()
        .into();
    std::fs::write(dir.join(MANIFEST), m.to_string()).unwrap();
    let creates = fake.creates();
    let r = fake_run(&fake, &args).expect(1);
    assert_eq!(fake.creates(), creates, "{r:?}");
    assert_eq!(r.json()["error"]["kind"], "resubmit_limit", "{r:?}");
    // The manifest still loads: the rerun says the same, not "edited by hand?" (exit 2).
    let r = fake_run(&fake, &args).expect(1);
    assert_eq!(fake.creates(), creates, "{r:?}");
}

/// Review 33 pass 3 #3: a VMEG part left `submitting` under another scope, its past submits
/// at the 1,000 the manifest records, is not resent under this run's scope by
/// `--resubmit-unknown` (which would list a 1,001st): exit 3, nothing sent, and the manifest
/// still loads. Before, the resend went out and every later run was refused with exit 2
/// ("edited by hand?").
#[test]
fn a_rescoped_resend_past_the_recorded_submits_is_not_sent() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    let mut m = manifest(dir);
    m["parts"][0]["key_scope"]["base_url"] = "https://elsewhere.example.com/".into();
    let past =
        serde_json::json!({"idempotency_key": null, "submitted_at_ms": 1_700_000_000_000_i64});
    m["parts"][0]["past_submits"] = vec![past; 1000].into();
    std::fs::write(dir.join(MANIFEST), m.to_string()).unwrap();
    fake.answer_creates_with(409, key_used());
    let sent = fake.creates();
    let mut asked = args.clone();
    asked.push("--resubmit-unknown");
    let r = fake_run(&fake, &asked).expect(3);
    assert_eq!(fake.creates(), sent, "{r:?}");
    assert_eq!(
        manifest(dir)["parts"][0]["past_submits"]
            .as_array()
            .unwrap()
            .len(),
        1000
    );
    // The rerun loads it and says the same.
    let r = fake_run(&fake, &asked).expect(3);
    assert_eq!(fake.creates(), sent, "{r:?}");
}

/// Part 1's submit is of unknown outcome (a 409 on its own fresh key, then on its resend by
/// the rerun, whose task search finds no list) and part 2's manifest write fails after it
/// was paid (a directory planted at the manifest's path when its audio is asked for): the
/// run tells both, the manifest write failure first (exit 3, naming part 2's task) and part
/// 1 in `unknown_parts`. Before, any part of unknown outcome discarded every other failure:
/// the manifest's write failure went untold. (Part 2 is sent by the rerun: the first run
/// submits nothing after part 1's unknown submit, review 33-b #1.)
#[test]
fn a_part_of_unknown_outcome_does_not_hide_a_failed_manifest_write() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(2));
    let dir = Path::new(&c.out).to_path_buf();
    let saved = c.tmp.path().join("saved.json");
    let state = fake.state.clone();
    let mut creates = 0;
    let mut broken = false;
    let blocked = dir.clone();
    fake.on_request(move |path| {
        if path.ends_with("/tts/create-async") {
            creates += 1;
            *state.create_answer.lock().unwrap() = (creates <= 2).then(key_used).map(|b| (409, b));
        }
        if path.starts_with("/files/") && !broken {
            broken = true;
            std::fs::rename(blocked.join(MANIFEST), &saved).unwrap();
            std::fs::create_dir_all(blocked.join(MANIFEST).join("blocker")).unwrap();
        }
    });
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "1"]);
    fake_run(&fake, &args).expect(3);
    assert_eq!(manifest(&dir)["parts"][1]["state"], "planned");
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let e = r.json()["error"].clone();
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.starts_with("writing"),
        "the manifest's failure is not told: {msg}"
    );
    assert!(msg.contains("vmeg:speech:t3"), "{msg}");
    assert!(msg.contains("part 1 of 2"), "{msg}");
    assert_eq!(e["unknown_parts"].as_array().map(Vec::len), Some(1), "{e}");
    assert_eq!(e["job_ids"], serde_json::json!(["vmeg:speech:t3"]), "{e}");
}

/// A `--text-file` that is no regular file (a device that never ends, a FIFO nobody writes
/// to) or holds more than a text can (16 MiB) is refused by name, with nothing sent: before,
/// `/dev/zero` was read into memory until the process died and a FIFO blocked for ever.
#[test]
fn a_text_file_that_never_ends_blocks_or_is_too_big_is_refused_with_nothing_sent() {
    let sim = Sim::fast(KEY);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("text.fifo");
    support::mkfifo(&fifo);
    let big = dir.path().join("big.txt");
    std::fs::write(&big, "a".repeat(16 * 1024 * 1024 + 1)).unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    for (file, why) in [
        ("/dev/zero", "not a regular file"),
        (fifo.to_str().unwrap(), "not a regular file"),
        (big.to_str().unwrap(), "more than 16777216 bytes"),
    ] {
        let started = Instant::now();
        let j = run(&sim, &speak_args(file, out)).expect(2).json();
        assert!(started.elapsed() < Duration::from_secs(30), "{file}");
        assert_eq!(j["error"]["field"], "text_file", "{file}: {j}");
        let message = j["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{file}: {j}");
        assert_eq!(paid(&sim), 0);
        assert_eq!(sim.requests(), 0, "{file}: nothing sent");
    }
}

/// VMEG's answer to a create whose idempotency key was already used.
fn key_used() -> Value {
    serde_json::json!({"code": 409, "message": "Idempotency key already used", "data": null})
}

/// A VMEG `tasks/list` record of a finished speech task (`createdAt` left out when `None`).
fn listed(task: &str, created_at: Option<&str>) -> Value {
    let mut r = serde_json::json!({"taskId": task, "taskType": "tts", "status": "finished"});
    if let Some(at) = created_at {
        r["createdAt"] = at.into();
    }
    r
}

/// The first create of a part, under the tool's own new key (`vclong-<uuid>`, made for this
/// submit and never sent before), answered 409 "key already used" (a proxy that replayed
/// the POST; how VMEG answers a duplicate still in flight is UNKNOWN). Nobody else can have
/// used that key: this submit was accepted. The part stays `submitting` with its key (exit
/// 3, naming it), and the rerun resends it under the same key and takes the task the list
/// shows, instead of the part going back to `planned` and the rerun sending it under a new
/// key (a second paid task).
#[test]
fn a_409_on_the_clis_own_fresh_key_leaves_the_part_unknown_not_planned() {
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_creates_with(409, key_used());
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let e = r.json()["error"].clone();
    assert_eq!(e["kind"], "outcome_unknown", "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("part 1 of 1"),
        "{e}"
    );
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "submitting", "{m}");
    let key = m["parts"][0]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(key.starts_with("vclong-"), "{m}");
    assert_eq!(fake.create_keys(), [key.as_str()]);

    let now = jiff::Timestamp::now().to_string();
    // A rerun whose listing also holds a record it cannot read (no task id): the one
    // readable task is not taken, since the part's own may be the unreadable one.
    fake.list_tasks_with(vec![
        serde_json::json!({"taskId": null, "taskType": "tts", "createdAt": now}),
        listed("t-other", Some(&now)),
    ]);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.contains("incomplete"), "{r:?}");
    assert_eq!(manifest(dir)["parts"][0]["job_id"], Value::Null);

    // The rerun: the key is still used, and the account's one speech task made around the
    // submit is listed, dated now.
    fake.list_tasks_with(vec![listed("t-mine", Some(&now))]);
    fake_run(&fake, &args).expect(0);
    assert_eq!(
        fake.create_keys(),
        [key.as_str(), key.as_str(), key.as_str()],
        "a rerun sent the part under another key"
    );
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t-mine", "{m}");
    assert_eq!(m["parts"][0]["state"], "done", "{m}");
}

/// A server answering every create with one task id (a caching proxy, each answer a 200
/// naming `t-same`): one part takes it; the other's submit was answered with a task another
/// part holds, so its own task is unknown (exit 3, naming it and the task), never the first
/// part's audio written again under its name. Before, both parts held `t-same` and the run
/// ended with exit 0.
#[test]
fn an_accepted_task_another_part_holds_is_not_taken_twice() {
    for concurrency in ["1", "2"] {
        let fake = FakeVmeg::start(0, 100, false);
        fake.answer_creates_with(
            200,
            serde_json::json!({"code": 200, "message": "", "data": {"taskId": "t-same", "createdAt": "2026-01-01T00:00:00Z"}}),
        );
        // Two parts of 50 lines each: `t-same` answers 50 results whichever part takes it.
        let c = case(&paragraphs(100));
        let dir = Path::new(&c.out);
        let mut args = speak_args(&c.file, &c.out);
        args.extend(["--concurrency", concurrency]);
        let r = fake_run(&fake, &args);
        assert_eq!(r.code, 3, "concurrency {concurrency}: {r:?}");
        let m = manifest(dir);
        let holders: Vec<usize> = (0..2)
            .filter(|&k| m["parts"][k]["job_id"] == "vmeg:speech:t-same")
            .collect();
        let [taker] = holders[..] else {
            panic!("concurrency {concurrency}: {holders:?} hold t-same: {m}");
        };
        let other = 1 - taker;
        assert_eq!(m["parts"][taker]["state"], "done", "{m}");
        assert_eq!(m["parts"][other]["state"], "submitting", "{m}");
        assert!(m["parts"][other].get("job_id").is_none(), "{m}");
        let e = r.json()["error"].clone();
        assert_eq!(e["kind"], "outcome_unknown", "{e}");
        let msg = e["message"].as_str().unwrap();
        let name = format!("part {} of 2", other + 1);
        for needed in [name.as_str(), "t-same", "another part"] {
            assert!(msg.contains(needed), "{needed:?} missing: {msg}");
        }
        let audio = format!("{:03}-", taker + 1);
        let files = results_in(dir);
        assert_eq!(files.len(), part_lines(dir, taker), "{files:?}");
        assert!(
            files.iter().all(|n| n.starts_with(&audio)),
            "only the taker's audio: {files:?}"
        );
    }
}

/// A first run whose every submit is answered 502 naming no task: the parts stay
/// `submitting` (exit 3), for the rerun under test.
fn lose_every_submit(fake: &FakeVmeg, args: &[&str]) {
    fake.answer_creates_with(
        502,
        serde_json::json!({"code": 502, "message": "upstream failed", "data": null}),
    );
    fake_run(fake, args).expect(3);
}

/// Every 8-character piece of `key`, none of which may be in `text`.
fn holds_a_piece_of(text: &str, key: &str) -> Option<String> {
    let chars: Vec<char> = key.chars().collect();
    chars
        .windows(8)
        .map(|w| w.iter().collect::<String>())
        .find(|piece| text.contains(piece.as_str()))
}

/// Review 24-d #1: VMEG keeps an idempotency key per API key (api-facts A4 CONFIRMED). A part
/// left `submitting` under one API key, rerun under another (a rotated key, a teammate's) or
/// against another base URL, is not resent under its key (there a new key: new, paid work,
/// while the first task, billed, would be recorded as "created nothing"): exit 3 naming the
/// reason, the key and the submit time, nothing sent. A manifest of version 1, which does not
/// record the scope, is not resent either. Under the API key and base URL it was sent with,
/// the rerun resends it as before. The manifest records the API key's salted fingerprint and
/// no 8-character piece of the key.
#[test]
fn a_rerun_under_another_api_key_or_base_url_never_resends_a_submitting_part() {
    const OTHER_KEY: &str = "sk-long-hostile-another-9876543210";
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "submitting", "{m}");
    let key = m["parts"][0]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw = std::fs::read_to_string(dir.join(MANIFEST)).unwrap();
    assert_eq!(holds_a_piece_of(&raw, KEY), None, "{raw}");
    assert!(
        m["parts"][0]["key_scope"]["api_key_fingerprint"].is_string(),
        "{m}"
    );

    // Whatever a create is now answered, the rerun must not send one.
    fake.answer_creates_with(
        200,
        serde_json::json!({"code": 200, "message": "", "data": {"taskId": "t-new", "createdAt": "2026-01-01T00:00:00Z"}}),
    );
    let creates = fake.creates();
    let localhost = fake.url.replace("127.0.0.1", "localhost");
    for (what, url, api_key) in [
        ("another API key", fake.url.as_str(), OTHER_KEY),
        ("another base URL", localhost.as_str(), KEY),
    ] {
        let r = run_binary(Some(url), api_key, &[KEY], &[], &args);
        assert_eq!(r.code, 3, "{what}: {r:?}");
        assert_eq!(fake.creates(), creates, "{what}: a create was sent");
        let e = r.json()["error"].clone();
        assert_eq!(e["kind"], "outcome_unknown", "{what}: {e}");
        let msg = e["message"].as_str().unwrap();
        for needed in [what, key.as_str(), "part 1 of 1", "sent at"] {
            assert!(msg.contains(needed), "{what}: {needed:?} missing: {msg}");
        }
        let m = manifest(dir);
        assert_eq!(m["parts"][0]["state"], "submitting", "{what}: {m}");
        assert_eq!(m["parts"][0]["idempotency_key"], key.as_str(), "{what}");
        let raw = std::fs::read_to_string(dir.join(MANIFEST)).unwrap();
        assert_eq!(holds_a_piece_of(&raw, OTHER_KEY), None, "{raw}");
        assert_eq!(holds_a_piece_of(&raw, KEY), None, "{raw}");
    }

    // A manifest of version 1 (no salt, no scope): the scope is not known, so no resend.
    let good = std::fs::read(dir.join(MANIFEST)).unwrap();
    let mut old: Value = serde_json::from_slice(&good).unwrap();
    old["version"] = 1.into();
    old.as_object_mut().unwrap().remove("key_salt");
    old["parts"][0].as_object_mut().unwrap().remove("key_scope");
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&old).unwrap()).unwrap();
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(fake.creates(), creates, "a version-1 part was resent");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        msg.contains("earlier version") && msg.contains(&key),
        "{msg}"
    );
    // Review 24 pass 2c #1: no rerun resends it, so none is promised; what can find it is.
    assert!(!msg.contains("Rerun with the API key"), "{msg}");
    for needed in ["reconcile --key", "--submitted-at", "--resubmit-unknown"] {
        assert!(msg.contains(needed), "{needed:?} missing: {msg}");
    }
    assert_eq!(manifest(dir)["version"], 4);

    // A key past VMEG's window under another API key: the age is the reason, and no rerun
    // under the first API key is promised to create nothing (review 24 pass 2c #1). Aged
    // 23 h 30 min, inside VMEG's 24 h key lifetime but past the 23 h resend window, so a
    // window widened towards 24 h fails here (review 27-a #2).
    let mut stale: Value = serde_json::from_slice(&good).unwrap();
    let ms = stale["parts"][0]["submitted_at_ms"].as_u64().unwrap();
    stale["parts"][0]["submitted_at_ms"] = (ms - (23 * 3600 + 30 * 60) * 1000).into();
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&stale).unwrap()).unwrap();
    let r = run_binary(Some(&fake.url), OTHER_KEY, &[KEY], &[], &args);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(fake.creates(), creates, "a stale part was resent");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("too old"), "{msg}");
    assert!(!msg.contains("Rerun with the API key"), "{msg}");
    assert!(!msg.contains("nothing new is created"), "{msg}");

    // Under the API key and base URL it was sent with, it is resent under its key; the base
    // URL spelt with trailing slashes is the one the requests go to (review 24 pass 2c #4).
    std::fs::write(dir.join(MANIFEST), &good).unwrap();
    let slashes = format!("{}//", fake.url);
    run_binary(Some(&slashes), KEY, &[], &[], &args).expect(0);
    assert_eq!(fake.creates(), creates + 1);
    assert_eq!(fake.create_keys().last().unwrap(), &key);
    assert_eq!(manifest(dir)["parts"][0]["job_id"], "vmeg:speech:t-new");
}

/// Review 24 pass 2c #3: a submit of unknown outcome made under another API key, then
/// replaced with `--resubmit-unknown` under this one, is kept in `past_submits` with where to
/// look it up: `this_api_key: false` and its base URL in `--json`, and "another API key" in
/// the plain line (tasks are listed per API key: `reconcile` under this run's key would
/// answer "none" for it). Never the key or its fingerprint.
#[test]
fn a_past_submit_under_another_api_key_says_where_to_look_it_up() {
    const OTHER_KEY: &str = "sk-long-hostile-another-9876543210";
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    fake.answer_creates_with(
        200,
        serde_json::json!({"code": 200, "message": "", "data": {"taskId": "t-new", "createdAt": "2026-01-01T00:00:00Z"}}),
    );
    let mut asked = args.clone();
    asked.push("--resubmit-unknown");
    let r = run_binary(Some(&fake.url), OTHER_KEY, &[KEY], &[], &asked);
    assert_eq!(r.code, 0, "{r:?}");
    let out = r.json();
    let past = &out["parts"][0]["past_submits"][0];
    assert_eq!(past["this_api_key"], false, "{out}");
    assert!(
        past["base_url"].as_str().unwrap().starts_with(&fake.url),
        "{out}"
    );
    assert!(past.get("api_key_fingerprint").is_none(), "{out}");
    // Plain output, under the key it was sent with: nothing to add; under another: said.
    let plain: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let r = run_binary(Some(&fake.url), OTHER_KEY, &[KEY], &[], &plain);
    assert_eq!(r.code, 0, "{r:?}");
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("an earlier submit"))
        .unwrap_or_else(|| panic!("{r:?}"))
        .to_owned();
    assert!(line.contains("another API key"), "{line}");
    let r = run_binary(Some(&fake.url), KEY, &[], &[], &plain);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stdout.contains("another API key"), "{r:?}");
}

/// A part whose submit's answer was lost (every attempt a 502 naming no task); on the rerun
/// VMEG says its key was used, and the one speech task listed around it has no usable
/// creation time (none, one without a UTC offset, one that cannot be read): such a task
/// fits any window, so nothing says it is this part's (another job's, from another day).
/// It is named, not adopted: the part stays unknown (exit 3) and no audio is written.
/// Before, the part took it and the run ended with exit 0 and another job's audio as
/// 001.wav.
#[test]
fn an_undated_sole_candidate_is_not_adopted() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    assert_eq!(manifest(dir)["parts"][0]["state"], "submitting");

    fake.answer_creates_with(409, key_used());
    // Now in UTC, written without its offset.
    let naive = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .datetime()
        .to_string();
    for (what, created_at) in [
        ("no creation time", None),
        ("no UTC offset", Some(naive.as_str())),
        ("unreadable", Some("yesterday")),
    ] {
        fake.list_tasks_with(vec![listed("t-old", created_at)]);
        let r = fake_run(&fake, &args);
        assert_eq!(r.code, 3, "{what}: {r:?}");
        let e = r.json()["error"].clone();
        assert_eq!(e["kind"], "outcome_unknown", "{what}: {e}");
        let msg = e["message"].as_str().unwrap();
        for needed in ["part 1 of 1", "t-old"] {
            assert!(msg.contains(needed), "{what}: {needed:?} missing: {msg}");
        }
        let m = manifest(dir);
        assert_eq!(m["parts"][0]["state"], "submitting", "{what}: {m}");
        assert!(m["parts"][0].get("job_id").is_none(), "{what}: {m}");
        assert!(results(dir).is_empty(), "{what}: {:?}", results(dir));
    }
    // Dated with its offset and inside the window, the same sole candidate is taken.
    let now = jiff::Timestamp::now().to_string();
    fake.list_tasks_with(vec![listed("t-old", Some(&now))]);
    fake_run(&fake, &args).expect(0);
    assert_eq!(manifest(dir)["parts"][0]["job_id"], "vmeg:speech:t-old");
}

/// Review 24 pass 2d #5: VMEG says the part's key was used and the search lists no task: the
/// message says so, not that the tasks listed were other parts'. Exit 3, nothing sent under
/// a new key.
#[test]
fn an_empty_task_list_after_key_used_is_told_as_such() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    fake.answer_creates_with(409, key_used());
    fake.list_tasks_with(vec![]);
    let sent = fake.creates();
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("no readable task was listed"), "{msg}");
    assert!(!msg.contains("other parts'"), "{msg}");
    assert_eq!(manifest(dir)["parts"][0]["state"], "submitting");
    assert_eq!(fake.creates(), sent + 1, "one resend, under its key");
}

/// Review 30 pass 2 #2: the part was first sent three hours ago, and an earlier run resent
/// its key a minute ago (cut short: its task may be made just now). This rerun's resend meets
/// "key already used" and the list shows nothing yet: the earlier resend's span has not
/// settled, so the message says to rerun to look again, never "searching again tells no
/// more" (which sends the user to a console that does not show API jobs, or a new key).
#[test]
fn key_used_right_after_an_earlier_resend_is_not_settled_by_the_first_submit_alone() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    let m = manifest(dir);
    let now_ms = m["parts"][0]["submitted_at_ms"].as_u64().unwrap();
    let mut edited = m.clone();
    edited["parts"][0]["submitted_at_ms"] = (now_ms - 3 * 3600 * 1000).into();
    edited["parts"][0]["resent_at_ms"] = serde_json::json!([now_ms - 60 * 1000]);
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&edited).unwrap()).unwrap();
    fake.answer_creates_with(409, key_used());
    fake.list_tasks_with(vec![]);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    // With the time a search is worth running again (review 30 reread: each rerun sooner
    // pushes the settle time on, and the message gave none).
    assert!(
        msg.contains("rerun the same command after ") && msg.contains(" to look again"),
        "{msg}"
    );
    assert!(!msg.contains("Searching again tells no more"), "{msg}");
    assert_eq!(manifest(dir)["parts"][0]["state"], "submitting");
}

/// VMEG says the part's key was used, and the list shows the part's task inside the submit's
/// window beside another job's task dated (with its offset) minutes before it: that one lies
/// only in the margin the search keeps for clock skew, so it is no rival and the part's task
/// is taken (exit 0). A rival that is undated or has no UTC offset may lie anywhere, and still
/// keeps the part unknown. Before, the margin task made two candidates on every rerun (exit 3)
/// until the key grew too old and only a paid resubmit was left.
#[test]
fn a_task_dated_only_in_the_skew_margin_is_no_rival_to_one_in_the_window() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    let ms = manifest(dir)["parts"][0]["submitted_at_ms"]
        .as_i64()
        .unwrap();
    let submitted = jiff::Timestamp::from_millisecond(ms).unwrap();
    let at = |secs: i64| (submitted + jiff::SignedDuration::from_secs(secs)).to_string();
    let (mine, before) = (at(5), at(-200));
    let naive = (submitted - jiff::SignedDuration::from_secs(200))
        .to_zoned(jiff::tz::TimeZone::UTC)
        .datetime()
        .to_string();

    fake.answer_creates_with(409, key_used());
    for (what, rival) in [
        ("no creation time", None),
        ("no UTC offset", Some(naive.as_str())),
    ] {
        fake.list_tasks_with(vec![
            listed("t-mine", Some(&mine)),
            listed("t-other", rival),
        ]);
        let r = fake_run(&fake, &args);
        assert_eq!(r.code, 3, "{what}: {r:?}");
        let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
        for needed in ["t-mine", "t-other"] {
            assert!(msg.contains(needed), "{what}: {needed:?} missing: {msg}");
        }
        assert!(manifest(dir)["parts"][0].get("job_id").is_none(), "{what}");
    }
    fake.list_tasks_with(vec![
        listed("t-other", Some(&before)),
        listed("t-mine", Some(&mine)),
    ]);
    fake_run(&fake, &args).expect(0);
    assert_eq!(manifest(dir)["parts"][0]["job_id"], "vmeg:speech:t-mine");
}

/// Review 30 pass 2 #1: after VMEG's 409 the resend's search may list a great many tasks (a
/// hostile server: up to 500,000 a read), and a text of many parts has many ids to check them
/// against; this check looked up every candidate in every part (no `.await`: the current-thread
/// runtime could not see `--timeout` or a signal meanwhile). Now the claimed ids are one set.
/// The answer is the same: 30,000 tasks dated only in the skew margin, each part's own task
/// (claimed: no rival) dated inside the window, and the last part's task: it is taken (exit 0).
#[test]
fn a_long_candidate_list_against_many_parts_still_takes_the_one_unclaimed_task() {
    const PARTS: usize = 100;
    let fake = FakeVmeg::start(0, 100, false);
    // The last create of the first run is answered 502 naming no task: that part stays
    // `submitting`; every other is done.
    let state = fake.state.clone();
    let mut seen = 0;
    fake.on_request(move |path| {
        if path.ends_with("/create-async") {
            seen += 1;
            if seen == PARTS {
                *state.create_answer.lock().unwrap() = Some((
                    502,
                    serde_json::json!({"code": 502, "message": "upstream failed", "data": null}),
                ));
            }
        }
    });
    let c = case(&text(PARTS));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    fake_run(&fake, &args).expect(3);
    let m = manifest(dir);
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), PARTS);
    let open: Vec<usize> = (0..PARTS)
        .filter(|&k| parts[k]["state"] == "submitting")
        .collect();
    let [open] = open[..] else {
        panic!("{open:?} submitting: {m}");
    };
    let ms = parts[open]["submitted_at_ms"].as_i64().unwrap();
    let submitted = jiff::Timestamp::from_millisecond(ms).unwrap();
    let at = |secs: i64| (submitted + jiff::SignedDuration::from_secs(secs)).to_string();
    let (mine, margin) = (at(5), at(-200));
    let mut records: Vec<Value> = (0..30_000)
        .map(|k| listed(&format!("m{k}"), Some(&margin)))
        .collect();
    // Every other part's task, dated inside the window as the part's own would be.
    for (k, p) in parts.iter().enumerate().filter(|(k, _)| *k != open) {
        let id = p["job_id"].as_str().unwrap();
        let id = id
            .strip_prefix("vmeg:speech:")
            .unwrap_or_else(|| panic!("{k}: {id}"));
        records.push(listed(id, Some(&mine)));
    }
    records.push(listed("t-mine", Some(&mine)));
    assert_eq!(records.len(), 30_000 + PARTS);
    fake.list_tasks_paged(records, 5_000);
    fake.answer_creates_with(409, key_used());
    fake_run(&fake, &args).expect(0);
    let m = manifest(dir);
    assert_eq!(m["parts"][open]["job_id"], "vmeg:speech:t-mine", "{m}");
    assert!(
        m["parts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "done"),
        "{m}"
    );
}

/// On a rerun VMEG says the part's key was used (its first submit was accepted), but the
/// task list that would find the task cannot be read (here a 404): the part stays unknown
/// (exit 3) and the next rerun resends under the same key, instead of the part going back
/// to `planned` and being sent under a new key (a second paid task).
#[test]
fn a_resend_whose_task_lookup_fails_leaves_the_part_unknown() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    let key = manifest(dir)["parts"][0]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();

    fake.answer_creates_with(409, key_used());
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "submitting", "{m}");
    assert_eq!(m["parts"][0]["idempotency_key"], key.as_str(), "{m}");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("part 1 of 1"), "{msg}");

    let now = jiff::Timestamp::now().to_string();
    fake.list_tasks_with(vec![listed("t-mine", Some(&now))]);
    fake_run(&fake, &args).expect(0);
    assert!(
        fake.create_keys().iter().all(|k| *k == key),
        "a part was sent under another key: {:?}",
        fake.create_keys()
    );
    assert_eq!(manifest(dir)["parts"][0]["job_id"], "vmeg:speech:t-mine");
}

/// `speak --text ... --wait` whose job was accepted, then whose first poll is answered
/// with something that ends a wait (a 404 before the task is readable, a proxy's HTML
/// page): the job exists and may be billed, so the run exits 3 with the job id and no
/// claimed status, never 1 ("failed": a script would submit it again). Before: exit 1 and
/// `"status": "queued"`.
#[test]
fn a_wait_that_fails_after_the_submit_is_an_unknown_outcome() {
    for (status, body) in [
        (
            404,
            r#"{"code":404,"message":"Task not found","data":null}"#,
        ),
        (200, "<html>maintenance</html>"),
    ] {
        let fake = FakeVmeg::start(0, 100, false);
        fake.answer_details_with(status, body);
        let r = fake_run(
            &fake,
            &[
                "--provider",
                "vmeg",
                "--json",
                "--allow-private-urls",
                "speak",
                "--voice",
                VOICE,
                "--text",
                "Hello.",
                "--wait",
            ],
        );
        assert_eq!(r.code, 3, "{status}: {r:?}");
        let j = r.json();
        assert_eq!(j["job_id"], "vmeg:speech:t1", "{status}: {j}");
        assert!(j.get("status").is_none(), "{status}: a status claimed: {j}");
        assert!(
            j["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not known"),
            "{status}: {j}"
        );
        assert_eq!(fake.creates(), 1);
    }
}

/// Review 28-e #2 (its key part): a `submitted` part whose task cannot be read (404) on a
/// rerun under another API key than the one it was sent with is told as such: tasks are
/// kept per API key, so "rerun the same command" would read the same 404 forever. The
/// message names "another API key" and says to rerun with that key; nothing is sent again.
/// Under the key it was sent with, the advice stays a plain rerun.
#[test]
fn a_submitted_part_unread_under_another_api_key_says_so_instead_of_a_plain_rerun() {
    const OTHER_KEY: &str = "sk-long-hostile-another-9876543210";
    let fake = FakeVmeg::start(0, 16, false);
    fake.answer_details_with(
        404,
        r#"{"code":404,"message":"Task not found","data":null}"#,
    );
    let c = case(&text(1));
    let args = speak_args(&c.file, &c.out);
    let j = fake_run(&fake, &args).expect(3).json();
    let msg = s(&j["error"]["message"]).to_owned();
    // Accepted in this run: a 404 then is no task gone (review 29 pass 2-a #1).
    assert!(msg.contains("rerun the same command"), "{msg}");
    assert!(!msg.contains("another API key"), "{msg}");
    // A later run under the key it was sent with reads it not known to the vendor there.
    let msg = s(&fake_run(&fake, &args).expect(3).json()["error"]["message"]).to_owned();
    assert!(
        msg.contains("not known to the vendor under this API key and base URL"),
        "{msg}"
    );
    assert!(!msg.contains("another API key"), "{msg}");
    assert_eq!(
        manifest(Path::new(&c.out))["parts"][0]["state"],
        "submitted"
    );
    for _ in 0..2 {
        let r = run_binary(Some(&fake.url), OTHER_KEY, &[KEY], &[], &args);
        assert_eq!(r.code, 3, "{r:?}");
        let j = r.json();
        let msg = s(&j["error"]["message"]);
        for needed in [
            "part 1",
            "t1",
            "another API key than this run's",
            "rerun with that",
        ] {
            assert!(msg.contains(needed), "{needed:?} missing: {msg}");
        }
        assert!(!msg.contains("rerun the same command"), "{msg}");
        assert_eq!(fake.creates(), 1, "submitted again");
    }
}

/// `--sync` answers carry the finished job: one without its voice or audio is a paid job
/// whose result did not come (exit 3 with the job id), never a success with nothing in it.
#[test]
fn a_sync_answer_without_its_result_is_not_a_success() {
    let fake = FakeVmeg::start(0, 100, false);
    for args in [
        vec!["clone", "https://cdn.example.com/a.wav", "--sync"],
        vec!["speak", "--voice", "cv_1", "--text", "Hi.", "--sync"],
    ] {
        let mut argv = vec!["--provider", "vmeg", "--json"];
        argv.extend(&args);
        let r = run_binary(Some(&fake.url), KEY, &[KEY], &[], &argv).expect(3);
        let j = r.json();
        assert_eq!(j["error"]["kind"], "invalid_response", "{j}");
        assert!(
            j["job_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("vmeg:")),
            "{j}"
        );
        assert!(
            j["error"]["message"]
                .as_str()
                .unwrap()
                .contains("do not submit it again"),
            "{j}"
        );
    }
    assert_eq!(fake.creates(), 2);
}

/// A signal while the submit is in flight: whether a job was created is not known, so the
/// command says so with the key and submit time to look it up by (exit 3), instead of dying
/// with nothing printed; a 409 on the command's own new key is unknown too, never exit 1.
#[test]
fn a_signal_or_a_conflict_during_the_submit_is_an_unknown_outcome_with_its_key() {
    let is_key = |v: &Value| {
        v.as_str()
            .is_some_and(|k| k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    for args in [
        vec!["speak", "--voice", "cv_1", "--text", "Hi.", "--wait"],
        vec![
            "clone",
            "https://cdn.example.com/a.wav",
            "--sync",
            "--name",
            "narrator-7",
        ],
    ] {
        let fake = FakeVmeg::start(0, 100, false);
        let arrived = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = arrived.clone();
        fake.on_request(move |path| {
            if path.contains("/create") {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                // The answer is slow: the signal meets the submit in flight.
                std::thread::sleep(Duration::from_secs(3));
            }
        });
        let mut argv = vec!["--provider", "vmeg", "--json"];
        argv.extend(&args);
        let child = support::command(Some(&fake.url), KEY, &[], &argv).spawn_killed();
        support::wait_until("no submit seen", 20, || {
            arrived.load(std::sync::atomic::Ordering::SeqCst)
        });
        support::send_signal(&child, "-TERM");
        let r = Run::from_output(child.wait_with_output().unwrap(), &[KEY], &argv);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        let j = r.json();
        assert_eq!(j["error"]["kind"], "interrupted", "{j}");
        assert!(is_key(&j["error"]["idempotency_key"]), "{j}");
        // The span to search runs from before the submit to the signal (the submit ran
        // for seconds): both ends are given, in order.
        let (from, to) = (
            j["error"]["submitted_at"].as_str().unwrap(),
            j["error"]["last_attempt_at"].as_str().unwrap_or_default(),
        );
        assert!(!to.is_empty() && from < to, "{j}");
        // A clone's suggested search carries its voice name, the tie a synchronous clone's
        // search has (as the adapter's own unknown outcomes give it). Before: time and key
        // only.
        let message = j["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(
            message.contains("--voice-name=narrator-7"),
            args[0] == "clone",
            "{args:?}: {j}"
        );
    }

    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_creates_with(
        409,
        serde_json::json!({"code": 409, "message": "Idempotency key already used"}),
    );
    let r = run_binary(
        Some(&fake.url),
        KEY,
        &[KEY],
        &[],
        &[
            "--provider",
            "vmeg",
            "--json",
            "speak",
            "--voice",
            "cv_1",
            "--text",
            "Hi.",
        ],
    )
    .expect(3);
    let j = r.json();
    assert_eq!(j["error"]["kind"], "outcome_unknown", "{j}");
    assert_eq!(
        j["error"]["idempotency_key"],
        fake.create_keys()[0].as_str(),
        "{j}"
    );
    // A clone's 409 on its own key suggests the search with its voice name too.
    let r = run_binary(
        Some(&fake.url),
        KEY,
        &[KEY],
        &[],
        &[
            "--provider",
            "vmeg",
            "--json",
            "clone",
            "https://cdn.example.com/a.wav",
            "--sync",
            "--name",
            "narrator-8",
        ],
    )
    .expect(3);
    let j = r.json();
    assert_eq!(j["error"]["kind"], "outcome_unknown", "{j}");
    let message = j["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("--voice-name=narrator-8"), "{j}");
}

/// Without `--json` the message is all that is printed of an unknown submit: it carries the
/// lookup as a command to paste, with the submit's own key, both times and its kind. Before,
/// it said "`reconcile --kind clone|speech ... --key KEY` (all three are in the --json error
/// object)", and the key and times were printed nowhere.
#[test]
fn an_unknown_submit_without_json_prints_its_key_times_and_kind() {
    let hex32 = |w: &str| w.len() == 32 && w.bytes().all(|b| b.is_ascii_hexdigit());
    let check = |r: &Run, kind: &str, keys: &[String]| {
        let all = format!("{}{}", r.stdout, r.stderr);
        let cmd = all
            .split('`')
            .find(|c| c.contains("reconcile"))
            .unwrap_or_else(|| panic!("no reconcile command: {all}"));
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let after = |flag: &str| {
            let i = words.iter().position(|w| *w == flag);
            i.and_then(|i| words.get(i + 1))
                .copied()
                .unwrap_or_default()
        };
        assert_eq!(after("--kind"), kind, "{cmd}");
        let key = after("--key");
        assert!(hex32(key), "{cmd}");
        if !keys.is_empty() {
            assert!(keys.iter().any(|k| k == key), "{cmd} / {keys:?}");
        }
        let (from, to) = (after("--submitted-at"), after("--last-attempt-at"));
        assert!(from.starts_with("20") && from.ends_with('Z'), "{cmd}");
        assert!(to.starts_with("20") && from <= to, "{cmd}");
        assert!(!cmd.contains("clone|speech"), "{cmd}");
    };
    for (args, kind) in [
        (
            vec!["speak", "--voice", "cv_1", "--text", "Hi.", "--wait"],
            "speech",
        ),
        (
            vec!["clone", "https://cdn.example.com/a.wav", "--sync"],
            "clone",
        ),
    ] {
        let fake = FakeVmeg::start(0, 100, false);
        let arrived = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = arrived.clone();
        fake.on_request(move |path| {
            if path.contains("/create") {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(Duration::from_secs(3));
            }
        });
        let mut argv = vec!["--provider", "vmeg"];
        argv.extend(&args);
        let child = support::command(Some(&fake.url), KEY, &[], &argv).spawn_killed();
        support::wait_until("no submit seen", 20, || {
            arrived.load(std::sync::atomic::Ordering::SeqCst)
        });
        support::send_signal(&child, "-TERM");
        let r = Run::from_output(child.wait_with_output().unwrap(), &[KEY], &argv);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        check(&r, kind, &fake.create_keys());
    }
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_creates_with(
        409,
        serde_json::json!({"code": 409, "message": "Idempotency key already used"}),
    );
    let argv = [
        "--provider",
        "vmeg",
        "speak",
        "--voice",
        "cv_1",
        "--text",
        "Hi.",
    ];
    let r = run_binary(Some(&fake.url), KEY, &[KEY], &[], &argv).expect(3);
    check(&r, "speech", &fake.create_keys());
}

/// A server-chosen task id reaches the commands the CLI suggests (`next: voiceclone ...
/// wait ID`) shell-quoted: pasted, `$(...)`, `;` or a backtick in it is text, never run.
/// Before, the id was pasted bare.
#[test]
fn a_hostile_task_id_is_shell_quoted_in_the_suggested_command() {
    let id = "t$(reboot);`id`|x&y{z}'q";
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_creates_with(
        200,
        serde_json::json!({"code": 200, "message": "", "data": {"taskId": id}}),
    );
    let argv = [
        "--provider",
        "vmeg",
        "speak",
        "--voice",
        "cv_1",
        "--text",
        "Hi.",
    ];
    let r = run_binary(Some(&fake.url), KEY, &[KEY], &[], &argv).expect(0);
    let quoted = format!(
        "wait --kind speech 'vmeg:speech:{}'",
        id.replace('\'', r"'\''")
    );
    assert!(r.stderr.contains(&quoted), "{r:?}");
}

/// A part accepted while the manifest cannot be written (the disk filled) exists only in
/// the run's memory; a signal before the run reaches that part's failure (the parts are
/// reported in text order, behind a part still waiting) must still print its job id. Before:
/// the signal printed a bare "interrupted" that claimed the manifest recorded every part,
/// and the rerun knew the part only as `submitting`.
#[test]
fn a_signal_after_an_unrecorded_submit_still_names_its_task() {
    // Tasks that take minutes: the waits are what the signal meets. One of the two submits
    // is held 1.5 s; the other is recorded and waited for.
    let sim = slow_tasks_with_held_creates(1);
    let c = case(&text(2));
    let dir = Path::new(&c.out);
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "2"]);
    // The library's INFO lines say when each submit's answer has been read.
    let env = [("RUST_LOG", "voiceclone=info")];
    let mut child = support::command(Some(&sim.url()), sim.key(), &env, &args).spawn_killed();
    let mut stderr = support::StderrLines::of(&mut child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let states = || -> Vec<Value> {
        manifest(dir)["parts"]
            .as_array()
            .map(|p| p.iter().map(|p| p["state"].clone()).collect())
            .unwrap_or_default()
    };
    while !(dir.join(MANIFEST).exists() && {
        let s = states();
        s.contains(&"submitted".into()) && s.contains(&"submitting".into())
    }) {
        assert!(Instant::now() < deadline, "no part recorded as submitted");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The held submit is on its way: the manifest can no longer be replaced.
    let saved = c.tmp.path().join("saved.json");
    std::fs::rename(dir.join(MANIFEST), &saved).unwrap();
    std::fs::create_dir_all(dir.join(MANIFEST).join("blocker")).unwrap();
    while paid(&sim) < 2 {
        assert!(
            Instant::now() < deadline,
            "the held submit was not accepted"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    // Its answer has been read (the second submit's INFO line): the record of it, which
    // fails, follows at once, before the run looks at a signal again.
    let submitted = support::call_ok("synthesize");
    stderr.wait_until("the held submit's answer was not read", 60, |lines| {
        support::StderrLines::count(lines, &submitted) >= 2
    });
    support::send_signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The interruption is what is told (with the failed write named), not the write alone.
    assert!(stdout.contains(r#""kind":"interrupted""#), "{stdout}");
    let recorded: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    let known: Vec<&str> = recorded["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["job_id"].as_str())
        .collect();
    assert_eq!(known.len(), 1, "{recorded}");
    let ids: std::collections::BTreeSet<&str> = stdout
        .match_indices("vmeg:speech:")
        .map(|(at, _)| {
            let rest = &stdout[at..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "both paid tasks, the unrecorded one too, must be printed: {stdout}"
    );
    assert!(!stdout.contains("records every part"), "{stdout}");
}

/// A part's wait that fails after its task was accepted (its poll answered 404 with an HTML
/// page, as a proxy might) says nothing of how the task ended: exit 3 naming the task, as a
/// single `speak --wait` says, never 1 ("failed", which a script resubmits). A page no API
/// answered says nothing of the task (review 29 pass 2-a #1): a plain rerun waits again.
#[test]
fn a_part_whose_wait_fails_after_it_was_accepted_is_an_unknown_outcome() {
    let fake = FakeVmeg::start(0, 16, false);
    *fake.state.detail_answer.lock().unwrap() =
        Some((404, "<html><body>Not Found</body></html>".into()));
    let c = case(&text(1));
    let j = fake_run(&fake, &speak_args(&c.file, &c.out))
        .expect(3)
        .json();
    assert_ne!(j["error"]["kind"], "task_failed", "{j}");
    assert!(
        j["error"]["job_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("vmeg:speech:")),
        "{j}"
    );
    assert!(
        s(&j["error"]["message"]).contains("do not submit it again"),
        "{j}"
    );
    assert!(
        s(&j["error"]["message"]).contains("rerun the same command"),
        "{j}"
    );
    assert_eq!(
        fake.state.creates.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

/// `--timeout` is each part's wait; once one part's wait has run out, no further part is
/// started (each would be paid for, and the run would go on for `--timeout` per part): the
/// rerun resumes. Before: all three parts were submitted, one after the other.
#[test]
fn no_part_is_started_after_a_wait_ran_out_of_time() {
    let sim = Sim::with(
        SimConfig::default().with_durations(Duration::from_secs(600), Duration::from_secs(600)),
        KEY,
    );
    let c = case(&text(3));
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "1", "--timeout", "0.5"]);
    let j = run(&sim, &args).expect(3).json();
    assert_eq!(j["error"]["kind"], "wait_timed_out", "{j}");
    assert!(
        s(&j["error"]["message"]).contains("no further part was started"),
        "{j}"
    );
    assert_eq!(paid(&sim), 1, "{j}");
    let states: Vec<&str> = j["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["submitted", "planned", "planned"], "{j}");
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// A task an earlier run left running that never finishes does not keep the parts after it
/// from starting on every rerun: only a wait of a part accepted in this run stops it (review
/// 35-c #1). Before: each rerun waited for part 1 again, ran out, and started nothing, so at
/// `--concurrency 1` the text could never be finished.
#[test]
fn a_stuck_task_of_an_earlier_run_does_not_stop_the_parts_after_it() {
    let sim = Sim::with(
        SimConfig::default().with_durations(Duration::from_secs(600), Duration::from_secs(600)),
        KEY,
    );
    let c = case(&text(3));
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "1", "--timeout", "0.5"]);
    run(&sim, &args).expect(3);
    assert_eq!(paid(&sim), 1);
    let j = run(&sim, &args).expect(3).json();
    assert_eq!(paid(&sim), 2, "the rerun started no part: {j}");
    let states: Vec<&str> = j["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    // Part 2, accepted in this run, ran out too: that stops the run as before.
    assert_eq!(states, ["submitted", "submitted", "planned"], "{j}");
}

/// A signal while a part's submit is on its way: whether it made a task is not known, and
/// the result says so for that part, instead of only "the manifest records every part".
/// (The answer is held far past the few seconds a signal lets a submit answer.)
#[test]
fn a_signal_during_a_submit_says_that_parts_outcome_is_unknown() {
    let faults = voiceclone_sim::FaultConfig {
        latency: Duration::from_secs(25),
        ..Default::default()
    };
    let sim = Sim::with(SimConfig::default().with_faults(faults), KEY);
    sim.handle
        .fail_next("vmeg.ttsCreateAsync", voiceclone_sim::FaultKind::Latency, 1)
        .unwrap();
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let child = support::command(
        Some(&sim.url()),
        sim.key(),
        &[],
        &speak_args(&c.file, &c.out),
    )
    .spawn_killed();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(dir.join(MANIFEST).exists() && manifest(dir)["parts"][0]["state"] == "submitting") {
        assert!(Instant::now() < deadline, "no submit recorded");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(200));
    support::send_signal(&child, "-TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["error"]["kind"], "interrupted", "{j}");
    assert!(
        s(&j["error"]["message"]).contains("whether the submit of part 1 of 1 created a task"),
        "{j}"
    );
}

/// A VMEG task that finishes with one of its lines failed (`results[1]` without audio,
/// with an `errorMessage`) is not a done part: its files would miss that line, and named by
/// position they gave line 3's audio line 2's name. The run exits 1 naming the part, the
/// line and the vendor's reason, downloads nothing of the part, records it `failed`, and a
/// rerun submits it again and finishes it. Before: `001-01`, `001-02` (line 3's audio),
/// the part `done`, exit 0, and no rerun ever repaired it.
#[test]
fn a_part_whose_task_failed_a_line_is_failed_not_done_and_the_rerun_submits_it_again() {
    let fake = FakeVmeg::start(3, 1000, false);
    // Three paragraphs of ~300 characters: three lines of one part.
    let paragraph = |n: usize| -> String {
        (0..9)
            .map(|i| format!("Paragraph {n} sentence {i} here. "))
            .collect()
    };
    let c = case(&format!(
        "{}\n\n{}\n\n{}\n",
        paragraph(1),
        paragraph(2),
        paragraph(3)
    ));
    let dir = Path::new(&c.out);
    let base = fake.url.clone();
    let detail = serde_json::json!({
        "code": 200, "message": "",
        "data": {"taskId": "t1", "taskType": "tts", "status": "finished", "result": {"results": [
            {"uri": format!("{base}/files/t1/0.wav"), "duration": 1.0, "errorMessage": ""},
            {"uri": "", "duration": 0, "errorMessage": "voice unavailable for this line"},
            {"uri": format!("{base}/files/t1/2.wav"), "duration": 1.0, "errorMessage": ""},
        ]}},
    });
    fake.answer_details_with(200, &detail.to_string());
    let args = speak_args(&c.file, &c.out);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 1, "{r:?}");
    let e = r.json()["error"].clone();
    let msg = e["message"].as_str().unwrap();
    for needed in [
        "part 1",
        "line 2",
        "voice unavailable for this line",
        "rerun",
    ] {
        assert!(msg.contains(needed), "{needed:?} missing: {msg}");
    }
    assert!(results(dir).is_empty(), "{:?}", results(dir));
    let m = manifest(dir);
    assert_eq!(m["parts"].as_array().unwrap().len(), 1, "{m}");
    assert_eq!(m["parts"][0]["state"], "failed", "{m}");
    assert_eq!(fake.creates(), 1);

    // The vendor answers every line now: the rerun submits the part again and finishes.
    *fake.state.detail_answer.lock().unwrap() = None;
    fake_run(&fake, &args).expect(0);
    assert_eq!(fake.creates(), 2);
    let names: Vec<String> = results(dir).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["001-01.wav", "001-02.wav", "001-03.wav"]);
}

/// `n` paragraphs of ~300 characters, no two alike: `n` VMEG lines (two never fit in one),
/// 50 a part.
fn paragraphs(n: usize) -> String {
    (0..n)
        .map(|k| {
            let p: String = (0..9)
                .map(|i| format!("Paragraph {k} sentence {i} here. "))
                .collect();
            format!("{p}\n\n")
        })
        .collect()
}

/// Three paragraphs of ~300 characters: three lines of one VMEG part.
fn three_lines() -> String {
    let paragraph = |n: usize| -> String {
        (0..9)
            .map(|i| format!("Paragraph {n} sentence {i} here. "))
            .collect()
    };
    format!("{}\n\n{}\n\n{}\n", paragraph(1), paragraph(2), paragraph(3))
}

/// Task `task`'s finished detail with lines 1 and 3 whole and `line2` as the second result.
fn detail_with_line2(base: &str, task: &str, line2: Value) -> String {
    serde_json::json!({
        "code": 200, "message": "",
        "data": {"taskId": task, "taskType": "tts", "status": "finished", "result": {"results": [
            {"uri": format!("{base}/files/{task}/0.wav"), "duration": 1.0, "errorMessage": ""},
            line2,
            {"uri": format!("{base}/files/{task}/2.wav"), "duration": 1.0, "errorMessage": ""},
        ]}},
    })
    .to_string()
}

/// The second lines of a finished task that the client cannot read: with no `errorMessage`
/// from the vendor, an empty `uri`, a relative one, another scheme, no object at all; with
/// one, a `uri` this crate refuses (the vendor said where the audio is: review 35-d #3).
fn unreadable_lines() -> [(&'static str, Value); 6] {
    [
        (
            "empty uri",
            serde_json::json!({"uri": "", "duration": 0, "errorMessage": ""}),
        ),
        (
            "relative uri",
            serde_json::json!({"uri": "/files/t1/1.wav"}),
        ),
        (
            "s3 uri",
            serde_json::json!({"uri": "s3://bucket/t1/1.wav", "duration": 1.0}),
        ),
        ("null", Value::Null),
        (
            "relative uri with an errorMessage",
            serde_json::json!({"uri": "/files/t1/1.wav", "errorMessage": "duration adjusted"}),
        ),
        (
            "s3 uri with an errorMessage",
            serde_json::json!({"uri": "s3://bucket/t1/1.wav", "errorMessage": "adjusted"}),
        ),
    ]
}

/// Review 28-e #1: a finished task whose line has no audio the client can read and no
/// `errorMessage` (an empty, relative or non-http(s) `uri`; a result that is not an object)
/// is an answer the client cannot read, not a line the vendor said failed: exit 3, the part
/// stays `submitted` with the error noted, nothing downloaded, and reruns read it again
/// without submitting it again (one create throughout). Once the answer is whole, the rerun
/// downloads the part. Before: the part was recorded `failed` (exit 1) and each rerun paid
/// for it again.
#[test]
fn a_line_the_client_cannot_read_is_not_failed_and_reruns_never_pay_again() {
    let fake = FakeVmeg::start(3, 1000, false);
    let c = case(&three_lines());
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    for (what, line2) in unreadable_lines() {
        fake.answer_details_with(200, &detail_with_line2(&fake.url, "t1", line2));
        let r = fake_run(&fake, &args);
        assert_eq!(r.code, 3, "{what}: {r:?}");
        let j = r.json();
        let msg = s(&j["error"]["message"]);
        for needed in [
            "part 1",
            "line 2",
            "t1",
            "could not be read",
            "--resubmit-unknown",
        ] {
            assert!(msg.contains(needed), "{what}: {needed:?} missing: {msg}");
        }
        assert!(!msg.contains("a rerun submits it again"), "{what}: {msg}");
        assert!(results(dir).is_empty(), "{what}: {:?}", results(dir));
        let m = manifest(dir);
        assert_eq!(m["parts"][0]["state"], "submitted", "{what}: {m}");
        assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t1", "{what}: {m}");
        assert!(m["parts"][0]["error"].is_string(), "{what}: {m}");
        assert_eq!(fake.creates(), 1, "{what}: submitted again");
    }
    // The answer is whole now: the rerun downloads the task it already has.
    *fake.state.detail_answer.lock().unwrap() = None;
    fake_run(&fake, &args).expect(0);
    assert_eq!(fake.creates(), 1);
    let names: Vec<String> = results(dir).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["001-01.wav", "001-02.wav", "001-03.wav"]);
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "done", "{m}");
    assert!(m["parts"][0].get("error").is_none_or(Value::is_null), "{m}");
}

/// Review 28-e #1: `--resubmit-unknown` sends a part whose answer could not be read again
/// only once a run has reported it (its error recorded): given on the first run, it pays
/// for nothing; given after, the part is sent again (billed again, said), its old task kept
/// in `past_job_ids`.
#[test]
fn a_part_whose_answer_cannot_be_read_is_resubmitted_only_when_asked_after_it_was_reported() {
    let fake = FakeVmeg::start(3, 1000, false);
    let c = case(&three_lines());
    let dir = Path::new(&c.out);
    let mut asked = speak_args(&c.file, &c.out);
    asked.push("--resubmit-unknown");
    let line2 = serde_json::json!({"uri": "/files/t1/1.wav"});
    fake.answer_detail_of(
        "t1",
        200,
        &detail_with_line2(&fake.url, "t1", line2),
        Duration::ZERO,
    );
    fake_run(&fake, &asked).expect(3);
    assert_eq!(fake.creates(), 1, "resubmitted before any run reported it");
    let r = fake_run(&fake, &asked);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fake.creates(), 2);
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "done", "{m}");
    assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t2", "{m}");
    assert_eq!(m["parts"][0]["past_job_ids"][0], "vmeg:speech:t1", "{m}");
}

/// Review 28 pass 2-c #1: a one-line part whose only line cannot be read (an empty `uri`, a
/// `[null]` result) is handled as a partly unreadable part, not as a wait that failed: exit 3
/// naming the line, the part `submitted` with the error noted, a rerun reading it again
/// without paying, and `--resubmit-unknown` after that reported run sending it again. Before:
/// the generic wait error, nothing recorded, and `--resubmit-unknown` never applied.
#[test]
fn a_part_with_no_readable_line_is_handled_as_a_partly_unreadable_one() {
    for (what, only) in [
        (
            "empty uri",
            serde_json::json!({"uri": "", "duration": 0, "errorMessage": ""}),
        ),
        ("null", Value::Null),
    ] {
        let fake = FakeVmeg::start(0, 1000, false);
        let c = case("One short line of speech.\n");
        let dir = Path::new(&c.out);
        let args = speak_args(&c.file, &c.out);
        let mut asked = args.clone();
        asked.push("--resubmit-unknown");
        let detail = serde_json::json!({
            "code": 200, "message": "",
            "data": {"taskId": "t1", "taskType": "tts", "status": "finished",
                     "result": {"results": [only]}},
        })
        .to_string();
        fake.answer_detail_of("t1", 200, &detail, Duration::ZERO);
        for run in 0..2 {
            let r = fake_run(&fake, &args);
            assert_eq!(r.code, 3, "{what} {run}: {r:?}");
            let j = r.json();
            let msg = s(&j["error"]["message"]);
            for needed in [
                "part 1",
                "line 1",
                "t1",
                "could not be read",
                "--resubmit-unknown",
            ] {
                assert!(
                    msg.contains(needed),
                    "{what} {run}: {needed:?} missing: {msg}"
                );
            }
            let m = manifest(dir);
            assert_eq!(m["parts"][0]["state"], "submitted", "{what} {run}: {m}");
            assert_eq!(
                m["parts"][0]["job_id"], "vmeg:speech:t1",
                "{what} {run}: {m}"
            );
            assert!(m["parts"][0]["error"].is_string(), "{what} {run}: {m}");
            assert_eq!(fake.creates(), 1, "{what} {run}: submitted again");
        }
        let r = fake_run(&fake, &asked);
        assert_eq!(r.code, 0, "{what}: {r:?}");
        assert_eq!(fake.creates(), 2, "{what}");
        let m = manifest(dir);
        assert_eq!(m["parts"][0]["state"], "done", "{what}: {m}");
        assert_eq!(
            m["parts"][0]["past_job_ids"][0], "vmeg:speech:t1",
            "{what}: {m}"
        );
    }
}

/// A JimmyAI stand-in: every production create makes `audio_{n}`, finished at once; task
/// `audio_1` with `first_url` as its `audioUrl`, any other with a file of this server.
/// Returns the runtime serving it, its base URL and the count of creates.
fn fake_jimmyai(
    first_url: &'static str,
) -> (
    tokio::runtime::Runtime,
    String,
    std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    use axum::routing::{get, post};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let creates = Arc::new(AtomicU64::new(0));
    let task = |id: &str, status: &str, url: Option<String>| {
        let mut t = serde_json::json!({"id": id, "object": "audio", "created": 1781777280,
            "model": "soundCloningAudio", "status": status, "error": null});
        if let Some(url) = url {
            t["audioUrl"] = url.into();
        }
        axum::Json(serde_json::json!({"code": 20000, "msg": "ok", "data": t}))
    };
    let counted = creates.clone();
    let files = base.clone();
    let app = axum::Router::new()
        .route(
            "/api/open-api/v1/soundCloning/audios",
            post(move || {
                let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                async move { task(&format!("audio_{n}"), "queued", None) }
            }),
        )
        .route(
            "/api/open-api/v1/audios/{id}",
            get(
                move |axum::extract::Path(id): axum::extract::Path<String>| {
                    let url = if id == "audio_1" {
                        first_url.to_owned()
                    } else {
                        format!("{files}/files/{id}.mp3")
                    };
                    async move { task(&id, "completed", Some(url)) }
                },
            ),
        )
        .route(
            "/files/{name}",
            get(|| async {
                axum::response::Response::builder()
                    .header(axum::http::header::CONTENT_TYPE, "audio/mpeg")
                    .body(axum::body::Body::from(vec![b'a'; 1000]))
                    .unwrap()
            }),
        );
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (rt, base, creates)
}

/// Review 35 pass 2b #2: a JimmyAI part whose task finished with an `audioUrl` the client
/// refuses (relative, another scheme) is an answer that could not be read, as a VMEG line's
/// is: exit 3, the part `submitted` with the error noted (the URL quoted without its query),
/// a rerun reading it again without paying, and `--resubmit-unknown` after that reported run
/// sending it again. Before: the generic "waiting for it failed" with nothing recorded, so
/// `--resubmit-unknown` never applied and the text could never be finished.
#[test]
fn a_jimmyai_part_finished_with_a_refused_audio_url_can_be_resubmitted_once_reported() {
    use std::sync::atomic::Ordering;
    // An empty one too: a task completed with no audio URL (pass 3 #3).
    for first_url in ["/files/a.mp3?sig=s3cr3t", "s3://bucket/a.mp3", ""] {
        let (_rt, base, creates) = fake_jimmyai(first_url);
        let c = case("One short line of speech.\n");
        let dir = Path::new(&c.out);
        let mut args = speak_args(&c.file, &c.out);
        args[1] = "jimmyai";
        args[6] = "model-1";
        let mut asked = args.clone();
        asked.push("--resubmit-unknown");
        for run in 0..2 {
            let r = run_binary(Some(&base), KEY, &[], &[], &args);
            assert_eq!(r.code, 3, "{first_url} {run}: {r:?}");
            let j = r.json();
            let msg = s(&j["error"]["message"]);
            for needed in [
                "part 1",
                "audio_1",
                "could not be read",
                "--resubmit-unknown",
            ] {
                assert!(
                    msg.contains(needed),
                    "{first_url} {run}: {needed:?} missing: {msg}"
                );
            }
            assert!(!msg.contains("s3cr3t"), "{msg}");
            let m = manifest(dir);
            assert_eq!(
                m["parts"][0]["state"], "submitted",
                "{first_url} {run}: {m}"
            );
            assert_eq!(
                m["parts"][0]["job_id"], "jimmyai:speech:audio_1",
                "{first_url} {run}: {m}"
            );
            assert!(m["parts"][0]["error"].is_string(), "{first_url} {run}: {m}");
            assert_eq!(creates.load(Ordering::SeqCst), 1, "{first_url} {run}");
        }
        let r = run_binary(Some(&base), KEY, &[], &[], &asked);
        assert_eq!(r.code, 0, "{first_url}: {r:?}");
        assert_eq!(creates.load(Ordering::SeqCst), 2, "{first_url}");
        let m = manifest(dir);
        assert_eq!(m["parts"][0]["state"], "done", "{first_url}: {m}");
        assert_eq!(
            m["parts"][0]["past_job_ids"][0], "jimmyai:speech:audio_1",
            "{first_url}: {m}"
        );
    }
}

/// Review 28-e #1, the smaller case: a line with audio and a non-empty `errorMessage` (a
/// warning beside it) keeps its audio: the part is done, nothing is paid again.
#[test]
fn a_line_with_audio_and_an_error_message_keeps_its_audio() {
    let fake = FakeVmeg::start(3, 1000, false);
    let c = case(&three_lines());
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    let line2 = serde_json::json!({
        "uri": format!("{}/files/t1/1.wav", fake.url), "duration": 1.0,
        "errorMessage": "pronunciation approximated",
    });
    fake.answer_details_with(200, &detail_with_line2(&fake.url, "t1", line2));
    fake_run(&fake, &args).expect(0);
    assert_eq!(fake.creates(), 1);
    let names: Vec<String> = results(dir).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["001-01.wav", "001-02.wav", "001-03.wav"]);
    assert_eq!(manifest(dir)["parts"][0]["state"], "done");
}

/// A part whose task VMEG reports with a status word it does not document (`timeout`), read
/// as failed by assumption: the task may be alive, so the part is an unknown outcome (exit 3,
/// `assumed_status` naming the word, the message saying the failure is assumed), never
/// recorded `failed`, and the rerun waits
/// for it again instead of submitting (and paying for) it again. Before: `failed`, and the
/// rerun submitted a second task.
#[test]
fn a_part_failed_by_a_guessed_status_word_is_not_submitted_again() {
    let fake = FakeVmeg::start(0, 16, false);
    let detail = serde_json::json!({
        "code": 200, "message": "",
        "data": {"taskId": "t1", "taskType": "tts", "status": "timeout", "result": {}},
    });
    fake.answer_details_with(200, &detail.to_string());
    let c = case(&text(1));
    let args = speak_args(&c.file, &c.out);
    let j = fake_run(&fake, &args).expect(3).json();
    assert_eq!(j["error"]["assumed_status"], "timeout", "{j}");
    let msg = s(&j["error"]["message"]);
    assert!(msg.contains("assum"), "{j}");
    assert!(msg.contains("do not submit it again"), "{j}");
    let m = manifest(Path::new(&c.out));
    assert_ne!(m["parts"][0]["state"], "failed", "{m}");
    assert_eq!(fake.creates(), 1);
    fake_run(&fake, &args).expect(3);
    assert_eq!(fake.creates(), 1, "the rerun submitted the part again");
}

/// `status` of a task VMEG reports with a status word it does not document (`timeout`): the
/// failure is an assumption, so exit 3 (check the task) with `assumed_status`, as a wait
/// ends; a documented `failed` stays exit 1 (`task_failed`). Before: exit 1 for both, which
/// a script may take as "failed, submit again".
#[test]
fn status_of_a_task_failed_by_a_guessed_word_is_exit_3_not_1() {
    let fake = FakeVmeg::start(0, 16, false);
    for (word, exit) in [("timeout", 3), ("failed", 1)] {
        let detail = serde_json::json!({
            "code": 200, "message": "",
            "data": {"taskId": "t1", "taskType": "tts", "status": word, "result": {}},
        });
        fake.answer_details_with(200, &detail.to_string());
        let args = ["--provider", "vmeg", "--json", "status", "vmeg:speech:t1"];
        let j = fake_run(&fake, &args).expect(exit).json();
        assert_eq!(j["error"]["kind"], "task_failed", "{word}: {j}");
        if exit == 3 {
            assert_eq!(j["error"]["assumed_status"], "timeout", "{j}");
        } else {
            assert!(j["error"].get("assumed_status").is_none(), "{j}");
        }
    }
    assert_eq!(fake.creates(), 0);
}

/// A done part's file replaced by a FIFO, or by a symlink to `/dev/zero`: the rerun does not
/// hang checking it (only a regular file is hashed, at most its recorded size and a byte);
/// it downloads the part again from its known task, paying nothing again. Before, the open
/// of the FIFO (or the endless read of `/dev/zero`) hung the run, deaf to SIGINT and SIGTERM.
#[cfg(unix)]
#[test]
fn a_fifo_or_dev_zero_in_place_of_a_done_part_does_not_hang_the_rerun() {
    let sim = Sim::fast(KEY);
    for hostile in ["fifo", "/dev/zero"] {
        let c = case(&text(1));
        let dir = Path::new(&c.out);
        let args = speak_args(&c.file, &c.out);
        run(&sim, &args).expect(0);
        let part = dir.join("001-01.wav");
        std::fs::remove_file(&part).unwrap();
        if hostile == "fifo" {
            support::mkfifo(&part);
        } else {
            std::os::unix::fs::symlink(hostile, &part).unwrap();
        }
        let before = paid(&sim);
        let mut child = support::command(Some(&sim.url()), sim.key(), &[], &args).spawn_killed();
        // A hang is for ever; a whole rerun took over 60 s once on two cores at a load of 8.
        let deadline = Instant::now() + Duration::from_secs(180);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("{hostile}: the rerun hung checking the done part's file");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(0), "{hostile}");
        assert!(
            std::fs::symlink_metadata(&part).unwrap().is_file(),
            "{hostile}"
        );
        assert_eq!(&std::fs::read(&part).unwrap()[..4], b"RIFF", "{hostile}");
        assert_eq!(paid(&sim), before, "{hostile}: paid again");
        assert_eq!(manifest(dir)["parts"][0]["state"], "done");
    }
}

/// A rerun that only downloads again a done part (its file damaged; the task paid in the
/// first run) and fails at it: exit 1 naming the part, never 2 ("nothing was sent"), with
/// `--json` and without. Its file cannot be written (a directory planted at its path when
/// its audio is asked for), or the manifest cannot record it (a directory planted at the
/// manifest's path): before, the second was exit 2, kind `io`, naming no part.
#[test]
fn a_failed_download_of_a_done_part_on_a_rerun_is_exit_1_naming_the_part() {
    for (json, block_manifest) in [(true, false), (true, true), (false, false), (false, true)] {
        let what = format!("json={json} block_manifest={block_manifest}");
        let fake = FakeVmeg::start(0, 1000, false);
        let c = case(&text(2));
        let dir = Path::new(&c.out).to_path_buf();
        let mut args = speak_args(&c.file, &c.out);
        if !json {
            args.retain(|a| *a != "--json");
        }
        fake_run(&fake, &args).expect(0);
        assert_eq!(fake.creates(), 2, "{what}");
        // Part 2's file damaged: the rerun downloads it again from its known task.
        let second = dir.join("002-01.wav");
        std::fs::write(&second, b"damaged").unwrap();
        let blocked = if block_manifest {
            dir.join(MANIFEST)
        } else {
            second.clone()
        };
        let saved = c.tmp.path().join("saved");
        let mut done = false;
        fake.on_request(move |path| {
            if path.starts_with("/files/") && !done {
                done = true;
                std::fs::rename(&blocked, &saved).unwrap();
                std::fs::create_dir_all(blocked.join("blocker")).unwrap();
            }
        });
        let r = fake_run(&fake, &args);
        assert_eq!(r.code, 1, "{what}: {r:?}");
        assert_eq!(fake.creates(), 2, "{what}: paid again");
        let msg = if json {
            let e = r.json()["error"].clone();
            assert_eq!(e["part"], 2, "{what}: {e}");
            e["message"].as_str().unwrap().to_owned()
        } else {
            r.stderr.clone()
        };
        assert!(msg.contains("part 2 of 2"), "{what}: {msg}");
    }
}

/// Where the output directory cannot be locked (a file system without `flock`; here the
/// test seam `VOICECLONE_TEST_NO_DIR_LOCK`, since root opens any directory), the run warns
/// on stderr and goes on unlocked: with `--json` and with `--quiet` too (a warning, not a
/// progress line), and stdout keeps its one result. Without the seam, no warning.
#[cfg(unix)]
#[test]
fn a_directory_that_cannot_be_locked_is_warned_about_under_json_and_quiet() {
    let sim = Sim::fast(KEY);
    const WARNING: &str = "going on without a lock";
    // Only `1` turns the seam on: `0` (meaning "off") takes the lock as usual.
    for (mode, value) in [
        ("--json", Some("1")),
        ("--quiet", Some("1")),
        ("--json", None),
        ("--quiet", None),
        ("--json", Some("0")),
    ] {
        let seam = value == Some("1");
        let c = case(&text(1));
        let mut args = speak_args(&c.file, &c.out);
        args.retain(|a| *a != "--json");
        args.insert(0, mode);
        let pair;
        let env: &[(&str, &str)] = match value {
            Some(v) => {
                pair = [("VOICECLONE_TEST_NO_DIR_LOCK", v)];
                &pair
            }
            None => &[],
        };
        let r = run_binary(Some(&sim.url()), sim.key(), &[], env, &args).expect(0);
        let what = format!("{mode} seam={seam}");
        assert_eq!(r.stderr.contains(WARNING), seam, "{what}: {}", r.stderr);
        if seam {
            assert!(
                r.stderr.contains("warning: locking"),
                "{what}: {}",
                r.stderr
            );
        }
        if mode == "--json" {
            assert_eq!(r.json()["parts"][0]["state"], "done", "{what}: {r:?}");
        }
    }
}

/// VMEG's `tasks/detail` answer for task `task`: `failed` (documented) with no results.
fn failed_detail(task: &str) -> String {
    serde_json::json!({
        "code": 200, "message": "",
        "data": {"taskId": task, "taskType": "tts", "status": "failed", "result": {}},
    })
    .to_string()
}

/// A part whose task `t1` failed is submitted again (key K2) and that answer is lost; on the
/// rerun VMEG says K2 was used. `t1`, the part's own earlier task, is listed a minute before
/// the second submit: it is another submit's (the part's own, known to have failed), so it is
/// no candidate. Listed alone it is not adopted (exit 3, the part still `submitting`);
/// listed beside the new task, the new task is the only one and is taken (exit 0). A server
/// answering a later submit with `t1` itself is not taken either. Before: `t1` counted as an
/// unclaimed candidate: "2 unclaimed tasks fit" on every rerun, or, listed alone, `t1` was
/// adopted, read `failed` again, and the next rerun paid for a third task.
#[test]
fn a_parts_own_earlier_failed_task_is_never_a_candidate_for_its_resubmit() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    fake.answer_details_with(200, &failed_detail("t1"));
    fake_run(&fake, &args).expect(1);
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "failed", "{m}");
    assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t1", "{m}");

    lose_every_submit(&fake, &args);
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "submitting", "{m}");
    let ms = m["parts"][0]["submitted_at_ms"].as_i64().unwrap();
    let submitted = jiff::Timestamp::from_millisecond(ms).unwrap();
    let at = |secs: i64| (submitted + jiff::SignedDuration::from_secs(secs)).to_string();

    fake.answer_creates_with(409, key_used());
    fake.list_tasks_with(vec![listed("t1", Some(&at(-60)))]);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("no unclaimed speech task"), "{msg}");
    assert!(msg.contains("this part's earlier ones"), "{msg}");
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "submitting", "{m}");
    assert!(m["parts"][0].get("job_id").is_none(), "{m}");

    *fake.state.detail_answer.lock().unwrap() = None;
    fake.list_tasks_with(vec![
        listed("t1", Some(&at(-60))),
        listed("t-new", Some(&at(5))),
    ]);
    fake_run(&fake, &args).expect(0);
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t-new", "{m}");
    assert_eq!(m["parts"][0]["state"], "done", "{m}");

    // A new submit answered with the part's own earlier task.
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    fake.answer_details_with(200, &failed_detail("t1"));
    fake_run(&fake, &args).expect(1);
    fake.answer_creates_with(
        200,
        serde_json::json!({"code": 200, "message": "", "data": {"taskId": "t1", "createdAt": "2026-01-01T00:00:00Z"}}),
    );
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    for needed in ["part 1 of 1", "t1"] {
        assert!(msg.contains(needed), "{needed:?} missing: {msg}");
    }
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "submitting", "{m}");
    assert!(m["parts"][0].get("job_id").is_none(), "{m}");
}

/// A finished run whose file is then lost, and whose task the vendor now reports `failed`,
/// or `finished` with a line without audio (a regressing status, or results expired that
/// way): the part's audio was downloaded before, so the task did succeed. The rerun keeps
/// the part `done` with the error, exits 3 saying so, and submits nothing; the next plain
/// rerun submits nothing either. Only `--resubmit-unknown` sends it again (billed again).
/// Before: the part became `failed` (exit 1) and the next plain rerun paid for it again.
#[test]
fn a_done_part_whose_task_now_reads_failed_is_not_submitted_again_unasked() {
    let line_gone = serde_json::json!({
        "code": 200, "message": "",
        "data": {"taskId": "t1", "taskType": "tts", "status": "finished", "result": {"results": [
            {"uri": "", "duration": 0, "errorMessage": "expired"},
        ]}},
    })
    .to_string();
    for (what, detail) in [("failed", failed_detail("t1")), ("line", line_gone)] {
        let fake = FakeVmeg::start(0, 100, false);
        let c = case(&text(1));
        let dir = Path::new(&c.out);
        let args = speak_args(&c.file, &c.out);
        fake_run(&fake, &args).expect(0);
        assert_eq!(fake.creates(), 1, "{what}");
        std::fs::remove_file(dir.join("001-01.wav")).unwrap();
        fake.answer_details_with(200, &detail);
        for _ in 0..2 {
            let r = fake_run(&fake, &args);
            assert_eq!(r.code, 3, "{what}: {r:?}");
            let e = r.json()["error"].clone();
            let msg = e["message"].as_str().unwrap();
            for needed in [
                "part 1 of 1",
                "t1",
                "downloaded before",
                "--resubmit-unknown",
            ] {
                assert!(msg.contains(needed), "{what}: {needed:?} missing: {msg}");
            }
            let m = manifest(dir);
            assert_eq!(m["parts"][0]["state"], "done", "{what}: {m}");
            assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t1", "{what}: {m}");
            assert_eq!(fake.creates(), 1, "{what}: submitted again unasked");
        }
        // Asked: sent again, and the new task (read as the fake finishes it) is downloaded.
        let state = fake.state.clone();
        fake.on_request(move |path| {
            if path.contains("/task/tts/create") {
                *state.detail_answer.lock().unwrap() = None;
            }
        });
        let mut asked = args.clone();
        asked.push("--resubmit-unknown");
        fake_run(&fake, &asked).expect(0);
        assert_eq!(fake.creates(), 2, "{what}");
        let m = manifest(dir);
        assert_eq!(m["parts"][0]["state"], "done", "{what}: {m}");
        assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t2", "{what}: {m}");
        assert_eq!(
            m["parts"][0]["past_job_ids"][0], "vmeg:speech:t1",
            "{what}: {m}"
        );
    }
}

/// Review 24 pass 2d #1 and #2, for a `done` part whose file is gone and whose task now
/// reads failed:
/// - `--resubmit-unknown` pays for it again only once an earlier run reported it: the flag
///   given for another part's unknown submit does not send it unseen. Before: sent at once,
///   exit 0, the contradiction never shown.
/// - a resubmit the vendor then refuses (a 402) puts the part back `done` with its task and
///   files, exit 3; restoring the file ends it, with nothing sent. Before: the part became
///   `planned`, and the next plain rerun paid for it.
#[test]
fn a_done_part_is_resubmitted_only_once_reported_and_a_refused_resubmit_keeps_it_done() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    let mut asked = args.clone();
    asked.push("--resubmit-unknown");
    fake_run(&fake, &args).expect(0);
    let kept = std::fs::read(dir.join("001-01.wav")).unwrap();
    std::fs::remove_file(dir.join("001-01.wav")).unwrap();
    fake.answer_details_with(200, &failed_detail("t1"));
    // The flag, before any run reported the contradiction: reported now, nothing sent.
    let r = fake_run(&fake, &asked);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("downloaded before") || r.stdout.contains("downloaded before"),
        "{r:?}"
    );
    assert_eq!(fake.creates(), 1, "sent again before it was reported");
    // Reported: the flag sends it, and the vendor refuses (out of balance).
    fake.answer_creates_with(
        200,
        serde_json::json!({"code": 402, "message": "Insufficient balance", "data": null}),
    );
    let r = fake_run(&fake, &asked);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(fake.creates(), 2);
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "done", "{m}");
    assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t1", "{m}");
    // The file is back: the run ends it, and sends nothing.
    std::fs::write(dir.join("001-01.wav"), kept).unwrap();
    fake_run(&fake, &args).expect(0);
    assert_eq!(fake.creates(), 2, "a plain rerun paid again");
}

/// Review 24 pass 2d #4: with `--resubmit-unknown`, a reported `done` part whose task reads
/// failed is sent again only while the run still starts parts. Here its task's answer comes
/// after another part's download ran past `--max-total-bytes`: the run has stopped starting
/// parts, so it is not sent (exit 3; the part stays `done` with its contradiction for the
/// rerun). With `--json`, `parts` gives each part's failure and the files missing, and `files`
/// lists only files on disk (pass 2d #3: before, both parts read `done` with their missing
/// files, and no error). Before: a new paid task was made after the stop, left
/// undownloaded, and the budget message ("none was submitted again") was false.
#[test]
fn a_done_part_is_not_resubmitted_after_the_run_stopped_starting_parts() {
    // Its task read failed, or not found (review 29 #1: the same rule for a deleted task).
    for (status, answer, kind) in [
        (200, failed_detail("t2"), "task_failed"),
        (404, TASK_NOT_FOUND.to_owned(), "not_found"),
    ] {
        let fake = FakeVmeg::start(0, 1000, false);
        let c = case(&text(2));
        let dir = Path::new(&c.out);
        let mut args = speak_args(&c.file, &c.out);
        // In order: part 1 is t1, part 2 is t2.
        args.extend(["--concurrency", "1"]);
        fake_run(&fake, &args).expect(0);
        assert_eq!(fake.creates(), 2);
        // Part 2's task now reads failed (or is gone) and its file is gone: reported (exit
        // 3), nothing sent.
        std::fs::remove_file(dir.join("002-01.wav")).unwrap();
        fake.answer_detail_of("t2", status, &answer, Duration::ZERO);
        fake_run(&fake, &args).expect(3);
        assert_eq!(fake.creates(), 2);
        // Part 1's file is damaged (its size kept: pass 2a #4), and refetching it runs past
        // the budget before part 2's answer comes.
        let len = std::fs::metadata(dir.join("001-01.wav")).unwrap().len();
        std::fs::write(dir.join("001-01.wav"), vec![b'z'; len as usize]).unwrap();
        fake.answer_detail_of("t2", status, &answer, Duration::from_secs(2));
        let mut asked = speak_args(&c.file, &c.out);
        asked.extend([
            "--resubmit-unknown",
            "--concurrency",
            "2",
            "--max-total-bytes",
            "500",
        ]);
        let r = fake_run(&fake, &asked);
        // The contradiction (exit 3) outranks the budget (exit 1); `parts` tells each
        // (review 24 pass 2d #3), and no missing file is listed as there.
        assert_eq!(r.code, 3, "{kind}: {r:?}");
        assert_eq!(
            fake.creates(),
            2,
            "{kind}: a part was paid for after the run stopped"
        );
        let out = r.json();
        let parts = &out["parts"];
        assert_eq!(parts[0]["error"]["kind"], "download_budget", "{out}");
        assert_eq!(
            parts[0]["missing_files"],
            serde_json::json!(["001-01.wav"]),
            "{out}"
        );
        assert_eq!(parts[1]["error"]["kind"], kind, "{out}");
        assert_eq!(parts[1]["downloaded_before"], true, "{out}");
        assert_eq!(
            parts[1]["missing_files"],
            serde_json::json!(["002-01.wav"]),
            "{out}"
        );
        let listed: Vec<&str> = out["files"].as_array().unwrap().iter().map(s).collect();
        assert!(
            !listed
                .iter()
                .any(|f| f.ends_with("001-01.wav") || f.ends_with("002-01.wav")),
            "{out}"
        );
        let m = manifest(dir);
        assert_eq!(m["parts"][1]["state"], "done", "{m}");
        assert_eq!(m["parts"][1]["job_id"], "vmeg:speech:t2", "{m}");
    }
}

/// Review 29 pass 4 #1: the pause before `--resubmit-unknown` pays for a task not found (it
/// reads the task once more) is no way past a run that stopped starting parts meanwhile:
/// the download budget and `--timeout` are checked again after it. Before: part 1's refetch
/// spent the budget during part 2's pause, and part 2 was paid for after the run had said no
/// further part would start.
#[test]
fn a_part_read_again_after_the_run_stopped_starting_parts_is_not_paid_for() {
    let fake = FakeVmeg::start(0, 1000, false);
    let c = case(&text(2));
    let dir = Path::new(&c.out);
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "1"]);
    fake_run(&fake, &args).expect(0);
    assert_eq!(fake.creates(), 2);
    // Part 2's task is gone and its file too: a rerun reports it (exit 3), nothing sent.
    std::fs::remove_file(dir.join("002-01.wav")).unwrap();
    fake.answer_detail_of("t2", 404, TASK_NOT_FOUND, Duration::ZERO);
    fake_run(&fake, &args).expect(3);
    assert_eq!(fake.creates(), 2);
    // Part 1's file is damaged: its refetch runs past the budget while part 2's task is read
    // again after a 2 s pause (`--poll-interval 2`; part 2 reads "not found" at once).
    let len = std::fs::metadata(dir.join("001-01.wav")).unwrap().len();
    std::fs::write(dir.join("001-01.wav"), vec![b'z'; len as usize]).unwrap();
    let mut asked: Vec<&str> = speak_args(&c.file, &c.out)
        .into_iter()
        .map(|a| if a == FAST_POLL[1] { "2" } else { a })
        .collect();
    asked.extend([
        "--resubmit-unknown",
        "--concurrency",
        "2",
        "--max-total-bytes",
        "500",
    ]);
    let r = fake_run(&fake, &asked);
    assert_eq!(
        fake.creates(),
        2,
        "a part was paid for after the run stopped: {r:?}"
    );
    assert_eq!(r.code, 3, "{r:?}");
    let m = manifest(dir);
    assert_eq!(m["parts"][1]["job_id"], "vmeg:speech:t2", "{m}");
}

/// `task`'s `tasks/detail` answer as the fake gives it unasked: finished, one result.
fn finished_detail(base: &str, task: &str) -> String {
    serde_json::json!({
        "code": 200, "message": "",
        "data": {"taskId": task, "taskType": "tts", "status": "finished",
                 "result": {"results": [{"uri": format!("{base}/files/{task}/0.wav"),
                                         "duration": 1.0, "errorMessage": ""}]}},
    })
    .to_string()
}

/// Review 30-e #2: a `submitting` part whose `--resubmit-unknown` send waits for the flag's
/// gate (held by another part's resubmit until its new task is read) is not paid for once
/// the run stopped starting parts meanwhile: its download budget spent, or a wait out of
/// `--timeout`. The check after the gate is the only one on that path (`Run::flag_gate`).
#[test]
fn a_submitting_part_waiting_for_the_flags_gate_is_not_paid_after_the_run_stopped() {
    for stop in ["download budget", "--timeout"] {
        let fake = FakeVmeg::start(0, 1000, false);
        let c = case(&text(3));
        let dir = Path::new(&c.out);
        let mut args = speak_args(&c.file, &c.out);
        args.extend(["--concurrency", "1"]);
        fake_run(&fake, &args).expect(0);
        assert_eq!(fake.creates(), 3);
        // Parts 2 and 3 lost their submit's answer a day ago: `submitting`, too old to be
        // resent under their key, so the flag sends each as a new submit.
        let mut m = manifest(dir);
        let day_ago = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            - 24 * 3600 * 1000;
        for k in [1, 2] {
            let part = m["parts"][k].as_object_mut().unwrap();
            for f in part["files"].as_array().unwrap().clone() {
                std::fs::remove_file(dir.join(f["name"].as_str().unwrap())).unwrap();
            }
            part.insert("state".into(), "submitting".into());
            part.insert("submitted_at_ms".into(), day_ago.into());
            part.remove("job_id");
            part.remove("files");
        }
        std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&m).unwrap()).unwrap();
        // The first resubmit's task (t4) is read 2 s late: its part holds the gate until
        // then, and the other part waits for it.
        fake.answer_detail_of(
            "t4",
            200,
            &finished_detail(&fake.url, "t4"),
            Duration::from_secs(2),
        );
        let mut asked = speak_args(&c.file, &c.out);
        asked.extend(["--resubmit-unknown", "--concurrency", "3"]);
        if stop == "download budget" {
            // Part 1's file is damaged: its refetch runs past the budget at once.
            let len = std::fs::metadata(dir.join("001-01.wav")).unwrap().len();
            std::fs::write(dir.join("001-01.wav"), vec![b'z'; len as usize]).unwrap();
            asked.extend(["--max-total-bytes", "500"]);
        } else {
            // The wait for t4 runs out first.
            asked.extend(["--timeout", "0.5"]);
        }
        let r = fake_run(&fake, &asked);
        assert!(r.code != 0, "{stop}: {r:?}");
        assert!(
            fake.creates() <= 4,
            "{stop}: a part waiting for the gate was paid for after the run stopped: {} creates; {r:?}",
            fake.creates()
        );
        let m = manifest(dir);
        let still: Vec<&Value> = m["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["state"] == "submitting")
            .collect();
        assert!(!still.is_empty(), "{stop}: {m}");
    }
}

/// Review 24-d #3: each resend of a part's key is recorded in the manifest before it is sent
/// (`resent_at_ms`), shown (`last_resent_at`, "last resent with it at"), and the candidates
/// after VMEG's "key already used" are judged against the first submit and each recorded
/// resend (give or take the reconcile window), not the whole span since the first submit:
/// another job's task made hours in between is no rival. A part whose resends are not all
/// recorded (a manifest of an older format) keeps the whole span. Before: a resend's time
/// was never written, and any task on the account since the first submit blocked adoption
/// ("2 unclaimed tasks fit") on every rerun until only a paid resubmit was left.
#[test]
fn a_parts_resends_are_recorded_and_candidates_judged_against_each_attempt() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    // A rerun whose resend is lost too: its time is recorded and shown.
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let out = r.json();
    assert!(out["parts"][0]["last_resent_at"].is_string(), "{out}");
    let m = manifest(dir);
    assert_eq!(
        m["parts"][0]["resent_at_ms"].as_array().unwrap().len(),
        1,
        "{m}"
    );
    assert_eq!(m["parts"][0]["resends_recorded"], true, "{m}");
    let plain: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let r = fake_run(&fake, &plain);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.contains("last resent with it at"), "{r:?}");
    let m = manifest(dir);
    assert_eq!(
        m["parts"][0]["resent_at_ms"].as_array().unwrap().len(),
        2,
        "{m}"
    );

    // The first submit three hours ago, a recorded resend two hours ago.
    let now_ms = m["parts"][0]["submitted_at_ms"].as_u64().unwrap();
    let t0 = now_ms - 3 * 3600 * 1000;
    let resent = now_ms - 2 * 3600 * 1000;
    let at = |ms: u64| {
        jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap())
            .unwrap()
            .to_string()
    };
    let mut edited = m.clone();
    edited["parts"][0]["submitted_at_ms"] = t0.into();
    edited["parts"][0]["resent_at_ms"] = serde_json::json!([resent]);
    let good = serde_json::to_vec(&edited).unwrap();
    fake.answer_creates_with(409, key_used());
    for (what, mine) in [("first submit", t0), ("recorded resend", resent)] {
        std::fs::write(dir.join(MANIFEST), &good).unwrap();
        // Another job's task made between the attempts, dated with its offset.
        fake.list_tasks_with(vec![
            listed("t-mine", Some(&at(mine + 5_000))),
            listed("t-other", Some(&at(t0 + 3600 * 1000 + 1800 * 1000))),
        ]);
        let r = fake_run(&fake, &args);
        assert_eq!(r.code, 0, "{what}: {r:?}");
        assert_eq!(
            manifest(dir)["parts"][0]["job_id"],
            "vmeg:speech:t-mine",
            "{what}"
        );
    }
    // Review 25 pass 2a #1: the part's own task made by a retry minutes after the attempt's
    // recorded start (or dated by a skewed vendor clock) still fits, so another task near the
    // attempt is a rival, never taken in its place; alone, it is taken.
    std::fs::write(dir.join(MANIFEST), &good).unwrap();
    fake.list_tasks_with(vec![
        listed("t-mine", Some(&at(t0 + 170_000))),
        listed("t-other", Some(&at(t0 + 20_000))),
    ]);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(manifest(dir)["parts"][0].get("job_id").is_none());
    fake.list_tasks_with(vec![listed("t-mine", Some(&at(t0 + 170_000)))]);
    fake_run(&fake, &args).expect(0);
    assert_eq!(manifest(dir)["parts"][0]["job_id"], "vmeg:speech:t-mine");
    // Not every resend recorded (an older format's part): the whole span, both fit.
    let mut older = edited.clone();
    older["parts"][0]
        .as_object_mut()
        .unwrap()
        .remove("resends_recorded");
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&older).unwrap()).unwrap();
    fake.list_tasks_with(vec![
        listed("t-mine", Some(&at(t0 + 5_000))),
        listed("t-other", Some(&at(t0 + 3600 * 1000 + 1800 * 1000))),
    ]);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("2 unclaimed tasks fit"), "{msg}");
}

/// Review 24 pass 2c #2: a VMEG part left `submitting` by a tool that did not record its
/// key's scope (format 1) is not resent unasked; asked with `--resubmit-unknown`, it is
/// resent under its own key, not a new one (under another API key its key is as new as a
/// new one; under the same one VMEG deduplicates it): here VMEG says the key was used, and
/// the task made by the first submit is taken, with nothing paid twice. The earlier submit
/// is kept in `past_submits`. Before: a new `vclong-` key, a second paid task.
#[test]
fn resubmitting_a_part_held_back_by_its_scope_resends_it_under_its_own_key() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    let mut old: Value =
        serde_json::from_slice(&std::fs::read(dir.join(MANIFEST)).unwrap()).unwrap();
    let key = old["parts"][0]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let ms = old["parts"][0]["submitted_at_ms"].as_i64().unwrap();
    old["version"] = 1.into();
    old.as_object_mut().unwrap().remove("key_salt");
    old["parts"][0].as_object_mut().unwrap().remove("key_scope");
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&old).unwrap()).unwrap();
    fake.answer_creates_with(409, key_used());
    let first = jiff::Timestamp::from_millisecond(ms + 2_000)
        .unwrap()
        .to_string();
    fake.list_tasks_with(vec![listed("t-first", Some(&first))]);
    // Unasked: not resent.
    let sent = fake.creates();
    fake_run(&fake, &args).expect(3);
    assert_eq!(fake.creates(), sent);
    let mut asked = args.clone();
    asked.push("--resubmit-unknown");
    fake_run(&fake, &asked).expect(0);
    assert_eq!(fake.creates(), sent + 1);
    assert_eq!(
        fake.create_keys().last().unwrap(),
        &key,
        "resent under a new key"
    );
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t-first", "{m}");
    assert_eq!(
        m["parts"][0]["past_submits"][0]["idempotency_key"],
        key.as_str(),
        "{m}"
    );

    // Review 25 pass 2a #2: a resend under this run's scope that VMEG refuses (it made
    // nothing there) puts the part back under the scope it was sent with, so no later rerun
    // resends its key unasked.
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&old).unwrap()).unwrap();
    fake.answer_creates_with(
        200,
        serde_json::json!({"code": 402, "message": "Insufficient balance", "data": null}),
    );
    let sent = fake.creates();
    let r = fake_run(&fake, &asked);
    assert_ne!(r.code, 0, "{r:?}");
    assert_eq!(fake.creates(), sent + 1);
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "submitting", "{m}");
    assert!(m["parts"][0].get("key_scope").is_none(), "{m}");
    assert!(m["parts"][0].get("past_submits").is_none(), "{m}");
    fake.answer_creates_with(409, key_used());
    fake_run(&fake, &args).expect(3);
    assert_eq!(fake.creates(), sent + 1, "resent unasked");

    // Review 25 pass 3 #1: the resend under this run's scope meets "key already used" (it or
    // the first submit landed) and the task search after it is refused (a 401): that refusal
    // is the search's, not the resend's, so the part keeps this run's scope and the resend's
    // record.
    fake.answer_lists_with_status(
        401,
        serde_json::json!({"code": 401, "message": "Unauthorized", "data": null}),
    );
    let r = fake_run(&fake, &asked);
    assert_eq!(r.code, 3, "{r:?}");
    let m = manifest(dir);
    assert_eq!(m["parts"][0]["state"], "submitting", "{m}");
    assert!(m["parts"][0]["key_scope"].is_object(), "{m}");
    assert_eq!(
        m["parts"][0]["past_submits"][0]["idempotency_key"],
        key.as_str(),
        "{m}"
    );
}

/// Review 25 pass 3 (untested then): the sole unclaimed task of a part whose key VMEG says was
/// used, dated with its offset but far from the part's first submit and from each recorded
/// resend (here midway between them, an hour from either), is another job's as likely as
/// this part's: not taken, exit 3, and the message says why (created far from every time
/// the part was sent), naming it. And a part resent more often than the manifest records
/// (`MAX_RESENDS_RECORDED`, 64): the record keeps its length, its last entry becomes the
/// latest resend (shown as `last_resent_at`), and the part is marked as not having every
/// resend recorded, so that the next search counts the whole span since its first submit.
#[test]
fn a_lone_task_far_from_every_attempt_is_not_taken_and_resends_past_the_record_keep_the_latest() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    let m = manifest(dir);
    let now_ms = m["parts"][0]["submitted_at_ms"].as_u64().unwrap();
    let t0 = now_ms - 3 * 3600 * 1000;
    let resent = now_ms - 3600 * 1000;
    let at = |ms: u64| {
        jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap())
            .unwrap()
            .to_string()
    };
    let mut edited = m.clone();
    edited["parts"][0]["submitted_at_ms"] = t0.into();
    edited["parts"][0]["resent_at_ms"] = serde_json::json!([resent]);
    edited["parts"][0]["resends_recorded"] = true.into();
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&edited).unwrap()).unwrap();
    fake.answer_creates_with(409, key_used());
    let far = at(t0 + 3600 * 1000);
    fake.list_tasks_with(vec![listed("t-far", Some(&far))]);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(msg.contains("t-far"), "{msg}");
    assert!(msg.contains("created far from every time"), "{msg}");
    assert!(manifest(dir)["parts"][0].get("job_id").is_none());

    // 64 resends recorded, all of them long ago; the next resend (lost) replaces the last.
    let old: Vec<u64> = (0..64u64).map(|k| t0 + k * 1000).collect();
    let mut full = edited.clone();
    full["parts"][0]["resent_at_ms"] = serde_json::json!(old);
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&full).unwrap()).unwrap();
    fake.answer_creates_with(
        502,
        serde_json::json!({"code": 502, "message": "upstream failed", "data": null}),
    );
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let part = &manifest(dir)["parts"][0];
    let record = part["resent_at_ms"].as_array().unwrap();
    assert_eq!(record.len(), 64, "{part}");
    let kept: Vec<u64> = record.iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(kept[..63], old[..63], "{part}");
    let last = u128::from(record[63].as_u64().unwrap());
    assert!(
        last >= before,
        "the latest resend is kept: {last} < {before}"
    );
    // Written only when true (an older manifest's part reads as not recorded).
    assert_ne!(part["resends_recorded"], true, "{part}");
    let shown: jiff::Timestamp = r.json()["parts"][0]["last_resent_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        i128::from(shown.as_millisecond()),
        i128::try_from(last).unwrap(),
        "{r:?}"
    );
}

/// Review 25 pass 3 (untested then): a part resent under its key and left `submitting`, rerun
/// under another API key, is not resent (as above), and the advice on how to find its task
/// under the API key it was sent with gives the time of its last resend, which the lookup
/// must cover (`--last-attempt-at`), besides its first submit: a task made by that resend
/// is dated after the first submit's window, so a lookup from the first submit alone could
/// say "none" and invite a paid resubmit.
#[test]
fn the_advice_for_a_part_sent_under_another_api_key_names_its_last_resend() {
    const OTHER_KEY: &str = "sk-long-hostile-another-9876543210";
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    lose_every_submit(&fake, &args);
    // A rerun whose resend is lost too: its time is recorded.
    fake_run(&fake, &args).expect(3);
    let m = manifest(dir);
    let resent = m["parts"][0]["resent_at_ms"][0].as_i64().unwrap();
    let creates = fake.creates();
    let r = run_binary(Some(&fake.url), OTHER_KEY, &[KEY], &[], &args);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(fake.creates(), creates, "a create was sent");
    let msg = r.json()["error"]["message"].as_str().unwrap().to_owned();
    let (_, after) = msg
        .split_once("--last-attempt-at ")
        .unwrap_or_else(|| panic!("no --last-attempt-at: {msg}"));
    let shown: jiff::Timestamp = after
        .split(|c: char| c == '`' || c.is_whitespace())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(shown.as_millisecond(), resent, "{msg}");
}

/// VMEG's answer to a task it does not know (deleted in its console, expired).
const TASK_NOT_FOUND: &str = r#"{"code":404,"message":"Task not found","data":null}"#;

/// Review 35-c #9: on a rerun with `--resubmit-unknown`, part 2's task is read not found
/// again (reported so by an earlier run), while part 1's create (the run's first, which the
/// others wait for) is on its way and then ends with an unknown outcome (a 502 naming no
/// task): no create is sent after that, so part 2 is not resubmitted. It is told with its
/// failure (`parts[1].error`, exit 3), and "resubmitting" is never printed for it. Before,
/// the progress line said it was being resubmitted ("billed again"), its failure was dropped
/// and it was told "submitted as job ..., not downloaded (a rerun downloads it)".
#[test]
fn a_flag_resubmit_held_back_keeps_its_failure_and_is_not_said_to_resubmit() {
    for json in [false, true] {
        let fake = FakeVmeg::start(0, 100, false);
        let c = case(&text(2));
        let dir = Path::new(&c.out);
        let mut args = speak_args(&c.file, &c.out);
        fake_run(&fake, &args).expect(0);
        let mut m = manifest(dir);
        for k in 0..2 {
            for f in m["parts"][k]["files"].as_array().unwrap() {
                std::fs::remove_file(dir.join(s(&f["name"]))).unwrap();
            }
            m["parts"][k]["files"] = serde_json::json!([]);
        }
        m["parts"][0]["state"] = "failed".into();
        m["parts"][0]["error"] = "its task failed".into();
        m["parts"][1]["state"] = "submitted".into();
        m["parts"][1]["error"] = "task not found".into();
        m["parts"][1]["error_kind"] = "task_not_found".into();
        std::fs::write(dir.join(MANIFEST), m.to_string()).unwrap();
        fake.answer_detail_of("t2", 404, TASK_NOT_FOUND, Duration::ZERO);
        fake.answer_creates_with(
            502,
            serde_json::json!({"code": 502, "message": "upstream failed", "data": null}),
        );
        args.push("--resubmit-unknown");
        if !json {
            args.retain(|a| *a != "--json");
        }
        let sent_before = fake.create_keys().len();
        let r = fake_run(&fake, &args);
        assert_eq!(r.code, 3, "{r:?}");
        let keys = fake.create_keys().split_off(sent_before);
        assert!(
            keys.iter().all(|k| *k == keys[0]),
            "part 2 was sent: {keys:?}"
        );
        let m = manifest(dir);
        assert_eq!(m["parts"][0]["state"], "submitting", "{m}");
        assert_eq!(m["parts"][1]["state"], "submitted", "{m}");
        assert_eq!(m["parts"][1]["job_id"], "vmeg:speech:t2", "{m}");
        if json {
            let j = r.json();
            assert!(j["parts"][1]["error"].is_object(), "{j}");
        } else {
            assert!(!r.stderr.contains("resubmitting"), "{r:?}");
            assert!(!r.stdout.contains("a rerun downloads it"), "{r:?}");
        }
    }
}

/// Part 1's record in DIR's manifest.
fn part1(dir: &Path) -> Value {
    manifest(dir)["parts"][0].clone()
}

/// Rewrites part 1's `error_kind` in DIR's manifest (`None`: removed, as the previous
/// version wrote it).
fn set_error_kind(dir: &Path, kind: Option<&str>) {
    let mut m = manifest(dir);
    let part = m["parts"][0].as_object_mut().unwrap();
    match kind {
        Some(k) => part.insert("error_kind".into(), k.into()),
        None => part.remove("error_kind"),
    };
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

/// Review 29 #1: a `submitted` part whose task now answers 404 (deleted in the vendor's
/// console, expired) under the API key and base URL it was sent with. Before, every rerun
/// said "rerun the same command to wait for it again" (exit 3) and no flag moved it on. Now:
/// - the run that made the task, reading it 404 at once, says only that (a read may lag the
///   create: pass 2-a #1), notes nothing, and the flag given there pays for nothing;
/// - the next run reports it (exit 3: not known to the vendor under this API key and base
///   URL, its outcome not known, not submitted again unasked, `--resubmit-unknown` submits
///   it again) and keeps it `submitted`, noted `task_not_found`; the flag given on that run
///   pays for nothing either, since no run had reported it yet;
/// - a rerun without the flag reads it again and submits nothing;
/// - a rerun with the flag reads it again first: still not found, it is submitted once
///   (billed again, said), its old task kept in `past_job_ids`; found again meanwhile, it is
///   downloaded from its task and nothing is submitted.
#[test]
fn a_deleted_task_is_reported_kept_and_resubmitted_only_when_asked_after_that() {
    for comes_back in [false, true] {
        let fake = FakeVmeg::start(0, 100, false);
        fake.answer_detail_of("t1", 404, TASK_NOT_FOUND, Duration::ZERO);
        let c = case(&text(1));
        let dir = Path::new(&c.out);
        let args = speak_args(&c.file, &c.out);
        let mut asked = args.clone();
        asked.push("--resubmit-unknown");
        // Made in this run: no task gone is reported, nothing noted.
        let r = fake_run(&fake, &asked);
        assert_eq!(r.code, 3, "{r:?}");
        let msg = s(&r.json()["error"]["message"]).to_owned();
        assert!(msg.contains("rerun the same command"), "{msg}");
        assert!(!msg.contains("not known to the vendor"), "{msg}");
        assert!(part1(dir).get("error_kind").is_none(), "{}", part1(dir));
        assert_eq!(fake.creates(), 1);
        let r = fake_run(&fake, &asked);
        assert_eq!(r.code, 3, "{r:?}");
        let j = r.json();
        let msg = s(&j["error"]["message"]);
        for needed in [
            "part 1",
            "t1",
            "not known to the vendor under this API key and base URL",
            "deleted",
            "expired",
            "not known",
            "--resubmit-unknown",
            "billed again",
        ] {
            assert!(msg.contains(needed), "{needed:?} missing: {msg}");
        }
        assert!(!msg.contains("rerun the same command"), "{msg}");
        assert_eq!(fake.creates(), 1, "resubmitted before any run reported it");
        let p = part1(dir);
        assert_eq!(p["state"], "submitted", "{p}");
        assert_eq!(p["job_id"], "vmeg:speech:t1", "{p}");
        assert_eq!(p["error_kind"], "task_not_found", "{p}");
        // Reported: a plain rerun still submits nothing.
        for _ in 0..2 {
            fake_run(&fake, &args).expect(3);
            assert_eq!(fake.creates(), 1, "a plain rerun submitted it");
        }
        if comes_back {
            fake.state.detail_of.lock().unwrap().remove("t1");
            fake_run(&fake, &asked).expect(0);
            assert_eq!(fake.creates(), 1, "submitted although its task was found");
            let p = part1(dir);
            assert_eq!(
                (&p["state"], &p["job_id"]),
                (&"done".into(), &"vmeg:speech:t1".into())
            );
            continue;
        }
        let r = fake_run(&fake, &asked);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(fake.creates(), 2);
        let p = part1(dir);
        assert_eq!(p["state"], "done", "{p}");
        assert_eq!(p["job_id"], "vmeg:speech:t2", "{p}");
        assert_eq!(
            p["past_job_ids"],
            serde_json::json!(["vmeg:speech:t1"]),
            "{p}"
        );
        assert!(
            p.get("error").is_none() && p.get("error_kind").is_none(),
            "{p}"
        );
        // Done: a rerun with the flag sends nothing more.
        fake_run(&fake, &asked).expect(0);
        assert_eq!(fake.creates(), 2);
    }
}

/// Review 29 #1: `--resubmit-unknown` acts on what a run reported, by its kind, not on any
/// error noted. A part noted for one reason (an answer that could not be read; a kind this
/// version does not know, written by a newer one: the manifest still loads) whose rerun then
/// fails for another (its task not found) is not submitted by the flag on that rerun: the
/// new failure is reported first (noted `task_not_found`), and only the next run with the
/// flag submits it. A manifest of the previous version (an error noted without its kind)
/// keeps the old rule for the old reasons (an unreadable answer read again is resubmitted),
/// and never lets a task not found be resubmitted unreported.
#[test]
fn the_flag_resubmits_only_for_the_reason_a_run_reported() {
    for noted in [
        Some("answer_unreadable"),
        Some("a_kind_of_a_newer_version"),
        None,
    ] {
        let fake = FakeVmeg::start(3, 1000, false);
        let c = case(&three_lines());
        let dir = Path::new(&c.out);
        let args = speak_args(&c.file, &c.out);
        let mut asked = args.clone();
        asked.push("--resubmit-unknown");
        let line2 = serde_json::json!({"uri": "/files/t1/1.wav"});
        fake.answer_detail_of(
            "t1",
            200,
            &detail_with_line2(&fake.url, "t1", line2),
            Duration::ZERO,
        );
        fake_run(&fake, &args).expect(3);
        let p = part1(dir);
        assert!(p["error"].is_string(), "{noted:?}: {p}");
        assert_eq!(p["error_kind"], "answer_unreadable", "{noted:?}: {p}");
        if noted != Some("answer_unreadable") {
            set_error_kind(dir, noted);
        }
        // Its task is gone now: the flag does not send it on this first report of that.
        fake.answer_detail_of("t1", 404, TASK_NOT_FOUND, Duration::ZERO);
        let r = fake_run(&fake, &asked);
        assert_eq!(r.code, 3, "{noted:?}: {r:?}");
        assert!(
            s(&r.json()["error"]["message"]).contains("not known to the vendor under this API key"),
            "{noted:?}: {r:?}"
        );
        assert_eq!(fake.creates(), 1, "{noted:?}: resubmitted unreported");
        assert_eq!(part1(dir)["error_kind"], "task_not_found", "{noted:?}");
        // Reported now: the flag sends it.
        fake_run(&fake, &asked).expect(0);
        assert_eq!(fake.creates(), 2, "{noted:?}");
    }
    // An unreadable answer noted without its kind, read again. In a manifest of format 3
    // (versions that noted no kinds wrote it): the old rule, sent at once. In one of format
    // 4 (pass 2-a #7: a version that dropped the kind would have refused it by its number),
    // such an error is no report: reported first (noted with its kind), sent on the next run.
    for version in [3, 4] {
        let fake = FakeVmeg::start(3, 1000, false);
        let c = case(&three_lines());
        let dir = Path::new(&c.out);
        let mut asked = speak_args(&c.file, &c.out);
        asked.push("--resubmit-unknown");
        let line2 = serde_json::json!({"uri": "/files/t1/1.wav"});
        fake.answer_detail_of(
            "t1",
            200,
            &detail_with_line2(&fake.url, "t1", line2),
            Duration::ZERO,
        );
        fake_run(&fake, &speak_args(&c.file, &c.out)).expect(3);
        assert_eq!(manifest(dir)["version"], 4);
        set_error_kind(dir, None);
        set_version(dir, version);
        if version == 4 {
            let r = fake_run(&fake, &asked);
            assert_eq!(r.code, 3, "{r:?}");
            assert_eq!(
                fake.creates(),
                1,
                "sent for an error noted without its kind"
            );
            assert_eq!(part1(dir)["error_kind"], "answer_unreadable");
        }
        fake_run(&fake, &asked).expect(0);
        assert_eq!(fake.creates(), 2, "version {version}");
        assert_eq!(
            manifest(dir)["version"],
            4,
            "version {version}: not written back as 4"
        );
    }
}

/// Review 35-c #8: a `done` part an earlier run reported (its file missing, its task then
/// read failed) whose file was restored since, in a run that stops before reaching it (here
/// the stop-after seam, as a signal would): told by its files, which are intact, so it is
/// counted done and told neither missing nor `downloaded_before`. Before, it was told "its
/// file is missing or damaged ... --resubmit-unknown submits it again", beside `files` listing
/// it intact.
#[test]
fn a_restored_done_part_is_told_done_when_the_run_stops_before_it() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(2));
    let dir = Path::new(&c.out);
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "1"]);
    fake_run(&fake, &args).expect(0);
    let mut m = manifest(dir);
    m["parts"][1]["error"] = "its task now reads failed".into();
    m["parts"][1]["error_kind"] = "downloaded_before_failed".into();
    let edited = serde_json::to_vec_pretty(&m).unwrap();
    let stop = [("VOICECLONE_TEST_STOP_AFTER_PARTS", "1")];
    for json in [false, true] {
        // Part 1's files gone: downloaded again, and the run stops after it.
        std::fs::write(dir.join(MANIFEST), &edited).unwrap();
        for f in m["parts"][0]["files"].as_array().unwrap() {
            std::fs::remove_file(dir.join(s(&f["name"]))).unwrap();
        }
        let mut a = args.clone();
        if !json {
            a.retain(|x| *x != "--json");
        }
        let r = run_binary(Some(&fake.url), KEY, &[], &stop, &a);
        assert_eq!(r.code, 3, "{r:?}");
        // Not reached: its note is still there.
        assert!(manifest(dir)["parts"][1]["error"].is_string());
        if json {
            let j = r.json();
            assert_eq!(j["error"]["kind"], "interrupted", "{j}");
            let p = &j["parts"][1];
            assert!(p.get("downloaded_before").is_none(), "{p}");
            assert!(p.get("missing_files").is_none(), "{p}");
        } else {
            assert!(r.stdout.contains("2 of 2 parts done"), "{r:?}");
            assert!(!r.stdout.contains("missing or damaged"), "{r:?}");
        }
    }
}

/// Review 35-c #11: a part downloaded again whose earlier files came under another extension
/// (here `.mp3`, the new answer's audio `.wav`) names each of them on stderr: a join by glob
/// or `ls` would splice the old audio in. Only regular files named as one of the part's
/// stems plus an audio extension are named; another part's files, and names that are no
/// stem of it, are not. None is removed (pass 2d #4: it may be the user's own conversion).
/// Before, `001-01.mp3` ... stayed beside `001-01.wav` ... without a word.
#[test]
fn a_part_downloaded_again_under_another_extension_names_the_earlier_file() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(2));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    fake_run(&fake, &args).expect(0);
    let first = results_in(dir);
    let mut m = manifest(dir);
    // Part 1's download cut short by an earlier run, its files then `.mp3`: not recorded.
    for f in m["parts"][0]["files"].as_array().unwrap() {
        let name = s(&f["name"]);
        let mp3 = name.replace(".wav", ".mp3");
        std::fs::rename(dir.join(name), dir.join(mp3)).unwrap();
    }
    m["parts"][0]["state"] = "submitted".into();
    m["parts"][0]["files"] = serde_json::json!([]);
    std::fs::write(dir.join(MANIFEST), m.to_string()).unwrap();
    for other in ["001-01.mp3.bak", "notes.mp3", "001-1.mp3"] {
        std::fs::write(dir.join(other), b"mine").unwrap();
    }
    let r = fake_run(&fake, &args).expect(0);
    // The earlier files are named on stderr, and kept: whether this tool wrote them cannot be
    // told, and a user's own file is never deleted (review 35 pass 2d #4).
    let earlier: Vec<String> = first.iter().map(|n| n.replace(".wav", ".mp3")).collect();
    for name in earlier.iter().filter(|n| n.starts_with("001-")) {
        assert!(
            r.stderr.contains(&format!("{name} is beside")),
            "{name}: {}",
            r.stderr
        );
    }
    for mine in ["001-01.mp3.bak", "notes.mp3", "001-1.mp3"] {
        assert!(
            !r.stderr.contains(&format!("{mine} is beside")),
            "{}",
            r.stderr
        );
    }
    let mut expected = first.clone();
    expected.extend(earlier.into_iter().filter(|n| n.starts_with("001-")));
    expected.extend(["001-01.mp3.bak", "notes.mp3", "001-1.mp3"].map(String::from));
    expected.sort();
    assert_eq!(results_in(dir), expected);
}

/// Rewrites DIR's manifest's format version.
fn set_version(dir: &Path, version: u64) {
    let mut m = manifest(dir);
    m["version"] = version.into();
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

/// Review 35-c #6: a manifest a newer version of this tool wrote, with a part state and a
/// field this version does not know (format 5, a part `abandoned`), is refused by its number
/// before it is parsed: exit 2, nothing sent, "written by a newer version of this tool:
/// resume with that version", and no advice to remove it or use another directory (each
/// pays again for every part already made). Before, it was refused as unreadable ("unknown
/// variant") with exactly that advice.
#[test]
fn a_newer_versions_manifest_with_a_new_state_is_refused_by_its_number() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(2));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    fake_run(&fake, &args).expect(0);
    let mut m = manifest(dir);
    m["version"] = 5.into();
    m["parts"][0]["state"] = "abandoned".into();
    m["parts"][1]["files"] = serde_json::json!({"by_line": {}});
    m["a_field_of_version_5"] = serde_json::json!([1, 2]);
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let requests = fake.requests();
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(fake.requests(), requests, "something was sent");
    let e = r.json()["error"].clone();
    assert_eq!(e["kind"], "manifest_mismatch", "{e}");
    let msg = e["message"].as_str().unwrap();
    for needed in [
        "written by a newer version of this tool",
        "format version 5",
        "resume with that version",
        "nothing was sent",
    ] {
        assert!(msg.contains(needed), "{needed:?} missing: {msg}");
    }
    for advice in ["remove the file", "Use another --out"] {
        assert!(!msg.contains(advice), "{advice:?}: {msg}");
    }
    // The file is left as it was, for that version to resume.
    assert_eq!(manifest(dir), m);
}

/// Review 29 #1: a `done` part whose file is gone, noted for an answer that could not be
/// read, whose task then reads failed (a contradiction no run had reported) is not
/// submitted by `--resubmit-unknown` on that rerun: reported first, sent on the next. Before:
/// any noted error let the flag pay for it unseen.
#[test]
fn a_done_part_noted_unreadable_is_not_resubmitted_when_its_task_then_reads_failed() {
    let fake = FakeVmeg::start(3, 1000, false);
    let c = case(&three_lines());
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    let mut asked = args.clone();
    asked.push("--resubmit-unknown");
    fake_run(&fake, &args).expect(0);
    std::fs::remove_file(dir.join("001-02.wav")).unwrap();
    let line2 = serde_json::json!({"uri": "/files/t1/1.wav"});
    fake.answer_detail_of(
        "t1",
        200,
        &detail_with_line2(&fake.url, "t1", line2),
        Duration::ZERO,
    );
    fake_run(&fake, &args).expect(3);
    assert_eq!(part1(dir)["error_kind"], "answer_unreadable");
    fake.answer_detail_of("t1", 200, &failed_detail("t1"), Duration::ZERO);
    let r = fake_run(&fake, &asked);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(
        fake.creates(),
        1,
        "resubmitted for a failure no run had reported"
    );
    let p = part1(dir);
    assert_eq!(p["state"], "done", "{p}");
    assert_eq!(p["error_kind"], "downloaded_before_failed", "{p}");
    fake_run(&fake, &asked).expect(0);
    assert_eq!(fake.creates(), 2);
}

/// A proxy's or web server's 404 page (no VMEG envelope).
const PROXY_404: &str = "<html><body><h1>404 Not Found</h1>nginx</body></html>";

/// Task `task`'s detail, still running.
fn running_detail(task: &str) -> String {
    serde_json::json!({
        "code": 200, "message": "",
        "data": {"taskId": task, "taskType": "tts", "status": "running"},
    })
    .to_string()
}

/// Review 29 pass 2-a #1: a 404 that is no answer of VMEG's (a proxy's page, an ingress's
/// default backend, a route that forwards POST but not GET) says nothing of the task: on the
/// run that made it or on a later one, it is no task not found. The run says to rerun the
/// same command, notes nothing, and `--resubmit-unknown` never pays on it, not even once a
/// run has reported the task not found (by VMEG's own answer). Before: reported as "deleted
/// in the vendor's console, or expired", and each run with the flag paid for a new task.
#[test]
fn a_proxys_404_is_no_task_not_found_and_the_flag_never_pays_on_it() {
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_detail_of("t1", 404, PROXY_404, Duration::ZERO);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    let mut asked = args.clone();
    asked.push("--resubmit-unknown");
    let generic = |r: Run| {
        assert_eq!(r.code, 3, "{r:?}");
        let msg = s(&r.json()["error"]["message"]).to_owned();
        assert!(msg.contains("rerun the same command"), "{msg}");
        assert!(!msg.contains("not known to the vendor"), "{msg}");
        assert!(!msg.contains("deleted"), "{msg}");
    };
    // The run that made it, then later runs, the flag given.
    generic(fake_run(&fake, &asked));
    for _ in 0..2 {
        generic(fake_run(&fake, &asked));
        assert_eq!(fake.creates(), 1, "paid again on a proxy's 404");
        let p = part1(dir);
        assert_eq!(p["state"], "submitted", "{p}");
        assert!(p.get("error_kind").is_none(), "{p}");
    }
    // Reported not found by VMEG's own answer; then the proxy's page again: no pay.
    fake.answer_detail_of("t1", 404, TASK_NOT_FOUND, Duration::ZERO);
    fake_run(&fake, &args).expect(3);
    assert_eq!(part1(dir)["error_kind"], "task_not_found");
    fake.answer_detail_of("t1", 404, PROXY_404, Duration::ZERO);
    generic(fake_run(&fake, &asked));
    assert_eq!(fake.creates(), 1, "paid on a proxy's 404 after a report");
}

/// Review 29 pass 2-a #3: what the plain summary says of a part's task not found is what
/// this run read. A part noted `task_not_found` by an earlier run:
/// - read under another API key: the failure says to rerun with that key, and the summary
///   does not say the task is not found (that key's 404 says nothing of it); the note is
///   cleared, so the flag does not act on the next 404 before a run reports it again;
/// - read alive (running) until `--timeout`: the summary says it is submitted, the note is
///   cleared, and the flag given on the next run, which reads it not found again, does not
///   pay before that is reported.
#[test]
fn a_task_not_found_note_is_told_and_kept_only_while_the_latest_read_says_so() {
    const OTHER_KEY: &str = "sk-long-hostile-another-9876543210";
    const SUMMARY: &str =
        "is not known to the vendor under this API key and base URL, and its outcome is not known";
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let mut plain = speak_args(&c.file, &c.out);
    plain.retain(|a| *a != "--json");
    let mut asked = plain.clone();
    asked.push("--resubmit-unknown");
    let printed = |r: &Run| format!("{}{}", r.stdout, r.stderr);
    let report = || {
        fake.answer_detail_of("t1", 404, TASK_NOT_FOUND, Duration::ZERO);
        let r = fake_run(&fake, &plain).expect(3);
        assert!(printed(&r).contains(SUMMARY), "{r:?}");
        assert_eq!(part1(dir)["error_kind"], "task_not_found");
    };
    fake.answer_detail_of("t1", 200, &running_detail("t1"), Duration::ZERO);
    let mut short = plain.clone();
    short.extend(["--timeout", "0.3"]);
    fake_run(&fake, &short).expect(3);
    report();
    // (a) Under another API key.
    let r = run_binary(Some(&fake.url), OTHER_KEY, &[KEY], &[], &plain);
    assert_eq!(r.code, 3, "{r:?}");
    let out = printed(&r);
    assert!(out.contains("another API key than this run's"), "{out}");
    assert!(!out.contains("not known to the vendor"), "{out}");
    assert!(out.contains("submitted as job vmeg:speech:t1"), "{out}");
    assert!(part1(dir).get("error_kind").is_none(), "{}", part1(dir));
    let r = fake_run(&fake, &asked);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(
        fake.creates(),
        1,
        "paid before this key's 404 was reported again"
    );
    // (b) Read alive until the wait ran out.
    fake.answer_detail_of("t1", 200, &running_detail("t1"), Duration::ZERO);
    let r = fake_run(&fake, &short);
    assert_eq!(r.code, 3, "{r:?}");
    let out = printed(&r);
    assert!(!out.contains("not known to the vendor"), "{out}");
    assert!(out.contains("submitted as job vmeg:speech:t1"), "{out}");
    assert!(part1(dir).get("error_kind").is_none(), "{}", part1(dir));
    fake.answer_detail_of("t1", 404, TASK_NOT_FOUND, Duration::ZERO);
    let r = fake_run(&fake, &asked);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(printed(&r).contains(SUMMARY), "{r:?}");
    assert_eq!(
        fake.creates(),
        1,
        "paid although the latest run read it alive"
    );
    // Reported again by the latest run: the flag sends it now.
    fake_run(&fake, &asked).expect(0);
    assert_eq!(fake.creates(), 2);
}

/// Review 29 pass 2-a #4: a `submitted` part reported not found, whose resubmit (the flag,
/// on a later run) the vendor refuses (402): that submit made nothing, but its task may have
/// been made and billed, and how it ended is still not known. Exit 3 (`outcome_unknown`)
/// naming the task, never 1; the part stays `submitted` as that task with its kind, and its
/// noted error keeps what was reported, the refusal after it. A plain rerun pays nothing;
/// the flag, the refusal gone, sends it. Before: exit 1 (`payment_required`) naming no task,
/// and the noted error was the refusal alone.
#[test]
fn a_refused_resubmit_of_a_submitted_part_is_an_unknown_outcome_naming_its_task() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    let mut asked = args.clone();
    asked.push("--resubmit-unknown");
    fake.answer_detail_of("t1", 200, &running_detail("t1"), Duration::ZERO);
    let mut short = args.clone();
    short.extend(["--timeout", "0.3"]);
    fake_run(&fake, &short).expect(3);
    fake.answer_detail_of("t1", 404, TASK_NOT_FOUND, Duration::ZERO);
    fake_run(&fake, &args).expect(3);
    assert_eq!(part1(dir)["error_kind"], "task_not_found");
    fake.answer_creates_with(
        402,
        serde_json::json!({"code": 402, "message": "Insufficient balance", "data": null}),
    );
    for _ in 0..2 {
        let r = fake_run(&fake, &asked);
        assert_eq!(r.code, 3, "{r:?}");
        let e = r.json()["error"].clone();
        assert_eq!(e["kind"], "outcome_unknown", "{e}");
        assert_eq!(e["job_id"], "vmeg:speech:t1", "{e}");
        assert_eq!(e["task_not_found"], true, "{e}");
        let msg = s(&e["message"]);
        for needed in [
            "part 1",
            "refused",
            "Insufficient balance",
            "created nothing",
            "vmeg:speech:t1",
            "not known",
        ] {
            assert!(msg.contains(needed), "{needed:?} missing: {msg}");
        }
        let p = part1(dir);
        assert_eq!(p["state"], "submitted", "{p}");
        assert_eq!(p["job_id"], "vmeg:speech:t1", "{p}");
        assert_eq!(p["error_kind"], "task_not_found", "{p}");
        // What this run read (the task not found again), then the refusal, once: a second
        // refusal replaces the first, it is not added after it.
        let error = p["error"].as_str().unwrap();
        let (read, refusal) = error.split_once("; resubmit refused: ").unwrap();
        assert!(read.contains("Task not found"), "{error}");
        assert!(refusal.contains("Insufficient balance"), "{error}");
        assert!(!refusal.contains("resubmit refused"), "{error}");
    }
    assert_eq!(fake.creates(), 3, "one create per run with the flag");
    fake_run(&fake, &args).expect(3);
    assert_eq!(fake.creates(), 3, "a plain rerun sent it");
    *fake.state.create_answer.lock().unwrap() = None;
    fake_run(&fake, &asked).expect(0);
    assert_eq!(fake.creates(), 4);
    let p = part1(dir);
    assert_eq!(p["job_id"], "vmeg:speech:t4", "{p}");
    assert_eq!(
        p["past_job_ids"],
        serde_json::json!(["vmeg:speech:t1"]),
        "{p}"
    );
}

/// Review 29 pass 2-a #6: a `done` part whose file is gone and whose task the vendor no
/// longer knows: its audio was downloaded, so its task was made and succeeded. The run says
/// so, and offers what ends it for free (restore the file) beside `--resubmit-unknown`, as
/// for a task now read failed; it does not say its outcome is not known. A restored file
/// ends it with nothing sent.
#[test]
fn a_done_part_whose_task_is_not_found_says_its_audio_was_downloaded_and_to_restore_it() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    fake_run(&fake, &args).expect(0);
    let saved = std::fs::read(dir.join("001-01.wav")).unwrap();
    std::fs::remove_file(dir.join("001-01.wav")).unwrap();
    fake.answer_detail_of("t1", 404, TASK_NOT_FOUND, Duration::ZERO);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let e = r.json()["error"].clone();
    let msg = s(&e["message"]);
    for needed in [
        "part 1",
        "its audio was downloaded before from task vmeg:speech:t1",
        "missing or damaged",
        "not known to the vendor under this API key and base URL",
        "stays `done`",
        "restore the file, or rerun with --resubmit-unknown",
    ] {
        assert!(msg.contains(needed), "{needed:?} missing: {msg}");
    }
    assert!(!msg.contains("outcome is not known"), "{msg}");
    assert_eq!(e["downloaded_before"], true, "{e}");
    assert_eq!(part1(dir)["state"], "done");
    assert_eq!(part1(dir)["error_kind"], "task_not_found");
    std::fs::write(dir.join("001-01.wav"), saved).unwrap();
    fake_run(&fake, &args).expect(0);
    assert_eq!(fake.creates(), 1);
    assert!(part1(dir).get("error_kind").is_none(), "{}", part1(dir));
}

/// A relay's or framework's JSON 404 page: a numeric `code` 404, no `data`.
const JSON_404_PAGE: &str = r#"{"code":404,"message":"Not Found"}"#;

/// Review 29 pass 3-a #1: a server whose every task read answers a JSON `{"code":404,...}`
/// (a relay that forwards POST but not GET, answering in an envelope-like page). Once a run
/// reported the parts not found, a run with `--resubmit-unknown` pays for at most one part
/// in all: the task it makes reads "not known" in the very run that made it, so reads under
/// this API key and base URL are broken, and the run resubmits no further part; those are
/// reported, saying why (three parts at once: `--concurrency 3`). Before: every part was
/// paid again on every second run. A `{"code":404}` behind an HTTP 503 (a gateway's) is no
/// answer of VMEG's not-found shape at all: nothing is noted.
#[test]
fn a_json_404_on_every_task_read_lets_a_run_with_the_flag_pay_at_most_once() {
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_details_with(503, JSON_404_PAGE);
    let c = case(&text(3));
    let dir = Path::new(&c.out);
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "3", "--timeout", "0.5"]);
    let mut asked = args.clone();
    asked.push("--resubmit-unknown");
    fake_run(&fake, &args).expect(3);
    fake_run(&fake, &args).expect(3);
    for p in manifest(dir)["parts"].as_array().unwrap() {
        assert!(
            p.get("error_kind").is_none(),
            "a 503 noted as not found: {p}"
        );
    }
    fake.answer_details_with(404, JSON_404_PAGE);
    fake_run(&fake, &args).expect(3);
    for p in manifest(dir)["parts"].as_array().unwrap() {
        assert_eq!(p["error_kind"], "task_not_found", "{p}");
    }
    assert_eq!(fake.creates(), 3);
    for round in 0..3 {
        let before = fake.creates();
        let r = fake_run(&fake, &asked);
        assert_eq!(r.code, 3, "{r:?}");
        let paid = fake.creates() - before;
        assert!(
            paid <= 1,
            "round {round}: {paid} parts paid again in one run"
        );
        if round == 0 {
            assert_eq!(paid, 1, "the first run with the flag paid for nothing");
            let j = r.json();
            let held: Vec<String> = j["parts"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["error"]["message"].as_str())
                .filter(|m| m.contains("not resubmitted"))
                .map(str::to_owned)
                .collect();
            assert_eq!(held.len(), 2, "{j}");
            for msg in held {
                for needed in ["made in this run", "not known", "reads"] {
                    assert!(msg.contains(needed), "{needed:?} missing: {msg}");
                }
            }
        }
    }
}

/// Review 29 pass 3-a #3: before paying on a task not found, a run with `--resubmit-unknown`
/// reads the task once more after a short pause (`--poll-interval`, else 5 s), and pays only
/// if that read says "not known" too. A task that answers on the second read (a read that
/// flapped, a rate limit answered as a refusal) is not paid again; its note is cleared, so
/// the flag waits for a run to report it again.
#[test]
fn the_flag_reads_a_task_not_found_once_more_before_paying() {
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_detail_of("t1", 404, TASK_NOT_FOUND, Duration::ZERO);
    let c = case(&text(1));
    let dir = Path::new(&c.out);
    let args = speak_args(&c.file, &c.out);
    let mut asked = args.clone();
    // Bounded, should the task be waited for (it answers `running` on the second read).
    asked.extend(["--resubmit-unknown", "--timeout", "5"]);
    fake_run(&fake, &args).expect(3);
    fake_run(&fake, &args).expect(3);
    assert_eq!(part1(dir)["error_kind"], "task_not_found");
    // The wait's read says not found; the next read (the hook runs before it is answered)
    // answers the task, running.
    let state = fake.state.clone();
    let mut reads = 0;
    fake.on_request(move |path| {
        if path.ends_with("/tasks/detail") {
            reads += 1;
            if reads == 2 {
                state
                    .detail_of
                    .lock()
                    .unwrap()
                    .insert("t1".into(), (200, running_detail("t1"), Duration::ZERO));
            }
        }
    });
    let r = fake_run(&fake, &asked);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(
        fake.creates(),
        1,
        "paid although the second read found the task"
    );
    let msg = s(&r.json()["error"]["message"]).to_owned();
    for needed in ["read again", "not resubmitted", "rerun the same command"] {
        assert!(msg.contains(needed), "{needed:?} missing: {msg}");
    }
    assert!(part1(dir).get("error_kind").is_none(), "{}", part1(dir));
    fake.on_request(|_| {});
    fake.answer_detail_of("t1", 404, TASK_NOT_FOUND, Duration::ZERO);
    fake_run(&fake, &asked).expect(3);
    assert_eq!(fake.creates(), 1, "paid before a run reported it again");
    // Reported, and not found on both reads: paid.
    fake_run(&fake, &asked).expect(0);
    assert_eq!(fake.creates(), 2);
}

/// The distinct idempotency keys the fake's creates carried (a retry resends its key).
fn distinct_keys(fake: &FakeVmeg) -> usize {
    let mut keys = fake.create_keys();
    keys.sort();
    keys.dedup();
    keys.len()
}

/// Review 33-b #1: a submit of this run whose answer was lost (a gateway's 502 on every
/// create, the task maybe made) stops the run from submitting any further part: one such
/// part per `--concurrency` slot, not the whole text (each a paid task whose id may be lost
/// for good). The run ends exit 3 with the part in `unknown_parts`, the later parts left
/// `planned`, and the message says no further part was submitted. A refusal that proves
/// nothing was made (a 400) does not stop the run: every part is tried, none is paid. Before,
/// every part of the text was submitted, each of unknown outcome.
#[test]
fn a_submit_of_unknown_outcome_stops_the_run_from_submitting_further_parts() {
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_creates_with(
        502,
        serde_json::json!({"code": 502, "message": "upstream failed", "data": null}),
    );
    let c = case(&text(3));
    let dir = Path::new(&c.out);
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "1"]);
    let r = fake_run(&fake, &args).expect(3);
    assert_eq!(distinct_keys(&fake), 1, "{r:?}");
    let m = manifest(dir);
    let states: Vec<&str> = m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| s(&p["state"]))
        .collect();
    assert_eq!(states, ["submitting", "planned", "planned"], "{m}");
    let e = r.json()["error"].clone();
    assert_eq!(e["kind"], "outcome_unknown", "{e}");
    assert_eq!(e["unknown_parts"].as_array().map(Vec::len), Some(1), "{e}");
    assert!(
        s(&e["message"]).contains("no further part was submitted"),
        "{e}"
    );

    // A refusal that proves nothing was made: the run goes on to the next part.
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_creates_with(
        400,
        serde_json::json!({"code": 400, "message": "bad request", "data": null}),
    );
    let c = case(&text(3));
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "1"]);
    let r = fake_run(&fake, &args).expect(1);
    assert_eq!(distinct_keys(&fake), 3, "{r:?}");
    assert!(!r.stdout.contains("no further part was submitted"), "{r:?}");
}

/// Review 33 pass 2 #1: at the default `--concurrency` (4), a run's first create goes out
/// alone: the others wait for its answer. A first create of unknown outcome (a gateway's 502
/// on every create) means no other part is submitted: one key sent, not one per slot. Before,
/// the first four creates were all on the wire before any answer, so the stop came too late
/// for every text of up to four parts.
#[test]
fn at_the_default_concurrency_a_first_create_of_unknown_outcome_sends_no_other_part() {
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_creates_with(
        502,
        serde_json::json!({"code": 502, "message": "upstream failed", "data": null}),
    );
    let c = case(&text(3));
    let dir = Path::new(&c.out);
    let r = fake_run(&fake, &speak_args(&c.file, &c.out)).expect(3);
    assert_eq!(distinct_keys(&fake), 1, "{r:?}");
    let m = manifest(dir);
    let states: Vec<&str> = m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| s(&p["state"]))
        .collect();
    assert_eq!(states, ["submitting", "planned", "planned"], "{m}");
    assert_eq!(r.json()["error"]["kind"], "outcome_unknown", "{r:?}");
}

/// Review 33 pass 2 #4: a create refused with a server fault the library's retry table reads
/// as "nothing was done" (a 501: refused before processing; JimmyAI's own 503 "busy" and a
/// CDN's 525 alike) proves no task was made: the run does not stop submitting, and the part
/// goes back to `planned` (a plain failure, exit 1), not `submitting` ("may have created a
/// task", only sent again with `--resubmit-unknown`'s warning of paying twice).
#[test]
fn a_server_refusal_that_says_nothing_was_done_neither_stops_the_run_nor_parks_the_part() {
    let fake = FakeVmeg::start(0, 100, false);
    fake.answer_creates_with(
        501,
        serde_json::json!({"code": 501, "message": "not implemented", "data": null}),
    );
    let c = case(&text(3));
    let dir = Path::new(&c.out);
    let r = fake_run(&fake, &speak_args(&c.file, &c.out)).expect(1);
    assert_eq!(distinct_keys(&fake), 3, "{r:?}");
    let m = manifest(dir);
    for p in m["parts"].as_array().unwrap() {
        assert_eq!(p["state"], "planned", "{m}");
    }
    assert!(!r.stdout.contains("no further part was submitted"), "{r:?}");
}

/// Review 33-b #2: a finished VMEG task whose answer lists fewer results than the part has
/// lines (a line dropped rather than listed as failed, a truncated list) or more (a relay
/// splicing in others) is an answer the client cannot read: exit 3, nothing of it downloaded,
/// the part kept `submitted` with its task (the error noted as `answer_unreadable`), and the
/// rerun reads it again and pays for nothing. Before: the part was `done` (exit 0), a line's
/// audio missing and the later lines' files numbered one too low, or junk audio spliced in.
#[test]
fn an_answer_listing_another_number_of_results_than_lines_is_not_done() {
    for (results, lines) in [(2, 3), (5, 3)] {
        let fake = FakeVmeg::start(results, 1000, false);
        let c = case(&three_lines());
        let dir = Path::new(&c.out);
        let args = speak_args(&c.file, &c.out);
        for run in 0..2 {
            let what = format!("{results} results for {lines} lines, run {run}");
            let r = fake_run(&fake, &args);
            assert_eq!(r.code, 3, "{what}: {r:?}");
            let msg = s(&r.json()["error"]["message"]).to_owned();
            for needed in [
                "part 1",
                "t1",
                &format!("lists {results} results for its {lines} lines"),
            ] {
                assert!(msg.contains(needed), "{what}: {needed:?} missing: {msg}");
            }
            assert!(results_in(dir).is_empty(), "{what}: {:?}", results_in(dir));
            let m = manifest(dir);
            assert_eq!(m["parts"][0]["state"], "submitted", "{what}: {m}");
            assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t1", "{what}: {m}");
            assert_eq!(
                m["parts"][0]["error_kind"], "answer_unreadable",
                "{what}: {m}"
            );
            assert_eq!(fake.creates(), 1, "{what}: submitted again");
        }
    }
}

/// The audio files in `dir` (not the manifest).
fn results_in(dir: &Path) -> Vec<String> {
    results(dir).into_iter().map(|(n, _)| n).collect()
}

/// The lines of part `k` (from 0), as `dir`'s manifest records them: the files it is
/// downloaded to, one a line.
fn part_lines(dir: &Path, k: usize) -> usize {
    usize::try_from(manifest(dir)["parts"][k]["lines"].as_u64().unwrap()).unwrap()
}

/// Review 33-b #3: a part whose task was read finished, with its audio, by a run whose
/// download of it did not complete (here the file host cuts every body), and whose task then
/// reads `failed` (or `finished` with a line without audio: results expired that way) did
/// succeed: the vendor billed it. The rerun keeps it `submitted` with its task and the error,
/// exits 3 saying it was read finished before, and submits nothing; so does the next plain
/// rerun. Only `--resubmit-unknown` sends it again. Before: recorded `failed` (exit 1), and
/// the next plain rerun paid for it again, though the budget's message had promised a rerun
/// "finishes downloading without paying again".
#[test]
fn a_part_read_finished_but_not_downloaded_is_not_paid_again_when_its_task_then_reads_failed() {
    let line_gone = serde_json::json!({
        "code": 200, "message": "",
        "data": {"taskId": "t1", "taskType": "tts", "status": "finished", "result": {"results": [
            {"uri": "", "duration": 0, "errorMessage": "expired"},
        ]}},
    })
    .to_string();
    for (what, detail) in [("failed", failed_detail("t1")), ("line", line_gone)] {
        let fake = FakeVmeg::start(0, 1000, false);
        let c = case(&text(1));
        let dir = Path::new(&c.out);
        let args = speak_args(&c.file, &c.out);
        fake.cut_files(true);
        let r = fake_run(&fake, &args);
        assert_eq!(r.code, 3, "{what}: {r:?}");
        let m = manifest(dir);
        assert_eq!(m["parts"][0]["state"], "submitted", "{what}: {m}");
        assert!(m["parts"][0]["finished_seen_at_ms"].is_u64(), "{what}: {m}");
        fake.cut_files(false);
        fake.answer_details_with(200, &detail);
        for _ in 0..2 {
            let r = fake_run(&fake, &args);
            assert_eq!(r.code, 3, "{what}: {r:?}");
            let msg = s(&r.json()["error"]["message"]).to_owned();
            for needed in ["part 1 of 1", "t1", "read finished", "--resubmit-unknown"] {
                assert!(msg.contains(needed), "{what}: {needed:?} missing: {msg}");
            }
            let m = manifest(dir);
            assert_eq!(m["parts"][0]["state"], "submitted", "{what}: {m}");
            assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t1", "{what}: {m}");
            assert_eq!(fake.creates(), 1, "{what}: submitted again unasked");
        }
        // Asked, once reported: sent again, and the new task downloaded.
        let state = fake.state.clone();
        fake.on_request(move |path| {
            if path.contains("/task/tts/create") {
                *state.detail_answer.lock().unwrap() = None;
            }
        });
        let mut asked = args.clone();
        asked.push("--resubmit-unknown");
        fake_run(&fake, &asked).expect(0);
        assert_eq!(fake.creates(), 2, "{what}");
        let m = manifest(dir);
        assert_eq!(m["parts"][0]["state"], "done", "{what}: {m}");
        assert_eq!(m["parts"][0]["job_id"], "vmeg:speech:t2", "{what}: {m}");
    }
}

/// Review 33-b #4: a first SIGINT while parts' submits are on their way (their answers a
/// moment off) stops the run from starting parts and lets those submits answer (up to a few
/// seconds), so that their tasks are recorded: exit 3, `interrupted`, both parts (sent
/// together once the first create was answered) `submitted` with their job ids, named in
/// `job_ids`. Before: the submits in flight were dropped, both parts left `submitting` (a
/// JimmyAI one's paid task lost for good; VMEG's two keys, sent together, each other's rivals
/// on the rerun's search).
#[test]
fn a_signal_lets_the_submits_in_flight_answer_and_records_their_tasks() {
    // Tasks that take minutes: only the submits are waited for. The first create goes out
    // alone (the slow start): the two after it are on their way together once it is
    // answered.
    let sim = slow_tasks_with_held_creates(3);
    let c = case(&text(3));
    let dir = Path::new(&c.out);
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "3"]);
    let child = support::command(Some(&sim.url()), sim.key(), &[], &args).spawn_killed();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(dir.join(MANIFEST).exists()
        && manifest(dir)["parts"].as_array().is_some_and(|p| {
            p[0]["state"] == "submitted" && p[1..].iter().all(|p| p["state"] == "submitting")
        }))
    {
        assert!(Instant::now() < deadline, "no submits recorded");
        std::thread::sleep(Duration::from_millis(2));
    }
    // Both later submits are on their way (recorded, then sent), their answers held by the
    // latency.
    while sim.handle.stats().requests("vmeg.ttsCreateAsync") < 3 {
        assert!(Instant::now() < deadline, "the submits did not arrive");
        std::thread::sleep(Duration::from_millis(2));
    }
    support::send_signal(&child, "-INT");
    let out = child.wait_with_output_within("the run after SIGINT", 60);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["error"]["kind"], "interrupted", "{j}");
    let m = manifest(dir);
    let ids: Vec<&str> = (1..3)
        .map(|k| {
            assert_eq!(m["parts"][k]["state"], "submitted", "{m}");
            s(&m["parts"][k]["job_id"])
        })
        .collect();
    for id in &ids {
        assert!(
            j["error"]["job_ids"]
                .as_array()
                .is_some_and(|named| named.iter().any(|n| n == id)),
            "{id} not named: {j}"
        );
    }
    assert_eq!(paid(&sim), 3);
}

/// Review 33 pass 2 #5: after the first signal no new attempt of a create is sent. A create
/// sleeping in a retry's wait (a 429 with `Retry-After: 3`) when SIGINT comes never wakes to
/// send again: the grace ends with the one attempt the server saw, nothing paid, the part
/// left for the rerun. Before: the create woke inside the 5 s grace and sent a new attempt
/// (for JimmyAI a paid task, its id lost if its answer came after the grace).
#[test]
fn a_create_waiting_to_retry_sends_nothing_after_a_signal() {
    let faults = voiceclone_sim::FaultConfig {
        retry_after: Duration::from_secs(3),
        ..Default::default()
    };
    let sim = Sim::with(SimConfig::default().with_faults(faults), KEY);
    sim.handle
        .fail_next(
            "vmeg.ttsCreateAsync",
            voiceclone_sim::FaultKind::TooManyRequests,
            1,
        )
        .unwrap();
    let c = case(&text(1));
    let args = speak_args(&c.file, &c.out);
    let child = support::command(Some(&sim.url()), sim.key(), &[], &args).spawn_killed();
    let deadline = Instant::now() + Duration::from_secs(30);
    // The first attempt was answered 429: the create sleeps 3 s before its next one.
    while sim.handle.stats().requests("vmeg.ttsCreateAsync") < 1 {
        assert!(Instant::now() < deadline, "the submit did not arrive");
        std::thread::sleep(Duration::from_millis(2));
    }
    support::send_signal(&child, "-INT");
    let out = child.wait_with_output_within("the run after SIGINT", 60);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["error"]["kind"], "interrupted", "{j}");
    assert_eq!(
        sim.handle.stats().requests("vmeg.ttsCreateAsync"),
        1,
        "an attempt was sent after the signal: {j}"
    );
    assert_eq!(paid(&sim), 0);
}

/// Review 33-b #6: a part left `submitting` by an earlier run (its submit's answer lost: a
/// task may exist) that the run does not reach because the download budget stopped it
/// first is still of unknown outcome: exit 3, the part in `unknown_parts` saying why it was
/// not looked at, nothing sent. Before: exit 1, kind `download_budget`, no `unknown_parts`
/// (a script reading exit 1 as "failed, nothing pending" could start over and pay again).
#[test]
fn a_submitting_part_the_budget_stop_leaves_unread_is_still_an_unknown_outcome() {
    let fake = FakeVmeg::start(0, 1000, false);
    let c = case(&text(3));
    let dir = Path::new(&c.out);
    let mut args = speak_args(&c.file, &c.out);
    args.extend(["--concurrency", "1"]);
    fake_run(&fake, &args).expect(0);
    assert_eq!(fake.creates(), 3);
    // Part 3's submit as a lost one (its key kept), part 1's first file gone.
    let mut m = manifest(dir);
    let part = &mut m["parts"][2];
    part["state"] = "submitting".into();
    part.as_object_mut().unwrap().remove("job_id");
    part.as_object_mut().unwrap().remove("files");
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec(&m).unwrap()).unwrap();
    std::fs::remove_file(dir.join("001-01.wav")).unwrap();
    // Refetching part 1 runs past the budget before part 3's turn.
    args.extend(["--max-total-bytes", "500"]);
    let r = fake_run(&fake, &args);
    assert_eq!(r.code, 3, "{r:?}");
    let e = r.json()["error"].clone();
    let unknown = e["unknown_parts"].as_array().cloned().unwrap_or_default();
    assert_eq!(unknown.len(), 1, "{e}");
    let msg = s(&unknown[0]);
    for needed in ["part 3 of 3", "download budget", "rerun"] {
        assert!(msg.contains(needed), "{needed:?} missing: {msg}");
    }
    assert_eq!(fake.creates(), 3, "sent");
    assert_eq!(manifest(dir)["parts"][2]["state"], "submitting");
}

/// Review 33-b #7: a manifest that is a symlink (to another `--out` directory's manifest, to
/// keep it on shared storage) is refused (exit 2, `invalid_manifest`, naming the symlink and
/// where to resume), nothing sent, the link left as it is. Before: it was read through, but
/// the directory lock was this directory's (two directories linking one manifest ran at
/// once, each paying for the same parts) and the first save replaced the link with a file
/// of its own, the shared copy no longer updated.
#[cfg(unix)]
#[test]
fn a_manifest_that_is_a_symlink_is_refused_and_left_alone() {
    let fake = FakeVmeg::start(0, 100, false);
    let c = case(&text(1));
    let first = Path::new(&c.out);
    fake_run(&fake, &speak_args(&c.file, &c.out)).expect(0);
    let other = c.tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let link = other.join(MANIFEST);
    std::os::unix::fs::symlink(first.join(MANIFEST), &link).unwrap();
    let requests = fake.requests();
    let out = other.display().to_string();
    let r = fake_run(&fake, &speak_args(&c.file, &out));
    assert_eq!(r.code, 2, "{r:?}");
    let e = r.json()["error"].clone();
    assert_eq!(e["kind"], "invalid_manifest", "{e}");
    let msg = s(&e["message"]);
    for needed in ["symlink", first.to_str().unwrap()] {
        assert!(msg.contains(needed), "{needed:?} missing: {msg}");
    }
    assert_eq!(fake.requests(), requests, "something was sent");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced"
    );
    assert!(results_in(&other).is_empty());
}
