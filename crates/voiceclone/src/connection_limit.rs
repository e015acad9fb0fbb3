//! Keeps the connections a client opens within its in-flight bound.
//!
//! The in-flight semaphore bounds requests, not connections. hyper's pool races an idle-
//! connection checkout against a new connect for every request, and when the checkout wins
//! after the connect has started it finishes that connect in a background task (hyper-util
//! 0.1, `client/legacy/client.rs`, `one_connection_for`). A request that takes a permit a
//! moment before the previous request's connection is back in the pool therefore opens one
//! more connection: 32 to 63 connections for a bound of 32 in `--bench wait_scale`.
//!
//! reqwest's connection type is sealed, so a permit cannot live as long as a connection, and
//! closed connections cannot be counted. This connector layer works with what it can see:
//! - while fewer than `limit` connects have been started, it dials at once;
//! - beyond that, if an answer arrived less than [`HANDBACK_WINDOW`] ago, that answer's
//!   connection may be on its way back to the pool: the connect waits out the rest of the
//!   window first. If the connection comes back, hyper moves this connect to a background
//!   task, which is noticed (the request's task-local marker is gone) and the connect is
//!   abandoned before anything is dialed;
//! - otherwise it dials: the server has closed connections we counted, and a fresh one is
//!   needed. A client that has been idle dials at once.
//!
//! Closed connections are uncounted where the client can see them: an answer that says
//! `Connection: close`, a request that failed on its connection, and a request dropped
//! mid-flight ([`RequestGuard`]). A server that closes connections without saying so only
//! costs a busy client up to [`HANDBACK_WINDOW`] per replacement connection.
//!
//! Under HTTP/2 (the `http2` feature) hyper shares one connection per host and only dials
//! again when it is gone, so the count can run low there (a dropped stream uncounts a
//! connection that stays open) without opening more connections: it only means the next
//! dial is not delayed.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long after an answer its connection may still be on its way back to the pool. hyper
/// returns it from a task of its own once the body has ended; on a loaded runtime that took
/// more than 5 ms now and then (`--bench wait_scale`).
pub(crate) const HANDBACK_WINDOW: Duration = Duration::from_millis(50);

tokio::task_local! {
    /// Set while a request's own task polls (or drops) its exchange; absent in the
    /// background task hyper moves an unneeded connect to. Holds whether this request's
    /// place in the count has been given back: a request dropped while its own connect is
    /// under way is uncounted by that connect's [`Reservation`] and by its
    /// [`RequestGuard`], whichever drops first, never by both.
    static REQUEST_TASK: Cell<bool>;
}

/// Runs `fut`, one request's exchange, as a request whose connects this layer may gate.
/// A [`RequestGuard`] must be made inside `fut`, so that it is dropped within the scope.
pub(crate) async fn in_request_task<F: Future>(fut: F) -> F::Output {
    REQUEST_TASK.scope(Cell::new(false), fut).await
}

fn polled_by_request_task() -> bool {
    REQUEST_TASK.try_with(|_| ()).is_ok()
}

/// Gives this request's place in the count back, once per request: `false` when its
/// reservation or guard already did. Outside a request's task (hyper's background connect),
/// always `true`.
fn first_to_give_back() -> bool {
    REQUEST_TASK
        .try_with(|given| !given.replace(true))
        .unwrap_or(true)
}

/// Uncounts the connection of a request whose future is dropped before its outcome is
/// known: the drop takes the connection down with it, and the code that uncounts a lost
/// connection never runs. Without it, each such drop (a caller's timeout or `select!`, a
/// wait's deadline) left the count one higher for good, and every later reconnect waited
/// out the hand-back window. [`RequestGuard::disarm`] once the outcome is in hand.
pub(crate) struct RequestGuard<'a>(Option<&'a ConnectionLimit>);

impl<'a> RequestGuard<'a> {
    /// Made inside [`in_request_task`]; `None` for a caller's own HTTP client.
    pub(crate) fn new(limit: Option<&'a ConnectionLimit>) -> Self {
        Self(limit)
    }

    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for RequestGuard<'_> {
    fn drop(&mut self) {
        if let Some(limit) = self.0
            && first_to_give_back()
        {
            uncount(&limit.started);
        }
    }
}

/// The connector layer; one per `reqwest::Client` (all its connections go to one host).
#[derive(Clone, Debug)]
pub(crate) struct ConnectionLimit {
    limit: usize,
    started: Arc<AtomicUsize>,
    epoch: Instant,
    /// Microseconds from `epoch` to the last answer read in full.
    last_answer_us: Arc<AtomicU64>,
}

