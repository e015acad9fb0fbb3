//! A sleeper for tests that drop a call between two attempts.

/// A sleeper that says when it is first asked to sleep (`asleep`), and never wakes: a call
/// using it can be dropped in the wait between two attempts, never within one.
#[derive(Debug, Default)]
pub struct ParkingSleeper {
    pub asleep: tokio::sync::Notify,
}

impl voiceclone::Sleeper for ParkingSleeper {
    fn sleep(&self, _: std::time::Duration) -> voiceclone::sleep::BoxFuture<'static, ()> {
        // A permit is kept if nobody waits yet.
        self.asleep.notify_one();
        Box::pin(std::future::pending())
    }
}
