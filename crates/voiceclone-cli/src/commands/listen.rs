//! `webhook listen`: receive VMEG deliveries and print each verified, first-seen event as one
//! JSON line on stdout, until SIGINT or SIGTERM.
//!
//! The one command whose stdout is a stream: `{"listening":"HOST:PORT"}` first, then one
//! object per event, each line flushed. Duplicates and refused deliveries are one line each
//! on stderr. Deliveries go through the adapter's axum receiver over a
//! [`CompletionHub`] (in-process, or on Redis with `--redis-url-env`), which answers VMEG
//! with [`Delivery::http_status`].
//!
//! A first-seen delivery is recorded **pending** for [`LEASE`] and confirmed once its line is
//! written: meanwhile a redelivery is answered 503 by every listener sharing the store, so an
//! event whose line is stuck (or whose listener dies) is never answered 200 elsewhere and
//! lost. A line that cannot be written (stdout closed, a signal, [`LINE_WAIT`] without a
//! reader) releases the mark (only its own) and is answered 503.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use tokio::sync::{Notify, oneshot, watch};
use voiceclone::WebhookSecret;
use voiceclone::webhook::{
    Claim, CompletionHub, Confirmation, Delivery, Verifier, WebhookEvent, WebhookPayload,
};

use crate::cli::{Cli, ListenArgs, ProviderArg};
use crate::exit::Exit;
use crate::output::{Failure, Outcome, Printer, rfc3339};
use crate::receiver::{
    CONNECTION_LIFETIME, Receiver, STOP_GRACE, check_path, secret_from_env, store_from_env,
};

/// How long a first-seen event's line may wait for stdout before the listener gives up on it
/// (releases its mark and answers 503): the longest a delivery's connection is served, 30 s,
/// and the 5 s it is then given to answer. By then the connection is cut off: VMEG gets no
/// answer from this listener anyway and redelivers.
pub const LINE_WAIT: Duration = CONNECTION_LIFETIME.saturating_add(STOP_GRACE);

/// The lease a first-seen delivery's mark is pending for in the store (60 s): while it runs,
/// a redelivery to any listener sharing the store is answered 503, and if this listener dies
/// the next redelivery after it is fresh on any of them. [`LINE_WAIT`] and a 25 s margin for
/// the record and the confirmation (each bounded by the Redis store's 2 s timeout) and a
/// loaded machine's scheduling: the line is written and confirmed, or given up and released,
/// well before the lease runs out.
pub const LEASE: Duration = LINE_WAIT.saturating_add(Duration::from_secs(25));

