//! What identifies a request whose outcome is unknown: its method, route and body fields,
//! without secrets or the caller's free text.

use url::Url;

use super::Call;
use crate::error::{BodyDigest, Error, ErrorKind, RequestSummary};
use crate::scrub::Scrubber;

impl Call<'_> {
    /// What a person needs to find this request again (the idempotency key and the submit
    /// time travel beside it): method, route and the body's identifying fields, scrubbed.
    pub(super) fn summary(&self, scrubber: &Scrubber) -> RequestSummary {
        let value = self.body.and_then(|b| b());
        let fields = value
            .as_ref()
            .map(|value| scrubbed_fields(value, self.free_text, scrubber))
            .unwrap_or_default();
        RequestSummary {
            method: self.route.0.to_owned(),
            route: self.route.1.to_owned(),
            fields,
            body: value.and_then(|value| body_digest(&value, self.free_text)),
        }
    }
}

/// Gives an `OutcomeUnknown` the request's summary, so a person can find the task again.
/// It also records the client's API key (as a salted tag) and base URL: a resend or search
/// through a client of another account or endpoint is refused by them.
pub(super) fn with_summary(
    err: Error,
    call: &Call<'_>,
    scrubber: &Scrubber,
    sent_under: &crate::sent_under::SentUnder,
) -> Error {
    match err.kind() {
        ErrorKind::OutcomeUnknown {
            idempotency_key,
            task_id,
            submitted_at,
            ..
        } => {
            let kind = ErrorKind::OutcomeUnknown {
                idempotency_key: idempotency_key.clone(),
                task_id: task_id.clone(),
                submitted_at: *submitted_at,
                request: call.summary(scrubber),
            };
            err.with_kind(kind).with_sent_under(sent_under.clone())
        }
        _ => err,
    }
}

/// A summary quotes at most this many fields, each cut to this many characters (and `…`).
const SUMMARY_MAX_FIELDS: usize = 32;
const SUMMARY_MAX_CHARS: usize = 200;

/// Whether a summary's value was cut: only a cut one is longer than the limit. A cut value
/// is a prefix, never evidence of the whole (a voice name matched against the voice list).
pub(crate) fn is_cut(value: &str) -> bool {
    value.chars().nth(SUMMARY_MAX_CHARS).is_some()
}

/// A JSON body's fields as a summary quotes them (at most [`SUMMARY_MAX_FIELDS`]), in
/// order: free text as its length and a hash, URLs without credentials, query or fragment,
/// values cut. Not scrubbed: the caller scrubs what the key may be in.
pub(crate) fn summary_fields(
    value: &serde_json::Value,
    free_text: &[&str],
) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    summarize_json("", value, free_text, &mut fields);
    fields.truncate(SUMMARY_MAX_FIELDS);
    fields
}

/// [`summary_fields`] with every value scrubbed of the API key: what an `OutcomeUnknown`'s
/// summary holds, and what a resend's body is compared with it as.
pub(crate) fn scrubbed_fields(
    value: &serde_json::Value,
    free_text: &[&str],
    scrubber: &Scrubber,
) -> Vec<(String, String)> {
    summary_fields(value, free_text)
        .into_iter()
        .map(|(k, v)| (k, scrubber.scrub_owned(v)))
        .collect()
}

/// The digest of a whole JSON body, every field whole (none cut, none left out, URLs with
/// their queries), in the order [`summary_fields`] flattens them: what a resend's body is held
/// to past the fields a summary quotes. Not scrubbed: both sides are digested from the body
/// itself, and a scrub is not always the same twice. `None` for a plan's body holding a value
/// made only when sent (an uploaded recording's URL): it cannot be compared whole.
pub(crate) fn body_digest(value: &serde_json::Value, free_text: &[&str]) -> Option<BodyDigest> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    if !digest_json("", value, free_text, &mut ctx) {
        return None;
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    Some(BodyDigest(out))
}

