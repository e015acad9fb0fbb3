//! The one interface every vendor implements ([`Backend`]), and what a backend is built
//! from ([`Connect`]).

use std::fmt;
use std::time::Duration;

use super::facts;
use crate::error::Error;
#[cfg(feature = "upload")]
use crate::model::AudioSource;
use crate::model::{
    CloneJob, CloneRequest, JobId, JobKind, Provider, SpeechJob, SpeechRequest, TaskDetail,
    TaskSummary, Voice,
};
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
    /// Uploads of local recordings: the transfer client, progress, the multipart threshold.
    #[cfg(feature = "upload")]
    pub(crate) uploads: crate::transfer::Uploads,
}

impl Connect {
    /// The generated client's configuration: bearer key, body limit, the key's text filter
    /// (every answer is scrubbed as it is decoded), and timeouts (one for everything when the
    /// caller set one; else the default, with `long_ops` given theirs).
    pub(crate) fn config(
        &self,
        long_ops: &[(&'static str, Duration)],
    ) -> Result<client_glue::ClientConfig, Error> {
        // Every string of every answer is scrubbed of the key as it is decoded. The scrubber
        // removes every piece of the key, so it replaces client-glue's search for the whole
        // key rather than running before it (one search per string, not two).
        let scrubber = std::sync::Arc::new(crate::scrub::Scrubber::new(self.api_key.expose()));
        // `build` refuses a base URL with credentials, a query or a fragment, so no answer's
        // URL holds one: client-glue's rebuild of such answers is left out of the binary.
        let mut config = client_glue::ClientConfig::bearer_for_checked_base_url(
            self.api_key.expose(),
            crate::scrub::text_filter(&scrubber),
        )
        .map_err(|_| {
            Error::invalid_input("api_key", "cannot be sent in an HTTP header")
                .with_provider(self.provider)
        })?
        .with_max_response_bytes(self.max_response_bytes);
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
pub(crate) fn backend(provider: Provider, connect: &Connect) -> Result<AnyBackend, Error> {
    (facts(provider).connect)(connect)
}

/// The backend a client holds: one variant per vendor, each calling its [`Backend`] impl.
///
/// An enum rather than `Box<dyn Backend>`: a trait object's vtable names every operation of
/// every vendor, so a program making one call linked them all (issue 17 measures a one-call
/// program's binary). Calls through the enum are static, and the linker keeps only the
/// operations a program reaches. Adding a vendor is one variant and one arm of `each!`.
#[derive(Debug)]
pub(crate) enum AnyBackend {
    Vmeg(super::vmeg::Vmeg),
    JimmyAi(super::jimmyai::JimmyAi),
}

/// Runs `$call` on whichever vendor's backend `$any` holds.
macro_rules! each {
    ($any:expr, $b:ident => $call:expr) => {
        match $any {
            AnyBackend::Vmeg($b) => $call,
            AnyBackend::JimmyAi($b) => $call,
        }
    };
}

/// The [`Backend`] operations, dispatched statically (see [`AnyBackend`]).
impl AnyBackend {
    pub(crate) fn clone_voice<'a>(
        &'a self,
        t: &'a Transport,
        req: &'a CloneRequest,
        allow_private: bool,
    ) -> BoxFuture<'a, Result<CloneJob, Error>> {
        each!(self, b => b.clone_voice(t, req, allow_private))
    }

    pub(crate) fn clone_status<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<CloneJob, Error>> {
        each!(self, b => b.clone_status(t, id))
    }

    pub(crate) fn cloned_voice<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
        job: CloneJob,
    ) -> BoxFuture<'a, Result<Voice, Error>> {
        each!(self, b => b.cloned_voice(t, id, job))
    }

    pub(crate) fn synthesize<'a>(
        &'a self,
        t: &'a Transport,
        req: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<SpeechJob, Error>> {
        each!(self, b => b.synthesize(t, req))
    }

    pub(crate) fn speech_status<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<SpeechJob, Error>> {
        each!(self, b => b.speech_status(t, id))
    }

    pub(crate) fn list_voices<'a>(
        &'a self,
        t: &'a Transport,
    ) -> BoxFuture<'a, Result<Vec<Voice>, Error>> {
        each!(self, b => b.list_voices(t))
    }

    pub(crate) fn rename_voice<'a>(
        &'a self,
        t: &'a Transport,
        voice_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        each!(self, b => b.rename_voice(t, voice_id, name))
    }

    pub(crate) fn delete_voice<'a>(
        &'a self,
        t: &'a Transport,
        voice_id: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        each!(self, b => b.delete_voice(t, voice_id))
    }

    pub(crate) fn tasks_page<'a>(
        &'a self,
        t: &'a Transport,
        kind: Option<JobKind>,
        page: i64,
    ) -> BoxFuture<'a, Result<super::paging::Page<TaskSummary>, Error>> {
        each!(self, b => b.tasks_page(t, kind, page))
    }

    pub(crate) fn task<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<TaskDetail, Error>> {
        each!(self, b => b.task(t, id))
    }

    pub(crate) fn delete_task<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<(), Error>> {
        each!(self, b => b.delete_task(t, id))
    }

    pub(crate) fn voices_page<'a>(
        &'a self,
        t: &'a Transport,
        system: bool,
        name: Option<&'a str>,
        page: i64,
    ) -> BoxFuture<'a, Result<super::paging::VoicePage, Error>> {
        each!(self, b => b.voices_page(t, system, name, page))
    }

    #[cfg(feature = "upload")]
    pub(crate) fn upload<'a>(
        &'a self,
        t: &'a Transport,
        source: &'a AudioSource,
        allow_private: bool,
    ) -> BoxFuture<'a, Result<url::Url, Error>> {
        each!(self, b => b.upload(t, source, allow_private))
    }
}

