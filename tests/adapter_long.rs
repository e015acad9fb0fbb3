//! Long texts through the library (issue 16): `Client::synthesize_long` / `synthesize_plan`
//! against the simulator (parts in order, each paid once; after a failed part nothing more is
//! submitted), and `Client::resend_speech` (same key: nothing new created; JimmyAI refused).

use std::time::{Duration, SystemTime};

use voiceclone::long_text::LongSpeechPlan;
use voiceclone::{
    Client, CloneRequest, ErrorKind, Provider, Reconciled, Resubmitted, SpeechRequest, WaitPolicy,
};
use voiceclone_sim::{SimConfig, SimHandle, Simulator};

const VOICE: &str = "sv_en_us_female_01";

async fn sim(cfg: SimConfig) -> SimHandle {
    Simulator::start_with(cfg.with_speed(1000.0)).await.unwrap()
}

fn client(p: Provider, sim: &SimHandle) -> Client {
    Client::builder(p)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .build()
        .unwrap()
}

fn wait(p: Provider) -> WaitPolicy {
    WaitPolicy::for_provider(p).with_first_interval(Duration::from_millis(2))
}

/// A JimmyAI preview clone, finished: its voice (the modelId, not yet activated).
async fn jimmyai_voice(c: &Client) -> voiceclone::Voice {
    let job = c
        .clone_voice(&CloneRequest::new("https://cdn.example.com/me.wav"))
        .await
        .unwrap();
    c.wait_for_clone(&job.id, &wait(Provider::JimmyAi))
        .await
        .unwrap()
}

/// About 30,000 characters, no two paragraphs alike.
fn text() -> String {
    (1..)
        .map(|n| format!("Paragraph {n} of the script. It says a few things, then it ends.\n\n"))
        .scan(0usize, |len, p| {
            *len += p.len();
            (*len <= 30_000).then_some(p)
        })
        .collect()
}

#[tokio::test]
async fn jimmyai_speaks_a_long_text_in_the_fewest_parts_in_order() {
    let sim = sim(SimConfig::default()).await;
    let c = client(Provider::JimmyAi, &sim);
    let voice = jimmyai_voice(&c).await;
    let text = text();
    let speeches = c
        .synthesize_long(
            &SpeechRequest::new(voice.id, text.as_str()),
            &wait(Provider::JimmyAi),
        )
        .await
        .unwrap();
    let parts = text.chars().count().div_ceil(9_999);
    assert_eq!(speeches.len(), parts);
    assert!(speeches.iter().all(|s| s.audio_urls.len() == 1));
    let stats = sim.stats();
    assert_eq!(stats.billable("jimmyai.createAudio"), parts as u64);
    assert!(stats.duplicate_logical_calls().is_empty());
}

#[tokio::test]
async fn after_a_failed_part_nothing_more_is_submitted() {
    let sim = sim(SimConfig::default().with_task_failure_rate(1.0)).await;
    let c = client(Provider::Vmeg, &sim);
    let req = SpeechRequest::new(VOICE, text().repeat(2));
    let plan = LongSpeechPlan::new(Provider::Vmeg, &req).unwrap();
    assert!(plan.parts().len() >= 3);
    let e = c
        .synthesize_plan(&plan, &wait(Provider::Vmeg), 1)
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::TaskFailed { .. }), "{e:?}");
    let note = e.note().unwrap();
    assert!(note.contains("finished none"), "{note}");
    assert!(note.contains("not submitted 2, 3"), "{note}");
    assert!(note.contains("failed 1 ("), "{note}");
    // The failed part is told apart from one still running.
    let parts = e.long_text_parts().unwrap();
    assert!(
        matches!(&parts[0], voiceclone::long_text::PartOutcome::Failed { .. }),
        "{parts:?}"
    );
    assert!(matches!(
        &parts[1],
        voiceclone::long_text::PartOutcome::NotSent
    ));
    assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), 1);
}

#[tokio::test]
async fn a_plan_for_the_other_provider_is_refused_before_sending() {
    let sim = sim(SimConfig::default()).await;
    let c = client(Provider::Vmeg, &sim);
    let plan = LongSpeechPlan::new(Provider::JimmyAi, &SpeechRequest::new("m1", "Hello.")).unwrap();
    let e = c
        .synthesize_plan(&plan, &wait(Provider::Vmeg), 2)
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "plan"),
        "{e:?}"
    );
    assert_eq!(sim.stats().requests_total, 0);
}

