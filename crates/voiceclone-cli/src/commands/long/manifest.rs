//! The manifest of `speak --text-file F --out DIR`: `DIR/voiceclone-manifest.json`, what
//! each part of the text is and how far it got. It is written (to a temporary file, then
//! renamed over the old one, so a crash leaves the old or the new manifest, never half of
//! one) before each submit and after each step, so a rerun knows which parts were paid for.
//! On Unix the directory is synced after the rename too: the rename lives in the directory,
//! and until that is on disk a power loss can bring the old manifest back.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use voiceclone::long_text::LongSpeechPlan;
use voiceclone::{JobId, JobKind};

use crate::exit::Exit;
use crate::output::Failure;

/// The manifest's file name in the output directory.
pub const FILE_NAME: &str = "voiceclone-manifest.json";
/// The format this tool writes. 2 added `key_salt`, each part's `key_scope` and
/// `past_submits`; 3 added each part's `resent_at_ms` and `resends_recorded`; 4 each part's
/// `error_kind`. An older manifest is still read, and written back as 4, so that an older
/// tool, which would drop those fields (and resend a key under another API key, resend
/// unrecorded, or take an error it dropped the kind of for one of any kind), refuses it.
const VERSION: u32 = 4;
/// The last format whose notes may lack their kind: up to it, a part's error noted without
/// an `error_kind` may be a report (see [`Manifest::notes_have_kinds`]).
const LAST_VERSION_WITHOUT_KINDS: u32 = 3;
/// The most resends of one key a part records. A key once used is never used again, so the
/// attempt that made a task is among the first ones; past this many, the part's resends are
/// no longer all recorded (see [`PartRecord::resends_recorded`]).
pub const MAX_RESENDS_RECORDED: usize = 64;
/// The oldest format this tool reads.
const OLDEST_VERSION: u32 = 1;
/// The most earlier tasks (`past_job_ids`), earlier submits (`past_submits`) and files a part
/// may list when the manifest is read: each earlier task or submit is a paid resubmit, and a
/// part has a file a line (at most 50), so no run writes that many; a manifest listing more
/// was edited by hand, and is refused before its lists are walked for every candidate of a
/// search or every write.
pub const MAX_PAST_RECORDED: usize = 1_000;

/// A manifest's format version alone, read before the rest (see [`Manifest::load`]).
#[derive(Deserialize)]
struct VersionOnly {
    version: u64,
}

/// Where a part got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartState {
    /// Nothing sent for it (or the vendor refused it: nothing was created).
    Planned,
    /// Its submit was being sent: it may or may not have created a task.
    Submitting,
    /// The vendor accepted it: `job_id` is its task.
    Submitted,
    /// Its audio is in the directory (`files`).
    Done,
    /// Its task failed (the vendor said so); a rerun submits it again.
    Failed,
}

/// What a run reported of a part when it noted its [`PartRecord::error`]: the failure that
/// `--resubmit-unknown` may act on, on a later run whose failure is of the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportedKind {
    /// Its finished task had lines the client could not read, none failed by the vendor.
    AnswerUnreadable,
    /// Its audio was downloaded before (its file gone since), or its task was read finished
    /// with its audio (see [`PartRecord::finished_seen_at_ms`]), and its task now reads
    /// failed.
    DownloadedBeforeFailed,
    /// Its task is not found under the API key and base URL it was sent with.
    TaskNotFound,
    /// A kind a newer version of this tool wrote: no failure of this version matches it,
    /// and the manifest stays readable (written back as `unknown`).
    #[serde(other)]
    Unknown,
}

/// One downloaded file of a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// The file name, in the output directory.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// SHA-256 of its content, lowercase hex.
    pub sha256: String,
}

/// One part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// From 0.
    pub index: usize,
    /// SHA-256 of the part's text.
    pub text_sha256: String,
    /// Its lines (one task each for JimmyAI; a VMEG batch).
    pub lines: usize,
    /// Its Unicode scalar values.
    pub chars: usize,
    /// Where it got to.
    pub state: PartState,
    /// VMEG: the `X-Idempotency-Key` of its latest submit (a resend reuses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// When its latest submit was sent, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at_ms: Option<u64>,
    /// Its task, stored form (`vmeg:speech:<id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Every task id this part ever had (a failed task, then its resubmission).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub past_job_ids: Vec<String>,
    /// Its audio, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRecord>,
    /// The last failure, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What kind of failure a run reported with `error`, set and cleared with it (see
    /// [`PartRecord::note`]). `None` with an error noted: a note that is no report (a
    /// refusal, a failed task), or, in a manifest of format 3 or older, a report a
    /// version that noted no kinds wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ReportedKind>,
    /// What its latest submit's idempotency key is scoped to (VMEG keeps a key per API key,
    /// api-facts A4): a key resent under another API key or host is new work. `None` in a
    /// manifest of version 1, which did not record it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_scope: Option<KeyScope>,
    /// Submits of it whose outcome was never known, displaced by a later submit
    /// (`--resubmit-unknown`): each may have made a paid task, found by its key and time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub past_submits: Vec<PastSubmit>,
    /// When each resend of its latest submit's key was sent (a rerun's, VMEG), Unix
    /// milliseconds, written before sending: a task made by a resend whose answer was lost is
    /// dated around one of these, not around the first submit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resent_at_ms: Vec<u64>,
    /// Whether every resend of its latest submit's key is in `resent_at_ms`: its key was made
    /// by a tool that records them (format 3), and no more than [`MAX_RESENDS_RECORDED`] were
    /// sent. Otherwise a task of it may be dated at any time since its first submit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resends_recorded: bool,
    /// When a read of its task (`job_id`) first answered it finished with its audio, Unix
    /// milliseconds, though the audio may not have been downloaded since (the download
    /// budget spent, a full disk, a cut connection, a signal): the task succeeded and was
    /// billed, so a later read of it failed is a contradiction, like a `done` part's, and no
    /// reason to pay for it again unasked. Cleared by a new submit. Optional: an older
    /// manifest loads without it, and a tool that drops it is no worse than before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_seen_at_ms: Option<u64>,
}

/// What an idempotency key is scoped to: the API key it was sent with, as a salted
/// fingerprint that is not the key and cannot be turned back into it, and the base URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyScope {
    /// [`api_key_fingerprint`] of the API key under the manifest's `key_salt`.
    pub api_key_fingerprint: String,
    /// The base URL, as it may be printed (no user name, password or query).
    pub base_url: String,
}

