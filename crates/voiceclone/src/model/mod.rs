//! The provider-neutral vocabulary: what callers send and what they get back.
//!
//! Requests are plain builders; nothing here checks values (that is each provider's rules, run
//! by the client before anything is sent). Results are `#[non_exhaustive]` so fields can be
//! added later; the `new` / `with_*` constructors let other crates (tests, simulators) build them.

mod audio;
mod ids;
mod job;
mod options;
mod request;
mod result;
mod status;

pub use audio::{AudioReader, AudioSource, UploadProgress};
pub(crate) use ids::wrong_kind;
pub use ids::{Activation, JobId, Provider, VoiceId};
pub use job::{CloneJob, Job, JobKind, SpeechJob};
pub use options::{Emotion, OutputFormat, ParseError, SoundVersion, SubtitleMode, VmegEngine};
pub use request::{CloneRequest, SpeechLine, SpeechRequest};
pub use result::{JIMMYAI_ACTIVATION_WINDOW, Speech, SpeechSegment, Voice};
pub use status::TaskStatus;
