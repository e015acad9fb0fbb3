//! The `voiceclone` binary against a server that echoes the API key into every field: no
//! 8-character piece of the key reaches stdout or stderr, with or without `--json`, at any
//! log level.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

use support::{MANIFEST, Run, command};

const KEY: &str = "sk-cli-echo-4f9a1c7e22b0d5";

/// Answers every request with `body` (and `status`), forever, on a thread of its own.
fn echo_server(status: u16, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 16384];
            let mut head = Vec::new();
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let len: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let at = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
            let mut have = head.len().saturating_sub(at);
            while have < len {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => have += n,
                }
            }
            let reply = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
        }
    });
    format!("http://{addr}")
}

fn pieces() -> Vec<String> {
    let chars: Vec<char> = KEY.to_ascii_lowercase().chars().collect();
    chars.windows(8).map(|w| w.iter().collect()).collect()
}

fn run(base: &str, json: bool, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_voiceclone"));
    cmd.args(["--provider", "vmeg", "--base-url", base]);
    if json {
        cmd.arg("--json");
    }
    let out = cmd
        .args(args)
        .env("VMEG_API_KEY", KEY)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if json {
        let line = String::from_utf8_lossy(&out.stdout);
        assert!(
            serde_json::from_str::<serde_json::Value>(line.trim()).is_ok(),
            "--json printed something else than one JSON object: {line}"
        );
    }
    text
}

/// The answers of the echo server: every field echoing the key (ids included), a failed task
/// whose reason holds the key upper-cased, a refusal quoting it, an HTML page holding it.
fn echoing_bodies() -> [(u16, String); 4] {
    let k = KEY;
    let upper = KEY.to_ascii_uppercase();
    [
        (
            200,
            format!(
                r#"{{"code":200,"message":"{k}","data":{{"taskId":"{k}","status":"{k}","result":{{"voiceId":"{k}","voiceName":"{k}","errorMessage":"{k}"}},"records":[{{"voiceId":"{k}","name":"{k}","audio":"https://x.example/{k}"}}]}}}}"#
            ),
        ),
        (
            200,
            format!(
                r#"{{"code":200,"data":{{"taskId":"t-1","status":"failed","result":{{"errorMessage":"bad {upper}"}}}}}}"#
            ),
        ),
        (
            400,
            format!(r#"{{"code":400,"message":"key {k} refused"}}"#),
        ),
        (502, format!("<html>{k}</html>")),
    ]
}

fn leaked(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    pieces().into_iter().find(|p| lower.contains(p.as_str()))
}

#[test]
fn a_key_echoed_by_the_server_never_reaches_stdout_or_stderr() {
    for (status, body) in echoing_bodies() {
        let base = echo_server(status, body.clone());
        for json in [false, true] {
            for args in [
                vec!["status", "t-1"],
                vec!["wait", "t-1", "--timeout", "1"],
                vec!["clone", "https://cdn.example.com/a.wav", "--name", "n"],
                vec!["voices"],
            ] {
                let text = run(&base, json, &args);
                let lower = text.to_ascii_lowercase();
                for p in pieces() {
                    assert!(
                        !lower.contains(&p),
                        "piece {p:?} of the key printed by {args:?} (json={json}, body {body}): {text}"
                    );
                }
            }
        }
    }
}

/// `speak --text-file F --out DIR` against the echoing server: neither its output nor the
/// manifest it writes (which keeps each part's error text for a later run to show) holds a
/// piece of the key. The failed task's reason, the key upper-cased, reaches the manifest
/// scrubbed (so the file's error texts are checked, not only its ids).
#[test]
fn a_key_echoed_by_the_server_never_reaches_the_long_text_manifest() {
    for (n, (status, body)) in echoing_bodies().into_iter().enumerate() {
        let base = echo_server(status, body.clone());
        for json in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let file = tmp.path().join("script.txt");
            std::fs::write(
                &file,
                "First sentence of the script.\n\nSecond paragraph here.",
            )
            .unwrap();
            let out = tmp.path().join("out");
            let args = [
                "speak",
                "--voice",
                "cv_1",
                "--text-file",
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--poll-interval",
                "0.01",
                "--timeout",
                "10",
            ];
            let text = run(&base, json, &args);
            let what = format!("json={json}, body {body}");
            assert!(
                leaked(&text).is_none(),
                "{:?} printed ({what}): {text}",
                leaked(&text)
            );
            let kept = std::fs::read(out.join(MANIFEST))
                .unwrap_or_else(|e| panic!("no manifest ({what}): {e}: {text}"));
            let kept = String::from_utf8_lossy(&kept);
            assert!(
                leaked(&kept).is_none(),
                "{:?} in the manifest ({what}): {kept}",
                leaked(&kept)
            );
            if n == 1 {
                assert!(
                    kept.contains("[redacted]"),
                    "no error text kept ({what}): {kept}"
                );
            }
        }
    }
}

