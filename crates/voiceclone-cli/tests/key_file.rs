//! Where the API key is read from. `--api-key-file` on FIFOs and pipes: a key that arrives
//! late is read, and one that never arrives is refused after a bounded wait, never a hang
//! with nothing printed. The key given as the file's name by mistake is never printed; a
//! key file saved by Notepad (with a byte order mark) is read; a key variable that is not
//! UTF-8 is said to be so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Run, Sim, SpawnKilled};

const KEY: &str = "sk-keyfile-test-0123456789abcdef";

/// Runs `voiceclone --provider vmeg --json --api-key-file PATH voices` against `sim` with no
/// key in the environment; `feed` is given the child's stdin (a pipe). Killed after `limit`
/// (then the test fails). Returns the run and how long it took.
fn voices_with_key_file(
    sim: &Sim,
    path: &str,
    limit: Duration,
    feed: impl FnOnce(std::process::ChildStdin) + Send + 'static,
) -> (Run, Duration) {
    voices_with_key_file_in(sim, path, limit, &[], feed)
}

/// [`voices_with_key_file`] with `env` set, killed after 30 s, nothing on stdin.
fn voices_with_key_file_env(sim: &Sim, path: &str, env: &[(&str, &str)]) -> (Run, Duration) {
    voices_with_key_file_in(sim, path, Duration::from_secs(30), env, drop)
}

fn voices_with_key_file_in(
    sim: &Sim,
    path: &str,
    limit: Duration,
    env: &[(&str, &str)],
    feed: impl FnOnce(std::process::ChildStdin) + Send + 'static,
) -> (Run, Duration) {
    let args = [
        "--provider",
        "vmeg",
        "--json",
        "--api-key-file",
        path,
        "voices",
    ];
    let started = Instant::now();
    let mut child = support::command(Some(&sim.url()), "", env, &args)
        .stdin(Stdio::piped())
        .spawn_killed();
    let stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || feed(stdin));
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "--api-key-file {path}: still running after {limit:?}: {:?}",
                Run::from_output(out, &[KEY], &args)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    (Run::from_output(out, &[KEY], &args), elapsed)
}

/// A FIFO nobody writes to: before, the open waited for a writer for ever (rc 124 under
/// `timeout`, nothing printed). Now: exit 2 after the 10 s wait for a writer, naming
/// `--api-key-file`, with nothing sent.
#[test]
fn a_key_fifo_with_no_writer_is_refused_after_a_bounded_wait() {
    let sim = Sim::fast(KEY);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("key-fifo");
    support::mkfifo(&fifo);
    let (r, elapsed) =
        voices_with_key_file(&sim, fifo.to_str().unwrap(), Duration::from_secs(40), drop);
    let r = r.expect(2);
    let j = r.json();
    let message = j["error"]["message"].as_str().unwrap();
    assert!(message.contains("--api-key-file"), "{j}");
    assert!(message.contains("FIFO") && message.contains("10 s"), "{j}");
    assert!(r.stderr.contains("--api-key-file"), "{r:?}");
    assert!(elapsed >= Duration::from_secs(9), "took {elapsed:?}");
    assert_eq!(sim.requests(), 0);
}

/// A FIFO whose writer opens it and stays silent (a `pass` stuck on a pinentry nobody
/// answers), or writes the start of a key and stays open: exit 2 once the wait for the whole
/// key is over, naming `--api-key-file`, with nothing sent. The wait is the production
/// `KEY_FILE_PATIENCE` (2 minutes for the key) cut a hundredfold by a debug-only test seam,
/// which can only shorten it; `context.rs` unit tests pin the values it is cut from. Before:
/// nothing tested that a silent writer ends, and a patience of `Duration::MAX` passed.
#[test]
fn a_key_fifo_whose_writer_stays_silent_is_refused_after_a_bounded_wait() {
    let sim = Sim::fast(KEY);
    let dir = tempfile::tempdir().unwrap();
    for (i, (part, said)) in [
        (&b""[..], "nothing arrived"),
        (&b"sk-"[..], "3 bytes arrived but no end"),
    ]
    .into_iter()
    .enumerate()
    {
        let fifo = dir.path().join(format!("key-fifo-{i}"));
        support::mkfifo(&fifo);
        let (done, wait_done) = std::sync::mpsc::channel::<()>();
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                // Waits for the reader (the command) to open its end.
                let mut f = std::fs::OpenOptions::new().write(true).open(&fifo)?;
                f.write_all(part)?;
                // Open, and silent, until the command has ended.
                let _ = wait_done.recv();
                Ok::<_, std::io::Error>(())
            })
        };
        let (r, elapsed) = voices_with_key_file_env(
            &sim,
            fifo.to_str().unwrap(),
            &[("VOICECLONE_TEST_KEY_FILE_PATIENCE_DIVISOR", "100")],
        );
        drop(done);
        writer.join().unwrap().unwrap();
        let r = r.expect(2);
        let j = r.json();
        let message = j["error"]["message"].as_str().unwrap();
        assert!(message.contains("--api-key-file"), "{j}");
        assert!(message.contains(said), "{said:?}: {j}");
        assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
        assert_eq!(sim.requests(), 0);
    }
}

