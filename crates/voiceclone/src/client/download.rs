//! Downloads of results ([`Client::download_to_path`], [`Client::download_to_dir`],
//! [`Client::download_to_writer`]) and their settings on the builder. The rules are in
//! [`crate::download`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncWrite;
use tracing::Instrument;
use url::Url;

use super::{Client, ClientBuilder};
use crate::download::{Downloaded, Downloads, EXTENSIONS, Unfit, extension_for, unfit};
use crate::error::Error;

impl Client {
    /// Streams the file at `url` (a result a vendor handed out: [`Speech::audio_urls`],
    /// [`Voice::preview_url`]) to `path`: into a temporary file in the same directory,
    /// renamed to `path` once complete, so `path` never holds a partial file (an existing
    /// file there is replaced only by a complete download). See [`crate::download`] for the
    /// rules: https only, at most 5 checked redirects, no `Authorization` header, a size cap,
    /// audio content types only, time limits. The temporary file is a hidden
    /// `.voiceclone-download-*.part` beside `path`; a process killed while the body streams
    /// (SIGKILL, the OOM killer, a power loss) leaves it behind, and nothing removes it later.
    ///
    /// Refused as `InvalidInput` (field `path`) before anything is sent: a directory, FIFO,
    /// socket or device at `path`, or a symlink to one (the rename would replace it with a
    /// regular file); an empty path, one ending with a separator, `/.` or `/..`, or holding
    /// a NUL byte, or a name too long for the file system. `path` is looked at again once
    /// the answer's headers come and just before the rename, which refuses such a target
    /// made meanwhile ([`DownloadFailure::Write`](crate::download::DownloadFailure::Write));
    /// one made in the moment between that look and the rename is still replaced. A symlink
    /// to a regular file is replaced by the downloaded file; what it pointed at is left as
    /// it was. A call with no time left (`CallOptions`) fails with `Timeout`,
    /// `Phase::NotSent`, sending nothing.
    ///
    /// [`Speech::audio_urls`]: crate::Speech::audio_urls
    /// [`Voice::preview_url`]: crate::Voice::preview_url
    ///
    /// ```
    /// use std::time::Duration;
    /// use voiceclone::{Client, CloneRequest, Provider, SpeechRequest, WaitPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = voiceclone_sim::Simulator::start_with(
    ///     voiceclone_sim::SimConfig::default().with_speed(1000.0),
    /// )
    /// .await?;
    /// let client = Client::builder(Provider::Vmeg)
    ///     .api_key(sim.api_key())
    ///     .base_url(sim.base_url())
    ///     // The simulator serves its results on loopback over plain http.
    ///     .allow_private_urls(true)
    ///     .build()?;
    /// let wait = WaitPolicy::for_provider(Provider::Vmeg).with_first_interval(Duration::from_millis(5));
    /// let clone = client.clone_voice(&CloneRequest::new("https://cdn.example.com/me.wav")).await?;
    /// let voice = client.wait_for_clone(&clone.id, &wait).await?;
    /// let job = client.synthesize(&SpeechRequest::new(&voice.id, "Hello there.")).await?;
    /// let speech = client.wait_for_speech(&job.id, &wait).await?;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let out = client.download_to_path(&speech.audio_urls[0], &dir.path().join("hello.wav")).await?;
    /// assert!(out.bytes > 44);
    /// assert_eq!(out.content_type.as_deref(), Some("audio/wav"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn download_to_path(&self, url: &Url, path: &Path) -> Result<Downloaded, Error> {
        traced!(self, "download", async {
            self.to_path(&self.inner.downloads, url, path).await
        })
    }

    /// Like [`Client::download_to_path`], to `dir/{stem}.{ext}` where `ext` comes from the
    /// answer's `Content-Type`, else from the URL ([`extension_for`]): for numbered parts
    /// (`01.wav`, `02.wav`, ...) whose format is known only once the server answers.
    /// A `stem` that is not one plain name, or too long for the file system with the longest
    /// extension the answer may add (of [`EXTENSIONS`](crate::download::EXTENSIONS), 5 bytes
    /// with its dot, as `.flac`), is refused as `InvalidInput` (field `stem`) before anything
    /// is sent. The name the answer picks is checked as `download_to_path` checks its path
    /// once the answer's headers come, before any of the body, and again just before the
    /// rename: a directory, FIFO, socket or device there (or a symlink to one) is
    /// [`DownloadFailure::Write`](crate::download::DownloadFailure::Write), left as it was.
    /// The temporary file is a hidden `.voiceclone-download-*.part` in `dir`, left behind by
    /// a process killed while the body streams.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).allow_private_urls(true).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// # let job = client.synthesize(&voiceclone::SpeechRequest::new("sv_en_us_female_01", "Hello there.")).await?;
    /// # let speech = client.wait_for_speech(&job.id, &wait).await?;
    /// let dir = tempfile::tempdir()?;
    /// let out = client.download_to_dir(&speech.audio_urls[0], dir.path(), "01").await?;
    /// assert_eq!(out.path, dir.path().join("01.wav")); // the extension from the answer's type
    /// # Ok(())
    /// # }
    /// ```
    pub async fn download_to_dir(
        &self,
        url: &Url,
        dir: &Path,
        stem: &str,
    ) -> Result<Downloaded, Error> {
        traced!(self, "download", async {
            check_stem(stem)?;
            self.to_dir(&self.inner.downloads, url, dir, stem).await
        })
    }

    /// Like [`Client::download_to_dir`], with this one download capped at `max_bytes` when
    /// that is below the client's [`ClientBuilder::max_download_bytes`] (the smaller cap
    /// is in force; [`Client::max_download_bytes`] says which is the client's): for a caller
    /// that shares one budget among many downloads and passes what is left of it, so that
    /// no more than the budget ever reaches the disk. The cap is enforced like the client's,
    /// on the declared `Content-Length` and on every chunk, and a refusal is
    /// [`DownloadFailure::TooLarge`](crate::download::DownloadFailure::TooLarge) whose
    /// `limit` is the cap in force, with nothing left at the destination. A `max_bytes` of 0
    /// is refused as `InvalidInput` (field `max_bytes`) before anything is sent.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).allow_private_urls(true).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// # let job = client.synthesize(&voiceclone::SpeechRequest::new("sv_en_us_female_01", "Hello there.")).await?;
    /// # let speech = client.wait_for_speech(&job.id, &wait).await?;
    /// use voiceclone::{ErrorKind, download::DownloadFailure};
    ///
    /// let dir = tempfile::tempdir()?;
    /// // A budget of 100 bytes left: the WAV is larger, so nothing is written.
    /// let e = client.download_to_dir_within(&speech.audio_urls[0], dir.path(), "01", 100).await.err().ok_or("not refused")?;
    /// assert!(matches!(e.kind(), ErrorKind::Download(DownloadFailure::TooLarge { limit: 100 })));
    /// assert!(!dir.path().join("01.wav").exists());
    /// // Enough left: the file as usual.
    /// let out = client.download_to_dir_within(&speech.audio_urls[0], dir.path(), "01", 1 << 20).await?;
    /// assert!(out.bytes <= 1 << 20);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn download_to_dir_within(
        &self,
        url: &Url,
        dir: &Path,
        stem: &str,
        max_bytes: u64,
    ) -> Result<Downloaded, Error> {
        traced!(self, "download", async {
            check_stem(stem)?;
            let downloads = self.capped(max_bytes)?;
            self.to_dir(&downloads, url, dir, stem).await
        })
    }

    /// Like [`Client::download_to_path`], with this one download capped at `max_bytes` as
    /// [`Client::download_to_dir_within`] caps it: the smaller of `max_bytes` and the
    /// client's cap is in force, a refusal is
    /// [`DownloadFailure::TooLarge`](crate::download::DownloadFailure::TooLarge) with
    /// nothing left at `path`, and a `max_bytes` of 0 is `InvalidInput` before anything is
    /// sent.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).allow_private_urls(true).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// # let job = client.synthesize(&voiceclone::SpeechRequest::new("sv_en_us_female_01", "Hello there.")).await?;
    /// # let speech = client.wait_for_speech(&job.id, &wait).await?;
    /// use voiceclone::{ErrorKind, download::DownloadFailure};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("hello.wav");
    /// let e = client.download_to_path_within(&speech.audio_urls[0], &path, 100).await.err().ok_or("not refused")?;
    /// assert!(matches!(e.kind(), ErrorKind::Download(DownloadFailure::TooLarge { limit: 100 })));
    /// assert!(!path.exists());
    /// let out = client.download_to_path_within(&speech.audio_urls[0], &path, 1 << 20).await?;
    /// assert_eq!(out.path, path);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn download_to_path_within(
        &self,
        url: &Url,
        path: &Path,
        max_bytes: u64,
    ) -> Result<Downloaded, Error> {
        traced!(self, "download", async {
            let downloads = self.capped(max_bytes)?;
            self.to_path(&downloads, url, path).await
        })
    }

    /// `url` to `path` under `downloads`' rules (the client's, or capped lower).
    async fn to_path(
        &self,
        downloads: &Downloads,
        url: &Url,
        path: &Path,
    ) -> Result<Downloaded, Error> {
        // Refused before the download: a directory or a name no rename can take used to
        // fail at the rename after the whole body had come, and a FIFO, socket or device
        // was replaced by a regular file.
        if let Some(why) = unfit(path).await {
            let reason = match why {
                Unfit::Directory => {
                    "is a directory; give the file's path (download_to_dir names a file in a directory)"
                }
                other => other.reason(),
            };
            return Err(Error::invalid_input("path", reason).with_operation("download"));
        }
        let dir = parent_dir(path);
        let path = path.to_path_buf();
        downloads
            .to_file(
                self.t(),
                url,
                self.inner.allow_private,
                &dir,
                move |_, _| path,
            )
            .await
    }

    /// The client's download rules capped at `max_bytes` (0 refused: every download would
    /// be too large).
    fn capped(&self, max_bytes: u64) -> Result<Downloads, Error> {
        if max_bytes == 0 {
            return Err(Error::invalid_input(
                "max_bytes",
                "must be more than zero (every download would be too large)",
            )
            .with_operation("download"));
        }
        Ok(self.inner.downloads.capped(max_bytes))
    }

    /// `url` to `dir/{stem}.{ext}` under `downloads`' rules (the client's, or capped lower).
    async fn to_dir(
        &self,
        downloads: &Downloads,
        url: &Url,
        dir: &Path,
        stem: &str,
    ) -> Result<Downloaded, Error> {
        // The extension comes from the answer, so the stem must fit with the longest one it
        // may get: refused before sending, not once the answer's headers name the file.
        let longest = EXTENSIONS
            .iter()
            .copied()
            .max_by_key(|e| e.len())
            .unwrap_or_default();
        if unfit(&dir.join(format!("{stem}.{longest}"))).await == Some(Unfit::TooLong) {
            return Err(Error::invalid_input(
                "stem",
                format!(
                    "is too long for a file name on this file system with the extension the \
                     answer picks (up to .{longest})"
                ),
            )
            .with_operation("download"));
        }
        let d = dir.to_path_buf();
        downloads
            .to_file(
                self.t(),
                url,
                self.inner.allow_private,
                dir,
                move |ct, u| d.join(format!("{stem}.{}", extension_for(ct, u))),
            )
            .await
    }

    /// The cap on one download this client was built with
    /// ([`ClientBuilder::max_download_bytes`], default
    /// [`DEFAULT_MAX_DOWNLOAD_BYTES`](crate::download::DEFAULT_MAX_DOWNLOAD_BYTES)).
    ///
    /// ```
    /// use voiceclone::{Client, Provider, download::DEFAULT_MAX_DOWNLOAD_BYTES};
    ///
    /// let client = Client::builder(Provider::Vmeg).api_key("k").build()?;
    /// assert_eq!(client.max_download_bytes(), DEFAULT_MAX_DOWNLOAD_BYTES);
    /// let small = Client::builder(Provider::Vmeg).api_key("k").max_download_bytes(1024).build()?;
    /// assert_eq!(small.max_download_bytes(), 1024);
    /// # Ok::<(), voiceclone::Error>(())
    /// ```
    pub fn max_download_bytes(&self) -> u64 {
        self.inner.downloads.max_bytes
    }

    /// Streams the file at `url` into `writer` (flushed, not shut down) and returns the
    /// number of bytes written. The same rules as [`Client::download_to_path`]; on a failure
    /// part of the body may already be in `writer`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).allow_private_urls(true).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// # let job = client.synthesize(&voiceclone::SpeechRequest::new("sv_en_us_female_01", "Hello there.")).await?;
    /// # let speech = client.wait_for_speech(&job.id, &wait).await?;
    /// let mut audio = Vec::new();
    /// let n = client.download_to_writer(&speech.audio_urls[0], &mut audio).await?;
    /// assert_eq!(usize::try_from(n)?, audio.len());
    /// assert!(audio.starts_with(b"RIFF"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn download_to_writer<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        url: &Url,
        writer: &mut W,
    ) -> Result<u64, Error> {
        traced!(self, "download", async {
            self.inner
                .downloads
                .to_writer(self.t(), url, self.inner.allow_private, writer)
                .await
        })
    }
}

