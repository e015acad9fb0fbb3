//! What the tests of `FakeClient` ask of it again and again.

use voiceclone::fake::FakeClient;
use voiceclone::{CloneRequest, ErrorKind, VoiceCloning};

/// The error `fake` answers a clone of the usual recording with, checked to be the refusal of
/// its script (`InvalidInput` naming `script`).
pub async fn clone_refused_for_its_script(fake: &FakeClient) -> voiceclone::Error {
    let err = fake
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "script"),
        "{err}"
    );
    err
}