/// A FIFO whose writer comes a second after the command started (`pass show` decrypting),
/// and one whose writer is there at once but writes a second later: both keys are read.
#[test]
fn a_key_fifo_whose_writer_is_late_is_read() {
    let sim = Sim::fast(KEY);
    let dir = tempfile::tempdir().unwrap();
    for writer_first in [false, true] {
        let fifo = dir.path().join(format!("key-fifo-{writer_first}"));
        support::mkfifo(&fifo);
        let writer = {
            let fifo = fifo.clone();
            let key = format!("{}\n", sim.key());
            std::thread::spawn(move || {
                if !writer_first {
                    std::thread::sleep(Duration::from_secs(1));
                }
                // Waits for the reader (the command) to open its end.
                let mut f = std::fs::OpenOptions::new().write(true).open(&fifo)?;
                if writer_first {
                    std::thread::sleep(Duration::from_secs(1));
                }
                f.write_all(key.as_bytes())
            })
        };
        let (r, elapsed) =
            voices_with_key_file(&sim, fifo.to_str().unwrap(), Duration::from_secs(40), drop);
        r.expect(0);
        writer.join().unwrap().unwrap();
        assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    }
}

/// A pipe (what `--api-key-file <(pass show vmeg)` names on Linux): a key written a second
/// late is read; a pipe whose writer closed having written nothing (`pass` failed) is an
/// empty key file at once, not a wait for a writer that cannot come.
#[test]
fn a_key_pipe_is_read_late_and_an_empty_one_refused_at_once() {
    let sim = Sim::fast(KEY);
    let key = format!("{}\n", sim.key());
    let (r, _) = voices_with_key_file(&sim, "/dev/stdin", Duration::from_secs(40), move |mut w| {
        std::thread::sleep(Duration::from_secs(1));
        let _ = w.write_all(key.as_bytes());
    });
    r.expect(0);
    let before = sim.requests();
    let (r, elapsed) = voices_with_key_file(&sim, "/dev/stdin", Duration::from_secs(40), drop);
    let j = r.expect(2).json();
    assert!(
        j["error"]["message"].as_str().unwrap().contains("empty"),
        "{j}"
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    assert_eq!(sim.requests(), before);
}

/// The key itself given to `--api-key-file` is not printed whatever the error: a key longer
/// than a file name may be (a 300-byte JWT) fails with "name too long", one with a `/` in it
/// with "not found" or "not a directory". Before: only "not found" hid the name, and the
/// environment's keys were registered for redaction only after the key file was read, so the
/// long key was printed even when it was VMEG_API_KEY's own. A file that exists is still
/// named.
#[test]
fn the_key_given_as_the_key_file_is_never_printed() {
    let long = format!("eyJ{}", "a".repeat(300));
    let file = tempfile::NamedTempFile::new().unwrap();
    let inside_a_file = format!("{}/sk-slash-key-0123456789", file.path().display());
    for (env_key, given) in [
        (long.as_str(), long.as_str()),
        ("", long.as_str()),
        ("", inside_a_file.as_str()),
        ("", "sk-nofile-0123456789abcdef"),
    ] {
        let args = [
            "--json",
            "--provider",
            "vmeg",
            "--api-key-file",
            given,
            "voices",
        ];
        let out = support::command(None, env_key, &[], &args)
            .output()
            .unwrap();
        let piece = &given[given.len() - 24..];
        let r = Run::from_output(out, &[env_key, piece], &args).expect(2);
        let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains("the name is not shown"), "{r:?}");
    }
    // A directory exists: its name is shown.
    let dir = tempfile::tempdir().unwrap();
    let shown = dir.path().display().to_string();
    let args = [
        "--json",
        "--provider",
        "vmeg",
        "--api-key-file",
        &shown,
        "voices",
    ];
    let out = support::command(None, "", &[], &args).output().unwrap();
    let r = Run::from_output(out, &[], &args).expect(2);
    assert!(r.stdout.contains(&shown), "{r:?}");
}

