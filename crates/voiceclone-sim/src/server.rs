//! The HTTP server: [`Simulator`], [`SimHandle`], the accept loop (hyper 1,
//! one task per connection, counted), routing, and fault application around
//! the vendor handlers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::Poll;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::conns::{
    Busy, ConnEntry, InFlight, WriteStallTimeout, effective_max_connections, millis_since,
};
use crate::delivery::Delivery;
use crate::faults::{FaultKind, FaultPlan};
use crate::respond::json_response;
use crate::script::{Fault, ScriptError};
use crate::shared::{Shared, lock};
use crate::state::State as SimState;
use crate::stats::Stats;
use crate::{jimmyai, vmeg};

use axum::Router;
use axum::extract::State;
use axum::routing::{MethodFilter, on};
use tower_service::Service;

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Entry point: starts a simulator on a loopback port.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Start with [`SimConfig::default`] on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<SimHandle> {
        Self::start_with(SimConfig::default()).await
    }

    /// Start with `config`. The server runs on the current tokio runtime until
    /// the handle is dropped or [`SimHandle::shutdown`] is called. If that runtime
    /// shuts down first (the `#[tokio::test]` that started it ended), the server
    /// stops answering while the handle keeps its port bound: to share one
    /// simulator across tests, see the crate docs (# Sharing one simulator).
    ///
    /// A setting outside its bounds ([`SimConfig::validate`]) is refused with
    /// an error of kind [`std::io::ErrorKind::InvalidInput`] whose inner
    /// error is the [`crate::ConfigError`].
    pub async fn start_with(config: SimConfig) -> std::io::Result<SimHandle> {
        config
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let base_url = match &config.public_base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                if addr.ip().is_unspecified() {
                    tracing::warn!(
                        %addr,
                        "the simulator listens on an unspecified address: the URLs it hands out \
                         name it, and clients elsewhere cannot reach them; set public_base_url \
                         (voiceclone sim --public-url)"
                    );
                }
                format!("http://{addr}")
            }
        };
        let seed = config.seed;
        let shared = Arc::new(Shared::new(config, base_url));
        tracing::info!(%addr, speed = shared.config.speed, seed, "voiceclone simulator listening");
        let listener = Arc::new(listener);
        let accept = tokio::spawn(accept_loop(Arc::downgrade(&listener), shared.clone()));
        Ok(SimHandle {
            shared,
            runtime: tokio::runtime::Handle::current(),
            addr,
            listener: Some(listener),
            accept: Some(accept),
        })
    }
}

/// A running simulator. Dropping it stops the server and every background
/// task (connections, webhook deliveries), and closes its port at once.
///
/// Its `Debug` shows the base URL, counts and the settings, never the API key,
/// the webhook secret, nor what tasks and uploads hold.
pub struct SimHandle {
    shared: Arc<Shared>,
    /// The runtime the server runs on: [`SimHandle::wait_for_deliveries`] times its wait
    /// there, not on the caller's runtime, whose clock may be paused.
    runtime: tokio::runtime::Handle,
    addr: SocketAddr,
    /// The listening socket. The accept loop holds it only weakly (while it
    /// polls it), so that dropping this closes the port at once: owned by the
    /// loop, it stayed bound until the runtime next polled the aborted loop.
    listener: Option<Arc<TcpListener>>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SimHandle {
    // Written by hand: derived, it printed every task's text, every upload's bytes
    // (megabytes), the webhook bodies and the API key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (tasks, uploads, upload_bytes, voices, model_ids) = {
            let st = lock(&self.shared.state);
            (
                st.tasks.len(),
                st.files.len(),
                st.upload_bytes(),
                st.voices.len(),
                st.models.len(),
            )
        };
        f.debug_struct("SimHandle")
            .field("base_url", &self.shared.base_url)
            .field("running", &self.accept.is_some())
            .field("tasks", &tasks)
            .field("uploads", &uploads)
            .field("upload_bytes", &upload_bytes)
            .field("voices", &voices)
            .field("model_ids", &model_ids)
            .field("open_connections", &self.open_connections())
            .field("billable_total", &self.billable_total())
            .field("webhook_attempts", &lock(&self.shared.deliveries).recorded)
            .field("config", &self.shared.config)
            .finish()
    }
}

impl SimHandle {
    /// Base URL without trailing slash, e.g. `http://127.0.0.1:41234`, or
    /// [`SimConfig::public_base_url`] when set. Both APIs live under it
    /// (`/openapi/v1/...` and `/api/open-api/v1/...`). [`SimHandle::addr`] is
    /// the address it listens on.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Snapshot of the counters, with the kept create records and `req_id`s (copies of
    /// their text, up to [`SimConfig::max_task_bytes`]; `extraData` is shared, not
    /// copied). For a count alone, [`SimHandle::billable`], [`SimHandle::billable_total`]
    /// and [`SimHandle::requests`] copy nothing.
    pub fn stats(&self) -> Stats {
        self.shared.stats.snapshot()
    }

