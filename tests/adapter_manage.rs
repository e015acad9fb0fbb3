//! Issue 14, points 2 and 3 against the simulator: task and voice management (streams read
//! to their end, typed task detail, delete, system voices), reconcile (found / candidates /
//! none, JimmyAI's limits) and resubmit (already accepted vs accepted; an unmarked 409 stays
//! `Conflict`).

use std::time::{Duration, SystemTime};

use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use voiceclone::{
    Client, CloneRequest, ErrorKind, Evidence, JobId, JobKind, Provider, ReconcileQuery,
    Reconciled, Resubmitted, RetryPolicy, SpeechRequest, TaskDetail, TaskFilter, TaskStatus,
    WaitPolicy,
};
use voiceclone_sim::{FaultKind, SimConfig, SimHandle, Simulator};
use workspace_tests::Capture;

use crate::adapter_support::{backdated, refused_for_the_pause};
use voiceclone::KEYED_CREATE_REPEAT_PAUSE;

const CLONE_OP: &str = "vmeg.cloneVoiceCreateAsync";

async fn sim(tweak: impl FnOnce(SimConfig) -> SimConfig) -> SimHandle {
    Simulator::start_with(tweak(SimConfig::default().with_speed(1000.0)))
        .await
        .unwrap()
}

/// Tasks that finish only when the test says so (`complete_all_now`).
fn slow(c: SimConfig) -> SimConfig {
    c.with_speed(1.0)
        .with_durations(Duration::from_secs(3600), Duration::from_secs(3600))
}

fn client(sim: &SimHandle, provider: Provider) -> Client {
    Client::builder(provider)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn wait() -> WaitPolicy {
    WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::from_millis(5))
        .with_max_polls(Some(400))
}

fn clone_req(name: &str) -> CloneRequest {
    CloneRequest::new("https://cdn.example.com/sample.wav")
        .name(name)
        .language("en-US")
}

/// `n` clones submitted `width` at a time; their ids in submit order per batch.
async fn clones(c: &Client, prefix: &str, n: usize) -> Vec<JobId> {
    futures::stream::iter(0..n)
        .map(|i| {
            let c = c.clone();
            let name = format!("{prefix}-{i}");
            async move { c.clone_voice(&clone_req(&name)).await.unwrap().id }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

#[tokio::test]
async fn the_task_list_reads_every_page_and_filters_status_across_them() {
    let sim = sim(slow).await;
    let c = client(&sim, Provider::Vmeg);
    // Three clones finish first; the simulator lists newest first, so after 55 more they
    // are on page 3 (20 a page, the default: no page size is asked for).
    let done = clones(&c, "early", 3).await;
    sim.complete_all_now();
    // Reading a status completes the simulator's bookkeeping for them.
    for id in &done {
        assert_eq!(
            c.clone_status(id).await.unwrap().status,
            TaskStatus::Succeeded
        );
    }
    let _queued = clones(&c, "late", 55).await;
    let speech = c
        .synthesize(&SpeechRequest::new("sv_en_us_female_01", "Hello."))
        .await
        .unwrap();

    let all: Vec<_> = c.tasks(TaskFilter::all()).try_collect().await.unwrap();
    assert_eq!(all.len(), 59);
    let succeeded: Vec<_> = c
        .tasks(
            TaskFilter::all()
                .kind(JobKind::Clone)
                .status(TaskStatus::Succeeded),
        )
        .try_collect()
        .await
        .unwrap();
    let mut got: Vec<_> = succeeded.iter().map(|s| s.id.clone()).collect();
    let mut want = done.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "the succeeded clones are all on page 2");
    assert!(succeeded.iter().all(|s| s.kind == Some(JobKind::Clone)
        && s.vendor_type == "cloneVoice"
        && s.created_at.is_some()
        && s.updated_at.is_some()));
    let speech_tasks: Vec<_> = c
        .tasks(TaskFilter::all().kind(JobKind::Speech))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(speech_tasks.len(), 1);
    assert_eq!(speech_tasks[0].id, speech.id);
    assert_eq!(speech_tasks[0].kind_str(), "speech");
}

#[tokio::test]
async fn the_type_filter_is_sent_to_the_vendor() {
    let cap = Capture::start(
        200,
        json!({"code": 200, "message": "", "data": {"records": [], "total": 0}}),
    )
    .await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(cap.key())
        .base_url(cap.base_url())
        .build()
        .unwrap();
    let none: Vec<_> = c
        .tasks(
            TaskFilter::all()
                .kind(JobKind::Speech)
                .status(TaskStatus::Failed),
        )
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
    let wire = cap.wire();
    let query = wire["query"].to_string();
    assert!(
        query.contains("taskType") && query.contains("tts"),
        "{wire}"
    );
    assert!(
        !query.contains("\"status\""),
        "status is filtered here: {wire}"
    );
}

#[tokio::test]
async fn task_detail_is_typed_and_delete_removes_the_task() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::Vmeg);
    let clone = c.clone_voice(&clone_req("typed")).await.unwrap();
    let speech = c
        .synthesize(&SpeechRequest::new("sv_en_us_female_01", "Hello."))
        .await
        .unwrap();
    sim.complete_all_now();
    match c.task(&clone.id).await.unwrap() {
        TaskDetail::Clone(j) => {
            assert_eq!(j.id, clone.id);
            assert_eq!(j.status, TaskStatus::Succeeded);
        }
        other => panic!("expected a clone job, got {other:?}"),
    }
    match c.task(&speech.id).await.unwrap() {
        TaskDetail::Speech(j) => {
            assert_eq!(j.status, TaskStatus::Succeeded);
            assert!(j.speech.is_some_and(|s| !s.audio_urls.is_empty()));
        }
        other => panic!("expected a speech job, got {other:?}"),
    }
    // The same vendor id typed as the other provider's job: refused, nothing sent.
    let foreign = JobId::typed(Provider::JimmyAi, JobKind::Speech, speech.id.as_str());
    let sent = sim.stats().requests_total;
    for e in [
        c.task(&foreign).await.unwrap_err(),
        c.delete_task(&foreign).await.unwrap_err(),
    ] {
        assert!(
            matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "job_id"),
            "{e}"
        );
    }
    assert_eq!(sim.stats().requests_total, sent);
    c.delete_task(&speech.id).await.unwrap();
    let e = c.task(&speech.id).await.unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::NotFound, "{e}");
    let left: Vec<_> = c.tasks(TaskFilter::all()).try_collect().await.unwrap();
    assert_eq!(left.len(), 1);
}

