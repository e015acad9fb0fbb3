//! Reconcile against task lists whose creation times cannot be placed exactly: missing,
//! unreadable, or written without a UTC offset (VMEG documents only "ISO 8601", not its
//! zone). Such a task may be the one a lost submit created, so the answer is never "none".

use crate::adapter_support::client;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use voiceclone::{JobKind, Provider, ReconcileQuery, Reconciled, TaskSummary};
use workspace_tests::scripted::{Scripted, Step};

/// 2026-01-01T12:00:00Z.
fn submitted() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_268_800)
}

/// One page of `tasks/list` holding one clone task created at `created_at` (absent when
/// `Value::Null`).
fn one_task(created_at: Value) -> Step {
    let mut task = json!({"taskId": "t-1", "taskType": "cloneVoice", "status": "processing"});
    if !created_at.is_null() {
        task["createdAt"] = created_at;
    }
    Step::ok(json!({"code": 200, "message": "", "data": {"records": [task], "total": 1}}))
}

async fn reconcile(created_at: Value) -> Reconciled {
    // The page twice: a search that lists nothing of the kind reads the list once more
    // without its type filter before it answers `None` (review 34-a #2).
    let server = Scripted::start(vec![one_task(created_at.clone()), one_task(created_at)]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let q = ReconcileQuery::new(submitted()).kind(JobKind::Clone);
    let r = c.reconcile(&q).await.unwrap();
    let seen = server.seen();
    if matches!(r, Reconciled::None { .. }) {
        assert_eq!(seen.len(), 2, "the page, then the page unfiltered");
        assert!(!seen[1].query.contains("taskType"), "{}", seen[1].query);
    } else {
        assert_eq!(seen.len(), 1, "one page, nothing else asked");
    }
    r
}

fn only_candidate(r: &Reconciled) -> &TaskSummary {
    match r {
        Reconciled::Candidates { tasks, .. } if tasks.len() == 1 => &tasks[0],
        other => panic!("expected the one task as a candidate, got {other}"),
    }
}

#[tokio::test]
async fn a_task_without_a_readable_creation_time_is_a_candidate_never_none() {
    for created_at in [
        Value::Null,
        json!(""),
        json!("yesterday"),
        json!("2026-13-01T00:00:00Z"),
        json!(1_767_268_800),
        json!({"at": "2026-01-01T12:00:00Z"}),
        // Before 2020, before either vendor's API: a zero or unset column, not a creation
        // time. Read as one, it put the task 56 years before the window, and the answer was
        // `None` ("most likely created nothing"): a second paid submit.
        json!("1970-01-01T00:00:00Z"),
        json!("2000-01-01T08:00:00+08:00"),
        json!("2019-12-31T23:59:59Z"),
        json!("1970-01-01T00:00:00"),
    ] {
        let r = reconcile(created_at.clone()).await;
        assert!(!matches!(r, Reconciled::None { .. }), "{created_at}: {r}");
        let task = only_candidate(&r);
        assert_eq!(task.created_at, None, "{created_at}");
        let text = r.to_string();
        assert!(text.contains("cannot be ruled out"), "{created_at}: {text}");
    }
}

/// The task an answer named, whose detail dates it before 2020 (an unset column): no time,
/// so the task list dates it, in the window (`Found`) or not at all (a candidate). Before:
/// dated 56 years outside the window by its detail, a candidate even when the list placed
/// it in the window.
#[tokio::test]
async fn a_named_task_dated_before_2020_by_its_detail_is_dated_by_the_list() {
    let detail = Step::ok(json!({"code": 200, "message": "", "data": {
        "taskId": "t-1", "taskType": "cloneVoice", "status": "processing",
        "result": {"taskId": "t-1", "createdAt": "1970-01-01T00:00:00Z"},
    }}));
    for (listed_at, found) in [
        (json!("2026-01-01T12:00:30Z"), true),
        (json!("1970-01-01T00:00:00Z"), false),
    ] {
        let server = Scripted::start(vec![detail.clone(), one_task(listed_at.clone())]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let q = ReconcileQuery::new(submitted())
            .kind(JobKind::Clone)
            .task_id("t-1");
        let r = c.reconcile(&q).await.unwrap();
        if found {
            let task = r.found().unwrap_or_else(|| panic!("{listed_at}: {r}"));
            assert_eq!(
                task.created_at,
                Some(submitted() + Duration::from_secs(30)),
                "{r}"
            );
        } else {
            assert_eq!(only_candidate(&r).created_at, None, "{r}");
            assert!(r.to_string().contains("cannot be ruled out"), "{r}");
        }
    }
}

#[tokio::test]
async fn a_local_time_without_an_offset_is_placed_loosely_not_missed() {
    // Eight hours ahead of UTC (the submit, read in UTC+8), written without the offset.
    let r = reconcile(json!("2026-01-01T20:00:30")).await;
    let task = only_candidate(&r);
    assert!(task.created_at_offset_unknown);
    assert!(task.to_string().contains("(it gave no offset)"), "{task}");
    assert!(r.to_string().contains("without a UTC offset"), "{r}");
    // Eleven hours behind (UTC-11), with a space for the `T`.
    only_candidate(&reconcile(json!("2026-01-01 01:00:30")).await);
    // The same instants with their offsets are exact, and in the window.
    let r = reconcile(json!("2026-01-01T20:00:30+08:00")).await;
    let task = only_candidate(&r);
    assert!(!task.created_at_offset_unknown);
    assert!(!task.to_string().contains("offset"), "{task}");
    assert!(!r.to_string().contains("cannot be ruled out"), "{r}");
}

#[tokio::test]
async fn only_times_that_cannot_fit_even_loosely_read_as_none() {
    // With its offset, eight hours off is outside the window: nothing was created in it.
    for created_at in [
        json!("2026-01-01T20:00:30Z"),
        json!("2026-01-01T04:00:00+00:00"),
        // Without an offset, more than fourteen hours (plus the window) away, plus the 5
        // minutes the vendor's clock may be ahead of this one or behind it, on either side.
        json!("2026-01-02T02:08:00"),
        json!("2025-12-31T21:52:00"),
        // With its offset, more than 5 minutes before the window.
        json!("2026-01-01T11:52:59Z"),
    ] {
        let r = reconcile(created_at.clone()).await;
        assert!(matches!(r, Reconciled::None { .. }), "{created_at}: {r}");
    }
}

#[tokio::test]
async fn a_time_with_an_offset_no_zone_uses_is_no_time_and_the_task_stays_a_candidate() {
    // Real zones run from UTC-12:00 to UTC+14:00. Read with its offset, `+20:00` would put
    // the task 20 hours before the submit (`-13:00` 13 hours after it), outside the window:
    // `None`, and the caller would resubmit and pay twice. As no time, it cannot be ruled out.
    for created_at in [
        json!("2026-01-01T12:00:30+20:00"),
        json!("2026-01-01T12:00:30+14:01"),
        json!("2026-01-01T12:00:30-13:00"),
        json!("2026-01-01T12:00:30+2359"),
    ] {
        let r = reconcile(created_at.clone()).await;
        assert!(!matches!(r, Reconciled::None { .. }), "{created_at}: {r}");
        let task = only_candidate(&r);
        assert_eq!(task.created_at, None, "{created_at}");
        assert!(
            r.to_string().contains("cannot be ruled out"),
            "{created_at}: {r}"
        );
    }
}

/// A vendor clock behind this one dates the submit's task before the window: 3 minutes
/// behind, with the default 120 s window, puts it at 11:55:00Z for a submit at 12:00:00Z.
/// The list filter allows the same 5 minutes of skew before the window as after it, so the
/// task is a candidate (`Found` keeps the exact window). The loose lower bound of a time
/// without an offset moves by the same 5 minutes (21:57 was `None` before, as one minute
/// below it). Before: `None` ("most likely created nothing"), and a second paid submit.
#[tokio::test]
async fn a_vendor_clock_behind_this_one_still_gives_a_candidate() {
    for created_at in [
        json!("2026-01-01T11:55:00Z"),
        json!("2026-01-01T11:53:01Z"),
        json!("2025-12-31T21:57:00"),
    ] {
        let r = reconcile(created_at.clone()).await;
        assert!(!matches!(r, Reconciled::None { .. }), "{created_at}: {r}");
        only_candidate(&r);
    }
}

/// Review 34-a #1: a listed creation time later than the moment the list was read (a VMEG
/// writing its UTC+8 local time with a `Z`, dating every task 8 h ahead; a `9999-12-31`
/// "unset" sentinel) cannot be when the task was made: it is read as no time, as a time
/// before 2020 is, and the task stays a candidate. Searched once the span settled (an hour
/// after the submit), the task listed alone. Before: taken as exact, outside the window,
/// and the answer was `None` ("most likely created nothing"): a second paid submit.
#[tokio::test]
async fn a_task_dated_after_the_search_is_no_time_and_stays_a_candidate() {
    let now = SystemTime::now();
    let ahead = jiff::Timestamp::try_from(now + Duration::from_secs(8 * 3600))
        .unwrap()
        .to_string();
    assert!(ahead.ends_with('Z'), "{ahead}");
    for created_at in [json!(ahead), json!("9999-12-31T23:59:59Z")] {
        // Twice: a search that found nothing reads the list once more, unfiltered.
        let server = Scripted::start(vec![
            one_task(created_at.clone()),
            one_task(created_at.clone()),
        ])
        .await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let q = ReconcileQuery::new(now - Duration::from_secs(3600)).kind(JobKind::Clone);
        let r = c.reconcile(&q).await.unwrap();
        assert!(!matches!(r, Reconciled::None { .. }), "{created_at}: {r}");
        let task = only_candidate(&r);
        assert_eq!(task.created_at, None, "{created_at}");
        assert!(
            r.to_string().contains("cannot be ruled out"),
            "{created_at}: {r}"
        );
    }
}

/// Review 34-a #1, the detail path: the task an answer named, whose detail dates it 8 h
/// after the search (a local time written with `Z`) or in 9999, has no time from its
/// detail; the task list dates it, here in the window: `Found`. Before: dated outside the
/// window by its detail, a candidate even with the list placing it in the window.
#[tokio::test]
async fn a_named_task_dated_after_the_search_by_its_detail_is_dated_by_the_list() {
    // Whole seconds: the listed time is compared as it was written.
    let now = SystemTime::UNIX_EPOCH
        + Duration::from_secs(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        );
    let submitted = now - Duration::from_secs(3600);
    let iso = |t: SystemTime| jiff::Timestamp::try_from(t).unwrap().to_string();
    for detail_at in [
        iso(now + Duration::from_secs(8 * 3600)),
        "9999-12-31T23:59:59Z".to_owned(),
    ] {
        let detail = Step::ok(json!({"code": 200, "message": "", "data": {
            "taskId": "t-1", "taskType": "cloneVoice", "status": "processing",
            "result": {"taskId": "t-1", "createdAt": detail_at},
        }}));
        let listed_at = submitted + Duration::from_secs(30);
        let server = Scripted::start(vec![detail, one_task(json!(iso(listed_at)))]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let q = ReconcileQuery::new(submitted)
            .kind(JobKind::Clone)
            .task_id("t-1");
        let r = c.reconcile(&q).await.unwrap();
        let task = r.found().unwrap_or_else(|| panic!("{detail_at}: {r}"));
        assert_eq!(task.created_at, Some(listed_at), "{detail_at}: {r}");
    }
}
