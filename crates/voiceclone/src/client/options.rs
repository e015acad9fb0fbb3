//! Per-call options ([`CallOptions`]): a timeout or a deadline for one call, given through a
//! handle ([`Client::with_options`], [`Client::with_timeout`]) with the same methods.
//!
//! Why not `tokio::time::timeout(d, client.clone_voice(..))`: a timer around the call drops
//! the call's future when it fires, and with it what the call knew. A write that was sent
//! and then cut off that way ends as a bare `Elapsed`: no idempotency key, no submit time, no
//! "the outcome is unknown, do not resend". The options here bound the call from inside
//! instead: each HTTP attempt gets the time left as its request timeout, retries are made
//! only while time is left, a wait's deadline is cut to it. A call that runs out of time
//! therefore fails exactly as one whose request timed out: a write with `OutcomeUnknown`
//! (idempotency key, submit time, request summary), a read with `Timeout`, a wait with
//! `WaitTimedOut` (last status seen).

use std::future::Future;
use std::time::{Duration, Instant};

use super::Client;
use crate::error::{Error, ErrorKind, Phase};
use crate::wait::WaitPolicy;

/// Options for the calls made through one handle: see [`Client::with_options`].
///
/// ```
/// use std::time::Duration;
/// use voiceclone::CallOptions;
///
/// let opts = CallOptions::new().timeout(Duration::from_secs(20));
/// assert_eq!(opts.get_timeout(), Some(Duration::from_secs(20)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallOptions {
    timeout: Option<Duration>,
    deadline: Option<Instant>,
}

impl CallOptions {
    /// No options: the client's own timeouts and retry policy, a wait's own deadline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Each call must end within `timeout` of its start, every attempt, retry sleep and (for
    /// a wait) poll included. Each HTTP attempt gets the time left as its request timeout,
    /// replacing the client's per-request timeouts for this call (longer or shorter), and no
    /// retry is made that would start after the time is up. A wait's deadline is cut to it;
    /// its polls keep the client's own request timeouts and retries (one poll the server
    /// never answers is retried, not waited on until the time is up), within that deadline.
    /// `ZERO` sends nothing: the call fails with `Timeout`, nothing sent. One clean-up runs
    /// past it: the abort of a failed VMEG multipart upload, within 5 s of its own.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Each call must end by `deadline` (a request deadline handed down by a caller, say);
    /// otherwise as [`CallOptions::timeout`] (both set: whichever comes first). A deadline
    /// already past sends nothing.
    #[must_use]
    pub fn deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The timeout set, if any.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The deadline set, if any.
    pub fn get_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The time a call starting now may take: the earlier of the timeout and the deadline.
    fn budget(&self) -> Option<Duration> {
        let until_deadline = self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        match (self.timeout, until_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Client {
    /// A handle to this client whose calls use `options` (a timeout, a deadline): the same
    /// methods, the same connection pool, in-flight bound and configuration; cheap (a clone
    /// of the client plus the options). Calls on `self` are unaffected.
    ///
    /// ```
    /// use std::time::Duration;
    /// use voiceclone::{CallOptions, CloneRequest, ErrorKind};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// let req = CloneRequest::new("https://cdn.example.com/sample.wav");
    /// let quick = client.with_options(CallOptions::new().timeout(Duration::from_secs(10)));
    /// quick.clone_voice(&req).await?;
    /// assert_eq!(quick.options().get_timeout(), Some(Duration::from_secs(10)));
    /// assert_eq!(client.options(), CallOptions::new()); // the client itself is unchanged
    /// // No time left at all: the call fails with `Timeout` and sends nothing.
    /// let spent = client.with_options(CallOptions::new().timeout(Duration::ZERO));
    /// let err = spent.clone_voice(&req).await.unwrap_err();
    /// assert_eq!(err.kind(), &ErrorKind::Timeout);
    /// assert_eq!(sim.task_count(), 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// When the time runs out after a write was sent, the outcome is unknown; reconcile:
    ///
    /// ```no_run
    /// # async fn run(client: voiceclone::Client, req: voiceclone::CloneRequest) -> Result<(), voiceclone::Error> {
    /// use std::time::Duration;
    /// use voiceclone::{CallOptions, ErrorKind, ReconcileQuery};
    ///
    /// let quick = client.with_options(CallOptions::new().timeout(Duration::from_secs(10)));
    /// match quick.clone_voice(&req).await {
    ///     Ok(job) => println!("submitted {}", job.id),
    ///     // Out of time after sending: the key and submit time to find the task by.
    ///     Err(e) if matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }) => {
    ///         let found = client.reconcile(&ReconcileQuery::from_error(&e)?).await?;
    ///         println!("{found:?}");
    ///     }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_options(&self, options: CallOptions) -> Client {
        Client {
            inner: std::sync::Arc::clone(&self.inner),
            options,
        }
    }

    /// [`Client::with_options`] with only a timeout: each call through the handle must end
    /// within `timeout` (see [`CallOptions::timeout`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use voiceclone::CloneRequest;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// let quick = client.with_timeout(Duration::from_secs(10));
    /// let job = quick.clone_voice(&CloneRequest::new("https://cdn.example.com/sample.wav")).await?;
    /// assert_eq!(quick.options().get_timeout(), Some(Duration::from_secs(10)));
    /// assert_eq!(client.options().get_timeout(), None);
    /// # let _ = job;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn with_timeout(&self, timeout: Duration) -> Client {
        self.with_options(self.options.timeout(timeout))
    }

    /// The options this handle's calls use.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use voiceclone::{CallOptions, Client, Provider};
    ///
    /// let client = Client::builder(Provider::Vmeg).api_key("vk-example").build()?;
    /// assert_eq!(client.options(), CallOptions::new());
    /// let by = Instant::now() + Duration::from_secs(30);
    /// let handle = client.with_options(CallOptions::new().deadline(by));
    /// assert_eq!(handle.options().get_deadline(), Some(by));
    /// # Ok::<(), voiceclone::Error>(())
    /// ```
    pub fn options(&self) -> CallOptions {
        self.options
    }
}

tokio::task_local! {
    /// The deadline of the call being made (tokio's clock, so that a paused test clock and
    /// the request timers agree) and whose it is; `None` inside a wait's polls
    /// ([`outside_call_deadline`]).
    static CALL_DEADLINE: Option<(tokio::time::Instant, Source)>;
}

/// Whose deadline bounds the requests being made: what a request out of time names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The caller's `CallOptions`.
    Call,
    /// A wait's own deadline, for what follows its last poll (a finished VMEG clone's voice
    /// lookup): the caller may have set no `CallOptions` at all.
    Wait,
    /// The bound of clean-up after a failed step ([`with_own_bound`]), not the call's.
    #[cfg(feature = "upload")]
    Cleanup,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Call => "the call's timeout or deadline (CallOptions)",
            Source::Wait => "the wait's deadline (WaitPolicy::deadline)",
            #[cfg(feature = "upload")]
            Source::Cleanup => "the clean-up's own time bound",
        }
    }
}

