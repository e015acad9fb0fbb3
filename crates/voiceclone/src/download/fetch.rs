//! The download engine: the redirect chain walked hop by hop, the answer checked, the body
//! streamed to a sink within the size and time limits.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use super::{
    DEFAULT_DOWNLOAD_IDLE_TIMEOUT, DEFAULT_DOWNLOAD_TIMEOUT, DEFAULT_MAX_DOWNLOAD_BYTES,
    Downloaded, MAX_REDIRECTS, content, target,
};
use crate::error::{DownloadFailure, Error, ErrorKind, Phase};
use crate::retry::{CallInfo, OperationKind, run_with_retry, with_sleep_budget};
use crate::storage::shown_url;
use crate::transport::Transport;

/// What the `Accept` header asks for (servers that negotiate may pick audio).
const ACCEPT_AUDIO: &str = "audio/*, application/octet-stream;q=0.9";

/// The most characters of a `Content-Type` kept in a `Downloaded` (a media type and its
/// parameters fit many times over; a longer value is a broken or hostile host's).
const KEPT_CONTENT_TYPE_CHARS: usize = 200;

/// The download settings of one client and its own HTTP client.
#[derive(Clone, Debug)]
pub(crate) struct Downloads {
    pub(crate) max_bytes: u64,
    pub(crate) timeout: Duration,
    pub(crate) idle_timeout: Duration,
    /// `ClientBuilder::max_downloads_in_flight`; `None`: as many as `max_in_flight`.
    pub(crate) max_in_flight: Option<usize>,
    /// The downloads' own slots, shared by the client's clones (made by `build`). Not the
    /// API calls' slots: a result host trickling for up to `download_timeout` must not
    /// hold the slots every poll and submit of the client waits for.
    pub(crate) slots: Arc<Semaphore>,
    /// Built on the first download (most clients never download).
    pub(crate) http: crate::storage::StorageClient,
}

impl Default for Downloads {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
            timeout: DEFAULT_DOWNLOAD_TIMEOUT,
            idle_timeout: DEFAULT_DOWNLOAD_IDLE_TIMEOUT,
            max_in_flight: None,
            slots: Arc::new(Semaphore::new(crate::client::DEFAULT_MAX_IN_FLIGHT)),
            http: Default::default(),
        }
    }
}

/// The answer whose body is to be read.
pub(crate) struct Opened {
    resp: reqwest::Response,
    /// The URL that answered (after redirects).
    url: Url,
    /// The same, as messages and logs show it.
    shown: String,
    content_type: Option<String>,
}

/// `url` as messages and logs show it (no query), with the API key scrubbed: a result URL
/// or a redirect's `Location` comes from a server, which may have put the key in its path.
fn shown(t: &Transport, url: &Url) -> String {
    t.scrubber.scrub_owned(shown_url(url))
}

/// The most characters of the hop a refused redirect came from that its reason quotes.
const SHOWN_HOP_CHARS: usize = 200;

/// A refusal's reason as it is kept: scrubbed, then cut to the bound of a message. It quotes
/// what a server sent (a scheme, a host, a hop's path), which may be as long as a header
/// (hundreds of KB), logged with every failed download. Scrubbed first: a cut made first
/// could leave a piece of the key at the edge, too short for the scrubber to know.
fn bounded(t: &Transport, reason: String) -> String {
    crate::error::cut(
        &t.scrubber.scrub_owned(reason),
        crate::error::MAX_MESSAGE_CHARS,
    )
}

fn download_error(kind: ErrorKind) -> Error {
    Error::new(kind).with_operation("download")
}

fn refused(failure: DownloadFailure) -> Error {
    download_error(ErrorKind::Download(failure)).with_phase(Phase::Answered)
}

pub(crate) fn write_failed(what: &str, e: &std::io::Error) -> Error {
    download_error(ErrorKind::Download(DownloadFailure::Write {
        reason: format!("{what}: {e}"),
    }))
    .with_phase(Phase::Answered)
}

