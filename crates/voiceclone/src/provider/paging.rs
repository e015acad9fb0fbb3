//! Walking a paged vendor list to its end as one `Stream`: no silent cap. A list stops when
//! the vendor's `total` is reached by a short page (a full page reaching it is followed by one
//! more request: a `total` that counts only that page would end a list that has more), when a
//! page comes back empty, or when a vendor that ignores the page number answers a short page
//! again (the whole list fit on it). A short page alone ends nothing: VMEG's largest page size
//! is UNKNOWN, and a server that caps the size asked for answers short pages that are not the
//! last (and a page whose unusable records were dropped looks short too). An empty page, or
//! one bringing no new id, while the page's `total` says more records remain is an error; so
//! is a page of records all read before (a vendor answering pages it already sent, in any
//! order: every id read is kept, at most [`MAX_ITEMS`]), [`MAX_UNREADABLE_PAGES`] pages in a
//! row of records none of which can be read ([`MAX_UNREADABLE_PAGES_BEFORE_TOTAL`] while the
//! `total` says more remain), and a list
//! longer than [`MAX_PAGES`] or [`MAX_ITEMS`]: never a quiet stop (a caller that gets `Ok` has
//! seen every item). A `total` that the records read so far already exceed is wrong, and ends
//! nothing either. Pages that disagree (a `total` that changes between them, a list that
//! ends at a `total` its distinct records fall short of, or a page that repeats records read
//! beside new ones, with or without a `total`: a record sent on two pages, so another may
//! have been skipped) end the walk as they would, but mark its
//! [`crate::model::UnreadRecords`] inconsistent: pages are asked for by number, in an order
//! that is UNKNOWN, and a record created or deleted meanwhile shifts the rest between them.

use std::collections::HashSet;
use std::future::Future;

use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};

use crate::error::{Error, ErrorKind};

/// The most pages one walk reads: far beyond any account (at VMEG's documented default page
/// sizes, which is what it is asked for, 200,000 tasks or 100,000 voices), a guard against a
/// server whose list never ends. Reaching it is an error.
pub(crate) const MAX_PAGES: i64 = 10_000;

/// The most pages in a row that may bring records of which none can be read: a server
/// answering every page with the same records it cannot be asked past (it ignores the page
/// number) shows nothing to compare pages by, and would otherwise be read to [`MAX_PAGES`].
/// Reaching it is an error.
pub(crate) const MAX_UNREADABLE_PAGES: u32 = 3;

/// [`MAX_UNREADABLE_PAGES`] while the pages' `total` says more records remain than were read:
/// an account's records this client cannot read may fill a few pages before readable ones
/// (1,000 such records in a row at VMEG's default page of 20 is beyond any account).
pub(crate) const MAX_UNREADABLE_PAGES_BEFORE_TOTAL: u32 = 50;

/// The most records one walk reads (10,000 pages of 50). A page holds what fits in a 4 MiB
/// body, tens of thousands of tiny records from a hostile server: without this bound a
/// caller collecting the list (`list_voices`, the CLI) could be made to hold gigabytes.
/// Reaching it is an error.
pub(crate) const MAX_ITEMS: i64 = 500_000;

/// The most text a listing a caller collects holds (128 MiB, counted as the bytes of each
/// item's strings: ids, names, URLs, raw statuses). A vendor documents no length for a
/// voice's name, and a hostile server can send 4 MiB of it on every page: 10,000 such pages
/// would make a caller that collects the list hold 40 GB. An account would need some
/// 100,000 voices with 1 KB presigned preview URLs to reach it. Reaching it is an error.
/// The crate's own searches through a list ([`walk_unbounded_text`]: the voice a finished
/// clone made, reconcile's) keep nothing but what they look for, and have no such bound.
pub(crate) const MAX_TEXT_BYTES: usize = 128 * 1024 * 1024;

/// An item of a listing: what names it (to notice a vendor that answers the same page
/// twice), and how much text it holds (for [`MAX_TEXT_BYTES`]).
pub(crate) trait Listed {
    /// The item's id.
    fn key(&self) -> String;
    /// The bytes of its strings.
    fn text_bytes(&self) -> usize;
}

impl Listed for crate::model::TaskSummary {
    fn key(&self) -> String {
        self.id.as_str().to_owned()
    }
    fn text_bytes(&self) -> usize {
        self.id
            .as_str()
            .len()
            .saturating_add(self.vendor_type.len())
            .saturating_add(self.vendor_status.as_ref().map_or(0, String::len))
            .saturating_add(match &self.status {
                crate::model::TaskStatus::Unknown(raw) => raw.len(),
                _ => 0,
            })
    }
}