impl KeyScope {
    /// The scope of a submit sent with `api_key` to `base_url`, fingerprinted under `salt`.
    /// The base URL is kept as the requests use it ([`client_glue::request_base`]): two
    /// spellings of one endpoint (`.../v`, `.../v/`) are one scope.
    pub fn new(salt: &str, api_key: &str, base_url: &str) -> Self {
        let printable = client_glue::printable_url(base_url);
        let base_url = match url::Url::parse(&printable) {
            Ok(u) => client_glue::request_base(&u).to_owned(),
            Err(_) => printable,
        };
        Self {
            api_key_fingerprint: api_key_fingerprint(salt, api_key),
            base_url,
        }
    }

    /// Whether `self` and `other` were sent to one endpoint. A scope recorded before the
    /// request base was (the parsed URL's text, its trailing slash kept) is read by the same
    /// rule, so it is not taken for another host.
    pub fn same_base_url(&self, other: &KeyScope) -> bool {
        self.base_url.trim_end_matches('/') == other.base_url.trim_end_matches('/')
    }

    /// How `self` differs from `other`: (another API key, another base URL).
    pub fn differs_from(&self, other: &KeyScope) -> (bool, bool) {
        (
            self.api_key_fingerprint != other.api_key_fingerprint,
            !self.same_base_url(other),
        )
    }
}

/// A submit of a part whose outcome was never known, kept when a later submit replaced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastSubmit {
    /// Its VMEG `X-Idempotency-Key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// When it was sent, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at_ms: Option<u64>,
    /// What its key was scoped to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_scope: Option<KeyScope>,
    /// When its key was resent, Unix milliseconds (see [`PartRecord::resent_at_ms`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resent_at_ms: Vec<u64>,
}

impl PastSubmit {
    /// When it was sent (see [`PartRecord::submitted_at`]).
    pub fn submitted_at(&self) -> Option<SystemTime> {
        ms_time(self.submitted_at_ms?)
    }

    /// When its key was last resent.
    pub fn last_resent_at(&self) -> Option<SystemTime> {
        ms_time(*self.resent_at_ms.last()?)
    }
}

/// A fresh salt for a manifest's API key fingerprints: 122 random bits, hex.
pub fn new_key_salt() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A fingerprint of `api_key`: SHA-256 over a domain-separated text of `salt` and the key,
/// its first 128 bits in hex. It tells two keys apart; the key cannot be had back from it (an
/// API key is far too random to guess through the hash), and the salt, random per manifest,
/// keeps one key's fingerprints in two manifests apart.
pub fn api_key_fingerprint(salt: &str, api_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"voiceclone-cli manifest api-key fingerprint v1\0");
    h.update(salt.as_bytes());
    h.update(b"\0");
    h.update(api_key.as_bytes());
    let digest = h.finalize();
    hex::encode(digest.get(..16).unwrap_or_default())
}

/// `ms` Unix milliseconds as a time, `None` past what the clock or RFC 3339 holds.
pub fn ms_time(ms: u64) -> Option<SystemTime> {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .filter(|t| crate::output::try_rfc3339(*t).is_some())
}

impl PartRecord {
    /// Every task this part holds or held (its `job_id`, then its `past_job_ids`), as
    /// parsed: a text that is no job id names no task.
    pub fn task_ids(&self) -> impl Iterator<Item = JobId> + '_ {
        self.job_id
            .iter()
            .chain(self.past_job_ids.iter())
            .filter_map(|c| c.parse::<JobId>().ok())
    }

    /// Notes `why` as its last failure, of `kind` when it is a report `--resubmit-unknown`
    /// may act on later: the kind noted before is never left beside another failure's text.
    pub fn note(&mut self, why: String, kind: Option<ReportedKind>) {
        self.error = Some(why);
        self.error_kind = kind;
    }

    /// Forgets its last failure, and what kind it was.
    pub fn clear_error(&mut self) {
        self.error = None;
        self.error_kind = None;
    }

    /// Forgets that a run reported its task not found (a later read says no such thing), so
    /// that `--resubmit-unknown` waits for a run to report it again. A `done` part keeps the
    /// error's text, without its kind: its file is still missing or damaged, and the run's
    /// summary must not count it done.
    pub fn forget_not_found(&mut self) {
        if self.state == PartState::Done {
            self.error_kind = None;
        } else {
            self.clear_error();
        }
    }

    /// Its first list longer than this tool records (its field, length and bound), if any:
    /// see [`MAX_RESENDS_RECORDED`] and [`MAX_PAST_RECORDED`].
    fn overlong(&self) -> Option<(&'static str, usize, usize)> {
        let resends = self
            .past_submits
            .iter()
            .map(|s| s.resent_at_ms.len())
            .max()
            .unwrap_or(0);
        [
            (
                "resent_at_ms",
                self.resent_at_ms.len(),
                MAX_RESENDS_RECORDED,
            ),
            ("past_submits[].resent_at_ms", resends, MAX_RESENDS_RECORDED),
            ("past_submits", self.past_submits.len(), MAX_PAST_RECORDED),
            ("past_job_ids", self.past_job_ids.len(), MAX_PAST_RECORDED),
            ("files", self.files.len(), MAX_PAST_RECORDED),
        ]
        .into_iter()
        .find(|(_, n, max)| n > max)
    }

    /// Whether its task is known to have succeeded: its audio was downloaded (`done`), or a
    /// read answered it finished with its audio ([`PartRecord::finished_seen_at_ms`]).
    pub fn succeeded_before(&self) -> bool {
        self.state == PartState::Done || self.finished_seen_at_ms.is_some()
    }

    /// When its latest submit's key was last resent (see [`PartRecord::resent_at_ms`]).
    pub fn last_resent_at(&self) -> Option<SystemTime> {
        ms_time(*self.resent_at_ms.last()?)
    }

    /// When its latest submit was sent. `None` also for a value that is no time: past what
    /// the system's clock holds (`UNIX_EPOCH + u64::MAX ms` overflows where `SystemTime`
    /// is narrower, a panic with `+`) or past what RFC 3339 writes (year 9999). Such a
    /// manifest is refused by [`Manifest::mismatch`], naming the field.
    pub fn submitted_at(&self) -> Option<SystemTime> {
        ms_time(self.submitted_at_ms?)
    }
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// `vmeg` or `jimmyai`.
    pub provider: String,
    /// The voice, as given.
    pub voice: String,
    /// `--language`, as given.
    #[serde(default)]
    pub language: Option<String>,
    /// SHA-256 of the text file's content.
    pub text_sha256: String,
    /// The split's limits.
    pub max_line_chars: usize,
    /// The split's limits.
    pub max_lines: usize,
    /// The salt of each part's [`KeyScope::api_key_fingerprint`], random per manifest
    /// ([`new_key_salt`]); `None` in a manifest of version 1 until it is resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_salt: Option<String>,
    /// The parts, in order.
    pub parts: Vec<PartRecord>,
}

