//! The envelope rule every vendor answer follows: `{code, message|msg, data}`, success iff
//! `code` is the vendor's success code whatever the HTTP status; the vendor's code table and
//! success code are its [`Dialect`] (given by its `provider` module).

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::{Error, ErrorKind, Phase};
use crate::model::Provider;
use crate::scrub::Scrubber;
use crate::wire::{lenient_i64, lenient_string, usable_id};

/// The parts of an HTTP response the envelope rules need.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: bytes::Bytes,
}

impl RawResponse {
    pub(crate) fn new(status: u16, retry_after_header: Option<&str>, body: bytes::Bytes) -> Self {
        let retry_after = retry_after_header.and_then(crate::time::parse_retry_after);
        Self::with_retry_after(status, retry_after, body)
    }

    pub(crate) fn with_retry_after(
        status: u16,
        retry_after: Option<Duration>,
        body: bytes::Bytes,
    ) -> Self {
        Self {
            status,
            retry_after,
            body,
        }
    }
}

/// `message`, `msg` and `data` are `Some` when their key was given at all (`Some(None)`: as
/// `null`, or `message` not as text): what tells the vendor's envelope from a page that only
/// has a `code` (see [`Dialect::is_own_envelope`]).
#[derive(Deserialize)]
struct Envelope {
    #[serde(default, deserialize_with = "lenient_i64")]
    code: Option<i64>,
    #[serde(default, deserialize_with = "given_string")]
    message: Option<Option<String>>,
    #[serde(default, deserialize_with = "given_string")]
    msg: Option<Option<String>>,
    /// Kept as text, so that ids in it never pass through `f64` (see `crate::wire`).
    #[serde(default, deserialize_with = "given_raw")]
    data: Option<Option<Box<RawValue>>>,
}

fn given_string<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    lenient_string(d).map(Some)
}

fn given_raw<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<Box<RawValue>>>, D::Error> {
    Option::<Box<RawValue>>::deserialize(d).map(Some)
}

impl Envelope {
    fn data(&self) -> Option<&RawValue> {
        self.data.as_ref()?.as_deref()
    }

    /// Whether this is the vendor's own envelope, by its dialect's rule.
    fn is_the_vendors(&self, d: &Dialect) -> bool {
        (d.is_own_envelope)(EnvelopeKeys {
            code: self.code,
            message: self.message.is_some(),
            msg: self.msg.is_some(),
            data: self.data.is_some(),
        })
    }
}

/// What a body with a `code` gave: its code, and which of the other keys it gave at all
/// (`null` included). A vendor's [`Dialect::is_own_envelope`] tells its envelope by these.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnvelopeKeys {
    pub(crate) code: Option<i64>,
    pub(crate) message: bool,
    pub(crate) msg: bool,
    pub(crate) data: bool,
}

/// The task id `data` names, if any (and if usable): what an `OutcomeUnknown` carries so the
/// caller can look the task up. Read as [`tolerant_named`] reads it: an id given twice (the
/// same) still names its task.
fn named_task_id(provider: Provider, data: Option<&RawValue>) -> Option<String> {
    match Named::of(&ids_in_data(provider, data)) {
        Named::Task(id) => Some(id),
        Named::Unusable(_) | Named::Nothing => None,
    }
}

/// Every value one `data` object gives its task-id field (each vendor's own field: VMEG's `id`
/// may be a voice's or a material's), as sent, each time it is given. Anything but an object
/// (`null`, a list) gives none.
fn ids_in_data(provider: Provider, data: Option<&RawValue>) -> Vec<Box<RawValue>> {
    let Some(data) = data else {
        return Vec::new();
    };
    // `from_slice`, not `from_str`: the reader every other answer is decoded with, so no
    // second copy of serde_json's parser is linked for this rare path.
    let mut de = serde_json::Deserializer::from_slice(data.get().as_bytes());
    serde::Deserializer::deserialize_map(&mut de, ValuesOf(task_id_field(provider)))
        .unwrap_or_default()
}

/// What the task-id values of an answer's `data` name: the one rule for every path that reads
/// a failure's `data` (review 35-d #1), the typed 2xx's included ([`named_in_typed`]) as far
/// as the generated client kept the value: it decodes an object, a list or a bool to none, so
/// there such an id names nothing (review 35 pass 3 #1, left).
#[derive(Debug, PartialEq)]
pub(crate) enum Named {
    /// No value, or only `null`, `""` and blanks: no task (review 35-d #2), so a refusal
    /// stays a refusal. Any other value (an object, a list, a bool) names one: `Unusable`.
    Nothing,
    /// One usable id, given once or more.
    Task(String),
    /// A task this crate cannot look up: an id it refuses (`t/9`, a control character, over
    /// 256 characters) or two that disagree. A create answered so is never resent or called
    /// refused (review 34-d #3); the first id's text, cut, is what a person can quote.
    Unusable(String),
}

impl Named {
    fn of(ids: &[Box<RawValue>]) -> Self {
        match agreeing_id(ids, None) {
            Ok(Some(id)) => Named::Task(id),
            Ok(None) => Named::Nothing,
            Err(()) => ids
                .iter()
                .find_map(|raw| named_id_text(raw_id_text(raw).as_deref()))
                .map_or(Named::Nothing, Named::Unusable),
        }
    }