impl Downloads {
    /// The client for downloads: no default headers (so no `Authorization`, whatever the
    /// caller's own client carries), no redirects (each hop is checked here), built once.
    fn http(&self) -> Result<&reqwest::Client, Error> {
        self.http.get().map_err(|e| {
            download_error(ErrorKind::Transport)
                .with_phase(Phase::NotSent)
                .with_source(e)
        })
    }

    /// These settings with the size cap lowered to `max_bytes` where that is below the
    /// client's own (one download of a caller's shared budget).
    pub(crate) fn capped(&self, max_bytes: u64) -> Downloads {
        Downloads {
            max_bytes: self.max_bytes.min(max_bytes),
            ..self.clone()
        }
    }

    /// How long the next step may take: the idle limit, within what is left of the whole.
    fn step_deadline(&self, deadline: Instant) -> Instant {
        deadline.min(after(self.idle_timeout))
    }

    /// Refuses settings under which no download could succeed (`ClientBuilder::build`).
    pub(crate) fn check(&self) -> Result<(), Error> {
        let refuse = |field: &str, what: &str| {
            Err(Error::invalid_input(
                field,
                format!("must be more than zero ({what})"),
            ))
        };
        if self.max_bytes == 0 {
            return refuse("max_download_bytes", "every download would be too large");
        }
        if self.timeout.is_zero() {
            return refuse("download_timeout", "every download would time out");
        }
        if self.idle_timeout.is_zero() {
            return refuse("download_idle_timeout", "every download would time out");
        }
        if let Some(n) = self.max_in_flight
            && !(1..=Semaphore::MAX_PERMITS).contains(&n)
        {
            return Err(Error::invalid_input(
                "max_downloads_in_flight",
                format!("must be between 1 and {}, got {n}", Semaphore::MAX_PERMITS),
            ));
        }
        Ok(())
    }

