//! The waiting spinner (elapsed time and the current status) and the upload progress bar,
//! on stderr, only when stderr is a terminal and neither `--json` nor `--quiet` was given.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use voiceclone::{UploadProgress, WaitPolicy};

use crate::output::Printer;

/// A spinner that may be disabled; cleared when dropped. Its lines go through the printer's
/// redaction as every other line does: they name ids and paths a caller gave, which may be
/// a secret pasted into the wrong argument, and a terminal's log keeps a line the spinner
/// later erases.
#[derive(Debug)]
pub struct Spinner(Option<(ProgressBar, Printer)>);

impl Spinner {
    /// Starts a spinner showing `message` unless `printer` is `--json` or `--quiet`, when
    /// stderr is a terminal.
    pub fn start(printer: &Printer, message: impl Into<String>) -> Self {
        if printer.json || printer.quiet || !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_message(printer.safe(&message.into()));
        bar.enable_steady_tick(Duration::from_millis(100));
        Self(Some((bar, printer.clone())))
    }
}

impl Spinner {
    /// `policy`, telling this spinner each status the wait sees (unchanged when disabled).
    pub fn follow(&self, policy: &WaitPolicy, what: String) -> WaitPolicy {
        match &self.0 {
            Some((bar, printer)) => {
                let (bar, printer) = (bar.clone(), printer.clone());
                policy.clone().on_status(move |status| {
                    let text = format!("{what} (status: {status})");
                    bar.set_message(printer.safe(&text));
                })
            }
            None => policy.clone(),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some((b, _)) = &self.0 {
            b.finish_and_clear();
        }
    }
}

/// The progress bar of an upload (bytes sent of the total); cleared when dropped.
#[derive(Debug, Clone)]
pub struct UploadBar(Option<ProgressBar>);

impl UploadBar {
    /// A bar shown when `enabled` and stderr is a terminal; it appears with the first bytes.
    pub fn new(enabled: bool) -> Self {
        if !enabled || !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "uploading {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Self(Some(bar))
    }

    /// What the adapter calls as the upload goes (`None` when the bar is not shown).
    pub fn callback(&self) -> Option<impl Fn(UploadProgress) + Send + Sync + 'static> {
        let bar = self.0.clone()?;
        Some(move |p: UploadProgress| {
            if bar.length() != Some(p.total) {
                bar.set_length(p.total);
            }
            bar.set_position(p.sent);
        })
    }
}

impl Drop for UploadBar {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_bar_is_only_for_a_terminal() {
        assert!(UploadBar::new(false).callback().is_none());
        // Under the test harness stderr is captured, not a terminal.
        if !std::io::stderr().is_terminal() {
            assert!(UploadBar::new(true).callback().is_none());
        }
    }
}
