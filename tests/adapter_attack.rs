//! An adversarial acceptance pass over issue 9 ("Hardening the client") with inputs the other
//! tests do not use: each test names the class it attacks. Loopback only.

use crate::adapter_hostile::assert_no_key_piece;
use crate::adapter_support::{SECRET_KEY, client};
use serde_json::json;

use voiceclone::{Client, CloneRequest, ErrorKind, JobId, Provider, SpeechRequest};
use workspace_tests::scripted::{Scripted, Step};

fn write_request(provider: Provider) -> CloneRequest {
    match provider {
        Provider::Vmeg => CloneRequest::new("https://cdn.example.com/sample.wav").name("attack"),
        _ => CloneRequest::new("https://cdn.example.com/sample.mp3"),
    }
}

fn id_field(provider: Provider) -> &'static str {
    match provider {
        Provider::Vmeg => "taskId",
        _ => "id",
    }
}

fn raw(status: u16, body: String) -> Step {
    Step::Raw(status, Box::leak(body.into_boxed_str()))
}

/// Both writes of a provider (clone and speech), each reduced to `Ok(job id)` or the error.
async fn writes(c: &Client) -> Vec<Result<String, voiceclone::Error>> {
    vec![
        c.clone_voice(&write_request(c.provider()))
            .await
            .map(|j| j.id.as_str().to_owned()),
        c.synthesize(&SpeechRequest::new("voice-1", "Some words."))
            .await
            .map(|j| j.id.as_str().to_owned()),
    ]
}

fn unknown_task(e: &voiceclone::Error) -> Option<Option<String>> {
    match e.kind() {
        ErrorKind::OutcomeUnknown { task_id, .. } => {
            Some(task_id.as_ref().map(|t| t.as_str().to_owned()))
        }
        _ => None,
    }
}

/// Class 1 / 3: an id the server names must be one the client can use again. An id that
/// `clone_status` would refuse as `InvalidInput` (a dot segment, a separator, inner
/// whitespace, a Tomcat `..;` segment, more than 256 bytes, only invisible characters) is no
/// job id: the create ends as `OutcomeUnknown`, never as `Ok` with an id that cannot be polled.
#[tokio::test]
async fn ids_the_client_would_refuse_to_poll_are_no_usable_ids() {
    let long = "é".repeat(200); // 200 characters, 400 bytes
    let ids: Vec<&str> = vec![
        "..",
        ".",
        "%2e%2e",
        "a/b",
        "a\\b",
        "a b",
        "a\u{2028}b",
        "a\u{a0}b",
        "a?b",
        "a#b",
        "..;",
        "\u{200b}",
        "\u{feff}\u{200d}",
        &long,
        // A stored id's form (`vmeg:...`, `jimmyai:...`, any case): every call refuses it as
        // an id given back, so the paid job could never be polled.
        "VMEG:clone:1",
        "vmeg:1",
        " jimmyai:x",
    ];
    for provider in Provider::ALL {
        let idf = id_field(provider);
        for id in &ids {
            let body = match provider {
                Provider::Vmeg => json!({"code": 200, "data": { idf: id }}),
                _ => json!({"code": 20000, "data": { idf: id, "status": "queued"}}),
            };
            let server = Scripted::start(vec![Step::ok(body.clone()), Step::ok(body)]).await;
            let (c, _) = client(provider, &server.base_url);
            for r in writes(&c).await {
                match r {
                    Ok(job) => {
                        let polled = c.clone_status(&JobId::new(job.as_str())).await;
                        panic!(
                            "{provider} {id:?}: Ok with id {job:?}; polling it gives {:?}",
                            polled.err().map(|e| e.to_string())
                        );
                    }
                    Err(e) => assert_eq!(unknown_task(&e), Some(None), "{provider} {id:?}: {e}"),
                }
            }
            assert_eq!(server.seen().len(), 2, "{provider} {id:?}: resent");
        }
    }
}