    /// Billable creates of one operation (as [`Stats::billable`], without a snapshot):
    /// the creates accepted, counted once each, including those whose task later failed
    /// or was evicted (see [`Stats::billable_by_operation`]).
    pub fn billable(&self, operation: &str) -> u64 {
        self.shared.stats.billable(operation)
    }

    /// Billable creates in all (as [`Stats::billable_total`], without a snapshot).
    pub fn billable_total(&self) -> u64 {
        self.shared.stats.billable_total()
    }

    /// Requests seen for one operation (as [`Stats::requests`], without a snapshot).
    pub fn requests(&self, operation: &str) -> u64 {
        self.shared.stats.requests(operation)
    }

    /// The API key both APIs accept.
    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key
    }

    /// The configuration in use.
    pub fn config(&self) -> &SimConfig {
        &self.shared.config
    }

    /// Make every existing task terminal now (completed, or failed if it was
    /// drawn to fail). Pending webhooks fire shortly after. Every test's tasks, on a
    /// simulator shared by several (crate docs, # Sharing one simulator).
    pub fn complete_all_now(&self) {
        self.shared.complete_all_now();
    }

    /// Move the simulated clock forward (tasks progress, JimmyAI model ids
    /// expire, idempotency keys age, finished tasks and uploads pass their retention).
    ///
    /// The dates the APIs report move too (VMEG `createdAt` and `updatedAt`, JimmyAI
    /// `created`): from now on they are `by` ahead of the real clock, as a vendor's whose
    /// clock is that far fast. A client that compares vendor dates with its own clock does
    /// not find the tasks made after an advance beyond the skew it allows: voiceclone's
    /// `reconcile` allows 5 min, so after `advance_clock(25 h)` it finds none of the tasks
    /// submitted since (`Candidates { incomplete: true }`, then `None`).
    ///
    /// On a simulator shared by several tests it acts on every test's tasks, keys and
    /// dates: see the crate docs (# Sharing one simulator).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
        self.shared.clock_changed.notify_waiters();
    }

    /// Script a fault: the next `n` calls of `operation` (one of
    /// [`crate::OPERATIONS`], e.g. `vmeg.cloneVoiceCreateAsync`) get `fault`
    /// instead of the seeded random draw. Calls queue per operation: after
    /// `fail_next(op, 502, 2)` and `fail_next(op, drop-after, 1)`, the next
    /// three calls of `op` answer 502, 502, then lose their answer after
    /// processing. `n == 0` queues nothing.
    ///
    /// [`FaultKind::UnknownStatus`] is refused except on
    /// [`crate::STATUS_OPERATIONS`]; durations beyond the `--fault` bounds
    /// are refused. Every scripted fault is counted in
    /// [`Stats::faults_by_kind`] like a random one.
    ///
    /// The next calls are whoever makes them with the API key (for `vmeg.materialPut`, a
    /// presigned URL; a call without takes none): on a simulator shared by several tests,
    /// another test's calls may take the faults (crate docs, # Sharing one simulator).
    pub fn fail_next(
        &self,
        operation: &str,
        fault: impl Into<Fault>,
        n: u32,
    ) -> Result<(), ScriptError> {
        lock(&self.shared.scripts).push(operation, fault.into(), n)
    }

    /// Calls of `operation` that still have a scripted fault waiting.
    pub fn scripted_pending(&self, operation: &str) -> u64 {
        lock(&self.shared.scripts).pending(operation)
    }

    /// Forget every scripted fault not used yet.
    pub fn clear_scripted_faults(&self) {
        lock(&self.shared.scripts).clear();
    }

    /// The webhook delivery attempts so far, in order: the latest
    /// [`SimConfig::max_records`], holding at most [`SimConfig::max_task_bytes`]
    /// (oldest dropped first; the latest always kept).
    pub fn webhook_deliveries(&self) -> Vec<Delivery> {
        let kept: Vec<_> = lock(&self.shared.deliveries).kept.iter().cloned().collect();
        kept.iter().map(|d| Delivery::clone(d)).collect()
    }

    /// Wait (real time) until at least `n` webhook attempts were recorded or
    /// `timeout` passed; returns the deliveries kept
    /// ([`SimHandle::webhook_deliveries`]: fewer than `n` when the bounds
    /// dropped the oldest). A `timeout` too large for the clock
    /// (`Duration::MAX`) waits without a deadline.
    ///
    /// The timeout is real time whatever runtime calls this: from a test whose clock is
    /// paused (`#[tokio::test(start_paused = true)]`, the simulator on a runtime of its
    /// own as the crate docs advise), it still waits for deliveries to come. The wait
    /// runs on the simulator's runtime and wakes as each attempt is recorded; it returns
    /// at once if that runtime has shut down, and at the timeout if nothing drives that
    /// runtime any more (a current-thread runtime kept beside the handle after `block_on`:
    /// no delivery is made there either).
    pub async fn wait_for_deliveries(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        // `Instant + Duration` panics on overflow; a caller's "forever" is no deadline.
        // Timed on the caller's tokio clock, a paused one moved the deadline on as soon
        // as the caller idled, and the wait ended in milliseconds with nothing.
        let deadline = std::time::Instant::now().checked_add(timeout);
        let sh = self.shared.clone();
        let mut wait = AbortOnDrop(
            self.runtime
                .spawn(async move { sh.wait_for_recorded(n, deadline).await }),
        );
        // The deadline once more, on a thread of its own: the wait above runs only if the
        // simulator's runtime is driven, and the caller's clock may be paused. Dropping
        // `done` (the wait over) ends the thread at once.
        let (done, done_rx) = std::sync::mpsc::channel::<()>();
        let (fire, fired) = tokio::sync::oneshot::channel::<()>();
        // No deadline: `fire` is held here, so `fired` never resolves.
        let mut unfired = Some(fire);
        if deadline.is_some()
            && let Some(fire) = unfired.take()
        {
            let timer = std::thread::Builder::new()
                .name("voiceclone-sim-wait".into())
                .spawn(move || {
                    if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                        done_rx.recv_timeout(timeout)
                    {
                        let _ = fire.send(());
                    }
                });
            if let Err(e) = timer {
                tracing::debug!(error = %e, "no timer thread: the wait relies on the runtime");
            }
        }
        tokio::select! {
            // An error is the simulator's runtime gone: nothing more will be delivered.
            _ = &mut wait.0 => {}
            // An error is the timer thread gone without firing (it could not start).
            Ok(()) = fired => {}
        }
        drop((done, unfired));
        self.webhook_deliveries()
    }
    /// Number of tasks (both APIs) currently stored.
    pub fn task_count(&self) -> usize {
        self.shared.lock_state().tasks.len()
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        lock(&self.shared.conns).conns.len()
    }

    /// Tasks and uploads evicted so far (bounds on count and age).
    pub fn evicted(&self) -> (u64, u64) {
        let st = self.shared.lock_state();
        (st.evicted_tasks, st.evicted_uploads)
    }

    /// Stop the server: no connection is accepted or served, and no webhook
    /// is delivered, once this returns; the port is closed. A request in the
    /// middle of a step that does not wait (parsing its body, say) finishes that
    /// step first, so its answer, if any, is sent before this returns, never
    /// after.
    pub async fn shutdown(mut self) {
        // Accepting first (the port closed), then serving: the connection tasks are
        // aborted and waited for, so none answers after this returns (before, they
        // were aborted and left to end at their next await: one in the middle of a
        // poll still answered). Then the deliveries: a request still in flight can
        // no longer start one, and those started are waited for until aborted.
        drop(self.listener.take());
        if let Some(h) = self.accept.take() {
            h.abort();
            let _ = h.await;
        }
        if let Some(mut set) = self.shared.stop_connections() {
            set.shutdown().await;
        }
        if let Some(mut set) = self.shared.stop_background() {
            set.shutdown().await;
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        // As `shutdown`, without waiting: the port is closed now (the accept loop
        // holds the listener only weakly); aborted tasks end at their next await,
        // and nothing new is started after this.
        drop(self.listener.take());
        if let Some(h) = self.accept.take() {
            h.abort();
        }
        drop(self.shared.stop_connections());
        drop(self.shared.stop_background());
    }
}

