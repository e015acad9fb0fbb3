//! Sending a create: this command's own idempotency key (VMEG), a signal during the submit,
//! and an unknown outcome reported with what to look the job up by.

use voiceclone::{Error, ErrorKind, Provider};

use super::client::UploadSeen;
use super::suggest::look_up;
use crate::cli::JobKind;
use crate::exit::Exit;
use crate::output::Failure;

/// A VMEG submit's idempotency key, made here (a new uuid clear of the API key,
/// [`crate::own_key`]): the command then knows it while the submit is in flight, so a signal
/// or a lost answer can name what to look the job up by. JimmyAI takes no key.
pub(super) fn with_own_key<R>(p: Provider, req: R, set: fn(R, String) -> R) -> (R, Option<String>) {
    if p != Provider::Vmeg {
        return (req, None);
    }
    let key = crate::own_key::new("");
    (set(req, key.clone()), Some(key))
}

/// The submit, unless SIGINT or SIGTERM comes first. A signal during the submit stops it
/// where it is: whether the provider created (and will bill) a job is not known, so the
/// command says so with the key and submit time to look it up by (exit 3), instead of dying
/// with nothing printed. A 409 "key already used" on the command's own key means one of
/// its own requests landed: unknown too, never a failure a script would resubmit. A clone's
/// `voice_name` goes into the suggested reconcile, as the adapter's own unknown outcomes
/// carry it: for a synchronous clone the only tie the search has. A signal while a clone's
/// local recording is seen part way up (`upload`) comes before any create: no clone was
/// submitted, and nothing is to be looked up. `request` is the create's summary
/// ([`create_summary`]), which such an error carries as the adapter's own unknown outcome
/// does.
pub(super) async fn submit_or_signal<J>(
    submit: impl std::future::Future<Output = Result<J, voiceclone::Error>>,
    signals: &mut Option<crate::signals::Signals>,
    own_key: Option<&str>,
    kind: JobKind,
    voice_name: Option<&str>,
    upload: Option<&UploadSeen>,
    request: voiceclone::RequestSummary,
) -> Result<J, Failure> {
    // Whole and not blank, as `ReconcileQuery::from_error` takes it.
    let voice_name = voice_name.filter(|n| !n.trim().is_empty());
    let at = std::time::SystemTime::now();
    // The submit (with a local recording's upload, and retries) may have run for minutes:
    // the task can have been made any time up to now, so the span to search ends now.
    let unknown = |what: &str, message: String| {
        let e = voiceclone::Error::new(ErrorKind::OutcomeUnknown {
            idempotency_key: own_key.map(str::to_owned),
            task_id: None,
            submitted_at: at,
            request: request.clone(),
        });
        let last = std::time::SystemTime::now();
        let mut f = Failure::from_adapter(&e)
            .with("operation", operation(kind))
            .with("last_attempt_at", crate::output::rfc3339(last));
        f.kind = what.to_owned();
        f.message = format!(
            "{message}: {}",
            look_up(kind, own_key, None, voice_name, at, last)
        );
        f
    };
    let result = match signals.as_mut() {
        Some(signals) => tokio::select! {
            // An answer that came with the signal wins: its job is known.
            biased;
            r = submit => r,
            name = signals.next() => {
                if upload.is_some_and(UploadSeen::part_way) {
                    return Err(Failure::other(
                        Exit::Unreachable,
                        "interrupted",
                        format!("{name}: stopped while the recording was still uploading; no clone was submitted (the create is sent only after the upload), so running the command again is safe"),
                    )
                    .with("no_clone_submitted", true));
                }
                return Err(unknown("interrupted", format!(
                    "{name}: stopped during the submit; whether a job was created (and billed) is not known"
                )));
            }
        },
        None => submit.await,
    };
    result.map_err(|e| {
        if own_key.is_some() && *e.kind() == ErrorKind::Conflict {
            unknown("outcome_unknown", "VMEG answered \"idempotency key already used\" for this command's own new key: one of its own requests landed, so a job may exist".to_owned())
        } else {
            let submit = Submit {
                kind,
                own_key,
                voice_name,
                at,
            };
            unknown_from_adapter(&e, &submit)
        }
    })
}