    /// `err`, carrying the task this names (see [`Error::with_task_id`]).
    pub(crate) fn on(self, err: Error) -> Error {
        match self {
            Named::Nothing => err,
            Named::Task(id) => err.with_task_id(id),
            Named::Unusable(text) => err.with_unusable_task_id(text),
        }
    }
}

/// [`Named`] for the id a decoded (typed) answer's `data` gives, read as the generated clients
/// read it (`null`, a bool, an object: none).
pub(crate) fn named_in_typed(id: Option<&str>) -> Named {
    match (usable_id(id), named_id_text(id)) {
        (Some(id), _) => Named::Task(id.to_owned()),
        (None, Some(text)) => Named::Unusable(text),
        (None, None) => Named::Nothing,
    }
}

/// The text of a task id as an error keeps it for people, cut to [`super::NAMED_TEXT_CHARS`]
/// and marked so (`…`: a 300-character id is not taken for its first 80): `None` for none and
/// for a blank one (`""`, spaces), which names no task, as `null` does.
fn named_id_text(id: Option<&str>) -> Option<String> {
    let id = id.filter(|id| !id.trim().is_empty())?;
    Some(crate::error::cut(id, super::NAMED_TEXT_CHARS))
}

/// The text of one task-id value as sent: a string or a number as its text, `null` as none,
/// and any other value (an object such as Mongo's `{"$oid": ...}`, a list, a bool) as what
/// it is: it names something, which a refusal answered so must not drop (review 35 pass 2b
/// #5). Not its JSON: an echoed API key written there with `\u` escapes, or split across
/// strings, would pass the text scrubber into an error and a WARN line (pass 3 #2).
fn raw_id_text(raw: &RawValue) -> Option<String> {
    let mut de = serde_json::Deserializer::from_slice(raw.get().as_bytes());
    if let Some(text) = lenient_string(&mut de).ok().flatten() {
        return Some(text);
    }
    let json = raw.get().trim();
    let what = match json.as_bytes().first() {
        Some(b'{') => "(a JSON object)",
        Some(b'[') => "(a JSON list)",
        Some(b't' | b'f') => "(a JSON bool)",
        _ if json == "null" => return None,
        _ => "(a JSON value that is no string)",
    };
    Some(what.to_owned())
}

/// The one task id `ids` (each as sent) and `named` (an earlier one) agree on: `Err` when two
/// disagree or one cannot be used (which was meant is unknown, so no usable task is named).
fn agreeing_id(ids: &[Box<RawValue>], mut named: Option<String>) -> Result<Option<String>, ()> {
    for raw in ids {
        let mut de = serde_json::Deserializer::from_slice(raw.get().as_bytes());
        let id = lenient_string(&mut de).ok().flatten();
        let Some(id) = usable_id(id.as_deref()) else {
            return Err(());
        };
        match &named {
            Some(earlier) if earlier != id => return Err(()),
            Some(_) => {}
            None => named = Some(id.to_owned()),
        }
    }
    Ok(named)
}

/// The field that names a task in `provider`'s `data` ([`Dialect::task_id_field`]).
fn task_id_field(provider: Provider) -> &'static str {
    crate::provider::facts(provider).dialect.task_id_field
}

/// What a body whose envelope does not parse names in `data`, read tolerantly: bytes that
/// are not UTF-8 read as U+FFFD, and a key given twice (top-level `data`, or the id in it) is
/// read each time, all of them as one list. Ids that disagree name no usable task (either may
/// be the task made); the same id twice counts once. For a create answered so, that id is the
/// only handle to a task that may be billed (JimmyAI has no task list).
fn tolerant_named(provider: Provider, body: &[u8]) -> Named {
    let text = String::from_utf8_lossy(body);
    let mut de = serde_json::Deserializer::from_slice(text.as_bytes());
    let Ok(datas) = serde::Deserializer::deserialize_map(&mut de, ValuesOf("data")) else {
        return Named::Nothing;
    };
    let ids: Vec<Box<RawValue>> = datas
        .iter()
        .flat_map(|data| ids_in_data(provider, Some(data)))
        .collect();
    Named::of(&ids)
}

/// The task id the first bytes of a body that broke off (`prefix`: all that arrived, within
/// the body limit) name in `data`, read as [`tolerant_named`] reads a whole body:
/// each vendor's field in each top-level `data` object, ids that disagree naming nothing.
/// Only an id that arrived whole counts: a string whose closing quote came, any other value
/// once the next key or the object's end came (`"id":12` may have been `"id":123`). For a JimmyAI create,
/// which no list finds again, that id is the only handle to a task that may be billed; an
/// unusable one's text too, as [`Named::of`] keeps it (review 35 pass 2b #3).
pub(crate) fn task_id_in_prefix(provider: Provider, prefix: &[u8]) -> Named {
    let text = String::from_utf8_lossy(prefix);
    let mut de = serde_json::Deserializer::from_slice(text.as_bytes());
    let mut found = Vec::new();
    let ids = IdsBeforeTheCut {
        field: task_id_field(provider),
        found: &mut found,
    };
    // It fails where the body broke off; what it met before that is in `found`.
    let _ = serde::Deserializer::deserialize_map(&mut de, ids);
    Named::of(&found)
}

