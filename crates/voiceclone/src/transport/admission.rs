//! Admission: a job waits for one of the client's in-flight slots *before* it builds its
//! request.
//!
//! Thousands of jobs submitted at once queue for 32 slots (the default in-flight bound). A
//! job that built its body, headers, idempotency key and retry loop first, and then queued,
//! would hold all of that while it waits; a job admitted first holds only a small future.
//! The slot taken at admission is handed to the first request the admitted call sends
//! (through a task-local, so the backends need not know), so admission never costs a second
//! turn in the queue, and a call that sends nothing (refused input) gives it back when it
//! ends. Retries queue again, as any request does.
//!
//! Only calls that send before any other wait are admitted this way (a submit from a URL, a
//! status request, a poll): a call that first uploads a local file is not, so that no call
//! ever holds a slot while it waits for another (which, 32 at a time, would deadlock).
//!
//! The price: an admitted call's input is checked by the backend once the call has its slot,
//! so under a full queue a refused submit is refused after its turn rather than at once
//! (nothing is sent either way). The ids of status calls and waits are checked before.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, SemaphorePermit};

use super::Transport;
use crate::error::{Error, ErrorKind, Phase};

tokio::task_local! {
    /// The slot an admitted call holds until its first request takes it.
    static ADMITTED: Cell<Option<OwnedSemaphorePermit>>;
}

/// One in-flight slot, waiting for the call it was taken for.
pub(crate) struct Admission(OwnedSemaphorePermit);

/// The slot one request holds while it is sent and its answer decoded (released on drop).
pub(crate) struct Slot<'a> {
    /// Taken at admission, for this request.
    _admitted: Option<OwnedSemaphorePermit>,
    /// Queued for by this request.
    _acquired: Option<SemaphorePermit<'a>>,
}

impl Admission {
    /// Runs `call` with this slot: the first request it sends uses it.
    pub(crate) fn run<F: Future>(self, call: F) -> impl Future<Output = F::Output> {
        ADMITTED.scope(Cell::new(Some(self.0)), call)
    }
}

fn shutting_down() -> Error {
    Error::new(ErrorKind::Transport)
        .with_phase(Phase::NotSent)
        .with_message("client is shutting down")
}

/// Waits for a slot; within a per-call budget (`CallOptions`), only while time is left:
/// queued behind other requests until the time was up, nothing was sent.
///
/// Not an `async fn`, and the timed wait boxed: every job queued for a slot carries this
/// future, and a deadline timer (over 100 bytes) in it would be paid by all of them, budget
/// or not.
fn within_budget<T, A>(acquire: A) -> impl std::future::Future<Output = Result<T, Error>>
where
    A: std::future::Future<Output = Result<T, tokio::sync::AcquireError>>,
{
    use futures_util::FutureExt as _;
    use futures_util::future::Either;
    match crate::client::call_deadline() {
        None => Either::Left(acquire.map(|acquired| acquired.map_err(|_| shutting_down()))),
        Some(deadline) => Either::Right(Box::pin(tokio::time::timeout_at(deadline, acquire).map(
            |timed| match timed {
                Ok(acquired) => acquired.map_err(|_| shutting_down()),
                Err(_) => Err(crate::client::out_of_time()),
            },
        ))),
    }
}

/// A slot of a bound other than the API calls' (presigned PUTs'), waited for as theirs are:
/// within the call's budget.
#[cfg(feature = "upload")]
pub(crate) fn slot_of(
    slots: &tokio::sync::Semaphore,
) -> impl Future<Output = Result<SemaphorePermit<'_>, Error>> {
    within_budget(slots.acquire())
}

impl Transport {
    /// Waits for an in-flight slot for a call that is about to send (see the module docs).
    pub(crate) async fn admit(&self) -> Result<Admission, Error> {
        within_budget(Arc::clone(&self.in_flight).acquire_owned())
            .await
            .map(Admission)
    }

    /// The slot for one request: the one its call was admitted with, if that is still
    /// unused and this client's, else a turn in the queue.
    pub(crate) async fn slot(&self) -> Result<Slot<'_>, Error> {
        let admitted = ADMITTED
            .try_with(|cell| match cell.take() {
                Some(p) if Arc::ptr_eq(p.semaphore(), &self.in_flight) => Some(p),
                // Another client's slot (a call nested in another's): left where it was.
                other => {
                    cell.set(other);
                    None
                }
            })
            .ok()
            .flatten();
        match admitted {
            Some(permit) => Ok(Slot {
                _admitted: Some(permit),
                _acquired: None,
            }),
            None => within_budget(self.in_flight.acquire()).await.map(|p| Slot {
                _admitted: None,
                _acquired: Some(p),
            }),
        }
    }
}