/// 1,011 voices: every one is listed (the old list stopped silently at 1,000), and a fresh
/// client, which knows no name, waits for the oldest clone (past page 20) and gets its voice.
#[tokio::test]
async fn more_than_1000_voices_are_all_listed_and_a_fresh_client_finds_the_oldest() {
    let sim = sim(|c| c.with_vmeg_clone_result_has_voice_id(false)).await;
    let submitter = client(&sim, Provider::Vmeg);
    let first = submitter.clone_voice(&clone_req("first")).await.unwrap();
    let _rest = clones(&submitter, "bulk", 1_010).await;
    sim.complete_all_now();

    let fresh = client(&sim, Provider::Vmeg);
    let voice = fresh.wait_for_clone(&first.id, &wait()).await.unwrap();
    assert_eq!(voice.name.as_deref(), Some("first"));

    let voices: Vec<_> = fresh.voices().try_collect().await.unwrap();
    assert_eq!(voices.len(), 1_011);
    assert!(voices.iter().any(|v| v.id == voice.id));
    assert_eq!(fresh.list_voices().await.unwrap().len(), 1_011);
}

#[tokio::test]
async fn a_list_that_repeats_its_page_is_an_error_not_a_silent_stop() {
    let records: Vec<_> = (0..50)
        .map(|i| json!({"voiceId": format!("cv_{i}"), "name": format!("v{i}")}))
        .collect();
    // Every page answered alike, no total: a vendor that ignores currentPage.
    let cap = Capture::start(
        200,
        json!({"code": 200, "message": "", "data": {"records": records}}),
    )
    .await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(cap.key())
        .base_url(cap.base_url())
        .build()
        .unwrap();
    let e = c.voices().try_collect::<Vec<_>>().await.unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::InvalidResponse);
    assert!(e.to_string().contains("same items as page 1"), "{e}");
    assert_eq!(e.operation(), Some("voices"));
}

#[tokio::test]
async fn system_voices_are_listed_and_speak() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::Vmeg);
    let system: Vec<_> = c.system_voices().try_collect().await.unwrap();
    assert!(!system.is_empty());
    assert!(system.iter().all(|v| v.name.is_some()));
    let job = c
        .synthesize(&SpeechRequest::new(&system[0].id, "Hello there."))
        .await
        .unwrap();
    sim.complete_all_now();
    let speech = c.wait_for_speech(&job.id, &wait()).await.unwrap();
    assert!(!speech.audio_urls.is_empty());
    // System voices are not cloned voices.
    let cloned: Vec<_> = c.voices().try_collect().await.unwrap();
    assert!(cloned.is_empty());
}

/// A submit whose answer was lost after the simulator created the task.
async fn lost_clone(sim: &SimHandle, c: &Client, name: &str) -> voiceclone::Error {
    sim.fail_next(CLONE_OP, FaultKind::DropAfter, 1).unwrap();
    let e = c.clone_voice(&clone_req(name)).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    e
}

/// [`lost_clone`] as if sent `secs` ago: a synchronous resend sooner than 180 s is refused,
/// the request may still be running at VMEG.
async fn lost_clone_ago(sim: &SimHandle, c: &Client, name: &str, secs: u64) -> voiceclone::Error {
    backdated(&lost_clone(sim, c, name).await, Duration::from_secs(secs))
}