/// A key file saved by Windows Notepad starts with a UTF-8 byte order mark: it is read as the
/// key without it. Before: the BOM was sent as part of the key (401).
#[test]
fn a_key_file_with_a_byte_order_mark_is_read() {
    let sim = Sim::fast(KEY);
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(file, "\u{feff}{}\r\n", sim.key()).unwrap();
    let path = file.path().to_str().unwrap();
    let args = [
        "--provider",
        "vmeg",
        "--json",
        "--api-key-file",
        path,
        "voices",
    ];
    let out = support::command(Some(&sim.url()), "", &[], &args)
        .output()
        .unwrap();
    Run::from_output(out, &[KEY], &args).expect(0);
}

/// A key variable that is set but not UTF-8 is said to be so (never its bytes), not "no API
/// key: set VMEG_API_KEY", which sends the user looking for a variable that is there.
#[test]
fn a_key_variable_that_is_not_utf8_is_said_to_be_so() {
    use std::os::unix::ffi::OsStrExt;
    let args = ["--provider", "vmeg", "--json", "voices"];
    let mut cmd = support::command(None, "", &[], &args);
    cmd.env(
        "VMEG_API_KEY",
        std::ffi::OsStr::from_bytes(b"sk-\xff\xfe-latin1-key"),
    );
    let r = Run::from_output(cmd.output().unwrap(), &["latin1-key"], &args).expect(2);
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("VMEG_API_KEY is set but is not valid UTF-8"),
        "{r:?}"
    );
}

/// A key kept only in `--api-key-file` (no key variable set) is known to a dry run, as the
/// environment's keys are: given by mistake as the clone's name, inside the text, as the
/// voice, as the recording, inside a `--text-file` (refused, exit 2, as the real run refuses
/// them since review 34-e #1 and pass 2 #3: a dry run printed them redacted with exit 0), or
/// as the `--out` path (its error), with `--json` and without, the key never printed. Before,
/// a dry run never read the key file, and printed that key whole. A key file that cannot be
/// read is refused (exit 2, nothing sent), as the real run refuses it.
#[test]
fn a_key_only_in_the_key_file_is_redacted_from_a_dry_run() {
    let sim = Sim::fast(KEY);
    let tmp = tempfile::tempdir().unwrap();
    let key_file = tmp.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    let key_path = key_file.to_str().unwrap();
    let script = tmp.path().join("script.txt");
    std::fs::write(&script, format!("Read this: {KEY}. And this.")).unwrap();
    let text = format!("say {KEY} please");
    let out = format!("{}/no-such-dir/{KEY}.wav", tmp.path().display());
    let pieces: Vec<String> = {
        let chars: Vec<char> = KEY.to_ascii_lowercase().chars().collect();
        chars.windows(8).map(|w| w.iter().collect()).collect()
    };
    let url = sim.url();
    let before = sim.requests();
    for json in [false, true] {
        for (expect, args) in [
            (
                2,
                vec!["clone", support::SAMPLE, "--name", KEY, "--dry-run"],
            ),
            (
                2,
                vec!["speak", "--voice", "cv_1", "--text", &text, "--dry-run"],
            ),
            (
                2,
                vec!["speak", "--voice", KEY, "--text", "hi", "--dry-run"],
            ),
            (
                2,
                vec![
                    "speak",
                    "--voice",
                    "cv_1",
                    "--text-file",
                    script.to_str().unwrap(),
                    "--dry-run",
                ],
            ),
            (2, vec!["clone", KEY, "--dry-run"]),
            (
                2,
                vec![
                    "speak",
                    "--voice",
                    "cv_1",
                    "--text",
                    "hi",
                    "--wait",
                    "--out",
                    &out,
                    "--dry-run",
                ],
            ),
        ] {
            let mut all = vec!["--provider", "vmeg", "--api-key-file", key_path];
            if json {
                all.push("--json");
            }
            all.extend(&args);
            let o = support::command(Some(&url), "", &[], &all)
                .output()
                .unwrap();
            let r = Run::from_output(o, &[KEY], &all);
            assert_eq!(r.code, expect, "{all:?}: {r:?}");
            let printed = format!("{}{}", r.stdout, r.stderr).to_ascii_lowercase();
            for p in &pieces {
                assert!(
                    !printed.contains(p),
                    "piece {p:?} printed by {all:?}: {r:?}"
                );
            }
            if expect == 0 {
                assert!(printed.contains("[redacted]"), "{all:?}: {r:?}");
            }
        }
    }
    assert_eq!(sim.requests(), before, "a dry run sent something");
    // A key file that cannot be read: refused as the real run refuses it, nothing sent.
    let missing = tmp.path().join("missing-key");
    let args = [
        "--provider",
        "vmeg",
        "--json",
        "--api-key-file",
        missing.to_str().unwrap(),
        "speak",
        "--voice",
        "cv_1",
        "--text",
        "hi",
        "--dry-run",
    ];
    let o = support::command(Some(&url), "", &[], &args)
        .output()
        .unwrap();
    let r = Run::from_output(o, &[KEY], &args).expect(2);
    assert!(r.stdout.contains("--api-key-file"), "{r:?}");
    assert_eq!(sim.requests(), before);
}

