//! `webhook verify`: check a VMEG delivery's signature and print the event.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use voiceclone::WebhookSecret;
use voiceclone::webhook::{Verifier, WebhookEventKind, WebhookPayload};

use crate::cli::{Cli, VerifyArgs};
use crate::exit::Exit;
use crate::output::{Failure, Outcome, Printer, put_job};

/// The largest body `webhook verify` reads (1 MiB, the `Verifier`'s own default limit, set
/// on it explicitly below so the two cannot drift). A longer body is refused after reading
/// one byte more than this, however long the file or stdin stream is.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long `webhook verify` waits for the whole body on stdin (from `cat`, `curl`, `jq`: a
/// delivery of at most 1 MiB comes in well under a second). A writer that keeps stdin open
/// and silent (`sleep 100 | voiceclone webhook verify ...`) is refused when it runs out.
pub const STDIN_BODY_WAIT: Duration = Duration::from_secs(30);

/// A BODY_FILE that is a FIFO (or `/dev/stdin`): its writer must come within 10 s, and the
/// whole body within [`STDIN_BODY_WAIT`], as on stdin.
const BODY_FILE_PATIENCE: crate::bounded_read::Patience = crate::bounded_read::Patience {
    writer: Duration::from_secs(10),
    whole: STDIN_BODY_WAIT,
};

/// Runs `webhook verify`.
pub fn verify(cli: &Cli, args: &VerifyArgs, printer: &mut Printer) -> Outcome {
    match verify_inner(cli, args, printer) {
        Ok(o) => o,
        Err(f) => Outcome::failed(f),
    }
}

fn verify_inner(cli: &Cli, args: &VerifyArgs, printer: &mut Printer) -> Result<Outcome, Failure> {
    crate::context::redact_api_keys(cli, printer)?;
    let secret = crate::receiver::secret_from_env(&args.secret_env, "--secret-env", printer)?;
    let body = read_body(args.body.as_deref())?;
    let verifier = Verifier::new(WebhookSecret::new(secret)).max_body_bytes(MAX_BODY_BYTES);
    let mut o = Outcome::default();
    o.set("provider", "vmeg");
    match verifier.verify(args.timestamp.trim(), args.signature.trim(), &body) {
        Ok(event) => {
            let kind = kind_str(&event.kind);
            o.set("verified", true);
            o.set("event", kind.as_str());
            o.set("pipeline_key", event.pipeline_key.as_str());
            o.set("code", event.code);
            o.set("succeeded", event.succeeded());
            if let Some(m) = &event.message {
                o.set("message", m.as_str());
            }
            if let Some(k) = event.idempotency_key() {
                o.set("idempotency_key", k);
            }
            o.set("sent_at", crate::output::rfc3339(event.sent_at));
            o.line(format!(
                "verified: {kind} (pipelineKey {}, code {})",
                event.pipeline_key, event.code
            ));
            match &event.payload {
                WebhookPayload::Clone(job) => put_job(&mut o, job),
                WebhookPayload::Speech(job) => put_job(&mut o, job),
                WebhookPayload::Other(data) => {
                    if let Some(id) = data.task_id() {
                        o.line(format!("job: {id}"));
                        // Of no known kind: the stored form is the vendor id itself.
                        o.set("job_id", id.as_str());
                        o.set("vendor_id", id);
                    }
                    for (k, v) in crate::output::raw_data_fields(data) {
                        o.set(k, v);
                    }
                }
                _ => {}
            }
            // The payload helpers set "kind" to clone/speech; keep the event name too.
            Ok(o)
        }
        Err(e) => {
            o.set("verified", false);
            o.failure = Some(Failure::from_adapter(&e));
            Ok(o)
        }
    }
}

