//! Results by webhook through the built `voiceclone` binary: `webhook listen` against
//! deliveries this test signs itself (HMAC-SHA256 computed here, independently of the
//! adapter and the simulator), `clone --wait` / `speak --wait` with `--webhook-listen`
//! against the simulator, the usage errors of those flags, and the demo's webhook section.
//!
//! `--webhook-listen 127.0.0.1:0` picks its port when the command starts, but the simulator
//! must know where to deliver before that. The test puts a TCP relay in between: the
//! simulator delivers to the relay's port (known up front), and the relay forwards each
//! connection to the address the command prints on stderr, holding connections until it
//! has read it. No port is guessed, so nothing can race for it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use support::{KillOnDrop, Sim, SpawnKilled};
use voiceclone_sim::SimConfig;

const SECRET: &str = "whsec-listen-test-5d1e9a";
const KEY: &str = "sk-webhook-test-key-0123456789";
const SAMPLE: &str = "https://example.com/samples/voice.wav";
const LINE_WAIT: Duration = Duration::from_secs(10);

/// HMAC-SHA256(secret, timestamp + body), lowercase hex: VMEG's signature, written here
/// from its documentation.
fn sign(secret: &str, ts: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// POSTs one delivery over plain HTTP/1.1 and returns the status code.
fn post(addr: SocketAddr, path: &str, ts: &str, sig: &str, body: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LINE_WAIT)).unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-Timestamp: {ts}\r\nX-Signature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {answer:?}"))
}

/// A signed delivery with a fresh timestamp: `(timestamp, signature)`.
fn signed(body: &str) -> (String, String) {
    let ts = now_ms().to_string();
    let sig = sign(SECRET, &ts, body);
    (ts, sig)
}

fn clone_event(pipeline_key: &str, message: &str) -> String {
    serde_json::json!({
        "code": 200,
        "version": "v1",
        "event": "openapi-clone-voice",
        "pipelineKey": pipeline_key,
        "message": message,
        "extraData": {"voiceclone": {"idempotencyKey": "idem-1"}},
        "data": {"taskId": "task-1", "voiceId": "cv_1"}
    })
    .to_string()
}

/// Lines of a child's pipe, read on a thread of their own.
struct Lines(mpsc::Receiver<String>);

impl Lines {
    fn read(pipe: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines(rx)
    }

    fn next(&self) -> String {
        self.0
            .recv_timeout(LINE_WAIT)
            .unwrap_or_else(|e| panic!("no line within {LINE_WAIT:?}: {e}"))
    }

    /// The next line containing `needle` (others are skipped, and returned too).
    fn until(&self, needle: &str) -> (String, Vec<String>) {
        let mut skipped = Vec::new();
        loop {
            let line = self.next();
            if line.contains(needle) {
                return (line, skipped);
            }
            skipped.push(line);
        }
    }

    /// Everything left, once the child has exited: up to the end of the pipe (its reader
    /// thread then ends), not a fixed time that a loaded machine's scheduler may outlast.
    fn rest(&self) -> Vec<String> {
        let end = Instant::now() + LINE_WAIT;
        let mut out = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.0.recv_timeout(left) {
                Ok(l) => out.push(l),
                Err(mpsc::RecvTimeoutError::Disconnected) => return out,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
            }
        }
        panic!("the pipe stayed open {LINE_WAIT:?} after the process exited: {out:?}");
    }
}

/// A running `webhook listen`; killed if a test fails before it stops it.
struct Listen {
    child: Option<Child>,
    addr: SocketAddr,
    out: Lines,
    err: Lines,
}

impl Listen {
    fn start(extra: &[&str]) -> Listen {
        Listen::start_with_env(&[], extra)
    }

    fn start_with_env(env: &[(&str, &str)], extra: &[&str]) -> Listen {
        let mut child = Command::new(env!("CARGO_BIN_EXE_voiceclone"))
            .env_clear()
            .env("WH_SECRET", SECRET)
            .envs(env.iter().copied())
            .args(["webhook", "listen", "--addr", "127.0.0.1:0"])
            .args(["--secret-env", "WH_SECRET"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Lines::read(child.stdout.take().unwrap());
        let err = Lines::read(child.stderr.take().unwrap());
        let first = out.next();
        let v: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
        assert_eq!(v.as_object().unwrap().len(), 1, "{first}");
        let addr: SocketAddr = v["listening"].as_str().unwrap().parse().unwrap();
        assert_eq!(addr.ip().to_string(), "127.0.0.1");
        assert_ne!(addr.port(), 0, "{first}");
        Listen {
            child: Some(child),
            addr,
            out,
            err,
        }
    }

    fn post(&self, ts: &str, sig: &str, body: &str) -> u16 {
        post(self.addr, "/", ts, sig, body)
    }

    /// Sends `signal` and returns the exit code, with what was left on stdout and stderr.
    fn stop(mut self, signal: &str) -> (Option<i32>, Vec<String>, Vec<String>) {
        let mut child = self.child.take().unwrap();
        let sent = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("webhook listen did not stop within 20 s of {signal}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = self.out.rest();
        let err = self.err.rest();
        (status.code(), out, err)
    }
}

impl Drop for Listen {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn assert_no_secret(lines: &[String]) {
    for l in lines {
        assert!(
            !l.contains(SECRET) && !l.contains(KEY),
            "a secret was printed: {l}"
        );
    }
}

fn is_rfc3339_utc_ms(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
        && s.chars()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16, 19, 23].contains(&i) || c.is_ascii_digit())
}

#[test]
fn listen_prints_each_first_seen_event_once_and_refuses_bad_deliveries() {
    let l = Listen::start(&[]);

    // Good: 200 and one line with the fields.
    let body = clone_event("pk-good-1", "");
    let (ts, sig) = signed(&body);
    assert_eq!(l.post(&ts, &sig, &body), 200);
    let line = l.out.next();
    let j: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(j["pipeline_key"], "pk-good-1", "{j}");
    assert_eq!(j["event"], "openapi-clone-voice");
    assert_eq!(j["kind"], "clone");
    assert_eq!(j["code"], 200);
    assert_eq!(j["message"], Value::Null);
    assert_eq!(j["task_id"], "task-1");
    assert_eq!(j["status"], "succeeded");
    assert_eq!(j["voice_id"], "cv_1");
    assert_eq!(j["idempotency_key"], "idem-1");
    assert!(is_rfc3339_utc_ms(j["received_at"].as_str().unwrap()), "{j}");
    assert!(is_rfc3339_utc_ms(j["sent_at"].as_str().unwrap()), "{j}");

    // Duplicate (a redelivery: same pipelineKey, signed afresh): 200, a line on stderr only.
    let (ts2, sig2) = signed(&body);
    assert_eq!(l.post(&ts2, &sig2, &body), 200);
    let (dup, _) = l.err.until("duplicate");
    assert!(dup.contains("pk-good-1"), "{dup}");

    // Tampered body under the original signature: 401, one stderr line.
    let tampered = body.replace("cv_1", "cv_2");
    assert_eq!(l.post(&ts, &sig, &tampered), 401);
    let (refused, _) = l.err.until("refused");
    assert!(refused.contains("401"), "{refused}");

    // Stale: correctly signed, but the timestamp is 10 minutes old.
    let stale_body = clone_event("pk-stale", "");
    let old = (now_ms() - 600_000).to_string();
    let old_sig = sign(SECRET, &old, &stale_body);
    assert_eq!(l.post(&old, &old_sig, &stale_body), 401);
    let (refused, _) = l.err.until("refused");
    assert!(refused.contains("401"), "{refused}");

    // Malformed (signed, not JSON): 400.
    let junk = "not json";
    let (jts, jsig) = signed(junk);
    assert_eq!(l.post(&jts, &jsig, junk), 400);
    l.err.until("refused");

    // Too large: over the verifier's 1 MiB by one byte (the hub refuses it), and by more
    // (axum cuts it before the hub sees it): 413 and one stderr line each.
    for extra in [1, 2, 4096] {
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 * 1024 + extra - 10));
        assert_eq!(big.len(), 1024 * 1024 + extra);
        let (ts, sig) = signed(&big);
        assert_eq!(l.post(&ts, &sig, &big), 413, "{extra}");
        let (line, _) = l.err.until("refused");
        assert!(line.contains("413"), "{line}");
    }

    // Control characters in a server string: escaped on the line, the same value decoded.
    let nasty = "a\u{1b}]0;pwned\u{7}\u{1b}[31mred\r\nforged\u{7f}\u{9b}2J\u{202e}z\u{2028}e";
    let body = clone_event("pk-nasty", nasty);
    let (ts, sig) = signed(&body);
    assert_eq!(l.post(&ts, &sig, &body), 200);
    // The next stdout line is this one: the duplicate, the tampered, the stale and the
    // malformed deliveries printed nothing there (each answer went out after its line
    // would have been written).
    let line = l.out.next();
    assert!(
        !line
            .chars()
            .any(|c| c.is_control() || ('\u{2028}'..='\u{202e}').contains(&c)),
        "raw control characters on stdout: {line:?}"
    );
    let j: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(j["pipeline_key"], "pk-nasty", "{j}");
    assert_eq!(j["message"], nasty);

    // A TTS event carries its audio URLs; a failure its code and message.
    let tts = serde_json::json!({
        "code": 500, "event": "openapi-tts", "pipelineKey": "pk-tts",
        "message": "boom", "data": {"taskId": "task-2"}
    })
    .to_string();
    let (ts, sig) = signed(&tts);
    assert_eq!(l.post(&ts, &sig, &tts), 200);
    let j: Value = serde_json::from_str(&l.out.next()).unwrap();
    assert_eq!(j["pipeline_key"], "pk-tts", "{j}");
    assert_eq!(j["status"], "failed");
    assert_eq!(j["code"], 500);
    assert_eq!(j["message"], "boom");
    assert_eq!(j["task_id"], "task-2");

