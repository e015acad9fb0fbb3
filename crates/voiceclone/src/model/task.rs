//! Tasks as listed and looked up: [`TaskSummary`] (one row of a task list), [`TaskFilter`]
//! (what a listing keeps) and [`TaskDetail`] (one task read back as a typed job).

use std::fmt;
use std::time::{Duration, SystemTime};

use super::job::AssumedStatus;
use super::{CloneJob, JobId, JobKind, Provider, SpeechJob, TaskStatus};

/// How far a creation time given without a UTC offset may be from the same time read as UTC:
/// the zones in use run from UTC-12 to UTC+14.
pub const UNKNOWN_OFFSET_SPAN: Duration = Duration::from_secs(14 * 3600);

/// One task as a task list shows it. `Display` and `Debug` say when its status was read from
/// a status word the vendor does not document (see [`TaskSummary::assumed_status`]), and so
/// does its serialized form (feature `serde`), with `assumed_status` (the word, or null).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskSummary {
    /// Who runs it.
    pub provider: Provider,
    /// The vendor task id.
    pub id: JobId,
    /// Clone or speech; `None` for the vendor's other products (translation, dubbing).
    pub kind: Option<JobKind>,
    /// The vendor's own task type (VMEG `taskType`: `cloneVoice`, `tts`, `vt`, ...).
    pub vendor_type: String,
    /// Normalized status.
    pub status: TaskStatus,
    /// The vendor's own status word, when it gave one.
    pub vendor_status: Option<String>,
    /// When the vendor created it, if said.
    pub created_at: Option<SystemTime>,
    /// `created_at` came without a UTC offset and was read as UTC. The vendor's zone is
    /// UNKNOWN (api-facts: "ISO 8601"), so the time may be off by up to
    /// [`UNKNOWN_OFFSET_SPAN`] either way; [`crate::Client::reconcile`] widens its window by
    /// that much for such a task rather than miss it.
    pub created_at_offset_unknown: bool,
    /// When the vendor last changed it, if said.
    pub updated_at: Option<SystemTime>,
}

/// Why a listed or looked-up creation time was read as none
/// ([`TaskSummary::impossible_creation_time_dropped`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoCreationTime {
    /// Before 2020: a zero or unset column.
    BeforeApis,
    /// Later than the answer that gave it: a wrong zone, an "unset" sentinel.
    AfterTheAnswer,
}

impl NoCreationTime {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::BeforeApis => "before 2020, a zero or unset time",
            Self::AfterTheAnswer => {
                "later than the answer giving it (a zone written wrong, or an unset sentinel)"
            }
        }
    }
}

impl TaskSummary {
    /// A summary with an id, a vendor type (folded and cut to 64 characters: a server chooses
    /// it, and every `Display` of the summary prints it) and a status. A bare id is typed with `provider`
    /// and `kind` when the kind is known, so it can be stored and used as is; an id that
    /// already says its provider and kind (a typed [`JobId`], or a string in the stored
    /// form) keeps them, as [`CloneJob::new`](crate::CloneJob::new) does: relabelled, one of
    /// another provider would be sent, bare, to this one.
    pub fn new(
        provider: Provider,
        id: impl Into<JobId>,
        kind: Option<JobKind>,
        vendor_type: impl Into<String>,
        status: TaskStatus,
    ) -> Self {
        let id: JobId = id.into();
        let id = match kind {
            Some(k) if !id.is_typed() => id.with_kind(provider, k),
            _ => id,
        };
        Self {
            provider,
            id,
            kind,
            vendor_type: super::shown_word(&vendor_type.into()),
            status,
            vendor_status: None,
            created_at: None,
            created_at_offset_unknown: false,
            updated_at: None,
        }
    }

    /// Sets the vendor's status word, folded and cut to 64 characters as `vendor_type` is.
    #[must_use]
    pub fn with_vendor_status(mut self, raw: impl Into<String>) -> Self {
        self.vendor_status = Some(super::shown_word(&raw.into()));
        self
    }

    /// Sets the creation time.
    #[must_use]
    pub fn with_created_at(mut self, at: SystemTime) -> Self {
        self.created_at = Some(at);
        self.created_at_offset_unknown = false;
        self
    }