#[tokio::test]
async fn resend_speech_with_the_same_key_creates_nothing_new() {
    let sim = sim(SimConfig::default()).await;
    let c = client(Provider::Vmeg, &sim);
    let req = SpeechRequest::new(VOICE, "Hello there.").idempotency_key("long-part-1");
    let at = SystemTime::now();
    let first = c.synthesize(&req).await.unwrap();

    // Right after the submit, the resend waits out the pause before a repeat under its key
    // (review 34 pass 5 #1): nothing sent.
    let requests = sim.stats().requests("vmeg.ttsCreateAsync");
    crate::adapter_support::refused_for_the_pause(&c.resend_speech(&req, at).await.unwrap_err());
    assert_eq!(sim.stats().requests("vmeg.ttsCreateAsync"), requests);
    // Past the pause (the submit dated that much earlier, as the 180 s tests do).
    let at = at - voiceclone::KEYED_CREATE_REPEAT_PAUSE;

    // The first submit landed: the resend is told apart, and the task found.
    match c.resend_speech(&req, at).await.unwrap() {
        Resubmitted::AlreadyAccepted(a) => {
            assert_eq!(a.idempotency_key, "long-part-1");
            let ids: Vec<String> = match &a.reconciled {
                Reconciled::Found { task, .. } => vec![task.id.as_str().to_owned()],
                Reconciled::Candidates { tasks, .. } => {
                    tasks.iter().map(|t| t.id.as_str().to_owned()).collect()
                }
                other => panic!("{other}"),
            };
            assert_eq!(ids, [first.id.as_str()]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), 1);

    // A key VMEG never saw: the first submit had created nothing, so this one counts.
    let fresh = req.clone().idempotency_key("long-part-2");
    assert!(matches!(
        c.resend_speech(&fresh, at).await.unwrap(),
        Resubmitted::Accepted(_)
    ));
    assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), 2);

    // Without a key there is nothing to resend with.
    let e = c
        .resend_speech(&SpeechRequest::new(VOICE, "Hi."), at)
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "idempotency_key")
    );
}

#[tokio::test]
async fn jimmyai_cannot_resend() {
    let sim = sim(SimConfig::default()).await;
    let c = client(Provider::JimmyAi, &sim);
    // JimmyAI requests carry no key; the library's own check comes first.
    let req = SpeechRequest::new("m1", "Hi.").idempotency_key("k");
    let e = c.resend_speech(&req, SystemTime::now()).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Unsupported { .. }), "{e:?}");
    assert_eq!(sim.stats().requests_total, 0);
}

/// Two parts whose submits both lose their answer after the task was made: the error names
/// each with its own key and submit time (`Error::long_text_parts`), so both can be resent
/// with their keys and neither is paid twice. Before, only the first part's key survived.
#[tokio::test]
async fn every_part_of_unknown_outcome_keeps_its_key() {
    use voiceclone::long_text::PartOutcome;
    let sim = sim(SimConfig::default()).await;
    let req = SpeechRequest::new(VOICE, text().repeat(2));
    let plan = LongSpeechPlan::new(Provider::Vmeg, &req).unwrap();
    let n = plan.parts().len();
    assert!(n >= 2);
    assert!(n >= 3);
    // The first part's create goes out alone and is answered; every later part's submit
    // makes its task, then loses the answer.
    sim.fail_next(
        "vmeg.ttsCreateAsync",
        voiceclone_sim::FaultKind::ExtraFields,
        1,
    )
    .unwrap();
    sim.fail_next(
        "vmeg.ttsCreateAsync",
        voiceclone_sim::FaultKind::DropAfter,
        u32::try_from(n - 1).unwrap(),
    )
    .unwrap();
    let c = Client::builder(Provider::Vmeg)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap();
    let e = c
        .synthesize_plan(&plan, &wait(Provider::Vmeg), n)
        .await
        .unwrap_err();
    let parts = e.long_text_parts().unwrap();
    assert_eq!(parts.len(), n);
    let keys: Vec<&str> = parts
        .iter()
        .filter_map(|p| match p {
            PartOutcome::Unknown {
                idempotency_key,
                named_another_parts_task,
                ..
            } => {
                // Each answer was lost, none named a task: each part may be resent.
                assert_eq!(named_another_parts_task, &None, "{p:?}");
                idempotency_key.as_deref()
            }
            _ => None,
        })
        .collect();
    let billed = sim.stats().billable("vmeg.ttsCreateAsync");
    assert!(billed >= 3, "{billed}");
    // Every part that was made and whose answer was lost is named with its own key.
    assert_eq!(keys.len() as u64, billed - 1, "{parts:?}");
    let distinct: std::collections::HashSet<&str> = keys.iter().copied().collect();
    assert_eq!(distinct.len(), keys.len());
    // Resending each with its key creates nothing new. Right after the run each is refused
    // for the pause before a repeat under its key (review 34 pass 5 #1), nothing sent; past
    // it (the submit dated that much earlier) each goes out.
    for (i, p) in parts.iter().enumerate() {
        if let PartOutcome::Unknown {
            idempotency_key: Some(k),
            submitted_at,
            ..
        } = p
        {
            let part = plan.request(i).unwrap().idempotency_key(k.as_str());
            let requests = sim.stats().requests("vmeg.ttsCreateAsync");
            let e = c.resend_speech(&part, *submitted_at).await.unwrap_err();
            crate::adapter_support::refused_for_the_pause(&e);
            assert_eq!(sim.stats().requests("vmeg.ttsCreateAsync"), requests);
            let again = c
                .resend_speech(&part, *submitted_at - voiceclone::KEYED_CREATE_REPEAT_PAUSE)
                .await
                .unwrap();
            assert!(
                matches!(again, Resubmitted::AlreadyAccepted(_)),
                "{again:?}"
            );
        }
    }
    assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), billed);
}