/// A status read, a task lookup and a deletion are calls about a task that exists: whatever
/// they fail with (a 429 after the retries, an id of the other kind refused before sending),
/// `may_resubmit()` is false, as for a wait. Before, `clone_status` ending in a 429 said
/// true, while the same failure inside `wait_for_clone` said false: a handler resubmitting
/// on it after a status check paid twice.
#[tokio::test]
async fn a_failed_read_or_deletion_of_a_task_is_never_resubmittable() {
    let sim = sim(slow).await;
    let c = client(&sim, Provider::Vmeg);
    let clone = c.clone_voice(&clone_req("read-me")).await.unwrap();
    let speech = c
        .synthesize(&SpeechRequest::new("sv_en_us_female_01", "Hi."))
        .await
        .unwrap();
    let mut errors = Vec::new();
    for op in ["vmeg.tasksDetail", "vmeg.tasksDelete"] {
        sim.fail_next(op, FaultKind::TooManyRequests, 4).unwrap();
    }
    errors.push((
        "clone_status 429",
        c.clone_status(&clone.id).await.unwrap_err(),
    ));
    errors.push((
        "speech_status 429",
        c.speech_status(&speech.id).await.unwrap_err(),
    ));
    errors.push(("task 429", c.task(&clone.id).await.unwrap_err()));
    errors.push((
        "delete_task 429",
        c.delete_task(&clone.id).await.unwrap_err(),
    ));
    // The other kind's id, refused before anything is sent.
    errors.push((
        "clone_status of speech",
        c.clone_status(&speech.id).await.unwrap_err(),
    ));
    errors.push((
        "speech_status of clone",
        c.speech_status(&clone.id).await.unwrap_err(),
    ));
    for (what, e) in &errors {
        assert!(!e.may_resubmit(), "{what}: {e}");
    }
    assert!(
        matches!(errors[0].1.kind(), ErrorKind::RateLimited),
        "{}",
        errors[0].1
    );
    assert!(
        matches!(errors[4].1.kind(), ErrorKind::InvalidInput { .. }),
        "{}",
        errors[4].1
    );
}

/// Two nameless clones whose caller keys share a long prefix (`tenant-000123-clone-1`,
/// `-2`): the first succeeds, the second is lost. Before, both got the voice name
/// `voiceclone-tenant000123` (the key's first 12 letters and digits), and reconcile
/// answered the second's loss with the first's task, found by "its" voice name: the caller
/// used another clone's voice and never resent the lost one.
#[tokio::test]
async fn reconcile_never_takes_another_nameless_clone_for_a_lost_one_whose_key_shares_its_prefix() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::Vmeg);
    let nameless = |key: &str| {
        CloneRequest::new("https://cdn.example.com/sample.wav")
            .language("en-US")
            .idempotency_key(key)
    };
    let first = c
        .clone_voice(&nameless("tenant-000123-clone-1"))
        .await
        .unwrap();
    c.wait_for_clone(&first.id, &wait()).await.unwrap();
    sim.fail_next(CLONE_OP, FaultKind::DropBefore, 1).unwrap();
    let e = c
        .clone_voice(&nameless("tenant-000123-clone-2"))
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    let q = ReconcileQuery::from_error(&e).unwrap();
    let first_name = c
        .list_voices()
        .await
        .unwrap()
        .into_iter()
        .find_map(|v| v.name)
        .unwrap();
    assert_ne!(q.voice_name.as_deref(), Some(first_name.as_str()));
    let r = c.reconcile(&q).await.unwrap();
    assert!(
        !matches!(&r, Reconciled::Found { task, .. } if task.id == first.id),
        "the first clone was taken for the lost one: {r}"
    );
}

#[tokio::test]
async fn reconcile_finds_a_lost_clone_by_its_voice_among_other_clones() {
    let sim = sim(slow).await;
    let c = client(&sim, Provider::Vmeg);
    let _others = clones(&c, "other", 3).await;
    let e = lost_clone(&sim, &c, "the-lost-one").await;
    let q = ReconcileQuery::from_error(&e).unwrap();
    assert_eq!(q.kind, Some(JobKind::Clone));
    assert_eq!(q.voice_name.as_deref(), Some("the-lost-one"));

    // Before the clone finishes, no voice ties a task to it: four candidates.
    let r = c.reconcile(&q).await.unwrap();
    match &r {
        Reconciled::Candidates { tasks, .. } => assert_eq!(tasks.len(), 4, "{r}"),
        other => panic!("expected candidates, got {other}"),
    }
    assert!(r.to_string().starts_with("candidates: 4 task(s)"), "{r}");

    sim.complete_all_now();
    let r = c.reconcile(&q).await.unwrap();
    let Reconciled::Found { task, evidence } = &r else {
        panic!("expected found, got {r}");
    };
    assert_eq!(*evidence, Evidence::VoiceName("the-lost-one".into()));
    let voices = c.list_voices().await.unwrap();
    let made = voices
        .iter()
        .find(|v| v.name.as_deref() == Some("the-lost-one"))
        .unwrap();
    assert_eq!(
        c.wait_for_clone(&task.id, &wait()).await.unwrap().id,
        made.id
    );
    assert!(r.to_string().starts_with("found: task "), "{r}");
}

#[tokio::test]
async fn reconcile_reports_several_speech_candidates_and_none_outside_the_window() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::Vmeg);
    for _ in 0..2 {
        c.synthesize(&SpeechRequest::new("sv_en_us_female_01", "Hi."))
            .await
            .unwrap();
    }
    let _clone = c.clone_voice(&clone_req("not speech")).await.unwrap();
    let now = SystemTime::now();
    let r = c
        .reconcile(&ReconcileQuery::new(now).kind(JobKind::Speech))
        .await
        .unwrap();
    match &r {
        Reconciled::Candidates { tasks, .. } => {
            assert_eq!(tasks.len(), 2, "{r}");
            assert!(tasks.iter().all(|t| t.kind == Some(JobKind::Speech)));
        }
        other => panic!("expected candidates, got {other}"),
    }
    let r = c
        .reconcile(
            &ReconcileQuery::new(now - Duration::from_secs(3600))
                .kind(JobKind::Speech)
                .window(Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert!(matches!(r, Reconciled::None { .. }), "{r}");
    assert!(r.to_string().starts_with("none: no speech task"), "{r}");
}

#[tokio::test]
async fn reconcile_with_the_task_id_the_answer_named_is_found() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::Vmeg);
    let job = c.clone_voice(&clone_req("named")).await.unwrap();
    let _other = c.clone_voice(&clone_req("other")).await.unwrap();
    let r = c
        .reconcile(&ReconcileQuery::new(SystemTime::now()).task_id(job.id.clone()))
        .await
        .unwrap();
    assert_eq!(r.found().map(|t| &t.id), Some(&job.id));
    assert!(matches!(
        r,
        Reconciled::Found {
            evidence: Evidence::AnswerNamedTask,
            ..
        }
    ));
}

