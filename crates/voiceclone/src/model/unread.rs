//! A count of the records a listing could not read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How many records the pages of a listing sent that could not be read (no usable id, not a
/// record): each is skipped, so a listing that counted any is incomplete, and an absence
/// in it proves nothing (a task you look for may be one of them: ask `reconcile`, which
/// never answers "nothing was created" beside unread records). Filled in while the stream
/// is read ([`Client::tasks_counting_unread`](crate::Client::tasks_counting_unread), ...);
/// clones share one count.
#[derive(Clone, Debug, Default)]
pub struct UnreadRecords(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    records: AtomicUsize,
    /// The listing ended on a page that held no `records` array and no `total` (`data`
    /// null, `{}`): read as empty, but proving nothing (reconcile reads it so).
    unlisted: AtomicBool,
}

impl UnreadRecords {
    /// A count at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The records skipped so far.
    pub fn count(&self) -> usize {
        self.0.records.load(Ordering::Relaxed)
    }

    /// Notes that the listing ended on a page without `records` or a `total`.
    pub(crate) fn mark_unlisted(&self) {
        self.0.unlisted.store(true, Ordering::Relaxed);
    }

    /// Whether the listing ended on a page without `records` or a `total`.
    pub(crate) fn unlisted(&self) -> bool {
        self.0.unlisted.load(Ordering::Relaxed)
    }

    /// Adds `n` skipped records.
    pub(crate) fn add(&self, n: usize) {
        // Saturating: a count is never worth a panic or a wrap to 0.
        let _ = self
            .0
            .records
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(c.saturating_add(n))
            });
    }
}
