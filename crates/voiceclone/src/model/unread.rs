//! A count of the records a listing could not read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many records the pages of a listing sent that could not be read (no usable id, not a
/// record): each is skipped, so a listing that counted any is incomplete, and an absence
/// in it proves nothing (a task you look for may be one of them: ask `reconcile`, which
/// never answers "nothing was created" beside unread records). Filled in while the stream
/// is read ([`Client::tasks_counting_unread`](crate::Client::tasks_counting_unread), ...);
/// clones share one count.
#[derive(Clone, Debug, Default)]
pub struct UnreadRecords(Arc<AtomicUsize>);

impl UnreadRecords {
    /// A count at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The records skipped so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    /// Adds `n` skipped records.
    pub(crate) fn add(&self, n: usize) {
        // Saturating: a count is never worth a panic or a wrap to 0.
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(c.saturating_add(n))
            });
    }
}