impl ConnectionLimit {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            started: Arc::new(AtomicUsize::new(0)),
            epoch: Instant::now(),
            last_answer_us: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Called when an answer has been read in full: its connection is on its way back.
    pub(crate) fn answer_received(&self) {
        self.last_answer_us.store(self.micros(), Ordering::Release);
    }

    /// Called when a request's connection is known to be gone (`Connection: close`, a failed
    /// request), from the request's own task ([`in_request_task`]):
    /// uncounted unless its connect's reservation already gave the place back (reqwest's
    /// whole-request timeout firing while the connect waited in the gate is a failed
    /// request, not a failed connect).
    pub(crate) fn request_lost(&self) {
        if first_to_give_back() {
            uncount(&self.started);
        }
    }

    fn micros(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// What is left of the hand-back window of the last answer, if any.
    fn handback_left(&self) -> Option<Duration> {
        let last = self.last_answer_us.load(Ordering::Acquire);
        if last == 0 {
            return None;
        }
        let since = Duration::from_micros(self.micros().saturating_sub(last));
        HANDBACK_WINDOW.checked_sub(since).filter(|d| !d.is_zero())
    }
}

impl<S> tower_layer::Layer<S> for ConnectionLimit {
    type Service = Gated<S>;

    fn layer(&self, inner: S) -> Gated<S> {
        Gated {
            inner,
            gate: self.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Gated<S> {
    inner: S,
    gate: ConnectionLimit,
}

/// Why a connect was not made; only ever seen by hyper's background task, which drops it.
#[derive(Debug, thiserror::Error)]
#[error("connect abandoned: the request was served by a pooled connection")]
struct Abandoned;

/// Counts a started connect until it fails or is abandoned.
struct Reservation(Arc<AtomicUsize>);

impl Reservation {
    fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if first_to_give_back() {
            uncount(&self.0);
        }
    }
}

/// One connection fewer, saturating at 0: a dropped request may have uncounted its
/// connection already.
fn uncount(started: &AtomicUsize) {
    let _ = started.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
}

impl<S, R> tower_service::Service<R> for Gated<S>
where
    S: tower_service::Service<R, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        // The standard tower dance: the clone we were told is ready does the call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let gate = self.gate.clone();
        Box::pin(async move {
            let earlier = gate.started.fetch_add(1, Ordering::AcqRel);
            let reservation = Reservation(gate.started.clone());
            if earlier >= gate.limit {
                if let Some(left) = gate.handback_left() {
                    tokio::time::sleep(left).await;
                    if !polled_by_request_task() {
                        tracing::trace!("a pooled connection came back first; not dialing");
                        return Err(Abandoned.into());
                    }
                }
                tracing::debug!(
                    limit = gate.limit,
                    "no pooled connection is coming back; dialing a replacement"
                );
            }
            let conn = inner.call(req).await?;
            reservation.keep();
            Ok(conn)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::sync::atomic::AtomicU32;
    use tower_layer::Layer;
    use tower_service::Service;

    /// A connector that counts its dials and answers at once (or refuses every one).
    #[derive(Clone, Default)]
    struct Dialer {
        dials: Arc<AtomicU32>,
        refuse: bool,
    }

    impl Service<()> for Dialer {
        type Response = u32;
        type Error = BoxError;
        type Future = std::future::Ready<Result<u32, BoxError>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, (): ()) -> Self::Future {
            let n = self.dials.fetch_add(1, Ordering::SeqCst) + 1;
            std::future::ready(if self.refuse {
                Err("refused".into())
            } else {
                Ok(n)
            })
        }
    }

    /// The output of `f` if it completes on its first poll, i.e. without waiting for
    /// anything (a timer included): judged by polling, not by a clock that a loaded machine
    /// can stall past any bound.
    fn at_once<F: Future>(f: F) -> Option<F::Output> {
        let mut f = std::pin::pin!(f);
        match f
            .as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
        {
            Poll::Ready(out) => Some(out),
            Poll::Pending => None,
        }
    }

    #[tokio::test]
    async fn beyond_the_limit_waits_for_a_handback_and_dials_only_for_a_waiting_request() {
        let dialer = Dialer::default();
        let limit = ConnectionLimit::new(2);
        let mut svc = limit.layer(dialer.clone());
        for _ in 0..2 {
            at_once(in_request_task(svc.call(())))
                .expect("dialed at once")
                .unwrap();
        }
        // No answer yet, so no connection can be on its way back: dial at once.
        at_once(in_request_task(svc.call(())))
            .expect("dialed at once")
            .unwrap();
        assert_eq!(dialer.dials.load(Ordering::SeqCst), 3);
        // Right after an answer, a connect moved off the request's task is abandoned...
        limit.answer_received();
        let background = tokio::spawn(svc.call(()));
        assert!(background.await.unwrap().is_err());
        assert_eq!(dialer.dials.load(Ordering::SeqCst), 3);
        // ...and one its request still waits for is dialed once the window has passed.
        limit.answer_received();
        let started = Instant::now();
        in_request_task(svc.call(())).await.unwrap();
        assert!(started.elapsed() >= HANDBACK_WINDOW / 2);
        assert_eq!(dialer.dials.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_lost_connection_is_replaced_at_once() {
        let dialer = Dialer::default();
        let limit = ConnectionLimit::new(1);
        let mut svc = limit.layer(dialer.clone());
        in_request_task(svc.call(())).await.unwrap();
        limit.answer_received();
        limit.request_lost();
        at_once(in_request_task(svc.call(())))
            .expect("dialed at once")
            .unwrap();
        assert_eq!(dialer.dials.load(Ordering::SeqCst), 2);
        // Never below zero, whatever is reported.
        for _ in 0..3 {
            limit.request_lost();
        }
        assert_eq!(limit.started.load(Ordering::SeqCst), 0);
    }

    /// A request dropped mid-flight (a caller's timeout, a wait's deadline) gives its place
    /// back exactly once: by its guard when it held a connection, and by its connect's
    /// reservation or its guard, not both, when it was dropped while connecting.
    #[tokio::test]
    async fn a_dropped_request_gives_its_place_back_once() {
        let limit = ConnectionLimit::new(1);
        let mut svc = limit.layer(Dialer::default());
        let count = || limit.started.load(Ordering::SeqCst);
        // Dropped on a connection it dialed: that connection goes down with it.
        let served = at_once(in_request_task(async {
            let _guard = RequestGuard::new(Some(&limit));
            svc.call(()).await.unwrap();
            std::future::pending::<()>().await;
        }));
        assert!(served.is_none());
        assert_eq!(count(), 0);
        // One connection open; a second request beyond the limit, right after an answer,
        // waits in the gate and is dropped there: the open connection stays counted.
        at_once(in_request_task(svc.call(()))).unwrap().unwrap();
        assert_eq!(count(), 1);
        limit.answer_received();
        let waiting = at_once(in_request_task(async {
            let _guard = RequestGuard::new(Some(&limit));
            svc.call(()).await
        }));
        assert!(
            waiting.is_none(),
            "the connect waits out the hand-back window"
        );
        assert_eq!(
            count(),
            1,
            "uncounted twice: the limit would let one more through"
        );
        // A request whose timeout fires while its connect waits in the gate fails as a
        // request (reqwest's whole-request timeout: phase `Sent`), and the transport reports
        // its connection lost: uncounted once, since the reservation gave the place back.
        limit.answer_received();
        let timed_out = at_once(in_request_task(async {
            {
                let mut connect = std::pin::pin!(svc.call(()));
                let pending =
                    std::future::poll_fn(|cx| Poll::Ready(connect.as_mut().poll(cx).is_pending()))
                        .await;
                assert!(pending, "the connect waits in the gate");
            }
            limit.request_lost();
        }));
        assert!(timed_out.is_some());
        assert_eq!(
            count(),
            1,
            "uncounted by the reservation and by request_lost"
        );
        // A request that held a connection and lost it: uncounted once.
        let fresh = ConnectionLimit::new(1);
        let mut dial = fresh.layer(Dialer::default());
        let lost = at_once(in_request_task(async {
            dial.call(()).await.unwrap();
            fresh.request_lost();
        }));
        assert!(lost.is_some());
        assert_eq!(fresh.started.load(Ordering::SeqCst), 0);
        // A disarmed guard (the outcome in hand) leaves the count to the transport.
        let done = at_once(in_request_task(async {
            let mut guard = RequestGuard::new(Some(&limit));
            guard.disarm();
        }));
        assert!(done.is_some());
        assert_eq!(count(), 1);
    }

    #[tokio::test]
    async fn failed_and_dropped_connects_do_not_use_up_the_limit() {
        let limit = ConnectionLimit::new(1);
        let mut refused = limit.layer(Dialer {
            refuse: true,
            ..Dialer::default()
        });
        assert!(in_request_task(refused.call(())).await.is_err());
        assert_eq!(limit.started.load(Ordering::SeqCst), 0);
        let pending = limit.layer(Dialer::default()).call(());
        drop(pending);
        assert_eq!(limit.started.load(Ordering::SeqCst), 0);
        let mut ok = limit.layer(Dialer::default());
        in_request_task(ok.call(())).await.unwrap();
        assert_eq!(limit.started.load(Ordering::SeqCst), 1);
    }
}
