//! The webhook receiver as an axum route (feature `axum`).
//!
//! [`router`] answers VMEG's deliveries on one path: it verifies each one (constant-time
//! signature check, replay window, body limit), records it in the [`CompletionHub`]
//! (deduplicated by `pipelineKey`, fanned out to every waiting client) and answers at once:
//! 200 for first-seen and duplicate deliveries, 401 for bad signatures, 413 for oversized
//! bodies, 400 for malformed ones, 503 when the hub's store is unreachable, or while a
//! receiver sharing the store still acts on the delivery under a lease
//! ([`router_with_lease`]; VMEG redelivers). Heavy work belongs elsewhere: the answer goes out as soon as the store has
//! answered.
//!
//! Serving: `axum::serve` (as below) sets no header timeout, connection lifetime or
//! connection bound, so on an address the internet can reach a sender dripping bytes on
//! enough connections can hold every file descriptor. Put the route behind a reverse proxy
//! that bounds them, or serve it with hyper's HTTP/1 builder (`header_read_timeout` with a
//! timer, `max_header_size`) under a connection limit, as `voiceclone webhook listen` does.
//!
//! ```no_run
//! use voiceclone::webhook::CompletionHub;
//! use voiceclone::{Client, Provider, WaitPolicy, WebhookSecret};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let hub = CompletionHub::in_memory(WebhookSecret::new(std::env::var("VMEG_WEBHOOK_SECRET")?));
//! let app = voiceclone::webhook::axum::router("/vmeg/webhook", hub.clone())?;
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! tokio::spawn(async move { axum::serve(listener, app).await });
//!
//! let client = Client::builder(Provider::Vmeg)
//!     .api_key(std::env::var("VMEG_API_KEY")?)
//!     .completion_hub(hub)
//!     .build()?;
//! let job = client
//!     .clone_voice(&voiceclone::CloneRequest::new("https://example.com/sample.wav"))
//!     .await?;
//! // Ends when the webhook arrives (polling every 30 s meanwhile, as a fallback).
//! let voice = client.wait_for_clone(&job.id, &WaitPolicy::default()).await?;
//! println!("{}", voice.id);
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

use super::{CompletionHub, Delivery, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::error::Error;

/// The longest route path [`check_path`] accepts, in bytes.
pub const MAX_PATH_LEN: usize = 1024;

/// Checks a route path the way [`router`], [`router_with`] and [`router_with_lease`] do: it
/// must start with `/` and hold only ASCII letters, digits, `-._~` and `/`, at most
/// [`MAX_PATH_LEN`] bytes. That is a path a route holds literally: no captures (`{id}`, or
/// the older `:id`), no wildcards (`*rest`), nothing to percent-encode.
///
/// # Errors
///
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) with field `path`, saying what
/// is wrong (without quoting the path).
pub fn check_path(path: &str) -> Result<(), Error> {
    let wrong = if path.is_empty() {
        Some("it is empty (the root is \"/\")".to_owned())
    } else if !path.starts_with('/') {
        Some("it does not start with /".to_owned())
    } else if path.len() > MAX_PATH_LEN {
        Some(format!("it is over {MAX_PATH_LEN} bytes"))
    } else if path
        .bytes()
        .any(|b| !(b.is_ascii_alphanumeric() || b"-._~/".contains(&b)))
    {
        Some("it holds something other than letters, digits, -._~ and /".to_owned())
    } else {
        None
    };
    match wrong {
        // axum panics on a path it refuses (empty, no leading /, a 0.7-style `:id`): refused
        // here with a typed error instead. Captures it accepts are refused too, since the
        // route answers one literal path.
        Some(why) => Err(Error::invalid_input(
            "path",
            format!(
                "a webhook route path must start with / and hold only letters, digits, -._~ \
                 and / (at most {MAX_PATH_LEN} bytes): {why}"
            ),
        )),
        None => Ok(()),
    }
}

/// Called with what became of each delivery (for logs, metrics, or a CLI's output). It runs
/// before the answer is sent: keep it quick.
///
/// With [`router`] and [`router_with`], every delivery the store records reaches it, even
/// when the sender hangs up while the store is still answering (a slow Redis): each delivery
/// is received in a task of its own, which the HTTP server's dropping the request does not
/// stop (a callback that panics gets its delivery answered 500). With
/// [`router_with_lease`] it runs in the request's task, so that the caller's middleware
/// (which confirms or releases the claim) and its task-locals see it; a request dropped
/// there leaves the mark pending until the lease runs out (answered 503 meanwhile, then
/// fresh), never handled. Run each request in a task of its own when the action must not
/// wait for the lease, e.g. a middleware that `tokio::spawn`s `next.run(req)` and awaits it
/// (as `voiceclone webhook listen` does).
pub type OnDelivery = Arc<dyn Fn(&Delivery) + Send + Sync>;

#[derive(Clone)]
struct Receiver {
    hub: CompletionHub,
    on_delivery: Option<OnDelivery>,
    /// `Some`: first-seen deliveries are recorded pending for this long.
    lease: Option<Duration>,
}

/// A router answering deliveries with `POST path` into `hub`.
///
/// # Errors
///
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) (field `path`) for a path
/// [`check_path`] refuses.
pub fn router(path: &str, hub: CompletionHub) -> Result<Router, Error> {
    build(path, hub, None, None)
}