    /// These settings with their own slots, `max_in_flight` of them unless
    /// `max_downloads_in_flight` was set (`ClientBuilder::build`, once checked).
    pub(crate) fn with_slots(self, max_in_flight: usize) -> Downloads {
        let n = self.max_in_flight.unwrap_or(max_in_flight);
        Downloads {
            slots: Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS))),
            ..self
        }
    }

    fn timed_out(&self, deadline: Instant, what: &str) -> Error {
        let why = if Instant::now() >= deadline {
            match crate::client::call_deadline() {
                Some(call) if call <= deadline => format!(
                    "the call's timeout or deadline (CallOptions) ran out during the download ({what})"
                ),
                _ => format!(
                    "the download took longer than its {} s limit ({what})",
                    self.timeout.as_secs_f64()
                ),
            }
        } else {
            format!("no data for {} s ({what})", self.idle_timeout.as_secs_f64())
        };
        download_error(ErrorKind::Timeout)
            .with_phase(Phase::Sent)
            .with_message(why)
    }

    /// Follows `url` through at most [`MAX_REDIRECTS`] checked hops to an answer that is a
    /// success with an accepted type and a size within the cap. Retried like a read.
    async fn open(
        &self,
        t: &Transport,
        url: &Url,
        allow_private: bool,
        deadline: Instant,
    ) -> Result<Opened, Error> {
        if let Some(why) = target::refusal(url, allow_private, &t.scrubber) {
            return Err(refused(DownloadFailure::UrlRefused {
                reason: bounded(t, why),
            })
            .with_phase(Phase::NotSent)
            .with_message(shown(t, url)));
        }
        self.walk(t, url, allow_private, deadline).await
    }

    /// The redirect chain from `url` (already checked by the caller), each hop checked with
    /// `allow_private` and for the API key before it is sent. Separate from
    /// [`Downloads::open`] so that a test can start on loopback and still see a private hop
    /// refused.
    pub(crate) async fn walk(
        &self,
        t: &Transport,
        url: &Url,
        allow_private: bool,
        deadline: Instant,
    ) -> Result<Opened, Error> {
        let http = self.http()?;
        let info = CallInfo {
            provider: t.provider,
            operation: "download",
            kind: OperationKind::Read,
            idempotency_key: None,
            fresh_key: false,
            synchronous: false,
        };
        run_with_retry(&t.retry, &info, t.sleeper.as_ref(), |attempt| async move {
            let mut current = url.clone();
            let mut hops = 0usize;
            loop {
                tracing::debug!(url = %shown(t, &current), attempt, hops, "download GET");
                let sent = http
                    .get(current.clone())
                    .header(ACCEPT, ACCEPT_AUDIO)
                    .send();
                let resp = match tokio::time::timeout_at(self.step_deadline(deadline), sent).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(e)) => {
                        if let Some(private) = crate::public_dns::refusal_in(&e) {
                            // Refused at name resolution, before any connection: a refusal,
                            // not a network failure (retrying gets the same answer).
                            // The host came from a server: scrubbed like the URL.
                            let reason = t.scrubber.scrub_owned(format!(
                                "names {}, which resolves to no public address (loopback, private and other non-public addresses are refused; allowed only with allow_private_urls, for a local simulator)",
                                private.host()
                            ));
                            let failure = if hops == 0 {
                                DownloadFailure::UrlRefused {
                                    reason: bounded(t, reason),
                                }
                            } else {
                                DownloadFailure::RedirectRefused {
                                    reason: bounded(t, format!("(hop {hops}) {reason}")),
                                }
                            };
                            return Err(refused(failure)
                                .with_phase(Phase::NotSent)
                                .with_message(format!("GET {}", shown(t, &current))));
                        }
                        return Err(Error::from_reqwest(e)
                            .with_operation("download")
                            .with_message(format!("GET {}", shown(t, &current))));
                    }
                    Err(_) => return Err(self.timed_out(deadline, "waiting for the answer")),
                };
                let status = resp.status();
                if status.is_redirection() && status != reqwest::StatusCode::NOT_MODIFIED {
                    hops += 1;
                    if hops > MAX_REDIRECTS {
                        return Err(refused(DownloadFailure::TooManyRedirects {
                            limit: MAX_REDIRECTS,
                        })
                        .with_http_status(status.as_u16()));
                    }
                    // Bytes, not `to_str` (visible ASCII only): a server may send a raw
                    // UTF-8 path, which `Url::join` percent-encodes as a browser does.
                    let location = match resp.headers().get(LOCATION) {
                        None => Ok(None),
                        Some(v) => std::str::from_utf8(v.as_bytes())
                            .map(Some)
                            .map_err(|_| "is not UTF-8 text".to_owned()),
                    };
                    // The key is looked for here, before the hop is sent: a `Location` is
                    // a server's, and no decoder scrubbed it.
                    current = location
                        .and_then(|l| {
                            target::redirect_target(&current, l, allow_private, &t.scrubber)
                        })
                        .map_err(|reason| {
                            // The hop it came from is a server's URL too (a path of hundreds
                            // of KB): cut on its own, so the reason after it is kept.
                            let from = crate::error::cut(&shown(t, &current), SHOWN_HOP_CHARS);
                            refused(DownloadFailure::RedirectRefused {
                                reason: bounded(t, format!("(hop {hops} from {from}) {reason}")),
                            })
                            .with_http_status(status.as_u16())
                        })?;
                    continue;
                }
                let shown = shown(t, &current);
                return self.accept(t, resp, current, shown);
            }
        })
        .await
    }

    /// Checks a final answer: a 200 or 203, an accepted type, a declared size within the cap,
    /// a body whose end can be told from a cut.
    fn accept(
        &self,
        t: &Transport,
        resp: reqwest::Response,
        url: Url,
        shown: String,
    ) -> Result<Opened, Error> {
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            let retry_after = crate::time::retry_after_of(resp.headers());
            // Storage's 401/402/403: an expired or refused signature, the store's own
            // billing; never the API key or the account's credits. Its 404/410: the URL
            // expired or the file is gone; never "check the id and the API key".
            let kind = match status {
                404 | 410 => ErrorKind::Download(DownloadFailure::Expired { status }),
                _ => crate::storage::storage_kind(status),
            };
            return Err(download_error(kind)
                .with_phase(Phase::Answered)
                .with_http_status(status)
                .with_retry_after(retry_after)
                .with_message(format!(
                    "GET {shown} answered HTTP {status}; a result URL may have expired: fetch the task's status again for a fresh one",
                )));
        }
        // Any other 2xx is no whole file (204 No Content, 202 Accepted, a 206 fragment to a
        // request without `Range`): kept, it would replace a good file with an empty or
        // partial one that looks complete.
        if !matches!(status, 200 | 203) {
            return Err(refused(DownloadFailure::UnexpectedStatus { status })
                .with_http_status(status)
                .with_message(format!("GET {shown}")));
        }
        let raw_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()));
        // What the caller gets back in `Downloaded` (an `Ok` value, printed and logged
        // freely): the host may echo the key in a parameter, and may send up to hyper's
        // header limit. Control characters (a tab is legal in a header) go first, then the
        // key, then the cut: a key split by tabs would otherwise pass the scrubber and be
        // joined whole once they were dropped, and one cut first could leave a piece at the edge.
        let content_type = raw_type.as_deref().map(|raw| {
            let visible: String = raw.chars().filter(|c| !c.is_control()).collect();
            t.scrubber
                .scrub(&visible)
                .chars()
                .take(KEPT_CONTENT_TYPE_CHARS)
                .collect::<String>()
        });
        if !content::accepted(raw_type.as_deref()) {
            let got: String = content_type
                .as_deref()
                .unwrap_or_default()
                .chars()
                .take(100)
                .collect();
            return Err(refused(DownloadFailure::ContentType { content_type: got })
                .with_http_status(status)
                .with_message(format!("GET {shown}")));
        }
        if resp.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(refused(DownloadFailure::TooLarge {
                limit: self.max_bytes,
            })
            .with_http_status(status)
            .with_message(format!(
                "Content-Length is {} bytes",
                resp.content_length().unwrap_or_default()
            )));
        }
        if !length_known(&resp) {
            return Err(refused(DownloadFailure::UnknownLength)
                .with_http_status(status)
                .with_message(format!("GET {shown}")));
        }
        Ok(Opened {
            resp,
            url,
            shown,
            content_type,
        })
    }

    /// Streams the body to `sink` chunk by chunk, within the cap and the time limits;
    /// returns the bytes written (at least one: an empty body is refused). The sink is
    /// flushed, not shut down.
    async fn stream<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        opened: &mut Opened,
        sink: &mut W,
        deadline: Instant,
    ) -> Result<u64, Error> {
        let mut total: u64 = 0;
        loop {
            let next = tokio::time::timeout_at(self.step_deadline(deadline), opened.resp.chunk());
            let chunk = match next.await {
                Ok(Ok(Some(c))) => c,
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    // reqwest reports a body cut off midway (the connection closed before its
                    // length) as a body it could not decode; downloads are not decompressed,
                    // so it is the network, never an answer the API changed.
                    let err = Error::from_reqwest(e);
                    let err = if matches!(err.kind(), ErrorKind::InvalidResponse) {
                        err.with_kind(ErrorKind::Transport)
                    } else {
                        err
                    };
                    return Err(err.with_operation("download").with_message(format!(
                        "the body of {} broke off after {total} bytes; download it again",
                        opened.shown
                    )));
                }
                Err(_) => {
                    return Err(
                        self.timed_out(deadline, &format!("after {total} bytes of the body"))
                    );
                }
            };
            let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
            total = total.saturating_add(len);
            if total > self.max_bytes {
                return Err(refused(DownloadFailure::TooLarge {
                    limit: self.max_bytes,
                })
                .with_message(format!(
                    "{} sent more than the cap while streaming",
                    opened.shown
                )));
            }
            sink.write_all(&chunk)
                .await
                .map_err(|e| write_failed("writing a chunk", &e))?;
        }
        if total == 0 {
            // No audio format is 0 bytes: an empty answer is a store's failure, not a file.
            let status = opened.resp.status().as_u16();
            return Err(refused(DownloadFailure::Empty { status })
                .with_http_status(status)
                .with_message(format!("GET {}", opened.shown)));
        }
        sink.flush()
            .await
            .map_err(|e| write_failed("flushing", &e))?;
        tracing::debug!(url = %opened.shown, bytes = total, "download finished");
        Ok(total)
    }

    /// Downloads `url` into `writer`.
    pub(crate) async fn to_writer<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        t: &Transport,
        url: &Url,
        allow_private: bool,
        writer: &mut W,
    ) -> Result<u64, Error> {
        no_time_left()?;
        let deadline = self.deadline();
        self.within(deadline, async {
            let _permit = self.permit().await?;
            let mut opened = self.open(t, url, allow_private, deadline).await?;
            self.stream(&mut opened, writer, deadline).await
        })
        .await
    }

    /// When a download starting now must end: its `download_timeout`, or the call's own
    /// timeout or deadline (`CallOptions`) when that comes first.
    fn deadline(&self) -> Instant {
        let own = after(self.timeout);
        crate::client::call_deadline().map_or(own, |call| own.min(call))
    }

    /// Runs the whole of a download (the wait for a slot, every attempt and the sleeps
    /// between them, every write to the caller's sink) within `deadline`: a retry that would
    /// sleep past it ends with its own error, and a sink that stops draining, a server that
    /// trickles, or a slot that never frees ends at it with `Timeout`.
    async fn within<T>(
        &self,
        deadline: Instant,
        work: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout_at(deadline, with_sleep_budget(left, work)).await {
            Ok(done) => done,
            Err(_) => Err(self.timed_out(deadline, "in all")),
        }
    }

    /// Downloads `url` into a temporary file in `dir`, then renames it to the path `name`
    /// picks from the answer's `Content-Type` and final URL. Nothing is left behind on failure.
    pub(crate) async fn to_file(
        &self,
        t: &Transport,
        url: &Url,
        allow_private: bool,
        dir: &Path,
        name: impl FnOnce(Option<&str>, &Url) -> PathBuf,
    ) -> Result<Downloaded, Error> {
        // Before the temporary file: no time left leaves nothing behind.
        no_time_left()?;
        let deadline = self.deadline();
        // Out of time at any step, the temporary file goes with the future: nothing is left.
        let (temp, path, bytes, content_type) = self
            .within(deadline, async {
                let _permit = self.permit().await?;
                // Made once the slot is taken, not before: a download queued for a slot holds
                // no descriptor and leaves no `.part` file (hundreds queued would exhaust the
                // process's descriptors). Still before sending: an unwritable directory fails
                // with nothing sent.
                let (temp, file) = temp_file_in(dir)?;
                let mut opened = self.open(t, url, allow_private, deadline).await?;
                let path = name(opened.content_type.as_deref(), &opened.url);
                // Refused before the body, not at the rename after all of it (or, for a
                // FIFO or a device, by replacing it): `to_path` checked its path before
                // sending; a name from the answer can be checked only now.
                if let Some(why) = super::unfit(&path).await {
                    return Err(refused(DownloadFailure::Write {
                        reason: format!("{} {}", path.display(), why.reason()),
                    }));
                }
                let mut sink =
                    tokio::io::BufWriter::with_capacity(64 * 1024, tokio::fs::File::from_std(file));
                let bytes = self.stream(&mut opened, &mut sink, deadline).await?;
                let file = sink.into_inner();
                file.sync_all()
                    .await
                    .map_err(|e| write_failed("syncing the temporary file", &e))?;
                Ok((temp, path, bytes, opened.content_type))
            })
            .await?;
        // Again just before the rename: the body may have taken minutes, and a FIFO made at
        // the path meanwhile (a player set up to read it) would be replaced and its reader
        // hang. This narrows the window to one `stat`; it cannot close it.
        if let Some(why) = super::unfit(&path).await {
            return Err(refused(DownloadFailure::Write {
                reason: format!(
                    "{} {} (found after the body, just before the rename)",
                    path.display(),
                    why.reason()
                ),
            }));
        }
        temp.persist(&path).map_err(|e| {
            write_failed(
                &format!("renaming the download to {}", path.display()),
                &e.error,
            )
        })?;
        Ok(Downloaded {
            path,
            bytes,
            content_type,
        })
    }
}