/// Reads a top-level JSON object (maybe cut off), keeping in `found` every value of `field`
/// in a `data` object that arrived whole, as it is met.
struct IdsBeforeTheCut<'a> {
    field: &'static str,
    found: &'a mut Vec<Box<RawValue>>,
}

impl<'de> serde::de::Visitor<'de> for IdsBeforeTheCut<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "data" {
                map.next_value_seed(IdsInData {
                    field: self.field,
                    found: &mut *self.found,
                })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// One `data` value of a body that may be cut off: an object's `field` values that arrived
/// whole go to `found`; anything else names nothing.
struct IdsInData<'a> {
    field: &'static str,
    found: &'a mut Vec<Box<RawValue>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for IdsInData<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for IdsInData<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // A value that is not a string is taken once the next key (or the object's end)
        // arrived: only then is it known to be whole.
        let mut unended: Option<Box<RawValue>> = None;
        loop {
            let key = map.next_key::<String>()?;
            self.found.extend(unended.take());
            let Some(key) = key else {
                return Ok(());
            };
            if key != self.field {
                map.next_value::<serde::de::IgnoredAny>()?;
                continue;
            }
            let raw = map.next_value::<Box<RawValue>>()?;
            if raw.get().trim_start().starts_with('"') {
                self.found.push(raw);
            } else {
                unended = Some(raw);
            }
        }
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
}

