//! The provider-neutral vocabulary: what callers send and what they get back.
//!
//! Requests are plain builders; nothing here checks values (that is each provider's rules, run
//! by the client before anything is sent). Results are `#[non_exhaustive]` so fields can be
//! added later; the `new` / `with_*` constructors let other crates (tests, simulators) build them.
//!
//! # The stored form
//!
//! Every id the client hands out knows what it is, and prints ([`std::fmt::Display`], serde) as
//! one stable string a service can store and parse back ([`str::parse`], serde):
//!
//! | id | form | example |
//! | --- | --- | --- |
//! | job | `<provider>:<kind>:<vendor id>` | `vmeg:clone:8d1f...`, `jimmyai:speech:audio_1f2e...` |
//! | voice | `<provider>:voice[;<state>]:<vendor id>` | `vmeg:voice:cv_1`, `jimmyai:voice;activated:m-1` |
//!
//! `<provider>` is `vmeg` or `jimmyai`, `<kind>` is `clone` or `speech`. `<state>` is a
//! JimmyAI `modelId`'s activation: `activated` (a production task with it was seen completed,
//! so it never expires) or `activate_by=<unix seconds>` (no successful production call seen;
//! it expires then); no state means unknown. The vendor id is everything after the second
//! `:`, so vendor ids containing `:` (or `;`) round-trip unchanged. One job id names no vendor
//! task: `vmeg:<kind>:#no-task-id`, a finished job from a VMEG synchronous answer that carried
//! its result but no `taskId` ([`JobId::names_no_task`]); every call refuses it, nothing sent.
//!
//! A **bare** vendor id (from the CLI or an old database: anything that does not start with
//! `vmeg:` or `jimmyai:`) parses as a bare id: it knows neither provider nor kind. The call
//! it is given to states the kind (`clone_status` a clone, `speech_status` a speech task)
//! and the client's provider; the vendor's answer is then checked (VMEG `taskType`, JimmyAI
//! `model`), and a task of the other kind is an error, never `Ok`. A bare id prints as the
//! vendor id alone.
//!
//! `From<&str>` / `From<String>` read the stored form as [`str::parse`] does, so a stored id
//! passed as a string (`SpeechRequest::new(row.voice_id, ...)`) is the typed id it was;
//! `JobId::new` / `VoiceId::new` take any text as a bare id. No vendor id starts with a
//! provider's name, so a text that does (in any case, after spaces) but is not a stored form
//! of the right type (`VMEG:clone:x`, ` vmeg:clone:x`, a voice's form as a job id) does not
//! parse, and a bare id holding such a text is refused by every call it is given to
//! (`InvalidInput` naming the field), with nothing sent: sent whole, it would get the
//! vendor's "not found", which reads as "no job". Such a bare id prints with its provider in
//! capitals (`JIMMYAI:clone:a`), so it never reads back as another, typed id. A typed id
//! whose vendor id is itself a stored id (a stored id stored again,
//! `vmeg:clone:vmeg:clone:x`, or one given to `JobId::typed` / `VoiceId::typed`) is refused
//! the same way.

mod audio;
mod excerpt;
mod ids;
mod job;
mod options;
mod reconcile;
mod request;
mod result;
#[cfg(feature = "serde")]
mod serde_form;
mod status;
mod task;
mod unread;
#[cfg(feature = "upload")]
mod upload;

pub use audio::AudioSource;
pub(crate) use excerpt::Excerpt;
pub(crate) use ids::wrong_kind;
pub use ids::{Activation, JobId, Provider, VoiceId};
pub use job::{CloneJob, Job, JobKind, SpeechJob};
pub(crate) use job::{MAY_STILL_BE_ALIVE, shown_word};
pub use options::{Emotion, OutputFormat, ParseError, SoundVersion, SubtitleMode, VmegEngine};
#[cfg(feature = "long-text")]
pub(crate) use reconcile::beyond_skew;
pub use reconcile::{
    AlreadyAccepted, DEFAULT_RECONCILE_WINDOW, Evidence, KEY_RESEND_WINDOW, LOOK_AGAIN_PAUSE,
    MAX_RECONCILE_WINDOW, MIN_RECONCILE_WINDOW, RECONCILE_VOICE_NAME_MAX_BYTES, ReconcileQuery,
    Reconciled, Resubmitted,
};
pub(crate) use reconcile::{EARLIEST_SUBMIT, FUTURE_SKEW, kind_of_operation, usable_voice_name};
pub use request::{CloneRequest, SpeechLine, SpeechRequest};
pub use result::{JIMMYAI_ACTIVATION_WINDOW, Speech, SpeechSegment, Voice};
pub use status::TaskStatus;
pub(crate) use task::NoCreationTime;
pub use task::{TaskDetail, TaskFilter, TaskSummary, UNKNOWN_OFFSET_SPAN};
pub use unread::UnreadRecords;
pub(crate) use unread::UnreadTypes;
#[cfg(feature = "upload")]
pub use upload::{AudioReader, UploadProgress};