/// Runs `webhook listen`. `Ok(exit)` once it has streamed (everything is printed already);
/// `Err(outcome)` when it could not start (printed by the caller like any other failure).
pub async fn run(cli: &Cli, args: &ListenArgs, printer: &mut Printer) -> Result<Exit, Outcome> {
    let fail = |f: Failure| {
        let mut o = Outcome::failed(f);
        o.set("provider", "vmeg");
        o
    };
    if cli.provider == Some(ProviderArg::Jimmyai) {
        return Err(fail(Failure::usage(
            "JimmyAI has no webhooks: `webhook listen` receives VMEG deliveries only (drop --provider jimmyai / VOICECLONE_PROVIDER=jimmyai)",
        )));
    }
    // The keys first: the path's refusal quotes it, and a key pasted there
    // (`--path "$VMEG_API_KEY"`) must show redacted.
    crate::context::redact_api_keys(cli, printer).map_err(fail)?;
    check_path(&args.path).map_err(fail)?;
    let secret = secret_from_env(&args.secret_env, "--secret-env", printer).map_err(fail)?;
    let secret = WebhookSecret::new(secret);
    let hub = match &args.redis_url_env {
        Some(var) => {
            let store = store_from_env(var, printer).await.map_err(fail)?;
            CompletionHub::with_store(Verifier::new(secret), store)
        }
        None => CompletionHub::in_memory(secret),
    };
    // Handlers first: a SIGTERM right after the listening line must not kill the process.
    let mut signals = crate::signals::Signals::install_keeping_hangup().map_err(fail)?;
    let listener = Receiver::bind(args.addr).await.map_err(fail)?;
    let addr = listener
        .local_addr()
        .map_err(|e| fail(Failure::io("cannot read the bound address", &e)))?;

    let state = Arc::new(State {
        printer: printer.clone(),
        hub: hub.clone(),
        closed: AtomicBool::new(false),
        closed_note: Notify::new(),
        stopping: watch::channel(false).0,
        out: StdoutWriter::start(),
        err: StderrWriter::start(),
        unwritten: Mutex::new(HashSet::new()),
        busy: watch::channel(0).0,
        fresh: AtomicU64::new(0),
        duplicate: AtomicU64::new(0),
        refused: AtomicU64::new(0),
    });
    // The first line, before anything is served: no event line can precede it. Raced
    // against the signals: a stdout nobody reads (a pipe already full) must not make them
    // go unheard (a signal then ends the process, 130 or 143).
    let first = serde_json::json!({ "listening": addr.to_string() }).to_string();
    match crate::signals::write_stdout(&mut signals, format!("{first}\n")).await {
        Err(_) => return Ok(output_closed(printer)),
        Ok(Some(name)) => {
            // Nothing was served yet.
            printer.progress(&format!(
                "stopped on {name}: 0 events printed, 0 duplicates, 0 refused"
            ));
            return Ok(Exit::Success);
        }
        Ok(None) => {}
    }
    printer.progress(&format!(
        "receiving VMEG webhooks on http://{addr}{}; Ctrl-C to stop",
        args.path
    ));

    let on_delivery = {
        let state = state.clone();
        Arc::new(move |d: &Delivery| state.delivered(d))
    };
    let gate = state.clone();
    // Recorded pending (LEASE), confirmed once the line is written: a redelivery meanwhile
    // is answered 503 by every listener sharing the store, never 200 for a line not out yet.
    let app = voiceclone::webhook::axum::router_with_lease(&args.path, hub, LEASE, on_delivery)
        .map_err(|e| fail(e.into()))?
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let gate = gate.clone();
                // Each request is handled in a task of its own, awaited here: when the sender
                // hangs up (VMEG giving up on a slow answer, the receiver cutting a connection
                // off), the server drops this future, not the handling. Dropped between the
                // store's mark and the printed line, an event would be marked handled, never
                // printed, and its redelivery skipped as a duplicate.
                async move {
                    tokio::spawn(async move { gate.admit(req, next).await })
                        .await
                        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
                }
            },
        ));
    let mut receiver = Receiver::start(listener, app).map_err(fail)?;

    let stop = tokio::select! {
        signal = signals.next() => Stop::Signal(signal),
        () = state.closed_note.notified() => Stop::OutputClosed,
        why = receiver.ended() => Stop::Ended(why),
    };
    // Deliveries still waiting for their line to be written give up now (503).
    state.stopping.send_replace(true);
    receiver.stop().await;
    // Their requests may be gone (VMEG hung up) while they release their marks: waited for
    // (bounded), or a mark would stay pending until its lease ran out.
    let mut busy = state.busy.subscribe();
    let _ = tokio::time::timeout(STOP_GRACE, busy.wait_for(|n| *n == 0)).await;
    let counts = format!(
        "{} events printed, {} duplicates, {} refused",
        state.fresh.load(Ordering::Relaxed),
        state.duplicate.load(Ordering::Relaxed),
        state.refused.load(Ordering::Relaxed)
    );
    // The last line goes after the queued ones, and is waited for a bounded time only: a
    // stderr nobody reads must not keep the process from ending.
    let p = printer.clone();
    let (last, exit): (Box<dyn FnOnce() + Send>, Exit) = match stop {
        Stop::Signal(name) => (
            Box::new(move || p.progress(&format!("stopped on {name}: {counts}"))),
            Exit::Success,
        ),
        Stop::OutputClosed => (
            Box::new(move || {
                output_closed(&p);
            }),
            Exit::Unreachable,
        ),
        Stop::Ended(why) => (
            Box::new(move || {
                crate::output::stderr_line(&format!("error: {} ({counts})", p.safe(&why)));
            }),
            Exit::Unreachable,
        ),
    };
    state.err.last(last, STOP_GRACE).await;
    Ok(exit)
}