/// A task aborted when its waiter goes (a caller's timeout dropped the wait).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Returned by the service to make hyper close the connection without a
/// response.
#[derive(Debug, thiserror::Error)]
enum DroppedConnection {
    #[error("simulated dropped connection")]
    Simulated,
    /// The connection cap chose this connection as idle just before the request
    /// started: it is closed unanswered, with nothing done for the request.
    #[error("connection closed by the connection cap before the request started")]
    Evicted,
}

/// What the accept loop does after `accept()` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AcceptFailure {
    /// Out of file descriptors (`EMFILE`, `ENFILE`): close the least recently
    /// active idle connection to free one, then try again.
    OutOfDescriptors,
    /// That connection failed before it was accepted (`ECONNABORTED`, a reset):
    /// take the next one at once.
    ConnectionGone,
    /// Anything else: try again after a short pause.
    Other,
}

/// Classifies an `accept()` error. Before, every error closed an idle
/// keep-alive connection, as only descriptor exhaustion should: a client
/// aborting its connections before they were accepted made the simulator close
/// other clients' idle ones.
fn accept_failure(e: &std::io::Error) -> AcceptFailure {
    use std::io::ErrorKind;
    if out_of_descriptors(e) {
        AcceptFailure::OutOfDescriptors
    } else if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        AcceptFailure::ConnectionGone
    } else {
        AcceptFailure::Other
    }
}

#[cfg(unix)]
fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

#[cfg(windows)]
fn out_of_descriptors(e: &std::io::Error) -> bool {
    /// `WSAEMFILE`: too many open sockets.
    const WSAEMFILE: i32 = 10024;
    e.raw_os_error() == Some(WSAEMFILE)
}

#[cfg(not(any(unix, windows)))]
fn out_of_descriptors(_: &std::io::Error) -> bool {
    false
}

