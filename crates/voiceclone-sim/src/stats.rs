//! Counters: [`Stats`] snapshots and the internal recorder behind them.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// A create's `extraData` as the simulator keeps it: its compact JSON text (as `serde_json`
/// writes it), shared with the task, so a [`Stats`] snapshot copies a handle, not the text.
/// [`ExtraData::value`] parses it on demand; a parsed `serde_json::Value` costs up to 32
/// times the text (a 1 MiB array of small numbers: ~32 MiB).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtraData(Arc<str>);

impl ExtraData {
    /// The compact JSON text, e.g. `{"orderId":7}`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text parsed (a JSON object; `None` only if it were not JSON, which the
    /// simulator never keeps).
    pub fn value(&self) -> Option<Value> {
        serde_json::from_str(&self.0).ok()
    }

    /// voiceclone's `extraData.voiceclone.idempotencyKey`, when a string. Read without
    /// building a `Value` of the rest (up to 32 times the text).
    fn voiceclone_idempotency_key(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Outer {
            voiceclone: Option<Inner>,
        }
        #[derive(serde::Deserialize)]
        struct Inner {
            #[serde(rename = "idempotencyKey")]
            idempotency_key: Option<String>,
        }
        serde_json::from_str::<Outer>(&self.0)
            .ok()?
            .voiceclone?
            .idempotency_key
    }
}

impl fmt::Display for ExtraData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One accepted, billable create, with what identifies the logical call.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRecord {
    /// Operation name, e.g. `vmeg.cloneVoiceCreateAsync`, `jimmyai.createClone`.
    pub operation: String,
    /// Task id the create produced.
    pub task_id: String,
    /// VMEG `X-Idempotency-Key` of the request.
    pub idempotency_key: Option<String>,
    /// VMEG request body `extraData` (also recorded for sync creates), as compact JSON
    /// text: [`ExtraData::value`] parses it.
    pub extra_data: Option<ExtraData>,
    /// JimmyAI `contentText`.
    pub content_text: Option<String>,
    /// JimmyAI `fileUrl`.
    pub file_url: Option<String>,
    /// JimmyAI `modelId` (production audio).
    pub model_id: Option<String>,
    /// VMEG: hex SHA-256 of the request's canonical body (a clone's `refAudio`,
    /// `voiceName`, `provider`, sample language and text; a TTS request's lines
    /// with their voices, and `outputFormat`), whatever its key and
    /// `extraData`: see [`Stats::duplicate_logical_calls`].
    pub body_digest: Option<String>,
}

impl CreateRecord {
    /// A key naming the logical call: the operation plus voiceclone's
    /// `extraData.voiceclone.idempotencyKey` when present (the same on every
    /// resend of one call), else JimmyAI `fileUrl`/`modelId` + `contentText`,
    /// else the idempotency key. Any other `extraData` names no call: a client
    /// may send the same one with every create (`{}`, a tenant), so it is not
    /// read. Two records with the same key are (likely) one logical call
    /// billed twice.
    pub fn logical_key(&self) -> String {
        let op = self.operation.trim_end_matches("Async");
        if let Some(k) = self
            .extra_data
            .as_ref()
            .and_then(ExtraData::voiceclone_idempotency_key)
        {
            return format!("{op}|extra.voiceclone.idempotencyKey={k}");
        }
        if self.content_text.is_some() || self.file_url.is_some() || self.model_id.is_some() {
            return format!(
                "{op}|file={}|model={}|text={}",
                self.file_url.as_deref().unwrap_or(""),
                self.model_id.as_deref().unwrap_or(""),
                self.content_text.as_deref().unwrap_or("")
            );
        }
        format!(
            "{op}|key={}",
            self.idempotency_key.as_deref().unwrap_or(&self.task_id)
        )
    }
}