/// A JimmyAI model whose activation deadline passes while a long text runs: the first part
/// activated it, so the later parts are sent, not refused after earlier parts were paid.
#[tokio::test]
async fn a_models_deadline_passing_mid_run_does_not_strand_the_later_parts() {
    use voiceclone::{Activation, VoiceId};
    let sim = sim(SimConfig::default()).await;
    let c = client(Provider::JimmyAi, &sim);
    let voice = jimmyai_voice(&c).await;
    let near = VoiceId::typed(Provider::JimmyAi, voice.id.as_str()).with_activation(
        Activation::Unactivated {
            activate_by: SystemTime::now() + Duration::from_millis(300),
        },
    );
    let plan = LongSpeechPlan::new(Provider::JimmyAi, &SpeechRequest::new(near, text())).unwrap();
    assert!(plan.parts().len() >= 3);
    // Each part waits at least 200 ms: the deadline passes after the first.
    let slow =
        WaitPolicy::for_provider(Provider::JimmyAi).with_first_interval(Duration::from_millis(200));
    let speeches = c.synthesize_plan(&plan, &slow, 1).await.unwrap();
    assert_eq!(speeches.len(), plan.parts().len());
}

/// A long text bounded by a handle's timeout (`Client::with_timeout`, what the docs of
/// `synthesize_long` point to instead of a timer around the call) ends from inside, with
/// every accepted part's job id in the error: none is lost.
#[tokio::test]
async fn a_long_text_under_with_timeout_keeps_every_accepted_parts_job_id() {
    let sim = Simulator::start_with(
        SimConfig::default().with_durations(Duration::from_secs(3600), Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    let c = client(Provider::Vmeg, &sim);
    // 60 paragraphs, a line each: two VMEG tasks.
    let text = format!("{}\n\n", "A sentence of the script. ".repeat(10)).repeat(60);
    // Seconds: both creates must be sent and answered within it on a loaded machine.
    let e = c
        .with_timeout(Duration::from_secs(4))
        .synthesize_long(&SpeechRequest::new(VOICE, &text), &wait(Provider::Vmeg))
        .await
        .unwrap_err();
    assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), 2);
    let parts = e.long_text_parts().unwrap();
    assert_eq!(parts.len(), 2, "{e}");
    for p in parts {
        let voiceclone::long_text::PartOutcome::Accepted { job_id, .. } = p else {
            panic!("{p:?}");
        };
        c.speech_status(job_id).await.unwrap();
    }
    assert!(!e.may_resubmit(), "{e}");
}

/// A JimmyAI part refused only by a code JimmyAI does not document (20001 or 20002 in an
/// HTTP 2xx, api-facts B2 UNCONFIRMED) may have made its task: it is a part of unknown
/// outcome, with its submit time, never `Refused` ("it created nothing"), and the note does
/// not call it refused. Before, it was `Refused`, with no submit time: a caller going by the
/// outcome sent it again and paid for a second task. The part's own note survives in the
/// call's error beside the summary (before, replaced by it).
#[tokio::test]
async fn a_part_refused_by_an_undocumented_code_is_of_unknown_outcome() {
    use serde_json::json;
    use voiceclone::long_text::PartOutcome;
    use workspace_tests::scripted::{Scripted, Step};
    let task = |status: &str, extra: serde_json::Value| {
        let mut t = json!({"id": "audio_1", "object": "audio", "created": 1781777280,
            "model": "soundCloningAudio", "status": status, "error": null});
        t.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Step::ok(json!({"code": 20000, "msg": "ok", "data": t}))
    };
    for code in [json!(20002), json!(20001), json!("20002")] {
        // Part 1 is accepted and finishes; part 2's create is answered with the code.
        let server = Scripted::start(vec![
            task("queued", json!({})),
            task(
                "completed",
                json!({"audioUrl": "https://cdn.example.com/1.mp3"}),
            ),
            Step::status(200, json!({"code": code, "msg": "nope", "data": null})),
        ])
        .await;
        let (c, _) = crate::adapter_support::client(Provider::JimmyAi, &server.base_url);
        let plan =
            LongSpeechPlan::new(Provider::JimmyAi, &SpeechRequest::new("model-1", text())).unwrap();
        assert!(plan.parts().len() >= 3);
        let before = SystemTime::now();
        let e = c
            .synthesize_plan(
                &plan,
                &crate::adapter_support::fast_wait(Provider::JimmyAi),
                1,
            )
            .await
            .unwrap_err();
        let after = SystemTime::now();
        assert!(!e.may_resubmit(), "{code}: {e}");
        assert_eq!(server.seen().len(), 3, "{code}: resent");
        let parts = e.long_text_parts().unwrap();
        assert!(
            matches!(&parts[0], PartOutcome::Finished { .. }),
            "{code}: {parts:?}"
        );
        match &parts[1] {
            PartOutcome::Unknown {
                idempotency_key: None,
                submitted_at,
                error,
                ..
            } => {
                assert!(
                    before <= *submitted_at && *submitted_at <= after,
                    "{code}: {submitted_at:?}"
                );
                assert!(error.contains("nope"), "{code}: {error}");
            }
            other => panic!("{code}: part 2 is {other:?}"),
        }
        assert!(parts[2..].iter().all(|p| matches!(p, PartOutcome::NotSent)));
        let note = e.note().unwrap();
        assert!(note.contains("refused none"), "{code}: {note}");
        assert!(note.contains("2 (submit outcome unknown"), "{code}: {note}");
        // The part's own note (why its refusal proves nothing) is kept beside the summary;
        // before, the summary replaced it.
        assert!(note.contains("does not document code"), "{code}: {note}");
        // The refusal's own advice ("fix the request ... before sending it again") is not
        // what a person reads: part 1 is paid for.
        let shown = e.to_string();
        assert!(
            !shown.contains("before sending it again"),
            "{code}: {shown}"
        );
        assert!(
            shown.contains("do not submit the whole text again"),
            "{code}: {shown}"
        );
    }
}

