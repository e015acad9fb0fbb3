//! Each vendor's dialect: envelope, code table, status table, wire shapes, and the one
//! [`Backend`] per vendor that the client calls.
//!
//! Everything above this module speaks only the normalized types in [`crate::model`]. The
//! only `match`es on [`Provider`] in this crate are the vendor tables [`facts`] and [`offline`]
//! (and [`build_backend`] reads the first) and [`AnyBackend`]'s dispatch: a new vendor is one
//! module here plus its entries there (see `docs/adding-a-provider.md`).

pub(crate) mod backend;
pub(crate) mod jimmyai;
#[cfg(test)]
mod operation_names;
pub(crate) mod paging;
#[cfg(test)]
mod rules_tests;
pub(crate) mod vmeg;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub(crate) use backend::{AnyBackend, Backend, BoxFuture, Connect, backend as build_backend};

use crate::error::Error;
use crate::model::{CloneRequest, ParseError, Provider};
use crate::transport::Dialect;

/// What the rest of the crate needs to know about a vendor without calling it.
pub(crate) struct Facts {
    /// The lowercase name (command line, env-var prefix, serde).
    pub(crate) name: &'static str,
    /// The vendor's documented production base URL.
    pub(crate) default_base_url: &'static str,
    /// The path every generated route starts with (`/openapi/v1`, from the spec).
    pub(crate) route_root: &'static str,
    /// Where `Client::from_env` reads the key and an optional base URL.
    pub(crate) api_key_var: &'static str,
    pub(crate) base_url_var: &'static str,
    /// How its envelopes read: success code, business-code table, whether codes mirror
    /// HTTP statuses.
    pub(crate) dialect: Dialect,
    /// Sets the clone engine named in the vendor's own words (`CloneRequest::engine`).
    pub(crate) set_engine: fn(CloneRequest, &str) -> Result<CloneRequest, ParseError>,
    /// Its default wait (`WaitPolicy::for_provider`).
    pub(crate) wait: WaitDefaults,
    /// Whether it reports results by signed webhook (a `CompletionHub` can serve its waits).
    pub(crate) webhooks: bool,
    /// Builds the backend (the generated client and anything it keeps).
    pub(crate) connect: fn(&Connect) -> Result<AnyBackend, Error>,
}

/// What a vendor answers without a call: its billing rules and what a call would send.
///
/// Apart from [`Facts`] because every client reads `Facts`: a function named there is linked
/// into every program, and these are only for programs that estimate or plan (issue 17
/// measures a one-call program's binary).
pub(crate) struct Offline {
    /// The published billing rules (`crate::estimate`).
    pub(crate) estimate_clone: fn(&CloneRequest) -> Result<crate::estimate::Estimate, Error>,
    pub(crate) estimate_speech:
        fn(&[crate::model::SpeechRequest]) -> Result<crate::estimate::Estimate, Error>,
    /// What a call would send (`crate::estimate::DryRun`).
    pub(crate) plan_clone:
        fn(&CloneRequest, bool) -> Result<Vec<crate::estimate::PlannedRequest>, Error>,
    pub(crate) plan_speech:
        fn(&crate::model::SpeechRequest) -> Result<crate::estimate::PlannedRequest, Error>,
}

/// A vendor's polling advice: the defaults of `WaitPolicy::for_provider`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitDefaults {
    pub(crate) first_interval: Duration,
    pub(crate) growth: f64,
    pub(crate) max_interval: Duration,
    pub(crate) jitter: f64,
    pub(crate) deadline: Option<Duration>,
    pub(crate) max_polls: Option<u32>,
}

/// For the fake: the answer `provider` fails a call with for `kind`, as `(HTTP status,
/// code)`: VMEG's codes are the HTTP statuses of its table (api-facts A3); JimmyAI's
/// refusals come as its (UNCONFIRMED) codes over HTTP 200, which the client marks
/// unconfirmed and, on a create, never calls resubmittable. `None` for a kind no answer
/// carries (a timeout, a transport failure, an answer not understood).
#[cfg(feature = "fake")]
pub(crate) fn answer_for(provider: Provider, kind: &crate::error::ErrorKind) -> Option<(u16, i64)> {
    match provider {
        Provider::JimmyAi => jimmyai::code_for_kind(kind).map(|code| (200, code)),
        Provider::Vmeg => vmeg::code_for_kind(kind).map(|code| (code, i64::from(code))),
    }
}

/// For the fake: the failure reason a job read as failed from the vendor's word `word`
/// carries, `reason` being the one the task names, as `provider`'s client words it (VMEG
/// says a failure read from a word it does not document is an assumption).
#[cfg(feature = "fake")]
pub(crate) fn failure_reason(provider: Provider, word: &str, reason: String) -> String {
    match provider {
        Provider::Vmeg => {
            vmeg::failure_reason(&crate::model::TaskStatus::Failed, Some(word), || {
                Some(reason.clone())
            })
            .unwrap_or(reason)
        }
        Provider::JimmyAi => reason,
    }
}