/// A snapshot of the simulator's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// TCP connections accepted.
    pub connections_accepted: u64,
    /// Idle connections closed to make room under
    /// [`crate::SimConfig::max_connections`].
    pub connections_evicted: u64,
    /// New connections closed at once because every connection was busy.
    pub connections_refused: u64,
    /// Requests seen (including ones answered by injected faults or dropped).
    pub requests_total: u64,
    /// Requests per operation name (`vmeg.*`, `jimmyai.*`, `unknown`).
    pub requests_by_operation: BTreeMap<String, u64>,
    /// Responses per HTTP status (dropped connections are not counted here).
    pub responses_by_status: BTreeMap<u16, u64>,
    /// Faults injected per kind name (see [`crate::FaultKind::name`]).
    pub faults_by_kind: BTreeMap<String, u64>,
    /// Billable creates per operation: every create the simulator accepted, that
    /// is, that made a task (answered with its id, or with its answer lost to a
    /// fault injected after processing: `drop-after`, `500:after`), counted once
    /// when accepted. A task that later fails, or is deleted or evicted, still
    /// counts: the count is what was charged at submission, not the net cost
    /// (JimmyAI refunds failed tasks, api-facts B4; no refund is subtracted here).
    /// A create refused before a task existed is not counted: a validation error,
    /// a fault injected before processing, a VMEG 409 for a key already used, a
    /// 503 for a full task table. So a "paid once" assertion is
    /// `billable(op) == 1` for one logical call, whatever became of its task;
    /// [`Stats::duplicate_logical_calls`] finds calls counted more than once.
    pub billable_by_operation: BTreeMap<String, u64>,
    /// The accepted billable creates, in order: the latest
    /// [`crate::SimConfig::max_records`], holding at most
    /// [`crate::SimConfig::max_task_bytes`] of request text (the counters above
    /// stay exact).
    pub creates: Vec<CreateRecord>,
    /// Webhook delivery attempts.
    pub webhook_attempts: u64,
    /// The `req_id` query parameter of VMEG requests that carried one, in order, as
    /// (operation, req_id): the latest [`crate::SimConfig::max_records`], each cut to its
    /// first 256 bytes (marked `…`) when longer. VMEG documents it
    /// as an optional id for support and log correlation, not echoed in the success body
    /// (api-facts A5), so the simulator only records it.
    pub request_ids: Vec<(String, String)>,
}

impl Stats {
    /// Billable creates in all (see [`Stats::billable_by_operation`] for what
    /// counts).
    pub fn billable_total(&self) -> u64 {
        self.billable_by_operation.values().sum()
    }

