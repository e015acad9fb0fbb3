//! The open-connection table behind [`crate::SimConfig::max_connections`]:
//! which connections are idle, which was active least recently, and how many
//! descriptors the process may use.

use std::collections::BTreeMap;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use hyper::body::{Body as HttpBody, Bytes, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Open connections: what the cap needs to pick one to close.
#[derive(Debug, Default)]
pub(crate) struct ConnTable {
    pub conns: BTreeMap<u64, ConnEntry>,
    pub next: u64,
}

/// [`ConnEntry::in_flight`] of a connection the cap is closing: swapped in for 0 only, so
/// that a request that has started is never closed under it, and one that would start
/// after it is refused ([`InFlight::try_new`]).
const CLOSING: usize = usize::MAX;

#[derive(Debug)]
pub(crate) struct ConnEntry {
    /// Requests being handled on the connection now, or [`CLOSING`].
    pub in_flight: Arc<AtomicUsize>,
    /// Milliseconds since the simulator started, at the last request start
    /// or end.
    pub last_active: Arc<AtomicU64>,
    pub abort: tokio::task::AbortHandle,
}

impl ConnTable {
    /// The idle connection (no request in flight) least recently active.
    pub fn least_recently_active_idle(&self) -> Option<u64> {
        self.conns
            .iter()
            .filter(|(_, e)| e.in_flight.load(Ordering::Relaxed) == 0)
            .min_by_key(|(id, e)| (e.last_active.load(Ordering::Relaxed), **id))
            .map(|(id, _)| *id)
    }

    /// Closes connection `id` if no request is in flight on it (`false`: a request
    /// started since it was picked, or no such connection). Reading `in_flight` as 0
    /// and then aborting let a request that started in between (on another worker
    /// thread) be cut off inside its handler: a create made and billed, its answer
    /// dropped. The swap to [`CLOSING`] is the one check, and a request cannot start
    /// after it.
    pub fn try_evict(&mut self, id: u64) -> bool {
        let idle = self.conns.get(&id).is_some_and(|e| {
            e.in_flight
                .compare_exchange(0, CLOSING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        });
        if !idle {
            return false;
        }
        if let Some(e) = self.conns.remove(&id) {
            e.abort.abort();
        }
        true
    }

    /// Closes the least recently active idle connection; which one, if any.
    pub fn evict_idle(&mut self) -> Option<u64> {
        // Each failed try saw a request start on that connection; bounded all the same.
        for _ in 0..self.conns.len() {
            let victim = self.least_recently_active_idle()?;
            if self.try_evict(victim) {
                return Some(victim);
            }
        }
        None
    }
}

/// Counts a request in flight on its connection while alive.
pub(crate) struct InFlight {
    count: Arc<AtomicUsize>,
    last_active: Arc<AtomicU64>,
    started: std::time::Instant,
}

impl InFlight {
    /// Counts a request starting on a connection; `None` when the connection cap is
    /// closing it ([`CLOSING`]): the request must not be handled.
    pub fn try_new(
        count: Arc<AtomicUsize>,
        last_active: Arc<AtomicU64>,
        started: std::time::Instant,
    ) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < CLOSING - 1).then(|| n.saturating_add(1))
            })
            .ok()?;
        last_active.store(millis_since(started), Ordering::Relaxed);
        Some(Self {
            count,
            last_active,
            started,
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.last_active
            .store(millis_since(self.started), Ordering::Relaxed);
        // Never `CLOSING` here: it is swapped in for 0 only, and this request counts 1.
        self.count.fetch_sub(1, Ordering::Release);
    }
}

/// Largest data frame [`Busy`] hands to hyper.
const FRAME_BYTES: usize = 64 * 1024;

/// A response body that keeps its request counted in flight until its last
/// frame is taken or it is dropped. The handler returns long before hyper has
/// written a download: counted idle meanwhile, the connection cap closed it
/// in the middle of the body. Frames are cut to [`FRAME_BYTES`] because
/// hyper takes a whole file in one frame and drops the body at once, then
/// writes for as long as the client reads; cut, it takes the next piece only
/// when its write buffer has room, so at most that buffer is left to write
/// once the request stops counting. A reader that stops reading is still
/// bounded, by [`WriteStallTimeout`].
pub(crate) struct Busy<B> {
    inner: B,
    /// The unsent part of a data frame larger than [`FRAME_BYTES`].
    rest: Bytes,
    guard: Option<InFlight>,
}