/// Unix milliseconds of `t`.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Manifest {
    /// A fresh manifest for `plan`: every part planned.
    pub fn new(plan: &LongSpeechPlan, voice: &str, language: Option<&str>) -> Self {
        let limits = plan.limits();
        Self {
            version: VERSION,
            provider: plan.provider().as_str().to_owned(),
            voice: voice.to_owned(),
            language: language.map(str::to_owned),
            text_sha256: plan.text_sha256().to_owned(),
            max_line_chars: limits.max_line_chars,
            max_lines: limits.max_lines,
            key_salt: Some(new_key_salt()),
            parts: plan
                .parts()
                .iter()
                .map(|p| PartRecord {
                    index: p.index,
                    text_sha256: p.text_sha256(),
                    lines: p.lines.len(),
                    chars: p.chars(),
                    state: PartState::Planned,
                    idempotency_key: None,
                    submitted_at_ms: None,
                    job_id: None,
                    past_job_ids: Vec::new(),
                    files: Vec::new(),
                    error: None,
                    error_kind: None,
                    key_scope: None,
                    past_submits: Vec::new(),
                    resent_at_ms: Vec::new(),
                    resends_recorded: false,
                    finished_seen_at_ms: None,
                })
                .collect(),
        }
    }

    /// Why this manifest cannot be resumed with `fresh` (the same command's plan now):
    /// another text, provider, voice, language or split. `None` when it can.
    pub fn mismatch(&self, fresh: &Manifest) -> Option<String> {
        if !(OLDEST_VERSION..=fresh.version).contains(&self.version) {
            return Some(format!(
                "it has format version {}, this tool reads {OLDEST_VERSION} to {} (a newer version of this tool wrote it?)",
                self.version, fresh.version
            ));
        }
        if self.text_sha256 != fresh.text_sha256 {
            return Some(format!(
                "the text file changed since it was written (SHA-256 {} then, {} now)",
                short(&self.text_sha256),
                short(&fresh.text_sha256)
            ));
        }
        if self.provider != fresh.provider {
            return Some(format!(
                "it was written for --provider {}, not {}",
                self.provider, fresh.provider
            ));
        }
        if !same_voice(&self.voice, &fresh.voice) {
            return Some(format!(
                "it was written for --voice {}, not {}",
                self.voice, fresh.voice
            ));
        }
        if self.language != fresh.language {
            return Some(format!(
                "it was written with --language {}, not {}",
                self.language.as_deref().unwrap_or("(none)"),
                fresh.language.as_deref().unwrap_or("(none)")
            ));
        }
        // The parts are in order, each at its index: a hand-edited index (out of range,
        // a duplicate) would tie a task or a file to the wrong part.
        if let Some((k, p)) = self.parts.iter().enumerate().find(|(k, p)| p.index != *k) {
            return Some(format!(
                "its part {} has index {}, not {k} (was it edited by hand?)",
                k + 1,
                p.index
            ));
        }
        // Lists longer than any run writes (hand-edited), refused by field before they are
        // walked: each resend time is a window checked against every candidate of a search,
        // and each list is read again for every candidate and written on every update.
        if let Some((k, field, n, max)) = self
            .parts
            .iter()
            .find_map(|p| p.overlong().map(|(f, n, max)| (p.index, f, n, max)))
        {
            return Some(format!(
                "its part {} lists {n} {field}, more than the {max} this tool records (was it edited by hand?)",
                k.saturating_add(1)
            ));
        }
        // A submit time that is no time (hand-edited) would read as "sent at an unknown
        // time": refused by name instead.
        if let Some(p) = self
            .parts
            .iter()
            .find(|p| p.submitted_at_ms.is_some() && p.submitted_at().is_none())
        {
            return Some(format!(
                "its part {} has submitted_at_ms {}, which is no time this tool can read (was it edited by hand?)",
                p.index.saturating_add(1),
                p.submitted_at_ms.unwrap_or_default()
            ));
        }
        if let Some((k, past)) = self.parts.iter().find_map(|p| {
            p.past_submits
                .iter()
                .find(|s| s.submitted_at_ms.is_some() && s.submitted_at().is_none())
                .map(|s| (p.index, s))
        }) {
            return Some(format!(
                "its part {} has a past submit whose submitted_at_ms {} is no time this tool can read (was it edited by hand?)",
                k.saturating_add(1),
                past.submitted_at_ms.unwrap_or_default()
            ));
        }
        // A resend time that is no time would silently drop that attempt's window.
        if let Some((k, ms)) = self.parts.iter().find_map(|p| {
            p.resent_at_ms
                .iter()
                .find(|ms| ms_time(**ms).is_none())
                .map(|ms| (p.index, *ms))
        }) {
            return Some(format!(
                "its part {} has a resent_at_ms {ms}, which is no time this tool can read (was it edited by hand?)",
                k.saturating_add(1)
            ));
        }
        if let Some(why) = self.job_ids_mismatch() {
            return Some(why);
        }
        // A file of a part is a file of the directory, by its plain name: not a path out of
        // it (`../x`, `/etc/x`), which a rerun would hash and list as the part's audio.
        let outside = self.parts.iter().find_map(|p| {
            p.files
                .iter()
                .find(|f| !is_plain_file_name(&f.name))
                .map(|f| (p.index, f))
        });
        if let Some((k, f)) = outside {
            return Some(format!(
                "its part {} lists the file {:?}, which is not a plain file name in the directory (was it edited by hand?)",
                k.saturating_add(1),
                f.name
            ));
        }
        let split = |m: &Manifest| {
            (
                m.max_line_chars,
                m.max_lines,
                m.parts
                    .iter()
                    .map(|p| p.text_sha256.clone())
                    .collect::<Vec<_>>(),
            )
        };
        if split(self) != split(fresh) {
            return Some("the text is split differently now (another version of this tool)".into());
        }
        None
    }

    /// Why the parts' task ids cannot be trusted, by field: a `done` or `submitted` part
    /// without a `job_id` (the run would submit it again as new work, paid), an id that does
    /// not parse or is not a speech task of this provider (it would fail only later, as a
    /// wait), or one id (current or past) held by two parts (one task's audio written for
    /// both, the other part's own task never looked for).
    fn job_ids_mismatch(&self) -> Option<String> {
        let mut seen: std::collections::HashMap<String, (usize, &str)> =
            std::collections::HashMap::new();
        for p in &self.parts {
            let n = p.index.saturating_add(1);
            if matches!(p.state, PartState::Done | PartState::Submitted) && p.job_id.is_none() {
                return Some(format!(
                    "its part {n} is {} without a job_id (was it edited by hand?)",
                    match p.state {
                        PartState::Done => "done",
                        _ => "submitted",
                    }
                ));
            }
            let ids = p
                .job_id
                .iter()
                .map(|id| (id, "job_id"))
                .chain(p.past_job_ids.iter().map(|id| (id, "past_job_ids")));
            for (stored, field) in ids {
                let id = match stored.parse::<JobId>() {
                    Ok(id) => id,
                    Err(e) => {
                        let e: voiceclone::ParseError = e;
                        return Some(format!(
                            "its part {n} has {field} {stored:?}, which is no job id ({}; was it edited by hand?)",
                            e.reason()
                        ));
                    }
                };
                let ours = id.provider().is_some_and(|p| p.as_str() == self.provider)
                    && id.kind() == Some(JobKind::Speech)
                    && !id.names_no_task();
                if !ours {
                    return Some(format!(
                        "its part {n} has {field} {stored:?}, which is not a {} speech task's id (was it edited by hand?)",
                        self.provider
                    ));
                }
                let key = id.as_str().to_owned();
                match seen.get(&key) {
                    Some((other, other_field)) if *other != p.index => {
                        return Some(format!(
                            "its parts {} and {n} both hold task {stored:?} ({other_field}, {field}); one task is one part's (was it edited by hand?)",
                            other.saturating_add(1)
                        ));
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(key, (p.index, field));
                    }
                }
            }
        }
        None
    }

    /// Whether every report noted in its parts carries its kind (`error_kind`): a manifest
    /// of format 4 or later, as read from disk (before [`Manifest::upgrade`]). In an older
    /// one an error without its kind may be a report of the version that wrote it, which
    /// noted no kinds; in a newer one such an error is no report.
    pub fn notes_have_kinds(&self) -> bool {
        self.version > LAST_VERSION_WITHOUT_KINDS
    }

    /// Makes a manifest read from disk one of this version, with a salt for its parts' key
    /// scopes (a version-1 manifest's parts keep `key_scope: None`, and an older manifest's
    /// parts `resends_recorded: false`: their resends, if any, were not recorded). Returns
    /// [`Manifest::notes_have_kinds`] as read: the version it reads is gone after.
    #[must_use = "whether the notes read have their kinds is known only before the upgrade"]
    pub fn upgrade(&mut self) -> bool {
        let notes_have_kinds = self.notes_have_kinds();
        self.version = VERSION;
        if self.key_salt.is_none() {
            self.key_salt = Some(new_key_salt());
        }
        notes_have_kinds
    }

    /// Reads `dir`'s manifest; `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Manifest>, Failure> {
        let path = dir.join(FILE_NAME);
        // Not through a symlink (to another directory's manifest, kept on shared storage):
        // the run's lock is on this directory, not the target's, so two directories linking
        // one manifest would run at once, each paying for the same parts; and the first save
        // (a rename over the link) would replace the link, the shared copy silently left
        // behind. A dangling link too: a fresh run would replace it the same way.
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&path)
                    .map(|t| format!(" (to {})", t.display()))
                    .unwrap_or_default();
                return Err(Failure::other(
                    Exit::Usage,
                    "invalid_manifest",
                    format!(
                        "{} is a symlink{target}; nothing was sent. A run locks and writes the manifest of its own --out directory: resume in the directory the manifest is in, or copy it here in place of the link (never both)",
                        path.display()
                    ),
                )
                .with("manifest", path.display().to_string()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Failure::io(&format!("reading {}", path.display()), &e)),
        }
        // Only a regular file is read: a FIFO would block the open forever, a device such
        // as `/dev/zero` would be read until memory runs out.
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Failure::io(&format!("reading {}", path.display()), &e)),
            Ok(m) if !m.is_file() => {
                return Err(Failure::other(
                    Exit::Usage,
                    "invalid_manifest",
                    format!(
                        "{} is not a regular file; nothing was sent. Use another --out directory",
                        path.display()
                    ),
                )
                .with("manifest", path.display().to_string()));
            }
            Ok(_) => {}
        }
        let bytes =
            match crate::bounded_read::read_at_most(&path, crate::bounded_read::MAX_MANIFEST_BYTES)
            {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Failure::io(&format!("reading {}", path.display()), &e)),
            };
        // The version first: a newer version's manifest may hold a state or a field this one
        // cannot parse, and "cannot read" would advise removing it or starting over, each
        // paying again for every part already made (review 35-c #6). A number that is not
        // there or is no number is left to the full parse to tell.
        if let Ok(VersionOnly { version }) = serde_json::from_slice::<VersionOnly>(&bytes)
            && version > u64::from(VERSION)
        {
            return Err(Failure::other(
                Exit::Usage,
                "manifest_mismatch",
                format!(
                    "refusing to resume {}: it was written by a newer version of this tool (format version {version}; this tool reads {OLDEST_VERSION} to {VERSION}): resume with that version; nothing was sent (another --out directory would start over and pay again for every part already made)",
                    path.display()
                ),
            )
            .with("manifest", path.display().to_string()));
        }
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Failure::other(
                Exit::Usage,
                "invalid_manifest",
                format!(
                    "{} is not a manifest this tool can read ({e}); nothing was sent. Use another --out directory, or remove the file if you are sure none of its parts is still to be paid for",
                    path.display()
                ),
            )
            .with("manifest", path.display().to_string())
        })
    }

    /// Writes it to `dir` atomically: a temporary file, flushed to disk, renamed over the
    /// manifest, and (on Unix) the directory flushed to disk.
    pub fn save(&self, dir: &Path) -> Result<(), Failure> {
        use std::io::Write;
        let path = dir.join(FILE_NAME);
        let fail = |e: std::io::Error| Failure::io(&format!("writing {}", path.display()), &e);
        let text = serde_json::to_vec_pretty(self).map_err(|e| {
            Failure::other(
                Exit::Failure,
                "manifest",
                format!("cannot encode the manifest: {e}"),
            )
        })?;
        // A new file of a random name (created exclusively: a symlink planted in DIR is never
        // written through), removed if anything fails before the rename.
        let prefix = format!(".{FILE_NAME}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let mut tmp = builder.tempfile_in(dir).map_err(fail)?;
        tmp.write_all(&text).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(&path).map_err(|e| fail(e.error))?;
        // The rename is an entry of the directory, not of the file: until the directory is
        // on disk, a power loss can undo it and bring back the manifest from before, losing
        // a `submitting` record whose submit went out (the rerun would send that part under
        // a new key: a second paid task).
        sync_dir(dir).map_err(fail)?;
        Ok(())
    }
}