#[tokio::test]
async fn jimmyai_reconcile_says_what_cannot_be_recovered() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::JimmyAi);
    let e = c
        .reconcile(&ReconcileQuery::new(SystemTime::now()).kind(JobKind::Clone))
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Unsupported { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("cannot be found") && text.contains("What cannot"),
        "{text}"
    );
    let e = c
        .tasks(TaskFilter::all())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Unsupported { .. }), "{e}");
    // A task id the answer named is recoverable.
    let job = c
        .clone_voice(&CloneRequest::new("https://cdn.example.com/sample.wav"))
        .await
        .unwrap();
    let r = c
        .reconcile(
            &ReconcileQuery::new(SystemTime::now())
                .kind(JobKind::Clone)
                .task_id(job.id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(r.found().map(|t| &t.id), Some(&job.id));
    // Without a kind, the stored id's own kind is the one looked up. Before: `Unsupported`,
    // "the task's kind is needed", for the `--task-id jimmyai:clone:…` the CLI suggests.
    let r = c
        .reconcile(&ReconcileQuery::new(SystemTime::now()).task_id(job.id.clone()))
        .await
        .unwrap();
    assert_eq!(r.found().map(|t| &t.id), Some(&job.id));
}

#[tokio::test]
async fn a_marked_resubmit_that_meets_409_is_already_accepted() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::Vmeg);
    let req = clone_req("resent");
    let e = lost_clone(&sim, &c, "resent").await;
    // Right after the submit: refused for the pause before a repeat under its key (review 34
    // pass 5 #1), nothing sent; past it (the submit dated that much earlier) it goes out.
    let creates = sim.stats().requests(CLONE_OP);
    refused_for_the_pause(&c.resubmit_clone(&e, &req).await.unwrap_err());
    assert_eq!(sim.stats().requests(CLONE_OP), creates);
    let e = backdated(&e, KEYED_CREATE_REPEAT_PAUSE);
    let ErrorKind::OutcomeUnknown {
        idempotency_key: Some(key),
        submitted_at,
        ..
    } = e.kind().clone()
    else {
        panic!("{e}");
    };
    sim.complete_all_now();
    let before = sim.task_count();
    match c.resubmit_clone(&e, &req).await.unwrap() {
        Resubmitted::AlreadyAccepted(a) => {
            assert_eq!(a.idempotency_key, key);
            assert_eq!(a.submitted_at, submitted_at);
            assert!(
                matches!(
                    a.reconciled,
                    Reconciled::Found {
                        evidence: Evidence::VoiceName(_),
                        ..
                    }
                ),
                "{a}"
            );
            assert!(a.to_string().starts_with("already accepted: "), "{a}");
        }
        Resubmitted::Accepted(j) => panic!("a second task was created: {j:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.task_count(), before, "nothing new was created");

    // The same key used again without the mark stays a Conflict, with no "retry after".
    let e = c
        .clone_voice(&req.clone().idempotency_key(key.clone()))
        .await
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::Conflict);
    let text = e.to_string();
    assert!(!text.to_lowercase().contains("retry after"), "{text}");
    assert!(text.contains("reconcile"), "{text}");
}

/// A name longer than an error's summary quotes (200 characters) is cut there, marked `…`:
/// the cut start would tie no voice, so `from_error` leaves it unset rather than report
/// candidates for a name nobody gave; a resubmit, which holds the request, matches the whole
/// name and finds the task among others whose names share the same start.
#[tokio::test]
async fn a_long_voice_name_cut_in_the_summary_still_ties_its_task_on_resubmit() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::Vmeg);
    let start = "n".repeat(200);
    let twin = format!("{start}-twin");
    let name = format!("{start}-lost");
    let _ = c.clone_voice(&clone_req(&twin)).await.unwrap();
    let req = clone_req(&name);
    let e = lost_clone(&sim, &c, &name).await;
    let ErrorKind::OutcomeUnknown { request, .. } = e.kind() else {
        panic!("{e}");
    };
    assert_eq!(
        request.field("voiceName"),
        Some(format!("{start}…").as_str())
    );
    assert_eq!(ReconcileQuery::from_error(&e).unwrap().voice_name, None);
    sim.complete_all_now();
    // Past the pause before a repeat under its key (review 34 pass 5 #1).
    let e = backdated(&e, KEYED_CREATE_REPEAT_PAUSE);
    match c.resubmit_clone(&e, &req).await.unwrap() {
        Resubmitted::AlreadyAccepted(a) => match &a.reconciled {
            Reconciled::Found {
                evidence: Evidence::VoiceName(n),
                task,
            } => {
                assert_eq!(*n, name);
                let made = c.list_voices().await.unwrap();
                let mine = made
                    .iter()
                    .find(|v| v.name.as_deref() == Some(&name))
                    .unwrap();
                assert_eq!(
                    c.wait_for_clone(&task.id, &wait()).await.unwrap().id,
                    mine.id
                );
            }
            other => panic!("expected found by the whole name, got {other}"),
        },
        other => panic!("{other:?}"),
    }
}