    /// Requests seen for one operation.
    pub fn requests(&self, operation: &str) -> u64 {
        self.requests_by_operation
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Billable creates of one operation: accepted creates, including those whose
    /// task later failed or was evicted (see [`Stats::billable_by_operation`]).
    pub fn billable(&self, operation: &str) -> u64 {
        self.billable_by_operation
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Creates grouped by [`CreateRecord::logical_key`].
    pub fn creates_by_logical_call(&self) -> BTreeMap<String, Vec<CreateRecord>> {
        let mut m: BTreeMap<String, Vec<CreateRecord>> = BTreeMap::new();
        for c in &self.creates {
            m.entry(c.logical_key()).or_default().push(c.clone());
        }
        m
    }

    /// Logical calls that created more than one billable task: creates sharing
    /// a [`CreateRecord::logical_key`], and VMEG creates of the same operation
    /// (sync or async alike) with the same canonical body
    /// ([`CreateRecord::body_digest`]) under different idempotency keys and
    /// `extraData` (the classic double bill: a retry with a new key), keyed
    /// `{operation}|body={digest}`. Different creates sharing an `extraData`
    /// without voiceclone's key in it are not one call. A group of the second kind already reported
    /// whole as one of the first is not reported again. Identical requests
    /// made on purpose count as duplicates too: "likely", not "surely", one
    /// call billed twice.
    pub fn duplicate_logical_calls(&self) -> Vec<(String, usize)> {
        let by_key = self.creates_by_logical_call();
        let mut out: Vec<(String, usize)> = Vec::new();
        // Task id -> its logical key, for the records of duplicate groups.
        let mut reported: BTreeMap<&str, &str> = BTreeMap::new();
        for (k, v) in &by_key {
            if v.len() > 1 {
                out.push((k.clone(), v.len()));
                for c in v {
                    reported.insert(c.task_id.as_str(), k.as_str());
                }
            }
        }
        let mut by_body: BTreeMap<String, Vec<&CreateRecord>> = BTreeMap::new();
        for c in &self.creates {
            if let Some(d) = &c.body_digest {
                let op = c.operation.trim_end_matches("Async");
                by_body.entry(format!("{op}|body={d}")).or_default().push(c);
            }
        }
        for (k, v) in by_body {
            if v.len() < 2 {
                continue;
            }
            let first = reported.get(v[0].task_id.as_str());
            let covered =
                first.is_some() && v.iter().all(|c| reported.get(c.task_id.as_str()) == first);
            if !covered {
                out.push((k, v.len()));
            }
        }
        out
    }
}

/// A create as the recorder keeps it: `extraData` as its compact JSON text, shared with
/// the task (one copy) and with every [`CreateRecord`] of a snapshot. Kept as a
/// `serde_json::Value` it cost some 16 to 32 times its size on the wire (a 1 MiB array of
/// small numbers: ~32 MiB, twice with the task's copy). The JimmyAI texts are shared too,
/// so a snapshot copies handles under the lock and the texts after it.
#[derive(Debug, Clone)]
pub(crate) struct Created {
    pub operation: String,
    pub task_id: String,
    pub idempotency_key: Option<String>,
    pub extra_data: Option<Arc<str>>,
    pub content_text: Option<Arc<str>>,
    pub file_url: Option<Arc<str>>,
    pub model_id: Option<String>,
    /// See [`CreateRecord::body_digest`].
    pub body_digest: Option<String>,
}

/// [`CreateRecord::body_digest`] of a canonical body (as `serde_json` writes it).
pub(crate) fn body_digest(canonical: &Value) -> Option<String> {
    use sha2::Digest;
    let text = serde_json::to_vec(canonical).ok()?;
    Some(hex::encode(sha2::Sha256::digest(&text)))
}

impl Created {
    /// Bytes of client-supplied text kept (counted against
    /// [`crate::SimConfig::max_task_bytes`]).
    fn payload_bytes(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let shared = |s: &Option<Arc<str>>| s.as_ref().map_or(0, |x| x.len());
        self.operation.len()
            + self.task_id.len()
            + opt(&self.idempotency_key)
            + shared(&self.extra_data)
            + shared(&self.content_text)
            + shared(&self.file_url)
            + opt(&self.model_id)
            + opt(&self.body_digest)
    }

    fn into_record(self) -> CreateRecord {
        CreateRecord {
            operation: self.operation,
            task_id: self.task_id,
            idempotency_key: self.idempotency_key,
            extra_data: self.extra_data.map(ExtraData),
            content_text: self.content_text.map(|t| t.to_string()),
            file_url: self.file_url.map(|t| t.to_string()),
            model_id: self.model_id,
            body_digest: self.body_digest,
        }
    }
}

/// The longest `req_id` kept whole in [`Stats::request_ids`] (bytes).
pub(crate) const MAX_REQ_ID_BYTES: usize = 256;

#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub connections: AtomicU64,
    pub connections_evicted: AtomicU64,
    pub connections_refused: AtomicU64,
    pub webhook_attempts: AtomicU64,
    /// Counters; `creates` stays empty here (see `creates` below).
    inner: Mutex<Stats>,
    /// The latest `max_records` creates.
    /// With their total [`Created::payload_bytes`].
    creates: Mutex<(VecDeque<Created>, usize)>,
    /// The latest `max_records` VMEG `req_id`s, with their operation.
    request_ids: Mutex<VecDeque<(String, String)>>,
    max_records: usize,
    max_bytes: usize,
}

impl Recorder {
    pub fn new(max_records: usize, max_bytes: usize) -> Self {
        Self {
            max_records: max_records.max(1),
            max_bytes,
            ..Self::default()
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Stats) -> R) -> R {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    pub fn request(&self, op: &str) {
        self.with(|s| {
            s.requests_total += 1;
            *s.requests_by_operation.entry(op.to_string()).or_default() += 1;
        });
    }

    /// A VMEG request's `req_id`, cut to [`MAX_REQ_ID_BYTES`] (at a character
    /// boundary, marked `…`): a request line may carry 64 KiB of it, and
    /// `max_records` of those would be gigabytes.
    pub fn request_id(&self, op: &str, mut req_id: String) {
        if req_id.len() > MAX_REQ_ID_BYTES {
            let mut end = MAX_REQ_ID_BYTES;
            while !req_id.is_char_boundary(end) {
                end -= 1;
            }
            req_id.truncate(end);
            req_id.push('…');
        }
        let mut ids = match self.request_ids.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        ids.push_back((op.to_string(), req_id));
        while ids.len() > self.max_records {
            ids.pop_front();
        }
    }

    pub fn status(&self, status: u16) {
        self.with(|s| *s.responses_by_status.entry(status).or_default() += 1);
    }

    pub fn fault(&self, kind: &str) {
        self.with(|s| *s.faults_by_kind.entry(kind.to_string()).or_default() += 1);
    }

    pub fn create(&self, rec: Created) {
        // Counted and kept under the creates' lock (taken before `inner`, as `snapshot`
        // does): under two locks in turn, a snapshot between them said N billable beside
        // N+1 records.
        let mut g = match self.creates.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        self.with(|s| {
            *s.billable_by_operation
                .entry(rec.operation.clone())
                .or_default() += 1;
        });
        let (creates, bytes) = &mut *g;
        *bytes = bytes.saturating_add(rec.payload_bytes());
        creates.push_back(rec);
        // By count, then by bytes; the latest is always kept.
        while creates.len() > self.max_records || (*bytes > self.max_bytes && creates.len() > 1) {
            match creates.pop_front() {
                Some(old) => *bytes = bytes.saturating_sub(old.payload_bytes()),
                None => break,
            }
        }
    }

    /// Billable creates of one operation, without copying the records.
    pub fn billable(&self, op: &str) -> u64 {
        self.with(|s| s.billable(op))
    }

    /// Total billable creates, without copying the records.
    pub fn billable_total(&self) -> u64 {
        self.with(|s| s.billable_total())
    }

    /// Requests seen for one operation, without copying the records.
    pub fn requests(&self, op: &str) -> u64 {
        self.with(|s| s.requests(op))
    }

    /// The counters and records. The creates' lock (which every create handler takes) is
    /// held only to copy the counters and the kept records, whose `extraData` and JimmyAI
    /// texts are shared handles (copied as `String`s after it is released); before, every record's `extraData` was parsed under it (up to
    /// `max_task_bytes` of JSON, some 32 times that as `serde_json::Value`s), holding
    /// every create meanwhile. Both under it, the billable counts and the records agree.
    pub fn snapshot(&self) -> Stats {
        let (mut s, kept) = {
            let g = match self.creates.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let s = self.with(|s| s.clone());
            let kept: Vec<Created> = g.0.iter().cloned().collect();
            (s, kept)
        };
        s.creates = kept.into_iter().map(Created::into_record).collect();
        s.request_ids = match self.request_ids.lock() {
            Ok(g) => g.iter().cloned().collect(),
            Err(p) => p.into_inner().iter().cloned().collect(),
        };
        s.connections_accepted = self.connections.load(Ordering::Relaxed);
        s.connections_evicted = self.connections_evicted.load(Ordering::Relaxed);
        s.connections_refused = self.connections_refused.load(Ordering::Relaxed);
        s.webhook_attempts = self.webhook_attempts.load(Ordering::Relaxed);
        s
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    /// `create` counted the create under one lock and kept its record under another, and
    /// `snapshot` copied them under each in turn: a snapshot taken during creates said N
    /// billable beside N+1 records (or the reverse). Now both are one view.
    #[test]
    fn a_snapshot_never_tears_the_billable_count_from_the_records() {
        const N: usize = 20_000;
        let r = std::sync::Arc::new(Recorder::new(N, usize::MAX));
        let r2 = r.clone();
        let creator = std::thread::spawn(move || {
            for i in 0..N {
                r2.create(Created {
                    operation: "vmeg.ttsCreate".into(),
                    task_id: format!("t{i}"),
                    idempotency_key: None,
                    extra_data: None,
                    content_text: None,
                    file_url: None,
                    model_id: None,
                    body_digest: None,
                });
            }
        });
        let mut torn = 0usize;
        loop {
            let s = r.snapshot();
            if s.billable_total() != s.creates.len() as u64 {
                torn += 1;
            }
            if s.creates.len() == N || creator.is_finished() {
                break;
            }
        }
        assert!(creator.join().is_ok());
        assert_eq!(torn, 0, "{torn} snapshots tore the count from the records");
    }

    #[test]
    fn records_keep_the_latest_and_counters_stay_exact() {
        let r = Recorder::new(2, usize::MAX);
        for i in 0..5 {
            r.create(Created {
                operation: "vmeg.ttsCreate".into(),
                task_id: format!("t{i}"),
                idempotency_key: None,
                extra_data: None,
                content_text: None,
                file_url: None,
                model_id: None,
                body_digest: None,
            });
        }
        let s = r.snapshot();
        assert_eq!(s.billable("vmeg.ttsCreate"), 5);
        let ids: Vec<&str> = s.creates.iter().map(|c| c.task_id.as_str()).collect();
        assert_eq!(ids, ["t3", "t4"]);
    }

    /// Only voiceclone's key names a call through `extraData`: any other `extraData`
    /// (constant, a `voiceclone` that is no object, a key that is no string, not JSON
    /// the simulator would keep) leaves the record to its idempotency key.
    #[test]
    fn only_voiceclones_key_in_extra_data_names_a_call() {
        let rec = |xd: &str| CreateRecord {
            operation: "vmeg.ttsCreateAsync".into(),
            task_id: "t0".into(),
            idempotency_key: Some("hk".into()),
            extra_data: Some(ExtraData(Arc::from(xd))),
            content_text: None,
            file_url: None,
            model_id: None,
            body_digest: None,
        };
        for other in [
            "{}",
            r#"{"tenant":"acme"}"#,
            r#"{"voiceclone":"k"}"#,
            r#"{"voiceclone":{"idempotencyKey":7}}"#,
            r#"{"voiceclone":{}}"#,
            "not json",
        ] {
            assert_eq!(rec(other).logical_key(), "vmeg.ttsCreate|key=hk", "{other}");
        }
        assert_eq!(
            rec(r#"{"x":[{"y":1}],"voiceclone":{"idempotencyKey":"vk","more":true}}"#)
                .logical_key(),
            "vmeg.ttsCreate|extra.voiceclone.idempotencyKey=vk"
        );
    }

    #[test]
    fn snapshots_share_the_kept_extra_data_text() {
        let r = Recorder::new(4, usize::MAX);
        let text: Arc<str> = Arc::from(r#"{"a":[1,2],"voiceclone":{"idempotencyKey":"k1"}}"#);
        r.create(Created {
            operation: "vmeg.ttsCreateAsync".into(),
            task_id: "t0".into(),
            idempotency_key: Some("k".into()),
            extra_data: Some(text.clone()),
            content_text: None,
            file_url: None,
            model_id: None,
            body_digest: None,
        });
        let s = r.snapshot();
        let Some(xd) = s.creates.first().and_then(|c| c.extra_data.as_ref()) else {
            panic!("no extraData recorded");
        };
        assert!(Arc::ptr_eq(&xd.0, &text), "the snapshot copied the text");
        assert_eq!(
            xd.as_str(),
            r#"{"a":[1,2],"voiceclone":{"idempotencyKey":"k1"}}"#
        );
        assert_eq!(
            xd.value(),
            Some(serde_json::json!({"a": [1, 2], "voiceclone": {"idempotencyKey": "k1"}}))
        );
        assert_eq!(
            s.creates[0].logical_key(),
            "vmeg.ttsCreate|extra.voiceclone.idempotencyKey=k1"
        );
        assert_eq!(r.billable("vmeg.ttsCreateAsync"), 1);
        assert_eq!(r.billable_total(), 1);
    }
}