/// The directory a path's temporary file goes in: its parent, or `.` for a bare name.
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A file stem for [`Client::download_to_dir`]: one plain path component.
fn check_stem(stem: &str) -> Result<(), Error> {
    let bad = stem.is_empty()
        || stem == "."
        || stem == ".."
        || stem
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(Error::invalid_input(
            "stem",
            "must be a plain file name without a path separator",
        )
        .with_operation("download"));
    }
    Ok(())
}

impl ClientBuilder {
    /// Caps one download ([`Client::download_to_path`] and friends): default
    /// [`DEFAULT_MAX_DOWNLOAD_BYTES`](crate::download::DEFAULT_MAX_DOWNLOAD_BYTES) (256 MiB).
    /// A larger `Content-Length` is refused before reading; a body that grows beyond it while
    /// streaming is abandoned. Either way the error is
    /// [`DownloadFailure::TooLarge`](crate::download::DownloadFailure::TooLarge) and no file
    /// is left at the destination. 0 is refused by [`ClientBuilder::build`].
    #[must_use]
    pub fn max_download_bytes(mut self, limit: u64) -> Self {
        self.downloads.max_bytes = limit;
        self
    }

    /// The longest one whole download may take (default 10 minutes): the wait for a slot
    /// (a download's own, [`ClientBuilder::max_downloads_in_flight`], never one API calls
    /// wait for), every attempt and the retries' sleeps, and the writes to your sink; then
    /// it ends with `Timeout` (or the last attempt's error, when a retry would sleep past
    /// it). Independent
    /// of [`ClientBuilder::timeout`], which bounds API calls; a call's own timeout or deadline
    /// (`Client::with_timeout`, `with_options`) bounds a download too, when it comes first.
    /// Zero is refused by [`ClientBuilder::build`].
    #[must_use]
    pub fn download_timeout(mut self, timeout: Duration) -> Self {
        self.downloads.timeout = timeout;
        self
    }