/// The adapter's name of a create of `kind`, as its errors give it (`operation`).
pub(super) fn operation(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Clone => "clone_voice",
        JobKind::Speech => "synthesize",
    }
}

/// The summary of a create this command sends, for the unknown outcome of a signal or of a
/// 409 on its own key, filled as the adapter fills its own (method, route and the body's
/// identifying fields): the method and route of the library's plan of the same request
/// (what `--dry-run` prints; its last step, after a local recording's upload), and the
/// voice name, when one was given, as the provider's body has it (`voiceName`, VMEG). The
/// body's other fields are left out: summarizing free text (as a length and a hash) is
/// the library's own. An empty summary when the plan refuses the request, which the
/// client then refuses too, before sending.
pub(super) fn create_summary(
    planned: Result<voiceclone::estimate::DryRun, voiceclone::Error>,
    voice_name: Option<&str>,
) -> voiceclone::RequestSummary {
    let mut summary = voiceclone::RequestSummary::default();
    let Some(create) = planned.ok().and_then(|run| run.requests.last().cloned()) else {
        return summary;
    };
    summary.method = create.method.to_owned();
    summary.route = create.path;
    // The name as the body sends it; a nameless clone's is made only when it is sent.
    let sent = create
        .body
        .get("voiceName")
        .and_then(serde_json::Value::as_str);
    if let Some(name) = sent.filter(|_| voice_name.is_some_and(|n| !n.trim().is_empty())) {
        summary
            .fields
            .push(("voiceName".to_owned(), name.to_owned()));
    }
    summary
}

/// What a submit's failure names to look its job up by: the kind, this command's own key
/// (VMEG), a clone's voice name, and when it was sent.
pub(super) struct Submit<'a> {
    kind: JobKind,
    own_key: Option<&'a str>,
    voice_name: Option<&'a str>,
    at: std::time::SystemTime,
}

/// The adapter's error for a submit, with, for an unknown outcome, the lookup in its message:
/// the reconcile command with the key and both times (VMEG), or the span of time to check
/// the account in (JimmyAI). The last attempt matters: with retries (4 attempts, a 180 s
/// sync create) the task can have been made minutes after the submit time, outside the
/// span a search around that time alone covers. Without `--json` the message is the only
/// place these are printed.
pub(super) fn unknown_from_adapter(e: &voiceclone::Error, submit: &Submit<'_>) -> Failure {
    let kind = submit.kind;
    let mut f = Failure::from_adapter(e);
    if let ErrorKind::OutcomeUnknown {
        idempotency_key,
        task_id,
        submitted_at,
        ..
    } = e.kind()
    {
        // No time from the adapter: the answer was lost by now at the latest.
        let last = e
            .last_attempt_at()
            .unwrap_or_else(std::time::SystemTime::now);
        f.details
            .entry("last_attempt_at")
            .or_insert_with(|| crate::output::rfc3339(last).into());
        // The voice name as the library's own query takes it (whole, not blank): for a
        // synchronous clone the only tie the search has.
        let voice_name = voiceclone::ReconcileQuery::from_error(e)
            .ok()
            .and_then(|q| q.voice_name);
        let look_up = look_up(
            kind,
            idempotency_key.as_deref(),
            task_id.as_ref(),
            voice_name.as_deref(),
            *submitted_at,
            last,
        );
        f.message = format!("{}: {look_up}", f.message);
    } else if !e.may_resubmit() && f.exit != Exit::Unreachable && create_may_have_been_sent(e) {
        // An answer to the create that the library does not count as proof that nothing was
        // made (a 5xx, a 404, an unreadable answer, JimmyAI's undocumented 20002 in an HTTP
        // 200): exit 3 with the times and where to look, as `speak --text-file` keeps such a
        // part unknown. Exit 1 reads as "refused, submit again", a second paid task; the kind
        // stays what the answer said.
        let last = e
            .last_attempt_at()
            .unwrap_or_else(std::time::SystemTime::now);
        f.exit = Exit::Unreachable;
        if let Some(key) = submit.own_key {
            f.details.insert("idempotency_key".into(), key.into());
        }
        f.details.insert(
            "submitted_at".into(),
            crate::output::rfc3339(submit.at).into(),
        );
        f.details.insert(
            "submitted_at_unix_ms".into(),
            crate::output::unix_ms(submit.at).into(),
        );
        f.details
            .entry("last_attempt_at")
            .or_insert_with(|| crate::output::rfc3339(last).into());
        let look_up = look_up(
            kind,
            submit.own_key,
            None,
            submit.voice_name,
            submit.at,
            last,
        );
        f.message = format!(
            "{}; this answer to the create is not one that proves nothing was made (`may_resubmit()` is false), so its outcome is not known: {look_up}",
            f.message
        );
    }
    f
}