/// Class 1: the success code as a numeric string in any spelling a JSON number may take
/// (`"20000.0"`, `"2e4"`) is the success code, as the same number unquoted is: a non-2xx
/// carrying it and an id is `OutcomeUnknown` with the id, never a plain failure.
#[tokio::test]
async fn a_success_code_spelled_as_a_decimal_string_is_the_success_code() {
    for provider in Provider::ALL {
        let idf = id_field(provider);
        let codes: &[&str] = match provider {
            Provider::Vmeg => &["\"200.0\"", "\"2e2\"", "\" 200.00 \""],
            _ => &["\"20000.0\"", "\"2e4\"", "\"2.0E4\""],
        };
        for code in codes {
            for status in [500u16, 429, 503] {
                let body =
                    format!(r#"{{"code":{code},"data":{{"{idf}":"t-5","status":"queued"}}}}"#);
                let server = Scripted::start(vec![raw(status, body.clone()); 8]).await;
                let (c, sleeper) = client(provider, &server.base_url);
                for r in writes(&c).await {
                    let e = r.expect_err("Ok from a non-2xx");
                    assert_eq!(
                        unknown_task(&e),
                        Some(Some("t-5".to_owned())),
                        "{provider} HTTP {status} code {code}: {e}"
                    );
                }
                assert_eq!(server.seen().len(), 2, "{provider} {status} {code}: resent");
                assert!(sleeper.sleeps().is_empty(), "{provider} {status} {code}");
            }
        }
    }
}

/// Class 3: ids a server or proxy decodes differently than the `%XX` rule: Tomcat path
/// parameters (`..;`), IIS `%uXXXX`, overlong UTF-8 (`%c0%ae` for `.`, `%c0%af` for `/`).
/// Refused as `InvalidInput` naming `job_id`, nothing sent.
#[tokio::test]
async fn ids_that_other_decoders_read_as_dot_segments_are_refused() {
    let ids = [
        "..;",
        "..;jsessionid=1",
        ".;x",
        "%2e%2e;",
        "%u002e%u002e",
        "%U002E%u002E",
        "%u002f",
        "%c0%ae%c0%ae",
        "%c0%af",
        "%e0%80%ae%e0%80%ae",
        "a%ffb",
        ";x",
        "\u{200b}",
        "t-1\u{202e}",
    ];
    for provider in Provider::ALL {
        let server = Scripted::start(vec![]).await;
        let (c, _) = client(provider, &server.base_url);
        for id in ids {
            let e = c.speech_status(&JobId::new(id)).await.unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "job_id"),
                "{provider} {id:?}: {e}"
            );
        }
        assert!(server.seen().is_empty(), "{provider}: {:?}", server.seen());
    }
}

/// Class 8: private hosts in spellings the `url` crate leaves as names (more than one
/// trailing dot) still count as private.
#[tokio::test]
async fn private_hosts_with_extra_trailing_dots_are_still_private() {
    let urls = [
        "https://localhost../a.mp3",
        "https://127.0.0.1../a.mp3",
        "https://10.0.0.1../a.mp3",
        "https://foo.localhost../a.mp3",
        "https://metadata.google.internal../a.mp3",
        "https://intranet../a.mp3",
        "https://0x7f.1../a.mp3",
        "https://ｌｏｃａｌｈｏｓｔ/a.mp3",
        "https://127。0。0。1/a.mp3",
    ];
    let server = Scripted::start(vec![]).await;
    let (c, _) = client(Provider::JimmyAi, &server.base_url);
    for url in urls {
        let e = c.clone_voice(&CloneRequest::new(url)).await.unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "audio_url"),
            "{url}: {e}"
        );
    }
    assert!(server.seen().is_empty());
}