impl Listed for (crate::model::Voice, Option<crate::model::JobId>) {
    fn key(&self) -> String {
        self.0.id.as_str().to_owned()
    }
    fn text_bytes(&self) -> usize {
        let (v, task) = self;
        v.id.as_str()
            .len()
            .saturating_add(v.name.as_ref().map_or(0, String::len))
            .saturating_add(v.preview_url.as_ref().map_or(0, |u| u.as_str().len()))
            .saturating_add(task.as_ref().map_or(0, |t| t.as_str().len()))
    }
}

/// One page of a vendor list.
pub(crate) struct Page<T> {
    pub(crate) items: Vec<T>,
    /// The vendor's `total`, when it sent one.
    pub(crate) total: Option<i64>,
    /// The page size asked for.
    pub(crate) page_size: i64,
    /// How many records the vendor sent, usable or not (`items` holds the usable ones):
    /// what counts towards `total` and says whether the page was short.
    pub(crate) returned: usize,
    /// The answer held no records array and no `total` (`data` null, `{}`): ending the
    /// list, it reads as empty, but says nothing of whether records exist (noted in the
    /// walk's [`crate::model::UnreadRecords`]).
    pub(crate) unlisted: bool,
    /// The records kept whose URL was refused (logged once per walk).
    pub(crate) bad_urls: BadUrls,
    /// Of the records that could not be read, those the vendor typed all the same (added to
    /// the walk's [`crate::model::UnreadRecords`] with them).
    pub(crate) unread_types: crate::model::UnreadTypes,
}

/// The records of a page whose URL (a voice's preview) was not http(s) or did not parse, and
/// the first of them: counted, the walk logs them in one line, not one per record (a hostile
/// server can send 500,000).
#[derive(Debug, Default)]
pub(crate) struct BadUrls {
    count: usize,
    first: Option<(String, crate::wire::UrlRefused)>,
}

impl BadUrls {
    /// Counts the record `id`, whose URL was refused for `why`.
    pub(crate) fn note(&mut self, id: &str, why: crate::wire::UrlRefused) {
        self.count = self.count.saturating_add(1);
        if self.first.is_none() {
            self.first = Some((id.to_owned(), why));
        }
    }

    fn merge(&mut self, other: BadUrls) {
        self.count = self.count.saturating_add(other.count);
        if self.first.is_none() {
            self.first = other.first;
        }
    }
}

/// A walk's [`BadUrls`], logged once when the walk ends (or its stream is dropped).
struct BadUrlLog {
    what: &'static str,
    urls: BadUrls,
}

impl Drop for BadUrlLog {
    fn drop(&mut self) {
        if let Some((id, why)) = &self.urls.first {
            tracing::warn!(
                list = self.what,
                count = self.urls.count,
                first = %id,
                first_reason = %why,
                "the {} sent {} record(s) whose URL is not http(s) or does not parse; ignored those URLs",
                self.what,
                self.urls.count
            );
        }
    }
}

impl<T> Page<T> {
    /// The records the vendor sent that could not be read (not in `items`).
    pub(crate) fn skipped(&self) -> usize {
        self.returned.saturating_sub(self.items.len())
    }
}

/// A page of voices, each with the task that made it when the list says so.
pub(crate) type VoicePage = Page<(crate::model::Voice, Option<crate::model::JobId>)>;

struct Walk<F> {
    fetch: F,
    page: i64,
    seen: i64,
    done: bool,
    /// The ids on the previous page: a vendor that ignores `currentPage` repeats them.
    previous: HashSet<String>,
    /// How many records the previous page had (0 before the first).
    previous_returned: usize,
    /// Every id read so far (at most [`MAX_ITEMS`]): a vendor answering pages it already
    /// sent (A, B, A, B, ...) brings no new one.
    read: HashSet<String>,
    /// The text of the items read so far ([`Listed::text_bytes`]).
    text_bytes: usize,
    /// Where the unreadable records of the pages taken are counted, if anywhere.
    unread: Option<crate::model::UnreadRecords>,
    /// The last `total` a page gave.
    total: Option<i64>,
    /// How many pages in a row, up to this one, sent records of which none could be read.
    unreadable_run: u32,
    /// The records of the pages taken that could not be read (not in `read`).
    skipped: usize,
    /// A page's `total` fell below the largest an earlier page gave, while still a count of
    /// the whole list (not only its own page's): records deleted meanwhile.
    total_dropped: bool,
    /// The largest whole-list `total` a page gave.
    max_total: Option<i64>,
    /// A page repeated some records already read beside new ones: without a whole-list
    /// `total` to count by, the only sign that the order shifted and another was skipped.
    overlapped: bool,
    /// The records whose URL was refused, logged when the walk ends.
    bad_urls: BadUrlLog,
}

