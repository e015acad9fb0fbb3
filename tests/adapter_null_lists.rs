//! Lists in VMEG answers that are `null`, missing or not arrays, and lists with records that
//! do not decode (`client_glue::List`). A Go nil slice or a Java null list is what an empty
//! account gets: `{"records":null,"total":0}`. Before, such an answer (or one `null` record)
//! failed the whole call, `list_voices` and the task list `reconcile` reads after an
//! unknown outcome included.

use crate::adapter_support::client;
use futures::TryStreamExt;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use voiceclone::{Provider, TaskFilter};
use workspace_tests::scripted::{Scripted, Step};

fn answer(data: Value) -> Step {
    Step::ok(json!({"code": 200, "message": "", "data": data}))
}

fn voice(i: usize) -> Value {
    json!({"voiceId": format!("cv_{i}"), "name": format!("voice {i}"), "taskId": format!("t-{i}")})
}

fn task(id: &str) -> Value {
    json!({"taskId": id, "taskType": "tts", "status": "finished", "createdAt": "2026-01-02T03:04:05Z"})
}

fn voice_ids(voices: &[voiceclone::Voice]) -> Vec<&str> {
    voices.iter().map(|v| v.id.as_str()).collect()
}

#[tokio::test]
async fn an_empty_account_whose_lists_are_null_lists_nothing() {
    for data in [
        json!({"records": null, "total": 0}),
        json!({"total": 0}),
        json!({"records": null}),
    ] {
        let server = Scripted::start(vec![answer(data.clone())]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let voices = c.list_voices().await;
        assert!(
            voices.as_ref().is_ok_and(Vec::is_empty),
            "{data}: {voices:?}"
        );
        assert_eq!(server.seen().len(), 1, "{data}");

        let server = Scripted::start(vec![answer(data.clone())]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let tasks: Result<Vec<_>, _> = c.tasks(TaskFilter::all()).try_collect().await;
        assert!(tasks.as_ref().is_ok_and(Vec::is_empty), "{data}: {tasks:?}");
        assert_eq!(server.seen().len(), 1, "{data}");
    }
}

/// `records` that is not an array (an object, a string) is not read as "no records": an
/// empty listing would tell reconcile that nothing was created.
#[tokio::test]
async fn records_that_are_not_an_array_are_an_error_not_an_empty_list() {
    for data in [
        json!({"records": {}, "total": 0}),
        json!({"records": "x"}),
        json!({"records": 5, "total": 1}),
    ] {
        let server = Scripted::start(vec![answer(data.clone())]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let voices = c.list_voices().await;
        assert!(
            voices
                .as_ref()
                .is_err_and(|e| *e.kind() == voiceclone::ErrorKind::InvalidResponse),
            "{data}: {voices:?}"
        );
        let server = Scripted::start(vec![answer(data.clone())]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let tasks: Result<Vec<_>, _> = c.tasks(TaskFilter::all()).try_collect().await;
        assert!(tasks.is_err(), "{data}: {tasks:?}");
    }
}

/// TTS results are one per line, by position: an unreadable result keeps its place, so no
/// line is given another line's audio.
#[tokio::test]
async fn an_unreadable_tts_result_keeps_its_line_position() {
    let server = Scripted::start(vec![answer(json!({
        "taskId": "t-1",
        "results": [null, {"uri": "https://cdn.example.com/b.wav", "duration": 1.0}],
    }))])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let req = voiceclone::SpeechRequest::new("cv_1", "one")
        .add_line("cv_1", "two")
        .synchronous(true);
    let job = c.synthesize(&req).await.unwrap();
    let speech = job.speech.unwrap();
    assert_eq!(speech.segments.len(), 2, "{speech:?}");
    // Unreadable, typed apart from a line the vendor said failed (`error` is the vendor's).
    assert!(speech.segments[0].url.is_none() && speech.segments[0].unreadable.is_some());
    assert!(speech.segments[0].error.is_none(), "{speech:?}");
    assert_eq!(
        speech.segments[1].url.as_ref().map(url::Url::as_str),
        Some("https://cdn.example.com/b.wav")
    );
}

#[tokio::test]
async fn a_null_record_among_good_ones_is_skipped_and_the_good_ones_kept() {
    let server = Scripted::start(vec![answer(json!({
        "records": [voice(1), null, voice(2), "x", voice(3)],
        "total": 5
    }))])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let voices = c.list_voices().await.unwrap();
    assert_eq!(voice_ids(&voices), ["cv_1", "cv_2", "cv_3"]);
    // The skipped records count towards `total`: the list ends on this page.
    assert_eq!(server.seen().len(), 1);

    let server = Scripted::start(vec![answer(json!({
        "records": [task("t-1"), null, task("t-2")],
        "total": 3
    }))])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let tasks: Vec<_> = c.tasks(TaskFilter::all()).try_collect().await.unwrap();
    let ids: Vec<_> = tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["t-1", "t-2"]);
    assert_eq!(server.seen().len(), 1);
}

/// The skipped records are counted for a caller who asks (`*_counting_unread`): a listing
/// that skipped any is incomplete, and says so.
#[tokio::test]
async fn the_skipped_records_of_a_listing_are_counted() {
    let voices = json!({"records": [voice(1), null, voice(2), "x", voice(3)], "total": 5});
    let tasks = json!({"records": [task("t-1"), {"taskId": "bad\u{7}"}, task("t-2")], "total": 3});
    for system in [false, true] {
        let (got, unread) = listed(Some(system), voices.clone()).await;
        assert_eq!((got, unread.count()), (3, 2), "system {system}");
    }
    let (got, unread) = listed(None, tasks).await;
    assert_eq!((got, unread.count()), (2, 1));
}

/// A record whose `name` is not UTF-8 (`\xff`) is one unreadable record, skipped and
/// counted: the other records of the page are listed. Before, the whole page failed, and a
/// finished clone whose voice is looked up in the list could never be found.
#[tokio::test]
async fn a_record_that_is_not_utf8_is_skipped_and_counted() {
    let page = |records: &[u8]| {
        let mut body = br#"{"code":200,"message":"","data":{"total":3,"records":["#.to_vec();
        body.extend_from_slice(records);
        body.extend_from_slice(b"]}}");
        Step::Bytes(200, body)
    };
    let mut voices = br#"{"voiceId":"cv_1","name":"one"},{"voiceId":"cv_2","name":"tw"#.to_vec();
    voices.push(0xff);
    voices.extend_from_slice(br#"o"},{"voiceId":"cv_3","name":"three"}"#);
    let server = Scripted::start(vec![page(&voices)]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let unread = voiceclone::UnreadRecords::new();
    let got: Vec<_> = c
        .voices_counting_unread(false, &unread)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(voice_ids(&got), ["cv_1", "cv_3"]);
    assert_eq!(unread.count(), 1);
    assert!(!unread.is_complete());

    let mut tasks = br#"{"taskId":"t-1","taskType":"tts","status":"finished","extra":"#.to_vec();
    tasks.extend_from_slice(&[b'"', 0xC0, 0xAF, b'"']);
    tasks.extend_from_slice(
        br#"},{"taskId":"t-2","taskType":"tts"},{"taskId":"t-3","taskType":"tts"}"#,
    );
    let server = Scripted::start(vec![page(&tasks)]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let unread = voiceclone::UnreadRecords::new();
    let got: Vec<_> = c
        .tasks_counting_unread(TaskFilter::all(), &unread)
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = got.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["t-2", "t-3"]);
    assert_eq!(unread.count(), 1);
}

/// What a listing read from one answer carrying `data` gives: how many it listed, and its
/// `UnreadRecords`. `voices`: the (system, if true) voices; `None`: the tasks.
async fn listed(voices: Option<bool>, data: Value) -> (usize, voiceclone::UnreadRecords) {
    let server = Scripted::start(vec![answer(data)]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let unread = voiceclone::UnreadRecords::new();
    let got = match voices {
        Some(system) => {
            let v: Vec<_> = c
                .voices_counting_unread(system, &unread)
                .try_collect()
                .await
                .unwrap();
            v.len()
        }
        None => {
            let t: Vec<_> = c
                .tasks_counting_unread(TaskFilter::all(), &unread)
                .try_collect()
                .await
                .unwrap();
            t.len()
        }
    };
    (got, unread)
}

/// A listing that ended on a page holding neither a `records` array nor a `total` (`data`
/// null, `{}`, `records` null alone) lists nothing, but says nothing of whether records exist:
/// `UnreadRecords` reports it incomplete (`unlisted`, `is_complete`), as it does a skipped
/// record. A page that did say (an array, even empty, or a `total`) is complete. Before, the
/// flag was crate-internal: a caller (the CLI) read such a listing as an empty account.
#[tokio::test]
async fn a_listing_without_records_or_a_total_is_incomplete() {
    let cases = crate::adapter_support::list_data_shapes();
    for (data, complete) in cases {
        let (got, unread) = listed(None, data.clone()).await;
        assert_eq!(got, 0, "{data}");
        assert_eq!(unread.count(), 0, "{data}");
        assert_eq!(unread.unlisted(), !complete, "tasks {data}");
        assert_eq!(unread.is_complete(), complete, "tasks {data}");
        for system in [false, true] {
            let (got, unread) = listed(Some(system), data.clone()).await;
            assert_eq!(got, 0, "{data}");
            assert_eq!(unread.is_complete(), complete, "voices {system} {data}");
        }
    }
    // Skipped records make a listing incomplete too.
    let server = Scripted::start(vec![answer(
        json!({"records": [task("t-1"), null], "total": 2}),
    )])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let unread = voiceclone::UnreadRecords::new();
    let got: Vec<_> = c
        .tasks_counting_unread(TaskFilter::all(), &unread)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert!(!unread.unlisted() && !unread.is_complete());
}

/// A vendor that ignores the page number and sends its one short page again: the repeat is
/// recognised as the end of the list, and its unreadable records are not counted a second
/// time. Before, each page's records were counted as it arrived, before the walk knew it
/// for a repeat: one unreadable record was counted twice.
#[tokio::test]
async fn a_repeated_short_page_is_not_counted_twice() {
    let voices = || answer(json!({"records": [voice(1), {"name": "no id"}]}));
    let tasks = || answer(json!({"records": [task("t-1"), {"taskId": "bad\u{7}"}]}));
    let server = Scripted::start(vec![voices(), voices(), voices()]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let unread = voiceclone::UnreadRecords::new();
    let got: Vec<_> = c
        .voices_counting_unread(false, &unread)
        .try_collect()
        .await
        .unwrap();
    assert_eq!((got.len(), unread.count()), (1, 1));
    assert_eq!(server.seen().len(), 2, "the repeat ends the list");
    let server = Scripted::start(vec![tasks(), tasks(), tasks()]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let unread = voiceclone::UnreadRecords::new();
    let got: Vec<_> = c
        .tasks_counting_unread(TaskFilter::all(), &unread)
        .try_collect()
        .await
        .unwrap();
    assert_eq!((got.len(), unread.count()), (1, 1));
}

/// A system voice whose own lists (`personalityList`, `scenarioList`) are `null` or not
/// arrays is still listed.
#[tokio::test]
async fn a_system_voice_with_null_inner_lists_is_listed() {
    let server = Scripted::start(vec![answer(json!({
        "records": [
            {"voiceId": "sv_1", "displayName": "One", "personalityList": null, "scenarioList": {}},
            {"voiceId": "sv_2", "displayName": "Two", "personalityList": [null, "calm"], "scenarioList": "x"}
        ],
        "total": 2
    }))])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let voices: Vec<_> = c.system_voices().try_collect().await.unwrap();
    assert_eq!(voice_ids(&voices), ["sv_1", "sv_2"]);
}

/// A full page (50, the page size asked for) whose records were all skipped is neither
/// empty nor short: the walk reads on. Had the page counted only the records kept, it
/// would have looked empty and the list would have ended there, without the later pages
/// (for `reconcile`, without the task looked for).
#[tokio::test]
async fn a_full_page_of_skipped_records_does_not_end_the_walk() {
    let skipped: Vec<Value> = (0..50)
        .map(|i| if i % 2 == 0 { Value::Null } else { json!(i) })
        .collect();
    let server = Scripted::start(vec![
        answer(json!({"records": skipped.clone()})),
        answer(json!({"records": [voice(7)]})),
        answer(json!({"records": []})),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let voices = c.list_voices().await.unwrap();
    assert_eq!(voice_ids(&voices), ["cv_7"]);
    assert_eq!(server.seen().len(), 3);

    let server = Scripted::start(vec![
        answer(json!({"records": skipped, "total": 51})),
        answer(json!({"records": [task("t-mine")], "total": 51})),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let tasks: Vec<_> = c.tasks(TaskFilter::all()).try_collect().await.unwrap();
    let ids: Vec<_> = tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["t-mine"]);
    assert_eq!(server.seen().len(), 2, "read to its total, no further");
}

/// A page of more records than one answer's list keeps (`client_glue::MAX_LIST_ELEMENTS`) is
/// not read as the page it seems: the records past the bound were counted, never read, so
/// the listing is an error, and `reconcile` (whose task may be among them) never answers
/// `None`. Before: every element was decoded and kept (a 4 MiB body of `{}` held hundreds of
/// megabytes); with the bound and no error, the page would have read as complete.
#[tokio::test]
async fn a_page_past_the_list_bound_is_not_read_as_complete() {
    let long_ago = SystemTime::now() - Duration::from_secs(30 * 86_400);
    let n = client_glue::MAX_LIST_ELEMENTS + 1;
    let records: Vec<Value> = (0..n)
        .map(|i| json!({"taskId": format!("t-{i}"), "taskType": "tts", "createdAt": jiff::Timestamp::try_from(long_ago).unwrap().to_string()}))
        .collect();
    let page = || answer(json!({"records": records, "total": n}));
    let empty = || answer(json!({"records": [], "total": n}));

    let server = Scripted::start(vec![page(), empty()]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let tasks: Result<Vec<_>, _> = c.tasks(TaskFilter::all()).try_collect().await;
    let err = tasks.map(|t| t.len()).unwrap_err();
    assert_eq!(*err.kind(), voiceclone::ErrorKind::InvalidResponse, "{err}");
    assert!(err.to_string().contains("more than the 10000"), "{err}");

    // The submit an hour ago: nothing listed fits, but the page was not read whole.
    let server = Scripted::start(vec![page(), empty()]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let q = voiceclone::ReconcileQuery::new(SystemTime::now() - Duration::from_secs(3600))
        .kind(voiceclone::JobKind::Speech);
    let r = c.reconcile(&q).await;
    assert!(
        r.as_ref()
            .is_err_and(|e| *e.kind() == voiceclone::ErrorKind::InvalidResponse
                && e.to_string().contains("more than the 10000")
                && !e.may_resubmit()),
        "a truncated page read as complete: {r:?}"
    );
}

/// A TTS answer listing more results than a task has lines (at most 50) is read to that
/// bound: a body of a million bad elements does not become a million segments.
#[tokio::test]
async fn a_flood_of_tts_results_is_read_to_the_line_bound() {
    let mut results = vec![json!({"uri": "https://cdn.example.com/a.wav", "duration": 1.0})];
    results.extend(std::iter::repeat_n(json!(0), 10_000));
    let server = Scripted::start(vec![answer(json!({"taskId": "t-1", "results": results}))]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c
        .synthesize(&voiceclone::SpeechRequest::new("cv_1", "one").synchronous(true))
        .await
        .unwrap();
    let speech = job.speech.unwrap();
    assert_eq!(speech.segments.len(), 50);
    assert_eq!(speech.audio_urls.len(), 1);
}

/// A URL a server sends that is not http(s) (`javascript:`, `file:`, `data:`) is no preview:
/// a page linking a voice's preview would run the server's script or name a local file.
#[tokio::test]
async fn a_preview_url_that_is_not_http_is_dropped() {
    let mut records = Vec::new();
    for (i, audio) in [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "data:audio/wav;base64,AAAA",
        "https://cdn.example.com/p.wav",
    ]
    .iter()
    .enumerate()
    {
        let mut v = voice(i);
        v["audio"] = json!(audio);
        records.push(v);
    }
    let server = Scripted::start(vec![answer(json!({"records": records, "total": 4}))]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let voices = c.list_voices().await.unwrap();
    let previews: Vec<Option<&str>> = voices
        .iter()
        .map(|v| v.preview_url.as_ref().map(url::Url::as_str))
        .collect();
    assert_eq!(
        previews,
        [None, None, None, Some("https://cdn.example.com/p.wav")]
    );
}

/// A keyed VMEG list read (VMEG asks a key of every POST and refuses one twice) whose answer
/// was lost after it landed: its retry under the same key meets a 409, so the page is asked
/// again under a new key, and the listing succeeds. Before, the retry reused the key and
/// the 409 ended the listing as `Conflict` ("find the earlier task with reconcile"), also
/// the voice lookup after a finished clone.
#[tokio::test]
async fn a_list_read_whose_answer_was_lost_is_asked_again_under_a_new_key() {
    let used = Step::status(
        409,
        json!({"code": 409, "message": "Idempotency key already used", "data": null}),
    );
    for system in [false, true] {
        let server = Scripted::start(vec![
            Step::Drop,
            used.clone(),
            answer(json!({"records": [voice(1)], "total": 1})),
        ])
        .await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let voices: Vec<voiceclone::Voice> = if system {
            c.system_voices().try_collect().await
        } else {
            c.voices().try_collect().await
        }
        .unwrap();
        assert_eq!(voice_ids(&voices), ["cv_1"], "system {system}");
        let keys: Vec<_> = server
            .seen()
            .iter()
            .map(|r| r.header("x-idempotency-key").unwrap().to_owned())
            .collect();
        assert_eq!(keys.len(), 3, "system {system}");
        assert_eq!(keys[0], keys[1], "an attempt's retry keeps its key");
        assert_ne!(keys[1], keys[2], "the page asked again has a new key");
    }
}