impl<B> Busy<B> {
    pub fn new(inner: B, guard: InFlight) -> Self {
        Self {
            inner,
            rest: Bytes::new(),
            guard: Some(guard),
        }
    }
}

impl<B: HttpBody<Data = Bytes> + Unpin> HttpBody for Busy<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if !this.rest.is_empty() {
            let piece = this.rest.split_to(this.rest.len().min(FRAME_BYTES));
            return Poll::Ready(Some(Ok(Frame::data(piece))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(mut data) => {
                    if data.len() > FRAME_BYTES {
                        this.rest = data.split_off(FRAME_BYTES);
                    }
                    Poll::Ready(Some(Ok(Frame::data(data))))
                }
                Err(trailers) => Poll::Ready(Some(Ok(trailers))),
            },
            Poll::Ready(end) => {
                this.guard = None;
                Poll::Ready(end)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    // Both account for `rest`, so that hyper still sends `Content-Length` (or
    // nothing for an empty body) instead of falling back to chunked encoding.
    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let rest = u64::try_from(self.rest.len()).unwrap_or(u64::MAX);
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(rest));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint
    }
}

pub(crate) fn millis_since(t: std::time::Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// File descriptors kept free for everything but accepted connections.
const FD_RESERVE: u64 = 64;

/// `max_connections`, lowered to fit the soft open-file limit when it is
/// known (`/proc/self/limits`, Linux).
pub(crate) fn effective_max_connections(configured: usize) -> usize {
    let configured = configured.max(1);
    let Some(limit) = soft_nofile_limit() else {
        return configured;
    };
    let fit = usize::try_from(limit.saturating_sub(FD_RESERVE).max(1)).unwrap_or(usize::MAX);
    if fit < configured {
        tracing::info!(
            configured,
            open_file_limit = limit,
            used = fit,
            "max_connections lowered to fit the open-file limit"
        );
    }
    configured.min(fit)
}

/// The soft `RLIMIT_NOFILE` from `/proc/self/limits`; `None` when unknown or
/// unlimited.
fn soft_nofile_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    // "Max open files            1024                 4096                 files"
    line.split_whitespace().nth(3)?.parse().ok()
}

