//! A count of the records a listing could not read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::JobKind;

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
    /// Of `records`, those the vendor still typed: a clone, a speech task, another product.
    typed: [AtomicUsize; 3],
}

/// Of a page's records that could not be read, those whose type the vendor named all the
/// same (a record with no usable id but a `taskType`): a search for a task of one kind can
/// tell that such a record is not the one it looks for (review 34 pass 2 #7).
#[derive(Debug, Default)]
pub(crate) struct UnreadTypes([usize; 3]);

/// The slots of [`UnreadTypes`] and of `Counts::typed`.
const CLONE: usize = 0;
const SPEECH: usize = 1;
const OTHER_PRODUCT: usize = 2;

impl UnreadTypes {
    /// Notes an unread record typed as a task of `kind`.
    pub(crate) fn note_kind(&mut self, kind: JobKind) {
        self.note(match kind {
            JobKind::Clone => CLONE,
            JobKind::Speech => SPEECH,
        });
    }

    /// Notes an unread record typed as a task of another product (VMEG `vt`, `at`, ...).
    pub(crate) fn note_other_product(&mut self) {
        self.note(OTHER_PRODUCT);
    }

    fn note(&mut self, slot: usize) {
        if let Some(n) = self.0.get_mut(slot) {
            *n = n.saturating_add(1);
        }
    }
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
        saturating_add(&self.0.records, n);
    }

    /// Adds the types of skipped records already counted by [`UnreadRecords::add`].
    pub(crate) fn add_types(&self, types: &UnreadTypes) {
        for (count, n) in self.0.typed.iter().zip(types.0) {
            saturating_add(count, n);
        }
    }

    /// The records skipped that may be a task of `kind` (`None`: a clone or a speech task):
    /// all but those the vendor typed as another product or, with a kind, as the other kind.
    /// A record without a type, or of one this crate does not know, may be any task.
    pub(crate) fn count_that_may_be_of(&self, kind: Option<JobKind>) -> usize {
        let typed = |slot: usize| {
            self.0
                .typed
                .get(slot)
                .map_or(0, |c| c.load(Ordering::Relaxed))
        };
        let other_kind = match kind {
            Some(JobKind::Clone) => typed(SPEECH),
            Some(JobKind::Speech) => typed(CLONE),
            None => 0,
        };
        self.count()
            .saturating_sub(typed(OTHER_PRODUCT).saturating_add(other_kind))
    }
}

/// Adds `n` to `count`, saturating: a count is never worth a panic or a wrap to 0.
fn saturating_add(count: &AtomicUsize, n: usize) {
    let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
        Some(c.saturating_add(n))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unread_records_that_may_be_of_the_kind_count_for_it() {
        let unread = UnreadRecords::new();
        let mut types = UnreadTypes::default();
        types.note_kind(JobKind::Clone);
        types.note_other_product();
        types.note_other_product();
        // Five skipped: one typed a clone, two another product, two untyped.
        unread.add(5);
        unread.add_types(&types);
        assert_eq!(unread.count(), 5);
        assert_eq!(unread.count_that_may_be_of(Some(JobKind::Speech)), 2);
        assert_eq!(unread.count_that_may_be_of(Some(JobKind::Clone)), 3);
        assert_eq!(unread.count_that_may_be_of(None), 3);
    }
}
