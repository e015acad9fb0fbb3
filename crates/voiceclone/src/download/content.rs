//! Which answers count as audio, and which file extension a download gets.

use url::Url;

/// `Content-Type` values (their media type, parameters ignored, case-insensitive) a download
/// accepts:
///
/// - `audio/*`: what a vendor's result URL should serve;
/// - `application/octet-stream` and `binary/octet-stream`: what object storage and CDNs
///   serve for a file uploaded without a type (S3's defaults);
/// - `application/ogg`: the registered type of Ogg files (RFC 5334 also allows it);
/// - no `Content-Type` at all: the server claims nothing, and it is not an error page.
///
/// Anything else is refused, above all `text/html` (an error or login page served with a
/// 200) and `application/json` / `application/xml` (an API or storage error).
pub const ACCEPTED_CONTENT_TYPES: &[&str] = &[
    "audio/*",
    "application/octet-stream",
    "binary/octet-stream",
    "application/ogg",
];

/// The media type of a `Content-Type` value: lowercase, without parameters.
pub(crate) fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether a download with this `Content-Type` (or none) is accepted; see
/// [`ACCEPTED_CONTENT_TYPES`].
pub(crate) fn accepted(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return true;
    };
    let e = essence(ct);
    e.strip_prefix("audio/").is_some_and(|sub| !sub.is_empty())
        || matches!(
            e.as_str(),
            "application/octet-stream" | "binary/octet-stream" | "application/ogg"
        )
}

/// Every extension [`extension_for`] may give a download (`bin` when nothing says what the
/// audio is): what a caller checking which files a download could replace looks for.
pub const EXTENSIONS: &[&str] = &[
    "wav", "mp3", "m4a", "aac", "ogg", "oga", "opus", "flac", "webm", "mp4", "pcm", "bin",
];

/// Extensions a download may take from its URL's path when the `Content-Type` does not
/// say (an octet-stream, or none).
const URL_EXTENSIONS: &[&str] = &[
    "wav", "mp3", "m4a", "aac", "ogg", "oga", "opus", "flac", "webm", "mp4", "pcm",
];

/// The file extension (without the dot) for a download: from its `Content-Type` when that
/// names an audio format, else from the last path segment of its URL when that ends in a
/// known audio extension, else `bin`.
///
/// ```
/// use url::Url;
/// use voiceclone::download::extension_for;
///
/// let url = Url::parse("https://cdn.example.com/r/123.mp3?sig=x").unwrap();
/// assert_eq!(extension_for(Some("audio/wav"), &url), "wav");
/// assert_eq!(extension_for(Some("application/octet-stream"), &url), "mp3");
/// assert_eq!(extension_for(None, &Url::parse("https://cdn.example.com/r/123").unwrap()), "bin");
/// ```
pub fn extension_for(content_type: Option<&str>, url: &Url) -> &'static str {
    if let Some(ext) = content_type.and_then(|ct| by_type(&essence(ct))) {
        return ext;
    }
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default();
    let from_url = last
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase());
    from_url
        .and_then(|ext| URL_EXTENSIONS.iter().copied().find(|e| *e == ext))
        .unwrap_or("bin")
}

fn by_type(essence: &str) -> Option<&'static str> {
    Some(match essence {
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => "wav",
        "audio/mpeg" | "audio/mp3" | "audio/mpeg3" | "audio/x-mpeg-3" => "mp3",
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" => "m4a",
        "audio/aac" | "audio/x-aac" | "audio/aacp" => "aac",
        "audio/ogg" | "application/ogg" | "audio/vorbis" => "ogg",
        "audio/opus" => "opus",
        "audio/flac" | "audio/x-flac" => "flac",
        "audio/webm" => "webm",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_extension_given_is_listed() {
        for ext in URL_EXTENSIONS {
            assert!(EXTENSIONS.contains(ext), "{ext}");
        }
        for ct in ACCEPTED_CONTENT_TYPES.iter().chain(
            [
                "audio/wav",
                "audio/mpeg",
                "audio/mp4",
                "audio/aac",
                "audio/ogg",
                "audio/opus",
                "audio/flac",
                "audio/webm",
            ]
            .iter(),
        ) {
            let ext = extension_for(Some(ct), &Url::parse("https://h/x").unwrap());
            assert!(EXTENSIONS.contains(&ext), "{ct}: {ext}");
        }
        assert!(EXTENSIONS.contains(&"bin"));
    }

    #[test]
    fn what_is_accepted() {
        for ok in [
            None,
            Some("audio/wav"),
            Some("Audio/MPEG; charset=binary"),
            Some("application/octet-stream"),
            Some("binary/octet-stream"),
            Some("application/ogg"),
        ] {
            assert!(accepted(ok), "{ok:?}");
        }
        for bad in [
            "text/html",
            "text/html; charset=utf-8",
            "application/json",
            "application/xml",
            "text/plain",
            "audio/",
            "video/mp4",
            "",
        ] {
            assert!(!accepted(Some(bad)), "{bad}");
        }
    }

    #[test]
    fn extensions() {
        let u = |s: &str| Url::parse(s).unwrap();
        let plain = u("https://c.example.com/x");
        assert_eq!(extension_for(Some("audio/x-wav"), &plain), "wav");
        assert_eq!(extension_for(Some("audio/mpeg"), &plain), "mp3");
        assert_eq!(extension_for(Some("audio/x-m4a"), &plain), "m4a");
        assert_eq!(extension_for(Some("audio/flac"), &plain), "flac");
        assert_eq!(extension_for(Some("audio/unknown"), &plain), "bin");
        assert_eq!(
            extension_for(None, &u("https://c.example.com/a/b.WAV?s=1")),
            "wav"
        );
        assert_eq!(
            extension_for(None, &u("https://c.example.com/a.exe")),
            "bin"
        );
        assert_eq!(
            extension_for(Some("audio/wav"), &u("https://c.example.com/a.mp3")),
            "wav"
        );
    }
}
