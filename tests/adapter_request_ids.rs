//! Issue 14 point 5: a request id on every VMEG call (`req_id`, api-facts A5), chosen by the
//! client for each attempt, and on the error as `Error::request_id()`: the id of the attempt
//! that produced the error, the one the server received.

use std::sync::Arc;

use serde_json::json;
use voiceclone::{
    Client, CloneRequest, ErrorKind, JobId, JobKind, Provider, RecordingSleeper, RetryPolicy,
};
use voiceclone_sim::{FaultKind, SimConfig, SimHandle, Simulator};
use workspace_tests::scripted::{Scripted, Step};

async fn sim() -> SimHandle {
    Simulator::start_with(SimConfig::default().with_speed(1000.0))
        .await
        .unwrap()
}

fn client(base: &str, key: &str, provider: Provider, retry: RetryPolicy) -> Client {
    Client::builder(provider)
        .api_key(key)
        .base_url(base)
        .retry(retry)
        .sleeper(Arc::new(RecordingSleeper::new()))
        .build()
        .unwrap()
}

/// The `req_id`s the simulator received for one operation, in order.
fn received(sim: &SimHandle, op: &str) -> Vec<String> {
    sim.stats()
        .request_ids
        .into_iter()
        .filter(|(o, _)| o == op)
        .map(|(_, id)| id)
        .collect()
}

fn req_id_of(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "req_id")
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn a_read_error_from_the_wire_carries_the_id_of_its_last_attempt_and_retries_use_new_ids() {
    let sim = sim().await;
    let c = client(
        &sim.base_url(),
        sim.api_key(),
        Provider::Vmeg,
        RetryPolicy::default().with_max_attempts(3),
    );
    sim.fail_next("vmeg.tasksDetail", FaultKind::Http503, 3)
        .unwrap();
    let e = c
        .clone_status(&JobId::typed(Provider::Vmeg, JobKind::Clone, "t-none"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Server, "{e}");
    let ids = received(&sim, "vmeg.tasksDetail");
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(e.request_id(), ids.last().map(String::as_str), "{e}");
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), 3, "each attempt has its own id: {ids:?}");
    for id in &ids {
        // README: "128 random bits as 32 lowercase hex digits".
        assert!(
            id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{id}"
        );
    }
    // Quotable by an operator: the id is in the message.
    let rid = e.request_id().unwrap_or_default();
    assert!(e.to_string().contains(&format!("request id {rid}")), "{e}");
}

#[tokio::test]
async fn a_write_whose_outcome_is_unknown_carries_the_id_of_the_attempt_that_may_have_landed() {
    let sim = sim().await;
    let c = client(
        &sim.base_url(),
        sim.api_key(),
        Provider::Vmeg,
        RetryPolicy::default(),
    );
    let op = "vmeg.cloneVoiceCreateAsync";
    sim.fail_next(op, FaultKind::DropAfter, 1).unwrap();
    let e = c
        .clone_voice(
            &CloneRequest::new("https://cdn.example.com/s.wav")
                .name("lost")
                .language("en-US"),
        )
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    // The lost answer is retried with the same idempotency key (VMEG answers 409: the
    // outcome stays unknown); the retry has an id of its own, but the error quotes the id
    // of the attempt that may have landed (the one whose answer was lost), to ask support.
    let ids = received(&sim, op);
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_ne!(ids[0], ids[1]);
    assert_eq!(e.request_id(), Some(ids[0].as_str()), "{e}");
    assert!(
        e.to_string().contains(&format!(
            "request id {} (of the attempt that may have landed)",
            ids[0]
        )),
        "{e}"
    );
}

#[tokio::test]
async fn every_attempt_sends_its_own_id_and_the_answered_one_is_on_the_error() {
    let server = Scripted::start(vec![
        Step::Raw(503, "busy"),
        Step::Raw(503, "busy"),
        Step::status(
            404,
            json!({"code": 404, "message": "task not found", "data": null}),
        ),
    ])
    .await;
    let c = client(
        &server.base_url,
        "k-123456",
        Provider::Vmeg,
        RetryPolicy::default(),
    );
    let e = c.clone_status(&JobId::new("t-1")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound, "{e}");
    let ids: Vec<String> = server
        .seen()
        .iter()
        .filter_map(|s| req_id_of(&s.query))
        .collect();
    assert_eq!(ids.len(), 3, "{:?}", server.seen());
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    assert_eq!(e.request_id(), Some(ids[2].as_str()));
    assert!(format!("{e:?}").contains(&ids[2]));
}

#[tokio::test]
async fn writes_send_one_too() {
    let server = Scripted::start(vec![Step::status(
        400,
        json!({"code": 400, "message": "voiceId not found", "data": null}),
    )])
    .await;
    let c = client(
        &server.base_url,
        "k-123456",
        Provider::Vmeg,
        RetryPolicy::default(),
    );
    let e = c.delete_voice("cv_1").await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidRequest, "{e}");
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(e.request_id(), req_id_of(&seen[0].query).as_deref());
    assert!(e.request_id().is_some());
}

#[tokio::test]
async fn jimmyai_takes_none_and_a_request_that_never_left_has_none() {
    let server = Scripted::start(vec![Step::Raw(503, "busy")]).await;
    let j = client(
        &server.base_url,
        "k-123456",
        Provider::JimmyAi,
        RetryPolicy::none(),
    );
    let e = j.clone_status(&JobId::new("audio_1")).await.unwrap_err();
    assert_eq!(e.request_id(), None, "{e}");
    assert_eq!(req_id_of(&server.seen()[0].query), None);
    // A connect that fails: nothing reached a server, so no id is worth quoting.
    let v = client(
        "http://127.0.0.1:9",
        "k-123456",
        Provider::Vmeg,
        RetryPolicy::none(),
    );
    let e = v.clone_status(&JobId::new("t-1")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Transport, "{e}");
    assert_eq!(e.request_id(), None, "{e}");
    // Refused before sending: no id either.
    let e = v.clone_status(&JobId::new("a/../b")).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidInput { .. }), "{e}");
    assert_eq!(e.request_id(), None, "{e}");
}
