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
//! let app = voiceclone::webhook::axum::router("/vmeg/webhook", hub.clone());
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
pub fn router(path: &str, hub: CompletionHub) -> Router {
    build(path, hub, None, None)
}

/// [`router`], telling `on_delivery` about every delivery (fresh, duplicate, refused or not
/// recorded). The events it is given are as VMEG sent them, an echoed API key included (the
/// hub knows no key): do not log them whole.
pub fn router_with(path: &str, hub: CompletionHub, on_delivery: OnDelivery) -> Router {
    build(path, hub, Some(on_delivery), None)
}

/// [`router_with`] for a receiver that acts on each first-seen delivery before the answer
/// goes out: deliveries go through [`CompletionHub::receive_pending`] with `lease`, so a
/// first-seen one reaches `on_delivery` as [`Delivery::Claimed`]
/// and the caller must [`confirm`](CompletionHub::confirm) or
/// [`release`](CompletionHub::release) its claim (in a middleware around the route, as
/// `voiceclone webhook listen` does); a redelivery while the lease runs is answered 503 on
/// every hub sharing the store.
pub fn router_with_lease(
    path: &str,
    hub: CompletionHub,
    lease: Duration,
    on_delivery: OnDelivery,
) -> Router {
    build(path, hub, Some(on_delivery), Some(lease))
}

fn build(
    path: &str,
    hub: CompletionHub,
    on_delivery: Option<OnDelivery>,
    lease: Option<Duration>,
) -> Router {
    // One byte over the verifier's limit still reaches it, which answers 413 with its own
    // message; anything longer is cut by axum (also 413) without being read whole.
    let limit = hub.verifier().body_limit().saturating_add(1);
    Router::new()
        .route(path, post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Receiver {
            hub,
            on_delivery,
            lease,
        })
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