impl<F> Walk<F> {
    /// Before the walk ends with `Ok`, at `total` (the page's that ends it, or the last one
    /// stated): pages that disagreed may have hidden a record, so the listing is marked
    /// inconsistent and logged once. They disagreed when a `total` fell below one an earlier
    /// page gave (records deleted while the list was read: one may have moved onto a page
    /// already read), or when fewer distinct records were read than the `total` that ends
    /// the walk (a record sent on two pages, and another skipped; also a record created
    /// meanwhile, which in a newest-first list pushes one already read onto the next page:
    /// the order is UNKNOWN, so no count tells that apart from a skip). A `total` that is
    /// only its own page's count (as many as the page sent, fewer than were read) is none.
    /// A page that repeated some records read and brought new ones disagreed too, whatever
    /// the `total` (review 30-a #4: a list without one shows a skip no other way).
    fn ending(&self, what: &str, total: Option<i64>) {
        let distinct =
            i64::try_from(self.read.len().saturating_add(self.skipped)).unwrap_or(i64::MAX);
        let short = total.is_some_and(|t| distinct < t);
        if !(short || self.total_dropped || self.overlapped) {
            return;
        }
        tracing::warn!(
            distinct,
            total,
            total_dropped = self.total_dropped,
            overlapped = self.overlapped,
            "the {what}'s pages disagreed (a total that fell while it was read, or fewer distinct records than its total: a record on two pages); a record may have been skipped, so the listing may be incomplete"
        );
        if let Some(unread) = &self.unread {
            unread.mark_inconsistent();
        }
    }
}

/// Every item of a paged list, page by page (`fetch(page)` with pages from 1), for a caller
/// that may collect it: at most [`MAX_TEXT_BYTES`] of text. `what` names the list in errors.
pub(crate) fn walk<'a, T, F, Fut>(what: &'static str, fetch: F) -> BoxStream<'a, Result<T, Error>>
where
    T: Listed + Send + 'a,
    F: FnMut(i64) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'a,
{
    walk_within(what, fetch, MAX_TEXT_BYTES, None)
}

/// [`walk`], counting the records each page taken sent but could not be read in `unread`:
/// a page the walk does not take (the vendor repeating a short page because it ignores the
/// page number) is not counted again.
pub(crate) fn walk_counting<'a, T, F, Fut>(
    what: &'static str,
    fetch: F,
    unread: Option<crate::model::UnreadRecords>,
) -> BoxStream<'a, Result<T, Error>>
where
    T: Listed + Send + 'a,
    F: FnMut(i64) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'a,
{
    walk_within(what, fetch, MAX_TEXT_BYTES, unread)
}

/// [`walk_counting`] for a search that keeps only what it looks for: no bound on the text
/// read.
pub(crate) fn walk_unbounded_text<'a, T, F, Fut>(
    what: &'static str,
    fetch: F,
    unread: Option<crate::model::UnreadRecords>,
) -> BoxStream<'a, Result<T, Error>>
where
    T: Listed + Send + 'a,
    F: FnMut(i64) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'a,
{
    walk_within(what, fetch, usize::MAX, unread)
}