/// A part whose task is read as failed from a status word VMEG does not document
/// (`timeout`) is only assumed failed: the task may still finish. Its outcome says so
/// (`assumed_status`), as the note does, so a caller can tell it from a failure VMEG stated.
/// Before, the part was `Failed` like any other and the word was lost (only the first
/// part's error kept it).
#[tokio::test]
async fn a_part_only_assumed_failed_says_so() {
    use voiceclone::long_text::PartOutcome;
    let words = voiceclone_sim::VmegStatusWords {
        failed: "timeout".into(),
        ..Default::default()
    };
    let sim = sim(SimConfig::default()
        .with_task_failure_rate(1.0)
        .with_vmeg_status_words(words))
    .await;
    let c = client(Provider::Vmeg, &sim);
    let plan =
        LongSpeechPlan::new(Provider::Vmeg, &SpeechRequest::new(VOICE, text().repeat(2))).unwrap();
    let n = plan.parts().len();
    assert!(n >= 2);
    let e = c
        .synthesize_plan(&plan, &wait(Provider::Vmeg), n)
        .await
        .unwrap_err();
    assert_eq!(e.assumed_status(), Some("timeout"), "{e}");
    let parts = e.long_text_parts().unwrap();
    let failed: Vec<&PartOutcome> = parts
        .iter()
        .filter(|p| matches!(p, PartOutcome::Failed { .. }))
        .collect();
    // Every part was sent at once, and every task ends "timeout".
    assert_eq!(failed.len(), n, "{parts:?}");
    for p in failed {
        let PartOutcome::Failed { assumed_status, .. } = p else {
            unreachable!()
        };
        assert_eq!(assumed_status.as_deref(), Some("timeout"), "{p:?}");
    }
    let note = e.note().unwrap();
    assert_eq!(
        note.matches("assumed from status timeout").count(),
        n,
        "{note}"
    );
}

/// With more parts in flight than the client has slots, the parts queued for a slot when
/// another part fails are not sent: "when a part fails, no further part is submitted".
/// Before, every part past the check had queued for a slot inside `synthesize`, and each
/// was sent (and paid) once it had one.
#[tokio::test]
async fn parts_queued_for_a_slot_are_not_sent_after_a_part_failed() {
    use voiceclone::long_text::PartOutcome;
    let sim = sim(SimConfig::default()).await;
    // 5 parts of a line each.
    let para = format!("{}\n\n", "A sentence of the script. ".repeat(10));
    let text = para.repeat(5);
    let plan = LongSpeechPlan::with_limits(
        Provider::Vmeg,
        &SpeechRequest::new(VOICE, &text),
        voiceclone::long_text::SplitLimits::for_provider(Provider::Vmeg).with_max_lines(1),
    )
    .unwrap();
    assert_eq!(plan.parts().len(), 5);
    sim.fail_next("vmeg.ttsCreateAsync", voiceclone_sim::FaultKind::Http503, 1)
        .unwrap();
    let c = Client::builder(Provider::Vmeg)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .retry(voiceclone::RetryPolicy::none())
        .max_in_flight(1)
        .build()
        .unwrap();
    let e = c
        .synthesize_plan(&plan, &wait(Provider::Vmeg), 5)
        .await
        .unwrap_err();
    assert_eq!(sim.stats().requests("vmeg.ttsCreateAsync"), 1, "{e}");
    let parts = e.long_text_parts().unwrap();
    assert_eq!(
        parts
            .iter()
            .filter(|p| matches!(p, PartOutcome::NotSent))
            .count(),
        4,
        "{parts:?}"
    );
}

/// Three parts of a line each, for the scripted servers below.
fn three_line_plan(p: Provider, voice: &str) -> LongSpeechPlan {
    let para = format!("{}\n\n", "A sentence of the script. ".repeat(10));
    let plan = LongSpeechPlan::with_limits(
        p,
        &SpeechRequest::new(voice, para.repeat(3)),
        voiceclone::long_text::SplitLimits::for_provider(p)
            .with_max_lines(1)
            .with_max_line_chars(300),
    )
    .unwrap();
    assert_eq!(plan.parts().len(), 3);
    plan
}

/// The VMEG keys a scripted server saw on its creates, in the order received.
fn create_keys(server: &workspace_tests::scripted::Scripted) -> Vec<String> {
    server
        .seen()
        .iter()
        .filter(|s| s.path.contains("create"))
        .map(|s| s.header("x-idempotency-key").unwrap().to_owned())
        .collect()
}