/// Class 4: a URL is transformed when it is parsed (the host is percent-decoded, IDNA-mapped,
/// lower-cased, punycoded), so a URL scrubbed only as text can come out holding the key. The
/// URLs a call returns must be free of it after parsing.
#[tokio::test]
async fn a_key_that_url_parsing_would_assemble_never_comes_back_out() {
    let pct: String = SECRET_KEY
        .bytes()
        .map(|b| format!("%{b:02x}"))
        .collect::<String>();
    let fullwidth: String = SECRET_KEY
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                char::from_u32(u32::from(c) - 0x21 + 0xff01).unwrap_or(c)
            } else {
                c
            }
        })
        .collect();
    // Punycode keeps a label's ASCII characters as its basic part: interleave a non-ASCII
    // letter so no 8 key characters are adjacent in the text.
    let interleaved: String = SECRET_KEY
        .to_ascii_lowercase()
        .chars()
        .flat_map(|c| [c, 'ü'])
        .collect();
    // The URL parser drops tabs and newlines anywhere.
    let broken: String = SECRET_KEY
        .chars()
        .enumerate()
        .flat_map(|(i, c)| if i % 5 == 4 { vec![c, '\t'] } else { vec![c] })
        .collect();
    let urls = [
        format!("https://cdn.example.com/{broken}/a.mp3"),
        format!("https://{pct}.example.com/a.mp3"),
        format!("https://{fullwidth}.example.com/a.mp3"),
        format!("https://{interleaved}.example.com/a.mp3"),
    ];
    for url in &urls {
        // JimmyAI status: audioUrl (speech) and audioUrl/modelId (clone).
        let body = json!({"code": 20000, "data": {"id": "t-1", "status": "completed",
            "modelId": "m-1", "audioUrl": url, "subtitleFile": url}});
        let server = Scripted::start(vec![Step::ok(body.clone()), Step::ok(body)]).await;
        let (c, _) = client(Provider::JimmyAi, &server.base_url);
        let s = c.speech_status(&JobId::new("t-1")).await;
        assert_no_key_piece(&format!("{s:?}"), SECRET_KEY, url);
        let v = c.clone_status(&JobId::new("t-1")).await;
        assert_no_key_piece(&format!("{v:?}"), SECRET_KEY, url);
        // VMEG: the voice list's preview audio and a detail's result URIs.
        let list = json!({"code": 200, "data": {"records": [
            {"voiceId": "v-1", "taskId": "t-1", "name": "n", "audio": url}], "total": 1}});
        let detail = json!({"code": 200, "data": {"status": "finished",
            "result": {"taskId": "t-1", "results": [{"uri": url}]}}});
        let server = Scripted::start(vec![Step::ok(list), Step::ok(detail)]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let l = c.list_voices().await;
        assert_no_key_piece(&format!("{l:?}"), SECRET_KEY, url);
        let s = c.speech_status(&JobId::new("t-1")).await;
        assert_no_key_piece(&format!("{s:?}"), SECRET_KEY, url);
    }
}

/// Class 6: a `Retry-After` too large for a `u32` (or written as a float beyond 1e9) is a
/// very long wait, so the call gives up with `retry_after` set (RELIABILITY.md: beyond
/// `max_retry_after` it is not slept through); read as "no Retry-After", it let the retries
/// hammer a server that had asked for a pause.
#[tokio::test]
async fn a_retry_after_too_large_for_its_type_is_not_read_as_absent() {
    for value in ["4294967296", "99999999999999999999999", "1e12", "1e400"] {
        let step = Step::Json(
            429,
            vec![("Retry-After", value.to_owned())],
            json!({"code": 429, "message": "slow down"}),
        );
        let server = Scripted::start(vec![step; 4]).await;
        let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
        let e = c.clone_status(&JobId::new("t-1")).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::RateLimited, "{value}: {e}");
        assert!(
            e.retry_after()
                .is_some_and(|d| d >= std::time::Duration::from_secs(1 << 32)),
            "{value}: {e:?}"
        );
        assert_eq!(server.seen().len(), 1, "{value}: retried");
        assert!(sleeper.sleeps().is_empty(), "{value}");
    }
}

/// Class 2: a webhook for a product this crate does not normalize (`openapi-translate`,
/// `openapi-media-translation`, or a clone event whose data names no usable task) is handed
/// back as `WebhookPayload::Other(RawData)`: the JSON text as sent, so the id keeps its exact
/// digits (a `serde_json::Value` would hold it as `1.2345678901234568e32`).
#[test]
fn webhook_other_payload_ids_keep_their_exact_text() {
    use hmac::{Hmac, Mac};
    const BIG: &str = "123456789012345678901234567890123";
    let body = format!(
        r#"{{"code":200,"event":"openapi-translate","pipelineKey":"p-1","data":{{"taskId":{BIG}}}}}"#
    );
    let now = std::time::SystemTime::now();
    let ts = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"whsec-other").unwrap();
    mac.update(ts.as_bytes());
    mac.update(body.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    let event = voiceclone::webhook::Verifier::new(voiceclone::WebhookSecret::new("whsec-other"))
        .verify_at(&ts, &sig, body.as_bytes(), now)
        .unwrap();
    match event.payload {
        voiceclone::webhook::WebhookPayload::Other(data) => {
            assert_eq!(data.task_id().as_deref(), Some(BIG), "{data:?}");
            assert!(data.as_str().contains(BIG));
        }
        other => panic!("expected Other, got {other:?}"),
    }
}

