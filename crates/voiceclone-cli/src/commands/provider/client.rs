//! The adapter's client as the provider commands build it: the target's key and base URL,
//! the webhook hub, and a local recording's upload progress.

use voiceclone::webhook::CompletionHub;
use voiceclone::{AudioSource, Client, UploadProgress};

use crate::context::Target;
use crate::output::Failure;
use crate::spinner::UploadBar;

/// Builds an adapter client for a resolved target, waiting by webhook when given a hub.
pub fn build_client(t: &Target, hub: Option<CompletionHub>) -> Result<Client, Failure> {
    build_client_with(t, hub, &UploadBar::new(false), None)
}

/// [`build_client`], reporting uploads to `bar` and to `seen`.
pub(super) fn build_client_with(
    t: &Target,
    hub: Option<CompletionHub>,
    bar: &UploadBar,
    seen: Option<&UploadSeen>,
) -> Result<Client, Failure> {
    let mut b = Client::builder(t.provider)
        .api_key(t.api_key.as_str())
        .allow_private_urls(t.allow_private_urls)
        .sleeper(std::sync::Arc::new(crate::retry_hold::HoldableSleeper));
    if let Some(url) = &t.base_url {
        b = b.base_url(url.as_str());
    }
    if let Some(hub) = hub {
        b = b.completion_hub(hub);
    }
    let shown = bar.callback();
    match seen.cloned() {
        Some(seen) => {
            b = b.on_upload_progress(move |p| {
                seen.record(p);
                if let Some(show) = &shown {
                    show(p);
                }
            });
        }
        None => {
            if let Some(show) = shown {
                b = b.on_upload_progress(show);
            }
        }
    }
    b.build().map_err(Failure::from)
}

/// How far a clone's local recording has gone up, as the adapter reported it: what a signal
/// during the submit needs to tell "no create sent yet" from "not known". The last report,
/// and whether any report ever reached the total (a report of an earlier attempt, its body
/// still sent by the HTTP stack after its answer, can arrive after the final one's).
#[derive(Clone, Default)]
pub(super) struct UploadSeen(std::sync::Arc<std::sync::Mutex<(Option<UploadProgress>, bool)>>);

impl UploadSeen {
    fn record(&self, p: UploadProgress) {
        // A poisoned lock only means a panic elsewhere; the value is still a plain copy.
        let mut seen = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.1 |= p.sent >= p.total;
        seen.0 = Some(p);
    }

    /// Whether the recording was seen part way up and never whole: the library sends the
    /// create only after the whole upload was read and answered (an answer before the last
    /// byte was read fails the upload), so a recording never reported whole proves no create
    /// was sent. No report at all proves nothing (VMEG's instant upload of a file it holds
    /// sends no bytes, and a URL clone none), nor does a report at the total (the upload's
    /// answer, VMEG's `complete`, or the create may be in flight).
    pub(super) fn part_way(&self) -> bool {
        let seen = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        !seen.1 && seen.0.is_some_and(|p| p.sent < p.total)
    }
}

/// The clone's recording: an argument that parses as an http(s) URL is a URL, anything else
/// a local path.
pub(crate) fn audio_source(arg: &str) -> AudioSource {
    match url::Url::parse(arg.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => AudioSource::Url(arg.trim().to_owned()),
        _ => AudioSource::File(arg.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review 26 pass 2 (files) #1: a recording once reported whole is never "part way" again,
    /// even when a report short of the total comes after it (an earlier attempt's body, still
    /// sent by the HTTP stack after its answer): the create may be in flight, so a signal then
    /// is an unknown outcome, not "no clone was submitted". No report at all is not part way.
    #[test]
    fn a_recording_once_reported_whole_is_never_part_way_again() {
        let seen = UploadSeen::default();
        assert!(!seen.part_way(), "no report proves nothing");
        seen.record(UploadProgress::new(10, 100));
        assert!(seen.part_way());
        seen.record(UploadProgress::new(100, 100));
        assert!(!seen.part_way());
        seen.record(UploadProgress::new(40, 100));
        assert!(!seen.part_way(), "a late report of an earlier attempt");
    }

    #[test]
    fn an_http_url_is_a_url_and_anything_else_a_path() {
        // README: "An argument that parses as an `http(s)` URL is a URL; anything else is a
        // local path."
        for url in [
            "https://cdn.example.com/a.wav",
            " http://127.0.0.1:9/a.wav ",
        ] {
            assert!(
                audio_source(url) == AudioSource::Url(url.trim().to_owned()),
                "{url}"
            );
        }
        for path in [
            "./sample.wav",
            "sample.wav",
            "ftp://host/a.wav",
            "C:\\a.wav",
            "/tmp/a b.wav",
        ] {
            assert!(
                audio_source(path) == AudioSource::File(path.into()),
                "{path}"
            );
        }
    }
}
