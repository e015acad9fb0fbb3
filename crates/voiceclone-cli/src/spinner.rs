//! The waiting spinner: elapsed time and the current status, on stderr, only when stderr is
//! a terminal and neither `--json` nor `--quiet` was given.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use voiceclone::WaitPolicy;

use crate::output::terminal_safe;

/// A spinner that may be disabled; cleared when dropped.
#[derive(Debug)]
pub struct Spinner(Option<ProgressBar>);

impl Spinner {
    /// Starts a spinner showing `message` when `enabled` and stderr is a terminal.
    pub fn start(enabled: bool, message: impl Into<String>) -> Self {
        if !enabled || !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_message(terminal_safe(&message.into()).into_owned());
        bar.enable_steady_tick(Duration::from_millis(100));
        Self(Some(bar))
    }
}

impl Spinner {
    /// `policy`, telling this spinner each status the wait sees (unchanged when disabled).
    pub fn follow(&self, policy: &WaitPolicy, what: String) -> WaitPolicy {
        match &self.0 {
            Some(bar) => {
                let bar = bar.clone();
                policy.clone().on_status(move |status| {
                    let text = format!("{what} (status: {status})");
                    bar.set_message(terminal_safe(&text).into_owned());
                })
            }
            None => policy.clone(),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}