    let (code, out, err) = l.stop("-TERM");
    assert_eq!(
        code,
        Some(0),
        "SIGTERM must end it cleanly: {out:?} {err:?}"
    );
    assert!(out.is_empty(), "nothing more on stdout: {out:?}");
    assert_no_secret(&out);
    assert_no_secret(&err);
}

#[test]
fn listen_answers_on_its_path_only_and_stops_on_sigint() {
    let l = Listen::start(&["--path", "/vmeg/webhook"]);
    let body = clone_event("pk-path", "");
    let (ts, sig) = signed(&body);
    assert_eq!(post(l.addr, "/", &ts, &sig, &body), 404);
    let (line, _) = l.err.until("refused");
    assert!(line.contains("POST /") && line.contains("404"), "{line}");
    assert_eq!(post(l.addr, "/vmeg/webhook", &ts, &sig, &body), 200);
    let j: Value = serde_json::from_str(&l.out.next()).unwrap();
    assert_eq!(j["pipeline_key"], "pk-path");
    let (code, _, err) = l.stop("-INT");
    assert_eq!(code, Some(0), "{err:?}");
}

/// A `webhook listen` whose stdout reader went away after the first line: (the child, its
/// address, its stderr).
fn listen_with_stdout_closed(
    env: &[(&str, &str)],
    extra: &[&str],
) -> (KillOnDrop, SocketAddr, Lines) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_voiceclone"))
        .env_clear()
        .env("WH_SECRET", SECRET)
        .envs(env.iter().copied())
        .args([
            "webhook",
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--secret-env",
            "WH_SECRET",
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn_killed();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let err = Lines::read(child.stderr.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let v: Value = serde_json::from_str(&first).unwrap();
    let addr: SocketAddr = v["listening"].as_str().unwrap().parse().unwrap();
    drop(stdout); // the reader goes away
    (child, addr, err)
}

/// Waits (20 s at most) for `child` to exit; returns its exit code.
fn exit_code(mut child: KillOnDrop) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("webhook listen kept running with stdout closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn listen_stops_with_exit_3_when_stdout_closes_and_the_unprinted_event_is_redelivered() {
    let (child, addr, err) = listen_with_stdout_closed(&[], &[]);
    let body = clone_event("pk-unread", "");
    let (ts, sig) = signed(&body);
    // Its line could not be written: 503, so that VMEG sends it again (not a 200 for an
    // event nobody read).
    assert_eq!(post(addr, "/", &ts, &sig, &body), 503);
    assert_eq!(exit_code(child), Some(3));
    let (line, _) = err.until("event not printed");
    assert!(line.contains("pipelineKey pk-unread"), "{line}");
    assert!(line.contains("answered 503"), "{line}");
    assert!(!line.contains("stays marked"), "{line}");
    let (line, _) = err.until("stdout was closed");
    assert!(line.starts_with("error:"), "{line}");
    // VMEG's redelivery reaches the next listener, which prints it.
    let next = Listen::start(&[]);
    let (ts, sig) = signed(&body);
    assert_eq!(next.post(&ts, &sig, &body), 200);
    let v: Value = serde_json::from_str(&next.out.next()).unwrap();
    assert_eq!(v["pipeline_key"], "pk-unread");
    let (code, _, _) = next.stop("-TERM");
    assert_eq!(code, Some(0));
}

#[test]
fn an_event_one_listener_could_not_print_is_printed_by_another_on_the_same_redis() {
    let Some(url) = redis_url() else { return };
    let env = [("REDIS_URL_X", url.as_str())];
    let extra = ["--redis-url-env", "REDIS_URL_X"];
    let (gone, gone_addr, gone_err) = listen_with_stdout_closed(&env, &extra);
    let other = Listen::start_with_env(&env, &extra);
    let pk = format!(
        "{:032x}",
        now_ms() ^ u128::from(std::process::id()) ^ 0x5eed
    );
    let body = clone_event(&pk, "");
    let (ts, sig) = signed(&body);
    assert_eq!(post(gone_addr, "/", &ts, &sig, &body), 503);
    assert_eq!(exit_code(gone), Some(3));
    let (line, _) = gone_err.until("event not printed");
    assert!(!line.contains("stays marked"), "{line}");
    // The shared store forgot it: the redelivery is new to the other instance, not a
    // duplicate, and is printed there.
    std::thread::sleep(Duration::from_millis(5));
    let (ts, sig) = signed(&body);
    assert_eq!(other.post(&ts, &sig, &body), 200);
    let v: Value = serde_json::from_str(&other.out.next()).unwrap();
    assert_eq!(v["pipeline_key"], pk.as_str());
    let (code, out, err) = other.stop("-TERM");
    assert_eq!(code, Some(0));
    assert!(out.is_empty(), "{out:?}");
    assert!(
        !err.iter().any(|l| l.contains("duplicate delivery")),
        "{err:?}"
    );
}

/// Runs the binary to completion (killed after 20 s: a listener that wrongly started).
fn run_bounded(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_voiceclone"));
    cmd.env_clear()
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn_killed();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let run = (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_no_secret(&[run.1.clone(), run.2.clone()]);
    run
}

#[test]
fn listen_usage_errors_exit_2() {
    let listen = ["webhook", "listen", "--addr", "127.0.0.1:0"];
    let with_secret = [("WH_SECRET", SECRET)];
    type Env<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Env, Vec<&str>, &str)> = vec![
        (
            with_secret.to_vec(),
            [
                &["--provider", "jimmyai"][..],
                &listen,
                &["--secret-env", "WH_SECRET"],
            ]
            .concat(),
            "JimmyAI has no webhooks",
        ),
        (
            vec![("WH_SECRET", SECRET), ("VOICECLONE_PROVIDER", "jimmyai")],
            [&listen[..], &["--secret-env", "WH_SECRET"]].concat(),
            "JimmyAI has no webhooks",
        ),
        (
            vec![],
            [&listen[..], &["--secret-env", "WH_SECRET"]].concat(),
            "WH_SECRET",
        ),
        (
            vec![("WH_SECRET", " ")],
            [&listen[..], &["--secret-env", "WH_SECRET"]].concat(),
            "is empty",
        ),
        (
            with_secret.to_vec(),
            [
                &listen[..],
                &["--secret-env", "WH_SECRET", "--path", "/{id}"],
            ]
            .concat(),
            "--path",
        ),
        (
            with_secret.to_vec(),
            [
                &listen[..],
                &[
                    "--secret-env",
                    "WH_SECRET",
                    "--redis-url-env",
                    "NO_SUCH_VAR",
                ],
            ]
            .concat(),
            "NO_SUCH_VAR",
        ),
        (
            with_secret.to_vec(),
            [
                &["webhook", "listen", "--addr", "not-an-address"][..],
                &["--secret-env", "WH_SECRET"],
            ]
            .concat(),
            "not-an-address",
        ),
    ];
    for (env, args, why) in cases {
        let (code, out, err) = run_bounded(&env, &args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(out.trim().is_empty(), "{args:?}: nothing listened: {out}");
        let mut json = vec!["--json"];
        json.extend(&args);
        let (code, out, _) = run_bounded(&env, &json);
        assert_eq!(code, 2, "{json:?}: {out}");
        let j: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert!(j["error"]["kind"].is_string(), "{j}");
        assert!(j.get("listening").is_none(), "{j}");
    }
}

/// README: the binary has the `redis` feature by default; "`--no-default-features` leaves it
/// out, and the flag then exits 2". Only a build without the feature runs this:
/// `cargo test -p voiceclone-cli --no-default-features --test webhook_listen`.
#[cfg(not(feature = "redis"))]
#[test]
fn without_the_redis_feature_the_redis_flag_exits_2() {
    let env = [
        ("WH_SECRET", SECRET),
        ("REDIS_URL_FOR_TEST", "redis://127.0.0.1:1/"),
    ];
    let args = [
        "webhook",
        "listen",
        "--addr",
        "127.0.0.1:0",
        "--secret-env",
        "WH_SECRET",
        "--redis-url-env",
        "REDIS_URL_FOR_TEST",
    ];
    let (code, out, err) = run_bounded(&env, &args);
    assert_eq!(code, 2, "{out} {err}");
    assert!(err.contains("no Redis support"), "{err}");
}

#[test]
fn help_says_listen_output_is_a_stream_of_json_lines() {
    for args in [
        &["webhook", "listen", "--help"][..],
        &["webhook", "listen", "-h"],
        &["--help"],
    ] {
        let (code, out, _) = run_bounded(&[], args);
        assert_eq!(code, 0, "{args:?}");
        assert!(
            out.replace('\n', " ").contains("stream of JSON lines"),
            "{args:?}: {out}"
        );
    }
}

/// The Redis URL is read from the variable and never printed, even when connecting fails.
#[test]
fn listen_redis_url_comes_from_the_environment_and_is_never_printed() {
    let password = "hunter2-redis-pass-77";
    let url = format!("redis://:{password}@127.0.0.1:1/0");
    let env = [("WH_SECRET", SECRET), ("REDIS_URL_X", url.as_str())];
    for json in [false, true] {
        let mut args = vec![];
        if json {
            args.push("--json");
        }
        args.extend([
            "webhook",
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--secret-env",
            "WH_SECRET",
            "--redis-url-env",
            "REDIS_URL_X",
        ]);
        let (code, out, err) = run_bounded(&env, &args);
        assert!(
            !out.contains(password) && !err.contains(password),
            "the Redis password was printed: {out} {err}"
        );
        // Nothing listens on port 1: unreachable, exit 3, before anything is served.
        assert_eq!(code, 3, "{out} {err}");
        assert!(!out.contains("listening"), "{out}");
        assert!(err.contains("Redis"), "{err}");
    }
}

/// One command to the Redis at `url` (its password sent first, if it has one) over a plain
/// TCP connection; the first line of the answer (`+OK`, `:1`, `-ERR ...`).
fn redis_command(url: &str, args: &[&str]) -> String {
    let parsed = url::Url::parse(url).unwrap();
    let host = parsed.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = parsed.port().unwrap_or(6379);
    let mut conn = TcpStream::connect((host.as_str(), port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut send = |args: &[&str]| {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        conn.write_all(out.as_bytes()).unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    };
    if let Some(password) = parsed.password() {
        let user = match parsed.username() {
            "" => "default",
            u => u,
        };
        send(&["AUTH", user, password]);
    }
    send(args)
}

/// README: a Redis on which no delivery could be recorded is exit 3 before anything is
/// served, like an unreachable one: here a Redis 7 user with key permissions only
/// (`resetchannels`, the default for new users), who may not PUBLISH on the store's channel.
/// The error names the missing permission, never the password. Before: it listened, and
/// answered every delivery 503 ("delivery not recorded: ... NOPERM").
#[test]
fn listen_on_a_redis_user_who_may_not_publish_exits_3_before_serving() {
    let Some(url) = redis_url() else { return };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let user = format!("vc-cli-test-{}-{nanos}", std::process::id());
    let password = "hunter2-acl-pass-88";
    let made = redis_command(
        &url,
        &[
            "ACL",
            "SETUSER",
            &user,
            "on",
            &format!(">{password}"),
            "~*",
            "+@all",
            "resetchannels",
        ],
    );
    struct DelUser<'a>(&'a str, &'a str);
    impl Drop for DelUser<'_> {
        fn drop(&mut self) {
            let _ = std::panic::catch_unwind(|| redis_command(self.0, &["ACL", "DELUSER", self.1]));
        }
    }
    let _del = DelUser(&url, &user);
    assert_eq!(made, "+OK", "ACL SETUSER");
    let mut restricted = url::Url::parse(&url).unwrap();
    restricted.set_username(&user).unwrap();
    restricted.set_password(Some(password)).unwrap();
    let env = [("WH_SECRET", SECRET), ("REDIS_URL_X", restricted.as_str())];
    let (code, out, err) = run_bounded(
        &env,
        &[
            "webhook",
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--secret-env",
            "WH_SECRET",
            "--redis-url-env",
            "REDIS_URL_X",
        ],
    );
    assert_eq!(code, 3, "{out} {err}");
    assert!(!out.contains("listening"), "{out}");
    assert!(err.contains("PUBLISH"), "{err}");
    assert!(
        !out.contains(password) && !err.contains(password),
        "the Redis password was printed: {out} {err}"
    );
}

/// The Redis of `.ci/run` (`VOICECLONE_REDIS_URL`): required when `CI` is set, otherwise the
/// test is skipped with a notice.
fn redis_url() -> Option<String> {
    match std::env::var("VOICECLONE_REDIS_URL") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but VOICECLONE_REDIS_URL is not: .ci/run starts a redis-server")
        }
        _ => {
            eprintln!("skipped: set VOICECLONE_REDIS_URL to a Redis on loopback to run this test");
            None
        }
    }
}

/// Two `webhook listen` processes on one Redis: a delivery printed by the first is a
/// duplicate for the second (answered 200, not printed), as a redelivery landing on another
/// instance behind a load balancer must be.
#[test]
fn two_listeners_on_one_redis_print_a_redelivery_once() {
    let Some(url) = redis_url() else { return };
    let env = [("REDIS_URL_X", url.as_str())];
    let extra = ["--redis-url-env", "REDIS_URL_X"];
    let a = Listen::start_with_env(&env, &extra);
    let b = Listen::start_with_env(&env, &extra);
    let pk = format!("{:032x}", now_ms() ^ u128::from(std::process::id()));
    let body = clone_event(&pk, "");
    let (ts, sig) = signed(&body);
    assert_eq!(a.post(&ts, &sig, &body), 200);
    let line = a.out.next();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["pipeline_key"], pk.as_str(), "{line}");
    // VMEG signs the redelivery afresh; it lands on the other instance.
    std::thread::sleep(Duration::from_millis(5));
    let (ts, sig) = signed(&body);
    assert_eq!(b.post(&ts, &sig, &body), 200);
    let (code, out, err) = b.stop("-TERM");
    assert_eq!(code, Some(0));
    assert!(out.is_empty(), "a duplicate was printed: {out:?}");
    assert!(
        err.iter().any(|l| l.contains("duplicate")),
        "no stderr line for the duplicate: {err:?}"
    );
    let (code, out, _) = a.stop("-TERM");
    assert_eq!(code, Some(0));
    assert!(out.is_empty(), "{out:?}");
}

/// The simulator (shared support), seen as these tests need it.
trait SimExt {
    fn env(&self) -> Vec<(String, String)>;
    fn status_polls(&self) -> u64;
}

impl SimExt for Sim {
    fn env(&self) -> Vec<(String, String)> {
        let url = self.url();
        vec![
            ("VMEG_API_KEY".into(), self.key().into()),
            ("JIMMYAI_API_KEY".into(), self.key().into()),
            ("VMEG_BASE_URL".into(), url.clone()),
            ("JIMMYAI_BASE_URL".into(), url),
            ("WH_SECRET".into(), SECRET.into()),
        ]
    }

    /// Status requests a VMEG wait makes: task detail, and the clone list it can fall back to.
    fn status_polls(&self) -> u64 {
        let s = self.handle.stats();
        s.requests("vmeg.tasksDetail") + s.requests("vmeg.cloneVoiceList")
    }
}

/// A TCP relay on a port known now, forwarding to an address learned later.
struct Relay {
    addr: SocketAddr,
    target: tokio::sync::watch::Sender<Option<SocketAddr>>,
    _rt: tokio::runtime::Runtime,
}

impl Relay {
    fn start() -> Relay {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (target, rx) = tokio::sync::watch::channel(None::<SocketAddr>);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(to) = rx.wait_for(Option::is_some).await.map(|t| *t) else {
                        return;
                    };
                    let Some(to) = to else { return };
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Relay {
            addr,
            target,
            _rt: rt,
        }
    }
}

/// Runs `args` with `--webhook-listen 127.0.0.1:0`: the relay learns the receiver's address
/// from stderr. Returns (exit code, stdout, stderr lines, the receiver's address, elapsed).
fn run_by_webhook(
    sim: &Sim,
    relay: &Relay,
    args: &[&str],
) -> (i32, String, Vec<String>, SocketAddr, Duration) {
    run_by_webhook_with(sim, relay, args, |_| {})
}

/// [`run_by_webhook`], calling `during` with the receiver's address while the command runs.
fn run_by_webhook_with(
    sim: &Sim,
    relay: &Relay,
    args: &[&str],
    during: impl FnOnce(SocketAddr),
) -> (i32, String, Vec<String>, SocketAddr, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_voiceclone"))
        .env_clear()
        .envs(sim.env())
        .args(args)
        .args([
            "--webhook-listen",
            "127.0.0.1:0",
            "--webhook-secret-env",
            "WH_SECRET",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn_killed();
    let mut stdout = child.stdout.take().unwrap();
    let err = Lines::read(child.stderr.take().unwrap());
    let (line, mut err_lines) = err.until("listening on http://");
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    relay.target.send_replace(Some(addr));
    err_lines.push(line);
    during(addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    err_lines.extend(err.rest());
    assert_no_secret(&[out.clone()]);
    assert_no_secret(&err_lines);
    relay.target.send_replace(None);
    (status.code().unwrap_or(-1), out, err_lines, addr, elapsed)
}

/// VMEG sends the whole account's deliveries to its one webhook URL: while `clone --wait
/// --webhook-listen` stands in for it, a delivery of another task is answered 503 (VMEG
/// delivers it again later, to the account's own receiver), never 200 and thrown away; a
/// bad signature is still 401, and the command's own task still ends its wait by webhook.
#[test]
fn a_wait_by_webhook_answers_503_to_another_tasks_delivery() {
    let relay = Relay::start();
    let task = Duration::from_millis(1500);
    let sim = Sim::with(
        SimConfig::default()
            .with_durations(task, task)
            .with_webhook(format!("http://{}/", relay.addr), SECRET),
        KEY,
    );
    let clone = [
        "--provider",
        "vmeg",
        "--json",
        "clone",
        SAMPLE,
        "--language",
        "en-US",
        "--wait",
    ];
    let (code, out, err, _, _) = run_by_webhook_with(&sim, &relay, &clone, |addr| {
        let other = clone_event("pk-another-task", "");
        let (ts, sig) = signed(&other);
        assert_eq!(
            post(addr, "/", &ts, &sig, &other),
            503,
            "another task's delivery"
        );
        assert_eq!(post(addr, "/", &ts, &"0".repeat(64), &other), 401);
    });
    assert_eq!(code, 0, "{out} {err:?}");
    let j: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(j["status"], "succeeded", "{j}");
    let polls = sim.status_polls();
    assert!(
        polls <= 1,
        "{polls} status polls: ended by polling, not its webhook"
    );
}

/// `clone --wait --webhook-listen` verifies each delivery once: the adapter's verifier
/// counts the deliveries it refuses and warns at the 1st, 2nd, 4th, ... (`refused_so_far`),
/// so a forged delivery and a stale one (both 401) give two warnings, the 1st and the 2nd.
/// Before, a middleware verified each delivery to find its task and the route verified it
/// again: the same two gave three warnings, counting to 4. The command's own task still ends
/// its wait by webhook.
#[test]
fn a_wait_by_webhook_verifies_each_delivery_once() {
    let relay = Relay::start();
    let task = Duration::from_millis(1500);
    let sim = Sim::with(
        SimConfig::default()
            .with_durations(task, task)
            .with_webhook(format!("http://{}/", relay.addr), SECRET),
        KEY,
    );
    let clone = [
        "--provider",
        "vmeg",
        "--json",
        "clone",
        SAMPLE,
        "--language",
        "en-US",
        "--wait",
    ];
    let (code, out, err, _, _) = run_by_webhook_with(&sim, &relay, &clone, |addr| {
        let body = clone_event("pk-refused", "");
        let (ts, _) = signed(&body);
        assert_eq!(post(addr, "/", &ts, &"0".repeat(64), &body), 401, "forged");
        let stale = (now_ms() - 3_600_000).to_string();
        let sig = sign(SECRET, &stale, &body);
        assert_eq!(post(addr, "/", &stale, &sig, &body), 401, "stale");
    });
    assert_eq!(code, 0, "{out} {err:?}");
    let refusals: Vec<&String> = err
        .iter()
        .filter(|l| l.contains("webhook delivery refused"))
        .collect();
    assert_eq!(refusals.len(), 2, "{refusals:#?}");
    // Counted per kind of failure (review 26 webhook #3): each is the first of its kind, and
    // only the stale one was signed with the right secret.
    assert!(refusals[0].contains("refused_so_far=1"), "{refusals:#?}");
    assert!(refusals[0].contains("signed=false"), "{refusals:#?}");
    assert!(refusals[1].contains("refused_so_far=1"), "{refusals:#?}");
    assert!(refusals[1].contains("signed=true"), "{refusals:#?}");
    let j: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(j["status"], "succeeded", "{j}");
    assert!(sim.status_polls() <= 1, "ended by polling, not its webhook");
}

#[test]
fn clone_and_speak_wait_end_on_the_webhook_without_polling() {
    // The simulator delivers to the relay, which forwards to the command's receiver. Tasks
    // take 300 ms: long enough that a wait by polling alone would see them unfinished at its
    // first poll and poll again (2 s later), short enough for a quick test.
    let relay = Relay::start();
    let task = Duration::from_millis(300);
    let sim = Sim::with(
        SimConfig::default()
            .with_durations(task, task)
            .with_webhook(format!("http://{}/", relay.addr), SECRET),
        KEY,
    );

    let clone = [
        "--provider",
        "vmeg",
        "--json",
        "clone",
        SAMPLE,
        "--language",
        "en-US",
        "--wait",
    ];
    let (code, out, err, addr, elapsed) = run_by_webhook(&sim, &relay, &clone);
    assert_eq!(code, 0, "{out} {err:?}");
    let j: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(j["status"], "succeeded", "{j}");
    assert_eq!(j["waited"], true);
    assert_eq!(j["webhook_listen"], addr.to_string());
    let voice = j["voice_id"].as_str().unwrap().to_owned();
    assert!(voice.starts_with("vmeg:voice:cv_"), "{j}");
    assert!(
        j["voice_vendor_id"].as_str().unwrap().starts_with("cv_"),
        "{j}"
    );
    let polls = sim.status_polls();
    assert!(polls <= 1, "{polls} status polls: {:?}", sim.handle.stats());
    // The webhook ended it: fallback polling would have started 30 s into the wait.
    assert!(elapsed < Duration::from_secs(25), "{elapsed:?}");
    // The simulator records a delivery when its answer comes back through the relay, which
    // can be after the command, already answered, has exited: wait for the record.
    let vendor_id = voice.trim_start_matches("vmeg:voice:");
    let delivered =
        |d: &voiceclone_sim::Delivery| d.status == Some(200) && d.body.contains(vendor_id);
    let deadline = Instant::now() + Duration::from_secs(10);
    let deliveries = loop {
        let all = sim.handle.webhook_deliveries();
        if all.iter().any(delivered) || Instant::now() > deadline {
            break all;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(deliveries.iter().any(delivered), "{deliveries:?}");

    let speak = [
        "--provider",
        "vmeg",
        "--json",
        "speak",
        "--voice",
        &voice,
        "--text",
        "Hello.",
        "--wait",
    ];
    let before = sim.status_polls();
    let (code, out, err, _, elapsed) = run_by_webhook(&sim, &relay, &speak);
    assert_eq!(code, 0, "{out} {err:?}");
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["kind"], "speech", "{j}");
    assert_eq!(j["status"], "succeeded", "{j}");
    assert!(j["audio_url"].as_str().unwrap().starts_with("http"), "{j}");
    let polls = sim.status_polls() - before;
    assert!(polls <= 1, "{polls} status polls");
    assert!(elapsed < Duration::from_secs(25), "{elapsed:?}");
}

#[test]
fn webhook_wait_flag_misuse_exits_2_with_nothing_sent() {
    let sim = Sim::fast(KEY);
    let env_owned = sim.env();
    let env: Vec<(&str, &str)> = env_owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let clone = ["--provider", "vmeg", "clone", SAMPLE];
    let speak = [
        "--provider",
        "vmeg",
        "speak",
        "--voice",
        "cv_x",
        "--text",
        "Hi",
    ];
    let listen = ["--webhook-listen", "127.0.0.1:0"];
    let secret = ["--webhook-secret-env", "WH_SECRET"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            [&clone[..], &["--wait"], &listen].concat(),
            "--webhook-secret-env",
        ),
        (
            [&clone[..], &["--wait"], &secret].concat(),
            "--webhook-listen",
        ),
        ([&clone[..], &listen, &secret].concat(), "--wait"),
        ([&speak[..], &listen, &secret].concat(), "--wait"),
        (
            [&speak[..], &["--wait"], &listen].concat(),
            "--webhook-secret-env",
        ),
        (
            [
                &["--provider", "jimmyai"][..],
                &clone[2..],
                &["--wait"],
                &listen,
                &secret,
            ]
            .concat(),
            "JimmyAI has no webhooks",
        ),
        (
            [
                &["--provider", "jimmyai"][..],
                &speak[2..],
                &["--wait"],
                &listen,
                &secret,
            ]
            .concat(),
            "JimmyAI has no webhooks",
        ),
        (
            [&clone[..], &["--wait", "--sync"], &listen, &secret].concat(),
            "--sync",
        ),
        (
            [
                &clone[..],
                &["--wait", "--webhook-listen", &taken_addr],
                &secret,
            ]
            .concat(),
            "cannot listen",
        ),
        (
            [
                &clone[..],
                &["--wait"],
                &listen,
                &["--webhook-secret-env", "UNSET_VAR"],
            ]
            .concat(),
            "UNSET_VAR",
        ),
    ];
    for (args, why) in cases {
        let (code, out, err) = run_bounded(&env, &args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert!(err.contains(why), "{args:?}: {err}");
        let mut json = vec!["--json"];
        json.extend(&args);
        let (code, out, _) = run_bounded(&env, &json);
        assert_eq!(code, 2, "{json:?}: {out}");
        let j: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert!(j["error"]["kind"].is_string(), "{j}");
    }
    let stats = sim.handle.stats();
    assert_eq!(stats.requests_total, 0, "something was sent: {stats:?}");
    drop(taken);
}

#[test]
fn demo_shows_a_vmeg_clone_completed_by_webhook() {
    let (code, out, err) = run_bounded(&[], &["demo"]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(out.contains("== vmeg, completed by webhook =="), "{out}");
    assert!(
        out.contains("clone: done by webhook, voice vmeg:voice:cv_"),
        "{out}"
    );
    assert!(
        out.contains("clone: 0 status polls during the wait"),
        "{out}"
    );
    let (code, out, _) = run_bounded(&[], &["--json", "demo"]);
    assert_eq!(code, 0);
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["webhook"]["completed_by"], "webhook", "{j}");
    assert_eq!(j["webhook"]["status_polls"], 0, "{j}");
    assert!(
        j["webhook"]["voice_id"]
            .as_str()
            .unwrap()
            .starts_with("cv_"),
        "{j}"
    );
    assert_eq!(j["providers"].as_array().unwrap().len(), 2, "{j}");
}

/// A TCP proxy in front of the test's Redis that holds each of Redis's answers for the
/// delay set (none at first) before passing it on: a Redis that answers slowly.
struct SlowRedis {
    url: String,
    delay_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// How many answers were held back by a delay.
    held: std::sync::Arc<std::sync::atomic::AtomicU64>,
    _rt: tokio::runtime::Runtime,
}

impl SlowRedis {
    fn start(redis_url: &str) -> SlowRedis {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut url = url::Url::parse(redis_url).unwrap();
        let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(6379));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(listener.local_addr().unwrap().port()))
            .unwrap();
        let delay_ms = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let held = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let flag = delay_ms.clone();
        let counted = held.clone();
        rt.spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (mut from_client, mut to_client) = inbound.into_split();
                let (mut from_redis, mut to_redis) = outbound.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_client, &mut to_redis).await;
                });
                let flag = flag.clone();
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = from_redis.read(&mut buf).await {
                        let ms = flag.load(std::sync::atomic::Ordering::SeqCst);
                        if ms > 0 {
                            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        if to_client.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SlowRedis {
            url: url.to_string(),
            delay_ms,
            held,
            _rt: rt,
        }
    }

    fn set_delay(&self, ms: u64) {
        self.delay_ms.store(ms, std::sync::atomic::Ordering::SeqCst);
    }

    /// Waits (20 s at most) until an answer is being held back by the delay.
    fn until_holding(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.held.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            assert!(
                Instant::now() < deadline,
                "no answer of Redis held within 20 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A sender that hangs up while the shared store is still recording its delivery (VMEG
/// giving up on a slow answer): the store marks the event handled, so the listener must
/// still print it; VMEG's redelivery is then a duplicate, answered 200, not printed twice.
#[test]
fn an_event_whose_sender_hung_up_while_redis_recorded_it_is_printed_once() {
    let Some(url) = redis_url() else { return };
    let redis = SlowRedis::start(&url);
    let env = [("REDIS_URL_X", redis.url.as_str())];
    let l = Listen::start_with_env(&env, &["--redis-url-env", "REDIS_URL_X"]);
    let pk = format!("{:032x}", now_ms() ^ u128::from(std::process::id()) ^ 0x4a9);
    let body = clone_event(&pk, "");
    let (ts, sig) = signed(&body);
    // Inside the store's 2 s timeout.
    redis.set_delay(500);
    let mut s = TcpStream::connect(l.addr).unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nX-Timestamp: {ts}\r\nX-Signature: {sig}\r\nContent-Length: {}\r\n\r\n{body}",
        l.addr,
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    // Gone before Redis answers the record (held 500 ms).
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    let line = l.out.next();
    redis.set_delay(0);
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["pipeline_key"], pk.as_str(), "{line}");
    // VMEG got no answer and redelivers: a duplicate of a printed event. Until the
    // listener has marked it handled (one more Redis call after the line is printed: on a
    // loaded machine the redelivery can come first) it is answered 503, and VMEG tries
    // again, as here.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let (ts, sig) = signed(&body);
        let status = l.post(&ts, &sig, &body);
        if status != 503 || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status, 200);
    let (code, out, err) = l.stop("-TERM");
    assert_eq!(code, Some(0), "{err:?}");
    assert!(out.is_empty(), "printed twice: {out:?}");
    assert!(err.iter().any(|l| l.contains("duplicate")), "{err:?}");
}

/// A sender that drips its headers a byte at a time (slowloris) is cut off by `webhook
/// listen` after its header timeout (10 s), and deliveries on other connections are
/// served meanwhile. Cut within 20 s: by the header timeout, not by the 30 s a connection is
/// served at most.
#[test]
fn listen_cuts_off_a_sender_that_drips_its_headers() {
    let l = Listen::start(&[]);
    let opened = Instant::now();
    let mut slow = TcpStream::connect(l.addr).unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let body = clone_event("pk-beside-slowloris", "");
    let (ts, sig) = signed(&body);
    assert_eq!(l.post(&ts, &sig, &body), 200);
    let v: Value = serde_json::from_str(&l.out.next()).unwrap();
    assert_eq!(v["pipeline_key"], "pk-beside-slowloris");
    let end = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 256];
    let closed = loop {
        if Instant::now() > end {
            break false;
        }
        if slow.write_all(b"a").is_err() {
            break true;
        }
        match slow.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break true,
        }
    };
    assert!(
        closed,
        "a connection dripping its headers was still open after 30 s"
    );
    let took = opened.elapsed();
    assert!(
        took < Duration::from_secs(20),
        "a connection dripping its headers was cut only after {took:?}, past its 10 s"
    );
    let (code, _, err) = l.stop("-TERM");
    assert_eq!(code, Some(0), "{err:?}");
}

/// A reader that stops reading stdout (the pipe fills) makes `webhook listen` wait, not
/// go deaf: SIGTERM still stops it (exit 0), the event whose line could not be written is
/// answered 503 (or its connection closed unanswered), never 200, and its redelivery is
/// printed by the next listener.
#[test]
fn listen_with_a_stalled_stdout_still_stops_on_sigterm_and_loses_no_event() {
    let (mut child, stdout, err, addr) = listen_with_an_unread_stdout(&[], &[]);
    let (pk, mut s, body) = deliver_until_stdout_stalls(addr, "pk-stall");
    let sent = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // The stalled delivery is answered 503 or left unanswered (its connection closed).
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(exit_after_signal(&mut child.0), Some(0));
    let (line, _) = err.until(&pk);
    assert!(line.contains("answered 503"), "{line}");
    drop(stdout);
    // VMEG redelivers it: printed by the next listener.
    printed_by_the_next_listener(&pk, &body);
}

/// Delivers events `{prefix}-0`, `{prefix}-1`... with 32 KiB lines (a 64 KiB pipe holds two
/// or three) until one is not answered within 2 s: its line is stuck behind a full stdout.
/// Returns its pipelineKey, its connection (still waiting) and its body.
fn deliver_until_stdout_stalls(addr: SocketAddr, prefix: &str) -> (String, TcpStream, String) {
    let big = "m".repeat(32 * 1024);
    for i in 0..64 {
        let pk = format!("{prefix}-{i}");
        let body = clone_event(&pk, &big);
        let (ts, sig) = signed(&body);
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let req = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Timestamp: {ts}\r\nX-Signature: {sig}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut answer = [0u8; 12];
        match s.read(&mut answer) {
            Ok(12) if answer.starts_with(b"HTTP/1.1 200") => continue,
            Ok(n) => panic!("{:?}", String::from_utf8_lossy(&answer[..n])),
            Err(_) => return (pk, s, body),
        }
    }
    panic!("stdout never filled up");
}

/// Waits (20 s at most) for `child` to exit after a signal; its exit code.
fn exit_after_signal(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("webhook listen ignored SIGTERM for 20 s while its output was stalled");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `webhook listen 2>&1 | reader-that-stopped`: stdout and stderr on one stalled pipe.
/// Refused deliveries (each has a stderr line) are still answered at once, and SIGTERM
/// still stops it (exit 0).
#[test]
fn listen_with_stdout_and_stderr_on_one_stalled_pipe_still_answers_and_stops() {
    let mut child = Command::new("sh")
        .args([
            "-c",
            "exec \"$0\" webhook listen --addr 127.0.0.1:0 --secret-env WH_SECRET 2>&1",
            env!("CARGO_BIN_EXE_voiceclone"),
        ])
        .env_clear()
        .env("WH_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map(Reaped)
        .unwrap();
    let mut both = BufReader::new(child.0.stdout.take().unwrap());
    let mut first = String::new();
    both.read_line(&mut first).unwrap();
    let v: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    let addr: SocketAddr = v["listening"].as_str().unwrap().parse().unwrap();
    let _stalled = deliver_until_stdout_stalls(addr, "pk-stall");
    // Bad signatures, each with its stderr line: answered all the same.
    let body = clone_event("pk-forged", "");
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(LINE_WAIT)).unwrap();
        let ts = now_ms().to_string();
        let req = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Timestamp: {ts}\r\nX-Signature: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            "0".repeat(64),
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut answer = [0u8; 12];
        let n = s.read(&mut answer).unwrap_or(0);
        assert_eq!(&answer[..n], b"HTTP/1.1 401");
    }
    stop_with_sigterm(&mut child.0);
}

/// `webhook listen` (with `env` and `extra` arguments) whose stdout is read up to its first
/// line (the address) and then left unread; its stderr lines, and the address.
fn listen_with_an_unread_stdout(
    env: &[(&str, &str)],
    extra: &[&str],
) -> (Reaped, BufReader<ChildStdout>, Lines, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_voiceclone"))
        .env_clear()
        .env("WH_SECRET", SECRET)
        .envs(env.iter().copied())
        .args(["webhook", "listen", "--addr", "127.0.0.1:0"])
        .args(["--secret-env", "WH_SECRET"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(Reaped)
        .unwrap();
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let err = Lines::read(child.0.stderr.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let v: Value = serde_json::from_str(&first).unwrap();
    let addr: SocketAddr = v["listening"].as_str().unwrap().parse().unwrap();
    (child, stdout, err, addr)
}

/// Sends SIGTERM to `child` and asserts it exits 0 within 20 s.
fn stop_with_sigterm(child: &mut Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert_eq!(exit_after_signal(child), Some(0));
}

/// VMEG redelivers event `pk` (`body`) to a fresh listener, which prints it.
fn printed_by_the_next_listener(pk: &str, body: &str) {
    let next = Listen::start(&[]);
    let (ts, sig) = signed(body);
    assert_eq!(next.post(&ts, &sig, body), 200);
    let v: Value = serde_json::from_str(&next.out.next()).unwrap();
    assert_eq!(v["pipeline_key"], pk);
}

/// A child killed (and reaped) if the test ends before it exits.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// VMEG gives up on a delivery whose line is stuck behind a stalled stdout and redelivers
/// it: the redelivery must not be answered 200 while the first line is unwritten (if that
/// line then fails, the 200 would have ended VMEG's retries for an event never printed).
/// It is answered 503; after SIGTERM the event is forgotten and printed by the next
/// listener.
#[test]
fn a_redelivery_of_an_event_still_waiting_for_stdout_is_not_answered_200() {
    let (mut child, stdout, err, addr) = listen_with_an_unread_stdout(&[], &[]);
    let (pk, original, body) = deliver_until_stdout_stalls(addr, "pk-stall");
    drop(original); // VMEG gave up waiting
    let (ts, sig) = signed(&body);
    assert_eq!(post(addr, "/", &ts, &sig, &body), 503);
    let (line, _) = err.until(&pk);
    assert!(line.contains("not printed yet"), "{line}");
    stop_with_sigterm(&mut child.0);
    drop(stdout);
    printed_by_the_next_listener(&pk, &body);
}

/// Two listeners on one Redis. A's line for a first-seen event is stuck behind a stdout
/// nobody reads; VMEG gives up on A and redelivers to B. B answers 503 (A's mark is
/// pending), not 200: before, B took it for a duplicate (200, VMEG stopped), and once A
/// gave up the event was printed nowhere. When A gives up (SIGTERM: it releases its mark),
/// the next redelivery to B is fresh, and printed there.
#[test]
fn a_redelivery_to_another_listener_while_the_first_cannot_print_is_503_then_printed() {
    let Some(url) = redis_url() else { return };
    let env = [("REDIS_URL_X", url.as_str())];
    let extra = ["--redis-url-env", "REDIS_URL_X"];
    let (mut a, a_stdout, a_err, a_addr) = listen_with_an_unread_stdout(&env, &extra);
    let b = Listen::start_with_env(&env, &extra);
    let prefix = format!(
        "pk-lease-{:x}",
        now_ms() ^ u128::from(std::process::id()) ^ 0x1ea5e
    );
    let (pk, original, body) = deliver_until_stdout_stalls(a_addr, &prefix);
    drop(original); // VMEG gave up waiting for A
    let (ts, sig) = signed(&body);
    assert_eq!(
        b.post(&ts, &sig, &body),
        503,
        "a pending event answered 200"
    );
    let (line, _) = b.err.until(&pk);
    assert!(line.contains("not printed yet"), "{line}");
    // A gives up on it: its mark is released, and VMEG's next redelivery is fresh on B.
    stop_with_sigterm(&mut a.0);
    let (line, _) = a_err.until(&pk);
    assert!(line.contains("answered 503"), "{line}");
    assert!(!line.contains("stays marked"), "{line}");
    drop(a_stdout);
    let (ts, sig) = signed(&body);
    assert_eq!(b.post(&ts, &sig, &body), 200);
    let v: Value = serde_json::from_str(&b.out.next()).unwrap();
    assert_eq!(v["pipeline_key"], pk.as_str());
    // Printed: the next redelivery is a duplicate.
    let (ts, sig) = signed(&body);
    assert_eq!(b.post(&ts, &sig, &body), 200);
    let (code, out, err) = b.stop("-TERM");
    assert_eq!(code, Some(0), "{err:?}");
    assert!(out.is_empty(), "printed twice: {out:?}");
    assert!(err.iter().any(|l| l.contains("duplicate")), "{err:?}");
}

/// `redis-cli -u URL` with `args`: its answer, trimmed.
fn redis_cli(url: &str, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-u", url])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("redis-cli (.ci/run installs it): {e}"));
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A first-seen event whose line nobody reads: its mark in Redis is pending (`p:<token>`)
/// for the 60 s lease, longer than the 35 s the line may wait. After those 35 s the listener
/// gives up on it, well before the lease runs out: its mark is released and its redelivery
/// is fresh on another listener at once (not 25 s later). Before the lease, a line stuck for
/// good held its event until the process stopped.
#[test]
fn a_line_unread_for_35_s_is_given_up_and_its_pending_mark_released_before_the_lease_ends() {
    let Some(url) = redis_url() else { return };
    let env = [("REDIS_URL_X", url.as_str())];
    let extra = ["--redis-url-env", "REDIS_URL_X"];
    let (_a, _a_stdout, a_err, a_addr) = listen_with_an_unread_stdout(&env, &extra);
    let prefix = format!(
        "pk-wait-{:x}",
        now_ms() ^ u128::from(std::process::id()) ^ 0x35
    );
    let stalled_at = Instant::now();
    let (pk, _original, body) = deliver_until_stdout_stalls(a_addr, &prefix);
    let mark = format!("voiceclone:seen:{pk}");
    assert!(
        redis_cli(&url, &["GET", &mark]).starts_with("p:"),
        "not pending"
    );
    let ttl: u64 = redis_cli(&url, &["PTTL", &mark]).parse().unwrap();
    assert!(
        (36_000..=60_000).contains(&ttl),
        "the lease is {ttl} ms, not the 60 s that outlasts the 35 s line wait"
    );
    // Given up after 35 s (a minute at most, on a loaded machine), not held on to.
    let deadline = Instant::now() + Duration::from_secs(60);
    let line = loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_else(|| panic!("{pk} still waiting for stdout after a minute"));
        let line = a_err.0.recv_timeout(left).unwrap();
        if line.contains(&pk) && line.contains("answered 503") {
            break line;
        }
    };
    assert!(line.contains("was not read for 35 s"), "{line}");
    assert!(
        stalled_at.elapsed() >= Duration::from_secs(30),
        "given up after {:?}",
        stalled_at.elapsed()
    );
    // Released, not left to the lease: the redelivery is fresh on another listener now.
    assert_eq!(redis_cli(&url, &["EXISTS", &mark]), "0", "{line}");
    let b = Listen::start_with_env(&env, &extra);
    let (ts, sig) = signed(&body);
    assert_eq!(b.post(&ts, &sig, &body), 200);
    let v: Value = serde_json::from_str(&b.out.next()).unwrap();
    assert_eq!(v["pipeline_key"], pk.as_str());
    let (code, _, err) = b.stop("-TERM");
    assert_eq!(code, Some(0), "{err:?}");
}

/// Redis runs the record script but its answer comes after the store's 2 s timeout: the
/// delivery is answered 503 and not printed, so the mark the script set must not stay (the
/// redelivery would be a duplicate, never printed). The redelivery is printed.
#[test]
fn a_record_whose_answer_came_too_late_leaves_the_redelivery_fresh() {
    let Some(url) = redis_url() else { return };
    let redis = SlowRedis::start(&url);
    let env = [("REDIS_URL_X", redis.url.as_str())];
    let l = Listen::start_with_env(&env, &["--redis-url-env", "REDIS_URL_X"]);
    let pk = format!(
        "{:032x}",
        now_ms() ^ u128::from(std::process::id()) ^ 0x7a7e
    );
    let body = clone_event(&pk, "");
    let (ts, sig) = signed(&body);
    redis.set_delay(2_500);
    assert_eq!(l.post(&ts, &sig, &body), 503);
    redis.set_delay(0);
    let (line, _) = l.err.until("not recorded");
    assert!(line.contains("503"), "{line}");
    // The script ran (only its answer was held), so the mark was set; the listener removes
    // it in the background, retrying for about 10 s if the store is still slow. Waiting for
    // it to go (not for a fixed time) keeps a loaded machine from sending the redelivery
    // first; a mark that stays (the bug) fails here, and would fail the redelivery below.
    let mark = format!("voiceclone:seen:{pk}");
    support::wait_until(
        "the mark of the record answered too late stayed in Redis for 20 s",
        20,
        || redis_cli(&url, &["EXISTS", &mark]) == "0",
    );
    let (ts, sig) = signed(&body);
    assert_eq!(l.post(&ts, &sig, &body), 200);
    let v: Value = serde_json::from_str(&l.out.next()).unwrap();
    assert_eq!(v["pipeline_key"], pk.as_str());
    let (code, out, err) = l.stop("-TERM");
    assert_eq!(code, Some(0), "{err:?}");
    assert!(out.is_empty(), "{out:?}");
}

/// Listener B printed an event (its mark confirmed in Redis). VMEG's redelivery reaches
/// listener A, whose Redis answers late: A's record found B's mark, but A sees a failure,
/// answers 503 and removes the mark its record may have set. It holds B's token, not A's:
/// it stays, and the redeliveries are duplicates on both (printed once). Before, A deleted
/// it whoever had set it, and the next redelivery was printed a second time.
#[test]
fn a_late_record_answer_never_removes_the_mark_another_listener_set() {
    let Some(url) = redis_url() else { return };
    let redis = SlowRedis::start(&url);
    // Debug: A says when its removal of the mark has run.
    let slow_env = [
        ("REDIS_URL_X", redis.url.as_str()),
        ("RUST_LOG", "voiceclone=debug"),
    ];
    let env = [("REDIS_URL_X", url.as_str())];
    let extra = ["--redis-url-env", "REDIS_URL_X"];
    let a = Listen::start_with_env(&slow_env, &extra);
    let b = Listen::start_with_env(&env, &extra);
    let pk = format!(
        "{:032x}",
        now_ms() ^ u128::from(std::process::id()) ^ 0x70c3
    );
    let body = clone_event(&pk, "");
    let (ts, sig) = signed(&body);
    assert_eq!(b.post(&ts, &sig, &body), 200);
    let v: Value = serde_json::from_str(&b.out.next()).unwrap();
    assert_eq!(v["pipeline_key"], pk.as_str());
    // A's record runs, and its answer is held past the store's 2 s timeout; what A sends
    // after it (the removal) is not delayed.
    redis.set_delay(2_500);
    let (ts, sig) = signed(&body);
    let (a_addr, late_body) = (a.addr, body.clone());
    let late = std::thread::spawn(move || post(a_addr, "/", &ts, &sig, &late_body));
    redis.until_holding();
    redis.set_delay(0);
    assert_eq!(late.join().unwrap(), 503);
    let (line, _) = a.err.until("not recorded");
    assert!(line.contains("503"), "{line}");
    let (line, _) = a.err.until("failed record");
    assert!(
        !line.contains("could not"),
        "the removal did not run: {line}"
    );
    // The redeliveries, to A and to B: duplicates.
    for l in [&a, &b] {
        let (ts, sig) = signed(&body);
        assert_eq!(l.post(&ts, &sig, &body), 200);
    }
    let (code, out, err) = a.stop("-TERM");
    assert_eq!(code, Some(0), "{err:?}");
    assert!(out.is_empty(), "printed again by A: {out:?}");
    let (code, out, err) = b.stop("-TERM");
    assert_eq!(code, Some(0), "{err:?}");
    assert!(out.is_empty(), "printed again by B: {out:?}");
    assert!(err.iter().any(|l| l.contains("duplicate")), "{err:?}");
}

/// Header values that are not visible ASCII (bytes 0x80-0xFF, as a broken proxy or a forger
/// sends them) are refused as what they are, malformed, naming the header; not reported as
/// missing.
#[test]
fn non_ascii_signature_and_timestamp_headers_are_refused_as_malformed() {
    let l = Listen::start(&[]);
    let body = clone_event("pk-non-ascii", "");
    let (ts, sig) = signed(&body);
    for (ts, sig, expected) in [
        (
            ts.as_bytes().to_vec(),
            vec![0xe9u8; 64],
            "X-Signature header is not",
        ),
        (
            [ts.as_bytes(), &[0xe9]].concat(),
            sig.as_bytes().to_vec(),
            "X-Timestamp header",
        ),
    ] {
        let mut s = TcpStream::connect(l.addr).unwrap();
        s.set_read_timeout(Some(LINE_WAIT)).unwrap();
        let mut req = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Timestamp: ".to_vec();
        req.extend_from_slice(&ts);
        req.extend_from_slice(b"\r\nX-Signature: ");
        req.extend_from_slice(&sig);
        req.extend_from_slice(
            format!("\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes(),
        );
        s.write_all(&req).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
        let (line, _) = l.err.until("refused delivery");
        assert!(line.contains(expected), "{line}");
        assert!(!line.contains("missing"), "{line}");
    }
    let (code, out, _) = l.stop("-TERM");
    assert_eq!(code, Some(0));
    assert!(out.is_empty(), "{out:?}");
}

/// A stderr nobody reads any more (its pipe closed: every write is EPIPE) does not crash
/// `clone --wait --webhook-listen`: its receiver's address line is written without
/// panicking, and the command ends as it would (here its --timeout, exit 3 with the job).
#[test]
fn a_closed_stderr_does_not_crash_a_webhook_wait() {
    let sim = Sim::with(voiceclone_sim::SimConfig::default().with_speed(0.001), KEY);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let args = [
        "--provider",
        "vmeg",
        "--json",
        "clone",
        SAMPLE,
        "--wait",
        "--timeout",
        "1",
        "--webhook-listen",
        "127.0.0.1:0",
        "--webhook-secret-env",
        "WH_SECRET",
    ];
    let out = support::command(Some(&sim.url()), sim.key(), &[("WH_SECRET", SECRET)], &args)
        .stderr(Stdio::from(writer))
        .output()
        .unwrap();
    let code = out.status.code();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code, Some(3), "{stdout}");
    let j: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        j["job_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("vmeg:")),
        "{j}"
    );
}

/// Every 8-character piece of `key`, in any case, is absent from `text`.
fn assert_no_piece_of(key: &str, text: &str, what: &str) {
    let lower = text.to_lowercase();
    let chars: Vec<char> = key.to_lowercase().chars().collect();
    for piece in chars.windows(8) {
        let piece: String = piece.iter().collect();
        assert!(
            !lower.contains(&piece),
            "{what}: a piece of an API key ({piece:?}) was printed: {text}"
        );
    }
}

/// A signed delivery whose message and pipelineKey echo the API keys in the environment:
/// neither `webhook verify` (plain and `--json`) nor `webhook listen` prints any piece of
/// them. Before, only the webhook secret was registered for redaction, and `webhook verify
/// --json` printed the message with the VMEG key in it.
#[test]
fn a_signed_delivery_echoing_the_api_keys_never_prints_them() {
    const VMEG_KEY: &str = "sk-live-SECRETKEY123456";
    const JIMMYAI_KEY: &str = "jm-live-OTHERKEY987654";
    let env = [
        ("WH_SECRET", SECRET),
        ("VMEG_API_KEY", VMEG_KEY),
        ("JIMMYAI_API_KEY", JIMMYAI_KEY),
    ];
    let body = clone_event(
        &format!("pk-{VMEG_KEY}"),
        &format!("invalid key {VMEG_KEY}; also tried {JIMMYAI_KEY}"),
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, &body).unwrap();
    let (ts, sig) = signed(&body);
    for json in [false, true] {
        let mut args = vec!["webhook", "verify", "--secret-env", "WH_SECRET"];
        args.extend(["--timestamp", &ts, "--signature", &sig]);
        args.push(file.to_str().unwrap());
        if json {
            args.insert(0, "--json");
        }
        let (code, out, err) = run_bounded(&env, &args);
        assert_eq!(code, 0, "{args:?}: {out} {err}");
        assert!(out.contains("[redacted]"), "{args:?}: {out}");
        for key in [VMEG_KEY, JIMMYAI_KEY] {
            assert_no_piece_of(key, &out, "webhook verify stdout");
            assert_no_piece_of(key, &err, "webhook verify stderr");
        }
    }

    let l = Listen::start_with_env(&env[1..], &[]);
    let (ts, sig) = signed(&body);
    assert_eq!(l.post(&ts, &sig, &body), 200);
    let line = l.out.next();
    assert!(line.contains("[redacted]"), "{line}");
    let (code, out, err) = l.stop("-INT");
    assert_eq!(code, Some(0), "{out:?} {err:?}");
    let all = [vec![line], out, err].concat().join("\n");
    for key in [VMEG_KEY, JIMMYAI_KEY] {
        assert_no_piece_of(key, &all, "webhook listen");
    }
}

/// The key kept in a file (`--api-key-file`, a global flag, as README advises) is redacted
/// by the commands that use no key as the environment's keys are: a delivery quoting it was
/// printed whole by `webhook verify` and `webhook listen`. An unreadable key file is exit 2.
#[test]
fn a_delivery_echoing_the_key_in_the_api_key_file_never_prints_it() {
    const FILE_KEY: &str = "sk-file-KEPTINAFILE4242";
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.txt");
    std::fs::write(&key_file, format!("{FILE_KEY}\n")).unwrap();
    let key_path = key_file.to_str().unwrap();
    let body = clone_event("pk-file-key", &format!("invalid key {FILE_KEY}"));
    let file = dir.path().join("body.json");
    std::fs::write(&file, &body).unwrap();
    let (ts, sig) = signed(&body);
    let env = [("WH_SECRET", SECRET)];
    for json in [false, true] {
        let mut args = vec!["--api-key-file", key_path, "webhook", "verify"];
        args.extend([
            "--secret-env",
            "WH_SECRET",
            "--timestamp",
            &ts,
            "--signature",
            &sig,
        ]);
        args.push(file.to_str().unwrap());
        if json {
            args.insert(0, "--json");
        }
        let (code, out, err) = run_bounded(&env, &args);
        assert_eq!(code, 0, "{args:?}: {out} {err}");
        assert!(out.contains("[redacted]"), "{args:?}: {out}");
        assert_no_piece_of(FILE_KEY, &out, "webhook verify stdout");
        assert_no_piece_of(FILE_KEY, &err, "webhook verify stderr");
    }
    let missing = dir.path().join("no-such-key.txt");
    let mut args = vec![
        "--api-key-file",
        missing.to_str().unwrap(),
        "webhook",
        "verify",
    ];
    args.extend([
        "--secret-env",
        "WH_SECRET",
        "--timestamp",
        &ts,
        "--signature",
        &sig,
    ]);
    args.push(file.to_str().unwrap());
    let (code, out, err) = run_bounded(&env, &args);
    assert_eq!(code, 2, "{out} {err}");

    let l = Listen::start_with_env(&[], &["--api-key-file", key_path]);
    let (ts, sig) = signed(&body);
    assert_eq!(l.post(&ts, &sig, &body), 200);
    let line = l.out.next();
    assert!(line.contains("[redacted]"), "{line}");
    let (code, out, err) = l.stop("-INT");
    assert_eq!(code, Some(0), "{out:?} {err:?}");
    let all = [vec![line], out, err].concat().join("\n");
    assert_no_piece_of(FILE_KEY, &all, "webhook listen");
}

/// An event of another product whose `data` holds an integer beyond 64 bits (an id): its
/// exact text is printed (`data_json`) by `webhook verify --json` and `webhook listen`;
/// `data` alone went through serde_json's `Value`, where it became a float.
#[test]
fn another_products_data_keeps_its_exact_digits() {
    const BIG: &str = "98765432109876543210";
    let body = format!(
        r#"{{"code":200,"event":"openapi-translate","pipelineKey":"pk-big","message":"ok","data":{{"taskId":"tr-1","materialId":{BIG}}}}}"#
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, &body).unwrap();
    let (ts, sig) = signed(&body);
    let env = [("WH_SECRET", SECRET)];
    let mut args = vec!["--json", "webhook", "verify", "--secret-env", "WH_SECRET"];
    args.extend(["--timestamp", &ts, "--signature", &sig]);
    args.push(file.to_str().unwrap());
    let (code, out, err) = run_bounded(&env, &args);
    assert_eq!(code, 0, "{out} {err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let exact: Value = serde_json::from_str(v["data_json"].as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(exact["taskId"], "tr-1", "{out}");
    assert!(v["data_json"].as_str().unwrap().contains(BIG), "{out}");

    let l = Listen::start_with_env(&[], &[]);
    let (ts, sig) = signed(&body);
    assert_eq!(l.post(&ts, &sig, &body), 200);
    let line = l.out.next();
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert!(
        v["data_json"].as_str().is_some_and(|d| d.contains(BIG)),
        "{line}"
    );
    assert_eq!(v["task_id"], "tr-1", "{line}");
    let (code, out, err) = l.stop("-INT");
    assert_eq!(code, Some(0), "{out:?} {err:?}");
}

/// A key echoed in another product's `data` spelled with `\u` escapes (`"\u0073k-..."`):
/// `data_json` prints its strings unescaped, so the printer finds and redacts the key there
/// as it does in `data`.
#[test]
fn a_key_spelled_with_unicode_escapes_in_data_json_is_redacted() {
    const ECHO_KEY: &str = "sk-echo-5Yq2Lm8Rt4Wv";
    let escaped: String = ECHO_KEY
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let body = format!(
        r#"{{"code":200,"event":"openapi-translate","pipelineKey":"pk-esc","message":"ok","data":{{"taskId":"tr-2","note":"{escaped}"}}}}"#
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("body.json");
    std::fs::write(&file, &body).unwrap();
    let (ts, sig) = signed(&body);
    let env = [("WH_SECRET", SECRET), ("VMEG_API_KEY", ECHO_KEY)];
    let mut args = vec!["--json", "webhook", "verify", "--secret-env", "WH_SECRET"];
    args.extend(["--timestamp", &ts, "--signature", &sig]);
    args.push(file.to_str().unwrap());
    let (code, out, err) = run_bounded(&env, &args);
    assert_eq!(code, 0, "{out} {err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let data_json = v["data_json"].as_str().unwrap_or_default();
    let decoded: Value =
        serde_json::from_str(data_json).unwrap_or_else(|e| panic!("{e}: {data_json}"));
    assert_eq!(decoded["note"], "[redacted]", "{out}");
    assert!(!decoded.to_string().contains("echo-5Yq2"), "{out}");
    assert_eq!(decoded["taskId"], "tr-2", "{out}");
}

/// `webhook verify` with no BODY_FILE (the body from stdin), started with `stdin`; killed
/// after `limit` (then the test fails). Returns its exit code, stdout, stderr and how long
/// it ran.
fn verify_from_stdin(stdin: Stdio, limit: Duration) -> (i32, String, String, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_voiceclone"))
        .env_clear()
        .env("WH_SECRET", SECRET)
        .args(["--json", "webhook", "verify", "--secret-env", "WH_SECRET"])
        .args(["--timestamp", "1", "--signature", "00"])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn_killed();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("webhook verify still waiting on stdin after {limit:?}: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed,
    )
}

/// Stdin on a terminal: before, `webhook verify` waited for a body nobody would type. Now
/// it refuses at once (exit 2), saying to pass BODY_FILE or pipe the body.
#[test]
fn webhook_verify_refuses_a_terminal_stdin_at_once() {
    let (master, terminal) = support::pty();
    let (code, out, err, elapsed) = verify_from_stdin(terminal.into(), Duration::from_secs(20));
    drop(master);
    assert_eq!(code, 2, "{out} {err}");
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["error"]["reason"], "stdin_is_a_terminal", "{j}");
    let message = j["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("BODY_FILE") && message.contains("pipe"),
        "{j}"
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

/// Stdin a pipe whose writer stays open: silent, or after part of a body. Before,
/// `webhook verify` waited for ever (`sleep 100 | voiceclone webhook verify ...`: rc 124
/// under `timeout`). Now each is exit 2 once the 30 s wait for the body is over.
#[test]
fn webhook_verify_gives_up_on_a_stdin_that_never_ends() {
    let limit = Duration::from_secs(60);
    let runs: Vec<_> = [&b""[..], b"{\"code\":"]
        .into_iter()
        .map(|sent| {
            std::thread::spawn(move || {
                let (reader, mut writer) = std::io::pipe().unwrap();
                writer.write_all(sent).unwrap();
                // `writer` stays open, silent, until the run is over.
                let run = verify_from_stdin(reader.into(), limit);
                drop(writer);
                (sent, run)
            })
        })
        .collect();
    for handle in runs {
        let (sent, (code, out, err, elapsed)) = handle.join().unwrap();
        assert_eq!(code, 2, "{sent:?}: {out} {err}");
        let j: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(j["error"]["reason"], "stdin_timed_out", "{j}");
        let message = j["error"]["message"].as_str().unwrap();
        let said = if sent.is_empty() {
            "no body arrived on stdin within 30 s".to_owned()
        } else {
            format!("{} bytes arrived", sent.len())
        };
        assert!(message.contains(&said), "{j}");
        assert!(message.contains("BODY_FILE"), "{j}");
        assert!(err.contains("30 s"), "{err}");
        assert!(elapsed >= Duration::from_secs(29), "took {elapsed:?}");
    }
}

/// BODY_FILE a FIFO: before, `webhook verify FIFO` waited for ever for a writer (the open
/// blocked). Now one with no writer is exit 2 after 10 s, naming the file; a FIFO whose
/// writer comes a second late is read and verified.
#[test]
fn webhook_verify_waits_a_bounded_time_for_a_fifo_body() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("body-fifo");
    support::mkfifo(&fifo);
    let path = fifo.to_str().unwrap().to_owned();
    let started = Instant::now();
    let (code, out, err) = run_bounded(
        &[("WH_SECRET", SECRET)],
        &[
            "--json",
            "webhook",
            "verify",
            "--secret-env",
            "WH_SECRET",
            "--timestamp",
            "1",
            "--signature",
            "00",
            &path,
        ],
    );
    let elapsed = started.elapsed();
    assert_eq!(code, 2, "{out} {err}");
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    let message = j["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&path) && message.contains("FIFO") && message.contains("10 s"),
        "{j}"
    );
    assert!(elapsed < Duration::from_secs(19), "took {elapsed:?}");

    let body = clone_event("pk-fifo-1", "");
    let (ts, sig) = signed(&body);
    let writer = {
        let (fifo, body) = (fifo.clone(), body.clone());
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            std::fs::write(fifo, body)
        })
    };
    let (code, out, err) = run_bounded(
        &[("WH_SECRET", SECRET)],
        &[
            "--json",
            "webhook",
            "verify",
            "--secret-env",
            "WH_SECRET",
            "--timestamp",
            &ts,
            "--signature",
            &sig,
            &path,
        ],
    );
    writer.join().unwrap().unwrap();
    assert_eq!(code, 0, "{out} {err}");
    let j: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(j["verified"], true, "{j}");
    assert_eq!(j["pipeline_key"], "pk-fifo-1", "{j}");
}

/// A second Ctrl-C while `--webhook-listen`'s receiver stops after the first (a sender has
/// begun a request and not finished it, which holds the stop up to its 5 s grace) still
/// leaves the accepted job's result on stdout: once a signal was seen the receiver is not
/// waited on, and the result is registered before it stops. Before, the second signal ended
/// the process 2 s later with exit 130 and nothing printed (with `--json`, the job id
/// appeared nowhere).
#[test]
fn a_second_signal_while_the_receiver_stops_still_prints_the_job() {
    let sim = Sim::with(
        SimConfig::default().with_durations(Duration::from_secs(600), Duration::from_secs(600)),
        KEY,
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_voiceclone"))
        .env_clear()
        .envs(sim.env())
        // The library's INFO line says when the submit's answer has been read.
        .env("RUST_LOG", "voiceclone=info")
        .args([
            "--provider",
            "vmeg",
            "--json",
            "clone",
            SAMPLE,
            "--language",
            "en-US",
            "--wait",
            "--webhook-listen",
            "127.0.0.1:0",
            "--webhook-secret-env",
            "WH_SECRET",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn_killed();
    let mut stdout = child.stdout.take().unwrap();
    let err = Lines::read(child.stderr.take().unwrap());
    let (line, before) = err.until("listening on http://");
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    // A request begun and not finished (a slow sender, a scanner): a graceful stop waits
    // for it, up to its grace.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // The submit's answer has been read (its INFO line; polls come 30 s apart with a
    // webhook): the job is known and its wait under way. Not the simulator's count of the
    // create, which is taken before the answer is even written.
    let submitted = |l: &String| l.contains("operation=\"clone_voice\"") && l.contains("}: ok ");
    if !before.iter().any(submitted) {
        let deadline = Instant::now() + Duration::from_secs(60);
        // Line by line, so the deadline is checked after each (`until` skips other lines
        // for as long as they keep coming).
        while !submitted(&err.next()) {
            assert!(
                Instant::now() < deadline,
                "the submit's answer was not read"
            );
        }
    }
    support::send_signal(&child, "-INT");
    std::thread::sleep(Duration::from_millis(500));
    support::send_signal(&child, "-INT");
    support::wait_until("the command did not end", 15, || {
        child.try_wait().unwrap().is_some()
    });
    let code = child.wait().unwrap().code();
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    let rest = err.rest();
    assert_no_secret(&[out.clone()]);
    assert_no_secret(&rest);
    let j: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| {
        panic!("stdout is not one JSON object ({e}): {out:?} / {rest:?} / {code:?}")
    });
    let job = j["job_id"].as_str().unwrap_or_default();
    assert!(job.starts_with("vmeg:clone:"), "{j}");
    assert_eq!(j["error"]["kind"], "interrupted", "{j}");
    assert!(matches!(code, Some(3 | 130)), "{code:?}: {j}");
}
