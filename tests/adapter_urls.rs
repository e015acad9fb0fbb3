//! URL checks that mean it: a loopback base URL does not make private audio URLs acceptable
//! (only `allow_private_urls(true)` does), nothing is sent when one is refused, the URL sent
//! to the provider is the one that was checked, and plain HTTP base URLs are for loopback IP
//! literals and `localhost` only.

use crate::adapter_support::SECRET_KEY;
use serde_json::{Value, json};
use std::time::Duration;
use voiceclone::{Client, CloneRequest, ErrorKind, Provider, RetryPolicy};
use workspace_tests::scripted::{Scripted, Step};

fn accepted(provider: Provider) -> Step {
    match provider {
        Provider::Vmeg => Step::ok(json!({"code": 200, "message": "",
            "data": {"taskId": "t-1", "createdAt": "2026-11-21T00:00:00Z"}})),
        _ => Step::ok(json!({"code": 20000, "msg": "ok", "data": {
            "id": "a-1", "object": "audio", "created": 1781777280,
            "model": "soundCloningClone", "status": "queued", "error": null}})),
    }
}

fn client(provider: Provider, base: &str, allow_private: Option<bool>) -> Client {
    let mut b = Client::builder(provider)
        .api_key(SECRET_KEY)
        .base_url(base)
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(5));
    if let Some(allow) = allow_private {
        b = b.allow_private_urls(allow);
    }
    b.build().unwrap()
}

/// The audio URL field of the body the server received.
fn sent_audio_url(provider: Provider, body: &Value) -> String {
    let field = match provider {
        Provider::Vmeg => "refAudio",
        _ => "fileUrl",
    };
    body[field].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_loopback_base_url_does_not_allow_private_audio_urls_unless_opted_in() {
    for provider in Provider::ALL {
        let server = Scripted::start(vec![accepted(provider)]).await;
        let private = [
            format!("{}/sample.wav", server.base_url),
            "http://localhost/sample.wav".to_string(),
            "https://10.0.0.7/sample.wav".to_string(),
            "https://169.254.169.254/latest/meta-data/x.wav".to_string(),
            "https://[::ffff:127.0.0.1]/sample.wav".to_string(),
            "https://2130706433/sample.wav".to_string(),
            "https://intranet/sample.wav".to_string(),
            "https://metadata.google.internal/sample.wav".to_string(),
        ];
        for allow in [None, Some(false)] {
            let c = client(provider, &server.base_url, allow);
            for url in &private {
                let e = c.clone_voice(&CloneRequest::new(url)).await.unwrap_err();
                assert!(
                    matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "audio_url"),
                    "{provider} {url} (allow_private_urls {allow:?}): {e:?}"
                );
            }
        }
        assert!(
            server.seen().is_empty(),
            "{provider}: a refused URL was sent"
        );
        // Opted in: a local sample (a simulator's) is accepted and sent.
        let c = client(provider, &server.base_url, Some(true));
        let url = format!("{}/sample.wav", server.base_url);
        c.clone_voice(&CloneRequest::new(url.as_str()))
            .await
            .unwrap();
        let seen = server.seen();
        assert_eq!(seen.len(), 1, "{provider}");
        assert_eq!(sent_audio_url(provider, &seen[0].json()), url, "{provider}");
    }
}

#[tokio::test]
async fn the_audio_url_sent_is_the_one_that_was_checked() {
    // Each raw URL and the serialization of its parse, which is what must go on the wire:
    // a provider's own parser must never get the chance to read the raw string differently.
    let cases = [
        (
            "  HTTPS://CDN.Example.COM/a/../sample.wav  ",
            "https://cdn.example.com/sample.wav",
        ),
        (
            "https://cdn.example.com\\@127.0.0.1/sample.wav",
            "https://cdn.example.com/@127.0.0.1/sample.wav",
        ),
        (
            "https://cdn.exa\tmple.com/sample.wav",
            "https://cdn.example.com/sample.wav",
        ),
        (
            "https://cdn.example.com:443/%7esample.wav",
            "https://cdn.example.com/%7esample.wav",
        ),
        (
            "https://cdn.example.com/a b.wav",
            "https://cdn.example.com/a%20b.wav",
        ),
    ];
    for provider in Provider::ALL {
        for (raw, checked) in cases {
            let server = Scripted::start(vec![accepted(provider)]).await;
            let c = client(provider, &server.base_url, None);
            c.clone_voice(&CloneRequest::new(raw)).await.unwrap();
            let seen = server.seen();
            assert_eq!(seen.len(), 1, "{provider} {raw:?}");
            assert_eq!(
                sent_audio_url(provider, &seen[0].json()),
                checked,
                "{provider} {raw:?}"
            );
        }
    }
}