/// Review 30-a #2: whether a refused first attempt uses up its key is UNKNOWN (api-facts
/// A4), and the simulator can model one that does (a 500 that made no task): the resend
/// then meets 409 with no task anywhere. The answer says VMEG says the key was used and that
/// a task exists unless the first attempt was refused, never that the submit was accepted.
/// Searched before the span and its 5 min of skew ended: empty `Candidates` saying when to
/// look again. Once they ended with nothing listed: `KeyUsedNothingListed`, no time to look
/// again, the console to check; never `None` (which says "submit again": a second bill when
/// the task exists). Before: "the first submit ... was accepted", and `look_again_after` was
/// documented not to apply, so a caller waited or searched for ever or for nothing.
#[tokio::test]
async fn a_409_on_a_key_a_refused_attempt_used_up_is_no_proof_of_a_task_and_never_none() {
    let sim = sim(|c| c.with_vmeg_fault_consumes_idempotency_key(true)).await;
    let c = client(&sim, Provider::Vmeg);
    let req = SpeechRequest::new("sv_en_us_female_01", "Hello there.");
    sim.fail_next("vmeg.ttsCreateAsync", FaultKind::Http500, 1)
        .unwrap();
    let e = c.synthesize(&req).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    assert_eq!(sim.task_count(), 0, "the refused attempt made no task");
    // Past the pause before a repeat under its key (review 34 pass 5 #1), the span not
    // settled yet.
    let paused = backdated(&e, KEYED_CREATE_REPEAT_PAUSE);
    let Resubmitted::AlreadyAccepted(a) = c.resubmit_speech(&paused, &req).await.unwrap() else {
        panic!("the key the 500 used up was taken again");
    };
    assert!(
        matches!(&a.reconciled, Reconciled::Candidates { tasks, incomplete: true, .. } if tasks.is_empty()),
        "{a}"
    );
    let Reconciled::Candidates { to, .. } = &a.reconciled else {
        unreachable!()
    };
    assert!(
        a.reconciled
            .look_again_after()
            .is_some_and(|at| at >= *to + Duration::from_secs(300)),
        "{a}"
    );
    for text in [a.to_string(), format!("{a:?}")] {
        assert!(!text.contains("was accepted"), "{text}");
    }
    let text = a.to_string();
    assert!(text.contains("VMEG says the key was used"), "{text}");
    assert!(
        text.contains("unless the first attempt was refused"),
        "{text}"
    );
    assert!(text.contains("do not submit it again"), "{text}");

    // The same resend once the span and its skew have ended, still nothing listed.
    let settled = crate::adapter_support::backdated(&e, Duration::from_secs(900));
    let Resubmitted::AlreadyAccepted(a) = c.resubmit_speech(&settled, &req).await.unwrap() else {
        panic!("the key the 500 used up was taken again");
    };
    assert!(
        matches!(a.reconciled, Reconciled::KeyUsedNothingListed { .. }),
        "{a}"
    );
    assert_eq!(a.reconciled.as_str(), "key_used_nothing_listed");
    assert_eq!(a.reconciled.look_again_after(), None, "{a}");
    assert_eq!(a.reconciled.found(), None);
    let text = a.to_string();
    assert!(text.contains("console"), "{text}");
    assert!(text.contains("does not document"), "{text}");
    assert!(!text.contains("was accepted"), "{text}");
    assert_eq!(sim.task_count(), 0);
    assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), 0);
}