/// [`router`], telling `on_delivery` about every delivery (fresh, duplicate, refused or not
/// recorded). The events it is given are as VMEG sent them, an echoed API key included (the
/// hub knows no key): do not log them whole.
///
/// # Errors
///
/// As [`router`]: a path [`check_path`] refuses.
pub fn router_with(
    path: &str,
    hub: CompletionHub,
    on_delivery: OnDelivery,
) -> Result<Router, Error> {
    build(path, hub, Some(on_delivery), None)
}

/// [`router_with`] for a receiver that acts on each first-seen delivery before the answer
/// goes out: deliveries go through [`CompletionHub::receive_pending`] with `lease`, so a
/// first-seen one reaches `on_delivery` as [`Delivery::Claimed`]
/// and the caller must [`confirm`](CompletionHub::confirm) or
/// [`release`](CompletionHub::release) its claim (in a middleware around the route, as
/// `voiceclone webhook listen` does); a redelivery while the lease runs is answered 503 on
/// every hub sharing the store.
///
/// # Errors
///
/// As [`router`]: a path [`check_path`] refuses.
pub fn router_with_lease(
    path: &str,
    hub: CompletionHub,
    lease: Duration,
    on_delivery: OnDelivery,
) -> Result<Router, Error> {
    build(path, hub, Some(on_delivery), Some(lease))
}

fn build(
    path: &str,
    hub: CompletionHub,
    on_delivery: Option<OnDelivery>,
    lease: Option<Duration>,
) -> Result<Router, Error> {
    check_path(path)?;
    // One byte over the verifier's limit still reaches it, which answers 413 with its own
    // message; anything longer is cut by axum (also 413) without being read whole.
    let limit = hub.verifier().body_limit().saturating_add(1);
    Ok(Router::new()
        .route(path, post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Receiver {
            hub,
            on_delivery,
            lease,
        }))
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    // Lossy, not `to_str`: a value with bytes beyond ASCII is there and malformed (the
    // verifier says so, naming the header), not absent.
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
    };
    let (timestamp, signature) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER));
    let status = match r.lease {
        // In the request's task: the caller's middleware acts on the claim. A drop here
        // leaves a pending mark, which runs out.
        Some(lease) => {
            let delivery = r
                .hub
                .receive_pending(&timestamp, &signature, &body, lease)
                .await;
            r.tell(&delivery);
            delivery.http_status()
        }
        // A task of its own: when the sender hangs up, the HTTP server drops this handler,
        // and one dropped between the store's confirmed mark and the callback would leave
        // the delivery handled (its redelivery a duplicate) unseen by the callback.
        None => match tokio::spawn(async move {
            let delivery = r.hub.receive(&timestamp, &signature, &body).await;
            r.tell(&delivery);
            delivery.http_status()
        })
        .await
        {
            Ok(status) => status,
            Err(e) => {
                tracing::warn!(error = %e, "a webhook delivery's task failed (its callback panicked?); answering 500");
                500
            }
        },
    };
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl Receiver {
    fn tell(&self, delivery: &Delivery) {
        if let Some(f) = &self.on_delivery {
            f(delivery);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::{ErrorKind, WebhookSecret};

    /// A path axum refuses (empty, no leading `/`, an axum 0.7 capture, an unclosed brace)
    /// is an `InvalidInput` on `path` from all three constructors, never a panic. Before:
    /// axum's panic, while the caller's service was building its router.
    #[test]
    fn a_path_axum_would_refuse_is_invalid_input_not_a_panic() {
        let hub = CompletionHub::in_memory(WebhookSecret::new("s"));
        let on: OnDelivery = Arc::new(|_: &Delivery| {});
        let lease = Duration::from_secs(60);
        let long = format!("/{}", "a".repeat(MAX_PATH_LEN));
        for bad in [
            "",
            "vmeg/webhook",
            "/a/:id",
            "/a/*x",
            "/a/{",
            "/a/{id}",
            "/a b",
            "/a%20",
            "/é",
            long.as_str(),
        ] {
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                [
                    router(bad, hub.clone()),
                    router_with(bad, hub.clone(), on.clone()),
                    router_with_lease(bad, hub.clone(), lease, on.clone()),
                ]
            }))
            .unwrap_or_else(|_| panic!("{bad:?}: a router constructor panicked"));
            for b in built {
                let err = b.err().unwrap_or_else(|| panic!("{bad:?}: accepted"));
                match err.kind() {
                    ErrorKind::InvalidInput { field, reason } => {
                        assert_eq!(field, "path", "{bad:?}");
                        assert!(reason.contains("must start with /"), "{bad:?}: {reason}");
                    }
                    other => panic!("{bad:?}: {other:?}"),
                }
            }
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        // What the rule accepts, axum takes (no panic building any of the three).
        let longest = format!("/{}", "a".repeat(MAX_PATH_LEN - 1));
        for ok in [
            "/",
            "/vmeg/webhook",
            "/a-b_c.d~e/",
            "//x",
            "/0",
            longest.as_str(),
        ] {
            check_path(ok).unwrap();
            assert!(router(ok, hub.clone()).is_ok(), "{ok:?}");
            assert!(router_with(ok, hub.clone(), on.clone()).is_ok(), "{ok:?}");
            let leased = router_with_lease(ok, hub.clone(), lease, on.clone());
            assert!(leased.is_ok(), "{ok:?}");
        }
    }
}
