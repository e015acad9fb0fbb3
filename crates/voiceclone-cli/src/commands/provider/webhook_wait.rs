//! `--webhook-listen` for `clone --wait` and `speak --wait`: a receiver for the length of
//! the command whose deliveries end the wait (VMEG only).

use std::net::SocketAddr;

use voiceclone::webhook::CompletionHub;
use voiceclone::{JobId, Provider};

use crate::cli::{Cli, Command};
use crate::output::{Failure, Printer};
use crate::receiver::{Receiver, secret_from_env};

/// `--webhook-listen ADDR --webhook-secret-env NAME` of `clone` and `speak`, checked: both
/// or neither, only with `--wait`, not with `--sync`, VMEG only. `None` when not given.
pub(super) fn webhook_flags(cli: &Cli) -> Result<Option<(SocketAddr, &str)>, Failure> {
    let (wait, sync, flags) = match &cli.command {
        Command::Clone(a) => (a.wait, a.sync, &a.webhook),
        Command::Speak(a) => (a.wait, a.sync, &a.webhook),
        _ => return Ok(None),
    };
    let (addr, var) = match (flags.webhook_listen, flags.webhook_secret_env.as_deref()) {
        (None, None) => return Ok(None),
        (Some(addr), Some(var)) => (addr, var),
        (Some(_), None) => {
            return Err(Failure::usage(
                "--webhook-listen needs --webhook-secret-env NAME (the environment variable holding the VMEG webhook secret)",
            ));
        }
        (None, Some(_)) => {
            return Err(Failure::usage(
                "--webhook-secret-env needs --webhook-listen ADDR (where to receive the webhook)",
            ));
        }
    };
    if !wait {
        return Err(Failure::usage(
            "--webhook-listen and --webhook-secret-env only apply with --wait",
        ));
    }
    if cli.provider.map(Provider::from) == Some(Provider::JimmyAi) {
        return Err(Failure::usage(
            "JimmyAI has no webhooks: --webhook-listen waits by VMEG webhook (VMEG only)",
        ));
    }
    if sync {
        return Err(Failure::usage(
            "--webhook-listen waits for an asynchronous task's webhook; with --sync the answer already carries the result",
        ));
    }
    Ok(Some((addr, var)))
}

/// The receiver of `--webhook-listen`, for the length of one command.
pub(super) struct WaitReceiver {
    pub(super) receiver: Receiver,
    pub(super) hub: CompletionHub,
    /// The tasks the command waits on, which its route answers 200.
    pub(super) awaited: Awaited,
}

impl WaitReceiver {
    /// Reads the secret, binds `addr` and serves VMEG deliveries on `/` into a new hub. The
    /// bound address goes to stderr whatever the flags: with port 0 it is the only place the
    /// port appears.
    pub(super) async fn start(
        addr: SocketAddr,
        var: &str,
        printer: &mut Printer,
    ) -> Result<Self, Failure> {
        let secret = secret_from_env(var, "--webhook-secret-env", printer)?;
        let hub = CompletionHub::in_memory(voiceclone::WebhookSecret::new(secret));
        let awaited = Awaited::default();
        let listener = Receiver::bind(addr).await?;
        let app = wait_route(hub.clone(), awaited.clone());
        let receiver = Receiver::start(listener, app)?;
        crate::output::stderr_line(&printer.safe(&format!(
                "webhook receiver listening on http://{}/ (the task's VMEG webhook ends the wait; polling every {} s meanwhile as a fallback)",
                receiver.addr(),
                voiceclone::wait::DEFAULT_WEBHOOK_POLL_INTERVAL.as_secs()
            )));
        Ok(Self {
            receiver,
            hub,
            awaited,
        })
    }
}