/// Whether a cut in the body of `resp` would be seen as one. An HTTP/1 body with neither a
/// `Content-Length` nor a last `Transfer-Encoding` of `chunked` ends at the close (RFC 9112
/// 6.3), and hyper reports that close as the body's end: a host that died mid-file would
/// pass as a whole, shorter file. HTTP/2 ends a stream explicitly, and reports a reset.
fn length_known(resp: &reqwest::Response) -> bool {
    if resp.version() >= reqwest::Version::HTTP_2 || resp.content_length().is_some() {
        return true;
    }
    resp.headers()
        .get_all(reqwest::header::TRANSFER_ENCODING)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
}

/// A temporary file in `dir` for a download, and a second handle to write it through (the
/// first stays with the `NamedTempFile`, which removes the file unless it is persisted).
fn temp_file_in(dir: &Path) -> Result<(tempfile::NamedTempFile, std::fs::File), Error> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".voiceclone-download-").suffix(".part");
    // A temporary file is 0600; the result is a file like any other the user creates
    // (0666 less the umask).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let temp = builder.tempfile_in(dir).map_err(|e| {
        write_failed(
            &format!("creating a temporary file in {}", dir.display()),
            &e,
        )
        .with_phase(Phase::NotSent)
    })?;
    let file = temp
        .as_file()
        .try_clone()
        .map_err(|e| write_failed("opening the temporary file", &e).with_phase(Phase::NotSent))?;
    Ok((temp, file))
}