/// Reads a JSON object, keeping the value of every entry named `.0` as its text, however
/// many there are (serde's derived readers refuse a key given twice).
struct ValuesOf(&'static str);

impl<'de> serde::de::Visitor<'de> for ValuesOf {
    type Value = Vec<Box<RawValue>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == self.0 {
                values.push(map.next_value::<Box<RawValue>>()?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(values)
    }
}

/// How one vendor's envelopes read: its success code and business-code table.
#[derive(Debug)]
pub(crate) struct Dialect {
    pub(crate) provider: Provider,
    /// The business `code` that means success.
    pub(crate) success_code: i64,
    /// The vendor's business code table: `None` for codes it does not know.
    pub(crate) kind_for_code: fn(i64) -> Option<ErrorKind>,
    /// Whether its business codes in 400..=599 mirror HTTP statuses (so a code inside an
    /// HTTP 200 classifies like that status for retries).
    pub(crate) codes_are_http_statuses: bool,
    /// Whether `kind_for_code`'s table is the vendor's own (VMEG's, CONFIRMED) rather than
    /// read elsewhere (JimmyAI's 20001/20002/-1, UNCONFIRMED: api-facts B2). A kind from an
    /// unconfirmed table is kept, but on a write it does not prove nothing was made.
    pub(crate) codes_confirmed: bool,
    /// Whether its requests carry a request id of ours (VMEG's `req_id`, api-facts A5):
    /// then each attempt's id is recorded in its span and on its error.
    pub(crate) request_ids: bool,
    /// Whether a body with these keys is the vendor's own envelope rather than a page that
    /// merely holds a numeric `code` (a relay's or a gateway's `{"code":503,"message":"Service
    /// Unavailable"}`). On the safe side: only the vendor's own 503 says a write was not done.
    pub(crate) is_own_envelope: fn(EnvelopeKeys) -> bool,
    /// The field of `data` that names a task, read from an answer that did not decode (a
    /// cut body, an unreadable envelope): for a create, the only handle to a task that may
    /// be billed.
    pub(crate) task_id_field: &'static str,
}

/// The start of a body that is not an envelope (a gateway's HTML page, say), for the error
/// message: scrubbed first, then cut, so no piece of the key survives the cut. A body with
/// `\u` escapes is described, not quoted: `\u0073k-...` spells the key where no search sees
/// it (decoding JSON here instead linked 21 KB of rewriting into every binary, issue 17).
fn body_snippet(body: &[u8], scrubber: &Scrubber) -> String {
    let head = body.get(..body.len().min(2048)).unwrap_or_default();
    let text = String::from_utf8_lossy(head);
    let text = scrubber.scrub(&text);
    if text.contains("\\u") || text.contains("\\U") {
        return "a body with \\u escapes (not shown)".to_owned();
    }
    crate::error::folded(&text, 300)
}

/// Applies the envelope rule: success iff `code` is the provider's success code (integer or
/// numeric string), whatever the HTTP status; otherwise an [`Error`] carrying status, code,
/// message and `Retry-After`. Returns `data` (as text). Must run inside
/// `crate::scrub::decoding_with`, so that the message is scrubbed as it is read.
pub(crate) fn decode_envelope(
    d: &Dialect,
    resp: &RawResponse,
    scrubber: &Scrubber,
) -> Result<Option<Box<RawValue>>, Error> {
    let provider = d.provider;
    let base = |kind: ErrorKind| {
        Error::new(kind)
            .with_provider(provider)
            .with_http_status(resp.status)
            .with_retry_after(resp.retry_after)
            .with_phase(Phase::Answered)
    };
    let envelope: Option<Envelope> = serde_json::from_slice(&resp.body).ok();
    // A body without a readable `code` that still names a task: the task may be made. One
    // that does not parse at all (a key given twice, bytes that are not UTF-8) is read again,
    // tolerantly, for that id alone.
    let named = match &envelope {
        Some(e) if e.code.is_none() => Named::of(&ids_in_data(provider, e.data())),
        Some(_) => Named::Nothing,
        None => tolerant_named(provider, &resp.body),
    };
    let Some((code, envelope)) = envelope.and_then(|e| e.code.map(|c| (c, e))) else {
        // No envelope: a proxy, a gateway or a framework answered instead of the API.
        let kind = ErrorKind::from_http_status(resp.status).unwrap_or(ErrorKind::InvalidResponse);
        let reason = if (300..400).contains(&resp.status) {
            "unexpected redirect (redirects are not followed so the API key never leaves the configured host)".to_owned()
        } else {
            body_snippet(&resp.body, scrubber)
        };
        let unreadable = kind == ErrorKind::InvalidResponse;
        let mut err = base(kind).with_message(reason);
        if unreadable {
            err = err.unreadable_answer();
        }
        return Err(named.on(err));
    };
    let own = envelope.is_the_vendors(d);
    let named = Named::of(&ids_in_data(provider, envelope.data()));
    let data = envelope.data.flatten();
    let message = envelope
        .message
        .flatten()
        .or(envelope.msg.flatten())
        .unwrap_or_default();
    if code == d.success_code {
        // The body says "done" but the status does not: a write may have created a task.
        // Marked so that no write is ever resent or reported as plainly failed on it.
        // An unusable id's text too (review 35 pass 2b #3): the body says the task was made,
        // and for JimmyAI, which lists no tasks, that text is the only handle to it.
        let (task, unusable) = match &named {
            Named::Task(id) => (Some(id.clone()), None),
            Named::Unusable(text) => (None, Some(text.clone())),
            Named::Nothing => (None, None),
        };
        let claimed = |e: Error| {
            let e = e.with_vendor_code(code).claiming_success(task.clone());
            match unusable.clone() {
                Some(text) => e.with_unusable_task_id(text),
                None => e,
            }
        };
        if let Some(kind) = ErrorKind::from_http_status(resp.status) {
            return Err(claimed(base(kind)).with_message(message));
        }
        if (300..400).contains(&resp.status) {
            return Err(
                claimed(base(ErrorKind::InvalidResponse)).with_message("unexpected redirect")
            );
        }
        return Ok(data);
    }
    let err = error_in_envelope(d, resp.status, resp.retry_after, code, &message, own);
    // A failure that still names a task (VMEG's 502 "poll tasks/detail with the taskId",
    // api-facts A3): kept, so that an unknown outcome carries it and the job is not lost.
    Err(named.on(err))
}

/// The error the vendor's own envelope with a failure `code` stands for, whatever its HTTP
/// status.
pub(crate) fn error_for_code(
    d: &Dialect,
    status: u16,
    retry_after: Option<Duration>,
    code: i64,
    message: &str,
) -> Error {
    error_in_envelope(d, status, retry_after, code, message, true)
}

/// [`error_for_code`] for a body with a failure `code` that is the vendor's own envelope
/// (`own`) or only looks like one (see [`Dialect::is_own_envelope`]): then its HTTP 503 says
/// no more than a 500 does (a relay's, whose upstream may have made the task before it died).
fn error_in_envelope(
    d: &Dialect,
    status: u16,
    retry_after: Option<Duration>,
    code: i64,
    message: &str,
    own: bool,
) -> Error {
    // HTTP 429 wins over the body's code: the rate limiter answered before the API did (it
    // often fills in a catch-all code such as JimmyAI's -1), so the call is repeated. Unless
    // the answer to a create names a task in `data` (kept by `decode_envelope`): then it may
    // have been processed, and the retry driver never resends it (`retry::run`).
    let provider = d.provider;
    // A code that mirrors an HTTP status (VMEG) but is not in the vendor's table (a CDN's 524
    // inside a 200) is read as that status, so that it is retried and classified like one.
    // VMEG: "success or failure is decided by code", so it comes before the HTTP status (an
    // HTTP 400 whose code says 524 is a server fault that may have landed, not a refusal).
    let code_as_status = u16::try_from(code)
        .ok()
        .filter(|c| d.codes_are_http_statuses && (400..=599).contains(c));
    let from_table = (status != 429).then(|| (d.kind_for_code)(code)).flatten();
    let from_code = from_table
        .clone()
        .or_else(|| code_as_status.and_then(ErrorKind::from_http_status));
    // A refusal code behind a status that does not say nothing was done (see below).
    let mut refusal_unbacked = false;
    let kind = if status == 429 {
        ErrorKind::RateLimited
    } else if let Some(kind) = from_code {
        // A write counts as not done only when both statuses say so: a refusal code (400,
        // 402, ...) behind an HTTP 500, 502 or 504 may answer a fault that came after the
        // task was made, so it is that server fault (retried under its key, never a refusal
        // to resubmit), not the refusal. Behind the vendor's own 503 both say nothing was
        // done; behind a relay's (no envelope of the vendor's) the 503 does not.
        if d.codes_are_http_statuses
            && kind != ErrorKind::Server
            && (crate::retry::server_status_may_have_landed(status) || (status == 503 && !own))
        {
            ErrorKind::Server
        } else if d.codes_are_http_statuses
            && kind != ErrorKind::Server
            && !(200..300).contains(&status)
            && crate::retry::unread_answer_may_have_landed(status)
        {
            // Nor behind a status that does not say nothing was done (a 303 answers a POST it
            // carried out; 301, 302 and 600-999 say nothing): no refusal, as an unknown code
            // there is not. A 2xx leaves it to the code, a 307 or 308 says not acted on.
            refusal_unbacked = true;
            ErrorKind::Vendor
        } else {
            kind
        }
    } else {
        match ErrorKind::from_http_status(status) {
            // An HTTP refusal does not make a code VMEG does not document one: its code
            // decides (api-facts A3), and an unknown one does not say nothing was made.
            Some(_) if d.codes_are_http_statuses && refusal_status(status) => ErrorKind::Vendor,
            Some(kind) => kind,
            None => ErrorKind::Vendor,
        }
    };
    let mut err = Error::new(kind)
        .with_provider(provider)
        .with_http_status(status)
        .with_retry_after(retry_after)
        .with_phase(Phase::Answered)
        .with_vendor_code(code)
        .with_message(message);
    if status == 503 && !own {
        err = err.with_note(format!(
            "the answer has a `code` but lacks the keys of {}'s envelope, so its HTTP 503 may be a relay's and does not say that the request was not carried out",
            d.provider
        ));
    }
    if let Some(as_status) = code_as_status {
        err = err.with_code_status(as_status);
    }
    if from_table.is_some() && !d.codes_confirmed {
        err = err.with_unconfirmed_code();
    }
    if refusal_unbacked {
        err = err.with_note(format!(
            "code {code} refuses the request, but HTTP {status} does not say that it was not \
             carried out, so it is not taken as a refusal"
        ));
    }
    err
}

/// An HTTP 4xx that refuses the request (not 408, the server giving up waiting, nor 429).
pub(super) fn refusal_status(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 408 | 429)
}

/// Decodes `data` (as sent: numbers keep their text) into a wire struct; unknown fields are
/// ignored by every wire struct. When it does not fit, the error still names the task the
/// answer mentions, if any.
pub(crate) fn decode_data<T: DeserializeOwned>(
    provider: Provider,
    status: u16,
    data: Option<&RawValue>,
) -> Result<T, Error> {
    let text = data.map_or("null", RawValue::get);
    // Read as bytes, as the generated clients read their answers: the same reader for the
    // same types, so their decoding is compiled once, not once per reader.
    serde_json::from_slice(text.as_bytes())
        .map_err(|e| data_shape_error(provider, status, data, &e))
}

/// [`decode_data`]'s error, kept out of its copies (one per wire type). A `data` that is not
/// an object (`[]`, PHP's empty object; `""`; a number) holds no task, as `null` does: a
/// status read's wait polls past it a few times (review 30-d #1). A create's answer stays an
/// unread 200, `OutcomeUnknown` (the retry table), naming no task because none is named.
#[cold]
#[inline(never)]
fn data_shape_error(
    provider: Provider,
    status: u16,
    data: Option<&RawValue>,
    e: &serde_json::Error,
) -> Error {
    let mut err = Error::new(ErrorKind::InvalidResponse)
        .with_provider(provider)
        .with_http_status(status)
        .with_message(crate::scrub::server_string(format!(
            "unexpected `data` shape: {e}"
        )));
    if let Some(id) = named_task_id(provider, data) {
        err = err.with_task_id(id);
    }
    let object = data.is_some_and(|d| d.get().trim_start().starts_with('{'));
    if !object {
        err = err.answer_without_task();
    }
    err
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn resp(status: u16, body: &str) -> RawResponse {
        RawResponse::new(status, None, bytes::Bytes::from(body.to_owned()))
    }

    fn decode_envelope(provider: Provider, r: &RawResponse) -> Result<serde_json::Value, Error> {
        let s = std::sync::Arc::new(Scrubber::new("sk-test-key-0123456789"));
        let f = crate::scrub::text_filter(&s);
        crate::scrub::decoding_with(&f, || {
            super::decode_envelope(&crate::provider::facts(provider).dialect, r, &s)
        })
        .map(|d| {
            d.and_then(|d| serde_json::from_str(d.get()).ok())
                .unwrap_or(serde_json::Value::Null)
        })
    }

    #[test]
    fn vmeg_envelope() {
        let ok = decode_envelope(
            Provider::Vmeg,
            &resp(
                200,
                r#"{"code":200,"message":"","data":{"taskId":"t"},"extra":1}"#,
            ),
        )
        .unwrap();
        assert_eq!(ok["taskId"], "t");
        let e = decode_envelope(
            Provider::Vmeg,
            &resp(200, r#"{"code":402,"message":"no credits","data":null}"#),
        )
        .unwrap_err();
        assert_eq!(
            (e.kind(), e.http_status(), e.vendor_code(), e.message()),
            (
                &ErrorKind::PaymentRequired,
                Some(200),
                Some(402),
                Some("no credits")
            )
        );
        let r = RawResponse::new(
            409,
            Some("2"),
            bytes::Bytes::from_static(
                br#"{"code":409,"message":"Idempotency key already used","data":null}"#,
            ),
        );
        let e = decode_envelope(Provider::Vmeg, &r).unwrap_err();
        assert_eq!(
            (e.kind(), e.retry_after()),
            (&ErrorKind::Conflict, Some(Duration::from_secs(2)))
        );
        let e = decode_envelope(
            Provider::Vmeg,
            &resp(503, "<html>Service Unavailable</html>"),
        )
        .unwrap_err();
        assert_eq!((e.kind(), e.vendor_code()), (&ErrorKind::Server, None));
        let e = decode_envelope(Provider::Vmeg, &resp(200, "not json")).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidResponse);
        let e = decode_envelope(
            Provider::Vmeg,
            &resp(200, r#"{"code":7777,"message":"new thing"}"#),
        )
        .unwrap_err();
        assert_eq!(
            (e.kind(), e.vendor_code()),
            (&ErrorKind::Vendor, Some(7777))
        );
        let e = decode_envelope(
            Provider::Vmeg,
            &resp(418, r#"{"code":7777,"message":"new thing"}"#),
        )
        .unwrap_err();
        assert_eq!(
            (e.kind(), e.vendor_code()),
            (&ErrorKind::Vendor, Some(7777))
        );
        let e = decode_envelope(Provider::Vmeg, &resp(302, "")).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidResponse);
    }

    /// What the crate docs' "Error codes" paragraph says of codes no table holds: a VMEG
    /// code in 400..=599 is read as that status even inside an HTTP 200 (or 400); any other
    /// takes the HTTP status's kind, `Vendor` in a 200; an HTTP 429 wins over any code.
    #[test]
    fn unknown_codes_are_read_as_the_crate_docs_say() {
        let kind = |provider: Provider, status: u16, code: &str| {
            let body = match provider {
                Provider::Vmeg => format!(r#"{{"code":{code},"message":"m","data":null}}"#),
                _ => format!(r#"{{"code":{code},"msg":"m","data":null}}"#),
            };
            decode_envelope(provider, &resp(status, &body))
                .unwrap_err()
                .kind()
                .clone()
        };
        assert_eq!(kind(Provider::Vmeg, 200, "524"), ErrorKind::Server);
        assert_eq!(kind(Provider::Vmeg, 400, "524"), ErrorKind::Server);
        assert_eq!(kind(Provider::Vmeg, 200, "418"), ErrorKind::InvalidRequest);
        assert_eq!(kind(Provider::Vmeg, 200, "7777"), ErrorKind::Vendor);
        assert_eq!(kind(Provider::Vmeg, 503, "7777"), ErrorKind::Server);
        // Behind an HTTP 4xx refusal, an undocumented code still says nothing of what was
        // done: `Vendor` (VMEG: "decided by code").
        assert_eq!(kind(Provider::Vmeg, 400, "4711"), ErrorKind::Vendor);
        assert_eq!(kind(Provider::Vmeg, 404, "4711"), ErrorKind::Vendor);
        // A refusal code behind a 5xx that may have landed is that server fault; behind one
        // that says nothing was done (503), the refusal stands.
        assert_eq!(kind(Provider::Vmeg, 500, "400"), ErrorKind::Server);
        assert_eq!(kind(Provider::Vmeg, 502, "402"), ErrorKind::Server);
        assert_eq!(kind(Provider::Vmeg, 503, "400"), ErrorKind::InvalidRequest);
        assert_eq!(kind(Provider::Vmeg, 400, "502"), ErrorKind::Server);
        assert_eq!(kind(Provider::Vmeg, 429, "524"), ErrorKind::RateLimited);
        // A refusal code behind a status that does not say the request was not carried out
        // (a 303 answers a POST it carried out, 301 and 302 say nothing, 600-999 no class
        // covers) is no refusal: `Vendor`, as an unknown code there. Behind a 307 or 308
        // ("send it there instead") the refusal stands, as inside a 2xx.
        for status in [301, 302, 303, 600, 999] {
            for code in ["400", "401", "402", "404", "413", "422", "429"] {
                assert_eq!(
                    kind(Provider::Vmeg, status, code),
                    ErrorKind::Vendor,
                    "{status} {code}"
                );
            }
            assert_eq!(kind(Provider::Vmeg, status, "502"), ErrorKind::Server);
        }
        assert_eq!(kind(Provider::Vmeg, 307, "402"), ErrorKind::PaymentRequired);
        assert_eq!(kind(Provider::Vmeg, 308, "400"), ErrorKind::InvalidRequest);
        assert_eq!(kind(Provider::Vmeg, 201, "402"), ErrorKind::PaymentRequired);
        // JimmyAI's codes are not HTTP statuses: an unknown 524 in a 200 is `Vendor`.
        assert_eq!(kind(Provider::JimmyAi, 200, "524"), ErrorKind::Vendor);
    }

    /// Review 32 pass 2-a #1: an HTTP 503 says nothing was done only in the vendor's own
    /// envelope (VMEG's `message` and `data`, `data` null included; JimmyAI's `msg` and
    /// `data` with a code of its own), not in any JSON with a numeric `code` (a relay's
    /// `{"code":503,"message":...}`); a refusal code in a relay's 503 is no refusal either.
    #[test]
    fn only_a_refusal_code_in_the_vendors_own_503_says_nothing_was_done() {
        // (the kind, and whether a write without a key answered so may have landed)
        let landed = |provider: Provider, body: &str| {
            let e = decode_envelope(provider, &resp(503, body)).unwrap_err();
            let write = crate::retry::decide(crate::retry::OperationKind::UnsafeWrite, &e);
            (e.kind().clone(), write != crate::retry::Decision::Fail)
        };
        let v = Provider::Vmeg;
        let j = Provider::JimmyAi;
        for (provider, body, kind, may_have_landed) in [
            // The vendor's own "busy" envelope is no proof either (review 34-d #2).
            (
                v,
                r#"{"code":503,"message":"busy","data":null}"#,
                ErrorKind::Server,
                true,
            ),
            (
                v,
                r#"{"data":{},"message":null,"code":"503"}"#,
                ErrorKind::Server,
                true,
            ),
            (
                v,
                r#"{"code":400,"message":"bad","data":null}"#,
                ErrorKind::InvalidRequest,
                false,
            ),
            (
                v,
                r#"{"code":503,"message":"Service Unavailable"}"#,
                ErrorKind::Server,
                true,
            ),
            (v, r#"{"code":503,"data":null}"#, ErrorKind::Server, true),
            (
                v,
                r#"{"code":503,"msg":"busy","data":null}"#,
                ErrorKind::Server,
                true,
            ),
            (
                v,
                r#"{"code":400,"message":"Bad Request"}"#,
                ErrorKind::Server,
                true,
            ),
            (
                v,
                r#"{"code":404,"message":"Not Found"}"#,
                ErrorKind::Server,
                true,
            ),
            (
                j,
                r#"{"code":-1,"msg":"busy","data":null}"#,
                ErrorKind::Server,
                true,
            ),
            // Review 32 pass 3 #2: JimmyAI's envelope has `data` in every answer and its
            // own codes; a gateway's `{code, msg, data}` with code 503 is a relay's. Before:
            // `msg` alone made it the vendor's, and a create was a transient `Server`.
            (j, r#"{"code":503,"msg":"busy"}"#, ErrorKind::Server, true),
            (
                j,
                r#"{"code":503,"msg":"Service Unavailable","data":null}"#,
                ErrorKind::Server,
                true,
            ),
            (j, r#"{"code":-1,"msg":"busy"}"#, ErrorKind::Server, true),
            (
                j,
                r#"{"code":503,"message":"Service Unavailable"}"#,
                ErrorKind::Server,
                true,
            ),
            (
                j,
                r#"{"code":-1,"message":"busy","data":null}"#,
                ErrorKind::Server,
                true,
            ),
        ] {
            assert_eq!(
                landed(provider, body),
                (kind, may_have_landed),
                "{provider} {body}"
            );
        }
        // Review 32 pass 3 #3: a code 503 behind an HTTP 200 (a gateway's "200 always,
        // status in `code`") is no "nothing was done", even in VMEG's shape. Before: a
        // synchronous create was resent under its key.
        let e = decode_envelope(v, &resp(200, r#"{"code":503,"message":"x","data":null}"#))
            .unwrap_err();
        assert!(crate::retry::server_error_may_have_landed(&e), "{e:?}");
        // Not a 503: a relay's page with a code keeps what its status says.
        let e = decode_envelope(v, &resp(500, r#"{"code":503,"message":"x"}"#)).unwrap_err();
        assert!(crate::retry::server_error_may_have_landed(&e));
    }

    /// A body whose envelope does not parse still names the task in `data`: read lossily,
    /// a repeated key read each time; ids that disagree (or one unusable beside another)
    /// name nothing; each vendor's own field only.
    #[test]
    fn the_task_an_unparsable_envelope_names_is_read_tolerantly() {
        let named = |provider: Provider, body: &[u8]| {
            decode_envelope(
                provider,
                &RawResponse::new(200, None, bytes::Bytes::from(body.to_vec())),
            )
            .unwrap_err()
            .named_task_id()
            .map(str::to_owned)
        };
        let j = Provider::JimmyAi;
        assert_eq!(
            named(j, br#"{"code":1,"data":{"id":"a"},"code":1}"#).as_deref(),
            Some("a")
        );
        assert_eq!(
            named(j, b"{\"msg\":\"\xff\",\"data\":{\"id\":7}}").as_deref(),
            Some("7")
        );
        assert_eq!(
            named(
                j,
                br#"{"data":{"id":"a"},"data":{"id":"a","id":"a"},"data":null}"#
            )
            .as_deref(),
            Some("a")
        );
        for none in [
            &br#"{"data":{"id":"a"},"data":{"id":"b"}}"#[..],
            br#"{"data":{"id":"a","id":""},"msg":1,"msg":2}"#,
            br#"{"data":{"taskId":"a"},"data":[1]}"#,
            br#"{"data":{"id":"a"},"data":{"id":"a"}"#,
            b"<html>\xff</html>",
        ] {
            assert_eq!(named(j, none), None, "{}", String::from_utf8_lossy(none));
        }
        let v = Provider::Vmeg;
        assert_eq!(
            named(
                v,
                br#"{"message":"","data":{"id":"voice","taskId":"t"},"message":""}"#
            )
            .as_deref(),
            Some("t")
        );
    }

    /// The first bytes of a body that broke off name a task only by an id that arrived whole
    /// in a top-level `data` object, in the vendor's own field; ids that disagree (or one
    /// unusable beside another) name nothing, as in a whole body.
    #[test]
    fn the_task_a_cut_body_named_before_the_cut_is_read() {
        let j = Provider::JimmyAi;
        let v = Provider::Vmeg;
        let named = |provider: Provider, prefix: &[u8]| {
            let s = std::sync::Arc::new(Scrubber::new("sk-test-key-0123456789"));
            let f = crate::scrub::text_filter(&s);
            match crate::scrub::decoding_with(&f, || task_id_in_prefix(provider, prefix)) {
                Named::Task(id) => Some(id),
                Named::Unusable(_) | Named::Nothing => None,
            }
        };
        for (provider, prefix, id) in [
            (
                j,
                &br#"{"code":20000,"msg":"ok","data":{"id":"audio_7","#[..],
                "audio_7",
            ),
            (j, br#"{"code":20000,"data":{"id":"audio_7""#, "audio_7"),
            (
                j,
                br#"{"data":{"status":"q","id":"audio_7","x":{"id":"b"#,
                "audio_7",
            ),
            (j, br#"{"data":{"id":12,"status":"#, "12"),
            (j, br#"{"data":{"id":12}"#, "12"),
            (
                j,
                br#"{"data":null,"data":{"id":"a"},"data":{"id":"a","#,
                "a",
            ),
            (
                j,
                b"{\"msg\":\"\xff\",\"data\":{\"id\":\"a\",\"x\":\"\xe4",
                "a",
            ),
            (
                v,
                br#"{"code":200,"data":{"id":"voice","taskId":"t-1","#,
                "t-1",
            ),
            (v, br#"{"code":502,"data":{"taskId":"t-1""#, "t-1"),
        ] {
            assert_eq!(
                named(provider, prefix).as_deref(),
                Some(id),
                "{}",
                String::from_utf8_lossy(prefix)
            );
        }
        for (provider, prefix) in [
            (j, &br#"{"code":20000,"msg":"ok","data":{"id":"audio_7"#[..]),
            (j, br#"{"data":{"id":12"#),
            (j, br#"{"data":{"id":12,"#),
            (j, br#"{"data":{"id":1.5e"#),
            (j, br#"{"id":"a","data":{"#),
            (j, br#"{"data":{"x":{"id":"a"},"#),
            (j, br#"{"data":{"taskId":"a","#),
            (j, br#"{"data":{"id":"a","id":"b","#),
            (j, br#"{"data":{"id":"a"},"data":{"id":"b""#),
            (j, br#"{"data":{"id":"","id":"a","#),
            (j, br#"{"data":{"id":"sk-test-key-0123456789","#),
            (j, br#"<html><body>{"data":{"id":"a","#),
            (j, br#"[{"data":{"id":"a"}}"#),
            (j, b""),
            (v, br#"{"data":{"id":"voice","taskId":"t-"#),
        ] {
            assert_eq!(
                named(provider, prefix),
                None,
                "{}",
                String::from_utf8_lossy(prefix)
            );
        }
        // An unusable id that arrived whole names a task that cannot be looked up, its text
        // kept (review 35 pass 2b #3); one cut off before its end still names nothing.
        let s = std::sync::Arc::new(Scrubber::new("sk-test-key-0123456789"));
        let f = crate::scrub::text_filter(&s);
        let prefix = |p: &[u8]| crate::scrub::decoding_with(&f, || task_id_in_prefix(j, p));
        assert_eq!(
            prefix(br#"{"code":20000,"data":{"id":"audio/1","#),
            Named::Unusable("audio/1".to_owned())
        );
        assert_eq!(
            prefix(br#"{"code":20000,"data":{"id":"audio/1"#),
            Named::Nothing
        );
    }

    #[test]
    fn jimmyai_envelope_accepts_string_codes() {
        let ok = decode_envelope(
            Provider::JimmyAi,
            &resp(200, r#"{"code":"20000","msg":"ok","data":{"id":"a"}}"#),
        )
        .unwrap();
        assert_eq!(ok["id"], "a");
        let e = decode_envelope(
            Provider::JimmyAi,
            &resp(200, r#"{"code":20001,"msg":"bad key"}"#),
        )
        .unwrap_err();
        assert_eq!(
            (e.kind(), e.message()),
            (&ErrorKind::Unauthorized, Some("bad key"))
        );
        let e = decode_envelope(Provider::JimmyAi, &resp(500, r#"{"code":-1,"msg":"busy"}"#))
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Server);
        let e = decode_envelope(
            Provider::JimmyAi,
            &resp(429, r#"{"code":42900,"msg":"slow down"}"#),
        )
        .unwrap_err();
        assert_eq!(
            (e.kind(), e.vendor_code()),
            (&ErrorKind::RateLimited, Some(42900))
        );
        let e = decode_envelope(
            Provider::JimmyAi,
            &resp(200, r#"{"code":200,"msg":"vmeg style"}"#),
        )
        .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Vendor);
    }
}
