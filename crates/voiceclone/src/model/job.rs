//! Submitted tasks: one [`Job`] interface for clone and speech jobs.

use std::fmt;
use std::time::SystemTime;

use super::{JobId, Provider, Speech, TaskStatus, Voice, VoiceId};

/// Clone or speech: which kind of task a job id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum JobKind {
    /// A clone task: its result is a [`Voice`].
    Clone,
    /// A speech task: its result is [`Speech`].
    Speech,
}

impl JobKind {
    /// `clone` or `speech`.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobKind::Clone => "clone",
            JobKind::Speech => "speech",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What every submitted task is, whatever it makes: [`CloneJob`] (a [`Voice`]) and
/// [`SpeechJob`] ([`Speech`]). Status mapping, waiting, webhook normalization and rendering
/// are written once against this trait. Sealed: only this crate's jobs implement it, so it
/// can grow.
pub trait Job: Clone + fmt::Debug + Send + Sync + sealed::Sealed + 'static {
    /// What the finished task yields.
    type Output: Clone + fmt::Debug + Send + Sync + 'static;
    /// Which kind of task this is.
    const KIND: JobKind;

    /// A job with an id and a status.
    fn new(provider: Provider, id: JobId, status: TaskStatus) -> Self;
    /// Who runs it.
    fn provider(&self) -> Provider;
    /// The vendor task id.
    fn id(&self) -> &JobId;
    /// Normalized status.
    fn status(&self) -> &TaskStatus;
    /// The vendor's own status string, when it gave one.
    fn vendor_status(&self) -> Option<&str>;
    /// The result, once the task succeeded and the vendor said what it is.
    fn output(&self) -> Option<&Self::Output>;
    /// The vendor's failure reason.
    fn error(&self) -> Option<&str>;
    /// When the vendor created the task.
    fn created_at(&self) -> Option<SystemTime>;
    /// VMEG: the idempotency key the submit used (also echoed in webhooks).
    fn idempotency_key(&self) -> Option<&str>;
    /// Replaces the status.
    fn set_status(&mut self, status: TaskStatus);
    /// Sets the result.
    fn set_output(&mut self, output: Self::Output);
    /// Sets the failure reason.
    fn set_error(&mut self, error: String);
    /// Sets the vendor status string, whitespace and control characters folded, cut to 64
    /// characters (a server chose it).
    fn set_vendor_status(&mut self, raw: String);
    /// Sets the creation time.
    fn set_created_at(&mut self, at: SystemTime);
    /// Sets the idempotency key.
    fn set_idempotency_key(&mut self, key: String);

    /// The vendor's status word when the vendor does not document it (VMEG documents only
    /// `running`, `finished` and `failed`): [`Job::status`] is then this crate's reading of
    /// it, an assumption. A job `Failed` by such a word (`timeout`, `expired`, ...) may still
    /// be alive: check it before submitting again, which could bill a second task. `None`
    /// for a documented word, or no word.
    ///
    /// ```
    /// use voiceclone::{Job, Provider, SpeechJob, TaskStatus};
    ///
    /// let job = SpeechJob::new(Provider::Vmeg, "t-1", TaskStatus::Failed).with_vendor_status("timeout");
    /// assert_eq!(job.assumed_status(), Some("timeout"));
    /// let job = SpeechJob::new(Provider::Vmeg, "t-1", TaskStatus::Failed).with_vendor_status("failed");
    /// assert_eq!(job.assumed_status(), None);
    /// ```
    fn assumed_status(&self) -> Option<&str> {
        crate::provider::assumed_status(self)
    }
}

/// What a status read from a word its vendor does not document means for a failed task:
/// one sentence, for every place that says so (a job's `Debug`, a summary's `Display`, a
/// failure reason).
pub(crate) const MAY_STILL_BE_ALIVE: &str = "the task may still be alive, so check it before \
     submitting again (a new submit may be billed as a second task)";