    /// Sets a creation time the vendor gave without a UTC offset, read as UTC.
    #[must_use]
    pub fn with_created_at_offset_unknown(mut self, at: SystemTime) -> Self {
        self.created_at = Some(at);
        self.created_at_offset_unknown = true;
        self
    }

    /// The summary with a creation time no task can have read as none: before 2020, before
    /// either vendor's API, so a zero or unset column (the epoch, `2000-01-01`); or later
    /// than `now`, when the answer giving it was read (a vendor writing its local time with
    /// a `Z`, a `9999-12-31` "unset" sentinel). Taken as a time, it rules the task out of any
    /// window, and a search that should find it answers "none" and invites a second paid
    /// submit.
    pub(crate) fn with_impossible_creation_time_dropped(self, now: SystemTime) -> Self {
        let (s, dropped) = self.impossible_creation_time_dropped(now);
        if let Some(why) = dropped {
            tracing::warn!(task = %s.id, "the task's creation time is {}; read as no time", why.as_str());
        }
        s
    }

    /// [`TaskSummary::with_impossible_creation_time_dropped`] without its log line, and why a
    /// time was dropped: a listing counts them and logs once (a list of 500,000 such tasks
    /// must not become 500,000 log lines). Later than `now` means past [`FUTURE_SKEW`] (the
    /// vendor's clock may be that far ahead), and for a time without a UTC offset past
    /// [`UNKNOWN_OFFSET_SPAN`] more too (a UTC+14 local time read as UTC is 14 h ahead).
    ///
    /// [`FUTURE_SKEW`]: super::FUTURE_SKEW
    pub(crate) fn impossible_creation_time_dropped(
        mut self,
        now: SystemTime,
    ) -> (Self, Option<NoCreationTime>) {
        let floor = std::time::UNIX_EPOCH + super::EARLIEST_SUBMIT;
        let ahead = if self.created_at_offset_unknown {
            super::FUTURE_SKEW.saturating_add(UNKNOWN_OFFSET_SPAN)
        } else {
            super::FUTURE_SKEW
        };
        let why = self.created_at.and_then(|at| {
            if at < floor {
                Some(NoCreationTime::BeforeApis)
            } else if at.duration_since(now).is_ok_and(|d| d > ahead) {
                Some(NoCreationTime::AfterTheAnswer)
            } else {
                None
            }
        });
        if why.is_some() {
            self.created_at = None;
            self.created_at_offset_unknown = false;
        }
        (self, why)
    }

    /// Whether the task may have been created between `from` and `to`: its creation time is
    /// in that range, give or take [`UNKNOWN_OFFSET_SPAN`] when it came without a UTC offset;
    /// a task without a readable creation time may have been created at any time.
    pub fn may_be_created_between(&self, from: SystemTime, to: SystemTime) -> bool {
        let Some(at) = self.created_at else {
            return true;
        };
        if !self.created_at_offset_unknown {
            return at >= from && at <= to;
        }
        let from = from
            .checked_sub(UNKNOWN_OFFSET_SPAN)
            .unwrap_or(std::time::UNIX_EPOCH);
        let to = to.checked_add(UNKNOWN_OFFSET_SPAN).unwrap_or(to);
        at >= from && at <= to
    }

    /// Whether the vendor named the task's type as one of its other products (VMEG `vt`,
    /// `at`, `textTranslation`, the `taskType` values besides `cloneVoice` and `tts`, in any
    /// case): not a clone or speech task, unlike a type that is missing or not known to this
    /// crate.
    pub(crate) fn is_other_product(&self) -> bool {
        self.kind.is_none()
            && self.provider == Provider::Vmeg
            && crate::provider::vmeg::task_type(&self.vendor_type)
                == crate::provider::vmeg::TaskType::OtherProduct
    }

    /// Whether the task may be of `kind` (`None`: a clone or a speech task): its kind is
    /// that one, or it could not be read and the vendor did not name another product.
    pub(crate) fn may_be_of_kind(&self, kind: Option<JobKind>) -> bool {
        !self.is_other_product() && kind.is_none_or(|k| self.kind.is_none_or(|tk| tk == k))
    }

