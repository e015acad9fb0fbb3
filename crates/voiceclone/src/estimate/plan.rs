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

    /// [`clone_voice`](Self::clone_voice), and a local recording given as a file or as bytes
    /// measured as the client measures it before sending anything: within the provider's
    /// upload limit (JimmyAI's 100 MB) and `max_upload_bytes` (what
    /// [`ClientBuilder::max_upload_bytes`](crate::ClientBuilder::max_upload_bytes) was given;
    /// `None` for its default), and for JimmyAI a WAV whose header says 15 s or less refused.
    /// It opens the file and reads a WAV's header; a reader is not read (that would take it).
    /// The same refusal as the call's, so a dry run passes only what the call would send.
    #[cfg(feature = "upload")]
    pub async fn clone_voice_measured(
        provider: Provider,
        req: &CloneRequest,
        allow_private: bool,
        max_upload_bytes: Option<u64>,
    ) -> Result<DryRun, Error> {
        let run = Self::clone_voice(provider, req, allow_private)?;
        if matches!(req.audio, AudioSource::File(_) | AudioSource::Bytes { .. }) {
            let max = max_upload_bytes.unwrap_or(crate::transfer::DEFAULT_MAX_UPLOAD_BYTES);
            crate::provider::measure_clone_recording(provider, &req.audio, max)
                .await
                .map_err(|e| e.with_provider(provider))?;
        }
        Ok(run)
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

#[cfg(all(test, feature = "upload"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::error::ErrorKind;

    /// A 16 kHz mono 16-bit PCM WAV of `secs` seconds of silence.
    fn wav(secs: u32) -> Vec<u8> {
        let data = secs * 32_000;
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + data).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&16_000u32.to_le_bytes());
        v.extend_from_slice(&32_000u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&16u16.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&data.to_le_bytes());
        v.resize(v.len() + data as usize, 0);
        v
    }

    fn refused(r: &Result<DryRun, Error>) -> String {
        match r.as_ref().map_err(Error::kind) {
            Err(ErrorKind::InvalidInput { field, reason }) => format!("{field}: {reason}"),
            other => panic!("not refused as invalid input: {other:?}"),
        }
    }

    /// Review 29-b #4: the measured dry run refuses what the client refuses before sending
    /// (a JimmyAI WAV of 15 s or less; a recording over `max_upload_bytes`), which the plain
    /// one leaves to the call; it passes what the client sends.
    #[tokio::test]
    async fn a_measured_dry_run_refuses_the_recordings_the_client_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short.wav");
        std::fs::write(&short, wav(10)).unwrap();
        let req = CloneRequest::from_file(&short).sample_text("Hi.");
        assert!(DryRun::clone_voice(Provider::JimmyAi, &req, false).is_ok());
        let r = DryRun::clone_voice_measured(Provider::JimmyAi, &req, false, None).await;
        assert!(refused(&r).starts_with("audio_file: ") && refused(&r).contains("15 s"));
        // VMEG has no length rule.
        let req = CloneRequest::from_file(&short);
        assert!(
            DryRun::clone_voice_measured(Provider::Vmeg, &req, false, None)
                .await
                .is_ok()
        );
        let r = DryRun::clone_voice_measured(Provider::Vmeg, &req, false, Some(100)).await;
        assert!(refused(&r).contains("max_upload_bytes"), "{}", refused(&r));
        let long = CloneRequest::from_bytes("long.wav", wav(20)).sample_text("Hi.");
        for p in [Provider::JimmyAi, Provider::Vmeg] {
            let run = DryRun::clone_voice_measured(p, &long, false, None).await;
            assert_eq!(run.unwrap().requests.len(), 2, "{p}");
        }
    }
}
