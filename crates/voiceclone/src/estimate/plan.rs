//! A dry run: the requests a call would send (never the key) and their billable units.

use std::collections::BTreeMap;
#[cfg(feature = "upload")]
use std::path::Path;

use serde::Serialize;

use super::Estimate;
use crate::error::Error;
#[cfg(feature = "upload")]
use crate::model::AudioSource;
use crate::model::{CloneRequest, Provider, SpeechRequest};
use crate::provider::offline;

/// What stands in a planned body for a value made only when the call is sent.
pub const GENERATED: &str = "<generated when sent>";

/// One request as it would be sent: method, path (under the base URL), the headers this
/// crate chooses (never `Authorization`: the key is added only when sending) and the JSON
/// body the vendor would receive. A value made only at send time (a new idempotency key, the
/// URL of an uploaded recording) reads `<...>`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PlannedRequest {
    /// `POST`, `PUT`, ...
    pub method: &'static str,
    /// The path under the base URL.
    pub path: String,
    /// The headers this crate sets for it (the idempotency key), by name.
    pub headers: BTreeMap<&'static str, String>,
    /// The JSON body (`null` for none).
    pub body: serde_json::Value,
    /// What else happens in this step (an upload's parts, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

impl PlannedRequest {
    pub(crate) fn new(method: &'static str, path: &str, body: serde_json::Value) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: BTreeMap::new(),
            body,
            note: None,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.insert(name, value.into());
        self
    }

    /// Only local recordings' uploads have notes today.
    #[cfg(feature = "upload")]
    pub(crate) fn note(mut self, note: &'static str) -> Self {
        self.note = Some(note);
        self
    }
}

/// What a call would do, checked but not sent: its requests in order, and what it would
/// cost ([`Estimate`]).
///
/// ```
/// use voiceclone::estimate::DryRun;
/// use voiceclone::{CloneRequest, Provider};
///
/// let run = DryRun::clone_voice(
///     Provider::JimmyAi,
///     &CloneRequest::new("https://cdn.example.com/sample.wav").sample_text("Hello."),
///     false,
/// )?;
/// assert_eq!(run.requests.len(), 1);
/// assert_eq!(run.requests[0].method, "POST");
/// assert!(run.requests[0].path.ends_with("/clones"));
/// assert_eq!(run.requests[0].body["contentText"], "Hello.");
/// assert!(!serde_json::to_string(&run).unwrap().contains("Authorization"));
/// # Ok::<(), voiceclone::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DryRun {
    /// The provider.
    pub provider: Provider,
    /// The requests, in the order they would be sent.
    pub requests: Vec<PlannedRequest>,
    /// Their billable units.
    pub billable: Estimate,
}

impl DryRun {
    /// A clone, checked by the provider's rules (`allow_private` as
    /// [`ClientBuilder::allow_private_urls`](crate::ClientBuilder::allow_private_urls)); a
    /// local recording must exist and not be empty (its format and length are checked when
    /// it is sent), and its upload comes first. The request's fields are checked before the
    /// file, as the client checks them: a request wrong in both names the field.
    pub fn clone_voice(
        provider: Provider,
        req: &CloneRequest,
        allow_private: bool,
    ) -> Result<DryRun, Error> {
        let f = offline(provider);
        let requests = (f.plan_clone)(req, allow_private).map_err(|e| e.with_provider(provider))?;
        #[cfg(feature = "upload")]
        if let AudioSource::File(path) = &req.audio {
            local_file(path)?;
        }
        Ok(DryRun {
            provider,
            requests,
            billable: Estimate::clone_voice(provider, req)?,
        })
    }

    /// Speech requests, one task each, checked by the provider's rules.
    pub fn speech(provider: Provider, reqs: &[SpeechRequest]) -> Result<DryRun, Error> {
        let f = offline(provider);
        let billable = Estimate::speech(provider, reqs)?;
        let mut requests = Vec::with_capacity(reqs.len());
        for (i, req) in reqs.iter().enumerate() {
            let planned = (f.plan_speech)(req)
                .map_err(|e| super::in_request(e, i, reqs.len()).with_provider(provider))?;
            requests.push(planned);
        }
        Ok(DryRun {
            provider,
            requests,
            billable,
        })
    }
}

/// A local recording for a dry run: it must exist, be a file and not be empty.
#[cfg(feature = "upload")]
fn local_file(path: &Path) -> Result<(), Error> {
    let refuse = |why: String| crate::sample::refuse(why);
    let meta = std::fs::metadata(path).map_err(|e| {
        refuse(match e.kind() {
            std::io::ErrorKind::NotFound => format!("{}: no such file", path.display()),
            _ => format!("cannot read {}: {e}", path.display()),
        })
    })?;
    if !meta.is_file() {
        return Err(refuse(format!("{} is not a file", path.display())));
    }
    if meta.len() == 0 {
        return Err(refuse(format!("{} is empty", path.display())));
    }
    Ok(())
}
