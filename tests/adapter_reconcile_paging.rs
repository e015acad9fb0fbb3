//! The task list walked by `reconcile` (and `tasks`, and the voice-name search) is read to
//! its end whatever the server's page size: VMEG's largest page size is UNKNOWN (api-facts
//! A17.10), so a short page is not taken for the last one. A walk cut short would have
//! `reconcile` answer `None` ("the submit most likely created nothing") for a task that
//! exists, and a caller who trusted it would pay twice.

use crate::adapter_support::client;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use voiceclone::{JobKind, Provider, ReconcileQuery, Reconciled};
use workspace_tests::scripted::{Scripted, Step};

fn iso(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).unwrap().to_string()
}

fn page(records: Vec<Value>, total: Option<usize>) -> Step {
    let mut data = json!({ "records": records });
    if let Some(total) = total {
        data["total"] = json!(total);
    }
    Step::ok(json!({"code": 200, "message": "", "data": data}))
}

fn old_tasks(n: usize) -> Vec<Value> {
    let old = iso(SystemTime::now() - Duration::from_secs(30 * 86_400));
    (0..n)
        .map(|i| json!({"taskId": format!("old-{i}"), "taskType": "tts", "status": "finished", "createdAt": old}))
        .collect()
}

fn mine() -> Value {
    json!({"taskId": "t-mine", "taskType": "tts", "status": "processing", "createdAt": iso(SystemTime::now())})
}

async fn reconcile(server: &Scripted) -> Reconciled {
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    c.reconcile(&ReconcileQuery::new(SystemTime::now()).kind(JobKind::Speech))
        .await
        .unwrap()
}

/// Whether the answer points at the task (one candidate in the window, nothing tying it to
/// the submit: a candidate, not `None`).
fn points_at_mine(r: &Reconciled) -> bool {
    match r {
        Reconciled::Found { task, .. } => task.id.as_str() == "t-mine",
        Reconciled::Candidates { tasks, .. } => tasks.iter().any(|t| t.id.as_str() == "t-mine"),
        _ => false,
    }
}

/// A server that caps the 50 asked for at 20: its first page is "short", and `total` says
/// there is more. Before: the walk ended there and `reconcile` answered `None`.
#[tokio::test]
async fn a_server_that_caps_the_page_size_is_read_to_its_total() {
    let server = Scripted::start(vec![
        page(old_tasks(20), Some(21)),
        page(vec![mine()], Some(21)),
    ])
    .await;
    let r = reconcile(&server).await;
    assert!(
        points_at_mine(&r),
        "{} page(s) read: {r}",
        server.seen().len()
    );
    assert_eq!(server.seen().len(), 2, "read to its total, no further");
}

/// A full page whose one unusable record (an empty id) was dropped is still a full page.
/// Before: 49 usable records read as a short page, the end.
#[tokio::test]
async fn a_full_page_with_an_unusable_record_does_not_end_the_walk() {
    let mut first = old_tasks(49);
    first.push(json!({"taskId": "", "taskType": "tts", "status": "finished"}));
    let server = Scripted::start(vec![
        page(first, None),
        page(vec![mine()], None),
        page(vec![], None),
    ])
    .await;
    let r = reconcile(&server).await;
    assert!(
        points_at_mine(&r),
        "{} page(s) read: {r}",
        server.seen().len()
    );
}

/// Without `total`, a short page is followed by one more request: the list ends at the
/// empty page, or, when the server ignores the page number and answers the same short page
/// again, there (the whole list fit on it): never an error, never a second pass.
#[tokio::test]
async fn without_a_total_the_walk_ends_at_an_empty_or_repeated_short_page() {
    let server = Scripted::start(vec![page(vec![mine()], None), page(vec![], None)]).await;
    assert!(points_at_mine(&reconcile(&server).await));
    assert_eq!(server.seen().len(), 2);

    let server = Scripted::start(vec![page(vec![mine()], None), page(vec![mine()], None)]).await;
    assert!(points_at_mine(&reconcile(&server).await));
    assert_eq!(server.seen().len(), 2);
}

/// The answer of a reconcile whose walk may end in an error: pointing at the task, or an
/// error (or an incomplete search), never `None` and never candidates that leave it out.
async fn reconcile_result(server: &Scripted) -> Result<Reconciled, voiceclone::Error> {
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    c.reconcile(&ReconcileQuery::new(SystemTime::now()).kind(JobKind::Speech))
        .await
}

fn points_at_mine_or_says_incomplete(r: &Result<Reconciled, voiceclone::Error>) -> bool {
    match r {
        Ok(Reconciled::Candidates {
            incomplete: true, ..
        }) => true,
        Ok(r) => points_at_mine(r),
        Err(e) => !e.may_resubmit(),
    }
}

/// Page 1 is full (50 of the 50 asked for) and its `total` is 50, the count of that page
/// alone: the walk asks once more and finds the task on page 2. Before: `seen == total`
/// ended the walk after page 1 and `reconcile` answered `None`.
#[tokio::test]
async fn a_full_first_page_whose_total_counts_only_itself_does_not_end_the_walk() {
    let server = Scripted::start(vec![
        page(old_tasks(50), Some(50)),
        page(vec![mine()], Some(1)),
        page(vec![], Some(0)),
    ])
    .await;
    let r = reconcile_result(&server).await;
    assert!(points_at_mine_or_says_incomplete(&r), "{r:?}");
    assert!(r.as_ref().is_ok_and(points_at_mine), "{r:?}");
}

/// A server that ignores the page number and caps the page size answers the same 20 records
/// for every page, with `total` 500: the rest (the task among them) cannot be read, so the
/// walk is an error. Before: read as "the whole list fit on one page", 20 of 500, and
/// `reconcile` answered `None`.
#[tokio::test]
async fn the_same_short_page_again_while_total_says_more_is_an_error() {
    let server = Scripted::start(vec![
        page(old_tasks(20), Some(500)),
        page(old_tasks(20), Some(500)),
        page(old_tasks(20), Some(500)),
    ])
    .await;
    let r = reconcile_result(&server).await;
    assert!(points_at_mine_or_says_incomplete(&r), "{r:?}");
    assert!(r.is_err(), "{r:?}");
    assert_eq!(server.seen().len(), 2);
}

/// An empty page in the middle of a list whose `total` says 150 more records remain (the
/// task among them) is an error. Before: it ended the walk, and `reconcile` answered `None`.
#[tokio::test]
async fn an_empty_page_while_total_says_more_is_an_error() {
    let server = Scripted::start(vec![
        page(old_tasks(50), Some(200)),
        page(vec![], Some(200)),
        page(vec![mine()], Some(200)),
    ])
    .await;
    let r = reconcile_result(&server).await;
    assert!(points_at_mine_or_says_incomplete(&r), "{r:?}");
    let e = r.unwrap_err();
    assert!(e.to_string().contains("page 2 sent none"), "{e}");
}
