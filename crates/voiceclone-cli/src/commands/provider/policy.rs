//! `--poll-interval`, `--max-poll-interval` and `--timeout` as a [`WaitPolicy`].

use std::time::Duration;

use voiceclone::{Provider, WaitPolicy};

use crate::cli::PollArgs;
use crate::output::Failure;

/// The wait policy: the provider's default, with `--timeout` as the deadline and
/// `--poll-interval` as the first interval.
pub fn policy(p: Provider, poll: &PollArgs) -> Result<WaitPolicy, Failure> {
    let mut policy = WaitPolicy::for_provider(p);
    if let Some(t) = poll.timeout {
        let d = secs(t, "--timeout")?;
        // No poll bound: the provider's 200 polls (about 32 min at its 10 s intervals) cut
        // an hour's `--timeout` short, whatever it said. The deadline bounds the wait, and
        // the intervals (10 s once grown, or `--poll-interval` if longer) bound its rate.
        policy = policy.with_deadline(Some(d)).with_max_polls(None);
    }
    if let Some(i) = poll.poll_interval {
        let d = secs(i, "--poll-interval")?;
        // 1e-300 is positive but a zero Duration: polls back to back, hammering the vendor.
        if d < MIN_POLL_INTERVAL {
            return Err(Failure::usage(format!(
                "--poll-interval must be at least {} s",
                MIN_POLL_INTERVAL.as_secs_f64()
            )));
        }
        let max = policy.max_interval.max(d);
        policy = policy.with_first_interval(d).with_max_interval(max);
    }
    if flat_polls(
        cfg!(debug_assertions),
        std::env::var(FLAT_POLLS_ENV).ok().as_deref(),
    ) {
        let first = policy.first_interval;
        policy = policy.with_max_interval(first);
    }
    Ok(policy)
}

/// Test seam, in debug builds only: `1` keeps every interval between polls at the first one
/// (`--poll-interval`), never growing to the provider's 10 s, so that a test makes hundreds
/// of polls in seconds.
pub(super) const FLAT_POLLS_ENV: &str = "VOICECLONE_TEST_FLAT_POLLS";

/// Whether the [`FLAT_POLLS_ENV`] seam's `value` asks for flat polls, read in debug builds
/// (the tests') only: set by accident in a release run with a short `--poll-interval`, it
/// would poll the vendor that often for the whole wait.
pub(super) fn flat_polls(debug: bool, value: Option<&str>) -> bool {
    debug && value.is_some_and(|v| v.trim() == "1")
}

/// `--timeout` or `--poll-interval` without `--wait`, or with `--sync`: a usage failure
/// (they would do nothing). With `--sync` the create's own answer carries the result, and
/// it may take up to VMEG's 180 s whatever `--timeout` says: a bound the command would not
/// keep is refused, as `--webhook-listen` is.
pub fn needs_wait(wait: bool, sync: bool, poll: &PollArgs) -> Option<Failure> {
    let given = poll.timeout.is_some() || poll.poll_interval.is_some();
    if given && sync {
        return Some(Failure::usage(
            "--timeout and --poll-interval bound waiting for an asynchronous task; with --sync the create's answer carries the result (VMEG gives it up to 180 s), so they would not apply",
        ));
    }
    (!wait && given).then(|| Failure::usage("--timeout and --poll-interval only apply with --wait"))
}

/// The shortest `--poll-interval` (10 ms).
pub(super) const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

pub(super) fn secs(v: f64, flag: &str) -> Result<Duration, Failure> {
    // One range for every flag of seconds (`crate::cli::seconds`).
    crate::cli::seconds(v).ok_or_else(|| {
        Failure::usage(format!(
            "{flag} must be a number of seconds from 0.001 to 1e9"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review 32-b #1: `--timeout` alone bounds the wait (no 200-poll cut, about 32 min in);
    /// without it the provider's default keeps its deadline and its poll bound. The flat-polls
    /// seam is read in debug builds only, and only as `1`.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_timeout_lifts_the_poll_bound_and_the_seam_is_debug_only() {
        for p in [Provider::Vmeg, Provider::JimmyAi] {
            let given = PollArgs {
                timeout: Some(3600.0),
                poll_interval: None,
            };
            let with = policy(p, &given).unwrap();
            assert_eq!(with.max_polls, None, "{p:?}");
            assert_eq!(with.deadline, Some(Duration::from_secs(3600)), "{p:?}");
            let without = PollArgs {
                timeout: None,
                poll_interval: None,
            };
            assert_eq!(
                policy(p, &without).unwrap(),
                WaitPolicy::for_provider(p),
                "{p:?}"
            );
        }
        assert!(flat_polls(true, Some(" 1\n")));
        assert!(!flat_polls(false, Some("1")));
        assert!(!flat_polls(true, Some("0")) && !flat_polls(true, None));
    }
}