/// Reads the body from the file or stdin: at most [`MAX_BODY_BYTES`] + 1 bytes, so an
/// oversized (or endless) body is refused without being read whole.
fn read_body(path: Option<&Path>) -> Result<Vec<u8>, Failure> {
    let limit = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX);
    let buf = match path {
        // A FIFO's writer, too, gets a bounded time ([`BODY_FILE_PATIENCE`]).
        Some(p) if p.as_os_str() != "-" => {
            match crate::bounded_read::read_within(p, limit, BODY_FILE_PATIENCE) {
                Ok(buf) => buf,
                Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => return Err(too_large()),
                Err(e) => {
                    return Err(Failure::io(
                        &format!("cannot read the body file {}", p.display()),
                        &e,
                    ));
                }
            }
        }
        _ => read_stdin(MAX_BODY_BYTES.saturating_add(1))?,
    };
    if buf.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(buf)
}

/// The refusal of a body over [`MAX_BODY_BYTES`].
fn too_large() -> Failure {
    Failure::other(
        Exit::Failure,
        "webhook",
        format!(
            "the body is over the {MAX_BODY_BYTES}-byte limit (reading stopped there); a VMEG webhook delivery is far smaller, so it is refused unverified"
        ),
    )
    .with("reason", "body_too_large")
    .with("limit_bytes", MAX_BODY_BYTES)
}

/// At most `limit` bytes of stdin, up to its end, within [`STDIN_BODY_WAIT`]. A terminal
/// is refused at once: nobody types a delivery, and a pasted one would not be the bytes
/// that were signed (the terminal adds a newline, or edits the line). The read runs on a
/// thread of its own, which a timeout leaves behind, blocked on stdin until the process
/// exits (a std thread: nothing waits for it).
fn read_stdin(limit: usize) -> Result<Vec<u8>, Failure> {
    use std::io::IsTerminal;
    use std::sync::mpsc::{RecvTimeoutError, channel};
    if std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "webhook verify reads the body from stdin when no BODY_FILE is given, and stdin is a terminal: pass BODY_FILE, or pipe the body in (a delivery's exact bytes: what is pasted into a terminal is not what was signed)",
        )
        .with("reason", "stdin_is_a_terminal"));
    }
    let (tx, rx) = channel::<std::io::Result<Vec<u8>>>();
    std::thread::Builder::new()
        .name("webhook-body-stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut chunk = vec![0u8; 64 * 1024];
            let mut left = limit;
            while left > 0 {
                let want = left.min(chunk.len());
                let part = match stdin.read(chunk.get_mut(..want).unwrap_or_default()) {
                    Ok(0) => return,
                    Ok(n) => chunk.get(..n).unwrap_or_default().to_vec(),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                left = left.saturating_sub(part.len());
                if tx.send(Ok(part)).is_err() {
                    return;
                }
            }
        })
        .map_err(|e| Failure::io("cannot start reading the body from stdin", &e))?;
    let deadline = Instant::now() + STDIN_BODY_WAIT;
    let mut buf = Vec::new();
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Ok(part)) => buf.extend_from_slice(&part),
            Ok(Err(e)) => return Err(Failure::io("cannot read the body from stdin", &e)),
            // The reader ended: stdin's end, or `limit` bytes read.
            Err(RecvTimeoutError::Disconnected) => return Ok(buf),
            Err(RecvTimeoutError::Timeout) => {
                let secs = STDIN_BODY_WAIT.as_secs();
                let message = if buf.is_empty() {
                    format!(
                        "no body arrived on stdin within {secs} s (its writer kept it open and sent nothing): pass BODY_FILE, or pipe the body in"
                    )
                } else {
                    format!(
                        "the body on stdin did not end within {secs} s ({} bytes arrived; its writer kept stdin open): pass BODY_FILE, or pipe a body whose writer closes",
                        buf.len()
                    )
                };
                return Err(Failure::usage(message)
                    .with("reason", "stdin_timed_out")
                    .with("wait_secs", secs));
            }
        }
    }
}

fn kind_str(kind: &WebhookEventKind) -> String {
    kind.as_str().to_owned()
}
