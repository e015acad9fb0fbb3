//! The provider-neutral vocabulary: what callers send and what they get back.
//!
//! Requests are plain builders; nothing here checks values (that is each provider's rules, run
//! by the client before anything is sent). Results are `#[non_exhaustive]` so fields can be
//! added later; the `new` / `with_*` constructors let other crates (tests, simulators) build them.

mod audio;
mod ids;
mod job;
mod options;
mod reconcile;
mod request;
mod result;
mod status;
mod task;

pub use audio::{AudioReader, AudioSource, UploadProgress};
pub(crate) use ids::wrong_kind;
pub use ids::{Activation, JobId, Provider, VoiceId};
pub use job::{CloneJob, Job, JobKind, SpeechJob};
pub use options::{Emotion, OutputFormat, ParseError, SoundVersion, SubtitleMode, VmegEngine};
pub(crate) use reconcile::kind_of_operation;
pub use reconcile::{
    AlreadyAccepted, DEFAULT_RECONCILE_WINDOW, Evidence, ReconcileQuery, Reconciled, Resubmitted,
};
pub use request::{CloneRequest, SpeechLine, SpeechRequest};
pub use result::{JIMMYAI_ACTIVATION_WINDOW, Speech, SpeechSegment, Voice};
pub use status::TaskStatus;
pub use task::{TaskDetail, TaskFilter, TaskSummary};
