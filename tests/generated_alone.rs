//! The generated clients used on their own (`vmeg_client::connect`, `jimmyai_client::connect`),
//! without the `voiceclone` adapter: a path parameter stays in its path segment, an API key a
//! server echoes is never printed, and the synchronous creates get their long timeout.

use httpmock::MockServer;
// One trait (progenitor's) for both clients' `inner()`.
use jimmyai_client::ClientInfo as _;
use jimmyai_client_mock::MockServerExt as _;
use serde_json::json;
use std::time::Duration;
use workspace_tests::Capture;

const KEY: &str = "sk-live-Zq81vX0pLm2Rt7Yw";

fn task_answer(id: &str) -> serde_json::Value {
    json!({"code": 20000, "msg": "ok", "data": {"id": id, "status": "completed"}})
}

/// The path a generated `get_audio_task(id)` sends: `id` encoded into the last segment, `\`
/// included (http(s) URLs read it as `/`), never stepping out of it.
#[tokio::test]
async fn generated_path_parameters_stay_in_their_segment() {
    for (id, path) in [
        (
            "x\\..\\audio_other",
            "/api/open-api/v1/audios/x%5C..%5Caudio_other",
        ),
        (
            "..\\audio_other",
            "/api/open-api/v1/audios/..%5Caudio_other",
        ),
        ("\\", "/api/open-api/v1/audios/%5C"),
        ("../x", "/api/open-api/v1/audios/..%2Fx"),
        ("%2e%2e", "/api/open-api/v1/audios/%252e%252e"),
        ("...", "/api/open-api/v1/audios/..."),
        ("audio.1", "/api/open-api/v1/audios/audio.1"),
    ] {
        let capture = Capture::start(200, task_answer("t")).await;
        let client = jimmyai_client::connect(&capture.base_url(), capture.key()).unwrap();
        let answer = client.get_audio_task(id).await;
        assert!(answer.is_ok(), "{id:?}: {answer:?}");
        assert_eq!(capture.wire()["path"], json!(path), "{id:?}");
    }
    // Empty, `.` and `..` would be dropped or step up a segment: refused, nothing sent.
    for id in ["", ".", ".."] {
        let capture = Capture::start(200, task_answer("t")).await;
        let client = jimmyai_client::connect(&capture.base_url(), capture.key()).unwrap();
        let answer = client.get_audio_task(id).await;
        assert!(
            matches!(answer, Err(jimmyai_client::Error::InvalidRequest(_))),
            "{id:?}: {answer:?}"
        );
        assert_eq!(capture.wire(), json!("no request was received"), "{id:?}");
    }
}

/// A typed mock for an id matches the request the generated client sends for it, whatever the
/// id holds (`\` and `.` included), and no other.
#[tokio::test]
async fn typed_mocks_match_the_path_the_client_sends() {
    let server = MockServer::start_async().await;
    let id = "x\\..\\audio_other";
    let mock = server.get_audio_task(|when, then| {
        when.id(id);
        then.ok(&serde_json::from_value(task_answer(id)).unwrap());
    });
    let other = server.get_audio_task(|when, then| {
        when.id("audio_other");
        then.ok(&serde_json::from_value(task_answer("audio_other")).unwrap());
    });
    let client = jimmyai_client::connect(&server.base_url(), KEY).unwrap();
    let task = client.get_audio_task(id).await.unwrap().into_inner();
    assert_eq!(
        task.data
            .and_then(|d| d.id)
            .as_ref()
            .and_then(|t| t.as_str()),
        Some(id)
    );
    assert_eq!(mock.calls_async().await, 1);
    assert_eq!(other.calls_async().await, 0);
}

fn assert_no_key(what: &str, text: &str) {
    assert!(!text.contains(KEY), "{what} shows the key: {text}");
}