/// Accepts connections on `listener` for as long as the [`SimHandle`] keeps it
/// (it holds the only strong reference), each served by a task in
/// [`Shared::connections`].
async fn accept_loop(listener: Weak<TcpListener>, shared: Arc<Shared>) {
    let started = std::time::Instant::now();
    let max = effective_max_connections(shared.config.max_connections);
    let app = router(shared.clone());
    loop {
        // The listener is borrowed only while polled: dropping the handle closes it.
        let accepted = std::future::poll_fn(|cx| match listener.upgrade() {
            Some(l) => l.poll_accept(cx).map(Some),
            None => Poll::Ready(None),
        })
        .await;
        let (stream, peer) = match accepted {
            None => return,
            Some(Ok(x)) => x,
            Some(Err(e)) => {
                let failure = accept_failure(&e);
                tracing::warn!(error = %e, ?failure, "accept failed");
                match failure {
                    AcceptFailure::ConnectionGone => continue,
                    AcceptFailure::OutOfDescriptors => {
                        // The process may hold other sockets and files: free one by
                        // closing the least recently active idle connection.
                        if lock(&shared.conns).evict_idle().is_some() {
                            shared
                                .stats
                                .connections_evicted
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    AcceptFailure::Other => {}
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.stats.connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let mut table = lock(&shared.conns);
        if table.conns.len() >= max {
            match table.evict_idle() {
                Some(victim) => {
                    shared
                        .stats
                        .connections_evicted
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(
                        victim,
                        "connection cap: closed the least recently active idle connection"
                    );
                }
                None => {
                    drop(table);
                    shared
                        .stats
                        .connections_refused
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, "connection cap: every connection is busy; closing the new one");
                    drop(stream);
                    continue;
                }
            }
        }
        let id = table.next;
        table.next = table.next.wrapping_add(1);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let last_active = Arc::new(AtomicU64::new(millis_since(started)));
        let sh = shared.clone();
        let app = app.clone();
        let (count, active) = (in_flight.clone(), last_active.clone());
        // Spawned and entered in the table under the table's lock, so that a task
        // ending at once cannot remove its entry before it is made.
        let mut tasks = lock(&shared.connections);
        let Some(conns) = tasks.as_mut() else {
            // Stopped: nothing is served any more.
            return;
        };
        while conns.try_join_next().is_some() {}
        let abort = conns.spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let guard = InFlight::try_new(count.clone(), active.clone(), started);
                let router = app.clone();
                async move {
                    let Some(guard) = guard else {
                        return Err(DroppedConnection::Evicted);
                    };
                    let r = serve(router, req).await;
                    r.map(|resp| resp.map(|body| Busy::new(body, guard)))
                }
            });
            // `half_close`: a client that shuts its sending side after its request
            // (`shutdown(SHUT_WR)`, `nc -N`) is answered, as HTTP front ends answer it;
            // without it hyper dropped the request unanswered, a sync create billed.
            // The cost: a client gone while a sync create waits is seen only when the
            // answer is written, at the task's due time (see the crate docs).
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .half_close(true)
                .header_read_timeout(sh.config.header_read_timeout)
                .max_header_size(crate::bounds::MAX_REQUEST_HEAD_BYTES)
                .serve_connection(
                    TokioIo::new(WriteStallTimeout::new(
                        stream,
                        sh.config.response_write_timeout,
                    )),
                    svc,
                )
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
            lock(&sh.conns).conns.remove(&id);
        });
        drop(tasks);
        table.conns.insert(
            id,
            ConnEntry {
                in_flight,
                last_active,
                abort,
            },
        );
    }
}

/// Which vendor a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Vmeg,
    Jimmy,
    /// The storage VMEG's presigned material URLs point at (no API key).
    Storage,
    Sim,
}

/// HTTP method of a route.
#[derive(Debug, Clone, Copy)]
enum Verb {
    Get,
    Post,
    Put,
}

