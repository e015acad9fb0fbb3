//! Why a download of a result (audio a vendor handed out as a URL) was refused or could not
//! be finished: the failures that are neither a plain HTTP status nor a network error (those
//! keep their usual kinds, [`ErrorKind::Server`](super::ErrorKind::Server),
//! [`ErrorKind::Timeout`](super::ErrorKind::Timeout), ...; a 401 to 403 is
//! [`ErrorKind::InvalidRequest`](super::ErrorKind::InvalidRequest), a 404 or 410
//! [`DownloadFailure::Expired`], so that neither blames the API key or the task id).
//! Every download error carries the operation `download`
//! ([`Error::operation`](super::Error::operation)).

/// Why a download was refused. Nothing is ever left at the destination path when one of
/// these ends a download (the bytes went to a temporary file, which is removed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadFailure {
    /// The body grew beyond the cap in force (`ClientBuilder::max_download_bytes`, or a lower
    /// one given to the call, such as `Client::download_to_dir_within`'s `max_bytes`), by
    /// what the server declared (`Content-Length`) or by what it actually sent.
    #[error(
        "the file is larger than the download cap of {limit} bytes (the client's max_download_bytes, or the lower cap given to this call); raise the cap if such files are expected"
    )]
    TooLarge {
        /// The cap in force.
        limit: u64,
    },
    /// The server answered with a type that is not audio: most often an error page
    /// (`text/html`) served with a 200.
    #[error(
        "the server sent {content_type:?}, not audio (accepted: audio/*, application/octet-stream, binary/octet-stream, application/ogg); the URL may have expired or lead to an error page"
    )]
    ContentType {
        /// The `Content-Type` received (cut to 100 characters).
        content_type: String,
    },
    /// The URL itself may not be fetched (plain http, a private or loopback address,
    /// credentials in it, a host name that resolves to no public address, `[redacted]` in it
    /// where the server had put the API key, a piece of the API key itself); nothing was sent
    /// (not retried: it would be refused again). A vendor's result URL on loopback is what a local
    /// simulator hands out: allow it with `ClientBuilder::allow_private_urls`.
    #[error("the URL {reason}; nothing was fetched")]
    UrlRefused {
        /// What is wrong with it.
        reason: String,
    },
    /// The result URL answered 404 or 410: it has expired, or the file behind it is gone.
    /// A storage answer, about the URL alone: not the task id, not the API key. Fetch the
    /// task's status again for a fresh URL.
    #[error(
        "the result URL answered HTTP {status}: it has expired or its file is gone (the storage's answer about this URL, not about the task id or the API key); fetch the task's status again for a fresh URL"
    )]
    Expired {
        /// The status (404 or 410).
        status: u16,
    },
    /// More redirects than allowed.
    #[error("more than {limit} redirects; the chain was not followed further")]
    TooManyRedirects {
        /// The most redirects followed.
        limit: usize,
    },
    /// A redirect pointed somewhere a download may not go (plain http, a private or loopback
    /// address, a host name that resolves to no public address, credentials in the URL, a
    /// piece of the API key in it, not a URL at all); it was not followed. The reason names
    /// the hop and is bounded (a server's scheme and path are quoted cut).
    #[error("a redirect was refused: its target {reason}; nothing was fetched from it")]
    RedirectRefused {
        /// What is wrong with the target.
        reason: String,
    },
    /// The result URL answered a success that does not carry a whole file: a status other
    /// than 200 or 203 (204 No Content, 202 Accepted from a store still preparing the object,
    /// a 206 fragment to a request that asked for no range). Its body is not read; nothing
    /// is kept, an earlier file at the destination untouched.
    #[error(
        "the result URL answered HTTP {status}, which does not carry a whole file (only 200 or 203 does); nothing was kept: fetch the task's status again for a fresh URL, or try again later"
    )]
    UnexpectedStatus {
        /// The status received (a 2xx other than 200 and 203).
        status: u16,
    },
    /// The result URL answered 200 or 203 with an empty body: no audio file is 0 bytes (a
    /// WAV header alone is 44). Nothing is kept, an earlier file at the destination
    /// untouched.
    #[error(
        "the result URL answered HTTP {status} with an empty body, which is no audio file; nothing was kept: fetch the task's status again for a fresh URL, or try again later"
    )]
    Empty {
        /// The status received (200 or 203).
        status: u16,
    },
    /// The result host answered over HTTP/1 without saying how long the body is: no
    /// `Content-Length` and no chunked `Transfer-Encoding`, so the body ends when the
    /// connection closes, and a host that goes away mid-file looks like one that finished.
    /// Refused at the headers (its body is not read, not retried); nothing is kept, an
    /// earlier file at the destination untouched.
    #[error(
        "the result host did not say how long the file is (no Content-Length, not chunked), so a cut could not be told from the end; nothing was kept: try again later, or fetch the task's status again for a fresh URL"
    )]
    UnknownLength,
    /// The destination could not be written: the local file could not be created, written
    /// or renamed into place, or the caller's writer failed.
    #[error("the destination could not be written: {reason}")]
    Write {
        /// What went wrong (the OS error, and the path for a file).
        reason: String,
    },
}

impl DownloadFailure {
    /// Scrubs the API key from what a server sent (a `Content-Type`, a redirect's target).
    pub(crate) fn scrub(&mut self, scrubber: &crate::scrub::Scrubber) {
        match self {
            Self::ContentType { content_type: text }
            | Self::UrlRefused { reason: text }
            | Self::RedirectRefused { reason: text }
            | Self::Write { reason: text } => {
                *text = scrubber.scrub_owned(std::mem::take(text));
            }
            Self::TooLarge { .. }
            | Self::TooManyRedirects { .. }
            | Self::Expired { .. }
            | Self::UnexpectedStatus { .. }
            | Self::Empty { .. }
            | Self::UnknownLength => {}
        }
    }
}