    /// Sets the last update time.
    #[must_use]
    pub fn with_updated_at(mut self, at: SystemTime) -> Self {
        self.updated_at = Some(at);
        self
    }

    /// `clone`, `speech` or `other`.
    pub fn kind_str(&self) -> &'static str {
        self.kind.map_or("other", JobKind::as_str)
    }

    /// The vendor's status word when the vendor does not document it: [`TaskSummary::status`]
    /// is then this crate's reading of it, an assumption, as for a job
    /// ([`Job::assumed_status`](crate::Job::assumed_status)). `None` for a documented word,
    /// or no word.
    pub fn assumed_status(&self) -> Option<&str> {
        crate::provider::assumed_word(self.provider, self.vendor_status.as_deref())
    }
}

/// As a derive would, times as RFC 3339, with `assumed_status` after `vendor_status`: a
/// failure read from an undocumented word (VMEG's `timeout`) may still be alive, and a
/// stored row must say so as `Debug` and `Display` do, or code resubmitting `failed` rows
/// bills twice.
#[cfg(feature = "serde")]
impl serde::Serialize for TaskSummary {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use super::serde_form::OptTime;
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("TaskSummary", 10)?;
        out.serialize_field("provider", &self.provider)?;
        out.serialize_field("id", &self.id)?;
        out.serialize_field("kind", &self.kind)?;
        out.serialize_field("vendor_type", &self.vendor_type)?;
        out.serialize_field("status", &self.status)?;
        out.serialize_field("vendor_status", &self.vendor_status)?;
        out.serialize_field("assumed_status", &self.assumed_status())?;
        out.serialize_field("created_at", &OptTime(&self.created_at))?;
        out.serialize_field("created_at_offset_unknown", &self.created_at_offset_unknown)?;
        out.serialize_field("updated_at", &OptTime(&self.updated_at))?;
        out.end()
    }
}

impl fmt::Debug for TaskSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TaskSummary");
        d.field("provider", &self.provider)
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("vendor_type", &self.vendor_type)
            .field("status", &self.status)
            .field("vendor_status", &self.vendor_status);
        if let Some(raw) = self.assumed_status() {
            d.field(
                "assumed_status",
                &AssumedStatus {
                    status: &self.status,
                    raw,
                },
            );
        }
        d.field("created_at", &self.created_at)
            .field("created_at_offset_unknown", &self.created_at_offset_unknown)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

impl fmt::Display for TaskSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} ({} task, vendor type {:?}, status ",
            self.id,
            self.kind_str(),
            self.vendor_type,
        )?;
        match self.assumed_status() {
            Some(raw) => write!(
                f,
                "{}",
                AssumedStatus {
                    status: &self.status,
                    raw
                }
            )?,
            None => write!(f, "{}", self.status)?,
        }
        if let Some(at) = self.created_at {
            write!(f, ", created {}", crate::time::format_rfc3339(at))?;
            if self.created_at_offset_unknown {
                f.write_str(" if the vendor's time was UTC (it gave no offset)")?;
            }
        }
        f.write_str(")")
    }
}

/// What a task listing keeps ([`crate::Client::tasks`]). The kind is filtered by the vendor
/// (VMEG `taskType`); the status on the normalized [`TaskStatus`], by this crate, across every
/// page (VMEG's own status words are UNKNOWN, so its `status` filter is not used).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaskFilter {
    /// Only tasks of this kind.
    pub kind: Option<JobKind>,
    /// Only tasks in this normalized status.
    pub status: Option<TaskStatus>,
}