/// Lost answers naming one task: part 1 (sent alone) is answered with its own task, and
/// parts 2 and 3 each with a 502 naming `t-same` (api-facts A3). Neither names it as its
/// own task (which text it holds is unknown), both name it as another part's and keep their
/// own keys; the call's error leaves it out of `task_id`, and a resubmit of it is refused
/// with nothing sent. Before: one of them named `t-same` as its task, on answer order alone.
#[tokio::test]
async fn a_task_named_by_lost_answers_of_two_parts_is_no_parts_own() {
    use httpmock::Method::{GET, POST};
    use serde_json::json;
    use voiceclone::long_text::PartOutcome;
    let text: String = (1..=3)
        .map(|n| {
            format!(
                "Paragraph {n}. {}\n\n",
                "A sentence of the script. ".repeat(10)
            )
        })
        .collect();
    let plan = LongSpeechPlan::with_limits(
        Provider::Vmeg,
        &SpeechRequest::new("cv_1", text),
        voiceclone::long_text::SplitLimits::for_provider(Provider::Vmeg)
            .with_max_lines(1)
            .with_max_line_chars(300),
    )
    .unwrap();
    assert_eq!(plan.parts().len(), 3);
    let server = httpmock::MockServer::start_async().await;
    let now = jiff::Timestamp::now().to_string();
    server.mock(|when, then| {
        when.method(POST)
            .path("/openapi/v1/task/tts/create-async")
            .body_includes("Paragraph 1.");
        then.status(200).json_body(
            json!({"code": 200, "message": "", "data": {"taskId": "t-1", "createdAt": now}}),
        );
    });
    let lost = server.mock(|when, then| {
        when.method(POST)
            .path("/openapi/v1/task/tts/create-async")
            .body_excludes("Paragraph 1.");
        then.status(502).json_body(
            json!({"code": 502, "message": "upstream failed", "data": {"taskId": "t-same"}}),
        );
    });
    server.mock(|when, then| {
        when.method(GET).path("/openapi/v1/tasks/detail");
        then.status(200)
            .json_body(json!({"code": 200, "message": "", "data": {
            "taskId": "t-1", "taskType": "tts", "status": "finished", "createdAt": now,
            "result": {"results": [{"uri": "https://cdn.example.com/a.m4a", "duration": 1.5}]}}}));
    });
    let (c, _) = crate::adapter_support::client(Provider::Vmeg, &server.base_url());
    let e = c
        .synthesize_plan(&plan, &crate::adapter_support::fast_wait(Provider::Vmeg), 3)
        .await
        .unwrap_err();
    assert!(!e.may_resubmit(), "{e}");
    assert_eq!(lost.calls(), 2, "{e}");
    let parts = e.long_text_parts().unwrap();
    assert!(
        matches!(&parts[0], PartOutcome::Finished { job_id, .. } if job_id.as_str() == "t-1"),
        "{parts:?}"
    );
    let mut keys = std::collections::HashSet::new();
    for p in &parts[1..] {
        match p {
            PartOutcome::Unknown {
                task_id: None,
                idempotency_key: Some(k),
                named_another_parts_task: Some(t),
                ..
            } if t.as_str() == "t-same" => assert!(keys.insert(k.clone()), "{parts:?}"),
            other => panic!("{other:?}"),
        }
    }
    assert!(
        matches!(e.kind(), ErrorKind::OutcomeUnknown { task_id: None, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.named_another_parts_task().map(voiceclone::JobId::as_str),
        Some("t-same")
    );
    let refused = c
        .resubmit_speech(&e, &plan.request(1).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(refused.kind(), ErrorKind::InvalidInput { field, .. } if field == "error"),
        "{refused}"
    );
    assert_eq!(lost.calls(), 2, "{refused}");
}

/// JimmyAI runs the same code: every create answered with the same task id; no part
/// finishes with it (which text it holds is unknown), every part sent is of unknown outcome
/// with its submit time (no key), naming it as another part's.
#[tokio::test]
async fn a_jimmyai_task_named_for_two_parts_is_no_parts_own() {
    use httpmock::Method::{GET, POST};
    use serde_json::json;
    use voiceclone::long_text::PartOutcome;
    let task = |status: &str, extra: serde_json::Value| {
        let mut t = json!({"id": "audio_same", "object": "audio", "created": 1781777280,
            "model": "soundCloningAudio", "status": status, "error": null});
        t.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"code": 20000, "msg": "ok", "data": t})
    };
    let plan = three_line_plan(Provider::JimmyAi, "model-1");
    for concurrency in [1, 3] {
        let server = httpmock::MockServer::start_async().await;
        let creates = server.mock(|when, then| {
            when.method(POST)
                .path("/api/open-api/v1/soundCloning/audios");
            then.status(200).json_body(task("queued", json!({})));
        });
        server.mock(|when, then| {
            when.method(GET).path("/api/open-api/v1/audios/audio_same");
            then.status(200).json_body(task(
                "completed",
                json!({"audioUrl": "https://cdn.example.com/1.mp3"}),
            ));
        });
        let (c, _) = crate::adapter_support::client(Provider::JimmyAi, &server.base_url());
        let e = c
            .synthesize_plan(
                &plan,
                &crate::adapter_support::fast_wait(Provider::JimmyAi),
                concurrency,
            )
            .await
            .unwrap_err();
        assert!(!e.may_resubmit(), "{e}");
        let parts = e.long_text_parts().unwrap();
        let unknown = parts
            .iter()
            .filter(|p| {
                matches!(p, PartOutcome::Unknown {
                    idempotency_key: None, task_id: None, named_another_parts_task: Some(t), ..
                } if t.as_str() == "audio_same")
            })
            .count();
        let not_sent = parts
            .iter()
            .filter(|p| matches!(p, PartOutcome::NotSent))
            .count();
        assert_eq!(unknown, creates.calls(), "{concurrency}: {parts:?}");
        assert!(unknown >= 2, "{concurrency}: {parts:?}");
        assert_eq!(unknown + not_sent, 3, "{concurrency}: {parts:?}");
    }
}