/// Review 30 pass 2 #2: an empty search after a 409 is `KeyUsedNothingListed` only once the
/// attempts that may have used the key have settled, and a resend this client made under the
/// key, cut short after it went out (here ended in `OutcomeUnknown`, its error dropped as the
/// docs' example keeps the first one), is such an attempt: its task may not be listed yet.
/// So is a resend the caller tells `resend_speech_with_last_resend` of (the CLI's manifest
/// records each). Before: settled by the first submit's span alone, the answer said "search
/// again tells no more" seconds after the resend that may have made the task.
#[tokio::test]
async fn a_409_right_after_an_earlier_resend_under_the_key_is_not_settled() {
    let sim = sim(|c| c.with_vmeg_fault_consumes_idempotency_key(true)).await;
    let c = client(&sim, Provider::Vmeg);
    let req = SpeechRequest::new("sv_en_us_female_01", "Hello there.");
    sim.fail_next("vmeg.ttsCreateAsync", FaultKind::Http500, 1)
        .unwrap();
    let e = c.synthesize(&req).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    let settled = backdated(&e, Duration::from_secs(900));
    let look_again = |r: &Reconciled| {
        matches!(r, Reconciled::Candidates { tasks, incomplete: true, .. } if tasks.is_empty())
            && r.look_again_after()
                .is_some_and(|at| at >= SystemTime::now() + Duration::from_secs(240))
    };

    // A resend under the key that ended unknown (its connection dropped): it may have used
    // the key just now.
    sim.fail_next("vmeg.ttsCreateAsync", FaultKind::DropBefore, 1)
        .unwrap();
    let cut = c.resubmit_speech(&settled, &req).await.unwrap_err();
    assert!(
        matches!(cut.kind(), ErrorKind::OutcomeUnknown { .. }),
        "{cut}"
    );
    // The cut resend holds its key for the pause before a repeat under it (review 34 pass 5
    // #1), nothing sent: waited out in real time (the client's hold, not the error's date).
    let creates = sim.stats().requests("vmeg.ttsCreateAsync");
    let left = refused_for_the_pause(&c.resubmit_speech(&settled, &req).await.unwrap_err());
    assert_eq!(sim.stats().requests("vmeg.ttsCreateAsync"), creates);
    tokio::time::sleep(left + Duration::from_millis(20)).await;
    let Resubmitted::AlreadyAccepted(a) = c.resubmit_speech(&settled, &req).await.unwrap() else {
        panic!("the key the 500 used up was taken again");
    };
    assert!(look_again(&a.reconciled), "{a}");
    // Through a clone of the client too (they share the resends).
    let Resubmitted::AlreadyAccepted(a) = c.clone().resubmit_speech(&settled, &req).await.unwrap()
    else {
        panic!("the key the 500 used up was taken again");
    };
    assert!(look_again(&a.reconciled), "{a}");

    // Another client knows of no resend: told of one a minute ago, the same.
    let other = client(&sim, Provider::Vmeg);
    let key = ReconcileQuery::from_error(&e)
        .unwrap()
        .idempotency_key
        .unwrap();
    let keyed = req.clone().idempotency_key(key);
    let first = SystemTime::now() - Duration::from_secs(900);
    let Resubmitted::AlreadyAccepted(a) = other
        .resend_speech_with_last_resend(&keyed, first, SystemTime::now() - Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("the key the 500 used up was taken again");
    };
    assert!(look_again(&a.reconciled), "{a}");
    // Told of none, its span long settled: the answer the settled search gives.
    let Resubmitted::AlreadyAccepted(a) = other.resend_speech(&keyed, first).await.unwrap() else {
        panic!("the key the 500 used up was taken again");
    };
    assert!(
        matches!(a.reconciled, Reconciled::KeyUsedNothingListed { .. }),
        "{a}"
    );
    assert_eq!(sim.task_count(), 0);
}

#[tokio::test]
async fn a_resubmit_whose_first_submit_never_landed_is_accepted() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::Vmeg);
    let req = clone_req("never-landed");
    sim.fail_next(CLONE_OP, FaultKind::DropBefore, 1).unwrap();
    let e = c.clone_voice(&req).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    assert_eq!(sim.task_count(), 0);
    // Past the pause before a repeat under its key (review 34 pass 5 #1).
    let paused = backdated(&e, KEYED_CREATE_REPEAT_PAUSE);
    match c.resubmit_clone(&paused, &req).await.unwrap() {
        Resubmitted::Accepted(j) => assert_eq!(
            j.idempotency_key.as_deref(),
            ReconcileQuery::from_error(&e)
                .unwrap()
                .idempotency_key
                .as_deref()
        ),
        other => panic!("expected accepted, got {other:?}"),
    }
    assert_eq!(sim.task_count(), 1);
    // Not an OutcomeUnknown, or from the other kind of call: refused, nothing sent.
    let conflict = voiceclone::Error::new(ErrorKind::Conflict);
    let e2 = c.resubmit_clone(&conflict, &req).await.unwrap_err();
    assert!(
        matches!(e2.kind(), ErrorKind::InvalidInput { field, .. } if field == "error"),
        "{e2}"
    );
    let e3 = c
        .resubmit_speech(&e, &SpeechRequest::new("sv_en_us_female_01", "Hi."))
        .await
        .unwrap_err();
    assert!(
        matches!(e3.kind(), ErrorKind::InvalidInput { field, .. } if field == "error"),
        "{e3}"
    );
    assert_eq!(sim.task_count(), 1);
}

/// VMEG's keys are per API key and request path: a resubmit sent to the other create (the
/// synchronous one after an asynchronous submit, or the reverse) would be new there and
/// bill a second task. It is refused naming `synchronous`, nothing sent; the same request
/// as first sent goes through.
#[tokio::test]
async fn a_resubmit_to_the_other_create_route_is_refused_and_nothing_is_sent() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::Vmeg);
    let e = lost_clone_ago(&sim, &c, "route", 200).await;
    let speech = SpeechRequest::new("sv_en_us_female_01", "Hi.");
    sim.fail_next("vmeg.ttsCreateAsync", FaultKind::DropAfter, 1)
        .unwrap();
    let lost_speech = c.synthesize(&speech).await.unwrap_err();
    assert!(
        matches!(lost_speech.kind(), ErrorKind::OutcomeUnknown { .. }),
        "{lost_speech}"
    );
    // Past the synchronous route's 180 s (a synchronous resend waits that long after the
    // last attempt): the refusal below is the route's.
    let lost_speech = backdated(&lost_speech, Duration::from_secs(200));
    let tasks = sim.task_count();
    let refused = [
        c.resubmit_clone(&e, &clone_req("route").synchronous(true))
            .await
            .unwrap_err(),
        c.resubmit_speech(&lost_speech, &speech.clone().synchronous(true))
            .await
            .unwrap_err(),
    ];
    for r in refused {
        assert!(
            matches!(r.kind(), ErrorKind::InvalidInput { field, .. } if field == "synchronous"),
            "{r}"
        );
        assert!(r.to_string().contains("second task"), "{r}");
        assert!(!r.may_resubmit(), "{r}");
    }
    assert_eq!(sim.task_count(), tasks, "nothing was resent");
    assert_eq!(sim.stats().billable("vmeg.cloneVoiceCreate"), 0);
    assert_eq!(sim.stats().billable("vmeg.ttsCreate"), 0);
    // As first sent: resent with its key, and the first submit found.
    sim.complete_all_now();
    let again = c.resubmit_clone(&e, &clone_req("route")).await.unwrap();
    assert!(
        matches!(again, Resubmitted::AlreadyAccepted(_)),
        "{again:?}"
    );
    let again = c.resubmit_speech(&lost_speech, &speech).await.unwrap();
    assert!(
        matches!(again, Resubmitted::AlreadyAccepted(_)),
        "{again:?}"
    );
    assert_eq!(sim.task_count(), tasks);
}