/// Flushes `dir` itself (its entries: a rename into it) to disk. A file system that cannot
/// sync a directory at all (`fsync` answering EINVAL or ENOTSUP, as some network and FUSE
/// ones do) is let be: failing there would refuse every run on it, for a durability it
/// never offered; any other error is a failed write.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    use std::io::ErrorKind;
    #[cfg(test)]
    tests::DIR_SYNCS.with(|n| n.set(n.get() + 1));
    match std::fs::File::open(dir)?.sync_all() {
        Err(e) if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported) => Ok(()),
        other => other,
    }
}

/// No directory handle to sync on this system: the rename is as durable as it makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Test seam, in debug builds only: when `1`, [`lock`] answers as where no lock can be
/// taken, which
/// no permission makes happen for root (a file system without `flock`, a directory that
/// cannot be opened for reading).
#[cfg(unix)]
const NO_LOCK_ENV: &str = "VOICECLONE_TEST_NO_DIR_LOCK";

/// The lock file [`lock`] takes beside the directory's own lock.
pub const LOCK_FILE_NAME: &str = ".voiceclone-manifest.lock";

/// One run at a time on `dir`: an exclusive `flock` on the directory itself and on a lock file
/// in it ([`LOCK_FILE_NAME`]), held while the returned value lives and released by the system
/// when the process ends however it ends (a kill leaves no stale lock). A second run on the
/// same directory is refused before it reads the manifest or sends anything: each would
/// submit the parts the other has not reached (both paid) and overwrite the other's manifest.
///
/// Two locks, since each covers what the other misses: on NFS, SMB and FUSE a directory's
/// `flock` is local to the machine (those file systems forward only a regular file's locks
/// to the server), so two hosts sharing `--out` would both run (review 35-c #2); and a lock
/// file alone could be deleted under a run, letting the next one create and lock another.
/// The lock file is opened without following a symlink (one planted there is refused, and
/// the directory's lock alone holds, with a warning).
///
/// `Ok((guard, warning))`: `guard` is `None` when no lock could be taken (a file system
/// without `flock`, a directory that cannot be opened for reading), and `warning` says what
/// is not locked, for the run to print.
#[cfg(unix)]
pub fn lock(dir: &Path) -> Result<(Option<impl Sized>, Option<String>), Failure> {
    use rustix::fs::{FlockOperation, Mode, OFlags, flock, open};
    // Debug builds only (the tests'), and only `1`: set by accident in a release run
    // (`=0` meaning "off"), it would let two runs on one directory both pay for parts.
    if cfg!(debug_assertions) && std::env::var_os(NO_LOCK_ENV).is_some_and(|v| v == "1") {
        return Ok((
            None,
            Some(format!(
                "locking {}: {NO_LOCK_ENV} is set (a test seam); going on without a lock: do not start another run on it meanwhile",
                dir.display()
            )),
        ));
    }
    let locked_by_another = |what: &str, stale: &str| {
        Failure::other(
            Exit::Usage,
            "manifest_locked",
            format!(
                "another run of this tool is using {} (it holds {what}); nothing was sent. Wait for it to end{stale} (another --out directory starts over and pays again for every part already made)",
                dir.display()
            ),
        )
        .with("manifest", dir.join(FILE_NAME).display().to_string())
    };
    let file = dir.join(LOCK_FILE_NAME);
    // Readable and writable by all the umask lets through, as the manifest is: a run of
    // another user sharing DIR must be able to lock it too (review 35 pass 2 #2).
    let file_lock = match open(
        &file,
        OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o666),
    ) {
        Ok(fd) => match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(fd),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                // On NFSv3 the lock of a machine that died holding it stays until that
                // machine comes back (review 35 pass 2 #3).
                return Err(locked_by_another(
                    &format!("the lock of {LOCK_FILE_NAME}"),
                    &format!(
                        "; if no run is going (a machine that ran one died, and a shared file system kept its lock), remove {} and rerun",
                        file.display()
                    ),
                ));
            }
            Err(e) => Err(format!("locking {}: {e}", file.display())),
        },
        Err(e) => Err(format!("opening {}: {e}", file.display())),
    };
    let dir_lock = match open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(fd),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                return Err(locked_by_another("the directory's lock", ""));
            }
            Err(e) => Err(format!("locking {}: {e}", dir.display())),
        },
        Err(e) => Err(format!("opening {}: {e}", dir.display())),
    };
    Ok(match (file_lock, dir_lock) {
        (Ok(f), Ok(d)) => (Some((Some(f), Some(d))), None),
        (Ok(f), Err(why)) => (
            Some((Some(f), None)),
            Some(format!("{why}; going on with the lock file alone")),
        ),
        (Err(why), Ok(d)) => (
            Some((None, Some(d))),
            Some(format!(
                "{why}; going on with the directory's lock alone, which on a shared file system (NFS, SMB) holds on this machine only: do not start a run on it from another machine meanwhile"
            )),
        ),
        (Err(a), Err(b)) => (
            None,
            Some(format!(
                "{a}; {b}; going on without a lock: do not start another run on it meanwhile"
            )),
        ),
    })
}