/// A long text whose one part's create was lost before it reached VMEG: the error is that
/// part's `OutcomeUnknown`, and `resubmit_speech` resends only that part's own request. The
/// call's whole request (README's single-call recipe) and another part's request are refused
/// (`InvalidInput` naming `req`, nothing sent, a note pointing to the part's request), as
/// their bodies are not the one the error's summary records. Before, either was sent under
/// the lost part's key and accepted: the other parts' text paid a second time.
#[tokio::test]
async fn a_long_texts_lost_part_is_resubmitted_only_with_its_own_request() {
    use voiceclone::long_text::PartOutcome;
    let sim = sim(SimConfig::default()).await;
    // Three paragraphs, no two alike, a part each.
    let text: String = (1..=3)
        .map(|n| {
            format!(
                "Paragraph {n}. {}\n\n",
                "A sentence of the script. ".repeat(10)
            )
        })
        .collect();
    let whole = SpeechRequest::new(VOICE, text);
    let plan = LongSpeechPlan::with_limits(
        Provider::Vmeg,
        &whole,
        voiceclone::long_text::SplitLimits::for_provider(Provider::Vmeg)
            .with_max_lines(1)
            .with_max_line_chars(300),
    )
    .unwrap();
    assert_eq!(plan.parts().len(), 3);
    // The first part's create (sent alone) is answered; the next one is lost before VMEG.
    sim.fail_next(
        "vmeg.ttsCreateAsync",
        voiceclone_sim::FaultKind::ExtraFields,
        1,
    )
    .unwrap();
    sim.fail_next(
        "vmeg.ttsCreateAsync",
        voiceclone_sim::FaultKind::DropBefore,
        1,
    )
    .unwrap();
    let c = Client::builder(Provider::Vmeg)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap();
    let e = c
        .synthesize_plan(&plan, &wait(Provider::Vmeg), 3)
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    let parts = e.long_text_parts().unwrap();
    let lost = parts
        .iter()
        .position(|p| matches!(p, PartOutcome::Unknown { .. }))
        .expect("the dropped part is of unknown outcome");
    let other = (lost + 1) % 3;
    let billed = sim.stats().billable("vmeg.ttsCreateAsync");
    assert_eq!(billed, 2, "{parts:?}");
    for (what, req) in [
        ("the whole text", whole.clone()),
        ("another part", plan.request(other).unwrap()),
    ] {
        let refused = c.resubmit_speech(&e, &req).await.unwrap_err();
        assert!(
            matches!(refused.kind(), ErrorKind::InvalidInput { field, .. } if field == "req"),
            "{what}: {refused}"
        );
        assert!(!refused.may_resubmit(), "{what}: {refused}");
        assert!(
            refused.note().is_some_and(|n| n.contains("plan.request")),
            "{what}: {refused}"
        );
        // Review 34-f #6: not every Unknown part is to be resent.
        assert!(
            refused
                .note()
                .is_some_and(|n| n.contains("not one with named_another_parts_task")),
            "{what}: {refused}"
        );
        assert_eq!(
            sim.stats().billable("vmeg.ttsCreateAsync"),
            billed,
            "{what} was sent"
        );
    }
    // The part's own request, as first sent: the first submit made nothing, so it counts.
    // Right after the submit it waits out the pause before a repeat under its key (review 34
    // pass 5 #1), nothing sent; then it goes out (waited in real time: the long text's error
    // is resent as it is).
    let early = c
        .resubmit_speech(&e, &plan.request(lost).unwrap())
        .await
        .unwrap_err();
    let left = crate::adapter_support::refused_for_the_pause(&early);
    assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), billed);
    tokio::time::sleep(left + Duration::from_millis(20)).await;
    let again = c
        .resubmit_speech(&e, &plan.request(lost).unwrap())
        .await
        .unwrap();
    assert!(matches!(again, Resubmitted::Accepted(_)), "{again:?}");
    assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), billed + 1);
}

#[tokio::test]
async fn a_synchronous_long_text_is_refused_before_anything_is_sent() {
    // A VMEG synchronous answer may carry its audio and no taskId: a part's audio would be
    // in an answer the run then waits past, and every part would share one id that names
    // no task. The plan refuses it, so the run, a plan and its estimate all do.
    let sim = sim(SimConfig::default()).await;
    let c = client(Provider::Vmeg, &sim);
    let req = SpeechRequest::new(VOICE, text()).synchronous(true);
    let is_synchronous = |e: &voiceclone::Error| matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "synchronous");
    let e = c
        .synthesize_long(&req, &wait(Provider::Vmeg))
        .await
        .unwrap_err();
    assert!(is_synchronous(&e), "{e:?}");
    let e = LongSpeechPlan::new(Provider::Vmeg, &req).unwrap_err();
    assert!(is_synchronous(&e), "{e:?}");
    assert_eq!(sim.stats().requests_total, 0);
    // Asynchronous, said out loud, is what a long text does anyway.
    let plan = LongSpeechPlan::new(Provider::Vmeg, &req.clone().synchronous(false)).unwrap();
    assert!(plan.parts().len() > 1);
}

