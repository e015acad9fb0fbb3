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

/// A server whose pages are smaller than the documented default of 20 (no size is asked
/// for; its own cap is 15): its first page is "short", and `total` says there is more.
/// Before: the walk ended there and `reconcile` answered `None`.
#[tokio::test]
async fn a_server_that_caps_the_page_size_is_read_to_its_total() {
    let server = Scripted::start(vec![
        page(old_tasks(15), Some(16)),
        page(vec![mine()], Some(16)),
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
/// Before: 19 usable records (of the default 20) read as a short page, the end.
#[tokio::test]
async fn a_full_page_with_an_unusable_record_does_not_end_the_walk() {
    let mut first = old_tasks(19);
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

/// Page 1 is full (20, the documented default page size) and its `total` is 20, the count
/// of that page alone: the walk asks once more and finds the task on page 2. Before:
/// `seen == total` ended the walk after page 1 and `reconcile` answered `None`.
#[tokio::test]
async fn a_full_first_page_whose_total_counts_only_itself_does_not_end_the_walk() {
    let server = Scripted::start(vec![
        page(old_tasks(20), Some(20)),
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

/// A VMEG server that applies its documented default page size (20 tasks, 10 voices) and
/// refuses any `pageSize` it is sent with 400 (its largest is UNKNOWN, api-facts A10, A17):
/// the client sends none, and reads every list to its end over the server's own pages.
/// Before: `pageSize=50` was sent on every list read, and every listing failed here.
#[tokio::test]
async fn vmeg_lists_send_no_page_size_and_read_the_servers_own_pages() {
    use axum::extract::Query;
    use axum::routing::{get, post};
    use std::collections::HashMap;

    fn refused() -> axum::Json<Value> {
        axum::Json(json!({"code": 400, "message": "pageSize out of range", "data": null}))
    }
    fn answer(records: Vec<Value>, total: usize) -> axum::Json<Value> {
        axum::Json(
            json!({"code": 200, "message": "", "data": {"records": records, "total": total}}),
        )
    }
    /// Page `page` (from 1) of `n` records of `size`, made by `record`.
    fn slice(n: usize, size: usize, page: usize, record: impl Fn(usize) -> Value) -> Vec<Value> {
        (0..n)
            .skip(page.saturating_sub(1) * size)
            .take(size)
            .map(record)
            .collect()
    }
    fn page_of(v: Option<&Value>) -> usize {
        v.and_then(|p| {
            p.as_u64()
                .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
        })
        .map_or(1, |p| p as usize)
    }
    fn voices(body: Value, prefix: &'static str) -> axum::response::Response {
        use axum::response::IntoResponse;
        if body.get("pageSize").is_some() {
            return (axum::http::StatusCode::BAD_REQUEST, refused()).into_response();
        }
        let page = page_of(body.get("currentPage"));
        let records = slice(
            13,
            10,
            page,
            |i| json!({"voiceId": format!("{prefix}_{i}"), "name": format!("v{i}"), "displayName": format!("v{i}")}),
        );
        answer(records, 13).into_response()
    }
    let app = axum::Router::new()
        .route(
            "/openapi/v1/tasks/list",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                use axum::response::IntoResponse;
                if q.contains_key("pageSize") {
                    return (axum::http::StatusCode::BAD_REQUEST, refused()).into_response();
                }
                let page = page_of(q.get("currentPage").map(|s| json!(s)).as_ref());
                let records = slice(25, 20, page, |i| {
                    json!({"taskId": format!("t-{i}"), "taskType": "tts", "status": "finished",
                           "createdAt": "2026-11-21T00:00:00Z"})
                });
                answer(records, 25).into_response()
            }),
        )
        .route(
            "/openapi/v1/assets/voice/clone/list",
            post(|axum::Json(body): axum::Json<Value>| async move { voices(body, "cv") }),
        )
        .route(
            "/openapi/v1/assets/voice/basic/list",
            post(|axum::Json(body): axum::Json<Value>| async move { voices(body, "sv") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    use futures::TryStreamExt;
    let (c, _) = client(Provider::Vmeg, &base);
    let tasks: Vec<_> = c
        .tasks(voiceclone::TaskFilter::all())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tasks.len(), 25);
    let cloned = c.list_voices().await.unwrap();
    assert_eq!(cloned.len(), 13);
    assert!(cloned.iter().all(|v| v.id.as_str().starts_with("cv_")));
    let system: Vec<_> = c.system_voices().try_collect().await.unwrap();
    assert_eq!(system.len(), 13);
    // reconcile walks the same task list (a submit an hour ago: its window has ended, so
    // nothing listed in it is `None`).
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let r = c
        .reconcile(&ReconcileQuery::new(hour_ago).kind(JobKind::Speech))
        .await
        .unwrap();
    assert!(matches!(r, Reconciled::None { .. }), "{r}");
}

/// A server answering every page of the task list with the same full page of records that
/// cannot be read (an unusable id, `null`, no `taskId`) ends the walk within a few requests,
/// as an error naming the listing incomplete. Before, no page counted as a repeat (their
/// readable ids, none, were compared) and the walk ran to 10,000 requests.
#[tokio::test]
async fn repeated_full_pages_of_unreadable_records_end_the_walk() {
    use futures::TryStreamExt;
    let shapes = [
        json!({"taskId": "a/b", "taskType": "tts", "status": "finished"}),
        Value::Null,
        json!({"taskType": "tts"}),
    ];
    for record in shapes {
        let records = vec![record.clone(); 20];
        let server = Scripted::start((0..50).map(|_| page(records.clone(), None)).collect()).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let tasks: Result<Vec<_>, _> = c.tasks(voiceclone::TaskFilter::all()).try_collect().await;
        let e = tasks.unwrap_err();
        assert_eq!(
            e.kind(),
            &voiceclone::ErrorKind::InvalidResponse,
            "{record}: {e}"
        );
        assert!(e.to_string().contains("incomplete"), "{record}: {e}");
        assert!(
            server.seen().len() <= 3,
            "{record}: {} requests",
            server.seen().len()
        );

        // `reconcile` over the same list says it cannot tell, never "nothing was created".
        let server = Scripted::start((0..50).map(|_| page(records.clone(), None)).collect()).await;
        let r = reconcile_result(&server).await;
        assert!(points_at_mine_or_says_incomplete(&r), "{record}: {r:?}");
        assert!(
            server.seen().len() <= 3,
            "{record}: {} requests",
            server.seen().len()
        );
    }
}

/// Review 25 pass 2d #2 and #5: an account whose first pages hold only records this client
/// cannot read, each page different, with a `total` saying more remain, is walked to its
/// readable records, the others counted as unread; a short page of unreadable records there
/// does not end it quietly. Before: three such pages ended the walk with an error, and a
/// second short one ended it with `Ok` and the rest unlisted.
#[tokio::test]
async fn pages_of_unreadable_records_before_readable_ones_are_walked_past_while_total_says_more() {
    use futures::TryStreamExt;
    let unreadable = |p: usize, n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| json!({"taskType": "tts", "status": "finished", "n": p * 100 + i}))
            .collect()
    };
    let good: Vec<Value> = (0..20)
        .map(|i| json!({"taskId": format!("t-{i}"), "taskType": "tts", "status": "finished"}))
        .collect();
    // Full pages of 20, then (the second case) short pages of 5.
    for (size, pages) in [(20usize, 4usize), (5, 3)] {
        let total = size * pages + good.len();
        let mut steps: Vec<Step> = (0..pages)
            .map(|p| page(unreadable(p, size), Some(total)))
            .collect();
        steps.push(page(good.clone(), Some(total)));
        steps.push(page(Vec::new(), Some(total)));
        let server = Scripted::start(steps).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let unread = voiceclone::UnreadRecords::default();
        let tasks: Vec<_> = c
            .tasks_counting_unread(voiceclone::TaskFilter::all(), &unread)
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("pages of {size}: {e}"));
        assert_eq!(tasks.len(), good.len(), "pages of {size}");
        assert_eq!(unread.count(), size * pages, "pages of {size}");
    }
}

/// Review 27 #1b: a lost speech submit's task sits just past page 1 (20 newer tasks, dated
/// after the window, `total` 21); a task on page 1 is deleted before page 2 is asked for, so
/// the lost one shifts onto page 1, already read, and page 2 answers nothing with `total`
/// 20. The window ended long ago. The walk saw the `total` change: the answer is never
/// `None` ("most likely created nothing", and a caller who trusted it would pay twice).
/// Before: `None`.
#[tokio::test]
async fn a_total_that_drops_between_pages_is_no_evidence_of_none() {
    let after = iso(SystemTime::now());
    let newer: Vec<Value> = (0..20)
        .map(|i| json!({"taskId": format!("t-new-{i}"), "taskType": "tts", "status": "finished", "createdAt": after}))
        .collect();
    let server = Scripted::start(vec![page(newer, Some(21)), page(vec![], Some(20))]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let long_past = SystemTime::now() - Duration::from_secs(3 * 86_400);
    let r = c
        .reconcile(&ReconcileQuery::new(long_past).kind(JobKind::Speech))
        .await;
    match &r {
        Ok(Reconciled::Candidates { incomplete, .. }) => assert!(incomplete, "{r:?}"),
        Ok(other) => panic!("{other}"),
        Err(e) => assert!(!e.may_resubmit(), "{e}"),
    }
    // The two pages, and the second read's first page (the script is spent: its 599 keeps
    // the first read's answer).
    assert_eq!(server.seen().len(), 3);

    // The same list, held still (the total stays 20): `None` stands (after the same list read
    // once more without its type filter).
    let newer: Vec<Value> = (0..20)
        .map(|i| json!({"taskId": format!("t-new-{i}"), "taskType": "tts", "status": "finished", "createdAt": after}))
        .collect();
    let server = Scripted::start(vec![
        page(newer.clone(), Some(20)),
        page(vec![], Some(20)),
        page(newer, Some(20)),
        page(vec![], Some(20)),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let r = c
        .reconcile(&ReconcileQuery::new(long_past).kind(JobKind::Speech))
        .await
        .unwrap();
    assert!(matches!(r, Reconciled::None { .. }), "{r}");
}

/// A list that grows while it is read (newest first, a task created between the two pages,
/// so the second page repeats the first's last record): the pages disagree, and the task
/// list is read once more. When that read holds still, its answer stands: here `None`,
/// where one read alone could only say "incomplete" (a busy account's search never ended).
/// When the second read disagrees too, the search stays incomplete, and no third is made.
#[tokio::test]
async fn a_list_that_grew_while_read_is_read_once_more() {
    let after = iso(SystemTime::now());
    let task = |id: &str| json!({"taskId": id, "taskType": "tts", "status": "finished", "createdAt": after});
    let grown = |with_new: bool| -> Vec<Step> {
        let first: Vec<Value> = (0..20).map(|i| task(&format!("t-{i}"))).collect();
        let mut moved = vec![task("t-19"), task("t-20")];
        if !with_new {
            moved.remove(0);
        }
        let total = if with_new { 22 } else { 21 };
        vec![page(first, Some(21)), page(moved, Some(total))]
    };
    let long_past = SystemTime::now() - Duration::from_secs(3 * 86_400);
    let query = ReconcileQuery::new(long_past).kind(JobKind::Speech);

    // Grew during the first read; the second holds still.
    let mut steps = grown(true);
    let first: Vec<Value> = std::iter::once(task("t-new"))
        .chain((0..19).map(|i| task(&format!("t-{i}"))))
        .collect();
    steps.push(page(first.clone(), Some(22)));
    steps.push(page(vec![task("t-19"), task("t-20")], Some(22)));
    // Before `None`, the list once more without its type filter, held still too.
    steps.push(page(first, Some(22)));
    steps.push(page(vec![task("t-19"), task("t-20")], Some(22)));
    let server = Scripted::start(steps).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let r = c.reconcile(&query).await.unwrap();
    assert!(matches!(r, Reconciled::None { .. }), "{r}");
    assert_eq!(server.seen().len(), 6);

    // Grew during both reads: incomplete, after two reads.
    let mut steps = grown(true);
    steps.extend(grown(true));
    let server = Scripted::start(steps).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let r = c.reconcile(&query).await.unwrap();
    match &r {
        Reconciled::Candidates { incomplete, .. } => assert!(incomplete, "{r}"),
        other => panic!("{other}"),
    }
    assert_eq!(server.seen().len(), 4);

    // A task in the window that only the first read saw (deleted between the reads, or a
    // second read from a replica behind): still a candidate, never `None` (review 28 pass
    // 2-a #1: the second read replaced the first, and a resubmit paid twice).
    let in_window = iso(long_past + Duration::from_secs(1));
    let mut first: Vec<Value> = (0..19).map(|i| task(&format!("t-{i}"))).collect();
    first.push(
        json!({"taskId": "t-gone", "taskType": "tts", "status": "running", "createdAt": in_window}),
    );
    let steps = vec![
        page(first, Some(21)),
        page(vec![task("t-18"), task("t-19")], Some(22)),
        page((0..20).map(|i| task(&format!("t-{i}"))).collect(), Some(21)),
        page(vec![task("t-20")], Some(21)),
    ];
    let server = Scripted::start(steps).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let r = c.reconcile(&query).await.unwrap();
    match &r {
        Reconciled::Candidates { tasks, .. } => {
            assert!(tasks.iter().any(|t| t.id.as_str() == "t-gone"), "{r}");
        }
        other => panic!("{other}"),
    }
    assert_eq!(server.seen().len(), 4);

    // Held still the first time: one read (and the one without the type filter).
    let mut steps = grown(false);
    steps.extend(grown(false));
    let server = Scripted::start(steps).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let r = c.reconcile(&query).await.unwrap();
    assert!(matches!(r, Reconciled::None { .. }), "{r}");
    assert_eq!(server.seen().len(), 4);
}

/// Review 34 pass 2 #7: the read without VMEG's `taskType` filter (made only before `None`)
/// lists every product's tasks, a busier list than the filtered one, and its pages disagree
/// when a task is created while it is read (here other products' tasks, newest first). It is
/// read once more, as the filtered read is: when that read holds still, `None` stands. When
/// it disagrees too, the search stays incomplete, and no third read is made. Before: one
/// disagreeing unfiltered read ended every search "incomplete", so `None` was never reached
/// on a busy multi-product account.
#[tokio::test]
async fn an_unfiltered_read_whose_pages_disagreed_is_read_once_more() {
    let at = iso(SystemTime::now());
    let task =
        |id: &str| json!({"taskId": id, "taskType": "vt", "status": "finished", "createdAt": at});
    let grown = || -> Vec<Step> {
        let first: Vec<Value> = (0..20).map(|i| task(&format!("vt-{i}"))).collect();
        vec![
            page(first, Some(21)),
            page(vec![task("vt-19"), task("vt-20")], Some(22)),
        ]
    };
    let held = || -> Vec<Step> {
        let first: Vec<Value> = std::iter::once(task("vt-new"))
            .chain((0..19).map(|i| task(&format!("vt-{i}"))))
            .collect();
        vec![
            page(first, Some(22)),
            page(vec![task("vt-19"), task("vt-20")], Some(22)),
        ]
    };
    let query = ReconcileQuery::new(SystemTime::now() - Duration::from_secs(3 * 86_400))
        .kind(JobKind::Speech);

    // The filtered read lists nothing; the unfiltered one grew once, then held still.
    let mut steps = vec![page(vec![], Some(0))];
    steps.extend(grown());
    steps.extend(held());
    let server = Scripted::start(steps).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let r = c.reconcile(&query).await.unwrap();
    assert!(matches!(r, Reconciled::None { .. }), "{r}");
    let seen = server.seen();
    assert_eq!(seen.len(), 5, "one filtered read, two unfiltered");
    assert!(
        seen[0].query.contains("taskType=tts"),
        "{:?}",
        seen[0].query
    );
    assert!(seen[1..].iter().all(|s| !s.query.contains("taskType")));

    // It grew during both unfiltered reads: incomplete, after two of them.
    let mut steps = vec![page(vec![], Some(0))];
    steps.extend(grown());
    steps.extend(grown());
    let server = Scripted::start(steps).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let r = c.reconcile(&query).await.unwrap();
    assert!(
        matches!(&r, Reconciled::Candidates { tasks, incomplete: true, .. } if tasks.is_empty()),
        "{r}"
    );
    assert_eq!(server.seen().len(), 5);
}

/// Ids `prefix-N` for each N in `range`, as undated records with no type: each fits the
/// window and the kind asked, so each is a candidate.
fn undated(prefix: &str, range: std::ops::Range<usize>) -> Vec<Value> {
    range
        .map(|i| json!({"taskId": format!("{prefix}-{i}")}))
        .collect()
}

/// Review 30-a #1: a first read of 30,000 undated tasks whose `total` falls on its last page
/// (inconsistent), then a second read of 30,000 others that agrees with itself: every task of
/// both is a candidate, each once. The merge of the two reads scanned the whole merged list
/// for each task of the first read (about 10^9 comparisons here, 4·10^11 at the 500,000-item
/// bound) with no `.await` inside, so no timeout or signal could end it; it now looks each up
/// in a set. Only the behaviour is asserted (no clock): the time was measured by hand.
#[tokio::test]
async fn two_reads_of_tens_of_thousands_of_tasks_merge_each_task_once() {
    const PAGE: usize = 10_000;
    const PAGES: usize = 3;
    let n = PAGE * PAGES;
    let mut steps = Vec::new();
    for p in 0..PAGES {
        // The `total` falls on the last page: the first read disagreed with itself.
        let total = if p + 1 == PAGES { n } else { n + 1 };
        steps.push(page(undated("a", p * PAGE..(p + 1) * PAGE), Some(total)));
    }
    steps.push(page(Vec::new(), Some(n)));
    for p in 0..PAGES {
        steps.push(page(undated("b", p * PAGE..(p + 1) * PAGE), Some(n)));
    }
    steps.push(page(Vec::new(), Some(n)));
    let server = Scripted::start(steps).await;
    let r = reconcile(&server).await;
    let Reconciled::Candidates { tasks, .. } = &r else {
        panic!("expected candidates, got {r}");
    };
    assert_eq!(server.seen().len(), 2 * (PAGES + 1), "two reads");
    let ids: std::collections::HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(tasks.len(), 2 * n, "each task once");
    assert_eq!(ids.len(), 2 * n);
    for id in ["a-0", "a-29999", "b-0", "b-29999"] {
        assert!(ids.contains(id), "{id}");
    }
}

/// Review 30-a #1: a clone search with a voice name over 30,000 undated clone tasks, each of
/// which made a voice of that name: no one task is tied, so every task is a candidate. The
/// tie walked the set of tied task ids linearly for each listed task (about 10^9
/// comparisons here) with no `.await` inside; it now looks each up in a set.
#[tokio::test]
async fn a_voice_name_tie_over_tens_of_thousands_of_tasks_ends() {
    const PAGE: usize = 10_000;
    const PAGES: usize = 3;
    let n = PAGE * PAGES;
    let mut steps = Vec::new();
    for p in 0..PAGES {
        steps.push(page(undated("t", p * PAGE..(p + 1) * PAGE), Some(n)));
    }
    steps.push(page(Vec::new(), Some(n)));
    for p in 0..PAGES {
        let voices = (p * PAGE..(p + 1) * PAGE)
            .map(|i| json!({"voiceId": format!("cv_{i}"), "name": "narrator", "taskId": format!("t-{i}")}))
            .collect();
        steps.push(page(voices, Some(n)));
    }
    steps.push(page(Vec::new(), Some(n)));
    let server = Scripted::start(steps).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let q = ReconcileQuery::new(SystemTime::now())
        .kind(JobKind::Clone)
        .voice_name("narrator");
    let r = c.reconcile(&q).await.unwrap();
    assert_eq!(
        server.seen().len(),
        2 * (PAGES + 1),
        "the task and voice lists"
    );
    assert!(
        matches!(&r, Reconciled::Candidates { tasks, .. } if tasks.len() == n),
        "{r}"
    );
}