/// A key the server echoes is removed from what the generated clients return: an answer that
/// does not fit its type (the error's `Display` and `Debug` print the body), a decoded `msg`,
/// and a free-form `RawJson` value.
#[tokio::test]
async fn a_key_echoed_by_the_server_is_never_printed_by_the_generated_clients() {
    // Does not fit `GetAudioTaskEnvelope` (`data` is an object): `InvalidResponsePayload`.
    // (Each capture's key is `KEY` made unique to it: one that shows, shows `KEY`.)
    let key = workspace_tests::unique_key(KEY);
    let capture = Capture::start_keyed(
        key.clone(),
        200,
        json!({"code": 20001, "msg": format!("bad key {key}"), "data": [key]}),
    )
    .await;
    let client = jimmyai_client::connect(&capture.base_url(), &key).unwrap();
    let err = client.get_audio_task("t1").await.unwrap_err();
    assert!(
        matches!(err, jimmyai_client::Error::InvalidResponsePayload(..)),
        "{err:?}"
    );
    assert_no_key("Display", &format!("{err}"));
    assert_no_key("Debug", &format!("{err:?}"));
    assert_no_key("alternate Debug", &format!("{err:#?}"));
    assert!(format!("{err:?}").contains("[redacted]"), "{err:?}");

    // The key JSON-escaped in the body (`\u0073k-…`, or every character escaped) is the key
    // whole once read: gone from the body the error prints, as a raw copy is.
    let first_escaped = format!("\\u{:04x}{}", KEY.as_bytes()[0], &KEY[1..]);
    let all_escaped: String = KEY.bytes().map(|b| format!("\\u{b:04x}")).collect();
    for escaped in [first_escaped, all_escaped] {
        for body in [
            format!(r#"{{"msg":"bad key {escaped}","data":[1]}}"#),
            format!(r#"{{"code":20001,"msg":"bad key {escaped}","data":"x"}}"#),
            // Not JSON at all past the echo: still never printed.
            format!(r#"{{"msg":"bad key {escaped}", oops"#),
        ] {
            let server = MockServer::start_async().await;
            let answer = body.clone();
            server.mock(move |when, then| {
                when.path_includes("/audios/");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(answer.as_str());
            });
            let client = jimmyai_client::connect(&server.base_url(), KEY).unwrap();
            let err = client.get_audio_task("t1").await.unwrap_err();
            assert!(
                matches!(err, jimmyai_client::Error::InvalidResponsePayload(..)),
                "{err:?}"
            );
            for shown in [format!("{err}"), format!("{err:?}"), format!("{err:#?}")] {
                // `{:?}` doubles a backslash: undone, so an escaped echo is seen as sent.
                let unescaped = shown.replace("\\\\", "\\");
                assert!(!unescaped.contains(&escaped), "{body}: {shown}");
                assert_no_key("escaped", &shown);
            }
        }
    }

    // Fits: the key is gone from the decoded message.
    let key = workspace_tests::unique_key(KEY);
    let capture = Capture::start_keyed(
        key.clone(),
        200,
        json!({"code": 20001, "msg": format!("bad key {key}!")}),
    )
    .await;
    let client = jimmyai_client::connect(&capture.base_url(), &key).unwrap();
    let answer = client.get_audio_task("t1").await.unwrap().into_inner();
    assert_eq!(
        answer.msg.as_ref().and_then(|m| m.as_str()),
        Some("bad key [redacted]!")
    );

    // VMEG: `message`, and a task's free-form `result`, keys and values.
    let key = workspace_tests::unique_key(KEY);
    let capture = Capture::start_keyed(
        key.clone(),
        200,
        json!({"code": 200, "message": format!("echo {key}"), "data": {
            "taskId": "1", "status": "success",
            "result": {"note": format!("Bearer {key}"), key.as_str(): [format!("{key}x")], "n": 12345678901234567890u64}
        }}),
    )
    .await;
    let client = vmeg_client::connect(&capture.base_url(), &key).unwrap();
    let answer = client.tasks_detail(None, "1").await.unwrap().into_inner();
    assert_no_key("message", &format!("{:?}", answer.message));
    let result = answer.data.and_then(|d| d.result).unwrap();
    assert_no_key("result", result.get());
    assert!(
        result.get().contains("12345678901234567890"),
        "{}",
        result.get()
    );
    assert!(
        result.get().contains("Bearer [redacted]"),
        "{}",
        result.get()
    );
}

/// `connect` gives VMEG's synchronous creates (which answer once the work is done, tens of
/// seconds later) their long timeout, as the adapter does; everything else the default.
#[test]
fn connect_gives_the_synchronous_creates_their_long_timeout() {
    let client = vmeg_client::connect("http://127.0.0.1:1", KEY).unwrap();
    for op in ["clone_voice_create_sync", "tts_create_sync"] {
        assert!(vmeg_client::operation(op).is_some(), "{op}");
        let timeout = client.inner().timeout_for(op);
        assert!(timeout >= Duration::from_secs(120), "{op}: {timeout:?}");
    }
    assert_eq!(
        client.inner().timeout_for("tasks_detail"),
        client_glue_default_timeout()
    );
    let jimmy = jimmyai_client::connect("http://127.0.0.1:1", KEY).unwrap();
    assert_eq!(
        jimmy.inner().timeout_for("get_audio_task"),
        client_glue_default_timeout()
    );
    // The checked setter refuses a name no operation has, and sets a real one.
    let config = vmeg_client::config(KEY).unwrap();
    let refused = vmeg_client::with_operation_timeout(
        config.clone(),
        "clone_voice_create",
        Duration::from_secs(9),
    );
    assert!(refused.is_err());
    let config =
        vmeg_client::with_operation_timeout(config, "tasks_detail", Duration::from_secs(9))
            .unwrap();
    assert_eq!(config.timeout_for("tasks_detail"), Duration::from_secs(9));
}

fn client_glue_default_timeout() -> Duration {
    Duration::from_secs(30)
}

/// The operation names `ClientConfig::with_operation_timeout`'s documentation gives as
/// examples are operations of a generated client.
#[test]
fn with_operation_timeout_doc_names_real_operations() {
    let source = include_str!("../crates/client-glue/src/config.rs");
    let doc: String = source
        .split("pub fn with_operation_timeout")
        .next()
        .unwrap()
        .lines()
        .rev()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.trim_start().starts_with("///") || l.trim_start().starts_with("#["))
        .collect::<Vec<_>>()
        .join("\n");
    // The examples: the parenthesised list of names, `(`a`, `b`, ...)`.
    let examples = doc
        .split_once("(`")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(list, _)| format!("`{list}"))
        .unwrap_or_default();
    let names: Vec<&str> = examples
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_') && n.contains('_'))
        .collect();
    assert!(!names.is_empty(), "{doc}");
    for name in names {
        assert!(
            vmeg_client::operation(name).is_some() || jimmyai_client::operation(name).is_some(),
            "`{name}` is named in with_operation_timeout's doc but is no operation"
        );
    }
}

/// A key a server echoes in a response header never shows: progenitor's
/// `Error::UnexpectedResponse` prints the whole response (headers included) in its `Display`
/// and `Debug`, and a decoded answer's `ResponseValue` keeps the headers.
#[tokio::test]
async fn a_key_echoed_in_a_header_is_never_printed_by_the_generated_clients() {
    let server = MockServer::start_async().await;
    server.mock(|when, then| {
        when.path_includes("/audios/refused");
        then.status(401)
            .header("x-echo", format!("Bearer {KEY}"))
            .header("content-type", "application/json")
            .body("{}");
    });
    server.mock(|when, then| {
        when.path_includes("/audios/fine");
        then.status(200)
            .header("x-echo", format!("Bearer {KEY}"))
            .header("content-type", "application/json")
            .json_body(task_answer("fine"));
    });
    let client = jimmyai_client::connect(&server.base_url(), KEY).unwrap();

    let err = client.get_audio_task("refused").await.unwrap_err();
    assert!(
        matches!(err, jimmyai_client::Error::UnexpectedResponse(_)),
        "{err:?}"
    );
    assert_no_key("Display", &format!("{err}"));
    assert_no_key("Debug", &format!("{err:?}"));
    assert!(format!("{err:?}").contains("[redacted]"), "{err:?}");

    let answer = client.get_audio_task("fine").await.unwrap();
    assert_no_key("ResponseValue Debug", &format!("{answer:?}"));
    assert_eq!(
        answer.headers().get("x-echo").and_then(|v| v.to_str().ok()),
        Some("[redacted]")
    );
    assert_eq!(
        answer.into_inner().data.map(|d| d.id),
        Some(Some("fine".into()))
    );
}

/// Any 8-character piece of the key (ASCII case-insensitive) `text` holds.
fn piece_of_key(text: &str) -> Option<String> {
    let text = text.to_ascii_lowercase();
    let key = KEY.to_ascii_lowercase();
    key.as_bytes()
        .windows(8)
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .find(|p| text.contains(p.as_str()))
}

/// `KEY` with every byte percent-encoded.
fn percent_encoded_key() -> String {
    KEY.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// A server answering every task lookup with `status` and headers echoing the key
/// lower-cased, cut, percent-encoded and in a header's name.
async fn echoing_headers(status: u16) -> MockServer {
    let server = MockServer::start_async().await;
    let lower = KEY.to_ascii_lowercase();
    let cut: String = KEY.chars().skip(4).take(10).collect();
    let encoded = percent_encoded_key();
    let name = format!("x-{}", &lower[..12]);
    server.mock(move |when, then| {
        when.path_includes("/audios/");
        then.status(status)
            .header("x-lower", format!("Bearer {lower}"))
            .header("x-cut", format!("token {cut}..."))
            .header("x-encoded", format!("k={encoded}"))
            .header(name.as_str(), "the name holds a piece")
            .header("content-type", "application/json")
            .json_body(task_answer("fine"));
    });
    server
}

/// A header echoing the key in another form than whole is checked with the client's text
/// filter, as the strings of the body are: with the `voiceclone` adapter's (every piece of 8
/// or more characters, in any case) a lower-cased, cut or percent-encoded echo never shows,
/// in a header's value or name, in an error or in a `ResponseValue`; with `connect`'s (the key
/// whole), a percent-encoded echo of the whole key is removed too. Before, only a header
/// value holding the key whole, as sent, was.
#[tokio::test]
async fn a_key_echoed_in_a_header_in_any_form_is_never_printed_by_the_generated_clients() {
    let scrubber = std::sync::Arc::new(voiceclone::scrub::Scrubber::new(KEY));
    let filter: client_glue::TextFilter =
        std::sync::Arc::new(move |text: String| scrubber.scrub(&text).into_owned());
    let config = client_glue::ClientConfig::bearer_with_own_filter(KEY, filter).unwrap();
    for status in [200, 401] {
        let server = echoing_headers(status).await;
        let client = jimmyai_client::Client::new_with_client(
            &server.base_url(),
            client_glue::http_client().unwrap(),
            config.clone(),
        );
        let shown = match client.get_audio_task("fine").await {
            Ok(answer) => {
                for header in ["x-lower", "x-cut", "x-encoded"] {
                    assert_eq!(
                        answer.headers().get(header).and_then(|v| v.to_str().ok()),
                        Some("[redacted]"),
                        "{header}"
                    );
                }
                assert_eq!(
                    answer.headers().get("content-type").map(|v| v.as_bytes()),
                    Some(&b"application/json"[..])
                );
                format!("{answer:?}")
            }
            Err(err) => {
                assert!(
                    matches!(err, jimmyai_client::Error::UnexpectedResponse(_)),
                    "{err:?}"
                );
                format!("{err} {err:?}")
            }
        };
        assert_eq!(piece_of_key(&shown), None, "HTTP {status}: {shown}");
        assert!(!shown.contains(&percent_encoded_key()), "{shown}");
    }

    // `connect`: the key whole, as sent or percent-encoded.
    let server = MockServer::start_async().await;
    let encoded = percent_encoded_key();
    server.mock(move |when, then| {
        when.path_includes("/audios/");
        then.status(401)
            .header("x-encoded", format!("k={encoded}"))
            .body("{}");
    });
    let client = jimmyai_client::connect(&server.base_url(), KEY).unwrap();
    let err = client.get_audio_task("refused").await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(&percent_encoded_key()), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

/// `connect`'s header check finds the key whole in any case, with no `%` in the value too:
/// before, an echo of the key upper- or lower-cased was kept unless the value also held a `%`
/// (which alone started the case-insensitive pass), in an error and in a `ResponseValue`.
#[tokio::test]
async fn connect_redacts_a_header_echoing_the_key_in_another_case() {
    for echoed in [KEY.to_ascii_uppercase(), KEY.to_ascii_lowercase()] {
        for status in [200, 401] {
            let server = MockServer::start_async().await;
            let value = format!("Bearer {echoed}");
            server.mock(move |when, then| {
                when.path_includes("/audios/");
                then.status(status)
                    .header("x-echo", value.as_str())
                    .header("content-type", "application/json")
                    .json_body(task_answer("fine"));
            });
            let client = jimmyai_client::connect(&server.base_url(), KEY).unwrap();
            let shown = match client.get_audio_task("fine").await {
                Ok(answer) => {
                    assert_eq!(status, 200);
                    assert_eq!(
                        answer.headers().get("x-echo").and_then(|v| v.to_str().ok()),
                        Some("[redacted]"),
                        "{echoed}"
                    );
                    format!("{answer:?}")
                }
                Err(err) => {
                    assert!(
                        matches!(err, jimmyai_client::Error::UnexpectedResponse(_)),
                        "{err:?}"
                    );
                    let shown = format!("{err} {err:?}");
                    assert!(shown.contains("[redacted]"), "HTTP {status}: {shown}");
                    shown
                }
            };
            let lowered = shown.to_ascii_lowercase();
            assert!(
                !lowered.contains(&KEY.to_ascii_lowercase()),
                "HTTP {status}, {echoed}: {shown}"
            );
        }
    }
}

/// A base URL carrying credentials or a token in its query never shows them: not in the
/// generated client's `Debug`, not in the error of a call that could not connect (reqwest
/// prints the URL of a failed request), not in an `UnexpectedResponse` (which prints the
/// response's URL). The credentials are never sent either (the bearer header replaces the
/// basic one reqwest would make of them).
#[tokio::test]
async fn a_secret_in_the_base_url_is_never_printed_by_the_generated_clients() {
    const USER: &str = "base-user-7Qx";
    const PASSWORD: &str = "base-password-9Zk";
    const TOKEN: &str = "query-token-4Wm";
    let secrets = [USER, PASSWORD, TOKEN];
    let assert_hidden = |what: &str, text: &str| {
        for secret in secrets {
            assert!(!text.contains(secret), "{what} shows {secret}: {text}");
        }
    };
    let (_refusing, port) = workspace_tests::refusing_port();
    for base in [
        format!("http://{USER}:{PASSWORD}@127.0.0.1:{port}/v1"),
        format!("http://127.0.0.1:{port}/v1?token={TOKEN}"),
        format!("http://{USER}:{PASSWORD}@127.0.0.1:{port}/v1?token={TOKEN}#{TOKEN}"),
    ] {
        let client = jimmyai_client::connect(&base, KEY).unwrap();
        assert_hidden("the client's Debug", &format!("{client:?}"));
        assert!(format!("{client:?}").contains(&format!("127.0.0.1:{port}")));
        let err = client.get_audio_task("t1").await.unwrap_err();
        assert!(
            matches!(err, jimmyai_client::Error::CommunicationError(_)),
            "{err:?}"
        );
        assert_hidden("Display", &format!("{err}"));
        assert_hidden("alternate Display", &format!("{err:#}"));
        assert_hidden("Debug", &format!("{err:?}"));
        let vmeg = vmeg_client::connect(&base, KEY).unwrap();
        assert_hidden("the VMEG client's Debug", &format!("{vmeg:?}"));
        let err = vmeg.tasks_detail(Some("r1"), "t1").await.unwrap_err();
        assert_hidden("VMEG Display and Debug", &format!("{err} {err:?}"));
    }

    // An answer: its URL (printed by `UnexpectedResponse`) carries neither, and the server
    // saw the bearer key, not the credentials.
    let capture = Capture::start(401, json!({})).await;
    let served = capture.base_url();
    let host = served.trim_start_matches("http://");
    let base = format!("http://{USER}:{PASSWORD}@{host}/?token={TOKEN}");
    let client = vmeg_client::connect(&base, capture.key()).unwrap();
    let err = client.tasks_detail(Some("r1"), "t1").await.unwrap_err();
    assert!(
        matches!(err, vmeg_client::Error::UnexpectedResponse(_)),
        "{err:?}"
    );
    let shown = format!("{err} {err:?}");
    assert_hidden("UnexpectedResponse", &shown);
    assert!(shown.contains("?[redacted]"), "{shown}");
    // Recorded only when it carried the capture's bearer key (`Capture`): sent, as a bearer.
    assert_ne!(capture.wire(), json!("no request was received"));
    let wire = capture.wire().to_string();
    assert!(!wire.contains(PASSWORD), "{wire}");
}
