//! `Client::from_env` reads what is set as set (review 26-inputs #1): a base URL variable set
//! to nothing, to blanks or to bytes that are not UTF-8 is a URL that was meant and went
//! missing (`VMEG_BASE_URL="$SIM_URL"` with `SIM_URL` unset). It is refused, naming the
//! variable, before anything is sent; read as "not set", the calls went to the vendor's
//! production API under the real key, billed. A key variable set to nothing or to what is
//! not UTF-8 is refused as such, not as "not set".
//!
//! Each case runs in a child process of this test binary, given its environment by
//! `Command` (changing the test process's own environment is `unsafe`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::Command;

use voiceclone::{Client, ErrorKind, Provider};

/// Set in a child: the provider whose `from_env` it runs.
const CHILD: &str = "VOICECLONE_TEST_FROM_ENV_CHILD";

/// What `from_env` made of the child's environment: `ok <base url>` or
/// `err <field>: <reason>`.
fn run_child(provider: Provider, env: &[(&str, Option<OsString>)]) -> String {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "set_but_empty_or_unreadable_variables_are_refused_never_read_as_unset",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, provider.to_string());
    for var in [
        "VMEG_API_KEY",
        "VMEG_BASE_URL",
        "JIMMYAI_API_KEY",
        "JIMMYAI_BASE_URL",
    ] {
        cmd.env_remove(var);
    }
    for (var, value) in env {
        match value {
            Some(v) => cmd.env(var, v),
            None => cmd.env_remove(var),
        };
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once("FROM_ENV ").map(|(_, answer)| answer))
        .unwrap_or_else(|| panic!("no answer from the child: {stdout}"))
        .to_owned()
}

#[test]
fn set_but_empty_or_unreadable_variables_are_refused_never_read_as_unset() {
    if let Some(p) = std::env::var_os(CHILD) {
        let provider: Provider = p.to_str().unwrap().parse().unwrap();
        let answer = match Client::from_env(provider) {
            Ok(c) => format!("ok {}", c.base_url()),
            Err(e) => match e.kind() {
                ErrorKind::InvalidInput { field, reason } => format!("err {field}: {reason}"),
                other => format!("other {other:?}"),
            },
        };
        println!("FROM_ENV {answer}");
        return;
    }
    for provider in [Provider::Vmeg, Provider::JimmyAi] {
        let (key_var, base_var) = (provider.api_key_var(), provider.base_url_var());
        let key = Some(OsString::from("k-from-env"));
        let not_utf8 = OsString::from_vec(b"http://127.0.0.1:1/\xff".to_vec());
        for (what, value, said) in [
            ("empty", OsString::new(), "is set but empty"),
            ("blank", OsString::from("  \t"), "is set but empty"),
            ("not UTF-8", not_utf8, "not valid UTF-8"),
        ] {
            let answer = run_child(provider, &[(key_var, key.clone()), (base_var, Some(value))]);
            assert!(
                answer.starts_with(&format!("err {base_var}: ")),
                "{provider} {what}: {answer}"
            );
            assert!(answer.contains(said), "{provider} {what}: {answer}");
        }
        // Unset: the vendor's own API; set: that URL (its blanks trimmed).
        let answer = run_child(provider, &[(key_var, key.clone())]);
        assert_eq!(
            answer.trim_end_matches('/'),
            format!("ok {}", provider.default_base_url().trim_end_matches('/'))
        );
        let url = Some(OsString::from(" http://127.0.0.1:8080/ "));
        let answer = run_child(provider, &[(key_var, key.clone()), (base_var, url)]);
        assert_eq!(answer, "ok http://127.0.0.1:8080/", "{provider}");

        // The key: set but empty, or not UTF-8, is said as such; absent, as not set.
        for (value, said) in [
            (Some(OsString::from(" ")), "is set but empty"),
            (
                Some(OsString::from_vec(b"k-\xff".to_vec())),
                "not valid UTF-8",
            ),
            (None, "is not set"),
        ] {
            let answer = run_child(provider, &[(key_var, value)]);
            assert!(
                answer.starts_with(&format!("err {key_var}: ")),
                "{provider}: {answer}"
            );
            assert!(answer.contains(said), "{provider}: {answer}");
        }
    }
}