/// A key typed on the command line by mistake is refused by clap, whose usage error quotes
/// what it refused: the key of either provider's variable is redacted from it, on stdout and
/// stderr, with and without `--json`, while a usage error about anything else still names
/// the argument it refuses.
#[test]
fn a_key_typed_as_an_argument_is_not_echoed_by_the_usage_error() {
    let flag = format!("--{KEY}");
    let shapes: [Vec<&str>; 3] = [
        vec!["--provider", "vmeg", "voices", KEY],
        vec!["--provider", KEY, "voices"],
        vec!["--provider", "vmeg", "voices", &flag],
    ];
    for var in ["VMEG_API_KEY", "JIMMYAI_API_KEY"] {
        for json in [false, true] {
            for shape in &shapes {
                let mut args = shape.clone();
                if json {
                    args.push("--json");
                }
                let out = command(None, "", &[(var, KEY)], &args).output().unwrap();
                let run = Run::from_output(out, &[KEY], &args).expect(2);
                let lower = format!("{}{}", run.stdout, run.stderr).to_ascii_lowercase();
                for p in pieces() {
                    assert!(
                        !lower.contains(&p),
                        "piece {p:?} of {var} printed by {args:?}: {run:?}"
                    );
                }
                assert!(run.stderr.contains("[redacted]"), "{args:?}: {run:?}");
                if json {
                    assert_eq!(run.json()["error"]["kind"], "usage", "{run:?}");
                }
            }
        }
    }
    for json in [false, true] {
        let mut args = vec!["--provider", "vmeg", "voices", "not-a-key-at-all"];
        if json {
            args.push("--json");
        }
        let out = command(None, KEY, &[], &args).output().unwrap();
        let run = Run::from_output(out, &[KEY], &args).expect(2);
        assert!(
            run.stderr
                .contains("unexpected argument 'not-a-key-at-all' found"),
            "{run:?}"
        );
        if json {
            let message = run.json()["error"]["message"].clone();
            assert_eq!(
                message, "unexpected argument 'not-a-key-at-all' found",
                "{run:?}"
            );
        } else {
            assert!(run.stdout.is_empty(), "{run:?}");
        }
    }
}

/// A plain-http base URL (accepted only to this machine, where the key never crosses a
/// network) is never reached through an `HTTP_PROXY` from the environment: the proxy
/// would get the request, `Authorization: Bearer <key>` and all, in clear. Before: every
/// request went to the proxy.
#[test]
fn an_environment_proxy_never_gets_a_plain_http_request() {
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let server = echo_server(
        200,
        r#"{"code":200,"message":"","data":{"taskId":"t1","taskType":"cloneVoice","status":"running"}}"#
            .to_owned(),
    );
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        let out = command(
            Some(&server),
            KEY,
            &[(var, proxy_url.as_str())],
            &["--provider", "vmeg", "--json", "status", "vmeg:clone:t1"],
        )
        .output()
        .unwrap();
        let run = Run::from_output(out, &[KEY], &[]);
        assert_eq!(run.code, 0, "{var}: {}", run.stdout);
        match proxy.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("{var}: the proxy was reached: {other:?}"),
        }
    }
}

/// A command of one provider registers the other provider's key from the environment too:
/// a server (or a proxy shared by both) may echo either.
#[test]
fn the_other_providers_key_is_never_printed_either() {
    const OTHER: &str = "jm-other-provider-key-7c1e0d9b";
    let server = echo_server(
        400,
        format!(r#"{{"code":400,"message":"key {OTHER} is not valid here","data":null}}"#),
    );
    for json in [false, true] {
        let mut args = vec!["--provider", "vmeg", "status", "vmeg:clone:t1"];
        if json {
            args.insert(0, "--json");
        }
        let out = command(Some(&server), KEY, &[("JIMMYAI_API_KEY", OTHER)], &args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .to_ascii_lowercase();
        for piece in OTHER.as_bytes().windows(8) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!all.contains(piece), "json {json}: {piece} in {all}");
        }
    }
}