#[test]
fn plain_http_base_urls_only_for_loopback_literals_and_localhost() {
    for good in [
        "http://127.0.0.1:8080",
        "http://127.9.9.9:1",
        "http://[::1]:9",
        "http://localhost:1",
        "http://LOCALHOST:1",
        "https://api.vmeg.ai",
    ] {
        assert!(
            Client::builder(Provider::Vmeg)
                .api_key("k")
                .base_url(good)
                .build()
                .is_ok(),
            "{good}"
        );
    }
    for bad in [
        "http://foo.localhost:1",
        "http://localhost.evil.com",
        "http://localhost.:1",
        "http://10.0.0.1",
        "http://192.168.1.1",
        "http://intranet",
        "http://api.vmeg.ai",
    ] {
        let e = Client::builder(Provider::Vmeg)
            .api_key("k")
            .base_url(bad)
            .build()
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "base_url"),
            "{bad}: {e:?}"
        );
    }
}

/// A plain-http `localhost` base is this machine by its name only: the name is resolved to
/// the loopback addresses by the client itself, never by the system's resolver (a system with
/// no `localhost` in its hosts file asks DNS, where a search domain's wildcard record would
/// take the key in clear off the machine). The call still reaches a server on 127.0.0.1 at
/// the URL's port. Before: the system's resolver answered (no line logged).
#[tokio::test]
async fn a_plain_http_localhost_base_resolves_to_loopback_without_the_system_resolver() {
    let server = Scripted::start(vec![Step::ok(
        json!({"code": 200, "data": {"taskId": "t-1", "status": "running"}}),
    )])
    .await;
    let base = server.base_url.replace("127.0.0.1", "localhost");
    assert!(base.starts_with("http://localhost:"), "{base}");
    let (logs, guard) = crate::adapter_support::capture_logs();
    let job = client(Provider::Vmeg, &base, None)
        .clone_status(&voiceclone::JobId::new("t-1"))
        .await
        .unwrap();
    drop(guard);
    assert_eq!(job.id.as_str(), "t-1");
    assert_eq!(server.seen().len(), 1);
    let logs = logs.take();
    assert!(
        logs.contains("resolved to this machine's loopback addresses")
            && logs.contains("localhost"),
        "{logs}"
    );
}

/// A simulator listening on `::1` only is still reached through `http://localhost`: the
/// pinned resolution hands out both loopback addresses, and the refused IPv4 one falls back to
/// IPv6. (Skipped where this machine has no IPv6 loopback.)
#[tokio::test]
async fn a_plain_http_localhost_base_reaches_a_server_on_ipv6_loopback_only() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(listener) = tokio::net::TcpListener::bind("[::1]:0").await else {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let served = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 16384];
        let _ = s.read(&mut buf).await;
        let body = r#"{"code":200,"data":{"taskId":"t-6","status":"running"}}"#;
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(reply.as_bytes()).await.unwrap();
    });
    let job = client(Provider::Vmeg, &format!("http://localhost:{port}"), None)
        .clone_status(&voiceclone::JobId::new("t-6"))
        .await
        .unwrap();
    assert_eq!(job.id.as_str(), "t-6");
    served.await.unwrap();
}

/// A base URL carrying credentials, a query or a fragment (even an empty one) is refused by
/// name when the client is built. A fragment passed before: the generated calls set their
/// path past it, but JimmyAI's upload, written as base + path, sent the recording (and the
/// key) to the base's root path.
#[test]
fn a_base_url_with_credentials_a_query_or_a_fragment_is_refused() {
    for provider in [Provider::Vmeg, Provider::JimmyAi] {
        for bad in [
            "https://user:pw@api.example.com",
            "https://user@api.example.com",
            "https://api.example.com/?region=eu",
            "https://api.example.com/?",
            "https://api.example.com/#x",
            "https://api.example.com/v1#",
            "http://127.0.0.1:9/#x",
        ] {
            let e = Client::builder(provider)
                .api_key("k")
                .base_url(bad)
                .build()
                .unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "base_url"),
                "{provider:?} {bad}: {e:?}"
            );
        }
    }
}
