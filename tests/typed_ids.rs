//! Issue 14, point 1: ids that know what they are, through the public API against the
//! simulator. A job id carries its provider and kind, a voice id its provider (and a JimmyAI
//! `modelId` its activation); ids of the wrong provider or kind are `InvalidInput` before
//! sending or from the vendor's answer, never `Ok`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use voiceclone::{
    Activation, Client, CloneRequest, ErrorKind, JobId, JobKind, Provider, RecordingSleeper,
    RetryPolicy, SpeechRequest, VoiceId, WaitPolicy,
};
use voiceclone_sim::{SimConfig, SimHandle, Simulator};

async fn sim(cfg: SimConfig) -> SimHandle {
    Simulator::start_with(cfg.with_speed(1000.0)).await.unwrap()
}

fn client(sim: &SimHandle, p: Provider) -> Client {
    Client::builder(p)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .retry(RetryPolicy::none())
        .sleeper(Arc::new(RecordingSleeper::new()))
        .build()
        .unwrap()
}

fn wait(p: Provider) -> WaitPolicy {
    WaitPolicy::for_provider(p).with_max_polls(Some(20))
}

/// The error is `InvalidInput` on `field` and its message contains `needle`.
fn assert_invalid(e: &voiceclone::Error, field: &str, needle: &str) {
    assert!(
        matches!(e.kind(), ErrorKind::InvalidInput { field: f, reason } if f == field && reason.contains(needle)),
        "want InvalidInput {field} containing {needle:?}, got {e:?}"
    );
}

#[tokio::test]
async fn vmeg_stored_job_id_waited_on_by_a_fresh_client_finds_the_voice_from_the_vendor() {
    // The task's result names no voice: the voice is found in the clone list by taskId,
    // by a client that never saw the submission (no name kept in memory anywhere).
    let sim = sim(SimConfig {
        vmeg_clone_result_has_voice_id: false,
        ..Default::default()
    })
    .await;
    let submitter = client(&sim, Provider::Vmeg);
    let job = submitter
        .clone_voice(&CloneRequest::new("https://a.example/s.wav").name("Narrator"))
        .await
        .unwrap();
    let stored = job.id.to_string();
    assert!(stored.starts_with("vmeg:clone:"), "{stored}");
    drop(submitter);
    sim.complete_all_now();

    let fresh = client(&sim, Provider::Vmeg);
    let id: JobId = stored.parse().unwrap();
    assert_eq!(id, job.id);
    let voice = fresh
        .wait_for_clone(&id, &wait(Provider::Vmeg))
        .await
        .unwrap();
    assert_eq!(voice.id.provider(), Some(Provider::Vmeg));
    assert_eq!(voice.name.as_deref(), Some("Narrator"));
    let stored_voice = voice.id.to_string();
    assert_eq!(stored_voice, format!("vmeg:voice:{}", voice.id.as_str()));
    // The stored voice id speaks.
    let v: VoiceId = stored_voice.parse().unwrap();
    let speech = fresh
        .synthesize(&SpeechRequest::new(v, "hello").language("en-US"))
        .await
        .unwrap();
    assert_eq!(speech.id.kind(), Some(JobKind::Speech));
    sim.complete_all_now();
    fresh
        .wait_for_speech(&speech.id, &wait(Provider::Vmeg))
        .await
        .unwrap();
}