/// One run at a time on `dir`: not enforced on this system.
#[cfg(not(unix))]
pub fn lock(_dir: &Path) -> Result<(Option<()>, Option<String>), Failure> {
    Ok((
        None,
        Some("no directory lock on this system; going on without a lock: do not start another run on it meanwhile".to_owned()),
    ))
}

/// A name of one file in the directory: one normal path component, no control character.
fn is_plain_file_name(name: &str) -> bool {
    use std::path::Component;
    let mut parts = Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(n)), None) if n == std::ffi::OsStr::new(name)
    ) && !name.chars().any(char::is_control)
}

/// The first 12 hex digits, for messages.
fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// SHA-256 of a file's content, lowercase hex, and its size.
pub fn file_sha256(path: &Path) -> std::io::Result<(u64, String)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
        total = total.saturating_add(n as u64);
    }
    Ok((total, hex::encode(h.finalize())))
}

/// Whether a done part's files are all there, whole (size and SHA-256 as recorded). Only a
/// regular file counts, never a symlink, and at most its recorded size and one byte more is
/// read ([`recorded_file_sha256`]): a FIFO or a symlink to `/dev/zero` put in a file's place
/// hung the run in its open or its read, deaf to SIGINT and SIGTERM. Anything else is not
/// intact, and the part is downloaded again (replacing it) from its known task.
pub fn files_intact(dir: &Path, part: &PartRecord) -> bool {
    !part.files.is_empty() && part.files.iter().all(|f| file_intact(dir, f))
}