/// The tasks (their vendor ids) a command with `--webhook-listen` waits on, each added
/// before its wait starts and kept until the command ends: the delivery that ends a wait
/// wakes it as it is recorded, and the wait may end (and leave the hub, so that
/// [`CompletionHub::is_waiting_for`] no longer knows it) before that delivery's answer is
/// chosen. Kept here, that delivery is still answered 200, not 503 (delivered again).
#[derive(Clone, Debug, Default)]
pub struct Awaited(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl Awaited {
    /// The command waits on `id` from now on.
    pub fn add(&self, id: &JobId) {
        self.ids().insert(id.as_str().to_owned());
    }

    fn contains(&self, id: &JobId) -> bool {
        self.ids().contains(id.as_str())
    }

    fn ids(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What the route of `--webhook-listen` holds.
#[derive(Clone)]
pub(super) struct WaitRoute {
    hub: CompletionHub,
    awaited: Awaited,
}

/// The route of `--webhook-listen`: `POST /`, each delivery taken by the hub (verified,
/// recorded, fanned out) as by the adapter's route (`voiceclone::webhook::axum::router`),
/// and answered as it decides ([`voiceclone::webhook::Delivery::http_status`]: 401 for a
/// bad signature or a stale timestamp, 413, 400, ...), except that a delivery of a task the
/// command does not wait on is answered 503 ([`WaitRoute::answer`]). Each delivery is
/// verified once, by the hub: the task is read from the event it hands back. Before, a
/// middleware verified every delivery a first time to find its task, in front of the
/// adapter's route, which verified it again.
pub(super) fn wait_route(hub: CompletionHub, awaited: Awaited) -> axum::Router {
    // One byte over the verifier's limit still reaches it (its 413 says why); anything
    // longer is cut by axum (also 413) without being read whole, as by the adapter's route.
    let limit = hub.verifier().body_limit().saturating_add(1);
    axum::Router::new()
        .route("/", axum::routing::post(receive_awaited))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(WaitRoute { hub, awaited })
}

pub(super) async fn receive_awaited(
    axum::extract::State(route): axum::extract::State<WaitRoute>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    // Lossy, as the adapter's route reads them: a value with bytes beyond ASCII is there and
    // malformed (the verifier says so, naming the header), not absent.
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
    };
    let (ts, sig) = (
        header(voiceclone::webhook::TIMESTAMP_HEADER),
        header(voiceclone::webhook::SIGNATURE_HEADER),
    );
    // A task of its own, as in the adapter's route: a sender that hangs up makes the server
    // drop this handler, not the record and its confirmation.
    let status = match tokio::spawn(async move {
        let delivery = route.hub.receive(&ts, &sig, &body).await;
        route.answer(&delivery)
    })
    .await
    {
        Ok(status) => status,
        Err(e) => {
            tracing::warn!(error = %e, "a webhook delivery's task failed; answering 500");
            500
        }
    };
    axum::http::StatusCode::from_u16(status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
}

impl WaitRoute {
    /// The answer to a delivery the hub took: its own, except 503 for a verified one
    /// (recorded, or a duplicate) of a task the command does not wait on. VMEG sends every
    /// task of the account to its one webhook URL, so while this receiver stands in for it,
    /// a delivery of another task (the account's other work) is answered 503: VMEG delivers
    /// it again later, to the account's own receiver once that is back, where a 200 here
    /// would have told VMEG it was handled and thrown it away. It is recorded all the same:
    /// a delivery of this command's own task that comes before its wait has started (between
    /// the submit's answer and the wait) is then in the hub's store, where the wait finds it
    /// when it starts.
    fn answer(&self, delivery: &voiceclone::webhook::Delivery) -> u16 {
        let status = delivery.http_status();
        let Some(event) = delivery.event().filter(|_| (200..300).contains(&status)) else {
            return status;
        };
        let task = event.task_id();
        // `Awaited` is what counts (it outlives the wait); the hub's own waits too, should
        // one be there that was not added to it.
        if task.is_some_and(|t| self.awaited.contains(&t) || self.hub.is_waiting_for(&t)) {
            return status;
        }
        tracing::info!(pipeline_key = ?event.pipeline_key, "a webhook delivery of a task this command does not wait on (yet): recorded, and answered 503 so that VMEG delivers it again later");
        503
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voiceclone::Client;

    /// `body` signed with `secret` now, as VMEG signs (computed here with the RustCrypto
    /// hmac crate): `(timestamp, signature)`.
    #[allow(clippy::unwrap_used)]
    fn signed(secret: &str, body: &str) -> (String, String) {
        use hmac::Mac as _;
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(ts.as_bytes());
        mac.update(body.as_bytes());
        (ts, hex::encode(mac.finalize().into_bytes()))
    }

    /// The delivery that ends a wait is answered 200 even when the wait ends (and leaves the
    /// hub) before its answer is chosen, the order a multi-thread runtime may take: the
    /// command's tasks are kept in `Awaited`, which outlives the wait. Another task's
    /// delivery, verified and recorded, is answered 503 (VMEG delivers it again later).
    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn the_delivery_that_ends_a_wait_is_answered_200_whatever_ends_first() {
        const SECRET: &str = "whsec-race";
        let hub = CompletionHub::in_memory(voiceclone::WebhookSecret::new(SECRET));
        let client = Client::builder(Provider::Vmeg)
            .api_key("sk-race")
            .base_url("http://127.0.0.1:9/")
            .retry(voiceclone::RetryPolicy::none())
            .completion_hub(hub.clone())
            .build()
            .unwrap();
        let task = JobId::new("t-race");
        let route = WaitRoute {
            hub: hub.clone(),
            awaited: Awaited::default(),
        };
        // As `finish_wait_with` does, before the wait starts.
        route.awaited.add(&task);
        let waiter = tokio::spawn({
            let task = task.clone();
            async move {
                let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
                    .with_deadline(Some(std::time::Duration::from_secs(20)));
                client.wait_for_clone(&task, &policy).await
            }
        });
        for _ in 0..2000 {
            if hub.is_waiting_for(&task) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(hub.is_waiting_for(&task), "the wait never started");
        let body = serde_json::json!({
            "code": 500, "event": "openapi-clone-voice", "pipelineKey": "pk-race",
            "message": "boom", "data": {"taskId": "t-race"},
        })
        .to_string();
        let (ts, sig) = signed(SECRET, &body);
        let delivery = hub.receive(&ts, &sig, body.as_bytes()).await;
        // The wait ends on it (failed: code 500) before the answer is chosen.
        let ended = waiter.await.unwrap();
        assert!(ended.is_err(), "a failure delivery ends the wait failed");
        assert!(!hub.is_waiting_for(&task), "the wait has ended");
        assert_eq!(route.answer(&delivery), 200);
        // Another task's delivery: verified and recorded, answered 503.
        let other = serde_json::json!({
            "code": 200, "event": "openapi-clone-voice", "pipelineKey": "pk-other",
            "data": {"taskId": "t-other", "voiceId": "cv_1"},
        })
        .to_string();
        let (ts, sig) = signed(SECRET, &other);
        let delivery = hub.receive(&ts, &sig, other.as_bytes()).await;
        assert_eq!(delivery.http_status(), 200, "{delivery:?}");
        assert_eq!(route.answer(&delivery), 503);
        // A refused one keeps its own answer.
        let refused = hub.receive(&ts, &"0".repeat(64), other.as_bytes()).await;
        assert_eq!(route.answer(&refused), 401);
    }
}