/// Two resends of one lost submit at once (two tasks handling the same error): the second is
/// refused naming `idempotency_key`, nothing sent, while the first is in flight; whether
/// VMEG deduplicates a key still being processed is UNKNOWN, so both reaching it could bill
/// twice. Once the first has ended, the key may be resent again.
#[tokio::test]
async fn two_resends_of_one_submit_at_once_send_one() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::Vmeg);
    let req = clone_req("twice");
    // Past the pause before a repeat under its key (review 34 pass 5 #1).
    let e = backdated(
        &lost_clone(&sim, &c, "twice").await,
        KEYED_CREATE_REPEAT_PAUSE,
    );
    sim.complete_all_now();
    let creates = sim.stats().requests(CLONE_OP);
    let other = c.clone();
    let (a, b) = tokio::join!(c.resubmit_clone(&e, &req), other.resubmit_clone(&e, &req));
    let (done, refused) = match (a, b) {
        (Ok(done), Err(refused)) | (Err(refused), Ok(done)) => (done, refused),
        other => panic!("expected one resend and one refusal, got {other:?}"),
    };
    assert!(matches!(done, Resubmitted::AlreadyAccepted(_)), "{done:?}");
    assert!(
        matches!(refused.kind(), ErrorKind::InvalidInput { field, .. } if field == "idempotency_key"),
        "{refused}"
    );
    assert!(!refused.may_resubmit(), "{refused}");
    assert_eq!(
        sim.stats().requests(CLONE_OP),
        creates + 1,
        "one resend sent"
    );
    // The key is free again once that resend has ended.
    let again = c.resubmit_clone(&e, &req).await.unwrap();
    assert!(
        matches!(again, Resubmitted::AlreadyAccepted(_)),
        "{again:?}"
    );
}

#[tokio::test]
async fn jimmyai_resubmit_is_refused_without_a_key() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::JimmyAi);
    let req = CloneRequest::new("https://cdn.example.com/sample.wav");
    sim.fail_next("jimmyai.createClone", FaultKind::DropAfter, 1)
        .unwrap();
    let e = c.clone_voice(&req).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    let tasks = sim.task_count();
    let r = c.resubmit_clone(&e, &req).await.unwrap_err();
    assert!(matches!(r.kind(), ErrorKind::Unsupported { .. }), "{r}");
    assert!(r.to_string().contains("second task"), "{r}");
    // The first submit's outcome is still unknown: never "resubmit".
    assert!(!r.may_resubmit(), "{r}");
    assert_eq!(sim.task_count(), tasks, "nothing was resent");
}

/// A lost submit recovered through a client of another API key or base URL (a key rotation
/// that rebuilt the client, a per-tenant pool handing out the wrong one, a failover to a
/// second account): VMEG keys, tasks and lists are per API key, so under another key the
/// first submit's key is new and a resend bills a second task, and a search cannot see the
/// first task and may answer `None`. Both are refused (`InvalidInput` naming `error` /
/// `query`, nothing sent, never resubmittable); the client the submit went through still
/// resends it. Before: B's resend was sent and `Accepted`, and B's search was made.
#[tokio::test]
async fn a_resubmit_or_reconcile_through_another_api_key_or_base_url_is_refused() {
    use workspace_tests::scripted::{Scripted, Step};
    let server = Scripted::start(vec![Step::Drop]).await;
    let other = Scripted::start(Vec::new()).await;
    let under = |key: &str, base: &str| {
        Client::builder(Provider::Vmeg)
            .api_key(key)
            .base_url(base)
            .retry(RetryPolicy::none())
            .build()
            .unwrap()
    };
    let a = under("k-a-0123456789", &server.base_url);
    let req = SpeechRequest::new("sv_en_us_female_01", "Hello there.");
    let e = a.synthesize(&req).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    let creates = |s: &Scripted| {
        s.seen()
            .iter()
            .filter(|s| s.path.contains("create"))
            .count()
    };
    assert_eq!(creates(&server), 1);
    let query = ReconcileQuery::from_error(&e).unwrap();
    for (what, c) in [
        ("another key", under("k-b-9876543210", &server.base_url)),
        ("another base URL", under("k-a-0123456789", &other.base_url)),
    ] {
        let refused = c.resubmit_speech(&e, &req).await.unwrap_err();
        assert!(
            matches!(refused.kind(), ErrorKind::InvalidInput { field, .. } if field == "error"),
            "{what}: {refused}"
        );
        assert!(
            refused.to_string().contains("another API key or base URL"),
            "{what}: {refused}"
        );
        assert!(!refused.may_resubmit(), "{what}: {refused}");
        let refused = c.reconcile(&query).await.unwrap_err();
        assert!(
            matches!(refused.kind(), ErrorKind::InvalidInput { field, .. } if field == "query"),
            "{what}: {refused}"
        );
        assert!(!refused.may_resubmit(), "{what}: {refused}");
        let printed = format!("{refused} {refused:?} {query:?}");
        assert!(!printed.contains("k-a-0123456789"), "{printed}");
    }
    assert_eq!(server.seen().len(), 1, "nothing more reached the server");
    assert!(
        other.seen().is_empty(),
        "nothing reached the other base URL"
    );
    // Through the client it was sent with, the resend goes out under its key: right after the
    // submit it is refused for the pause before a repeat under the key (review 34 pass 5 #1),
    // nothing sent, then it goes out (waited in real time: the error keeps the scope it was
    // sent under, which a backdated copy would not).
    let left = refused_for_the_pause(&a.resubmit_speech(&e, &req).await.unwrap_err());
    assert_eq!(server.seen().len(), 1, "sent within the pause");
    tokio::time::sleep(left + Duration::from_millis(20)).await;
    server.push([Step::ok(
        json!({"code": 200, "message": "", "data": {"taskId": "t-1"}}),
    )]);
    let again = a.resubmit_speech(&e, &req).await.unwrap();
    assert!(matches!(again, Resubmitted::Accepted(_)), "{again:?}");
    assert_eq!(creates(&server), 2);
}

