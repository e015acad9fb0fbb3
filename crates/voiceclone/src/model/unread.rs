//! A count of the records a listing could not read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// What a listing could not read: how many records its pages sent that could not be read (no
/// usable id, not a record: each is skipped, [`UnreadRecords::count`]), whether it ended
/// on a page that said nothing of its records ([`UnreadRecords::unlisted`]), and whether its
/// pages disagreed, so that a record may have been skipped ([`UnreadRecords::inconsistent`]).
/// Any of them makes the listing incomplete ([`UnreadRecords::is_complete`] is false), and an absence in it
/// proves nothing (a task you look for may be among what was not read: ask `reconcile`,
/// which never answers "nothing was created" then). Filled in while the stream is read
/// ([`Client::tasks_counting_unread`](crate::Client::tasks_counting_unread), ...): read it
/// once the stream has ended. Clones share one count.
///
/// A VMEG task list answering `data: null` lists nothing, and is not complete:
///
/// ```
/// use futures::TryStreamExt;
/// use voiceclone::{Client, Provider, TaskFilter, UnreadRecords};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = httpmock::MockServer::start_async().await;
/// server
///     .mock_async(|when, then| {
///         when.path_includes("tasks/list");
///         then.status(200)
///             .json_body(serde_json::json!({"code": 200, "message": "", "data": null}));
///     })
///     .await;
/// let client = Client::builder(Provider::Vmeg)
///     .api_key("test-key")
///     .base_url(server.base_url())
///     .build()?;
/// let unread = UnreadRecords::new();
/// let tasks: Vec<_> = client
///     .tasks_counting_unread(TaskFilter::all(), &unread)
///     .try_collect()
///     .await?;
/// assert!(tasks.is_empty());
/// assert_eq!(unread.count(), 0); // no record was skipped...
/// assert!(unread.unlisted()); // ...but the answer held no list
/// assert!(!unread.is_complete()); // so it proves no task absent
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct UnreadRecords(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    records: AtomicUsize,
    /// The listing ended on a page that held no `records` array and no `total` (`data`
    /// null, `{}`): read as empty, but proving nothing (reconcile reads it so).
    unlisted: AtomicBool,
    /// The pages disagreed: a `total` below one an earlier page gave, or fewer distinct
    /// records read than the `total` that ended the list.
    inconsistent: AtomicBool,
}

impl UnreadRecords {
    /// A count at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The records skipped so far. Zero alone does not make a listing complete: see
    /// [`UnreadRecords::is_complete`].
    pub fn count(&self) -> usize {
        self.0.records.load(Ordering::Relaxed)
    }

    /// Notes that the listing ended on a page without `records` or a `total`.
    pub(crate) fn mark_unlisted(&self) {
        self.0.unlisted.store(true, Ordering::Relaxed);
    }

    /// Whether the listing ended on a page that held neither a records array nor a `total`
    /// (VMEG `data: null`, `{}`, `records: null` without a `total`). The stream lists such a
    /// page as empty, but an empty account and an answer that lost its list look the same
    /// there: the listing is incomplete. A page with an empty array or a `total` (`0`
    /// included) says the list is empty, and is not this.
    pub fn unlisted(&self) -> bool {
        self.0.unlisted.load(Ordering::Relaxed)
    }

    /// Notes that the listing's pages disagreed.
    pub(crate) fn mark_inconsistent(&self) {
        self.0.inconsistent.store(true, Ordering::Relaxed);
    }

    /// Whether the listing's pages disagreed, so that a record may have been skipped: a page's
    /// `total` fell below the largest an earlier page gave (a record deleted while the list
    /// was read shifts the others onto pages already read, which are asked for by number), or
    /// the list ended at a `total` that the distinct records read fell short of (a record sent
    /// on two pages: the vendor's order is UNKNOWN, and records tied on it may swap places
    /// between requests, or a record created on top of a newest-first list pushed one down).
    /// A `total` that grows while every record is read, or one that counts only its own page
    /// (as many as that page sent, fewer than were read), is no disagreement. Reading the list
    /// again may give a consistent one.
    pub fn inconsistent(&self) -> bool {
        self.0.inconsistent.load(Ordering::Relaxed)
    }

    /// Whether the listing read so far is complete: no record was skipped
    /// ([`UnreadRecords::count`] is 0), it did not end on a page that said nothing of its
    /// records ([`UnreadRecords::unlisted`]), and its pages agreed
    /// ([`UnreadRecords::inconsistent`]). Only a complete listing's absences mean anything;
    /// even then a task created or deleted while it was read may be missed when the pages
    /// show no sign of it.
    pub fn is_complete(&self) -> bool {
        self.count() == 0 && !self.unlisted() && !self.inconsistent()
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
