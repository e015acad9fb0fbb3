//! PUTs of a local recording to a URL a vendor handed out (a presigned storage URL): the one
//! kind of request this crate builds itself besides JimmyAI's multipart upload.
//!
//! - The URL carries its own signature: the request carries **no** `Authorization` header
//!   and no API key. It goes through a `reqwest::Client` this crate builds for transfers
//!   alone (no default headers, no redirects), so that even a caller's client with a default
//!   `Authorization` header ([`ClientBuilder::http_client`](crate::ClientBuilder::http_client))
//!   can never hand the key to storage.
//! - The body is streamed from the file (never read whole into memory) with its
//!   `Content-Length`; a file that changes while it is sent ends the stream with an error,
//!   so storage never takes an incomplete body for the recording.
//! - A PUT is retried like a read ([`OperationKind::Upload`]): repeating it overwrites the same
//!   object. Every attempt streams the range again from the file.
//! - Nothing of the URL's query (its signature) is logged or put in an error.

use std::time::Duration;

use reqwest::header::{CONTENT_LENGTH, ETAG};
use url::Url;

use crate::error::{Error, ErrorKind, Phase};
use crate::retry::{CallInfo, OperationKind, run_with_retry};
use crate::sample::{LocalSample, ProgressFn};
use crate::storage::shown_url;
use crate::transport::Transport;
use crate::validate;

/// How long one PUT (a whole file, or one part) may take, unless the client has one timeout
/// for everything.
pub(crate) const PUT_TIMEOUT: Duration = Duration::from_secs(300);
/// [`ClientBuilder::max_upload_bytes`](crate::ClientBuilder::max_upload_bytes)'s default:
/// 1 GiB. Not a vendor's limit (VMEG documents none; JimmyAI's 100 MB still applies): a
/// bound on what a reader is spooled to disk before anything is sent, far above a voice
/// sample (an hour of 48 kHz 16-bit stereo WAV is about 0.7 GB).
pub(crate) const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;
/// How much of a storage error body is kept for the message.
const ERROR_BODY_BYTES: usize = 4096;