/// Review 26 pass 2 (lta) #4: for JimmyAI (no idempotency key; whether its tasks are per API
/// key is not documented), a query from another client's error is refused without VMEG's
/// facts, naming what still works with that key gone (the task-id lookups); a resubmit is
/// `Unsupported` (no key), as through the client that sent it, not a scope refusal.
#[tokio::test]
async fn a_jimmyai_error_through_another_client_names_what_still_works() {
    use workspace_tests::scripted::{Scripted, Step};
    let server = Scripted::start(vec![Step::Drop]).await;
    let under = |key: &str| {
        Client::builder(Provider::JimmyAi)
            .api_key(key)
            .base_url(&server.base_url)
            .retry(RetryPolicy::none())
            .build()
            .unwrap()
    };
    let req = SpeechRequest::new("voice-1", "Hello there.");
    let e = under("k-a-0123456789").synthesize(&req).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    let b = under("k-b-9876543210");
    let refused = b
        .reconcile(&ReconcileQuery::from_error(&e).unwrap())
        .await
        .unwrap_err();
    let text = refused.to_string();
    assert!(text.contains("speech_status"), "{text}");
    assert!(!text.contains("a resend would bill"), "{text}");
    let refused = b.resubmit_speech(&e, &req).await.unwrap_err();
    assert!(
        matches!(refused.kind(), ErrorKind::Unsupported { .. }),
        "{refused}"
    );
    assert_eq!(server.seen().len(), 1, "nothing more reached the server");
}

/// A delete or rename whose outcome is unknown names the task or voice it was about, in the
/// error's request summary (`taskId` / `voiceId`) and so in its text; the new voice name is
/// the caller's free text, summarized and never quoted. Before: "the task may or may not
/// have been deleted" with no id, so a caller deleting many at once could not tell which one
/// to check (review 27-d #5).
#[tokio::test]
async fn an_unknown_delete_or_rename_names_its_task_or_voice() {
    let sim = sim(|c| c).await;
    let c = client(&sim, Provider::Vmeg);
    let job = c.clone_voice(&clone_req("kept-id")).await.unwrap();
    let voice = c.wait_for_clone(&job.id, &wait()).await.unwrap();
    let field = |e: &voiceclone::Error, name: &str| match e.kind() {
        ErrorKind::OutcomeUnknown { request, .. } => request
            .fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone()),
        _ => panic!("not OutcomeUnknown: {e}"),
    };
    sim.fail_next("vmeg.tasksDelete", FaultKind::DropAfter, 1)
        .unwrap();
    let e = c.delete_task(&job.id).await.unwrap_err();
    assert_eq!(field(&e, "taskId").as_deref(), Some(job.id.as_str()), "{e}");
    assert!(e.to_string().contains(job.id.as_str()), "{e}");

    sim.fail_next("vmeg.cloneVoiceUpdate", FaultKind::DropAfter, 1)
        .unwrap();
    let secret_name = "Private Narrator Name";
    let e = c
        .rename_voice(voice.id.clone(), secret_name)
        .await
        .unwrap_err();
    assert_eq!(
        field(&e, "voiceId").as_deref(),
        Some(voice.id.as_str()),
        "{e}"
    );
    assert!(e.to_string().contains(voice.id.as_str()), "{e}");
    assert!(!e.to_string().contains(secret_name), "{e}");
    assert!(!format!("{e:?}").contains(secret_name), "{e:?}");

    sim.fail_next("vmeg.cloneVoiceDelete", FaultKind::DropAfter, 1)
        .unwrap();
    let e = c.delete_voice(voice.id.clone()).await.unwrap_err();
    assert_eq!(
        field(&e, "voiceId").as_deref(),
        Some(voice.id.as_str()),
        "{e}"
    );
    assert!(e.to_string().contains(voice.id.as_str()), "{e}");
}