/// Every route, the one table the router is built from: method, path,
/// operation name (as in [`crate::OPERATIONS`] and [`Stats`]), vendor.
const ROUTES: &[(Verb, &str, &str, Api)] = &[
    (
        Verb::Post,
        "/openapi/v1/task/clone-voice/create",
        "vmeg.cloneVoiceCreate",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/task/clone-voice/create-async",
        "vmeg.cloneVoiceCreateAsync",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/task/tts/create",
        "vmeg.ttsCreate",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/task/tts/create-async",
        "vmeg.ttsCreateAsync",
        Api::Vmeg,
    ),
    (
        Verb::Get,
        "/openapi/v1/tasks/list",
        "vmeg.tasksList",
        Api::Vmeg,
    ),
    (
        Verb::Get,
        "/openapi/v1/tasks/detail",
        "vmeg.tasksDetail",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/tasks/delete",
        "vmeg.tasksDelete",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/assets/voice/clone/list",
        "vmeg.cloneVoiceList",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/assets/voice/clone/update",
        "vmeg.cloneVoiceUpdate",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/assets/voice/clone/delete",
        "vmeg.cloneVoiceDelete",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/assets/voice/basic/list",
        "vmeg.basicVoiceList",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/assets/material/upload/gen-upload-url",
        "vmeg.materialGenUploadUrl",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/assets/material/upload/complete",
        "vmeg.materialUploadComplete",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/assets/material/upload/multipart/initiate",
        "vmeg.materialMultipartInitiate",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/assets/material/upload/multipart/presign-parts",
        "vmeg.materialMultipartPresign",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/assets/material/upload/multipart/complete",
        "vmeg.materialMultipartComplete",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/assets/material/upload/multipart/abort",
        "vmeg.materialMultipartAbort",
        Api::Vmeg,
    ),
    (
        Verb::Get,
        "/openapi/v1/assets/material/list",
        "vmeg.materialList",
        Api::Vmeg,
    ),
    (
        Verb::Post,
        "/openapi/v1/assets/material/delete",
        "vmeg.materialDelete",
        Api::Vmeg,
    ),
    (
        Verb::Put,
        "/sim/storage/{token}",
        "vmeg.materialPut",
        Api::Storage,
    ),
    (
        Verb::Post,
        "/api/open-api/v1/soundCloning/clones",
        "jimmyai.createClone",
        Api::Jimmy,
    ),
    (
        Verb::Post,
        "/api/open-api/v1/soundCloning/audios",
        "jimmyai.createAudio",
        Api::Jimmy,
    ),
    (
        Verb::Post,
        "/api/open-api/v1/files/upload",
        "jimmyai.uploadFile",
        Api::Jimmy,
    ),
    (
        Verb::Get,
        "/api/open-api/v1/audios/{id}",
        "jimmyai.getAudio",
        Api::Jimmy,
    ),
    (Verb::Get, "/sim/files/{name}", "sim.file", Api::Sim),
];

/// The operation name of a request no route matched (or with the wrong
/// method), by vendor: each answers with its own "not found" envelope.
fn unknown_op(api: Api) -> &'static str {
    match api {
        Api::Vmeg => "vmeg.unknown",
        Api::Jimmy => "jimmyai.unknown",
        Api::Storage | Api::Sim => "unknown",
    }
}

/// The vendor a path that no route matched belongs to.
/// The vendor whose "not found" answers an unrouted path: anything under
/// `/openapi` (not only `/openapi/v1/`: `/openapi/task/...`, `/openapi/v1`)
/// is VMEG's, anything under `/api/open-api` JimmyAI's; the rest the
/// simulator's own.
fn api_of(path: &str) -> Api {
    let under = |root: &str| {
        path.strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under("/openapi") {
        Api::Vmeg
    } else if under("/api/open-api") {
        Api::Jimmy
    } else {
        Api::Sim
    }
}

/// The handler of one operation.
fn endpoint(
    op: &'static str,
    api: Api,
) -> impl Fn(State<Arc<Shared>>, Request<Body>) -> BoxFuture<'static, Response<Body>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(sh): State<Arc<Shared>>, req: Request<Body>| Box::pin(dispatch(sh, op, api, req))
}

/// The router: one route per [`ROUTES`] row (also with a trailing slash);
/// a wrong method or an unknown path gets the vendor's "not found" answer
/// (a file URL's wrong method 405, see [`dispatch`]).
fn router(shared: Arc<Shared>) -> Router {
    let mut r: Router<Arc<Shared>> = Router::new();
    for &(verb, path, op, api) in ROUTES {
        let filter = match verb {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
        };
        let method_router = on(filter, endpoint(op, api)).fallback(endpoint(unknown_op(api), api));
        r = r
            .route(path, method_router.clone())
            .route(&format!("{path}/"), method_router);
    }
    r.fallback(
        |State(sh): State<Arc<Shared>>, req: Request<Body>| async move {
            let api = api_of(req.uri().path());
            dispatch(sh, unknown_op(api), api, req).await
        },
    )
    .with_state(shared)
}

/// Marks a response that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
struct DropConnection;

fn dropped() -> Response<Body> {
    let mut r = Response::new(Body::empty());
    r.extensions_mut().insert(DropConnection);
    r
}

/// Serve one request through the router; `Err` makes hyper close the
/// connection without an answer.
async fn serve(
    mut router: Router,
    req: Request<Incoming>,
) -> Result<Response<Body>, DroppedConnection> {
    let resp = match router.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    if resp.extensions().get::<DropConnection>().is_some() {
        return Err(DroppedConnection::Simulated);
    }
    Ok(resp)
}

