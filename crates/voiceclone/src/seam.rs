//! The seam for your own tests: [`VoiceCloning`], a job's lifecycle as a trait that both
//! [`Client`] and, with the `fake` feature, [`FakeClient`](crate::fake::FakeClient)
//! implement.
//!
//! Write your service against `&dyn VoiceCloning` (or a generic `C: VoiceCloning`), give it
//! a [`Client`] in production and a scripted fake in unit tests: no HTTP, no sockets, no
//! waiting. The simulator (`voiceclone-sim`) stays the end-to-end option.
//!
//! ```
//! use voiceclone::{CloneRequest, Provider, VoiceCloning, WaitPolicy};
//!
//! /// Your code: clones a voice and returns its id.
//! async fn onboard(api: &dyn VoiceCloning, sample_url: &str) -> Result<String, voiceclone::Error> {
//!     let mut req = CloneRequest::new(sample_url);
//!     // A name is VMEG's (reconcile ties a lost clone to its voice by it); JimmyAI refuses one.
//!     if api.provider() == Provider::Vmeg {
//!         req = req.name("narrator");
//!     }
//!     let job = api.clone_voice(&req).await?;
//!     let policy = WaitPolicy::for_provider(api.provider());
//!     let voice = api.wait_for_clone(&job.id, &policy).await?;
//!     Ok(voice.id.to_string())
//! }
//! # let _ = onboard;
//! ```

use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::client::Client;
use crate::error::Error;
use crate::model::{
    CloneJob, CloneRequest, JobId, Provider, Speech, SpeechJob, SpeechRequest, Voice,
};
use crate::wait::WaitPolicy;

/// A job's lifecycle, as [`Client`] offers it: submit, read back, wait, list the voices.
///
/// Object safe (the futures are boxed), so a service can hold an `Arc<dyn VoiceCloning>`.
/// Each method behaves as the [`Client`] method of the same name documents.
///
/// A shared reference, an `Arc` and a `Box` of an implementation (`dyn VoiceCloning`
/// included) implement it too, so generic code (`C: VoiceCloning + Clone`, tasks spawned
/// with a clone of `C`) can take an `Arc<FakeClient>` and the test still holds the fake to
/// inspect afterwards.
///
/// The trait has no per-call timeout. To bound calls, give the service a bounded
/// handle: a [`Client::with_timeout`] or [`Client::with_options`] handle is a `Client`,
/// and so a `VoiceCloning`. Its timeout ends a submit as `OutcomeUnknown` carrying the
/// idempotency key and submit time. Do not wrap a submit ([`clone_voice`](Self::clone_voice),
/// [`synthesize`](Self::synthesize)) in `tokio::time::timeout` or a `select!`, and do not run
/// it in a future that may be dropped (a web handler whose caller hangs up). Dropped after its
/// request went out, the submit leaves a task you hold no key or id for (only a WARN,
/// "write dropped mid-call"), and submitting again bills the work twice. The fake cannot
/// catch this: its submits of a URL end on their first poll, so a timer around them never
/// fires (a local recording's is read first, with Tokio's file I/O).
/// Where a request must not outlive its caller, `tokio::spawn` the submit so that it ends by
/// itself, and keep its result.
pub trait VoiceCloning: Send + Sync + std::fmt::Debug {
    /// The provider the calls go to.
    fn provider(&self) -> Provider;

    /// See [`Client::clone_voice`].
    fn clone_voice<'a>(&'a self, req: &'a CloneRequest) -> BoxFuture<'a, Result<CloneJob, Error>>;

    /// See [`Client::clone_status`]. A succeeded VMEG clone's status may have `voice: None`:
    /// [`wait_for_clone`](Self::wait_for_clone) or [`list_voices`](Self::list_voices) finds
    /// it (script it with `Script::without_voice_in_status`).
    fn clone_status<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, Result<CloneJob, Error>>;

    /// See [`Client::wait_for_clone`].
    fn wait_for_clone<'a>(
        &'a self,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> BoxFuture<'a, Result<Voice, Error>>;

    /// See [`Client::synthesize`].
    fn synthesize<'a>(&'a self, req: &'a SpeechRequest) -> BoxFuture<'a, Result<SpeechJob, Error>>;

    /// See [`Client::speech_status`].
    fn speech_status<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, Result<SpeechJob, Error>>;

    /// See [`Client::wait_for_speech`].
    fn wait_for_speech<'a>(
        &'a self,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> BoxFuture<'a, Result<Speech, Error>>;

    /// See [`Client::list_voices`].
    fn list_voices(&self) -> BoxFuture<'_, Result<Vec<Voice>, Error>>;
}

impl VoiceCloning for Client {
    fn provider(&self) -> Provider {
        Client::provider(self)
    }

    fn clone_voice<'a>(&'a self, req: &'a CloneRequest) -> BoxFuture<'a, Result<CloneJob, Error>> {
        Box::pin(Client::clone_voice(self, req))
    }

    fn clone_status<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, Result<CloneJob, Error>> {
        Box::pin(Client::clone_status(self, id))
    }

    fn wait_for_clone<'a>(
        &'a self,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> BoxFuture<'a, Result<Voice, Error>> {
        Box::pin(Client::wait_for_clone(self, id, policy))
    }

    fn synthesize<'a>(&'a self, req: &'a SpeechRequest) -> BoxFuture<'a, Result<SpeechJob, Error>> {
        Box::pin(Client::synthesize(self, req))
    }

    fn speech_status<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, Result<SpeechJob, Error>> {
        Box::pin(Client::speech_status(self, id))
    }

    fn wait_for_speech<'a>(
        &'a self,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> BoxFuture<'a, Result<Speech, Error>> {
        Box::pin(Client::wait_for_speech(self, id, policy))
    }

    fn list_voices(&self) -> BoxFuture<'_, Result<Vec<Voice>, Error>> {
        Box::pin(Client::list_voices(self))
    }
}

/// Forwards every method to the implementation behind the pointer.
macro_rules! forward {
    ($($ptr:ty),*) => {$(
        impl<T: VoiceCloning + ?Sized> VoiceCloning for $ptr {
            fn provider(&self) -> Provider {
                (**self).provider()
            }

            fn clone_voice<'a>(
                &'a self,
                req: &'a CloneRequest,
            ) -> BoxFuture<'a, Result<CloneJob, Error>> {
                (**self).clone_voice(req)
            }

            fn clone_status<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, Result<CloneJob, Error>> {
                (**self).clone_status(id)
            }

            fn wait_for_clone<'a>(
                &'a self,
                id: &'a JobId,
                policy: &'a WaitPolicy,
            ) -> BoxFuture<'a, Result<Voice, Error>> {
                (**self).wait_for_clone(id, policy)
            }

            fn synthesize<'a>(
                &'a self,
                req: &'a SpeechRequest,
            ) -> BoxFuture<'a, Result<SpeechJob, Error>> {
                (**self).synthesize(req)
            }

            fn speech_status<'a>(
                &'a self,
                id: &'a JobId,
            ) -> BoxFuture<'a, Result<SpeechJob, Error>> {
                (**self).speech_status(id)
            }

            fn wait_for_speech<'a>(
                &'a self,
                id: &'a JobId,
                policy: &'a WaitPolicy,
            ) -> BoxFuture<'a, Result<Speech, Error>> {
                (**self).wait_for_speech(id, policy)
            }

            fn list_voices(&self) -> BoxFuture<'_, Result<Vec<Voice>, Error>> {
                (**self).list_voices()
            }
        }
    )*};
}

forward!(&T, Arc<T>, Box<T>);