/// A secret given where the NAME of its variable goes (`--api-key-env "$VMEG_API_KEY"`,
/// `--secret-env "$SECRET"`, `--redis-url-env "$REDIS_URL"`) is not quoted by the "not set"
/// usage error, on stdout (`--json`) or stderr. Before: every one of them was printed, the
/// live key of `sim --api-key-env` included (`sim` did not register the environment's keys).
/// A name shaped like one is still shown, so that a typo can be seen.
#[test]
fn a_secret_given_as_a_variable_name_is_not_printed() {
    let secret = "whsec_TOPSECRET_abcdef";
    let redis = "redis://:p4ssw0rd-secret@10.0.0.5:6379/0";
    let listen = ["--json", "webhook", "listen", "--addr", "127.0.0.1:0"];
    let verify = [
        "--json",
        "webhook",
        "verify",
        "--timestamp",
        "1",
        "--signature",
        "ab",
        "/dev/null",
    ];
    let speak = [
        "--json",
        "--provider",
        "vmeg",
        "speak",
        "--voice",
        "v",
        "--text",
        "hi",
        "--wait",
        "--webhook-listen",
        "127.0.0.1:0",
    ];
    let sim_hook = ["--json", "sim", "--webhook-url", "http://127.0.0.1:9/"];
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        // The live key is in the environment, where every other command redacts it.
        (KEY, vec!["--json", "sim", "--api-key-env", KEY], KEY),
        (
            "",
            [&verify[..], &["--secret-env", secret]].concat(),
            secret,
        ),
        (
            "",
            [&listen[..], &["--secret-env", secret]].concat(),
            secret,
        ),
        (
            "",
            [
                &listen[..],
                &["--secret-env", "WS", "--redis-url-env", redis],
            ]
            .concat(),
            "p4ssw0rd-secret",
        ),
        (
            KEY,
            [&speak[..], &["--webhook-secret-env", secret]].concat(),
            secret,
        ),
        (
            "",
            [&sim_hook[..], &["--webhook-secret-env", secret]].concat(),
            secret,
        ),
    ];
    for (key, args, needle) in cases {
        let out = command(None, key, &[("WS", "s3cr3t-s3cr3t")], &args)
            .output()
            .unwrap();
        let run = Run::from_output(out, &[key, needle], &args).expect(2);
        let message = run.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains("the name is not shown"),
            "{args:?}: {run:?}"
        );
        assert!(run.stderr.contains("the name is not shown"), "{run:?}");
    }
    // A key shaped like a variable name is shown as a name would be: `sim` redacts the
    // environment's keys, as every other command does.
    let upper = "SK_LIVE_0123456789ABCDEF0123";
    let args = ["--json", "sim", "--api-key-env", upper];
    let out = command(None, upper, &[], &args).output().unwrap();
    let run = Run::from_output(out, &[upper], &args).expect(2);
    assert!(run.stderr.contains("[redacted]"), "{run:?}");
    let args = [&listen[..], &["--secret-env", "MY_HOOK_SECRET"]].concat();
    let out = command(None, "", &[], &args).output().unwrap();
    let run = Run::from_output(out, &[], &args).expect(2);
    assert!(
        run.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the environment variable MY_HOOK_SECRET (--secret-env) is not set"),
        "{run:?}"
    );
}

/// A key pasted as an argument of a dry run (the recording, `--voice`) is redacted from what
/// the dry run prints (its "no such file" error, the request body), with or without
/// `--json`. Before, the dry run answered before the keys were registered and printed it.
#[test]
fn a_key_given_as_an_argument_of_a_dry_run_is_not_printed() {
    let base = "http://127.0.0.1:9";
    for json in [false, true] {
        for args in [
            vec!["clone", KEY, "--dry-run"],
            vec!["speak", "--voice", KEY, "--text", "hi", "--dry-run"],
            vec!["speak", "--voice", "cv_1", "--text", KEY, "--dry-run"],
        ] {
            let text = run(base, json, &args);
            let lower = text.to_ascii_lowercase();
            for p in pieces() {
                assert!(
                    !lower.contains(&p),
                    "piece {p:?} of the key printed by {args:?} (json={json}): {text}"
                );
            }
        }
    }
}