/// One request of operation `op`: counters, random and scripted faults
/// around the vendor handler.
async fn dispatch(
    sh: Arc<Shared>,
    op: &'static str,
    api: Api,
    mut req: Request<Body>,
) -> Response<Body> {
    req.extensions_mut()
        .insert(crate::wire::Arrived(std::time::Instant::now()));
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    sh.stats.request(op);
    if api == Api::Vmeg
        && req.uri().query().is_some_and(|q| q.contains("req_id="))
        && let Some(req_id) = crate::wire::query_map(req.uri().query()).remove("req_id")
    {
        sh.stats.request_id(op, req_id);
    }
    // A request no credential vouches for (a wrong or missing key, an unknown or tampered
    // upload URL, a path outside both vendor roots) draws no fault and takes no scripted
    // one: its refusal reads its body only while it keeps coming (`drain_stranger`). Faults
    // came first, and a 503 drained a stranger's dripped body for the whole body read
    // timeout, a latency slept first, both holding its connection slot: with faults on,
    // strangers pinned every slot again; and they used up the faults a test scripted.
    let vouched = match api {
        Api::Vmeg | Api::Jimmy => crate::respond::bearer_ok(req.headers(), &sh.config.api_key),
        Api::Storage => vmeg::materials::is_signed(&sh, req.uri()),
        Api::Sim => false,
    };
    let mut plan = if vouched && sh.config.faults.is_active() {
        sh.config.faults.draw(&mut lock(&sh.fault_rng))
    } else {
        FaultPlan::default()
    };
    // A scripted fault replaces the random draw (which still happened, so the
    // seeded sequence of later requests does not shift).
    let scripted = if vouched {
        lock(&sh.scripts).take(op)
    } else {
        None
    };
    if let Some(f) = scripted {
        tracing::debug!(op, fault = %f, "scripted fault");
        plan = f.plan(&sh.config.faults);
    }
    if let Some(d) = plan.latency {
        sh.stats.fault(FaultKind::Latency.name());
        tokio::time::sleep(d).await;
    }
    if let Some(kind) = plan.exclusive {
        sh.stats.fault(kind.name());
        if !plan.after_processing {
            tracing::debug!(%method, %path, op, fault = kind.name(), "injected fault before processing");
            if api == Api::Vmeg && sh.config.vmeg_fault_consumes_idempotency_key {
                vmeg::consume_key_on_fault(&sh, op, &path, req.headers());
            }
            if kind == FaultKind::DropBefore {
                if api == Api::Storage {
                    // Cut the client off in the middle of its upload.
                    crate::vmeg::materials::read_half(req, sh.config.body_read_timeout).await;
                }
                return dropped();
            }
            // Read (and drop) what the client is still sending first, as for the
            // simulator's own early answers: closing with the body unread resets the
            // connection, and the client would see a broken pipe, not the injected status.
            let (parts, body) = req.into_parts();
            crate::wire::drain(&parts, body, sh.config.body_read_timeout).await;
            let resp = injected_response(&sh, api, kind, plan.retry_after, Value::Null, None);
            sh.stats.status(resp.status().as_u16());
            return resp;
        }
    }
    let mut resp = match api {
        Api::Vmeg => vmeg::handle(&sh, op, &plan, req).await,
        Api::Jimmy => jimmyai::handle(&sh, op, &plan, req).await,
        Api::Storage => vmeg::materials::storage_put(&sh, req).await,
        Api::Sim => {
            // Its 404 answers a careless base URL (an extra prefix) too, often with an
            // upload still being sent: read it first, or the client sees a reset. No key
            // is checked here, so only as long as the body keeps coming.
            let (parts, body) = req.into_parts();
            let whole =
                crate::wire::drain_stranger(&parts, body, sh.config.body_read_timeout).await;
            let resp = if path.starts_with("/sim/files/")
                && parts.method != axum::http::Method::GET
                && parts.method != axum::http::Method::HEAD
            {
                // The files are a CDN's or S3's download URLs, which refuse a PUT or a
                // DELETE: served as a GET, a client's upload to the wrong URL got 200.
                method_not_allowed()
            } else {
                sim_file(&sh, &path)
            };
            crate::respond::closing(whole, resp)
        }
    };
    if plan.exclusive == Some(FaultKind::DropAfter) {
        tracing::debug!(%method, %path, op, "injected fault: dropping connection after processing");
        return dropped();
    }
    // Answered after the request was processed (the task made, the key used). The failure
    // names the task the processing made, as VMEG's 502 advice has callers poll with it:
    // JimmyAI in `data.id`; VMEG in `message` only, as its sync 502 does, since a VMEG
    // failure's `data` is null (api-facts A3, the ErrorEnvelope schema).
    if let Some(kind) = plan.exclusive.filter(|_| plan.after_processing) {
        tracing::debug!(%method, %path, op, fault = kind.name(), "injected fault after processing");
        let named = task_named_by(resp).await;
        let resp = match (api, named) {
            (Api::Jimmy, Some((k, id))) => {
                injected_response(&sh, api, kind, plan.retry_after, json!({ k: id }), None)
            }
            (_, named) => {
                let made = named.as_ref().and_then(|(_, id)| id.as_str());
                injected_response(&sh, api, kind, plan.retry_after, Value::Null, made)
            }
        };
        sh.stats.status(resp.status().as_u16());
        return resp;
    }
    if plan.extra_fields {
        sh.stats.fault(FaultKind::ExtraFields.name());
        resp = add_extra_fields(resp).await;
    }
    let status = resp.status().as_u16();
    sh.stats.status(status);
    tracing::debug!(%method, %path, op, status, "served");
    resp
}

/// The task a VMEG synchronous create made, set on its answer: a failed or deleted task's
/// 502 has `data: null`, and an injected fault after processing still names the task.
#[derive(Clone, Debug)]
pub(crate) struct MadeTask(pub(crate) String);

