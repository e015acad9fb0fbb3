//! `clone`: a voice from a recording (a URL, or a local file uploaded first), and its preview.

use voiceclone::{Client, CloneRequest, Job, JobId, Provider, TaskStatus};

use super::client::{UploadSeen, audio_source};
use super::job::{
    Waited, after_submit, finish_wait_with, finished, interruptible, job_outcome, sync_result,
};
use super::policy::{needs_wait, policy};
use super::submit::{create_summary, submit_or_signal, with_own_key};
use super::suggest::{sh_id, wait_command};
use super::webhook_wait::Awaited;
use crate::cli::{CloneArgs, JobKind};
use crate::exit::Exit;
use crate::output::{Failure, Outcome, Printer};
use crate::spinner::UploadBar;

pub(super) async fn clone(
    client: &Client,
    p: Provider,
    args: &CloneArgs,
    printer: &Printer,
    bar: UploadBar,
    seen: &UploadSeen,
    awaited: Option<&Awaited>,
) -> Outcome {
    if let Some(f) = needs_wait(args.wait, args.sync, &args.poll) {
        return Outcome::failed(f);
    }
    let policy = match policy(p, &args.poll) {
        Ok(pol) => pol,
        Err(f) => return Outcome::failed(f),
    };
    let req = match clone_request(p, args) {
        Ok(req) => req,
        Err(f) => return Outcome::failed(f),
    };
    let mut signals = crate::signals::Signals::install().ok();
    let (req, key) = with_own_key(p, req, CloneRequest::idempotency_key);
    // Private URLs allowed: only the route and the body's names are taken from the plan,
    // and the client checks the URL itself.
    let request = create_summary(
        voiceclone::estimate::DryRun::clone_voice(p, &req, true),
        req.name.as_deref(),
    );
    let submitted = submit_or_signal(
        client.clone_voice(&req),
        &mut signals,
        key.as_deref(),
        JobKind::Clone,
        req.name.as_deref(),
        Some(seen),
        request,
    )
    .await;
    drop(bar);
    let job = match submitted {
        Ok(job) => job,
        Err(f) => return Outcome::failed(f),
    };
    // `--out` writes JimmyAI's preview: a create answered `completed` with the voice but not
    // its preview has not ended for it either (one poll gives the `audioUrl`), where writing
    // nothing was exit 1 `no_audio`, which a script reads as "failed" and clones again.
    let done = finished(&job)
        && (args.out.is_none()
            || job.status != TaskStatus::Succeeded
            || job.voice.as_ref().is_some_and(|v| v.preview_url.is_some()));
    let (mut o, job) = if args.wait && !done {
        printer.progress(&format!("submitted {p} clone job {}; waiting", job.id));
        let waited = finish_wait_with(client, job.clone(), &policy, printer, awaited);
        after_submit(interruptible(waited, job, &mut signals, Waited::Accepted).await)
    } else if args.sync {
        sync_result((job_outcome(&job), job))
    } else {
        (job_outcome(&job), job)
    };
    if !args.wait && o.failure.is_none() && !done {
        printer.progress(&crate::output::next_step(&wait_command(
            &job.id,
            voiceclone::JobKind::Clone,
        )));
    }
    o.fields.entry("waited").or_insert(false.into());
    if let Some(out) = &args.out
        && o.failure.is_none()
    {
        // JimmyAI's preview (VMEG was refused before sending).
        let urls: Vec<url::Url> = job
            .output()
            .and_then(|v| v.preview_url.clone())
            .into_iter()
            .collect();
        if urls.is_empty() && job.status == TaskStatus::Succeeded {
            // The wait succeeded with the voice but no usable preview (`audioUrl` missing or
            // not a URL): the clone is done and paid for, and its voice id is printed. Exit 1
            // (a failure) would have a script clone again and pay for a second preview; 3
            // says the outcome is unknown, which it is not. So 0, and the missing file said.
            no_preview(&job.id, printer, &mut o);
        } else {
            let budget = crate::commands::out::MAX_OUT_BYTES;
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
            // A preview that could not be fetched (refused, 404, not audio, too large) takes
            // nothing from a clone that succeeded: exit 1 would have a script clone again, as
            // for a missing preview. Exit 3 (transport, interrupted) stays: it stops a
            // resubmit already.
            if job.status == TaskStatus::Succeeded
                && o.failure.as_ref().is_some_and(|f| f.exit == Exit::Failure)
                && let Some(f) = o.failure.take()
            {
                preview_not_written(&job.id, &f, printer, &mut o);
            }
        }
    }
    o
}

/// `clone --wait --out` whose clone succeeded but whose preview could not be downloaded
/// (exit 1 from [`crate::commands::out::write`]): `files` as written, the download's failure as
/// `preview_error` (kind and message), a warning on stderr, and the run a success.
pub(super) fn preview_not_written(id: &JobId, f: &Failure, printer: &Printer, o: &mut Outcome) {
    warn_voice_kept(id, printer, |status| {
        format!(
            "its preview could not be downloaded to --out ({}: {}); its URL is printed, and {status} shows it again",
            f.kind, f.message
        )
    });
    o.set(
        "preview_error",
        serde_json::json!({"kind": f.kind, "message": f.message}),
    );
}

/// `clone --wait --out` whose clone succeeded without a usable preview URL: nothing written
/// (`files` empty, `no_preview` true), a warning on stderr, and the run a success.
pub(super) fn no_preview(id: &JobId, printer: &Printer, o: &mut Outcome) {
    warn_voice_kept(id, printer, |status| {
        format!(
            "the task gave no usable preview URL: nothing was written to --out; {status} shows the preview if JimmyAI gives one later"
        )
    });
    o.set("files", Vec::<serde_json::Value>::new());
    o.set("no_preview", true);
}

/// The warning, on stderr, of a clone `id` that succeeded without its preview written: what
/// went wrong (`why`, given the `status` command that shows the clone again), and that
/// running clone again bills a new one.
pub(super) fn warn_voice_kept(id: &JobId, printer: &Printer, why: impl FnOnce(&str) -> String) {
    let status = format!(
        "`{}`{}",
        crate::output::suggested_command(&format!("status {}", sh_id(id))),
        crate::output::suggested_key_note()
    );
    crate::output::stderr_line(&printer.safe(&format!(
        "warning: the clone succeeded and its voice is usable, but {} (running clone again bills a new clone)",
        why(&status)
    )));
}

/// The clone request the flags describe (checked by the adapter when sent).
pub fn clone_request(p: Provider, args: &CloneArgs) -> Result<CloneRequest, Failure> {
    // Refused as the library refuses it when sent (a dry run included).
    super::refuse_the_key_in("AUDIO_URL_OR_FILE", Some(args.audio.as_str()))?;
    super::refuse_the_key_in("--name", args.name.as_deref())?;
    super::refuse_the_key_in("--language", args.language.as_deref())?;
    super::refuse_the_key_in("--text", args.text.as_deref())?;
    let mut req = CloneRequest::with_audio(audio_source(&args.audio));
    if let Some(n) = &args.name {
        req = req.name(n.as_str());
    }
    if let Some(l) = &args.language {
        req = req.language(l.as_str());
    }
    if let Some(t) = &args.text {
        req = req.sample_text(t.as_str());
    }
    if let Some(e) = &args.engine {
        req = req
            .engine(p, e)
            .map_err(|err| Failure::from(voiceclone::Error::from(err)))?;
    }
    if args.sync {
        req = req.synchronous(true);
    }
    Ok(req)
}