/// `webhook listen --path "$VMEG_API_KEY"` (a key pasted where the path goes) is refused
/// without quoting the key: the environment's keys are registered before the path is
/// checked. Before, the refusal quoted the path whole, key and all.
#[test]
fn a_key_given_as_the_listen_path_is_not_printed() {
    for var in ["VMEG_API_KEY", "JIMMYAI_API_KEY"] {
        for json in [false, true] {
            let mut args = vec![
                "webhook",
                "listen",
                "--addr",
                "127.0.0.1:0",
                "--secret-env",
                "WH",
                "--path",
                KEY,
            ];
            if json {
                args.push("--json");
            }
            let env = [(var, KEY), ("WH", "whsec-listen-path")];
            let out = command(None, "", &env, &args).output().unwrap();
            let run = Run::from_output(out, &[KEY], &args).expect(2);
            let lower = format!("{}{}", run.stdout, run.stderr).to_ascii_lowercase();
            for p in pieces() {
                assert!(
                    !lower.contains(&p),
                    "piece {p:?} of {var} printed by {args:?}: {run:?}"
                );
            }
            assert!(lower.contains("--path"), "{args:?}: {run:?}");
        }
    }
}

/// Review 24-c #1: the key pasted as `wait`'s job id, on a terminal. The spinner draws its
/// line before the library refuses the id (exit 2, nothing sent); that line goes through
/// the same redaction as every other. Before: the whole key was drawn on stderr, then
/// erased, but kept by anything recording the terminal. (Every other key test here reads
/// stderr through a pipe, where the spinner is off.)
#[test]
fn a_key_given_as_a_job_id_is_not_drawn_by_the_spinner() {
    let base = echo_server(
        200,
        r#"{"code":200,"data":{"taskId":"t-1","status":"processing"}}"#.to_owned(),
    );
    let (code, out, terminal) = support::run_on_a_terminal(
        KEY,
        None,
        &["--provider", "vmeg", "--base-url", &base, "wait", KEY],
    );
    assert_eq!(code, 2, "{out}{terminal}");
    // The spinner did draw (the test sees what it guards).
    assert!(terminal.contains("waiting for"), "{terminal}");
    let all = format!("{out}{terminal}").to_ascii_lowercase();
    for piece in pieces() {
        assert!(!all.contains(&piece), "{piece:?} shown: {all}");
    }
}

/// Review 29-b #2: a log line (a `tracing` event on stderr) is redacted as the printer's lines
/// are: a server whose status word is the other provider's key (JimmyAI's, to a VMEG
/// command), or the environment's key when `--api-key-file` gives the one in use, gets its
/// WARN "undocumented task status" (once per wait), at the default level and under
/// `RUST_LOG=trace`. Before: those lines skipped the printer and printed the key whole.
#[test]
fn a_log_line_quoting_a_secret_the_library_does_not_know_is_redacted() {
    const OTHER: &str = "jm-other-provider-key-7c1e0d9b";
    const ENV_KEY: &str = "sk-env-key-not-in-use-5d2a9e";
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, KEY).unwrap();
    let key_file = key_file.to_str().unwrap();
    let detail = |status: &str| {
        format!(
            r#"{{"code":200,"message":"","data":{{"taskId":"t1","taskType":"cloneVoice","status":"{status}"}}}}"#
        )
    };
    let wait = ["--provider", "vmeg", "wait", "vmeg:clone:t1"];
    let wait = [&wait[..], &["--timeout", "1", "--poll-interval", "0.05"]].concat();
    // (the secret echoed, the key both variables hold, one more variable, the arguments)
    type Case<'a> = (&'a str, &'a str, (&'a str, &'a str), Vec<&'a str>);
    let cases: [Case; 2] = [
        (OTHER, KEY, ("JIMMYAI_API_KEY", OTHER), wait.clone()),
        (
            ENV_KEY,
            "",
            ("VMEG_API_KEY", ENV_KEY),
            [&["--api-key-file", key_file][..], &wait[..]].concat(),
        ),
    ];
    for (secret, key, var, args) in cases {
        let server = echo_server(200, detail(secret));
        for level in [None, Some("trace")] {
            let mut env = vec![var];
            if let Some(level) = level {
                env.push(("RUST_LOG", level));
            }
            let out = command(Some(&server), key, &env, &args).output().unwrap();
            let run = Run::from_output(out, &[KEY], &args);
            // The warning was written (the test sees what it guards), redacted.
            assert!(
                run.stderr.contains("undocumented task status"),
                "{secret} {level:?}: {run:?}"
            );
            assert!(
                run.stderr.contains("[redacted]"),
                "{secret} {level:?}: {run:?}"
            );
            let all = format!("{}{}", run.stdout, run.stderr).to_ascii_lowercase();
            for piece in secret.as_bytes().windows(8) {
                let piece = std::str::from_utf8(piece).unwrap();
                assert!(!all.contains(piece), "{secret} {level:?}: {piece} in {all}");
            }
        }
    }
}