impl TaskFilter {
    /// Every task.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only tasks of `kind`.
    #[must_use]
    pub fn kind(mut self, kind: JobKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Only tasks in `status` (compared with the normalized status).
    #[must_use]
    pub fn status(mut self, status: TaskStatus) -> Self {
        self.status = Some(status);
        self
    }

    /// Whether `task` passes the client-side part of the filter (the status; the kind too,
    /// in case a vendor ignores its type filter). A task whose type this crate cannot read
    /// (none sent, or a spelling it does not know) is kept: the vendor listed it for the
    /// type asked, and `reconcile` must see it as a candidate rather than answer `None`; one
    /// of the vendor's other products (VMEG `vt`, `at`, `textTranslation`) is not.
    pub(crate) fn keeps(&self, task: &TaskSummary) -> bool {
        self.kind.is_none_or(|k| task.may_be_of_kind(Some(k)))
            && self
                .status
                .as_ref()
                .is_none_or(|s| same_status(s, &task.status))
    }

    /// This filter with a status given as a vendor word (`Unknown("finished")`, copied from a
    /// listing's `vendor_status`) read through `provider`'s own status words, as its listed
    /// tasks' words were: VMEG `finished` is `Succeeded`. Compared as it was given, the word
    /// matched no task (each was read to `Succeeded`), and "no tasks match" told a script
    /// looking for failed tasks (`error`) that there were none.
    pub(crate) fn with_status_word_read_as(mut self, provider: Provider) -> Self {
        if let Some(TaskStatus::Unknown(word)) = &self.status {
            self.status = Some(match provider {
                Provider::Vmeg => crate::provider::vmeg::map_status(word),
                _ => TaskStatus::Unknown(crate::model::shown_word(word)),
            });
        }
        self
    }
}

/// Whether a filter's status keeps a task's: the same normalized status, or for words this
/// crate does not know (each folded as `shown_word` folds it) the same word in any case
/// (`paused` keeps the vendor's `Paused`).
fn same_status(wanted: &TaskStatus, got: &TaskStatus) -> bool {
    match (wanted, got) {
        (TaskStatus::Unknown(a), TaskStatus::Unknown(b)) => a.to_lowercase() == b.to_lowercase(),
        _ => wanted == got,
    }
}

/// One task read back by id ([`crate::Client::task`]), typed by what the vendor says it is.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", content = "task", rename_all = "lowercase")
)]
#[non_exhaustive]
pub enum TaskDetail {
    /// A clone task.
    Clone(CloneJob),
    /// A speech task.
    Speech(SpeechJob),
    /// A task of another product (translation, dubbing): what the vendor said about it.
    Other(TaskSummary),
}

impl TaskDetail {
    /// The task id.
    pub fn id(&self) -> &JobId {
        match self {
            TaskDetail::Clone(j) => &j.id,
            TaskDetail::Speech(j) => &j.id,
            TaskDetail::Other(s) => &s.id,
        }
    }

    /// Normalized status.
    pub fn status(&self) -> &TaskStatus {
        match self {
            TaskDetail::Clone(j) => &j.status,
            TaskDetail::Speech(j) => &j.status,
            TaskDetail::Other(s) => &s.status,
        }
    }

    /// The vendor's status word when the vendor does not document it: [`TaskDetail::status`]
    /// is then an assumption (see [`Job::assumed_status`](crate::Job::assumed_status)). A task
    /// failed by such a word (VMEG's `timeout`, `expired`, ...) may still be alive: check it
    /// before submitting again, which could bill a second task.
    pub fn assumed_status(&self) -> Option<&str> {
        match self {
            TaskDetail::Clone(j) => crate::Job::assumed_status(j),
            TaskDetail::Speech(j) => crate::Job::assumed_status(j),
            TaskDetail::Other(s) => s.assumed_status(),
        }
    }