/// What every upload of one client shares: the transfer client, the caller's progress
/// callback, the VMEG multipart threshold.
#[derive(Clone, Debug)]
pub(crate) struct Uploads {
    /// Built on the first upload (most clients never upload).
    pub(crate) http: crate::storage::StorageClient,
    pub(crate) progress: Option<ProgressFn>,
    /// Files larger than this go up in parts where the vendor supports it (VMEG; `None`:
    /// the vendor's default).
    pub(crate) multipart_threshold: Option<u64>,
    pub(crate) put_timeout: Duration,
    /// The most bytes a local recording may hold (`ClientBuilder::max_upload_bytes`).
    pub(crate) max_bytes: u64,
    /// The presigned PUTs' own slots, shared by the client's clones (as many as
    /// `max_in_flight`). Not the API calls' slots: storage is a host the vendor picks, and a
    /// PUT it takes slowly lasts up to `PUT_TIMEOUT` per attempt, which every poll and
    /// submit of the client would wait out. The PUT goes through the storage client, so an
    /// API slot would bound none of the API client's connections anyway.
    pub(crate) slots: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Uploads {
    /// The client for presigned transfers (`storage::StorageClient`).
    fn transfer_client(&self) -> Result<&reqwest::Client, Error> {
        self.http.get().map_err(|e| {
            Error::new(ErrorKind::Transport)
                .with_phase(Phase::NotSent)
                .with_source(e)
        })
    }
}

/// A URL the vendor handed out for an upload, checked before anything is sent to it: an
/// absolute `https` URL without credentials on a public host (plain `http` and private hosts
/// only with `allow_private`, i.e. a local simulator). A refusal is `InvalidResponse`.
pub(crate) fn presigned_url(raw: &str, allow_private: bool) -> Result<Url, Error> {
    let refuse = |why: &str| {
        Error::new(ErrorKind::InvalidResponse)
            .with_phase(Phase::Answered)
            .with_message(format!(
                "the provider's upload URL {why}; nothing was sent to it"
            ))
    };
    // The scrubber took the API key out of it: the URL the vendor meant is gone, and a PUT
    // to what is left fails at storage with a reason that names neither.
    if raw.contains(crate::scrub::REDACTED) {
        return Err(refuse(
            "holds [redacted]: the provider put the API key in it, and it was removed (the key \
             is never sent on), so it cannot be used; report it to the vendor",
        ));
    }
    let url = Url::parse(raw.trim()).map_err(|_| refuse("is not an absolute URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("carries credentials"));
    }
    let host = url.host().ok_or_else(|| refuse("has no host"))?;
    let private = validate::is_private_host(&host);
    if private && !allow_private {
        return Err(refuse(
            "points at a loopback or private address (allowed only with allow_private_urls, for a local simulator)",
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if private && allow_private => Ok(url),
        _ => Err(refuse("is not https")),
    }
}

/// PUTs `len` bytes of `sample` from `offset` to `url`, retrying like a read. Returns the
/// answer's `ETag` header, if it had one. With `md5`, the bytes sent must hash to it.
pub(crate) async fn put(
    t: &Transport,
    up: &Uploads,
    url: &Url,
    sample: &LocalSample,
    range: (u64, u64),
    md5: Option<&str>,
) -> Result<Option<String>, Error> {
    let info = CallInfo {
        provider: t.provider,
        operation: "upload",
        kind: OperationKind::Upload,
        idempotency_key: None,
        fresh_key: false,
        synchronous: false,
    };
    let configured = t.timeout_override.unwrap_or(up.put_timeout);
    let http = up.transfer_client()?;
    let (offset, len) = range;
    tracing::debug!(target_url = %shown_url(url), offset, len, "presigned PUT");
    run_with_retry(&t.retry, &info, t.sleeper.as_ref(), |attempt| async move {
        let _slot = crate::transport::slot_of(&up.slots).await?;
        // Within a per-call timeout or deadline (`CallOptions`), the time left instead.
        let timeout = match crate::client::time_left() {
            Some(left) if left.is_zero() => return Err(crate::client::out_of_time()),
            Some(left) => left,
            None => configured,
        };
        let (body, failure) = sample
            .stream(offset, len, md5.map(str::to_owned), up.progress.clone())
            .await
            .map_err(|e| {
                // An earlier attempt or part sent some of the recording already.
                if attempt > 1 || offset > 0 {
                    crate::sample::refused_after_sending(e)
                } else {
                    e
                }
            })?;
        let sent = http
            .put(url.clone())
            .header(CONTENT_LENGTH, len)
            .timeout(timeout)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                // The local side failed (the file changed or could not be read): not a
                // network failure, and nothing a retry would mend.
                if let Some(why) = failure.take() {
                    return Err(crate::sample::failed_while_sent(why));
                }
                // Refused at name resolution, before any connection: the provider handed out
                // a URL this crate will not send to, as `presigned_url` refuses one by its
                // text; not a network failure (retrying gets the same answer).
                if let Some(private) = crate::public_dns::refusal_in(&e) {
                    return Err(Error::new(ErrorKind::InvalidResponse)
                        .with_phase(Phase::NotSent)
                        .with_message(format!(
                            "the provider's upload URL names {}, which resolves to no public address (loopback, private and other non-public addresses are refused; allowed only with allow_private_urls, for a local simulator); nothing was sent to it",
                            private.host()
                        )));
                }
                return Err(Error::from_reqwest(e));
            }
        };
        let status = resp.status().as_u16();
        tracing::debug!(attempt, http_status = status, "presigned PUT answered");
        if resp.status().is_success() {
            if !failure.read_whole() {
                // Answered on the request's head or a part of it: nothing says the recording
                // arrived, and going on to the create would send it while the progress
                // reports stop short of the total (the CLI reads that as "no clone was
                // submitted"). Refused here, the upload fails with no create sent. A fault of
                // the host's (try again), not an answer this crate cannot read.
                return Err(Error::new(ErrorKind::Server)
                    .with_phase(Phase::Answered)
                    .with_http_status(status)
                    .with_message(format!(
                        "storage answered HTTP {status} before the whole recording was sent"
                    )));
            }
            return Ok(etag_of(resp.headers()));
        }
        let retry_after = crate::time::retry_after_of(resp.headers());
        let snippet = error_snippet(resp).await;
        let kind = crate::storage::storage_kind(status);
        Err(Error::new(kind)
            .with_phase(Phase::Answered)
            .with_http_status(status)
            .with_retry_after(retry_after)
            .with_message(format!("storage answered HTTP {status}: {snippet}")))
    })
    .await
    .map_err(|e| e.scrub(&t.scrubber))
}

/// What a storage error body says: an S3-style XML error's `Code` and `Message` only (its
/// other elements can echo the request's signature), else the start of the body, whitespace
/// folded.
async fn error_snippet(mut resp: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_BYTES {
        match resp.chunk().await {
            Ok(Some(c)) => body.extend_from_slice(&c),
            _ => break,
        }
    }
    body.truncate(ERROR_BODY_BYTES);
    storage_message(&String::from_utf8_lossy(&body))
}

fn storage_message(text: &str) -> String {
    let element = |name: &str| -> Option<&str> {
        let start = text.find(&format!("<{name}>"))? + name.len() + 2;
        let len = text.get(start..)?.find(&format!("</{name}>"))?;
        text.get(start..start + len)
    };
    let folded = |s: &str| crate::error::folded(s, 300);
    if text.trim_start().starts_with('<') {
        return match (element("Code"), element("Message")) {
            (Some(c), Some(m)) => folded(&format!("{c}: {m}")),
            (Some(c), None) => folded(c),
            _ => "an error page".to_owned(),
        };
    }
    folded(&without_signatures(text))
}

/// Another store's or a gateway's error text (JSON, plain) may quote the request URL: its
/// query (the signature) is cut from every word, and a word that sets a signature, a
/// credential, a token or a key (`X-Goog-Signature=...`, `sig=...`) is removed.
fn without_signatures(text: &str) -> String {
    const SECRET_NAMES: [&str; 6] = ["signature", "sig", "credential", "token", "key", "policy"];
    let secret_name = |name: &str| {
        let name = name.to_ascii_lowercase();
        SECRET_NAMES.iter().any(|s| name.contains(s))
    };
    let mut value_next = false;
    text.split_whitespace()
        .map(|word| {
            // The value of a JSON member named like a secret (`"X-Amz-Signature": "abc"`).
            if std::mem::take(&mut value_next) {
                return "[removed]".to_owned();
            }
            // A query, plain or percent-encoded (`%3F`), is cut.
            let lower = word.to_ascii_lowercase();
            let cut = match (word.find('?'), lower.find("%3f")) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let word = match cut.and_then(|at| word.get(..at)) {
                Some(before) => format!("{before}?[query removed]"),
                None => word.to_owned(),
            };
            let sets_a_secret = word.split(['&', ',', '{']).any(|pair| {
                pair.split_once(['=', ':']).is_some_and(|(name, value)| {
                    secret_name(name) && !value.trim_matches(['"', '}', ' ']).is_empty()
                })
            });
            if sets_a_secret {
                return "[removed]".to_owned();
            }
            // `"name":` alone: its value is the next word.
            if let Some(name) = word.strip_suffix(':')
                && secret_name(name)
            {
                value_next = true;
            }
            word
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The longest `ETag` taken from a storage answer. An object store's is a quoted MD5, with a
/// part count for a multipart object (under 50 bytes); each part's is kept until the upload
/// is completed and sent back then, so a server's 100 KB ETags on 10,000 parts would cost a
/// gigabyte. A longer one counts as missing (the part fails, the upload is aborted).
const MAX_ETAG_BYTES: usize = 1024;

/// The `ETag` of a storage answer, when it has a usable one.
fn etag_of(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let etag = headers.get(ETAG)?.to_str().ok()?;
    if etag.len() > MAX_ETAG_BYTES {
        tracing::warn!(
            bytes = etag.len(),
            limit = MAX_ETAG_BYTES,
            "the storage answered an ETag too long to keep; taken as none"
        );
        return None;
    }
    Some(etag.to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_etag_past_the_bound_counts_as_missing() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(etag_of(&h), None);
        h.insert(
            ETAG,
            "\"d41d8cd98f00b204e9800998ecf8427e\"".parse().unwrap(),
        );
        assert_eq!(
            etag_of(&h).as_deref(),
            Some("\"d41d8cd98f00b204e9800998ecf8427e\"")
        );
        h.insert(ETAG, "e".repeat(MAX_ETAG_BYTES).parse().unwrap());
        assert_eq!(etag_of(&h).map(|e| e.len()), Some(MAX_ETAG_BYTES));
        h.insert(ETAG, "e".repeat(MAX_ETAG_BYTES + 1).parse().unwrap());
        assert_eq!(etag_of(&h), None);
    }

    /// A presigned URL whose name resolves only to private addresses is refused by the
    /// storage client's resolver: the SSRF check saying no, so the provider's answer is
    /// refused (`InvalidResponse`, not sent, not retried, the host named), as a download
    /// refuses one. `localhost` stands for such a name (it resolves to loopback from the
    /// hosts file; `presigned_url`'s text check, which would refuse it first, is skipped).
    /// Before: `Transport` "could not talk to the provider", retried with backoff sleeps.
    #[tokio::test]
    async fn a_put_url_resolving_to_no_public_address_is_refused_not_retried() {
        let sleeper = std::sync::Arc::new(crate::RecordingSleeper::new());
        let c = crate::Client::builder(crate::Provider::Vmeg)
            .api_key("sk-test-0123456789")
            .sleeper(sleeper.clone())
            .build()
            .unwrap();
        let up = Uploads {
            http: crate::storage::StorageClient::new(false),
            progress: None,
            multipart_threshold: None,
            put_timeout: Duration::from_secs(30),
            max_bytes: u64::MAX,
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
        };
        let source = crate::AudioSource::Bytes {
            file_name: "a.wav".into(),
            bytes: bytes::Bytes::from_static(b"RIFF-recording"),
        };
        let sample = LocalSample::prepare(&source, crate::sample::SizeLimit::new(None, u64::MAX))
            .await
            .unwrap();
        let url = Url::parse("https://localhost:9/up/a.wav?X-Amz-Signature=secretsig").unwrap();
        let e = put(
            c.transport_for_tests(),
            &up,
            &url,
            &sample,
            (0, sample.len),
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidResponse, "{e}");
        assert_eq!(e.phase(), Phase::NotSent, "{e}");
        let shown = e.to_string();
        assert!(
            shown.contains("localhost") && shown.contains("no public address"),
            "{shown}"
        );
        assert!(shown.contains("nothing was sent"), "{shown}");
        assert!(!shown.contains("secretsig"), "{shown}");
        assert!(
            sleeper.sleeps().is_empty(),
            "retried: {:?}",
            sleeper.sleeps()
        );
    }

    #[test]
    fn presigned_urls_are_checked_before_use() {
        assert!(presigned_url("https://storage.example.com/a?sig=1", false).is_ok());
        assert!(presigned_url("http://storage.example.com/a", false).is_err());
        assert!(presigned_url("http://storage.example.com/a", true).is_err());
        assert!(presigned_url("http://127.0.0.1:9/a", false).is_err());
        assert!(presigned_url("http://127.0.0.1:9/a", true).is_ok());
        assert!(presigned_url("https://u:p@storage.example.com/a", false).is_err());
        assert!(presigned_url("/relative", false).is_err());
        // Review 32 pass 2-c #2: a URL the key was scrubbed from is refused, saying so.
        // Before: used, and its PUT failed at storage naming neither.
        for raw in [
            "https://storage.example.com/a?X-Amz-Signature=[redacted]&e=1",
            "https://storage.example.com/k/[redacted]/a.wav",
        ] {
            let e = presigned_url(raw, false).unwrap_err();
            assert!(e.to_string().contains("the API key in it"), "{raw}: {e}");
        }
    }

    #[test]
    fn storage_errors_keep_their_code_and_message_only() {
        let xml = "<?xml version=\"1.0\"?>\n<Error><Code>SignatureDoesNotMatch</Code>\
                   <Message>bad\n  signature</Message><SignatureProvided>secret</SignatureProvided></Error>";
        assert_eq!(storage_message(xml), "SignatureDoesNotMatch: bad signature");
        assert_eq!(storage_message("<html>gateway</html>"), "an error page");
        assert_eq!(storage_message(" plain  text "), "plain text");
    }

    /// A gateway's or another store's JSON or plain-text error may quote the signed request:
    /// its query and every signature-like setting are removed; the rest is kept.
    #[test]
    fn storage_errors_in_other_shapes_lose_their_signatures() {
        let json = r#"{"error":{"message":"denied https://storage.example.com/b/a.wav?X-Goog-Signature=abc123&X-Goog-Credential=me"}}"#;
        let shown = storage_message(json);
        assert!(
            !shown.contains("abc123") && !shown.contains("me\""),
            "{shown}"
        );
        assert!(
            shown.contains("storage.example.com/b/a.wav?[query removed]"),
            "{shown}"
        );
        for json in [
            r#"{"X-Amz-Signature": "abc123"}"#,
            r#"{"error":"denied","signature":"abc123"}"#,
            "denied https://s.example.com/a.wav%3FX-Amz-Signature%3Dabc123",
        ] {
            let shown = storage_message(json);
            assert!(!shown.contains("abc123"), "{json}: {shown}");
        }
        let plain = "expired: sig=abc123 se=2026 Signature=zz9 for /a.wav";
        let shown = storage_message(plain);
        assert!(
            !shown.contains("abc123") && !shown.contains("zz9"),
            "{shown}"
        );
        assert!(
            shown.starts_with("expired:") && shown.ends_with("for /a.wav"),
            "{shown}"
        );
    }

    /// A storage 401 or 402 is the presigned URL's refusal, not the API key's or the
    /// account's credits; a 404 or 410 is the URL's too, not an unknown task or voice.
    #[test]
    fn storage_refusals_never_blame_the_api_key_or_credits() {
        for status in [401, 402, 403, 404, 410] {
            assert_eq!(
                crate::storage::storage_kind(status),
                ErrorKind::InvalidRequest,
                "{status}"
            );
        }
        assert_eq!(crate::storage::storage_kind(429), ErrorKind::RateLimited);
    }
}