/// [`summarize_json`]'s walk, into `ctx`: each leaf as its path and value, both
/// length-prefixed (so that no two bodies run together alike). False at a made-when-sent
/// stand-in.
fn digest_json(
    path: &str,
    value: &serde_json::Value,
    free_text: &[&str],
    ctx: &mut ring::digest::Context,
) -> bool {
    use serde_json::Value;
    let mut leaf = |tag: u8, text: &str| {
        for part in [path.as_bytes(), text.as_bytes()] {
            let len = u64::try_from(part.len()).unwrap_or(u64::MAX);
            ctx.update(&len.to_be_bytes());
            ctx.update(part);
        }
        ctx.update(&[tag]);
    };
    match value {
        Value::Null => true,
        Value::Object(map) => map.iter().all(|(k, v)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            digest_json(&p, v, free_text, ctx)
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .all(|(i, v)| digest_json(&format!("{path}[{i}]"), v, free_text, ctx)),
        Value::String(text) if made_when_sent(path, text, free_text) => false,
        Value::String(text) => {
            leaf(b's', text);
            true
        }
        Value::Number(n) => {
            leaf(b'n', &n.to_string());
            true
        }
        Value::Bool(b) => {
            leaf(b'b', if *b { "true" } else { "false" });
            true
        }
    }
}

/// Whether a plan's value at `key` is one of its own stand-ins for a value made when sent
/// (the key, an uploaded recording's URL); a caller's `<Narrator A>` in a free-text field is
/// a value as any other.
fn made_when_sent(key: &str, v: &str, free_text: &[&str]) -> bool {
    let leaf = key.rsplit(['.', ']']).next().unwrap_or(key);
    !free_text.contains(&leaf)
        && [
            crate::estimate::GENERATED,
            crate::provider::vmeg::UPLOADED_URL,
            crate::provider::jimmyai::UPLOADED_URL,
        ]
        .contains(&v)
}

/// What differs between `sent` (an `OutcomeUnknown`'s summary) and `planned` (another body's,
/// made alike), as a refusal names it: the first field that differs ([`differing_field`]),
/// else the body past the fields a summary quotes, when both have its digest. `None` when
/// they agree as far as can be told.
pub(crate) fn differing_part(
    sent: &RequestSummary,
    planned: &RequestSummary,
    free_text: &[&str],
) -> Option<String> {
    if let Some(field) = differing_field(&sent.fields, &planned.fields, free_text) {
        return Some(format!("`{field}`"));
    }
    match (sent.body, planned.body) {
        (Some(s), Some(p)) if s != p => Some(format!(
            "body past the {SUMMARY_MAX_FIELDS} fields its summary quotes (a later line, \
             `language`, `outputFormat`, ...)"
        )),
        _ => None,
    }
}

/// The first field whose summary differs between `sent` (an `OutcomeUnknown`'s, as sent)
/// and `planned` (another body's, summarized as `summary_fields` does, scrubbed alike): a
/// value that differs, or a field only one of them has. `None` when they agree, and when
/// `sent` is empty (no summary to compare: a body the transport never had, an error built by
/// hand). Only the fields a summary keeps are compared; a planned value the plan makes at
/// send time (`<...>`, e.g. an uploaded recording's URL) is taken as agreeing, and so is a sent
/// field scrubbed of a piece of the API key (it cannot be compared).
pub(crate) fn differing_field<'a>(
    sent: &'a [(String, String)],
    planned: &'a [(String, String)],
    free_text: &[&str],
) -> Option<&'a str> {
    if sent.is_empty() {
        return None;
    }
    // Field by field, in order: both summaries come from the same flattening of a body. A
    // sent field whose name or value holds a piece of the API key was scrubbed (maybe more
    // than once, and a scrub is not always the same twice): it cannot be compared, so it is
    // passed over, never read as a difference (a key sharing 8 characters with `voiceName`
    // refused every resubmit).
    let redacted = |t: &str| t.contains(crate::scrub::REDACTED);
    let mut planned_fields = planned.iter();
    for (sk, sv) in sent {
        let Some((pk, pv)) = planned_fields.next() else {
            return Some(sk.as_str());
        };
        if redacted(sk) || redacted(sv) {
            continue;
        }
        if sk != pk || (!made_when_sent(pk, pv, free_text) && sv != pv) {
            return Some(pk.as_str());
        }
    }
    planned_fields.next().map(|(k, _)| k.as_str())
}

/// Flattens a JSON body into `(path, value)` pairs for a request summary.
fn summarize_json(
    path: &str,
    value: &serde_json::Value,
    free_text: &[&str],
    out: &mut Vec<(String, String)>,
) {
    use serde_json::Value;
    let leaf = path.rsplit(['.', ']']).next().unwrap_or(path);
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                summarize_json(&p, v, free_text, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                summarize_json(&format!("{path}[{i}]"), v, free_text, out);
            }
        }
        Value::String(text) if free_text.contains(&leaf) => {
            out.push((path.to_owned(), text_fingerprint(text)));
        }
        Value::String(text) => out.push((path.to_owned(), quotable(text))),
        // Written by hand rather than through `Value`'s `Display`, which would link its whole
        // serializer (pretty printing included) into every program making a paid call.
        Value::Number(n) => out.push((path.to_owned(), n.to_string())),
        Value::Bool(b) => out.push((path.to_owned(), b.to_string())),
    }
}