/// A boxed, sendable future: what a [`Backend`] returns, so that it can live behind `dyn`.
pub(crate) type BoxFuture<'a, T> = crate::sleep::BoxFuture<'a, T>;

/// One vendor, as the client sees it: every call in normalized types. Each method validates
/// its input first (nothing is sent when it is refused) and calls the vendor's generated
/// client through [`Transport::send`](crate::transport::Transport::send).
///
/// The client holds it as an [`AnyBackend`]. Each method returns a boxed future: one
/// allocation per call, next to a request, and one future type per operation whatever the
/// vendor.
pub(crate) trait Backend: Send + Sync + fmt::Debug {
    /// Submits a clone (never waits for it); a local recording is uploaded first.
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

    /// One page of the account's task list, of one kind when `kind` is set (issue 14:
    /// task management; see `client/manage.rs`).
    fn tasks_page<'a>(
        &'a self,
        t: &'a Transport,
        kind: Option<JobKind>,
        page: i64,
    ) -> BoxFuture<'a, Result<super::paging::Page<TaskSummary>, Error>> {
        let _ = (kind, page);
        unsupported("tasks", t.provider)
    }

    /// One task, typed by what the vendor says it is.
    fn task<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<TaskDetail, Error>> {
        let _ = id;
        unsupported("task", t.provider)
    }

    /// Deletes a task record.
    fn delete_task<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let _ = id;
        unsupported("delete_task", t.provider)
    }

    /// One page of the cloned voices (with the task that made each, when listed), or of
    /// the system voices when `system`; only voices named like `name` when it is set.
    fn voices_page<'a>(
        &'a self,
        t: &'a Transport,
        system: bool,
        name: Option<&'a str>,
        page: i64,
    ) -> BoxFuture<'a, Result<super::paging::VoicePage, Error>> {
        let _ = (system, name, page);
        unsupported(if system { "system_voices" } else { "voices" }, t.provider)
    }

    /// Uploads a local recording and returns the URL to clone it from.
    #[cfg(feature = "upload")]
    fn upload<'a>(
        &'a self,
        t: &'a Transport,
        source: &'a AudioSource,
        allow_private: bool,
    ) -> BoxFuture<'a, Result<url::Url, Error>> {
        let _ = (source, allow_private);
        unsupported("upload", t.provider)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The generated clients the adapter builds check the headers of every answer with the
    /// adapter's scrubber, as they do the strings of its body: a server echoing the key
    /// lower-cased, cut, percent-encoded, in hex or in base64 (`user:key`, as in a Basic
    /// header) in a header (which progenitor's `UnexpectedResponse` prints, and a
    /// `ResponseValue` keeps) shows no piece of it.
    #[tokio::test]
    async fn the_generated_clients_check_headers_with_the_adapters_scrubber() {
        use base64::Engine as _;
        const KEY: &str = "sk-live-0123456789abcdefXYZ";
        let encoded: String = KEY.bytes().map(|b| format!("%{b:02X}")).collect();
        let hex: String = KEY.bytes().map(|b| format!("{b:02x}")).collect();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("u:{KEY}"));
        let server = httpmock::MockServer::start_async().await;
        server.mock(|when, then| {
            when.path_includes("/tasks/detail");
            then.status(401)
                .header("x-lower", format!("Bearer {}", KEY.to_ascii_lowercase()))
                .header("x-cut", "key ends 89abcdefXYZ")
                .header("x-encoded", encoded.as_str())
                .header("x-hex", hex.as_str())
                .header("x-basic", format!("Basic {basic}"))
                .body("{}");
        });
        let connect = Connect {
            base: server.base_url(),
            http: client_glue::http_client().unwrap(),
            provider: Provider::Vmeg,
            api_key: crate::secret::ApiKey::new(KEY),
            timeout_override: None,
            max_response_bytes: 1 << 20,
            #[cfg(feature = "upload")]
            uploads: crate::transfer::Uploads {
                http: crate::storage::StorageClient::new(false),
                progress: None,
                multipart_threshold: None,
                put_timeout: crate::transfer::PUT_TIMEOUT,
                max_bytes: crate::transfer::DEFAULT_MAX_UPLOAD_BYTES,
                slots: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
            },
        };
        let client = vmeg_client::Client::new_with_client(
            &connect.base,
            connect.http.clone(),
            connect.config(&[]).unwrap(),
        );
        let Err(err) = client.tasks_detail(None, "t-1").await else {
            unreachable!("the server answers 401")
        };
        let shown = format!("{err} {err:?}");
        assert!(
            !crate::scrub::Scrubber::new(KEY).finds_secret_in(&shown),
            "{shown}"
        );
        for echo in [&encoded, &hex, &basic] {
            assert!(!shown.contains(echo.as_str()), "{shown}");
        }
        assert_eq!(shown.matches("[redacted]").count(), 10, "{shown}");
    }
}