/// The task a processed answer made: the field naming it (VMEG's `taskId`, JimmyAI's `id`)
/// and its value (`None` when the answer names no task).
async fn task_named_by(resp: Response<Body>) -> Option<(&'static str, Value)> {
    if let Some(MadeTask(id)) = resp.extensions().get::<MadeTask>() {
        return Some(("taskId", Value::String(id.clone())));
    }
    let bytes = axum::body::to_bytes(resp.into_body(), 16 * 1024 * 1024)
        .await
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let data = v.get("data")?;
    ["taskId", "id"]
        .into_iter()
        .find_map(|k| data.get(k).map(|id| (k, id.clone())))
}

/// The answer to an injected 429/5xx/business fault, in the vendor envelope, with `data`
/// (`null`, or JimmyAI's task a processed request made) and, in the message, the task a
/// processed request made (`made`).
fn injected_response(
    sh: &Shared,
    api: Api,
    kind: FaultKind,
    retry_after: Duration,
    data: Value,
    made: Option<&str>,
) -> Response<Body> {
    let status: u16 = match kind {
        FaultKind::TooManyRequests => 429,
        FaultKind::Http500 => 500,
        FaultKind::Http502 => 502,
        FaultKind::Http503 => 503,
        // The storage has no envelope: its 200 is a stored upload, so a 200
        // without an ETag read as success with nothing stored. Its business
        // error is S3's internal error.
        FaultKind::Business if api == Api::Storage => 500,
        _ => 200,
    };
    let what = match kind {
        FaultKind::TooManyRequests => "Too many requests (simulated)",
        FaultKind::Business => "Internal server error (simulated business error)",
        FaultKind::Http500 => "Internal server error (simulated)",
        FaultKind::Http502 => "Bad gateway (simulated)",
        _ => "Service unavailable (simulated)",
    };
    let msg = match made {
        Some(id) => format!("{what}; task {id} was created"),
        None => what.to_string(),
    };
    let msg = msg.as_str();
    let mut body = match api {
        Api::Vmeg | Api::Storage => {
            let code = if status == 200 { 500 } else { status };
            json!({"code": code, "message": msg, "data": null})
        }
        _ => jimmyai::envelope_err(sh, sh.config.jimmy_server_error.code, msg),
    };
    body["data"] = data;
    let mut resp = json_response(status, &body);
    if kind == FaultKind::TooManyRequests {
        let secs = retry_after.as_secs_f64().ceil() as u64;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

/// A file to serve: generated from a task's text (after the state lock is released),
/// or an upload's bytes.
enum SimFile {
    Wav(String),
    Srt(String),
    Stored(axum::body::Bytes, String),
}

/// `GET /sim/files/{name}`: generated result audio and subtitles (made from
/// the task's text when asked for, see `audio.rs`), or an uploaded file. Only the
/// text is copied under the state lock; the file is made after it is released (up
/// to 480 KB of WAV per download, which every other request waited for before).
fn sim_file(sh: &Shared, path: &str) -> Response<Body> {
    let name = path.strip_prefix("/sim/files/").unwrap_or("");
    let found = {
        let st = sh.lock_state();
        match generated_text(&st, name) {
            Some(g) => Some(g),
            None => st
                .files
                .get(name)
                .map(|f| SimFile::Stored(f.bytes.clone(), f.mime.clone())),
        }
    };
    let generated = found.map(|f| match f {
        SimFile::Wav(text) => (crate::audio::wav_for(&text).into(), "audio/wav".to_string()),
        SimFile::Srt(text) => (
            crate::audio::srt_for(&text).into_bytes().into(),
            "application/x-subrip".to_string(),
        ),
        SimFile::Stored(bytes, mime) => (bytes, mime),
    });
    let Some((bytes, mime)) = generated else {
        return json_response(404, &json!({"error": "not found"}));
    };
    let mut r = Response::new(Body::from(bytes));
    if let Ok(v) = HeaderValue::from_str(&mime) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// 405 for a method other than GET or HEAD on a file URL.
fn method_not_allowed() -> Response<Body> {
    let mut r = json_response(
        405,
        &json!({"error": "method not allowed: GET or HEAD only"}),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    r
}

/// What a generated file is made of: `tts_{task}_{i}.wav` (VMEG TTS line `i`),
/// `{task}.wav` / `{task}.srt` (JimmyAI), for a completed task.
fn generated_text(st: &SimState, name: &str) -> Option<SimFile> {
    let (stem, ext) = name.rsplit_once('.')?;
    let (task_id, line) = match stem.strip_prefix("tts_") {
        Some(rest) => {
            let (id, i) = rest.rsplit_once('_')?;
            (id, i.parse::<usize>().ok()?)
        }
        None => (stem, 0),
    };
    let t = st.tasks.get(task_id)?;
    if !t.settled || t.will_fail {
        return None;
    }
    let text = &t.lines.get(line)?.text;
    match ext {
        "wav" => Some(SimFile::Wav(text.clone())),
        "srt" if t.subtitles => Some(SimFile::Srt(text.clone())),
        _ => None,
    }
}

const EXTRA_FIELD: &str = "simUnknownField";

fn sprinkle(v: &mut Value) {
    if let Value::Object(m) = v {
        m.insert(
            EXTRA_FIELD.into(),
            json!({"note": "unknown field, ignore me", "n": 1}),
        );
    }
}

/// Add unknown fields to the envelope, `data`, and list items.
async fn add_extra_fields(resp: Response<Body>) -> Response<Body> {
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut v) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    sprinkle(&mut v);
    if let Some(data) = v.get_mut("data") {
        sprinkle(data);
        for list in ["records", "results"] {
            if let Some(Value::Array(items)) = data.get_mut(list) {
                items.iter_mut().for_each(sprinkle);
            }
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let out = serde_json::to_vec(&v).unwrap_or_default();
    Response::from_parts(parts, Body::from(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// Every `accept()` error closed the least recently active idle connection, as only
    /// running out of descriptors should: a client aborting connections before they were
    /// accepted (`ECONNABORTED`) made the simulator close other clients' idle ones.
    #[test]
    fn only_running_out_of_descriptors_closes_an_idle_connection() {
        use std::io::{Error, ErrorKind};
        #[cfg(unix)]
        {
            let os = Error::from_raw_os_error;
            assert_eq!(
                accept_failure(&os(libc::EMFILE)),
                AcceptFailure::OutOfDescriptors
            );
            assert_eq!(
                accept_failure(&os(libc::ENFILE)),
                AcceptFailure::OutOfDescriptors
            );
            assert_eq!(
                accept_failure(&os(libc::ECONNABORTED)),
                AcceptFailure::ConnectionGone
            );
            assert_eq!(accept_failure(&os(libc::ENOBUFS)), AcceptFailure::Other);
        }
        assert_eq!(
            accept_failure(&ErrorKind::ConnectionReset.into()),
            AcceptFailure::ConnectionGone
        );
        assert_eq!(accept_failure(&Error::other("x")), AcceptFailure::Other);
    }

    /// What `s` (non-blocking) has received so far, and whether the peer closed it.
    fn read_available(s: &mut std::net::TcpStream) -> (Vec<u8>, bool) {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return (got, true),
                Ok(n) => got.extend_from_slice(buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return (got, false),
                Err(_) => return (got, true),
            }
        }
    }

    /// `shutdown` aborted the connection tasks without waiting for them: one in the
    /// middle of a poll (here blocked on the state lock, which another thread holds) went
    /// on and answered after `shutdown` had returned, with its connection still open.
    /// Now `shutdown` waits for them: whatever the client gets has arrived by the time it
    /// returns, and the connection is closed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nothing_is_answered_after_shutdown_returns() {
        let sim = Simulator::start().await.unwrap();
        let shared = sim.shared.clone();
        let (locked, is_locked) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let _st = lock(&shared.state);
            locked.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(600));
        });
        is_locked.recv().unwrap();
        let mut client = std::net::TcpStream::connect(sim.addr()).unwrap();
        client
            .write_all(
                b"GET /api/open-api/v1/audios/x HTTP/1.1\r\nhost: sim\r\n\
                  authorization: Bearer sim-key\r\n\r\n",
            )
            .unwrap();
        // The request reaches its handler, which waits for the state lock. (Waiting
        // with the runtime's timer would wait for the blocked worker too: this thread
        // is not one of the runtime's workers, so it may block.)
        for _ in 0..400 {
            if sim.requests("jimmyai.getAudio") == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sim.requests("jimmyai.getAudio"), 1);
        std::thread::sleep(Duration::from_millis(50));
        sim.shutdown().await;
        client.set_nonblocking(true).unwrap();
        let (_, closed) = read_available(&mut client);
        holder.join().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let (later, _) = read_available(&mut client);
        assert!(
            closed,
            "the connection was still open after shutdown returned"
        );
        assert!(
            later.is_empty(),
            "answered after shutdown returned: {}",
            String::from_utf8_lossy(&later)
        );
    }

    /// Dropping the handle left the port bound until the runtime next polled the aborted
    /// accept loop, which owned the listener (on a current-thread runtime: not before the
    /// caller yielded). Now the port is free at once, after a drop as after `shutdown`.
    #[tokio::test(flavor = "current_thread")]
    async fn the_port_is_free_once_the_handle_is_dropped_or_shut_down() {
        let sim = Simulator::start().await.unwrap();
        let addr = sim.addr();
        // The accept loop is running (polling the listener).
        tokio::task::yield_now().await;
        assert!(std::net::TcpListener::bind(addr).is_err(), "in use");
        drop(sim);
        drop(std::net::TcpListener::bind(addr).expect("the port is free after drop"));

        let sim = Simulator::start().await.unwrap();
        let addr = sim.addr();
        tokio::task::yield_now().await;
        sim.shutdown().await;
        drop(std::net::TcpListener::bind(addr).expect("the port is free after shutdown"));
    }
}