#[tokio::test]
async fn vmeg_ids_of_the_wrong_kind_or_provider_are_refused() {
    let sim = sim(SimConfig::default()).await;
    let c = client(&sim, Provider::Vmeg);
    let clone = c
        .clone_voice(&CloneRequest::new("https://a.example/s.wav"))
        .await
        .unwrap();
    sim.complete_all_now();
    let voice = c
        .wait_for_clone(&clone.id, &wait(Provider::Vmeg))
        .await
        .unwrap();
    let tts = c
        .synthesize(&SpeechRequest::new(&voice, "hi").language("en-US"))
        .await
        .unwrap();
    sim.complete_all_now();

    // Typed ids of the other kind: refused before sending.
    let before = sim.stats().requests_total;
    let e = c.clone_status(&tts.id).await.unwrap_err();
    assert_invalid(&e, "job_id", "is a speech job, not a clone job");
    assert_eq!(e.phase(), voiceclone::Phase::NotSent, "{e}");
    let e = c
        .wait_for_speech(&clone.id, &wait(Provider::Vmeg))
        .await
        .unwrap_err();
    assert_invalid(&e, "job_id", "is a clone job, not a speech job");
    // Another provider's ids.
    let jimmy = JobId::typed(Provider::JimmyAi, JobKind::Clone, "audio_1");
    let e = c.clone_status(&jimmy).await.unwrap_err();
    assert_invalid(&e, "job_id", "jimmyai job");
    let e = c
        .synthesize(&SpeechRequest::new(
            VoiceId::typed(Provider::JimmyAi, "m-1"),
            "hi",
        ))
        .await
        .unwrap_err();
    assert_invalid(&e, "voice_id", "jimmyai voice");
    assert_eq!(sim.stats().requests_total, before, "nothing was sent");

    // Bare ids: the kind the call states is checked against tasks/detail `taskType`.
    let e = c
        .clone_status(&JobId::new(tts.id.as_str()))
        .await
        .unwrap_err();
    assert_invalid(
        &e,
        "job_id",
        &format!("task {} is a tts task", tts.id.as_str()),
    );
    // Found in the answer to tasks/detail: a request went out (exit 2 of the CLI promises
    // that nothing was sent).
    assert_eq!(e.phase(), voiceclone::Phase::Answered, "{e}");
    let e = c
        .wait_for_clone(&JobId::new(tts.id.as_str()), &wait(Provider::Vmeg))
        .await
        .unwrap_err();
    assert_invalid(&e, "job_id", "is a tts task");
    let e = c
        .speech_status(&JobId::new(clone.id.as_str()))
        .await
        .unwrap_err();
    assert_invalid(&e, "job_id", "is a cloneVoice task");
    // A bare id of the right kind is answered with a typed id.
    let job = c.speech_status(&JobId::new(tts.id.as_str())).await.unwrap();
    assert_eq!(job.id, tts.id);
}

#[tokio::test]
async fn jimmyai_clone_id_is_never_speech_and_speech_id_never_a_clone() {
    let sim = sim(SimConfig::default()).await;
    let c = client(&sim, Provider::JimmyAi);
    let clone = c
        .clone_voice(&CloneRequest::new("https://a.example/s.wav"))
        .await
        .unwrap();
    sim.complete_all_now();
    // Before: the preview audio came back as "speech".
    let e = c
        .wait_for_speech(&JobId::new(clone.id.as_str()), &wait(Provider::JimmyAi))
        .await
        .unwrap_err();
    assert_invalid(&e, "job_id", "is a clone (preview");
    let voice = c
        .wait_for_clone(&JobId::new(clone.id.as_str()), &wait(Provider::JimmyAi))
        .await
        .unwrap();
    let speech = c
        .synthesize(&SpeechRequest::new(&voice, "hello"))
        .await
        .unwrap();
    sim.complete_all_now();
    let e = c
        .clone_status(&JobId::new(speech.id.as_str()))
        .await
        .unwrap_err();
    assert_invalid(&e, "job_id", "is a speech (production");
    assert_eq!(e.phase(), voiceclone::Phase::Answered, "{e}");
    let before = sim.stats().requests_total;
    let e = c.speech_status(&clone.id).await.unwrap_err();
    assert_invalid(&e, "job_id", "is a clone job");
    let e = c
        .clone_status(&JobId::typed(Provider::Vmeg, JobKind::Clone, "t-1"))
        .await
        .unwrap_err();
    assert_invalid(&e, "job_id", "vmeg job");
    assert_eq!(sim.stats().requests_total, before, "nothing was sent");
}

