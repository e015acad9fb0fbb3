//! `webhook verify`: check a VMEG delivery's signature and print the event.

use std::io::Read;
use std::path::Path;

use serde_json::Value;
use voiceclone::WebhookSecret;
use voiceclone::webhook::{Verifier, WebhookEventKind, WebhookPayload};

use crate::cli::VerifyArgs;
use crate::exit::Exit;
use crate::output::{Failure, Outcome, Printer, put_job};

/// The largest body `webhook verify` reads (1 MiB, the `Verifier`'s own default limit, set
/// on it explicitly below so the two cannot drift). A longer body is refused after reading
/// one byte more than this, however long the file or stdin stream is.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Runs `webhook verify`.
pub fn verify(args: &VerifyArgs, printer: &mut Printer) -> Outcome {
    match verify_inner(args, printer) {
        Ok(o) => o,
        Err(f) => Outcome::failed(f),
    }
}

fn verify_inner(args: &VerifyArgs, printer: &mut Printer) -> Result<Outcome, Failure> {
    crate::receiver::redact_api_keys_from_env(printer);
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
                    o.set("data", data.parse::<Value>().unwrap_or(Value::Null));
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
    let mut buf = Vec::new();
    match path {
        Some(p) if p.as_os_str() != "-" => std::fs::File::open(p)
            .and_then(|f| f.take(limit.saturating_add(1)).read_to_end(&mut buf))
            .map_err(|e| Failure::io(&format!("cannot read the body file {}", p.display()), &e))?,
        _ => std::io::stdin()
            .lock()
            .take(limit.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| Failure::io("cannot read the body from stdin", &e))?,
    };
    if buf.len() > MAX_BODY_BYTES {
        return Err(Failure::other(
            Exit::Failure,
            "webhook",
            format!(
                "the body is over the {MAX_BODY_BYTES}-byte limit (reading stopped there); a VMEG webhook delivery is far smaller, so it is refused unverified"
            ),
        )
        .with("reason", "body_too_large")
        .with("limit_bytes", MAX_BODY_BYTES));
    }
    Ok(buf)
}

fn kind_str(kind: &WebhookEventKind) -> String {
    kind.as_str().to_owned()
}
