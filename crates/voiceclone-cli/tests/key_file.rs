//! `--api-key-file` on FIFOs and pipes: a key that arrives late is read, and one that never
//! arrives is refused after a bounded wait, never a hang with nothing printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{Run, Sim};

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
    let args = [
        "--provider",
        "vmeg",
        "--json",
        "--api-key-file",
        path,
        "voices",
    ];
    let started = Instant::now();
    let mut child = support::command(Some(&sim.url()), "", &[], &args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
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
            std::thread::spawn(move || {
                if !writer_first {
                    std::thread::sleep(Duration::from_secs(1));
                }
                // Waits for the reader (the command) to open its end.
                let mut f = std::fs::OpenOptions::new().write(true).open(&fifo)?;
                if writer_first {
                    std::thread::sleep(Duration::from_secs(1));
                }
                f.write_all(format!("{KEY}\n").as_bytes())
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
    let (r, _) = voices_with_key_file(&sim, "/dev/stdin", Duration::from_secs(40), |mut w| {
        std::thread::sleep(Duration::from_secs(1));
        let _ = w.write_all(format!("{KEY}\n").as_bytes());
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