/// Review 29-b #6: a key file that other local users can read (a read bit for group or others
/// in its mode: `echo $KEY > key` makes 0644) gets one warning on stderr, with `--json` and
/// `--quiet` too, and the run goes on; a file of mode 0600 or 0400, one whose group or others
/// may only write or search it (0620, 0601, 0710: review 29 pass 2-b #5, which were told
/// "readable"), and a pipe, get none. `chmod 600` is suggested only to the file's owner: run
/// as root on a file root does not own (a secret a container runtime mounted), the warning
/// says its owner should restrict it instead (that part only as root, who can `chown`).
#[cfg(unix)]
#[test]
fn a_key_file_other_users_can_read_gets_one_warning() {
    use std::os::unix::fs::PermissionsExt;
    let sim = Sim::fast(KEY);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, format!("{}\n", sim.key())).unwrap();
    let shown = path.to_str().unwrap();
    for (mode, warned) in [
        (0o644, true),
        (0o640, true),
        (0o604, true),
        (0o620, false),
        (0o601, false),
        (0o710, false),
        (0o600, false),
        (0o400, false),
    ] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        for flags in [&["--json"][..], &["--quiet"][..], &[][..]] {
            let args = [
                &["--provider", "vmeg"][..],
                flags,
                &["--api-key-file", shown, "voices"][..],
            ]
            .concat();
            let out = support::command(Some(&sim.url()), "", &[], &args)
                .output()
                .unwrap();
            let r = Run::from_output(out, &[KEY], &args).expect(0);
            let said = r.stderr.matches("readable by group/others").count();
            assert_eq!(said, usize::from(warned), "{mode:o} {flags:?}: {r:?}");
            if warned {
                assert!(r.stderr.contains("chmod 600"), "{r:?}");
                assert!(r.stderr.contains(shown), "{r:?}");
            }
            if flags == ["--json"] {
                r.json();
            }
        }
    }
    // Owned by someone else (only root can make that here): no `chmod 600` advice.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    if std::os::unix::fs::chown(&path, Some(65534), None).is_ok() {
        let args = ["--provider", "vmeg", "--api-key-file", shown, "voices"];
        let out = support::command(Some(&sim.url()), "", &[], &args)
            .output()
            .unwrap();
        let r = Run::from_output(out, &[KEY], &args).expect(0);
        assert_eq!(
            r.stderr.matches("readable by group/others").count(),
            1,
            "{r:?}"
        );
        assert!(!r.stderr.contains("chmod"), "{r:?}");
        assert!(r.stderr.contains("its owner"), "{r:?}");
        assert!(r.stderr.contains("65534"), "{r:?}");
    } else {
        eprintln!("cannot chown (not root): the case of a file owned by another user is skipped");
    }
    // A pipe: its mode says nothing of who can read the key.
    let key = format!("{}\n", sim.key());
    let (r, _) = voices_with_key_file(&sim, "/dev/stdin", Duration::from_secs(40), move |mut w| {
        let _ = w.write_all(key.as_bytes());
    });
    let r = r.expect(0);
    assert!(!r.stderr.contains("readable by group/others"), "{r:?}");
}
