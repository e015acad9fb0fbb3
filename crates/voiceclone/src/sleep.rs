//! The waits between retries and between polls, injectable (`ClientBuilder::sleeper`): a
//! service can hold them during a shutdown, so that a call waiting to retry sends nothing
//! more (the CLI's long text does at its first signal, then drops the calls; a held wait
//! ends at its call's timeout or its wait's deadline, and the attempt after it, out of time,
//! sends nothing), and a test can skip them
//! (`RecordingSleeper`, `test-util` feature: test doubles are not part of the stable API).
//!
//! tokio's paused clock is no substitute: while a reqwest response is in flight over a real
//! socket the runtime looks idle, the paused clock jumps, and reqwest's own timeout fires.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
#[cfg(any(test, feature = "test-util"))]
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A boxed, sendable future, as returned by [`Sleeper::sleep`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that can wait. The client uses it between retries and between polls.
pub trait Sleeper: Send + Sync + fmt::Debug {
    /// Completes after `duration` (or at once, for a test double).
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// The real thing: `tokio::time::sleep`.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// `sleeper`'s sleep of `d`, ended at `deadline` if it still runs then. Every wait of the
/// client goes through this with its call's deadline or its wait's, so that a sleeper
/// holding its waits (a shutdown's) cannot hold a call past its bound: the attempt after
/// the cut finds no time left and sends nothing; a wait makes its last poll (a read, within
/// its grace), as at any deadline, and ends out of time.
/// Boxed like the sleep itself: a waiting job's future holds a pointer, not a timer.
pub(crate) fn within(
    sleeper: &dyn Sleeper,
    d: Duration,
    deadline: Option<tokio::time::Instant>,
) -> BoxFuture<'static, ()> {
    let sleep = sleeper.sleep(d);
    match deadline {
        None => sleep,
        Some(at) => Box::pin(async move {
            // Either end is the sleep's end: its own, or the bound's.
            let _cut = tokio::time::timeout_at(at, sleep).await;
        }),
    }
}

/// A test double: returns at once and remembers every requested duration.
#[cfg(any(test, feature = "test-util"))]
#[derive(Clone, Debug, Default)]
pub struct RecordingSleeper {
    slept: Arc<Mutex<Vec<Duration>>>,
}

#[cfg(any(test, feature = "test-util"))]
impl RecordingSleeper {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every duration asked for so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        match self.slept.lock() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The sum of every duration asked for so far, saturating at `Duration::MAX` (a wait
    /// may legally ask for `Duration::MAX` more than once).
    pub fn total(&self) -> Duration {
        self.sleeps()
            .iter()
            .fold(Duration::ZERO, |sum, d| sum.saturating_add(*d))
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        match self.slept.lock() {
            Ok(mut v) => v.push(duration),
            Err(poisoned) => poisoned.into_inner().push(duration),
        }
        Box::pin(async {
            // Yield once so that a loop built on this sleeper still lets other tasks run
            // (and can be cancelled between iterations).
            tokio::task::yield_now().await;
        })
    }
}