    /// Clone or speech; `None` for another product.
    pub fn kind(&self) -> Option<JobKind> {
        match self {
            TaskDetail::Clone(_) => Some(JobKind::Clone),
            TaskDetail::Speech(_) => Some(JobKind::Speech),
            TaskDetail::Other(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A status filter given a VMEG word keeps the tasks that word was read to (`finished`
    /// keeps `Succeeded`, `error` keeps `Failed`); a word this crate does not know keeps the
    /// same word in any case and spacing. Before: `finished` and `error` kept nothing, and
    /// `paused` missed the vendor's `Paused` (review 27-d #2).
    /// Review 34-a #1: a creation time past the moment it was read (and the 5 min a vendor's
    /// clock may be ahead) is no time; one without a UTC offset only past 14 h more (a
    /// UTC+14 local time read as UTC), so a UTC+8 vendor's offset-less times stay placed
    /// loosely. Before 2020 is no time as before; now and just ahead stay.
    #[test]
    fn a_creation_time_after_its_answer_or_before_2020_is_no_time() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let task = || TaskSummary::new(Provider::Vmeg, "t-1", None, "", TaskStatus::Queued);
        let zoned = |at| task().with_created_at(at);
        let loose = |at| task().with_created_at_offset_unknown(at);
        let far = std::time::UNIX_EPOCH + Duration::from_secs(253_402_300_799);
        for (s, why) in [
            (zoned(now + hours(8)), Some(NoCreationTime::AfterTheAnswer)),
            (zoned(far), Some(NoCreationTime::AfterTheAnswer)),
            (
                zoned(now + Duration::from_secs(301)),
                Some(NoCreationTime::AfterTheAnswer),
            ),
            (loose(now + hours(15)), Some(NoCreationTime::AfterTheAnswer)),
            (
                zoned(std::time::UNIX_EPOCH),
                Some(NoCreationTime::BeforeApis),
            ),
            (zoned(now), None),
            (zoned(now + Duration::from_secs(300)), None),
            (loose(now + hours(8)), None),
            (zoned(now - hours(8)), None),
        ] {
            let before = s.created_at;
            let (s, got) = s.impossible_creation_time_dropped(now);
            assert_eq!(got, why, "{before:?}");
            assert_eq!(s.created_at.is_none(), why.is_some(), "{before:?}");
            if why.is_some() {
                assert!(!s.created_at_offset_unknown);
            }
        }
    }

    #[test]
    fn a_status_filter_reads_a_vendor_word_as_the_vendor_does() {
        let task = |raw: &str| {
            TaskSummary::new(
                Provider::Vmeg,
                "t-1",
                Some(JobKind::Clone),
                "cloneVoice",
                crate::provider::vmeg::map_status(raw),
            )
        };
        let keeps = |word: &str, raw: &str| {
            TaskFilter::all()
                .status(TaskStatus::Unknown(word.to_owned()))
                .with_status_word_read_as(Provider::Vmeg)
                .keeps(&task(raw))
        };
        assert!(keeps("finished", "finished"));
        assert!(keeps(" Finished ", "completed"));
        assert!(keeps("error", "failed"));
        assert!(!keeps("finished", "failed"));
        assert!(keeps("paused", "Paused"));
        assert!(keeps("on  hold", "On Hold"));
        assert!(!keeps("paused", "running"));
        assert!(!keeps("paused", "halted"));
    }

    /// Review 30-d #4: a listed VMEG `taskType` of another product is one in any case and
    /// spacing, as the status calls read it; an unknown type is not.
    #[test]
    fn another_products_type_is_read_in_any_case() {
        let task = |t: &str| TaskSummary::new(Provider::Vmeg, "t-1", None, t, TaskStatus::Queued);
        for t in ["vt", "VT", " at ", "TextTranslation"] {
            assert!(task(t).is_other_product(), "{t:?}");
            assert!(!task(t).may_be_of_kind(Some(JobKind::Speech)), "{t:?}");
        }
        for t in ["", "dubbing", "v t"] {
            assert!(!task(t).is_other_product(), "{t:?}");
        }
    }

    /// A bare id is typed with the summary's provider and kind; one that already says its
    /// own (a stored form passed as a string, a typed id) keeps them, never relabelled.
    #[test]
    fn a_summary_keeps_what_a_typed_id_says() {
        let new = |id: JobId, kind| {
            TaskSummary::new(Provider::Vmeg, id, kind, "tts", TaskStatus::Queued).id
        };
        let speech = Some(JobKind::Speech);
        assert_eq!(
            new(JobId::new("t-1"), speech),
            JobId::typed(Provider::Vmeg, JobKind::Speech, "t-1")
        );
        assert_eq!(new(JobId::new("t-1"), None), JobId::new("t-1"));
        let other = JobId::typed(Provider::JimmyAi, JobKind::Clone, "a");
        assert_eq!(new(other.clone(), speech), other);
        assert_eq!(new(JobId::from("jimmyai:clone:a"), speech), other);
        assert!(
            new(other, speech)
                .check(Provider::Vmeg, JobKind::Speech)
                .is_err()
        );
    }
}