enum Stop {
    Signal(&'static str),
    OutputClosed,
    Ended(String),
}

fn output_closed(printer: &Printer) -> Exit {
    crate::output::stderr_line(&printer.safe(
        "error: stdout was closed, so events can no longer be printed; stopped (an event whose line could not be written, and every later delivery, was answered 503, so VMEG redelivers them; a line written just before the reader went away may still be unread)",
    ));
    Exit::Unreachable
}

fn write_stdout(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// Something to write on stderr, and where to say it was done.
type StderrJob = (Box<dyn FnOnce() + Send>, Option<oneshot::Sender<()>>);

/// How many stderr lines may wait for a stderr that is not being read; more are dropped
/// (and counted): each refused request has a line, and a sender can make many.
const STDERR_QUEUE: usize = 1024;

/// Writes the per-delivery stderr lines from a thread of their own, for the reason
/// [`StdoutWriter`] does (`2>&1 | slow-reader` puts both on one pipe), with a bounded
/// queue: lines beyond it are dropped and their count said with the next line written.
struct StderrWriter {
    tx: std::sync::mpsc::SyncSender<StderrJob>,
    dropped: Arc<AtomicU64>,
}

impl StderrWriter {
    fn start() -> StderrWriter {
        let (tx, rx) = std::sync::mpsc::sync_channel::<StderrJob>(STDERR_QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let counted = dropped.clone();
        let spawned = std::thread::Builder::new()
            .name("stderr".into())
            .spawn(move || {
                for (job, done) in rx {
                    let lost = counted.swap(0, Ordering::Relaxed);
                    if lost > 0 {
                        let _ = writeln!(
                            std::io::stderr().lock(),
                            "({lost} stderr lines dropped: stderr was not being read)"
                        );
                    }
                    job();
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the stderr writer; stderr lines are written in place");
        }
        StderrWriter { tx, dropped }
    }

    /// Queues `job`; dropped (and counted) when the queue is full; run in place when the
    /// writer thread could not start.
    fn send(&self, job: Box<dyn FnOnce() + Send>) {
        match self.tx.try_send((job, None)) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(std::sync::mpsc::TrySendError::Disconnected((job, _))) => job(),
        }
    }

    /// Queues `job` after the lines already queued and waits for it, `within` at most.
    async fn last(&self, job: Box<dyn FnOnce() + Send>, within: std::time::Duration) {
        let (done, ran) = oneshot::channel();
        match self.tx.try_send((job, Some(done))) {
            Ok(()) => {
                let _ = tokio::time::timeout(within, ran).await;
            }
            Err(std::sync::mpsc::TrySendError::Full(_)) => {}
            Err(std::sync::mpsc::TrySendError::Disconnected((job, _))) => job(),
        }
    }
}

/// One event line for the writer thread, and where to say whether it was written. The
/// line is held by its request: one that gave up (answered 503) frees it at once, and the
/// queue keeps only this weak handle, however long stdout stays stalled.
type LineJob = (Weak<str>, oneshot::Sender<std::io::Result<()>>);

/// Writes event lines on stdout from a thread of its own. A reader that stops reading
/// blocks that thread, never the runtime, which must go on answering, timing connections
/// out and hearing SIGTERM. At most one line per request in flight waits for it (the
/// receiver bounds connections); the lines of requests that gave up are freed.
struct StdoutWriter(std::sync::mpsc::Sender<LineJob>);

impl StdoutWriter {
    fn start() -> StdoutWriter {
        Self::with_sink(write_stdout)
    }

    /// A writer whose thread hands each line to `sink` (stdout, or a test's).
    fn with_sink(
        mut sink: impl FnMut(&str) -> std::io::Result<()> + Send + 'static,
    ) -> StdoutWriter {
        let (tx, rx) = std::sync::mpsc::channel::<LineJob>();
        // Not a runtime blocking task: the runtime's shutdown would wait for a write that
        // may never end. The thread ends with the process.
        let spawned = std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || {
                for (line, done) in rx {
                    // Its request gave up (stopping, or stdout unread too long): not
                    // written, it was answered 503 and its line is gone.
                    let Some(line) = line.upgrade() else {
                        continue;
                    };
                    let _ = done.send(sink(&line));
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the stdout writer; events are answered 503");
        }
        StdoutWriter(tx)
    }

    /// Writes `line`; `Err` when stdout failed (or the writer is gone).
    async fn write(&self, line: String) -> std::io::Result<()> {
        self.write_shared(Arc::from(line)).await
    }

    /// [`StdoutWriter::write`], the line held only by this future until it is written.
    async fn write_shared(&self, line: Arc<str>) -> std::io::Result<()> {
        let (done, written) = oneshot::channel();
        self.0
            .send((Arc::downgrade(&line), done))
            .map_err(|_| std::io::Error::other("the stdout writer is gone"))?;
        let written = written
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("the stdout writer is gone")));
        drop(line);
        written
    }
}

tokio::task_local! {
    /// Set by the delivery callback for the request `admit` is serving: the callback runs
    /// inside the handler, within `admit`'s poll.
    static HANDLED: RefCell<Reached>;
}

/// What became of the request `admit` is serving, as the delivery callback saw it.
enum Reached {
    /// Answered before the hub (a wrong path or method, an oversized body).
    No,
    /// The hub decided, and its line was written where it belongs (stderr).
    Yes,
    /// A first-seen event: its stdout line, `pipelineKey` and claim (its pending mark),
    /// which `admit` writes (then confirms) before the 200 goes out.
    Print {
        line: String,
        pipeline_key: String,
        claim: Option<Claim>,
    },
    /// A redelivery of an event whose line is not written yet (here or by another listener
    /// on the same store): answered 503.
    NotYet,
}

/// At most 200 characters of a request path, for a log line.
fn clip(path: &str) -> String {
    match path.char_indices().nth(200) {
        Some((at, _)) => format!("{}...", path.get(..at).unwrap_or_default()),
        None => path.to_owned(),
    }
}

/// Counts a request in [`State::busy`] while it lives.
struct Busy<'a>(&'a watch::Sender<usize>);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// What the delivery callback and the gate share.
struct State {
    printer: Printer,
    /// The receiver's hub: forgets a delivery whose line could not be printed.
    hub: CompletionHub,
    /// Stdout failed: refuse further deliveries with 503 (VMEG redelivers them).
    closed: AtomicBool,
    closed_note: Notify,
    /// Set on a signal: a delivery whose line is not written yet gives up (503).
    stopping: watch::Sender<bool>,
    out: StdoutWriter,
    err: StderrWriter,
    /// `pipelineKey`s marked whose lines are not written yet. A redelivery of one is
    /// answered 503, not 200: VMEG must keep trying until the line is out (if it never is,
    /// the mark is released and the next redelivery is fresh). The memory and Redis stores
    /// do this for every listener sharing them (the mark stays pending until the line is
    /// out); this set does it within this process for a store without leases.
    unwritten: Mutex<HashSet<String>>,
    /// How many requests `admit` is handling (each in a task of its own, which outlives a
    /// sender that hangs up).
    busy: watch::Sender<usize>,
    fresh: AtomicU64,
    duplicate: AtomicU64,
    refused: AtomicU64,
}

impl State {
    /// Every request passes here. Once stdout is gone it answers 503 without looking (an
    /// event accepted now could not be printed, and VMEG would not send it again). A request
    /// answered without reaching the hub (a body over axum's limit, a wrong path or method)
    /// gets its stderr line here, so every refused delivery has one.
    async fn admit(&self, req: Request, next: Next) -> Response {
        self.busy.send_modify(|n| *n = n.saturating_add(1));
        let _busy = Busy(&self.busy);
        let what = format!("{} {}", req.method(), clip(req.uri().path()));
        let response = if self.closed.load(Ordering::SeqCst) {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        } else {
            let reached = HANDLED.scope(RefCell::new(Reached::No), async {
                let response = next.run(req).await;
                (response, HANDLED.with(|h| h.replace(Reached::No)))
            });
            match reached.await {
                (response, Reached::Yes) => return response,
                (_, Reached::NotYet) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
                (
                    response,
                    Reached::Print {
                        line,
                        pipeline_key,
                        claim,
                    },
                ) => {
                    let mut stopping = self.stopping.subscribe();
                    // Biased: a line written by the time the signal comes counts as printed.
                    // (One being written at that moment may still land after the 503: printed
                    // once more on redelivery, never lost.)
                    let printed: Result<(), String> = tokio::select! {
                        biased;
                        written = self.out.write(line) => written.map_err(|_| {
                            if !self.closed.swap(true, Ordering::SeqCst) {
                                self.closed_note.notify_one();
                            }
                            "stdout is closed".to_owned()
                        }),
                        _ = stopping.wait_for(|s| *s) => Err("stopping while stdout was not being read".to_owned()),
                        // Before the lease runs out: released now, the redelivery is fresh on
                        // any listener at once.
                        () = tokio::time::sleep(LINE_WAIT) => Err(format!("stdout was not read for {} s", LINE_WAIT.as_secs())),
                    };
                    let why = match printed {
                        Ok(()) => {
                            self.written(&pipeline_key);
                            self.fresh.fetch_add(1, Ordering::Relaxed);
                            if let Some(claim) = &claim {
                                self.confirm(claim).await;
                            }
                            return response;
                        }
                        Err(why) => why,
                    };
                    let answer = self.unprinted(&pipeline_key, claim.as_ref(), &why).await;
                    self.written(&pipeline_key);
                    return answer;
                }
                (response, Reached::No) => response,
            }
        };
        self.refused.fetch_add(1, Ordering::Relaxed);
        let status = response.status();
        let why = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "the body is over the 1 MiB limit",
            StatusCode::NOT_FOUND => "not the webhook path",
            StatusCode::METHOD_NOT_ALLOWED => "deliveries are POSTs",
            StatusCode::SERVICE_UNAVAILABLE => "stdout is closed",
            _ => "not a delivery",
        };
        self.stderr(&format!(
            "refused request {what}: {why}; answered {}",
            status.as_u16()
        ));
        response
    }

    fn unwritten_keys(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.unwritten.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Its line is out, or it was forgotten: redeliveries are ordinary again.
    fn written(&self, pipeline_key: &str) {
        self.unwritten_keys().remove(pipeline_key);
    }

    /// Its line is out: the pending mark becomes the dedupe mark (a redelivery is then a
    /// duplicate on every listener sharing the store). The 200 goes out whatever happens
    /// here: the event is printed.
    async fn confirm(&self, claim: &Claim) {
        let key = claim.pipeline_key();
        match self.hub.confirm(claim).await {
            Ok(Confirmation::Taken) => self.stderr(&format!(
                "printed pipelineKey {key} after its {}-s lease ran out, and another listener on the same store took its redelivery meanwhile: it may be printed twice",
                LEASE.as_secs()
            )),
            Ok(_) => {}
            Err(e) => self.stderr(&format!(
                "printed pipelineKey {key}, but its mark could not be confirmed: {e}; it stays pending for at most {} s, and a redelivery after that is printed again",
                LEASE.as_secs()
            )),
        }
    }

    /// A first-seen event whose line was not written: the hub releases its mark (only its
    /// own: one another listener set meanwhile stays) and VMEG gets a 503, so that its
    /// redelivery is printed (by the next listener, even one sharing this Redis).
    async fn unprinted(&self, pipeline_key: &str, claim: Option<&Claim>, why: &str) -> Response {
        self.refused.fetch_add(1, Ordering::Relaxed);
        let released = match claim {
            Some(claim) => self.hub.release(claim).await.map(|_| ()),
            None => self.hub.forget(pipeline_key).await,
        };
        let forgot = match released {
            Ok(()) => String::new(),
            Err(e) => format!(
                " (but it stays marked: {e}; pending, it is answered 503 on every listener on the same store until its {}-s lease runs out, then printed)",
                LEASE.as_secs()
            ),
        };
        self.stderr(&format!(
            "event not printed: pipelineKey {pipeline_key}: {why}; answered 503 so that VMEG redelivers it{forgot}"
        ));
        StatusCode::SERVICE_UNAVAILABLE.into_response()
    }

    fn delivered(&self, d: &Delivery) {
        // Tell `admit` that this request reached the hub (and gets its line here).
        let _ = HANDLED.try_with(|h| h.replace(Reached::Yes));
        let status = d.http_status();
        match d {
            Delivery::Claimed(event, claim) => self.print(event, Some(claim.clone())),
            // Not from the lease router; printed all the same (a failure forgets the key).
            Delivery::Fresh(event) => self.print(event, None),
            Delivery::InProgress(event) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                let _ = HANDLED.try_with(|h| h.replace(Reached::NotYet));
                self.stderr(&format!(
                    "redelivery of pipelineKey {}, whose line is not printed yet (by this listener or another on the same store): answered 503 so that VMEG tries again",
                    event.pipeline_key
                ));
            }
            Delivery::Duplicate(event) if self.unwritten_keys().contains(&event.pipeline_key) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                let _ = HANDLED.try_with(|h| h.replace(Reached::NotYet));
                self.stderr(&format!(
                    "redelivery of pipelineKey {}, whose line is not printed yet (stdout is not being read): answered 503 so that VMEG tries again",
                    event.pipeline_key
                ));
            }
            Delivery::Duplicate(event) => {
                self.duplicate.fetch_add(1, Ordering::Relaxed);
                self.stderr(&format!(
                    "duplicate delivery: pipelineKey {} was already handled; answered {status}, not printed again",
                    event.pipeline_key
                ));
            }
            Delivery::Refused(e) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                self.stderr(&format!("refused delivery: {e}; answered {status}"));
            }
            Delivery::Unavailable(e) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                self.stderr(&format!(
                    "delivery not recorded: {e}; answered {status} so that VMEG redelivers"
                ));
            }
            _ => self.stderr(&format!("delivery answered {status}")),
        }
    }

    /// A first-seen event: its line goes to `admit`, which writes it off the runtime's
    /// thread (a 503 if it cannot be).
    fn print(&self, event: &WebhookEvent, claim: Option<Claim>) {
        let line = self
            .printer
            .json_line(&event_line(event, SystemTime::now()));
        let pipeline_key = event.pipeline_key.clone();
        // Here, right after the store's mark: no redelivery can slip in between. (With a
        // store without leases, this is what answers a redelivery to this listener 503.)
        self.unwritten_keys().insert(pipeline_key.clone());
        let key = pipeline_key.clone();
        if HANDLED
            .try_with(|h| {
                h.replace(Reached::Print {
                    line,
                    pipeline_key,
                    claim,
                })
            })
            .is_err()
        {
            // Not inside `admit` (cannot happen: every request passes there).
            self.written(&key);
        }
    }

    fn stderr(&self, line: &str) {
        let line = self.printer.safe(line);
        self.err.send(Box::new(move || {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }));
    }
}

