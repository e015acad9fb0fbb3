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