/// Whether a submit's error may come from its create (or a step after it): not when it comes
/// from a step of sending a local recording that precedes the create (`gen-upload-url`,
/// `files/upload`, a PUT: `no_clone_submitted`, safe to call again), nor from an upload
/// call. Those keep their own exit code (1 for a refusal): nothing is there to look up.
pub(super) fn create_may_have_been_sent(e: &Error) -> bool {
    if e.step().is_some_and(|s| !s.after_submit()) {
        return false;
    }
    e.operation() != Some("upload")
}

#[cfg(test)]
mod tests {
    use super::*;
    use voiceclone::JobId;

    /// The suggested `reconcile` carries the task the answer named: without it the search
    /// can answer `none` for a task dated outside the window (VMEG), and JimmyAI, with no
    /// key, got no command at all.
    #[test]
    fn the_suggested_reconcile_names_the_task_the_answer_named() {
        let at = std::time::SystemTime::now();
        let id = JobId::typed(Provider::Vmeg, voiceclone::JobKind::Clone, "A");
        let text = look_up(JobKind::Clone, Some("k-1"), Some(&id), None, at, at);
        assert!(
            text.contains("--task-id vmeg:clone:A") && text.contains("--key k-1"),
            "{text}"
        );
        let id = JobId::typed(Provider::JimmyAi, voiceclone::JobKind::Speech, "audio_1");
        let text = look_up(JobKind::Speech, None, Some(&id), None, at, at);
        assert!(text.contains("reconcile --kind speech"), "{text}");
        assert!(text.contains("--task-id jimmyai:speech:audio_1"), "{text}");
        assert!(!text.contains("--key"), "{text}");
    }

    /// Review 23 pass 2 #9: an unknown clone's error whose request summary holds the voice
    /// name suggests a reconcile with `--voice-name`, as `ReconcileQuery::from_error` uses
    /// it (the only tie for a synchronous clone), shell-quoted and after `=` so a name
    /// starting with `-` is not read as an option. A blank name or one cut for the summary
    /// ties nothing and is left out.
    #[test]
    fn the_suggested_reconcile_carries_the_voice_name_the_request_held() {
        let at = std::time::SystemTime::now();
        let unknown = |name: &str| {
            let mut request = voiceclone::RequestSummary::default();
            request
                .fields
                .push(("voiceName".to_owned(), name.to_owned()));
            let e = voiceclone::Error::new(ErrorKind::OutcomeUnknown {
                idempotency_key: Some("k-1".to_owned()),
                task_id: None,
                submitted_at: at,
                request,
            });
            let submit = Submit {
                kind: JobKind::Clone,
                own_key: None,
                voice_name: None,
                at,
            };
            unknown_from_adapter(&e, &submit).message
        };
        let text = unknown("narrator");
        assert!(text.contains("--key k-1 --voice-name=narrator"), "{text}");
        let text = unknown("-it's $(x)");
        assert!(text.contains(r"--voice-name='-it'\''s $(x)'"), "{text}");
        let long = "n".repeat(10_000);
        for name in ["  ", long.as_str()] {
            let text = unknown(name);
            assert!(
                text.contains("--key k-1") && !text.contains("--voice-name"),
                "{text}"
            );
        }
    }
}