/// A download whose call has no time left (`CallOptions` timeout `ZERO`, a deadline already
/// past) sends nothing, as every other call: `within` polls the work once before it looks at
/// the clock, and that poll would start the request (and report `Phase::Sent`).
fn no_time_left() -> Result<(), Error> {
    if crate::client::time_left().is_some_and(|left| left.is_zero()) {
        return Err(crate::client::out_of_time().with_operation("download"));
    }
    Ok(())
}

/// The longest limit honoured (tokio treats timers beyond about 30 years as never firing).
const LONGEST: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `d` from now, without overflow for any `Duration` a caller sets.
fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d.min(LONGEST)).unwrap_or(now)
}

impl Downloads {
    /// One of the downloads' slots, held for the whole download.
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Error> {
        self.slots.acquire().await.map_err(|_| {
            download_error(ErrorKind::Transport)
                .with_phase(Phase::NotSent)
                .with_message("client is shutting down")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        // README: "`max_download_bytes`, default 256 MiB", "`download_idle_timeout`, default
        // 30 s per wait for headers or the next chunk; `download_timeout`, default 10 min".
        let d = Downloads::default();
        assert_eq!(d.max_bytes, 256 * 1024 * 1024);
        assert_eq!(d.idle_timeout, Duration::from_secs(30));
        assert_eq!(d.timeout, Duration::from_secs(10 * 60));
        assert_eq!(MAX_REDIRECTS, 5);
    }
}
