//! A request's checks without a client: the rules each backend runs before it sends, for
//! the test fake (`crate::fake`), so a request the real client would refuse is refused there
//! too, with the same error.

use crate::error::Error;
use crate::model::{CloneRequest, Provider, SpeechRequest};

/// The clone checks: every field, and the recording's URL when it is one (a local recording
/// is checked by the upload, which reads it).
pub(crate) fn clone_request(
    provider: Provider,
    req: &CloneRequest,
    allow_private: bool,
) -> Result<(), Error> {
    let checked = match (provider, req.audio_url().is_some()) {
        (Provider::Vmeg, true) => super::vmeg::rules::clone_request(req, allow_private).map(drop),
        (Provider::Vmeg, false) => super::vmeg::rules::clone_fields(req),
        (Provider::JimmyAi, true) => {
            super::jimmyai::rules::clone_request(req, allow_private).map(drop)
        }
        (Provider::JimmyAi, false) => super::jimmyai::rules::clone_fields(req),
    };
    checked.map_err(|e| e.with_provider(provider))
}

/// The speech checks (the voice ids' provider and activation are checked by the caller,
/// as `Client::synthesize` does).
pub(crate) fn speech_request(provider: Provider, req: &SpeechRequest) -> Result<(), Error> {
    let checked = match provider {
        Provider::Vmeg => super::vmeg::rules::speech_request(req),
        Provider::JimmyAi => super::jimmyai::rules::speech_request(req),
    };
    checked.map_err(|e| e.with_provider(provider))
}