    /// Bounds the downloads in flight for this client and its clones (default: as many as
    /// [`ClientBuilder::max_in_flight`], 32 unless set). Downloads queue for slots of their
    /// own, never the ones API calls use: a result host that trickles its body, or a sink
    /// that stops draining, holds a download's slot for up to
    /// [`ClientBuilder::download_timeout`], and with shared slots every poll and submit of
    /// the client would wait that long. So a client has at most `max_in_flight` API requests
    /// and, beside them, at most this many downloads in flight. A download beyond the bound
    /// waits for a slot within its `download_timeout`, holding no file or descriptor: its
    /// temporary file is made once it has the slot.
    /// `1..=tokio::sync::Semaphore::MAX_PERMITS`; 0 and larger values are refused by
    /// [`ClientBuilder::build`].
    ///
    /// ```
    /// use voiceclone::{Client, ErrorKind, Provider};
    ///
    /// let client = Client::builder(Provider::Vmeg).api_key("k").max_downloads_in_flight(4).build()?;
    /// let e = Client::builder(Provider::Vmeg).api_key("k").max_downloads_in_flight(0).build().unwrap_err();
    /// assert!(matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "max_downloads_in_flight"));
    /// # Ok::<(), voiceclone::Error>(())
    /// ```
    #[must_use]
    pub fn max_downloads_in_flight(mut self, n: usize) -> Self {
        self.downloads.max_in_flight = Some(n);
        self
    }