#[tokio::test]
async fn jimmyai_unactivated_expired_model_is_refused_locally_and_an_activated_old_one_works() {
    let sim = sim(SimConfig::default()).await;
    let c = client(&sim, Provider::JimmyAi);
    let clone = c
        .clone_voice(&CloneRequest::new("https://a.example/s.wav"))
        .await
        .unwrap();
    sim.complete_all_now();
    let voice = c
        .wait_for_clone(&clone.id, &wait(Provider::JimmyAi))
        .await
        .unwrap();
    // Fresh from its preview: known unactivated, with its deadline in the stored form.
    let Activation::Unactivated { activate_by } = voice.id.activation() else {
        panic!("{:?}", voice.id)
    };
    assert!(
        voice
            .id
            .to_string()
            .starts_with("jimmyai:voice;activate_by=")
    );

    // The same modelId stored as unactivated with a deadline that passed more than a day ago
    // (within the day it is sent: the deadline is the earliest reading): refused with the
    // deadline in the message, nothing sent.
    let past = SystemTime::now() - Duration::from_secs(24 * 3600 + 60);
    let stale = voice
        .id
        .clone()
        .with_activation(Activation::Unactivated { activate_by: past });
    let stale: VoiceId = stale.to_string().parse().unwrap();
    let before = sim.stats().requests_total;
    let e = c
        .synthesize(&SpeechRequest::new(stale, "hello"))
        .await
        .unwrap_err();
    assert_invalid(&e, "voice_id", "never activated and expired at");
    let secs = past
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(e.to_string().contains(&secs.to_string()), "{e}");
    assert_eq!(sim.stats().requests_total, before, "nothing was sent");
    // A state-unknown (bare) id of the same voice is sent.
    assert!(activate_by > SystemTime::now());

    // A production task activates it once it completes: the job hands back the id as sent
    // (activation pending), marked activated once the wait saw the task complete.
    let first = c
        .synthesize(&SpeechRequest::new(&voice, "hello"))
        .await
        .unwrap();
    assert_eq!(
        first.voice.as_ref().map(VoiceId::activation),
        Some(voice.id.activation())
    );
    sim.complete_all_now();
    let speech = c
        .wait_for_speech(&first.id, &wait(Provider::JimmyAi))
        .await
        .unwrap();
    let activated = first.completed_with(speech).voice.unwrap();
    assert_eq!(activated.activation(), Activation::Activated);
    let stored = activated.to_string();
    assert_eq!(
        stored,
        format!("jimmyai:voice;activated:{}", voice.id.as_str())
    );

    // Four days later the activated voice still speaks.
    sim.advance_clock(Duration::from_secs(4 * 24 * 3600));
    let c2 = client(&sim, Provider::JimmyAi);
    let again = c2
        .synthesize(&SpeechRequest::new(
            stored.parse::<VoiceId>().unwrap(),
            "later",
        ))
        .await
        .unwrap();
    sim.complete_all_now();
    let speech = c2
        .wait_for_speech(&again.id, &wait(Provider::JimmyAi))
        .await
        .unwrap();
    assert_eq!(speech.audio_urls.len(), 1);
}

#[tokio::test]
async fn jimmyai_unactivated_voice_past_the_vendors_window_is_refused_by_the_vendor() {
    // A state-unknown (bare) id is sent; the vendor refuses an expired, unactivated modelId.
    let sim = sim(SimConfig::default()).await;
    let c = client(&sim, Provider::JimmyAi);
    let clone = c
        .clone_voice(&CloneRequest::new("https://a.example/s.wav"))
        .await
        .unwrap();
    sim.complete_all_now();
    let voice = c
        .wait_for_clone(&clone.id, &wait(Provider::JimmyAi))
        .await
        .unwrap();
    sim.advance_clock(Duration::from_secs(4 * 24 * 3600));
    let before = sim.stats().requests_total;
    let e = c
        .synthesize(&SpeechRequest::new(voice.id.as_str(), "hello"))
        .await
        .unwrap_err();
    assert!(!matches!(e.kind(), ErrorKind::InvalidInput { .. }), "{e:?}");
    assert!(sim.stats().requests_total > before, "the bare id was sent");
}

#[tokio::test]
async fn rename_and_delete_take_typed_voice_ids_or_bare_ones_and_refuse_the_other_provider() {
    let sim = sim(SimConfig::default()).await;
    let c = client(&sim, Provider::Vmeg);
    let job = c
        .clone_voice(&CloneRequest::new("https://a.example/s.wav").name("Old"))
        .await
        .unwrap();
    sim.complete_all_now();
    let voice = c
        .wait_for_clone(&job.id, &wait(Provider::Vmeg))
        .await
        .unwrap();
    assert_eq!(voice.id.provider(), Some(Provider::Vmeg));

    // The other provider's voice: refused, nothing sent.
    let before = sim.stats().requests_total;
    let jimmy = VoiceId::typed(Provider::JimmyAi, voice.id.as_str());
    assert_invalid(
        &c.rename_voice(&jimmy, "New").await.unwrap_err(),
        "voice_id",
        "jimmyai voice",
    );
    assert_invalid(
        &c.delete_voice(&jimmy).await.unwrap_err(),
        "voice_id",
        "jimmyai voice",
    );
    assert_eq!(sim.stats().requests_total, before, "nothing was sent");

    // The typed id (sent as the vendor id), then a bare one, as for any other call.
    c.rename_voice(&voice.id, "Typed").await.unwrap();
    let listed = c.list_voices().await.unwrap();
    let renamed = listed.iter().find(|v| v.id == voice.id).unwrap();
    assert_eq!(renamed.name.as_deref(), Some("Typed"));
    c.delete_voice(voice.id.as_str()).await.unwrap();
    assert!(
        !c.list_voices()
            .await
            .unwrap()
            .iter()
            .any(|v| v.id.as_str() == voice.id.as_str())
    );
}