/// A socket whose writes fail with `TimedOut` once one has made no progress
/// for `limit`: a client that stops reading its answer cannot hold a
/// connection (and a place under the cap) for ever.
pub(crate) struct WriteStallTimeout<T> {
    inner: T,
    limit: std::time::Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> WriteStallTimeout<T> {
    pub fn new(inner: T, limit: std::time::Duration) -> Self {
        Self {
            inner,
            limit,
            stalled: None,
        }
    }

    /// After a write returned `Pending`: fail once the stall outlasts the limit.
    fn check_stall(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading its answer",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteStallTimeout<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WriteStallTimeout<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => match self.check_stall(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Pending,
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => match self.check_stall(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Pending,
            },
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                self.stalled = None;
                Poll::Ready(r)
            }
            Poll::Pending => match self.check_stall(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Pending,
            },
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;

    /// A table entry for a connection task that never ends by itself.
    fn entry(last_active: u64) -> (ConnEntry, tokio::task::JoinHandle<()>) {
        let task = tokio::spawn(std::future::pending::<()>());
        let e = ConnEntry {
            in_flight: Arc::new(AtomicUsize::new(0)),
            last_active: Arc::new(AtomicU64::new(last_active)),
            abort: task.abort_handle(),
        };
        (e, task)
    }

    /// The cap picked the least recently active idle connection, and a request started on
    /// it before it was closed (the connection's own task, on another worker thread).
    /// Before: it was aborted all the same, after `in_flight` had been read as 0, with
    /// its request inside the handler (a create made and billed, its answer dropped). Now
    /// closing is a swap of `in_flight` from 0 to a closing mark: the request that started
    /// first keeps its connection (the next idle one is closed instead), and a request that
    /// starts after the swap is refused before it reaches the handler.
    #[tokio::test]
    async fn a_connection_whose_request_started_after_the_pick_is_not_closed() {
        let mut table = ConnTable::default();
        let (a, task_a) = entry(1);
        let (b, task_b) = entry(2);
        let (a_count, a_active) = (a.in_flight.clone(), a.last_active.clone());
        let (b_count, b_active) = (b.in_flight.clone(), b.last_active.clone());
        table.conns.insert(0, a);
        table.conns.insert(1, b);
        let now = std::time::Instant::now();

        let victim = table.least_recently_active_idle();
        assert_eq!(victim, Some(0));
        let started = InFlight::try_new(a_count.clone(), a_active, now).unwrap();
        assert!(
            !table.try_evict(0),
            "a connection with a request in flight was closed"
        );
        assert!(table.conns.contains_key(&0));
        tokio::task::yield_now().await;
        assert!(!task_a.is_finished());

        // The eviction goes to the next idle connection, and it is closed for good: a
        // request starting on it afterwards is refused.
        assert_eq!(table.evict_idle(), Some(1));
        assert!(!table.conns.contains_key(&1));
        assert!(InFlight::try_new(b_count.clone(), b_active, now).is_none());
        assert!(task_b.await.unwrap_err().is_cancelled());

        // Nothing idle left: nothing is closed.
        assert_eq!(table.evict_idle(), None);
        drop(started);
        assert_eq!(a_count.load(Ordering::Relaxed), 0);
        assert_eq!(table.evict_idle(), Some(0));
        assert!(table.conns.is_empty());
    }

    fn guard() -> (Arc<AtomicUsize>, InFlight) {
        let count = Arc::new(AtomicUsize::new(0));
        let g = InFlight::try_new(
            count.clone(),
            Arc::new(AtomicU64::new(0)),
            std::time::Instant::now(),
        )
        .unwrap();
        (count, g)
    }

    #[tokio::test]
    async fn a_large_frame_is_cut_and_its_request_counted_until_the_last_piece() {
        let (count, g) = guard();
        let len = FRAME_BYTES * 2 + 5;
        let mut body = Busy::new(Full::new(Bytes::from(vec![7u8; len])), g);
        assert_eq!(body.size_hint().exact(), Some(len as u64));
        let mut pieces = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.unwrap().into_data().unwrap();
            pieces.push(data.len());
            if pieces.len() < 3 {
                assert_eq!(count.load(Ordering::Relaxed), 1);
                assert!(!body.is_end_stream());
                let left = len - pieces.iter().sum::<usize>();
                assert_eq!(body.size_hint().exact(), Some(left as u64));
            }
        }
        assert_eq!(pieces, [FRAME_BYTES, FRAME_BYTES, 5]);
        assert_eq!(count.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_body_keeps_its_request_in_flight_until_read_whole() {
        let (count, g) = guard();
        let mut body = Busy::new(Full::new(Bytes::from_static(b"abcdef")), g);
        assert_eq!(body.size_hint().exact(), Some(6));
        assert!(!body.is_end_stream());
        assert_eq!(count.load(Ordering::Relaxed), 1);
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "abcdef");
        assert_eq!(count.load(Ordering::Relaxed), 1, "idle before the end");
        assert!(body.frame().await.is_none());
        assert_eq!(count.load(Ordering::Relaxed), 0);

        // Dropped unread (the connection closed): no longer in flight.
        let (count, g) = guard();
        drop(Busy::new(Full::new(Bytes::from_static(b"x")), g));
        assert_eq!(count.load(Ordering::Relaxed), 0);

        // Empty and trailers pass through.
        let (_, g) = guard();
        assert!(Busy::new(Full::new(Bytes::new()), g).is_end_stream());
        let mut trailers = hyper::HeaderMap::new();
        trailers.insert("x-check", hyper::header::HeaderValue::from_static("1"));
        let t = trailers.clone();
        let inner = Full::new(Bytes::from_static(b"ab")).with_trailers(Box::pin(async move {
            Some(Ok::<_, std::convert::Infallible>(t))
        }));
        let (count, g) = guard();
        let got = Busy::new(inner, g).collect().await.unwrap();
        assert_eq!(got.trailers(), Some(&trailers));
        assert_eq!(got.to_bytes(), "ab");
        assert_eq!(count.load(Ordering::Relaxed), 0);
    }
}