    /// How long a download waits for the answer's headers or for the next chunk of its body
    /// (default 30 s): a stalled server ends the download with `Timeout` instead of hanging.
    /// Zero is refused by [`ClientBuilder::build`].
    #[must_use]
    pub fn download_idle_timeout(mut self, timeout: Duration) -> Self {
        self.downloads.idle_timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::{DownloadFailure, ErrorKind};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback server answering every request with a redirect to `location`; counts them.
    async fn redirector(
        location: &'static str,
    ) -> (Url, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/a.wav", listener.local_addr().unwrap())).unwrap();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(answer.as_bytes()).await;
            }
        });
        (url, hits)
    }

    /// The hop check runs with the client's setting: without the opt-in, a redirect into the
    /// local network or to metadata addresses is refused and not followed (the chain starts
    /// on loopback here only because a test server cannot be public).
    #[tokio::test]
    async fn a_private_hop_is_refused_without_the_opt_in() {
        for location in [
            "http://127.0.0.2:9/x.wav",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.1.2.3/x.wav",
            "https://[::1]/x.wav",
        ] {
            let (url, hits) = redirector(location).await;
            let c = Client::builder(crate::Provider::Vmeg)
                .api_key("k")
                .retry(crate::RetryPolicy::none())
                .build()
                .unwrap();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            let e = c
                .inner
                .downloads
                .walk(c.t(), &url, false, deadline)
                .await
                .err()
                .unwrap();
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::Download(DownloadFailure::RedirectRefused { .. })
                ),
                "{location}: {e}"
            );
            assert_eq!(
                hits.load(std::sync::atomic::Ordering::SeqCst),
                1,
                "{location}"
            );
        }
    }

    /// A public-looking URL whose name resolves only to private addresses is refused by the
    /// storage client's resolver: that is the SSRF check saying no, so it is a refused URL
    /// (not sent, not retried, its reason kept), not a network failure retried and reported
    /// as "could not talk to the provider". `localhost` stands for such a name here (it
    /// resolves to loopback from the hosts file; the text check before it is skipped by
    /// calling `walk`).
    #[tokio::test]
    async fn a_host_resolving_to_no_public_address_is_a_refused_url_not_a_network_failure() {
        let (url, hits) = redirector("https://cdn.example.com/never.wav").await;
        let mut url = url;
        url.set_host(Some("localhost")).unwrap();
        url.set_query(Some("X-Amz-Signature=secretsig"));
        // The default retry policy: a transport failure would be retried.
        let c = Client::builder(crate::Provider::Vmeg)
            .api_key("sk-test-0123456789")
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let e = c
            .inner
            .downloads
            .walk(c.t(), &url, false, deadline)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Download(DownloadFailure::UrlRefused { reason })
                    if reason.contains("localhost") && reason.contains("no public address")
            ),
            "{e}"
        );
        assert_eq!(e.phase(), crate::Phase::NotSent);
        assert_eq!(e.operation(), Some("download"));
        assert!(!e.to_string().contains("secretsig"), "{e}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "retried: {:?}",
            started.elapsed()
        );
    }

    /// A loopback server whose `/a.wav` redirects to the raw bytes `location` and whose
    /// every other path answers audio; records the paths asked for.
    async fn raw_redirector(
        location: &'static [u8],
    ) -> (Url, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/a.wav", listener.local_addr().unwrap())).unwrap();
        let paths = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = paths.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                seen.lock().unwrap().push(path.clone());
                let mut answer = Vec::new();
                if path == "/a.wav" {
                    answer.extend_from_slice(b"HTTP/1.1 302 Found\r\nlocation: ");
                    answer.extend_from_slice(location);
                    answer.extend_from_slice(b"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                } else {
                    answer.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-type: audio/wav\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
                }
                let _ = sock.write_all(&answer).await;
            }
        });
        (url, paths)
    }

    /// A `Location` of raw UTF-8 bytes (not percent-encoded, as some servers send) is
    /// followed to the path it names, percent-encoded; bytes that are not UTF-8 are a refused
    /// redirect. Before: both became U+FFFD, and the client asked for `/%EF%BF%BD`.
    #[tokio::test]
    async fn a_raw_utf8_location_is_followed_to_its_own_path() {
        let c = Client::builder(crate::Provider::Vmeg)
            .api_key("sk-test-0123456789")
            .allow_private_urls(true)
            .retry(crate::RetryPolicy::none())
            .build()
            .unwrap();
        let (url, paths) = raw_redirector("/voix-é.wav".as_bytes()).await;
        let mut out = Vec::new();
        c.download_to_writer(&url, &mut out).await.unwrap();
        assert_eq!(out, b"ok");
        assert_eq!(*paths.lock().unwrap(), ["/a.wav", "/voix-%C3%A9.wav"]);

        let (url, paths) = raw_redirector(b"/voix-\xe9.wav").await;
        let e = c
            .download_to_writer(&url, &mut Vec::new())
            .await
            .err()
            .unwrap();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Download(DownloadFailure::RedirectRefused { reason })
                    if reason.contains("not UTF-8")
            ),
            "{e}"
        );
        assert_eq!(*paths.lock().unwrap(), ["/a.wav"]);
    }

    /// A loopback server answering every request with `len` bytes of audio, chunked (no
    /// `Content-Length`, so only the per-chunk check can stop it).
    async fn chunked_audio(len: usize) -> Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/a.wav", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: audio/wav\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
                let _ = sock.write_all(head.as_bytes()).await;
                let chunk = vec![b'x'; 1000];
                let mut left = len;
                while left > 0 {
                    let n = left.min(chunk.len());
                    let _ = sock.write_all(format!("{n:x}\r\n").as_bytes()).await;
                    let _ = sock.write_all(&chunk[..n]).await;
                    let _ = sock.write_all(b"\r\n").await;
                    left -= n;
                }
                let _ = sock.write_all(b"0\r\n\r\n").await;
            }
        });
        url
    }

    /// `download_to_dir_within`: the lower of its cap and the client's is in force, on a
    /// body that declares no size too; a refusal leaves nothing in the directory; 0 is
    /// refused before anything is sent.
    #[tokio::test]
    async fn a_per_download_cap_lowers_the_clients_and_leaves_nothing_behind() {
        let url = chunked_audio(10_000).await;
        let capped_at = |max: u64| {
            Client::builder(crate::Provider::Vmeg)
                .api_key("k")
                .allow_private_urls(true)
                .retry(crate::RetryPolicy::none())
                .max_download_bytes(max)
                .build()
                .unwrap()
        };
        // The download of `url` by `c` with `max_bytes` is refused as too large at `limit`.
        let refused_at = async |c: &Client, dir: &Path, max_bytes: u64, limit: u64| {
            let e = c
                .download_to_dir_within(&url, dir, "01", max_bytes)
                .await
                .err()
                .unwrap();
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::Download(DownloadFailure::TooLarge { limit: l }) if *l == limit
                ),
                "{e}"
            );
            e
        };
        let c = capped_at(20_000);
        let dir = tempfile::tempdir().unwrap();
        let e = refused_at(&c, dir.path(), 4_500, 4_500).await;
        // The message does not send the caller to raise only the client's cap (20,000 here).
        assert!(
            e.to_string().contains("the lower cap given to this call"),
            "{e}"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // The client's cap when it is the lower one.
        let small = capped_at(5_000);
        assert_eq!(small.max_download_bytes(), 5_000);
        refused_at(&small, dir.path(), 1 << 30, 5_000).await;
        // Exactly enough.
        let got = c
            .download_to_dir_within(&url, dir.path(), "01", 10_000)
            .await
            .unwrap();
        assert_eq!(got.bytes, 10_000);
        let e = c
            .download_to_dir_within(&url, dir.path(), "02", 0)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "max_bytes"),
            "{e}"
        );
    }

    #[test]
    fn temporary_files_go_next_to_the_destination() {
        assert_eq!(parent_dir(Path::new("out.wav")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("a/b/out.wav")), PathBuf::from("a/b"));
        assert_eq!(parent_dir(Path::new("/out.wav")), PathBuf::from("/"));
    }

    #[test]
    fn settings_that_no_download_could_meet_are_refused() {
        let b = || Client::builder(crate::Provider::Vmeg).api_key("k");
        for (builder, field) in [
            (b().max_download_bytes(0), "max_download_bytes"),
            (b().download_timeout(Duration::ZERO), "download_timeout"),
            (
                b().download_idle_timeout(Duration::ZERO),
                "download_idle_timeout",
            ),
            (b().max_downloads_in_flight(0), "max_downloads_in_flight"),
            (
                b().max_downloads_in_flight(usize::MAX),
                "max_downloads_in_flight",
            ),
        ] {
            let e = builder.build().err().unwrap();
            assert!(
                matches!(e.kind(), ErrorKind::InvalidInput { field: f, .. } if f == field),
                "{e}"
            );
        }
        // The longest durations do not overflow.
        assert!(
            b().download_timeout(Duration::MAX)
                .download_idle_timeout(Duration::MAX)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn stems_are_one_component() {
        assert!(check_stem("01").is_ok());
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb"] {
            assert!(check_stem(bad).is_err(), "{bad:?}");
        }
    }
}