/// For the fake: a clone from a local recording whose submit failed after the upload, as
/// `provider`'s client reports it (the step named; VMEG notes a refusal).
#[cfg(all(feature = "fake", feature = "upload"))]
pub(crate) fn submit_after_upload_failed(provider: Provider, e: Error) -> Error {
    match provider {
        Provider::Vmeg => vmeg::submit_after_upload_failed(e),
        Provider::JimmyAi => e.with_step(crate::error::UploadStep::SubmitClone),
    }
}

/// A local recording for a clone, checked as `provider`'s clone from it checks it before
/// sending anything (its size within the provider's limit and `max_bytes`, the client's
/// `max_upload_bytes`; for JimmyAI its format and a WAV's length): the fake and dry runs
/// call this, so that they refuse what the client refuses, in its words.
#[cfg(feature = "upload")]
pub(crate) async fn measure_clone_recording(
    provider: Provider,
    source: &crate::model::AudioSource,
    max_bytes: u64,
) -> Result<(), Error> {
    match provider {
        Provider::JimmyAi => jimmyai::measured_recording(source, max_bytes, true)
            .await
            .map(drop),
        Provider::Vmeg => vmeg::measured_recording(source, max_bytes).await.map(drop),
    }
}

/// The vendor table: the one `match` on [`Provider`].
pub(crate) const fn facts(provider: Provider) -> &'static Facts {
    match provider {
        Provider::Vmeg => &vmeg::FACTS,
        Provider::JimmyAi => &jimmyai::FACTS,
    }
}

/// The vendor table of estimates and plans (see [`Offline`] for why it is a second table).
pub(crate) const fn offline(provider: Provider) -> &'static Offline {
    match provider {
        Provider::Vmeg => &vmeg::OFFLINE,
        Provider::JimmyAi => &jimmyai::OFFLINE,
    }
}

// The vendor facts every caller sees, on the public types (an inherent `impl` may live in
// any module of the crate: here, next to the vendor table, so `model` stays vendor-free).
impl Provider {
    /// Both providers, in a stable order.
    pub const ALL: [Provider; 2] = [Provider::Vmeg, Provider::JimmyAi];

    /// The lowercase name used on the command line, in environment variables' prefixes and in serde.
    pub const fn as_str(self) -> &'static str {
        facts(self).name
    }

    /// The environment variable [`crate::Client::from_env`] reads the API key from
    /// (`VMEG_API_KEY`, `JIMMYAI_API_KEY`).
    pub const fn api_key_var(self) -> &'static str {
        facts(self).api_key_var
    }

    /// The environment variable [`crate::Client::from_env`] reads an optional base URL from
    /// (`VMEG_BASE_URL`, `JIMMYAI_BASE_URL`).
    pub const fn base_url_var(self) -> &'static str {
        facts(self).base_url_var
    }

    /// The vendor's documented production base URL.
    pub const fn default_base_url(self) -> &'static str {
        facts(self).default_base_url
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<String> = Provider::ALL
                    .iter()
                    .map(|p| format!("{:?}", p.as_str()))
                    .collect();
                ParseError::new(
                    "provider",
                    format!(
                        "unknown provider {:?}; expected {}",
                        crate::model::Excerpt::of(s),
                        names.join(" or ")
                    ),
                )
            })
    }
}

impl CloneRequest {
    /// Picks the clone engine by name, in `provider`'s own words: VMEG `V1`..`V5`
    /// ([`VmegEngine`](crate::VmegEngine)), JimmyAI `v1`/`v2` ([`SoundVersion`](crate::SoundVersion)). For a caller (a command
    /// line, a config file) that holds the engine as text and the provider as a value.
    pub fn engine(self, provider: Provider, engine: &str) -> Result<Self, ParseError> {
        (facts(provider).set_engine)(self, engine)
    }
}

/// A job's status word when its vendor does not document it (VMEG's guessed words;
/// JimmyAI's are documented): its status is then an assumption (see `Job::assumed_status`).
pub(crate) fn assumed_status<J: crate::model::Job>(job: &J) -> Option<&str> {
    assumed_word(job.provider(), job.vendor_status())
}

/// `raw`, a status word of `provider`, when the vendor does not document it (see
/// [`assumed_status`]); for task summaries too.
pub(crate) fn assumed_word(provider: Provider, raw: Option<&str>) -> Option<&str> {
    match provider {
        Provider::Vmeg => raw.filter(|raw| vmeg::status_is_assumed(raw)),
        _ => None,
    }
}

/// The error an envelope with a failure `code` stands for, for `provider` (tests, and the
/// fake, which answers as the vendor does).
#[cfg(any(test, feature = "fake"))]
pub(crate) fn error_for_code(
    provider: Provider,
    status: u16,
    retry_after: Option<Duration>,
    code: i64,
    message: &str,
) -> Error {
    crate::transport::error_for_code(&facts(provider).dialect, status, retry_after, code, message)
}