/// A raw loopback server: answers every connection with `reply` (written in pieces `drip`
/// apart), after reading the request head.
async fn raw_server(reply: Vec<u8>, drip: Option<std::time::Duration>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                match drip {
                    None => {
                        let _ = s.write_all(&reply).await;
                    }
                    Some(every) => {
                        for b in reply.iter().cycle() {
                            if s.write_all(&[*b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(every).await;
                        }
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// Class 5: a body of exactly the limit is read; one byte more is abandoned, whether it is
/// announced by `Content-Length` or streamed in chunks (one of which announces an absurd size).
#[tokio::test]
async fn bodies_at_the_limit_are_read_and_one_byte_over_is_not() {
    let build = |base: &str| {
        Client::builder(Provider::Vmeg)
            .api_key(SECRET_KEY)
            .base_url(base)
            .max_response_bytes(1024)
            .retry(voiceclone::RetryPolicy::none())
            .build()
            .unwrap()
    };
    let prefix = r#"{"code":200,"data":{"status":"running","pad":""#;
    let body = |len: usize| {
        let pad = "x".repeat(len - prefix.len() - 3);
        format!(r#"{prefix}{pad}"}}}}"#)
    };
    for (len, ok) in [(1024, true), (1025, false)] {
        let b = body(len);
        assert_eq!(b.len(), len);
        let fixed =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{b}");
        let chunked = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            len / 2,
            &b[..len / 2],
            len - len / 2,
            &b[len / 2..]
        );
        for reply in [fixed, chunked] {
            let base = raw_server(reply.into_bytes(), None).await;
            let r = build(&base).clone_status(&JobId::new("t-1")).await;
            assert_eq!(r.is_ok(), ok, "{len}: {r:?}");
        }
    }
    // A chunk that announces 2^64-1 bytes and then streams.
    let mut huge =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 64 * 1024));
    let base = raw_server(huge, None).await;
    let e = build(&base)
        .clone_status(&JobId::new("t-1"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidResponse, "{e}");
}

/// Class 6: a server that drips its answer one byte at a time never lets a wait outlast its
/// deadline (the per-request timeout is far longer): it ends at ~1 s (0.5 s, and the last
/// poll's 1 s grace counted from the start); the drip alone would take 2,000 s, the request
/// timeout 60 s. The bound, 10 s, leaves a loaded machine seconds.
#[tokio::test]
async fn a_server_dripping_bytes_cannot_stretch_a_wait_past_its_deadline() {
    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{\"code\":200,\"data\":{\"status\":\"running\"".to_vec();
    let base = raw_server(reply, Some(std::time::Duration::from_millis(20))).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(&base)
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap();
    let deadline = std::time::Duration::from_millis(500);
    let wait = voiceclone::WaitPolicy::for_provider(Provider::Vmeg).with_deadline(Some(deadline));
    // Five waits, one after another: each is bounded far below the bug's 60 s (a stall of a
    // loaded machine stays inside it), and their median within the deadline plus the
    // library's 1 s grace and a second for the machine, which a few seconds' regression
    // (a grace per drip, a longer last poll) fails while one slow wait does not.
    let mut took = Vec::new();
    for n in 0..5 {
        let started = std::time::Instant::now();
        let e = c
            .wait_for_speech(&JobId::new(format!("t-{n}")), &wait)
            .await
            .unwrap_err();
        let t = started.elapsed();
        assert!(matches!(e.kind(), ErrorKind::WaitTimedOut { .. }), "{e}");
        assert!(t < std::time::Duration::from_secs(10), "{t:?}");
        took.push(t);
    }
    took.sort();
    let median = took.get(took.len() / 2).copied().unwrap_or_default();
    assert!(
        median < deadline + std::time::Duration::from_secs(2),
        "the typical wait ended well past its deadline: {took:?}"
    );
}
