//! SIGINT and SIGTERM as events: a command that holds a paid job's id says what it knows
//! before it ends, instead of dying silently with the id unprinted.

use crate::output::Failure;

/// SIGINT and SIGTERM (Ctrl-C elsewhere), installed before the work they interrupt starts.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (from then on the signals no longer end the process).
    pub fn install() -> Result<Self, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let handler = |kind: SignalKind, name: &str| {
                signal(kind).map_err(|e| Failure::io(&format!("cannot handle {name}"), &e))
            };
            Ok(Self {
                int: handler(SignalKind::interrupt(), "SIGINT")?,
                term: handler(SignalKind::terminate(), "SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Waits for the next signal; its name.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            "Ctrl-C"
        }
    }
}

/// `work`'s output, unless `signal` fires first: then the signal's name. Biased, the work
/// first: an answer that came with the signal wins, since its job is then known (an
/// unbiased race picks a ready branch at random, and could drop a paid job's answer for an
/// "interrupted" that names nothing of it).
pub async fn unless<T>(
    work: impl std::future::Future<Output = T>,
    signal: impl std::future::Future<Output = &'static str>,
) -> Result<T, &'static str> {
    tokio::select! {
        biased;
        out = work => Ok(out),
        name = signal => Err(name),
    }
}

#[cfg(test)]
mod tests {
    /// A result that is ready when the signal has already fired is taken, every time (an
    /// unbiased `select!` takes either at random: 64 draws all "work" by chance is 2^-64).
    #[tokio::test(flavor = "current_thread")]
    async fn a_ready_result_wins_over_a_signal_that_came_with_it() {
        for _ in 0..64 {
            let got = super::unless(std::future::ready(7), std::future::ready("SIGTERM")).await;
            assert_eq!(got, Ok(7));
        }
    }
}
