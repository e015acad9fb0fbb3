//! `speak`: speech in a cloned voice.

use voiceclone::{Client, Job, Provider, SpeechRequest};

use super::job::{
    Waited, after_submit, finish_wait_with, finished, interruptible, job_outcome, sync_result,
};
use super::policy::{needs_wait, policy};
use super::submit::{create_summary, submit_or_signal, with_own_key};
use super::suggest::wait_command;
use super::webhook_wait::Awaited;
use crate::cli::{JobKind, SpeakArgs};
use crate::output::{Failure, Outcome, Printer, put_success};

/// The speech request the flags describe (checked by the adapter when sent).
pub fn speech_request(args: &SpeakArgs) -> Result<SpeechRequest, Failure> {
    // Refused as the library refuses it when sent, so that a dry run does not show as
    // sendable what would not be sent.
    super::refuse_the_key_in_id("--voice", &args.voice)?;
    super::refuse_the_key_in("--text", args.text.as_deref())?;
    super::refuse_the_key_in("--language", args.language.as_deref())?;
    // The stored form (`jimmyai:voice;activated:<id>`) or a bare vendor voice id.
    let voice: voiceclone::VoiceId = args
        .voice
        .trim()
        .parse()
        .map_err(|e: voiceclone::ParseError| Failure::usage(format!("--voice: {}", e.reason())))?;
    let text = args
        .text
        .as_deref()
        .ok_or_else(|| Failure::usage("--text or --text-file is required"))?;
    let mut req = SpeechRequest::new(voice, text);
    if let Some(l) = &args.language {
        req = req.language(l.as_str());
    }
    if args.sync {
        req = req.synchronous(true);
    }
    Ok(req)
}

pub(super) async fn speak(
    client: &Client,
    api_key: &str,
    p: Provider,
    args: &SpeakArgs,
    printer: &Printer,
    awaited: Option<&Awaited>,
) -> Outcome {
    if let Some(file) = &args.text_file {
        return crate::commands::long::run(client, api_key, p, args, file, printer, awaited).await;
    }
    if let Some(f) = needs_wait(args.wait, args.sync, &args.poll) {
        return Outcome::failed(f);
    }
    let policy = match policy(p, &args.poll) {
        Ok(pol) => pol,
        Err(f) => return Outcome::failed(f),
    };
    let req = match speech_request(args) {
        Ok(req) => req,
        Err(f) => return Outcome::failed(f),
    };
    let mut signals = crate::signals::Signals::install().ok();
    let (req, key) = with_own_key(p, req, SpeechRequest::idempotency_key);
    let request = create_summary(
        voiceclone::estimate::DryRun::speech(p, std::slice::from_ref(&req)),
        None,
    );
    let job = match submit_or_signal(
        client.synthesize(&req),
        &mut signals,
        key.as_deref(),
        JobKind::Speech,
        None,
        None,
        request,
    )
    .await
    {
        Ok(job) => job,
        Err(f) => return Outcome::failed(f),
    };
    // Only a wait sees the task succeed: the create's answer alone never says the voice
    // became permanent.
    let waits = args.wait && !finished(&job);
    let (mut o, job) = if waits {
        printer.progress(&format!("submitted {p} speech job {}; waiting", job.id));
        let waited = finish_wait_with(client, job.clone(), &policy, printer, awaited);
        after_submit(interruptible(waited, job, &mut signals, Waited::Accepted).await)
    } else if args.sync {
        sync_result((job_outcome(&job), job))
    } else {
        (job_outcome(&job), job)
    };
    if !args.wait && o.failure.is_none() && !finished(&job) {
        printer.progress(&crate::output::next_step(&wait_command(
            &job.id,
            voiceclone::JobKind::Speech,
        )));
    }
    o.fields.entry("waited").or_insert(false.into());
    // Before the download: the wait saw the speech succeed with its audio, so its voice is
    // activated whatever becomes of the file (a download failing after must not hide the
    // activated id the user has to store).
    if waits {
        put_success(&mut o, &job);
    }
    if let Some(out) = &args.out
        && o.failure.is_none()
    {
        let urls = job
            .output()
            .map(|s| s.audio_urls.clone())
            .unwrap_or_default();
        let budget = args.max_total_bytes;
        crate::commands::out::write(
            client,
            &urls,
            out,
            budget,
            args.overwrite,
            printer,
            &mut o,
            &mut signals,
        )
        .await;
    }
    o
}
