//! The open-connection table behind [`crate::SimConfig::max_connections`]:
//! which connections are idle, which was active least recently, and how many
//! descriptors the process may use.

use std::collections::BTreeMap;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Open connections: what the cap needs to pick one to close.
#[derive(Debug, Default)]
pub(crate) struct ConnTable {
    pub conns: BTreeMap<u64, ConnEntry>,
    pub next: u64,
}

#[derive(Debug)]
pub(crate) struct ConnEntry {
    /// Requests being handled on the connection now.
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
}

/// Counts a request in flight on its connection while alive.
pub(crate) struct InFlight {
    count: Arc<AtomicUsize>,
    last_active: Arc<AtomicU64>,
    started: std::time::Instant,
}

impl InFlight {
    pub fn new(
        count: Arc<AtomicUsize>,
        last_active: Arc<AtomicU64>,
        started: std::time::Instant,
    ) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        last_active.store(millis_since(started), Ordering::Relaxed);
        Self {
            count,
            last_active,
            started,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.last_active
            .store(millis_since(self.started), Ordering::Relaxed);
        self.count.fetch_sub(1, Ordering::Relaxed);
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
