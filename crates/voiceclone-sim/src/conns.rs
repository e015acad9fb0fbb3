//! The open-connection table behind [`crate::SimConfig::max_connections`]:
//! which connections are idle, which was active least recently, and how many
//! descriptors the process may use.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

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