/// One event as its stdout line.
fn event_line(e: &WebhookEvent, received_at: SystemTime) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    let opt = |v: Option<&str>| v.map_or(Value::Null, Value::from);
    put("pipeline_key", e.pipeline_key.as_str().into());
    put("event", e.kind.as_str().into());
    put("code", e.code.into());
    put("succeeded", e.succeeded().into());
    put("message", opt(e.message.as_deref()));
    // VMEG webhooks carry no status: code 200 is success, anything else failure.
    let status = if e.succeeded() { "succeeded" } else { "failed" };
    match &e.payload {
        WebhookPayload::Clone(job) => {
            put("kind", "clone".into());
            put("task_id", job.id.as_str().into());
            put("status", job.status.as_str().into());
            let voice = job.voice.as_ref();
            put("voice_id", opt(voice.map(|v| v.id.as_str())));
            if let Some(u) = voice.and_then(|v| v.preview_url.as_ref()) {
                put("preview_url", u.as_str().into());
            }
        }
        WebhookPayload::Speech(job) => {
            put("kind", "speech".into());
            put("task_id", job.id.as_str().into());
            put("status", job.status.as_str().into());
            let urls: Vec<&str> = job
                .speech
                .iter()
                .flat_map(|s| s.audio_urls.iter().map(|u| u.as_str()))
                .collect();
            put("audio_urls", urls.into());
            if let Some(u) = job.speech.as_ref().and_then(|s| s.subtitle_url.as_ref()) {
                put("subtitle_url", u.as_str().into());
            }
        }
        WebhookPayload::Other(data) => {
            put("kind", Value::Null);
            put("task_id", data.task_id().map_or(Value::Null, Value::from));
            put("status", status.into());
            for (k, v) in crate::output::raw_data_fields(data) {
                put(k, v);
            }
        }
        _ => {
            put("kind", Value::Null);
            put("task_id", Value::Null);
            put("status", status.into());
        }
    }
    put("idempotency_key", opt(e.idempotency_key()));
    put("sent_at", rfc3339(e.sent_at).into());
    put("received_at", rfc3339(received_at).into());
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn event(body: &str) -> WebhookEvent {
        let secret = "s3cret-for-tests";
        let ts = "1700000000000";
        let sig = voiceclone_sim::sign(secret, ts, body.as_bytes());
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
        Verifier::new(WebhookSecret::new(secret))
            .verify_at(ts, &sig, body.as_bytes(), now)
            .unwrap()
    }

    /// stdout stalled: a request that gives up on its line (35 s unread, or a signal) frees
    /// it at once, and the writer skips it once stdout moves again. Before, the queue held
    /// every given-up line until the writer reached it: each redelivery of an unprinted event
    /// (up to 1 MiB of `data`) added one for as long as stdout stayed stalled.
    #[tokio::test]
    async fn a_line_given_up_while_stdout_is_stalled_is_freed_and_never_written() {
        let (go, stalled) = std::sync::mpsc::channel::<()>();
        let (entered, writing) = std::sync::mpsc::channel::<()>();
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink_lines = lines.clone();
        let writer = Arc::new(StdoutWriter::with_sink(move |line| {
            let _ = entered.send(());
            let _ = stalled.recv();
            sink_lines.lock().unwrap().push(line.to_owned());
            Ok(())
        }));
        let w = writer.clone();
        let first = tokio::spawn(async move { w.write("first".to_owned()).await });
        // The writer is blocked on the first line before the next is queued.
        for _ in 0..5000 {
            if writing.try_recv().is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let big: Arc<str> = Arc::from("x".repeat(1 << 20));
        let held = Arc::downgrade(&big);
        let gave_up =
            tokio::time::timeout(Duration::from_millis(50), writer.write_shared(big)).await;
        assert!(gave_up.is_err(), "stdout is stalled: the write waits");
        assert!(held.upgrade().is_none(), "the given-up line is freed");
        go.send(()).unwrap();
        first.await.unwrap().unwrap();
        // A third line is written after the first; the given-up one never is.
        let third = writer.write("third".to_owned());
        go.send(()).unwrap();
        third.await.unwrap();
        assert_eq!(*lines.lock().unwrap(), ["first", "third"]);
    }

    #[test]
    fn lines_for_clone_tts_and_other_events() {
        let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let clone = event(
            r#"{"code":200,"event":"openapi-clone-voice","pipelineKey":"pk1","message":"","extraData":{"voiceclone":{"idempotencyKey":"k1"}},"data":{"taskId":"t1","voiceId":"cv_1"}}"#,
        );
        let j = event_line(&clone, at);
        assert_eq!(j["kind"], "clone", "{j}");
        assert_eq!(j["task_id"], "t1");
        assert_eq!(j["status"], "succeeded");
        assert_eq!(j["voice_id"], "cv_1");
        assert_eq!(j["idempotency_key"], "k1");
        assert_eq!(j["message"], Value::Null);
        assert_eq!(j["received_at"], "2023-11-14T22:13:20.123Z");
        assert_eq!(j["succeeded"], true);
        // README: `audio_urls` for TTS events (and no `voice_id`).
        let tts = event(
            r#"{"code":200,"event":"openapi-tts","pipelineKey":"pk4","message":"","data":{"taskId":"t4","results":[{"uri":"https://cdn.example.com/a.mp3"}]}}"#,
        );
        let j = event_line(&tts, at);
        assert_eq!(
            j["audio_urls"],
            serde_json::json!(["https://cdn.example.com/a.mp3"]),
            "{j}"
        );
        assert_eq!(j["succeeded"], true);
        assert!(j.get("voice_id").is_none(), "{j}");
        let failed = event(
            r#"{"code":500,"event":"openapi-tts","pipelineKey":"pk2","message":"boom","data":{"taskId":"t2"}}"#,
        );
        let j = event_line(&failed, at);
        assert_eq!(j["status"], "failed", "{j}");
        assert_eq!(j["succeeded"], false);
        assert_eq!(j["message"], "boom");
        assert_eq!(j["task_id"], "t2");
        let other = event(
            r#"{"code":200,"event":"openapi-translate","pipelineKey":"pk3","data":{"taskId":123456789012345678901}}"#,
        );
        let j = event_line(&other, at);
        assert_eq!(j["task_id"], "123456789012345678901", "{j}");
        assert_eq!(j["event"], "openapi-translate");
        assert_eq!(j["status"], "succeeded");
    }
}