/// Whether `f` is in `dir` as recorded: a regular file of its size and SHA-256.
pub fn file_intact(dir: &Path, f: &FileRecord) -> bool {
    matches!(recorded_file_sha256(&dir.join(&f.name), f.bytes), Some((bytes, sha)) if bytes == f.bytes && sha == f.sha256)
}

/// Whether two `--voice` texts name one voice: the same text, or forms of one vendor id (a
/// bare id, the clone's `activate_by` form, the `activated` form a run printed once the voice
/// spoke), so that storing the printed form does not make the manifest another job's.
fn same_voice(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (
        a.parse::<voiceclone::VoiceId>(),
        b.parse::<voiceclone::VoiceId>(),
    ) {
        (Ok(x), Ok(y)) => {
            x.as_str() == y.as_str()
                && (x.provider().is_none()
                    || y.provider().is_none()
                    || x.provider() == y.provider())
        }
        _ => false,
    }
}

/// SHA-256 and size of the regular file at `path` (not a symlink, a FIFO, a device), reading
/// at most `recorded + 1` bytes: enough to tell a file of the recorded size from a longer
/// one. `None` for anything else, or when it cannot be read. The file is opened without
/// following a symlink and without blocking, and checked again once open, so a FIFO swapped
/// in after the first look does not hang the open either.
fn recorded_file_sha256(path: &Path, recorded: u64) -> Option<(u64, String)> {
    use std::io::Read;
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return None;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
        );
    }
    let f = options.open(path).ok()?;
    if !f.metadata().is_ok_and(|m| m.file_type().is_file()) {
        return None;
    }
    let mut f = f.take(recorded.saturating_add(1));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
        total = total.saturating_add(n as u64);
    }
    Some((total, hex::encode(h.finalize())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use voiceclone::{Provider, SpeechRequest};

    fn plan(text: &str) -> LongSpeechPlan {
        LongSpeechPlan::new(Provider::Vmeg, &SpeechRequest::new("cv_1", text)).unwrap()
    }

    /// A submit time past what the clock or RFC 3339 holds is refused by name, never
    /// added with `+` (a panic where `SystemTime` is narrower than `u64::MAX` ms).
    #[test]
    fn a_submit_time_that_is_no_time_is_refused_by_name() {
        let p = plan("Hello there. General Kenobi.");
        let fresh = Manifest::new(&p, "cv_1", None);
        let mut m = fresh.clone();
        for (ms, refused) in [
            (u64::MAX, true),
            (253_402_300_800_000, true), // 10000-01-01T00:00:00Z
            (1_700_000_000_000, false),
        ] {
            m.parts[0].submitted_at_ms = Some(ms);
            let why = m.mismatch(&fresh);
            assert_eq!(why.is_some(), refused, "{ms}: {why:?}");
            if let Some(why) = why {
                assert!(why.contains("submitted_at_ms"), "{why}");
            }
            assert_eq!(m.parts[0].submitted_at().is_none(), refused, "{ms}");
            // A resend time, the same (its window would be dropped unseen).
            let mut r = fresh.clone();
            r.parts[0].resent_at_ms = vec![1_700_000_000_000, ms];
            let why = r.mismatch(&fresh);
            assert_eq!(why.is_some(), refused, "resent {ms}: {why:?}");
            if let Some(why) = why {
                assert!(why.contains("resent_at_ms"), "{why}");
            }
        }
    }

    /// Review 33-b #8: a part's lists are bounded when the manifest is read, each refused by
    /// its field past what this tool records: resends past [`MAX_RESENDS_RECORDED`] (each a
    /// window checked against every candidate of a search, with no `.await`: a 64 MiB
    /// manifest of them held the run for minutes), earlier tasks, earlier submits and files
    /// past [`MAX_PAST_RECORDED`]. At the bound, it still loads.
    #[test]
    fn a_part_listing_more_than_this_tool_records_is_refused_by_field() {
        let fresh = Manifest::new(&plan("Hello there. General Kenobi."), "cv_1", None);
        let past = PastSubmit {
            idempotency_key: None,
            submitted_at_ms: Some(1_700_000_000_000),
            key_scope: None,
            resent_at_ms: Vec::new(),
        };
        let file = FileRecord {
            name: "001.wav".into(),
            bytes: 1,
            sha256: String::new(),
        };
        type Edit = fn(&mut PartRecord, usize, &PastSubmit, &FileRecord);
        let edits: [(&str, usize, Edit); 5] = [
            ("resent_at_ms", MAX_RESENDS_RECORDED, |p, n, _, _| {
                p.resent_at_ms = vec![1_700_000_000_000; n];
            }),
            (
                "past_submits[].resent_at_ms",
                MAX_RESENDS_RECORDED,
                |p, n, s, _| {
                    let mut s = s.clone();
                    s.resent_at_ms = vec![1_700_000_000_000; n];
                    p.past_submits = vec![s];
                },
            ),
            ("past_submits", MAX_PAST_RECORDED, |p, n, s, _| {
                p.past_submits = vec![s.clone(); n];
            }),
            ("past_job_ids", MAX_PAST_RECORDED, |p, n, _, _| {
                p.past_job_ids = (0..n).map(|k| format!("vmeg:speech:t{k}")).collect();
            }),
            ("files", MAX_PAST_RECORDED, |p, n, _, f| {
                p.files = vec![f.clone(); n];
            }),
        ];
        for (field, max, edit) in edits {
            let mut m = fresh.clone();
            edit(&mut m.parts[0], max, &past, &file);
            assert_eq!(m.mismatch(&fresh), None, "{field} at the bound");
            edit(&mut m.parts[0], max + 1, &past, &file);
            let why = m.mismatch(&fresh).unwrap_or_default();
            assert!(why.contains(field), "{field}: {why}");
            assert!(why.contains("edited by hand"), "{field}: {why}");
        }
    }

    /// Review 29 pass 3-a #4: a note of a task not found is forgotten whole for a part not
    /// yet downloaded, and only its kind for a `done` one (its missing file still told).
    #[test]
    fn forgetting_a_task_not_found_keeps_a_done_parts_error() {
        let mut m = Manifest::new(&plan("Hello there. General Kenobi."), "cv_1", None);
        for (state, kept) in [(PartState::Submitted, false), (PartState::Done, true)] {
            let p = &mut m.parts[0];
            p.state = state;
            p.note("gone".into(), Some(ReportedKind::TaskNotFound));
            p.forget_not_found();
            assert_eq!(p.error_kind, None, "{state:?}");
            assert_eq!(p.error.is_some(), kept, "{state:?}");
        }
    }

    /// Review 29 #1: a part's `error_kind` is read back as written; one this version does not
    /// know (a newer version's) leaves the manifest readable and matches no kind of this one;
    /// a record without it (the previous version's) reads as `None`.
    #[test]
    fn an_unknown_error_kind_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = Manifest::new(&plan("Hello there. General Kenobi."), "cv_1", None);
        m.parts[0].note("gone".into(), Some(ReportedKind::TaskNotFound));
        m.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(text.contains(r#""error_kind": "task_not_found""#), "{text}");
        assert_eq!(Manifest::load(dir.path()).unwrap(), Some(m.clone()));
        let newer = text.replace("task_not_found", "a_kind_of_a_newer_version");
        std::fs::write(dir.path().join(FILE_NAME), newer).unwrap();
        let read = Manifest::load(dir.path()).unwrap().unwrap();
        assert_eq!(read.parts[0].error_kind, Some(ReportedKind::Unknown));
        assert_eq!(read.parts[0].error.as_deref(), Some("gone"));
        let mut older: serde_json::Value = serde_json::from_str(&text).unwrap();
        older["parts"][0]
            .as_object_mut()
            .unwrap()
            .remove("error_kind")
            .unwrap();
        std::fs::write(dir.path().join(FILE_NAME), older.to_string()).unwrap();
        let read = Manifest::load(dir.path()).unwrap().unwrap();
        assert_eq!(read.parts[0].error_kind, None);
        let mut cleared = read.parts[0].clone();
        cleared.clear_error();
        assert_eq!((cleared.error, cleared.error_kind), (None, None));
    }

    #[test]
    fn saves_atomically_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::new(&plan("Hello there. General Kenobi."), "cv_1", Some("en-US"));
        m.save(dir.path()).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), Some(m));
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [FILE_NAME]);
    }

    #[cfg(unix)]
    std::thread_local! {
        /// How many times this test's thread synced a directory (see `sync_dir`).
        pub(super) static DIR_SYNCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// Each save syncs the directory after the rename. That the rename then survives a
    /// power loss cannot be shown by a test: this checks that the sync is made, on the
    /// manifest's directory, without an error on a normal directory.
    #[cfg(unix)]
    #[test]
    fn each_save_syncs_the_directory_after_the_rename() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::new(&plan("Hello there."), "cv_1", None);
        let before = DIR_SYNCS.with(std::cell::Cell::get);
        m.save(dir.path()).unwrap();
        m.save(dir.path()).unwrap();
        assert_eq!(DIR_SYNCS.with(std::cell::Cell::get), before + 2);
        assert_eq!(Manifest::load(dir.path()).unwrap(), Some(m));
        // A directory that cannot be opened is an error (a failed write), not let be.
        assert!(sync_dir(&dir.path().join("gone")).is_err());
    }

    #[test]
    fn another_text_voice_or_language_is_a_mismatch() {
        let a = Manifest::new(&plan("One text."), "cv_1", None);
        assert_eq!(a.mismatch(&a.clone()), None);
        let b = Manifest::new(&plan("Another text."), "cv_1", None);
        assert!(a.mismatch(&b).unwrap().contains("text file changed"));
        let c = Manifest::new(&plan("One text."), "cv_2", None);
        assert!(a.mismatch(&c).unwrap().contains("--voice"));
        // The stored forms of one JimmyAI voice (printed once it spoke) are that voice.
        for stored in [
            "jimmyai:voice;activated:cv_1",
            "jimmyai:voice;activate_by=1900000000:cv_1",
        ] {
            let same = Manifest::new(&plan("One text."), stored, None);
            assert_eq!(a.mismatch(&same), None, "{stored}");
        }
        let other = Manifest::new(&plan("One text."), "jimmyai:voice;activated:cv_2", None);
        assert!(a.mismatch(&other).unwrap().contains("--voice"));
        let d = Manifest::new(&plan("One text."), "cv_1", Some("en-US"));
        assert!(a.mismatch(&d).unwrap().contains("--language"));
        // README: "... the provider ... or the split changed" refuse to resume too.
        let jimmy =
            LongSpeechPlan::new(Provider::JimmyAi, &SpeechRequest::new("cv_1", "One text."));
        let e = Manifest::new(&jimmy.unwrap(), "cv_1", None);
        assert!(a.mismatch(&e).unwrap().contains("--provider"));
        let limits =
            voiceclone::long_text::SplitLimits::for_provider(Provider::Vmeg).with_max_line_chars(4);
        let req = SpeechRequest::new("cv_1", "One text.");
        let f = Manifest::new(
            &LongSpeechPlan::with_limits(Provider::Vmeg, &req, limits).unwrap(),
            "cv_1",
            None,
        );
        assert!(a.mismatch(&f).unwrap().contains("split differently"));
    }

    /// The fingerprint tells keys apart, depends on the salt, and holds no piece of the key;
    /// a scope keeps only what of the base URL may be printed.
    #[test]
    fn an_api_key_fingerprint_tells_keys_apart_and_holds_no_piece_of_them() {
        let key = "vk-0123456789abcdef0123456789abcdef";
        let a = api_key_fingerprint("salt-1", key);
        assert_eq!(a, api_key_fingerprint("salt-1", key));
        assert_ne!(a, api_key_fingerprint("salt-2", key));
        assert_ne!(a, api_key_fingerprint("salt-1", "vk-another"));
        assert_eq!(a.len(), 32);
        let chars: Vec<char> = key.chars().collect();
        for piece in chars.windows(8) {
            let piece: String = piece.iter().collect();
            assert!(!a.contains(&piece), "{piece} in {a}");
        }
        let scope = KeyScope::new("salt-1", key, "https://user:pw@api.example.com/?token=x");
        assert!(!scope.base_url.contains("pw") && !scope.base_url.contains("token=x"));
    }

    /// A scope's base URL is what the requests go to (trailing slashes trimmed, as the client
    /// trims them; host case and default port as `Url` reads them): two spellings of one
    /// endpoint are one scope, another path, host or scheme is not (review 24 pass 2c #4).
    #[test]
    fn a_base_url_scope_is_what_the_requests_go_to() {
        let (s, k) = ("salt-1", "vk-0123456789abcdef");
        let scope = |url: &str| KeyScope::new(s, k, url);
        let v = scope("https://h.example/v");
        for same in ["https://H.example:443/v/", "https://h.example/v//"] {
            assert_eq!(scope(same), v, "{same}");
            assert!(scope(same).same_base_url(&v), "{same}");
        }
        assert!(scope("http://127.0.0.1:8080").same_base_url(&scope("http://127.0.0.1:8080//")));
        // As the scope was recorded before (the parsed URL's text, its trailing slash kept).
        let recorded = KeyScope {
            base_url: "https://h.example/v/".to_owned(),
            ..v.clone()
        };
        assert!(recorded.same_base_url(&v));
        let root = KeyScope {
            base_url: "https://h.example/".to_owned(),
            ..v.clone()
        };
        assert!(root.same_base_url(&scope("https://h.example")));
        for other in [
            "https://h.example/w",
            "http://h.example/v",
            "https://h.example:8443/v",
            "https://g.example/v",
            "https://h.example/v/w",
        ] {
            assert!(!scope(other).same_base_url(&v), "{other}");
        }
    }

    /// Version 1 (before key scopes) is still read; a newer version is refused by number, and
    /// `upgrade` writes it back as this version with a salt.
    #[test]
    fn a_version_1_manifest_is_read_and_a_newer_one_refused() {
        let fresh = Manifest::new(&plan("Hello there. General Kenobi."), "cv_1", None);
        let mut old = fresh.clone();
        old.version = 1;
        old.key_salt = None;
        assert_eq!(old.mismatch(&fresh), None);
        let _ = old.upgrade();
        assert_eq!(old.version, VERSION);
        assert!(old.key_salt.is_some());
        for v in [0, VERSION + 1] {
            let mut m = fresh.clone();
            m.version = v;
            assert!(
                m.mismatch(&fresh).unwrap().contains("format version"),
                "{v}"
            );
        }
    }

    /// Review 29 pass 2-a #7: the format is 4 since `error_kind`, so that a version that
    /// drops the field (3) refuses the manifest by its number instead of writing it back
    /// without its kinds. A version-3 manifest (its errors noted without kinds) still loads,
    /// says its notes may lack their kinds, and is written back as 4, whose notes do not.
    #[test]
    fn a_version_3_manifest_loads_and_is_written_back_as_4_whose_notes_have_kinds() {
        assert_eq!(VERSION, 4);
        let dir = tempfile::tempdir().unwrap();
        let fresh = Manifest::new(&plan("Hello there. General Kenobi."), "cv_1", None);
        assert!(fresh.notes_have_kinds());
        let mut v3 = fresh.clone();
        v3.version = 3;
        v3.parts[0].error = Some("noted by version 3".into());
        v3.save(dir.path()).unwrap();
        let mut read = Manifest::load(dir.path()).unwrap().unwrap();
        assert_eq!(read.mismatch(&fresh), None);
        assert!(!read.notes_have_kinds());
        assert!(!read.upgrade());
        read.save(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["version"], 4, "{text}");
        let again = Manifest::load(dir.path()).unwrap().unwrap();
        assert!(again.notes_have_kinds());
        assert_eq!(again.parts[0].error.as_deref(), Some("noted by version 3"));
        // A tool of version 3 reads 1 to 3 only.
        let mut as_v3_reads = fresh.clone();
        as_v3_reads.version = 3;
        assert!(
            again
                .mismatch(&as_v3_reads)
                .unwrap()
                .contains("format version 4")
        );
    }

    #[test]
    fn file_names_are_plain_names_in_the_directory() {
        for ok in ["001.wav", "001-02.mp3", "x"] {
            assert!(is_plain_file_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x.wav",
            "/etc/passwd",
            "a/b.wav",
            "./001.wav",
            "a\nb",
            "001.wav/",
        ] {
            assert!(!is_plain_file_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_damaged_file_is_not_intact() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("001.wav"), b"RIFF....").unwrap();
        let (bytes, sha256) = file_sha256(&dir.path().join("001.wav")).unwrap();
        let mut part = Manifest::new(&plan("x."), "cv_1", None).parts.remove(0);
        part.files = vec![FileRecord {
            name: "001.wav".into(),
            bytes,
            sha256,
        }];
        assert!(files_intact(dir.path(), &part));
        std::fs::write(dir.path().join("001.wav"), b"RIFF...!").unwrap();
        assert!(!files_intact(dir.path(), &part));
        std::fs::remove_file(dir.path().join("001.wav")).unwrap();
        assert!(!files_intact(dir.path(), &part));
    }
}