/// Free text as its length and the first 8 hex digits of its SHA-256: enough to match it
/// against the caller's own records, nothing of its content.
fn text_fingerprint(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let short: String = digest
        .as_ref()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("<{} chars, sha256:{short}>", text.chars().count())
}

/// A value as it may be quoted: URLs without credentials, query or fragment; cut, URLs too
/// (a server's material URL can be megabytes, and the summary goes into log lines).
fn quotable(text: &str) -> String {
    if let Ok(mut url) = Url::parse(text)
        && url.has_host()
    {
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_query(None);
        url.set_fragment(None);
        return cut(url.as_str());
    }
    cut(text)
}

/// `text` cut to [`SUMMARY_MAX_CHARS`] characters, `…` added when anything was cut.
fn cut(text: &str) -> String {
    crate::error::cut(text, SUMMARY_MAX_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::OperationKind;

    /// Review 26 pass 2 (lta) #1, #3: the body check of a resubmit. Equal summaries agree; a
    /// value the caller chose differs even when it looks like a stand-in (`<Narrator A>`);
    /// only the plan's own stand-ins (an uploaded recording's URL) agree with what was sent;
    /// a sent field scrubbed of a piece of the API key is passed over; a field only one side
    /// has differs.
    #[test]
    fn differing_field_compares_what_can_be_compared() {
        let f = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let sent = f(&[
            ("voiceName", "<Narrator A>"),
            ("refAudio", "https://cdn.example.com/a.wav"),
        ]);
        assert_eq!(differing_field(&sent, &sent, &[]), None);
        let renamed = f(&[
            ("voiceName", "<Narrator B>"),
            ("refAudio", "https://cdn.example.com/a.wav"),
        ]);
        assert_eq!(differing_field(&sent, &renamed, &[]), Some("voiceName"));
        let uploaded = f(&[
            ("voiceName", "<Narrator A>"),
            ("refAudio", crate::provider::vmeg::UPLOADED_URL),
        ]);
        assert_eq!(differing_field(&sent, &uploaded, &[]), None);
        let scrubbed = f(&[
            ("[redacted]e", "n"),
            ("refAudio", "https://cdn.example.com/a.wav"),
        ]);
        let planned = f(&[
            ("voiceName", "n"),
            ("refAudio", "https://cdn.example.com/a.wav"),
        ]);
        assert_eq!(differing_field(&scrubbed, &planned, &[]), None);
        let longer = f(&[
            ("voiceName", "<Narrator A>"),
            ("refAudio", "https://cdn.example.com/a.wav"),
            ("language", "en-US"),
        ]);
        assert_eq!(differing_field(&sent, &longer, &[]), Some("language"));
        assert_eq!(differing_field(&longer, &sent, &[]), Some("language"));
        assert_eq!(
            differing_field(&[], &sent, &[]),
            None,
            "no summary: not checked"
        );
    }

    /// Review 30-d #2: past the fields a summary quotes, the body's digest tells two bodies
    /// apart: a later line, a value cut in the summary, a URL's query. A plan holding a
    /// stand-in has none (not compared); a summary without one is compared by its fields.
    #[test]
    fn differing_part_compares_the_whole_body_past_the_summary() {
        let lines = |last: &str, format: &str| {
            let mut data: Vec<serde_json::Value> = (0..19)
                .map(|i| serde_json::json!({"text": format!("Line {i}."), "voiceId": "v-1"}))
                .collect();
            data.push(serde_json::json!({"text": last, "voiceId": "v-1"}));
            serde_json::json!({"data": data, "outputFormat": format})
        };
        let summary = |body: &serde_json::Value| RequestSummary {
            method: "POST".into(),
            route: "/tts".into(),
            fields: summary_fields(body, &["text"]),
            body: body_digest(body, &["text"]),
        };
        let sent = summary(&lines("Last.", "wav"));
        assert_eq!(sent.fields.len(), SUMMARY_MAX_FIELDS);
        assert_eq!(differing_part(&sent, &sent, &["text"]), None);
        for other in [lines("Other.", "wav"), lines("Last.", "mp3")] {
            let other = summary(&other);
            assert_eq!(sent.fields, other.fields, "both cut alike");
            assert!(differing_part(&sent, &other, &["text"]).is_some());
        }
        let long = "x".repeat(SUMMARY_MAX_CHARS + 10);
        let a = summary(&serde_json::json!({"voiceName": format!("{long}a")}));
        let b = summary(&serde_json::json!({"voiceName": format!("{long}b")}));
        assert_eq!(a.fields, b.fields, "both cut alike");
        assert!(differing_part(&a, &b, &[]).is_some());
        let q = |query: &str| {
            summary(
                &serde_json::json!({"refAudio": format!("https://cdn.example.com/a.wav?{query}")}),
            )
        };
        assert!(differing_part(&q("v=1"), &q("v=2"), &[]).is_some());
        let uploaded = serde_json::json!({"refAudio": crate::provider::vmeg::UPLOADED_URL});
        assert_eq!(body_digest(&uploaded, &[]), None);
        assert!(
            body_digest(&uploaded, &["refAudio"]).is_some(),
            "a caller's text is a value"
        );
        let unsummed = RequestSummary {
            body: None,
            ..sent.clone()
        };
        assert_eq!(
            differing_part(&unsummed, &summary(&lines("Other.", "wav")), &["text"]),
            None
        );
    }

    #[test]
    fn summary_names_the_request_without_secrets_or_free_text() {
        let scrubber = Scrubber::new("sk-secret-0123456789");
        let body = || {
            Some(serde_json::json!({
                "fileUrl": "https://u:p@cdn.example.com/a/b.wav?X-Amz-Signature=abc#frag",
                "contentText": "Hello, my card is 4111 1111 1111 1111",
                "data": [{"voiceId": "v-1", "text": "private words"}],
                "voiceName": "named sk-secret-0123456789",
                "speed": 1.5,
                "denoise": true,
                "count": -3,
                "none": null
            }))
        };
        let call = Call {
            operation: "clone_voice",
            route: ("POST", "/x"),
            kind: OperationKind::UnsafeWrite,
            idempotency_key: Some("k1"),
            body: Some(&body),
            free_text: &["contentText", "text"],
            fresh_key: false,
            synchronous: false,
        };
        let s = call.summary(&scrubber);
        let text = s.to_string();
        assert_eq!(s.method, "POST");
        assert_eq!(s.route, "/x");
        assert_eq!(
            s.field("fileUrl"),
            Some("https://cdn.example.com/a/b.wav"),
            "{text}"
        );
        assert_eq!(s.field("data[0].voiceId"), Some("v-1"));
        assert_eq!(s.field("speed"), Some("1.5"));
        assert_eq!(s.field("denoise"), Some("true"));
        assert_eq!(s.field("count"), Some("-3"));
        assert_eq!(s.field("none"), None);
        assert_eq!(s.field("voiceName"), Some("named [redacted]"));
        let fp = s.field("contentText").unwrap_or_default();
        assert!(
            fp.starts_with("<37 chars, sha256:") && fp.len() == 27,
            "{fp}"
        );
        for secret in ["4111", "private", "Signature", "u:p", "frag", "sk-secret"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    /// Review 28-a #4: a URL value (a server's material URL of megabytes) is cut as any other
    /// value is, after its credentials and query are removed, at a character boundary, and
    /// marked as cut; a short one is kept whole. Before: a URL with a host was quoted whole,
    /// into the WARN and INFO lines and the error's text.
    #[test]
    fn a_url_value_is_cut_as_other_values_are() {
        let long = format!(
            "https://u:p@h.example/{}?X-Amz-Signature=sig",
            "é".repeat(10_000)
        );
        let body = serde_json::json!({"refAudio": long, "fileUrl": "https://h/a.wav?sig=1"});
        let fields = summary_fields(&body, &[]);
        let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        let cut = get("refAudio").unwrap_or_default();
        assert!(
            cut.chars().count() <= SUMMARY_MAX_CHARS + 1,
            "{}",
            cut.len()
        );
        assert!(is_cut(cut), "{cut}");
        assert!(cut.starts_with("https://h.example/"), "{cut}");
        assert!(!cut.contains("u:p") && !cut.contains("sig"), "{cut}");
        assert_eq!(get("fileUrl"), Some("https://h/a.wav"));
        assert!(!is_cut("https://h/a.wav"));
    }
}