/// A future run as it is, or (boxed) with [`CALL_DEADLINE`] set for its duration.
pub(crate) type Scoped<F> = futures_util::future::Either<
    F,
    std::pin::Pin<
        Box<tokio::task::futures::TaskLocalFuture<Option<(tokio::time::Instant, Source)>, F>>,
    >,
>;

/// Runs one call (`fut`) under `options`: with a budget, every request inside it is bounded
/// by the time left. A call made inside another keeps the earlier deadline.
///
/// Not an `async fn`: the call's future is moved into the result once, instead of being
/// kept beside an `async fn`'s own copy of its argument in every waiting job's future.
///
/// The scoped case is boxed: every waiting job's future is sized for the larger variant,
/// and calls with a budget are the rare ones.
pub(crate) fn scoped<F: Future>(options: CallOptions, fut: F) -> Scoped<F> {
    scope(options.budget(), Source::Call, fut)
}

/// Runs what follows a wait's last poll (`fut`) within `left`, the rest of the wait's
/// deadline: as [`scoped`], but a request out of time names the wait's deadline, not
/// `CallOptions` the caller may never have set.
pub(crate) fn scoped_to_wait<F: Future>(left: Duration, fut: F) -> Scoped<F> {
    scope(Some(left), Source::Wait, fut)
}

fn scope<F: Future>(budget: Option<Duration>, source: Source, fut: F) -> Scoped<F> {
    let deadline = budget
        .and_then(|budget| tokio::time::Instant::now().checked_add(budget.min(FAR_FUTURE)))
        .map(|mine| match current() {
            // The earlier one rules, and is the one named.
            Some(outer) if outer.0 <= mine => outer,
            _ => (mine, source),
        });
    match deadline {
        None => futures_util::future::Either::Left(fut),
        Some(deadline) => {
            futures_util::future::Either::Right(Box::pin(CALL_DEADLINE.scope(Some(deadline), fut)))
        }
    }
}

fn current() -> Option<(tokio::time::Instant, Source)> {
    CALL_DEADLINE.try_with(|d| *d).ok().flatten()
}

/// A budget too far away to matter (longer ones are read as this).
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The deadline of the call being made, if it has one.
pub(crate) fn call_deadline() -> Option<tokio::time::Instant> {
    current().map(|(deadline, _)| deadline)
}

/// Runs one poll of a wait (`fut`) without the call's deadline: its requests get the
/// client's own per-request timeouts and retries, as outside a call with a budget. With the
/// call's time left as every request's timeout, one poll the server never answered (a
/// half-open connection) held until the whole budget was gone, and the wait ended
/// `WaitTimedOut` where a wait without `CallOptions` retried it and finished. The wait
/// itself stays bounded: its deadline is cut to the call's time left (`cap_wait`), and the
/// polling loop ends a poll at that deadline (a read, so nothing is lost by dropping it).
pub(crate) fn outside_call_deadline<F: Future>(fut: F) -> Scoped<F> {
    match call_deadline() {
        None => futures_util::future::Either::Left(fut),
        Some(_) => futures_util::future::Either::Right(Box::pin(CALL_DEADLINE.scope(None, fut))),
    }
}