/// A VMEG server (a caching proxy) answering every TTS create with one task, `t-same`,
/// which reads as finished and made just now; its list is empty.
fn one_task_for_every_create(server: &httpmock::MockServer) -> httpmock::Mock<'_> {
    use httpmock::Method::{GET, POST};
    use serde_json::json;
    let now = jiff::Timestamp::now().to_string();
    let accepted =
        json!({"code": 200, "message": "", "data": {"taskId": "t-same", "createdAt": now}});
    let finished = json!({"code": 200, "message": "", "data": {"taskId": "t-same",
        "taskType": "tts", "status": "finished", "createdAt": now,
        "result": {"results": [{"uri": "https://cdn.example.com/a.m4a", "duration": 1.5}]}}});
    let creates = server.mock(|when, then| {
        when.method(POST).path("/openapi/v1/task/tts/create-async");
        then.status(200).json_body(accepted);
    });
    server.mock(|when, then| {
        when.method(GET).path("/openapi/v1/tasks/detail");
        then.status(200).json_body(finished);
    });
    server.mock(|when, then| {
        when.method(GET).path("/openapi/v1/tasks/list");
        then.status(200)
            .json_body(json!({"code": 200, "message": "", "data": {"records": [], "total": 0}}));
    });
    creates
}

/// Review 34-f #1, #3 and #5: every create answered with one task. No part is `Finished`
/// with it (which part's text it holds is unknown: answer order does not say), every part
/// sent names it only as another part's, with the time its answer came; and the call's
/// error does not carry it as its own task, so `reconcile(from_error)` never takes it as
/// this part's. Before: the first part answered was `Finished` with it, the others had no
/// `last_attempt_at`, and the error's `task_id` made `reconcile` answer `Found(t-same)`.
#[tokio::test]
async fn a_task_named_for_two_parts_is_no_parts_own_nor_found_for_the_error() {
    use voiceclone::long_text::PartOutcome;
    let plan = three_line_plan(Provider::Vmeg, "cv_1");
    for concurrency in [1, 3] {
        let server = httpmock::MockServer::start_async().await;
        let creates = one_task_for_every_create(&server);
        let (c, _) = crate::adapter_support::client(Provider::Vmeg, &server.base_url());
        let e = c
            .synthesize_plan(
                &plan,
                &crate::adapter_support::fast_wait(Provider::Vmeg),
                concurrency,
            )
            .await
            .unwrap_err();
        assert!(!e.may_resubmit(), "{e}");
        let parts = e.long_text_parts().unwrap();
        let mut sent = 0;
        for p in parts {
            match p {
                PartOutcome::Unknown {
                    task_id,
                    named_another_parts_task,
                    submitted_at,
                    last_attempt_at,
                    idempotency_key,
                    ..
                } => {
                    sent += 1;
                    assert_eq!(task_id, &None, "{p:?}");
                    assert_eq!(
                        named_another_parts_task
                            .as_ref()
                            .map(voiceclone::JobId::as_str),
                        Some("t-same"),
                        "{p:?}"
                    );
                    assert!(idempotency_key.is_some(), "{p:?}");
                    assert!(
                        last_attempt_at.is_some_and(|at| at >= *submitted_at),
                        "{p:?}"
                    );
                }
                PartOutcome::NotSent => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(sent >= 2, "{parts:?}");
        assert!(
            matches!(e.kind(), ErrorKind::OutcomeUnknown { task_id: None, .. }),
            "{e:?}"
        );
        assert!(e.last_attempt_at().is_some(), "{e:?}");
        let q = voiceclone::ReconcileQuery::from_error(&e).unwrap();
        assert_eq!(q.task_id, None, "{q:?}");
        match c.reconcile(&q).await {
            Ok(Reconciled::Found { task, .. }) => panic!("found {} as this part's", task.id),
            other => println!("{other:?}"),
        }
        // Never resent: the server may answer it the same way.
        let sent_creates = creates.calls();
        let refused = c
            .resubmit_speech(&e, &plan.request(0).unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(refused.kind(), ErrorKind::InvalidInput { field, .. } if field == "error"),
            "{refused}"
        );
        assert!(refused.to_string().contains("t-same"), "{refused}");
        assert_eq!(creates.calls(), sent_creates);
        let note = e.note().unwrap();
        assert!(note.contains("another part's task"), "{note}");
    }
}

/// Review 34-f #2: the first part's create goes out alone, the others waiting for its
/// answer, so a fault from the start (a gateway cutting create answers) puts one part at
/// stake, not one per slot; at the default concurrency as at a caller's. Before: every
/// slot's create went out at once, each a task that may be paid for and not be found.
#[tokio::test]
async fn a_long_texts_first_create_goes_out_alone() {
    let para = format!("{}\n\n", "A sentence of the script. ".repeat(10));
    let req = SpeechRequest::new(VOICE, para.repeat(5));
    let plan = LongSpeechPlan::with_limits(
        Provider::Vmeg,
        &req,
        voiceclone::long_text::SplitLimits::for_provider(Provider::Vmeg).with_max_lines(1),
    )
    .unwrap();
    assert_eq!(plan.parts().len(), 5);
    for concurrency in [None, Some(5)] {
        let sim = sim(SimConfig::default()).await;
        sim.fail_next(
            "vmeg.ttsCreateAsync",
            voiceclone_sim::FaultKind::DropAfter,
            5,
        )
        .unwrap();
        let c = Client::builder(Provider::Vmeg)
            .api_key(sim.api_key())
            .base_url(sim.base_url())
            .retry(voiceclone::RetryPolicy::none())
            .build()
            .unwrap();
        let e = match concurrency {
            Some(n) => c.synthesize_plan(&plan, &wait(Provider::Vmeg), n).await,
            None => {
                let long = SpeechRequest::new(VOICE, para.repeat(200));
                c.synthesize_long(&long, &wait(Provider::Vmeg)).await
            }
        }
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
        assert_eq!(
            sim.stats().requests("vmeg.ttsCreateAsync"),
            1,
            "{concurrency:?}: {e}"
        );
    }
}

/// Review 34-f #4: a VMEG part whose create is refused in a way that does not prove
/// nothing was made (a 404 answered to a create) is `Unknown` with the key its create was
/// sent with. Before: no key, so nothing told its task from the other parts'.
#[tokio::test]
async fn a_part_of_unknown_outcome_by_any_error_keeps_its_key() {
    use serde_json::json;
    use voiceclone::long_text::PartOutcome;
    use workspace_tests::scripted::Step;
    let (e, sent) = first_part_answered(Step::status(
        404,
        json!({"code": 404, "message": "not found", "data": null}),
    ))
    .await;
    let parts = e.long_text_parts().unwrap();
    assert!(
        matches!(&parts[0], PartOutcome::Unknown { idempotency_key: Some(k), .. } if *k == sent[0]),
        "{parts:?}"
    );
}

/// Review 34 pass 3 #2: a 409 "key already used" on a part's first create (a gateway that
/// resent the POST, its first copy landed) is an unknown outcome with the key the long text
/// drew for the part, as for a key a single submit draws: `ReconcileQuery::from_error` takes
/// the call's error. Before: the drawn key counted as the caller's, and the call's error was
/// a plain `Conflict` ("use a new key for new work"), which `from_error` refused.
#[tokio::test]
async fn a_409_on_a_parts_drawn_key_is_an_unknown_outcome_with_that_key() {
    use serde_json::json;
    use workspace_tests::scripted::Step;
    let (e, sent) = first_part_answered(Step::Json(
        409,
        vec![("retry-after", "2".into())],
        json!({"code": 409, "message": "Idempotency key already used", "data": null}),
    ))
    .await;
    assert!(
        matches!(e.kind(), ErrorKind::OutcomeUnknown { idempotency_key: Some(k), .. } if *k == sent[0]),
        "{e}"
    );
    assert!(voiceclone::ReconcileQuery::from_error(&e).is_ok(), "{e}");
}

/// A VMEG three-line plan whose first create is answered with `answer` (and nothing else is
/// sent, the slow start holding the others): the call's error and the one key sent.
async fn first_part_answered(
    answer: workspace_tests::scripted::Step,
) -> (voiceclone::Error, Vec<String>) {
    let plan = three_line_plan(Provider::Vmeg, "cv_1");
    let server = workspace_tests::scripted::Scripted::start(vec![answer]).await;
    let (c, _) = crate::adapter_support::client(Provider::Vmeg, &server.base_url);
    let e = c
        .synthesize_plan(&plan, &crate::adapter_support::fast_wait(Provider::Vmeg), 3)
        .await
        .unwrap_err();
    let sent = create_keys(&server);
    assert_eq!(sent.len(), 1, "{e}");
    (e, sent)
}

/// Review 34-f #7: a part the call's deadline stopped while it queued for a slot was never
/// sent: `NotSent`, not `Refused` (which speaks of a vendor's refusal).
#[tokio::test]
async fn a_part_the_deadline_stopped_before_it_was_sent_is_not_sent() {
    use voiceclone::long_text::PartOutcome;
    use workspace_tests::scripted::{Scripted, Step};
    let plan = three_line_plan(Provider::Vmeg, "cv_1");
    let server = Scripted::start(vec![Step::Hang(Duration::from_secs(30))]).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key("sk-test-0123456789abcdef")
        .base_url(&server.base_url)
        .retry(voiceclone::RetryPolicy::none())
        .max_in_flight(1)
        .build()
        .unwrap();
    // Another call holds the only slot.
    let other = c.clone();
    let held = tokio::spawn(async move { other.task(&voiceclone::JobId::new("t-9")).await });
    while server.seen().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let e = c
        .with_timeout(Duration::from_millis(200))
        .synthesize_plan(&plan, &wait(Provider::Vmeg), 3)
        .await
        .unwrap_err();
    held.abort();
    assert_eq!(server.seen().len(), 1, "{e}");
    let parts = e.long_text_parts().unwrap();
    assert!(
        parts.iter().all(|p| matches!(p, PartOutcome::NotSent)),
        "{parts:?}"
    );
}