/// A vendor's status word as it is shown and kept: folded, at most 64 characters (a server
/// chooses it).
pub(crate) fn shown_word(raw: &str) -> String {
    crate::error::folded(raw, 64)
}

/// How a status read from an undocumented status word prints (`Debug` of jobs and task
/// summaries, `Display` of task summaries): the word, and that the status is an assumption.
pub(crate) struct AssumedStatus<'a> {
    pub(crate) status: &'a TaskStatus,
    pub(crate) raw: &'a str,
}

impl fmt::Display for AssumedStatus<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} by assumption: the vendor does not document the status {:?}",
            self.status,
            shown_word(self.raw)
        )?;
        if *self.status == TaskStatus::Failed {
            // As the wait's error says (`Error::assumed_status`): no advice to submit again.
            write!(f, "; {MAY_STILL_BE_ALIVE}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for AssumedStatus<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A quoted sentence, as a string field would print.
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

/// Declares one job struct: the fields every job has, the fields of its kind, its
/// constructor and builders, and its [`Job`] implementation; written once for both kinds.
macro_rules! job_struct {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:ident, $output:ty, $out_field:ident, $with_out:ident,
        { $($(#[$fmeta:meta])* $field:ident: $fty:ty,)* }
    ) => {
        $(#[$meta])*
        #[non_exhaustive]
        pub struct $name {
            /// Who runs it.
            pub provider: Provider,
            /// The vendor task id, typed with the job's provider and kind.
            pub id: JobId,
            /// Normalized status.
            pub status: TaskStatus,
            /// The vendor's own status string, when it gave one.
            pub vendor_status: Option<String>,
            /// The result, once the task succeeded and the vendor said what it is.
            pub $out_field: Option<$output>,
            /// The vendor's failure reason.
            pub error: Option<String>,
            /// When the vendor created the task.
            pub created_at: Option<SystemTime>,
            /// VMEG: the idempotency key the submit used (also echoed in webhooks).
            pub idempotency_key: Option<String>,
            $($(#[$fmeta])* pub $field: $fty,)*
            /// The result the vendor gave that this crate refused, said and quoted (`a
            /// modelId this crate cannot use: "m/1"`): for the error of a task that finished
            /// without a usable result, which would otherwise say it had none (review 35-d
            /// #5). The vendor's text is all a caller can ask its support about.
            pub(crate) refused_result: Option<String>,
        }

        impl $name {
            /// A job with an id and a status; a bare id is typed with `provider` and this
            /// kind. An id that already knows its provider and kind (a typed [`JobId`], or a
            /// string in the stored form, which `From` parses) keeps them: one of another
            /// provider or kind is refused where it is used (`InvalidInput`, field `job_id`),
            /// never relabelled as this job's, which would send its bare vendor id to the
            /// wrong provider or as the wrong kind.
            pub fn new(provider: Provider, id: impl Into<JobId>, status: TaskStatus) -> Self {
                let id: JobId = id.into();
                let id = if id.is_typed() {
                    id
                } else {
                    id.with_kind(provider, JobKind::$kind)
                };
                Self {
                    provider,
                    id,
                    status,
                    vendor_status: None,
                    $out_field: None,
                    error: None,
                    created_at: None,
                    idempotency_key: None,
                    $($field: None,)*
                    refused_result: None,
                }
            }

            /// Sets the vendor status string, folded and cut to 64 characters (a server
            /// chooses it; a newline in it would start a forged log line).
            #[must_use]
            pub fn with_vendor_status(mut self, raw: impl Into<String>) -> Self {
                self.set_vendor_status(raw.into());
                self
            }

            /// Sets the result.
            #[must_use]
            pub fn $with_out(mut self, output: $output) -> Self {
                self.$out_field = Some(output);
                self
            }

            /// Sets the failure reason.
            #[must_use]
            pub fn with_error(mut self, error: impl Into<String>) -> Self {
                self.error = Some(error.into());
                self
            }

            /// Sets the creation time.
            #[must_use]
            pub fn with_created_at(mut self, at: SystemTime) -> Self {
                self.created_at = Some(at);
                self
            }

            /// Sets the idempotency key.
            #[must_use]
            pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
                self.idempotency_key = Some(key.into());
                self
            }
        }

        /// As a derive would, times as RFC 3339, with `assumed_status` (the word, or null)
        /// after `vendor_status`: a stored job says its status is an assumption as its
        /// `Debug` does (see [`Job::assumed_status`]).
        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let extra: &[&str] = &[$(stringify!($field)),*];
                let mut out = s.serialize_struct(stringify!($name), extra.len().saturating_add(9))?;
                out.serialize_field("provider", &self.provider)?;
                out.serialize_field("id", &self.id)?;
                out.serialize_field("status", &self.status)?;
                out.serialize_field("vendor_status", &self.vendor_status)?;
                out.serialize_field("assumed_status", &Job::assumed_status(self))?;
                out.serialize_field(stringify!($out_field), &self.$out_field)?;
                out.serialize_field("error", &self.error)?;
                out.serialize_field("created_at", &super::serde_form::OptTime(&self.created_at))?;
                out.serialize_field("idempotency_key", &self.idempotency_key)?;
                $(out.serialize_field(stringify!($field), &self.$field)?;)*
                out.end()
            }
        }

        /// As derived, with `assumed_status` after `vendor_status` when the status was read
        /// from a word the vendor does not document (see [`Job::assumed_status`]): printed,
        /// a job says so, as a wait's error does.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct(stringify!($name));
                d.field("provider", &self.provider)
                    .field("id", &self.id)
                    .field("status", &self.status)
                    .field("vendor_status", &self.vendor_status);
                if let Some(raw) = Job::assumed_status(self) {
                    d.field("assumed_status", &AssumedStatus { status: &self.status, raw });
                }
                d.field(stringify!($out_field), &self.$out_field)
                    .field("error", &self.error)
                    .field("created_at", &self.created_at)
                    .field("idempotency_key", &self.idempotency_key)
                    $(.field(stringify!($field), &self.$field))*;
                d.finish()
            }
        }

        impl sealed::Sealed for $name {}

        impl Job for $name {
            type Output = $output;
            const KIND: JobKind = JobKind::$kind;

            fn new(provider: Provider, id: JobId, status: TaskStatus) -> Self {
                $name::new(provider, id, status)
            }
            fn provider(&self) -> Provider {
                self.provider
            }
            fn id(&self) -> &JobId {
                &self.id
            }
            fn status(&self) -> &TaskStatus {
                &self.status
            }
            fn vendor_status(&self) -> Option<&str> {
                self.vendor_status.as_deref()
            }
            fn output(&self) -> Option<&$output> {
                self.$out_field.as_ref()
            }
            fn error(&self) -> Option<&str> {
                self.error.as_deref()
            }
            fn created_at(&self) -> Option<SystemTime> {
                self.created_at
            }
            fn idempotency_key(&self) -> Option<&str> {
                self.idempotency_key.as_deref()
            }
            fn set_status(&mut self, status: TaskStatus) {
                self.status = status;
            }
            fn set_output(&mut self, output: $output) {
                self.$out_field = Some(output);
            }
            fn set_error(&mut self, error: String) {
                self.error = Some(error);
            }
            fn set_vendor_status(&mut self, raw: String) {
                self.vendor_status = Some(shown_word(&raw));
            }
            fn set_created_at(&mut self, at: SystemTime) {
                self.created_at = Some(at);
            }
            fn set_idempotency_key(&mut self, key: String) {
                self.idempotency_key = Some(key);
            }
        }
    };
}

job_struct! {
    /// A submitted clone task.
    #[derive(Clone, PartialEq, Eq)]
    CloneJob, Clone, Voice, voice, with_voice,
    {
        /// VMEG: the name given to the voice (used to find it in the voice list).
        name: Option<String>,
    }
}

impl CloneJob {
    /// Sets the requested voice name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

job_struct! {
    /// A submitted speech task.
    #[derive(Clone, PartialEq)]
    SpeechJob, Speech, Speech, speech, with_speech,
    {
        /// JimmyAI: the voice the production call used. The first *successful* production
        /// call activates a `modelId` (api-facts B5); whether a failed one does is not
        /// documented. So while the task runs (as `synthesize` returns it) the id keeps the
        /// activation state it was sent with (a stored deadline stays: activation is
        /// pending), and it is marked [`crate::Activation::Activated`] only once the task is seen
        /// completed: [`SpeechJob::updated`] with a poll that says so, or
        /// [`SpeechJob::completed_with`] with what `wait_for_speech` returned. Store it then,
        /// in place of the old id. A failed task leaves it as it was sent.
        voice: Option<VoiceId>,
    }
}

impl SpeechJob {
    /// Sets the voice the call used.
    #[must_use]
    pub fn with_voice(mut self, voice: VoiceId) -> Self {
        self.voice = Some(voice);
        self
    }

    /// This job as a later poll of it (`speech_status`) sees it: the poll's status, vendor
    /// status, speech, failure reason and (when it says one) creation time, with this job's
    /// id, voice and idempotency key kept (a poll knows no voice). The voice is marked
    /// activated when the poll says the task succeeded (a JimmyAI `modelId` is activated by
    /// a successful production call); any other status leaves it as it was sent. A poll of
    /// another task (another vendor id or provider) changes nothing.
    ///
    /// ```
    /// use voiceclone::{Activation, Provider, SpeechJob, TaskStatus, VoiceId};
    ///
    /// let sent = VoiceId::typed(Provider::JimmyAi, "m-1");
    /// let accepted =
    ///     SpeechJob::new(Provider::JimmyAi, "audio_1", TaskStatus::Queued).with_voice(sent);
    /// let failed = SpeechJob::new(Provider::JimmyAi, "audio_1", TaskStatus::Failed);
    /// let after = accepted.clone().updated(failed);
    /// assert_eq!(after.status, TaskStatus::Failed);
    /// assert_eq!(after.voice.unwrap().activation(), Activation::Unknown);
    /// let done = SpeechJob::new(Provider::JimmyAi, "audio_1", TaskStatus::Succeeded);
    /// let after = accepted.updated(done);
    /// assert_eq!(after.voice.unwrap().to_string(), "jimmyai:voice;activated:m-1");
    /// ```
    #[must_use]
    pub fn updated(mut self, polled: SpeechJob) -> Self {
        if polled.provider != self.provider || polled.id.as_str() != self.id.as_str() {
            return self;
        }
        self.status = polled.status;
        self.vendor_status = polled.vendor_status.or(self.vendor_status);
        self.speech = polled.speech.or(self.speech);
        self.error = polled.error.or(self.error);
        self.created_at = polled.created_at.or(self.created_at);
        if self.status == TaskStatus::Succeeded {
            self.voice = self.voice.map(VoiceId::activated);
        }
        self
    }

    /// This job finished with `speech` (what `wait_for_speech` returned for it): succeeded,
    /// its voice marked activated (see [`SpeechJob::voice`]). The vendor's word of an earlier
    /// answer (the create's `queued`) is dropped: it no longer describes the task.
    #[must_use]
    pub fn completed_with(mut self, speech: Speech) -> Self {
        self.status = TaskStatus::Succeeded;
        self.vendor_status = None;
        self.speech = Some(speech);
        self.voice = self.voice.map(VoiceId::activated);
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn both_job_kinds_share_one_interface() {
        fn fail<J: Job>(id: &str) -> J {
            let mut job = J::new(Provider::Vmeg, JobId::new(id), TaskStatus::Running);
            job.set_status(TaskStatus::Failed);
            job.set_error("boom".into());
            job.set_idempotency_key("k".into());
            job
        }
        let c: CloneJob = fail("c1");
        let s: SpeechJob = fail("s1");
        assert_eq!(
            (CloneJob::KIND, SpeechJob::KIND),
            (JobKind::Clone, JobKind::Speech)
        );
        assert_eq!(JobKind::Speech.to_string(), "speech");
        assert_eq!(
            (
                c.status.clone(),
                c.error.as_deref(),
                c.idempotency_key.as_deref()
            ),
            (TaskStatus::Failed, Some("boom"), Some("k"))
        );
        assert_eq!((s.id.as_str(), s.error()), ("s1", Some("boom")));
        let mut c = c;
        c.set_output(Voice::new(Provider::Vmeg, "cv_1"));
        assert_eq!(c.voice.as_ref().map(|v| v.id.as_str()), Some("cv_1"));
    }

    /// A job whose status was read from a status word its vendor does not document says so
    /// in its `Debug` (VMEG's `timeout` read as failed: the task may still be alive); one read
    /// from a documented word, or a JimmyAI one, prints as derived.
    #[test]
    fn a_jobs_debug_says_when_its_status_is_assumed() {
        let job =
            SpeechJob::new(Provider::Vmeg, "t-1", TaskStatus::Failed).with_vendor_status("timeout");
        let shown = format!("{job:?}");
        assert!(
            shown.contains(
                r#"vendor_status: Some("timeout"), assumed_status: "failed by assumption: the vendor does not document the status \"timeout\"; the task may still be alive, so check it before submitting again"#
            ),
            "{shown}"
        );
        let job =
            CloneJob::new(Provider::Vmeg, "t-1", TaskStatus::Succeeded).with_vendor_status("done");
        let shown = format!("{job:?}");
        assert!(shown.contains("succeeded by assumption"), "{shown}");
        assert!(!shown.contains("alive"), "{shown}");
        for job in [
            CloneJob::new(Provider::Vmeg, "t-1", TaskStatus::Failed).with_vendor_status("failed"),
            CloneJob::new(Provider::JimmyAi, "t-1", TaskStatus::Failed)
                .with_vendor_status("timeout"),
        ] {
            let shown = format!("{job:?}");
            assert!(!shown.contains("assum"), "{shown}");
            assert!(
                shown.starts_with("CloneJob { provider: ")
                    && shown.ends_with(", idempotency_key: None, name: None }"),
                "{shown}"
            );
        }
    }

    /// A bare id is typed with the job's provider and kind; an id that already says its own
    /// (a stored form passed as a string) keeps them, never relabelled: `jimmyai:clone:a`
    /// made a VMEG job would send `a` to VMEG.
    #[test]
    fn a_job_keeps_what_a_typed_id_says() {
        let c = CloneJob::new(Provider::Vmeg, "t-1", TaskStatus::Queued);
        assert_eq!(c.id, JobId::typed(Provider::Vmeg, JobKind::Clone, "t-1"));
        let c = CloneJob::new(Provider::Vmeg, "vmeg:clone:t-1", TaskStatus::Queued);
        assert_eq!(c.id, JobId::typed(Provider::Vmeg, JobKind::Clone, "t-1"));
        let c = CloneJob::new(Provider::Vmeg, "jimmyai:clone:a", TaskStatus::Queued);
        assert_eq!(c.id, JobId::typed(Provider::JimmyAi, JobKind::Clone, "a"));
        assert!(c.id.check(Provider::Vmeg, JobKind::Clone).is_err());
        let s = SpeechJob::new(
            Provider::Vmeg,
            String::from("vmeg:clone:t-1"),
            TaskStatus::Queued,
        );
        assert_eq!(s.id.kind(), Some(JobKind::Clone));
        assert!(s.id.check(Provider::Vmeg, JobKind::Speech).is_err());
    }
}