fn walk_within<'a, T, F, Fut>(
    what: &'static str,
    fetch: F,
    max_text: usize,
    unread: Option<crate::model::UnreadRecords>,
) -> BoxStream<'a, Result<T, Error>>
where
    T: Listed + Send + 'a,
    F: FnMut(i64) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>, Error>> + Send + 'a,
{
    let state = Walk {
        fetch,
        page: 0,
        seen: 0,
        done: false,
        previous: HashSet::new(),
        previous_returned: 0,
        read: HashSet::new(),
        text_bytes: 0,
        unread,
        total: None,
        unreadable_run: 0,
        skipped: 0,
        total_dropped: false,
        max_total: None,
        overlapped: false,
        bad_urls: BadUrlLog {
            what,
            urls: BadUrls::default(),
        },
    };
    stream::try_unfold(state, move |mut w| async move {
        if w.done {
            return Ok(None);
        }
        w.page += 1;
        if w.page > MAX_PAGES {
            return Err(Error::new(ErrorKind::InvalidResponse).with_message(format!(
                "the {what} did not end after {MAX_PAGES} pages ({} items); stopped: the listing is incomplete",
                w.seen
            )));
        }
        let mut page = (w.fetch)(w.page).await?;
        let returned = page.returned.max(page.items.len());
        // Pages are asked for by number: a `total` that fell says records were deleted
        // meanwhile, shifting the rest, so one may have moved onto a page already read. One
        // that is only this page's count (as many as it sent, fewer than were read by then:
        // a server counting its own page) says nothing of the list.
        if let Some(now) = page.total {
            let read_so_far = i64::try_from(w.read.len().saturating_add(w.skipped))
                .unwrap_or(i64::MAX);
            let own_page = i64::try_from(returned).is_ok_and(|r| now == r) && now < read_so_far;
            if !own_page {
                if w.max_total.is_some_and(|max| now < max) {
                    w.total_dropped = true;
                }
                w.max_total = Some(w.max_total.map_or(now, |m| m.max(now)));
            }
        }
        // The page's own `total` says records remain that the walk has not read.
        let more_claimed = page.total.is_some_and(|t| t > w.seen);
        if returned == 0 {
            // A list that says it has more items than were read but sends none (`records`
            // null or missing beside a positive `total`, an empty page in the middle) is
            // broken, not ended: an `Ok` would tell reconcile "nothing was created". A page
            // whose `total` was reached, or that has none, ends the list (items deleted
            // while it was read).
            if let Some(total) = page.total.filter(|_| more_claimed) {
                let said = if w.page == 1 {
                    "its first page sent none".to_owned()
                } else {
                    format!(
                        "page {} sent none after {} were read",
                        w.page, w.seen
                    )
                };
                return Err(Error::new(ErrorKind::InvalidResponse).with_message(format!(
                    "the {what} says it holds {total} items but {said}; stopped: the listing would be incomplete"
                )));
            }
            // A page past a list read to its stated total (a `data: null` there) hides
            // nothing: the listing is complete.
            let hides = w.page == 1 || w.total != Some(w.seen);
            if let Some(unread) = w.unread.as_ref().filter(|_| page.unlisted && hides) {
                unread.mark_unlisted();
            }
            w.ending(what, page.total.or(w.total));
            return Ok(None);
        }
        let ids: HashSet<String> = page.items.iter().map(Listed::key).collect();
        let full = i64::try_from(returned).unwrap_or(i64::MAX) >= page.page_size;
        // Two pages of records none of which could be read have equal (empty) id sets, and
        // are no evidence of a repeat (review 27 #4): the unreadable-run limit ends those.
        let repeated = w.page > 1
            && !ids.is_empty()
            && returned == w.previous_returned
            && ids == w.previous;
        // A page of readable records all read before: not a page of this list's rest.
        let nothing_new = !ids.is_empty() && ids.is_subset(&w.read);
        // Both need ids: a page of readable records seen before.
        if repeated || nothing_new {
            // The page number is ignored and the whole list fit on one page: it was read,
            // unless the page's `total` says there is more (a server that also caps the
            // page size), which cannot be read.
            if more_claimed {
                return Err(Error::new(ErrorKind::InvalidResponse).with_message(format!(
                    "the {what} answered page {} with items already read, though it says it holds {} items and {} were read; stopped: the listing would be incomplete",
                    w.page,
                    page.total.unwrap_or_default(),
                    w.seen
                )));
            }
            // The same short page again ends the list.
            if repeated && !full {
                w.ending(what, page.total.or(w.total));
                return Ok(None);
            }
            let which = if repeated {
                format!("the same items as page {}", w.page.saturating_sub(1))
            } else {
                "items already read".to_owned()
            };
            return Err(Error::new(ErrorKind::InvalidResponse).with_message(format!(
                "the {what} answered page {} with {which}; stopped: the listing would be incomplete or endless",
                w.page
            )));
        }
        // Some records read before beside new ones: the order shifted between the pages.
        if !w.overlapped && !ids.is_disjoint(&w.read) {
            w.overlapped = true;
        }
        // Pages of only unreadable records have no ids to notice a repeat by: a few in a row
        // end the walk, as a repeat would.
        w.unreadable_run = if ids.is_empty() {
            w.unreadable_run.saturating_add(1)
        } else {
            0
        };
        // While the `total` says more remain, a real account's run of unreadable records
        // may go on for pages before readable ones (pass 2d #2); a server repeating such a
        // page is still stopped, later.
        let limit = if more_claimed {
            MAX_UNREADABLE_PAGES_BEFORE_TOTAL
        } else {
            MAX_UNREADABLE_PAGES
        };
        if w.unreadable_run >= limit {
            return Err(Error::new(ErrorKind::InvalidResponse).with_message(format!(
                "the {what} sent {} pages in a row (to page {}) whose records could none be read; stopped: the listing is incomplete",
                w.unreadable_run, w.page
            )));
        }
        if let Some(unread) = &w.unread {
            unread.add(page.skipped());
            unread.add_types(&page.unread_types);
        }
        w.skipped = w.skipped.saturating_add(page.skipped());
        w.bad_urls.urls.merge(std::mem::take(&mut page.bad_urls));
        w.read.extend(ids.iter().cloned());
        w.previous = ids;
        w.previous_returned = returned;
        w.seen = w
            .seen
            .saturating_add(i64::try_from(returned).unwrap_or(i64::MAX));
        if w.seen > MAX_ITEMS {
            return Err(Error::new(ErrorKind::InvalidResponse).with_message(format!(
                "the {what} holds more than {MAX_ITEMS} items (page {} brought it to {}); stopped: the listing is incomplete",
                w.page, w.seen
            )));
        }
        w.text_bytes = page
            .items
            .iter()
            .fold(w.text_bytes, |n, item| n.saturating_add(item.text_bytes()));
        if w.text_bytes > max_text {
            return Err(Error::new(ErrorKind::InvalidResponse).with_message(format!(
                "the {what} holds more than {max_text} bytes of text (ids, names, URLs) by page {}; stopped: the listing is incomplete",
                w.page
            )));
        }
        // Only a total reached exactly ends the walk: one the records already passed (0, a
        // negative number, a count of an earlier page alone) is wrong, and trusting it would
        // end a listing that has more, so the walk reads on to an empty page. A full page
        // reaching it is followed by one more request: on page 1 a `total` counting that page
        // alone looks reached (50 of 50), and the request costs one page when it is right.
        w.done = page.total == Some(w.seen) && !full;
        w.total = page.total.or(w.total);
        if w.done {
            w.ending(what, page.total);
        }
        Ok(Some((stream::iter(page.items.into_iter().map(Ok)), w)))
    })
    .try_flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    impl Listed for String {
        fn key(&self) -> String {
            self.clone()
        }
        fn text_bytes(&self) -> usize {
            self.len()
        }
    }

    /// A list whose every page is full and new: it never ends by itself.
    fn endless(fetched: Arc<AtomicI64>) -> BoxStream<'static, Result<String, Error>> {
        walk("endless list", move |page| {
            fetched.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok(Page {
                    items: vec![format!("item-{page}")],
                    total: None,
                    page_size: 1,
                    returned: 1,
                    unlisted: false,
                    bad_urls: BadUrls::default(),
                    unread_types: Default::default(),
                })
            }
        })
    }

    /// Two full pages of 50 and an empty one, every page claiming `total`.
    async fn read_with_total(total: Option<i64>) -> (usize, i64) {
        let fetched = Arc::new(AtomicI64::new(0));
        let counter = fetched.clone();
        let items: Vec<_> = walk("voice list", move |page| {
            counter.fetch_add(1, Ordering::SeqCst);
            let n = if page <= 2 { 50 } else { 0 };
            async move {
                Ok(Page {
                    items: (0..n).map(|i| format!("p{page}-{i}")).collect(),
                    total,
                    page_size: 50,
                    returned: usize::try_from(n).unwrap(),
                    unlisted: false,
                    bad_urls: BadUrls::default(),
                    unread_types: Default::default(),
                })
            }
        })
        .try_collect()
        .await
        .unwrap();
        (items.len(), fetched.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_total_the_records_already_passed_ends_nothing() {
        for total in [Some(0), Some(-1), Some(10), Some(49), Some(i64::MIN)] {
            assert_eq!(read_with_total(total).await, (100, 3), "{total:?}");
        }
        // A total reached exactly by a full page is checked with one more request (it may
        // count that page alone: 50 of 50 on page 1); by a short page it ends the walk.
        assert_eq!(read_with_total(Some(100)).await, (100, 3));
        assert_eq!(read_with_total(Some(50)).await, (100, 3));
        assert_eq!(read_with_total(None).await, (100, 3));
    }

    #[tokio::test]
    async fn an_empty_first_page_of_a_list_claiming_items_is_an_error() {
        let first = |total: Option<i64>| async move {
            walk("task list", move |_| async move {
                Ok(Page::<String> {
                    items: Vec::new(),
                    total,
                    page_size: 50,
                    returned: 0,
                    unlisted: false,
                    bad_urls: BadUrls::default(),
                    unread_types: Default::default(),
                })
            })
            .try_collect::<Vec<_>>()
            .await
        };
        let err = first(Some(50)).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidResponse);
        assert!(err.to_string().contains("says it holds 50 items"), "{err}");
        for total in [None, Some(0), Some(-3)] {
            assert_eq!(
                first(total).await.unwrap(),
                Vec::<String>::new(),
                "{total:?}"
            );
        }
    }

    /// A vendor answering pages it already sent, in turn (A, B, A, B, ...), is an error
    /// once a page brings no new id: the third fetch. Before: only the previous page was
    /// compared, and the walk ran to `MAX_PAGES` (10,000 requests).
    #[tokio::test]
    async fn pages_already_read_coming_back_in_turn_are_an_error() {
        let fetched = Arc::new(AtomicI64::new(0));
        let counter = fetched.clone();
        let items: Vec<_> = walk("task list", move |page| {
            counter.fetch_add(1, Ordering::SeqCst);
            let side = if page % 2 == 1 { "a" } else { "b" };
            async move {
                Ok(Page {
                    items: (0..50).map(|i| format!("{side}-{i}")).collect(),
                    total: None,
                    page_size: 50,
                    returned: 50,
                    unlisted: false,
                    bad_urls: BadUrls::default(),
                    unread_types: Default::default(),
                })
            }
        })
        .collect()
        .await;
        assert_eq!(fetched.load(Ordering::SeqCst), 3);
        let (last, read) = items.split_last().unwrap();
        assert_eq!(read.len(), 100);
        let err = last.as_ref().unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidResponse);
        assert!(err.to_string().contains("items already read"), "{err}");
    }

    #[tokio::test]
    async fn a_list_past_half_a_million_items_ends_with_an_error() {
        // Pages of 100,000 tiny records: the sixth brings the walk past the bound.
        let items: Vec<_> = walk("voice list", move |page| async move {
            Ok(Page {
                items: vec![format!("p{page}")],
                total: None,
                page_size: 100_000,
                returned: 100_000,
                unlisted: false,
                bad_urls: BadUrls::default(),
                unread_types: Default::default(),
            })
        })
        .collect()
        .await;
        let (last, read) = items.split_last().unwrap();
        assert_eq!(read.len(), 5);
        let err = last.as_ref().unwrap_err();
        assert!(err.to_string().contains("more than 500000 items"), "{err}");
    }

    /// Pages of one 16 MiB name each (a vendor documents no length for it): the walk ends
    /// with an error once 128 MiB of text passed, before a collecting caller holds
    /// gigabytes. Read without keeping the items, so the test holds one page at a time.
    #[tokio::test]
    async fn a_list_past_its_text_bound_ends_with_an_error() {
        let fetched = Arc::new(AtomicI64::new(0));
        let counter = fetched.clone();
        let (ok, err) = walk("cloned-voice list", move |page| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let mut name = "x".repeat(16 << 20);
                name.push_str(&page.to_string());
                Ok(Page {
                    items: vec![name],
                    total: None,
                    page_size: 1,
                    returned: 1,
                    unlisted: false,
                    bad_urls: BadUrls::default(),
                    unread_types: Default::default(),
                })
            }
        })
        .fold(
            (0usize, None),
            |(ok, err), item: Result<String, Error>| async move {
                match item {
                    Ok(_) => (ok + 1, err),
                    Err(e) => (ok, Some(e)),
                }
            },
        )
        .await;
        let err = err.unwrap();
        assert!(err.to_string().contains("bytes of text"), "{err}");
        assert_eq!(ok, 7);
        assert_eq!(fetched.load(Ordering::SeqCst), 8);

        // A search that keeps only what it looks for (the voice of a paid clone) reads on.
        // (The ninth page is full and reaches `total`: one more request, answered empty.)
        let found = walk_unbounded_text(
            "cloned-voice list",
            move |page| async move {
                let items: Vec<String> = (page <= 9)
                    .then(|| format!("{page}{}", "x".repeat(16 << 20)))
                    .into_iter()
                    .collect();
                let returned = items.len();
                Ok(Page {
                    items,
                    total: Some(9),
                    page_size: 1,
                    returned,
                    unlisted: false,
                    bad_urls: BadUrls::default(),
                    unread_types: Default::default(),
                })
            },
            None,
        )
        .try_filter(|s: &String| std::future::ready(s.starts_with('9')))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
        assert_eq!(found.len(), 1);
    }

    /// Full pages of 20, then a page past the end answered with no records array and no
    /// total (VMEG `data: null`); `totals` is what the full pages say.
    async fn unlisted_after(pages: i64, totals: Option<i64>) -> bool {
        let unread = crate::model::UnreadRecords::new();
        let items: Vec<String> = walk_counting(
            "task list",
            move |page| async move {
                let n = if page <= pages { 20 } else { 0 };
                Ok(Page {
                    items: (0..n).map(|i| format!("p{page}-{i}")).collect(),
                    total: if n > 0 { totals } else { None },
                    page_size: 20,
                    returned: usize::try_from(n).unwrap(),
                    unlisted: n == 0,
                    bad_urls: BadUrls::default(),
                    unread_types: Default::default(),
                })
            },
            Some(unread.clone()),
        )
        .try_collect()
        .await
        .unwrap();
        assert_eq!(items.len(), usize::try_from(pages * 20).unwrap());
        unread.unlisted()
    }

    /// A listing read to the total its pages stated is complete, whatever the page past its
    /// end says. Before: a `data: null` there marked it unlisted, so reconcile could never
    /// answer `None` for an account of 20·n tasks.
    #[tokio::test]
    async fn a_page_past_a_reached_total_does_not_make_a_listing_incomplete() {
        assert!(!unlisted_after(1, Some(20)).await);
        assert!(!unlisted_after(2, Some(40)).await);
        // No total reached, or none stated: the unlisted page may hide the rest.
        assert!(unlisted_after(1, None).await);
        assert!(unlisted_after(2, Some(60)).await);
        assert!(unlisted_after(0, None).await);
    }

    /// Ids `prefix` + each of `n`.
    fn ids(prefix: &str, n: std::ops::RangeInclusive<u32>) -> Vec<String> {
        n.map(|i| format!("{prefix}{i}")).collect()
    }

    /// `pages[i]` answers page `i + 1` (past them: an empty page with the last `total`), in
    /// pages of 20, counted in an `UnreadRecords`: the ids read, and whether the listing is
    /// complete.
    async fn counted(pages: Vec<(Vec<String>, Option<i64>)>) -> (Vec<String>, bool) {
        let unread = crate::model::UnreadRecords::new();
        let pages = Arc::new(pages);
        let items: Vec<String> = walk_counting(
            "task list",
            move |page| {
                let pages = pages.clone();
                async move {
                    let i = usize::try_from(page - 1).unwrap();
                    let (items, total) = pages
                        .get(i)
                        .cloned()
                        .unwrap_or_else(|| (Vec::new(), pages.last().unwrap().1));
                    Ok(Page {
                        returned: items.len(),
                        items,
                        total,
                        page_size: 20,
                        unlisted: false,
                        bad_urls: BadUrls::default(),
                        unread_types: Default::default(),
                    })
                }
            },
            Some(unread.clone()),
        )
        .try_collect()
        .await
        .unwrap();
        (items, unread.is_complete())
    }

    /// Review 27 #1a: page 2 repeats the last record of page 1 (ties on the sort key, or a
    /// task added on top of a newest-first list), so 25 records were sent for a `total` of 25
    /// but only 24 distinct ones read: `t25` was never seen. Either the walk reads on to it
    /// or the listing says it is incomplete. Before: it ended `Ok` and complete.
    #[tokio::test]
    async fn a_record_repeated_across_pages_does_not_reach_the_total() {
        let (items, complete) = counted(vec![
            (ids("t", 1..=20), Some(25)),
            (ids("t", 20..=24), Some(25)),
            (ids("t", 25..=25), Some(25)),
        ])
        .await;
        assert!(
            !complete || items.iter().any(|i| i == "t25"),
            "{items:?} complete"
        );
        // Every record distinct: the total reached ends the walk, complete.
        let (items, complete) = counted(vec![
            (ids("u", 1..=20), Some(22)),
            (ids("u", 21..=22), Some(22)),
        ])
        .await;
        assert_eq!(items.len(), 22);
        assert!(complete);
    }

    /// Review 30-a #4: without a whole-list `total` (none, or each page's own count), a page
    /// that repeats a record already read and brings new ones is the only sign the order
    /// shifted: here `t20` came again and `t21` was never sent. The listing is incomplete
    /// (reconcile reads again), never complete. Before: complete, and reconcile could answer
    /// `None` for `t21`.
    #[tokio::test]
    async fn a_page_repeating_some_records_read_makes_a_listing_without_a_total_incomplete() {
        let mut second = ids("t", 20..=20);
        second.extend(ids("t", 22..=40));
        for (case, totals) in [
            ("no total", [None, None, None]),
            ("each page's own count", [Some(20), Some(20), Some(5)]),
        ] {
            let (items, complete) = counted(vec![
                (ids("t", 1..=20), totals[0]),
                (second.clone(), totals[1]),
                (ids("t", 41..=45), totals[2]),
            ])
            .await;
            assert!(!items.iter().any(|i| i == "t21"), "{case}");
            assert!(!complete, "{case}: {items:?}");
        }
        // Pages without a total that bring only new records: complete.
        let (items, complete) = counted(vec![
            (ids("t", 1..=20), None),
            (ids("t", 21..=40), None),
            (ids("t", 41..=45), None),
        ])
        .await;
        assert_eq!(items.len(), 45);
        assert!(complete);
    }

    /// Review 27 #1b: a task deleted between pages shifts the next one onto a page already
    /// read; page 2 answers nothing and a `total` one smaller. The walk saw the evidence (the
    /// `total` changed), so the listing is not complete. Before: `Ok` and complete, and
    /// reconcile could answer `None` for the task that moved.
    #[tokio::test]
    async fn a_total_that_changes_between_pages_makes_the_listing_incomplete() {
        let (items, complete) =
            counted(vec![(ids("t", 1..=20), Some(21)), (Vec::new(), Some(20))]).await;
        assert_eq!(items.len(), 20);
        assert!(!complete);
        // A total that grows with a record read twice: a task created on page 1 (newest
        // first), or one skipped (another order): the order is UNKNOWN, so incomplete (review
        // 27 pass 3 #3).
        let (_, complete) = counted(vec![
            (ids("t", 1..=20), Some(21)),
            (ids("t", 20..=21), Some(22)),
        ])
        .await;
        assert!(!complete);
        // A total that grows with every record read: nothing hidden.
        let (_, complete) = counted(vec![
            (ids("t", 1..=20), Some(21)),
            (ids("t", 21..=22), Some(22)),
        ])
        .await;
        assert!(complete);
        // Two records deleted between pages: a total below what was read, but no page's own
        // count (the page sent none) (review 27 pass 3 #1).
        let (_, complete) =
            counted(vec![(ids("t", 1..=20), Some(21)), (Vec::new(), Some(19))]).await;
        assert!(!complete);
        // A `total` counting only its own page (below what was read): says nothing.
        let (items, complete) = counted(vec![
            (ids("t", 1..=20), Some(20)),
            (ids("t", 21..=25), Some(5)),
            (Vec::new(), Some(0)),
        ])
        .await;
        assert_eq!(items.len(), 25);
        assert!(complete);
        // The same total on every page, reached: complete.
        let (_, complete) = counted(vec![
            (ids("t", 1..=20), Some(21)),
            (ids("t", 21..=21), Some(21)),
        ])
        .await;
        assert!(complete);
    }

    /// Review 27 #4: two different short pages of records none of which can be read, with no
    /// `total`, are no evidence of a vendor repeating its page (their id sets are both empty);
    /// the readable voice on page 3 is reached, or the walk ends in an error, never `Ok`
    /// without it. Before: page 2 was taken for page 1 again and the walk ended `Ok`.
    #[tokio::test]
    async fn short_pages_of_unreadable_records_are_not_taken_for_a_repeat() {
        let items: Result<Vec<String>, Error> = walk("cloned-voice list", move |page| async move {
            let (items, returned) = match page {
                1 | 2 => (Vec::new(), 6),
                3 => (vec!["cv_wanted".to_owned()], 1),
                _ => (Vec::new(), 0),
            };
            Ok(Page {
                items,
                total: None,
                page_size: 10,
                returned,
                unlisted: false,
                bad_urls: BadUrls::default(),
                unread_types: Default::default(),
            })
        })
        .try_collect()
        .await;
        match items {
            Ok(items) => assert_eq!(items, ["cv_wanted"]),
            Err(e) => assert_eq!(e.kind(), &ErrorKind::InvalidResponse),
        }
    }

    #[tokio::test]
    async fn a_list_past_ten_thousand_pages_ends_with_an_error() {
        // README: "a list past 10,000 pages, ends the stream with an error".
        let fetched = Arc::new(AtomicI64::new(0));
        let items: Vec<_> = endless(fetched.clone()).collect().await;
        assert_eq!(fetched.load(Ordering::SeqCst), 10_000);
        let (last, read) = items.split_last().unwrap();
        assert_eq!(read.len(), 10_000);
        assert!(read.iter().all(Result::is_ok));
        let err = last.as_ref().unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::InvalidResponse);
        assert!(
            err.to_string().contains("did not end after 10000 pages"),
            "{err}"
        );
    }
}
