//! The one interface every vendor implements ([`Backend`]), and what a backend is built
//! from ([`Connect`]).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::facts;
use crate::error::Error;
use crate::model::{CloneJob, CloneRequest, JobId, Provider, SpeechJob, SpeechRequest, Voice};
use crate::transport::Transport;

/// What a backend is built from: the base URL, the HTTP client, and the generated clients'
/// configuration (with each vendor's long operations given their own timeouts).
pub(crate) struct Connect {
    /// The base URL without a trailing slash (the generated clients append each path).
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) provider: Provider,
    pub(crate) api_key: crate::secret::ApiKey,
    pub(crate) timeout_override: Option<Duration>,
    pub(crate) max_response_bytes: usize,
}

impl Connect {
    /// The generated client's configuration: bearer key, body limit, the key's text filter
    /// (every answer is scrubbed as it is decoded), and timeouts (one for everything when the
    /// caller set one; else the default, with `long_ops` given theirs).
    pub(crate) fn config(
        &self,
        long_ops: &[(&'static str, Duration)],
    ) -> Result<client_glue::ClientConfig, Error> {
        let mut config = client_glue::ClientConfig::bearer(self.api_key.expose())
            .map_err(|_| {
                Error::invalid_input("api_key", "cannot be sent in an HTTP header")
                    .with_provider(self.provider)
            })?
            .with_max_response_bytes(self.max_response_bytes)
            // Every string of every answer is scrubbed of the key as it is decoded.
            .with_text_filter(crate::scrub::text_filter(&std::sync::Arc::new(
                crate::scrub::Scrubber::new(self.api_key.expose()),
            )));
        match self.timeout_override {
            Some(t) => config = config.with_timeout(t),
            None => {
                config = config.with_timeout(crate::transport::DEFAULT_TIMEOUT);
                for (op, timeout) in long_ops {
                    config = config.with_operation_timeout(op, *timeout);
                }
            }
        }
        Ok(config)
    }
}

/// Builds `provider`'s backend.
pub(crate) fn backend(provider: Provider, connect: &Connect) -> Result<Box<dyn Backend>, Error> {
    (facts(provider).connect)(connect)
}

/// A boxed, sendable future: what a [`Backend`] returns, so that it can live behind `dyn`.
pub(crate) type BoxFuture<'a, T> = crate::sleep::BoxFuture<'a, T>;

/// One vendor, as the client sees it: every call in normalized types. Each method validates
/// its input first (nothing is sent when it is refused) and calls the vendor's generated
/// client through [`Transport::send`](crate::transport::Transport::send).
///
/// A trait object rather than an enum: a new vendor is a new implementation, and nothing
/// outside its module changes; the boxing costs one allocation per call, next to a request.
pub(crate) trait Backend: Send + Sync + fmt::Debug {
    /// Submits a clone (never waits for it).
    fn clone_voice<'a>(
        &'a self,
        t: &'a Transport,
        req: &'a CloneRequest,
        allow_private: bool,
    ) -> BoxFuture<'a, Result<CloneJob, Error>>;

    /// The current state of a clone task.
    fn clone_status<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<CloneJob, Error>>;

    /// The voice a clone task that ended `Succeeded` made (`job` is its last status).
    fn cloned_voice<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
        job: CloneJob,
    ) -> BoxFuture<'a, Result<Voice, Error>>;

    /// Submits speech.
    fn synthesize<'a>(
        &'a self,
        t: &'a Transport,
        req: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<SpeechJob, Error>>;

    /// The current state of a speech task.
    fn speech_status<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<SpeechJob, Error>>;

    /// The account's cloned voices.
    fn list_voices<'a>(&'a self, t: &'a Transport) -> BoxFuture<'a, Result<Vec<Voice>, Error>> {
        unsupported("list_voices", t.provider)
    }

    /// Renames a cloned voice.
    fn rename_voice<'a>(
        &'a self,
        t: &'a Transport,
        voice_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let _ = (voice_id, name);
        unsupported("rename_voice", t.provider)
    }

    /// Deletes a cloned voice.
    fn delete_voice<'a>(
        &'a self,
        t: &'a Transport,
        voice_id: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let _ = voice_id;
        unsupported("delete_voice", t.provider)
    }

    /// Uploads a local sample and returns its URL.
    fn upload_sample<'a>(
        &'a self,
        t: &'a Transport,
        path: &'a Path,
    ) -> BoxFuture<'a, Result<url::Url, Error>> {
        let _ = path;
        unsupported("upload_sample", t.provider)
    }
}

fn unsupported<T: Send + 'static>(
    operation: &'static str,
    provider: Provider,
) -> BoxFuture<'static, Result<T, Error>> {
    Box::pin(std::future::ready(Err(Error::unsupported(
        operation, provider,
    ))))
}
