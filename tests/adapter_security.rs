//! Secrets never show up in output; HTTPS and redirect rules.

use crate::adapter_support::{SECRET_KEY, client};
use serde_json::json;
use std::time::{Duration, SystemTime};
use voiceclone::webhook::WebhookFailure;
use voiceclone::{
    ApiKey, Client, CloneRequest, Error, ErrorKind, JobId, Provider, TaskStatus, WebhookSecret,
};
use workspace_tests::scripted::{Scripted, Step};

fn every_error_kind() -> Vec<ErrorKind> {
    vec![
        ErrorKind::InvalidInput {
            field: "audio_url".into(),
            reason: "bad".into(),
        },
        ErrorKind::Unauthorized,
        ErrorKind::PaymentRequired,
        ErrorKind::InvalidRequest,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::PayloadTooLarge,
        ErrorKind::RateLimited,
        ErrorKind::Server,
        ErrorKind::Timeout,
        ErrorKind::Transport,
        ErrorKind::InvalidResponse,
        ErrorKind::TaskFailed {
            job_id: JobId::new("t"),
            reason: "r".into(),
        },
        ErrorKind::WaitTimedOut {
            job_id: JobId::new("t"),
            last_status: TaskStatus::Running,
            polls: 3,
        },
        ErrorKind::OutcomeUnknown {
            idempotency_key: Some("k".into()),
            task_id: Some(JobId::new("t")),
            submitted_at: SystemTime::now(),
            request: voiceclone::RequestSummary::default(),
        },
        ErrorKind::Unsupported {
            operation: "upload_sample".into(),
            provider: Provider::Vmeg,
        },
        ErrorKind::Webhook(WebhookFailure::SignatureMismatch),
        ErrorKind::Vendor,
    ]
}

#[test]
fn secrets_are_redacted_in_debug_and_display() {
    let key = ApiKey::new(SECRET_KEY);
    let secret = WebhookSecret::new("whsec-DO-NOT-PRINT");
    for text in [
        format!("{key:?}"),
        format!("{key}"),
        format!("{secret:?}"),
        format!("{secret}"),
    ] {
        assert!(!text.contains("DO-NOT-PRINT"), "{text}");
    }
    let verifier = voiceclone::webhook::Verifier::new(secret);
    assert!(!format!("{verifier:?}").contains("DO-NOT-PRINT"));
}

#[test]
fn no_error_kind_ever_formats_the_key() {
    for kind in every_error_kind() {
        let e = Error::new(kind.clone());
        for text in [format!("{e}"), format!("{e:?}"), format!("{kind}")] {
            assert!(!text.contains(SECRET_KEY), "{text}");
            assert!(!text.is_empty());
        }
    }
}

#[tokio::test]
async fn the_client_and_errors_from_real_calls_never_show_the_key() {
    let server = Scripted::start(vec![
        Step::status(
            401,
            json!({"code": 401, "message": "Invalid or missing API Key", "data": null}),
        ),
        Step::Raw(502, "<html>gateway</html>"),
        Step::Raw(502, "<html>gateway</html>"),
        Step::Raw(502, "<html>gateway</html>"),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    assert!(!format!("{c:?}").contains(SECRET_KEY));
    let e1 = c
        .clone_voice(&CloneRequest::new("https://a.example/x.wav"))
        .await
        .unwrap_err();
    assert_eq!(*e1.kind(), ErrorKind::Unauthorized);
    let e2 = c.clone_status(&JobId::new("t")).await.unwrap_err();
    for e in [e1, e2] {
        let mut text = format!("{e} {e:?}");
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(&format!(" {s} {s:?}"));
            source = s.source();
        }
        assert!(!text.contains(SECRET_KEY), "{text}");
    }
}

#[test]
fn base_url_must_be_https_unless_loopback() {
    for bad in [
        "http://api.vmeg.ai",
        "ftp://api.vmeg.ai",
        "not a url",
        "https://user:pw@api.vmeg.ai",
    ] {
        let e = Client::builder(Provider::Vmeg)
            .api_key("k")
            .base_url(bad)
            .build()
            .unwrap_err();
        match e.kind() {
            ErrorKind::InvalidInput { field, .. } => assert_eq!(field, "base_url", "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    for good in [
        "https://api.vmeg.ai",
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:9",
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
    let e = Client::builder(Provider::Vmeg)
        .base_url("https://api.vmeg.ai")
        .build()
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "api_key"));
}

#[tokio::test]
async fn a_redirect_is_not_followed_so_the_key_never_reaches_another_host() {
    let elsewhere = Scripted::start(vec![]).await;
    let server = Scripted::start(vec![
        Step::Json(
            302,
            vec![(
                "location",
                format!(
                    "{}/openapi/v1/tasks/detail?taskId=t",
                    elsewhere.base_url.replace("127.0.0.1", "localhost")
                )
            )],
            json!({}),
        );
        3
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c.clone_status(&JobId::new("t")).await.unwrap_err();
    assert!(
        e.http_status() == Some(302) || !matches!(e.kind(), ErrorKind::Timeout),
        "{e}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        elsewhere.seen().is_empty(),
        "the redirect target must see nothing"
    );
}

/// A caller's idempotency key sharing a piece of 8 characters with the API key is refused
/// before anything is sent, without quoting it: it is sent as a header, and the error that
/// finds a lost submit would show it scrubbed, so that `resubmit_*` resent under a changed
/// key and VMEG billed a second task. A key sharing less is sent, and a lost submit's
/// `ReconcileQuery` carries it exactly.
#[tokio::test]
async fn an_idempotency_key_holding_a_piece_of_the_api_key_is_refused_before_sending() {
    const API_KEY: &str = "sk-live-0123456789abcdef";
    let server = Scripted::start(Vec::new()).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(API_KEY)
        .base_url(server.base_url.as_str())
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap();
    let shared = "order-0123456789ab";
    let clone = CloneRequest::new("https://cdn.example.com/a.wav")
        .name("n")
        .idempotency_key(shared);
    let speech = voiceclone::SpeechRequest::new("cv_1", "Hello.").idempotency_key(shared);
    let errors = [
        c.clone_voice(&clone).await.unwrap_err(),
        c.synthesize(&speech).await.unwrap_err(),
    ];
    for e in errors {
        assert!(
            matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "idempotency_key"),
            "{e}"
        );
        assert!(!format!("{e} {e:?}").contains("0123456789ab"), "{e}");
        assert!(e.may_resubmit(), "{e}");
    }
    assert!(server.seen().is_empty(), "nothing may be sent");

    // Seven characters in common: sent (answered 500: the outcome is unknown), and the lost
    // submit's key is the one sent.
    server.push([Step::status(500, json!({"code": 500, "message": "boom"}))]);
    let near = "order-x0123456-y";
    let e = c
        .clone_voice(&clone.clone().idempotency_key(near))
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    let q = voiceclone::ReconcileQuery::from_error(&e).unwrap();
    assert_eq!(q.idempotency_key.as_deref(), Some(near), "{e}");
    assert_eq!(server.seen().len(), 1);
}
