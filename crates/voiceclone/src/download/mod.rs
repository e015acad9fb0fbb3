//! Downloads of results: the audio a vendor hands out as a URL, streamed to a file
//! ([`Client::download_to_path`](crate::Client::download_to_path),
//! [`Client::download_to_dir`](crate::Client::download_to_dir)) or to any async writer
//! ([`Client::download_to_writer`](crate::Client::download_to_writer)).
//!
//! What every download guarantees:
//!
//! - **Where it may go.** An absolute `https` URL without credentials on a public host;
//!   plain `http` and loopback or private hosts only with
//!   [`ClientBuilder::allow_private_urls`](crate::ClientBuilder::allow_private_urls) (a
//!   local simulator). The same rules as reference-audio URLs, checked on the URL and on
//!   every one of at most [`MAX_REDIRECTS`] redirects, which this crate follows itself; a
//!   host name is connected to only at its public addresses (one that resolves to none is
//!   a refused URL, `DownloadFailure::UrlRefused`, not retried).
//! - **No credentials.** The request carries no `Authorization` header and nothing of the
//!   API key: it goes through a `reqwest::Client` this crate builds for downloads alone (no
//!   default headers, no cookies, no redirects of its own), never through a caller's client.
//!   A URL the caller passes or a redirect's `Location` holding a piece of the key (in any
//!   case, percent-encoded: what the client's scrubber finds) is refused before anything is
//!   sent to it (`DownloadFailure::UrlRefused`, `DownloadFailure::RedirectRefused`).
//! - **Bounded.** At most [`ClientBuilder::max_download_bytes`](crate::ClientBuilder::max_download_bytes)
//!   (default [`DEFAULT_MAX_DOWNLOAD_BYTES`]), enforced on the declared `Content-Length`
//!   and again on every chunk as it streams; no byte for
//!   [`download_idle_timeout`](crate::ClientBuilder::download_idle_timeout) (default
//!   [`DEFAULT_DOWNLOAD_IDLE_TIMEOUT`]) or the whole download beyond
//!   [`download_timeout`](crate::ClientBuilder::download_timeout) (default
//!   [`DEFAULT_DOWNLOAD_TIMEOUT`]) ends it with `Timeout`.
//! - **Whole answers only.** The final answer must be a 200 or 203 with at least one body
//!   byte: another 2xx (204 No Content, 202 Accepted, a 206 fragment nobody asked for) is
//!   [`DownloadFailure::UnexpectedStatus`], an empty body [`DownloadFailure::Empty`], and
//!   neither leaves anything at the path. Its end must be told from a cut: an HTTP/1 answer
//!   with neither a `Content-Length` nor chunked framing ends at the close, as one cut short
//!   does, and is refused at its headers ([`DownloadFailure::UnknownLength`]).
//! - **Audio only.** The `Content-Type` must be one of [`ACCEPTED_CONTENT_TYPES`] (or absent);
//!   an HTML error page served with a 200 is refused.
//! - **Streamed.** The body is never held whole in memory: each chunk goes to the destination
//!   as it arrives.
//! - **All or nothing on disk.** A file download writes to a temporary file in the
//!   destination's directory and renames it into place when complete; a failure (or a
//!   dropped future) removes the temporary file and leaves nothing at the path. The
//!   temporary file is a hidden `.voiceclone-download-*.part`; a process killed while a
//!   body streams (SIGKILL, the OOM killer, a power loss) leaves it behind, and nothing
//!   removes it later. A directory, FIFO, socket or device at the target (or a symlink to
//!   one) is refused, not replaced by the rename: it is looked for before anything is sent
//!   when the caller gave the path, once the answer's headers name the file, and again just
//!   before the rename.
//!   Only one made in the moment between that last look and the rename is still replaced:
//!   no portable rename can replace a regular file and refuse anything else in one step.
//! - **Retried like a read** until the first byte of the body: connection failures, 5xx and
//!   429 answers are retried by the client's [`RetryPolicy`](crate::RetryPolicy); a body cut
//!   off midway is not resumed (the error says so).
//! - **Typed errors, no secrets.** Errors carry the operation `download`
//!   ([`Error::operation`](crate::Error::operation)); refusals are
//!   [`ErrorKind::Download`](crate::ErrorKind::Download) with a [`DownloadFailure`]; a URL in
//!   an error or a log line never shows its query string (signed URLs carry signatures there).

mod content;
mod dest;
mod fetch;
mod target;

use std::path::PathBuf;
use std::time::Duration;

pub use crate::error::DownloadFailure;
pub use content::{ACCEPTED_CONTENT_TYPES, EXTENSIONS, extension_for};
pub(crate) use dest::{Unfit, unfit};
pub(crate) use fetch::Downloads;

/// The most redirects a download follows.
pub const MAX_REDIRECTS: usize = 5;

/// The default cap on one download: 256 MiB. A vendor's longest result (JimmyAI: 10,000
/// characters, about 40 minutes of speech) is about 115 MB as 24 kHz 16-bit mono WAV; the cap
/// leaves room for higher rates while keeping a hostile or broken server from filling a disk.
pub const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 256 * 1024 * 1024;

/// The default limit on one whole download (10 minutes).
pub const DEFAULT_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);

/// The default limit on waiting for the answer's headers or for the next chunk of its body
/// (30 seconds): a stalled server ends the download instead of hanging it.
pub const DEFAULT_DOWNLOAD_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A finished file download.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// Where the file is (complete: it was renamed into place after the last byte).
    pub path: PathBuf,
    /// Its size in bytes (never 0: an empty answer is refused).
    pub bytes: u64,
    /// The `Content-Type` the server sent, if any: any piece of the API key in it replaced by
    /// `[redacted]` (a host may echo the key in a parameter), control characters dropped, at
    /// most 200 characters kept.
    pub content_type: Option<String>,
}