/// Runs clean-up after a failed step of a call (`fut`: a multipart upload's abort) within
/// `bound` of its own, in place of the call's deadline or none: a call that failed because its
/// time was up still sends it (with the call's time, which is gone, nothing would be sent),
/// and a clean-up the server never answers ends the call at most `bound` later. Its requests
/// are bounded as a call's are: each gets the time left as its timeout, no retry after it.
#[cfg(feature = "upload")]
pub(crate) fn with_own_bound<F: Future>(bound: Duration, fut: F) -> Scoped<F> {
    let now = tokio::time::Instant::now();
    let deadline = now.checked_add(bound.min(FAR_FUTURE)).unwrap_or(now);
    futures_util::future::Either::Right(Box::pin(
        CALL_DEADLINE.scope(Some((deadline, Source::Cleanup)), fut),
    ))
}

/// The time the call being made has left (`None`: no per-call budget).
pub(crate) fn time_left() -> Option<Duration> {
    call_deadline().map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
}

/// The error for a request the call had no time left to send.
pub(crate) fn out_of_time() -> Error {
    let source = current().map_or(Source::Call, |(_, s)| s);
    Error::new(ErrorKind::Timeout)
        .with_phase(Phase::NotSent)
        .with_message(format!(
            "{} had passed; this request was not sent",
            source.name()
        ))
}

/// A request that timed out when it had only the call's time left: says whose time it was.
pub(crate) fn note_if_out_of_time(e: Error) -> Error {
    if e.kind() == &ErrorKind::Timeout && e.note().is_none() {
        let source = current().map_or(Source::Call, |(_, s)| s);
        e.with_note(format!("{} ran out during this request", source.name()))
    } else {
        e
    }
}

/// `policy` with its deadline cut to the time the call has left.
pub(crate) fn cap_wait(policy: &WaitPolicy) -> std::borrow::Cow<'_, WaitPolicy> {
    match time_left() {
        Some(left) if policy.deadline.is_none_or(|d| d > left) => {
            std::borrow::Cow::Owned(policy.clone().with_deadline(Some(left)))
        }
        _ => std::borrow::Cow::Borrowed(policy),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_budget_is_the_earlier_of_timeout_and_deadline() {
        assert_eq!(CallOptions::new().budget(), None);
        let t = CallOptions::new().timeout(Duration::from_secs(5));
        assert_eq!(t.budget(), Some(Duration::from_secs(5)));
        let past = CallOptions::new()
            .timeout(Duration::from_secs(5))
            .deadline(Instant::now());
        assert_eq!(past.budget(), Some(Duration::ZERO));
        let far = CallOptions::new()
            .timeout(Duration::from_secs(5))
            .deadline(Instant::now() + Duration::from_secs(3600));
        assert_eq!(far.budget(), Some(Duration::from_secs(5)));
    }

    #[tokio::test]
    async fn a_nested_call_keeps_the_earlier_deadline() {
        assert_eq!(time_left(), None);
        let outer = CallOptions::new().timeout(Duration::from_secs(1));
        let inner = CallOptions::new().timeout(Duration::from_secs(60));
        // The inner call is made inside the outer one (as a client method calling another
        // does), so it sees the outer deadline when it starts.
        let left = scoped(outer, async { scoped(inner, async { time_left() }).await }).await;
        assert!(left.unwrap() <= Duration::from_secs(1));
        let left = scoped(CallOptions::new().timeout(Duration::MAX), async {
            time_left()
        })
        .await;
        assert!(left.unwrap() > Duration::from_secs(3600));
    }

    #[cfg(feature = "upload")]
    #[tokio::test]
    async fn clean_up_has_its_own_bound_whatever_the_calls_time_left() {
        let bound = Duration::from_secs(5);
        let gone = CallOptions::new().timeout(Duration::ZERO);
        let (outer, inner) = scoped(gone, async {
            (
                time_left(),
                with_own_bound(bound, async { time_left() }).await,
            )
        })
        .await;
        assert_eq!(outer, Some(Duration::ZERO));
        let inner = inner.unwrap();
        assert!(
            inner > Duration::from_secs(4) && inner <= bound,
            "{inner:?}"
        );
        // A call with no budget: the clean-up is bounded all the same.
        let alone = with_own_bound(bound, async { time_left() }).await;
        assert!(alone.is_some_and(|l| l <= bound), "{alone:?}");
        let late = scoped(
            CallOptions::new().timeout(Duration::from_secs(3600)),
            async { with_own_bound(bound, async { time_left() }).await },
        )
        .await;
        assert!(late.is_some_and(|l| l <= bound), "{late:?}");
    }

    #[test]
    fn a_wait_deadline_is_cut_to_the_time_left_only_inside_a_call() {
        let p = WaitPolicy::default().with_deadline(Some(Duration::from_secs(600)));
        assert_eq!(cap_wait(&p).deadline, Some(Duration::from_secs(600)));
    }
}
