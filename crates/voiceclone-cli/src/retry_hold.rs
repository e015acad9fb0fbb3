//! The client's sleeping between retries (and polls), which a command can hold for good: a
//! long-text run, once its first signal came, lets the creates on their way answer, but no
//! create sleeping before its next attempt (after a 429, a refused connect) may wake and send
//! it (for JimmyAI a new paid task, its id lost if its answer came after the grace).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use voiceclone::sleep::{BoxFuture, Sleeper};

/// Set once, never cleared: one command runs per process.
static HELD: AtomicBool = AtomicBool::new(false);

/// From now on no sleep of the client ends: a retry waiting for its next attempt never sends
/// it, and its call is dropped with the run.
pub fn hold() {
    HELD.store(true, Ordering::SeqCst);
}

/// `tokio::time::sleep`, except that a sleep ending after [`hold`] never ends.
#[derive(Clone, Copy, Debug, Default)]
pub struct HoldableSleeper;

impl Sleeper for HoldableSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            tokio::time::sleep(duration).await;
            if HELD.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sleep that ends before the hold ends; the test holds nothing (the flag is the
    /// process's, shared with every other unit test).
    #[tokio::test]
    async fn a_sleep_ends_while_nothing_is_held() {
        HoldableSleeper.sleep(Duration::from_millis(1)).await;
    }
}
