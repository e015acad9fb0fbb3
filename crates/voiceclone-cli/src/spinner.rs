//! The waiting spinner (elapsed time and the current status) and the upload progress bar,
//! on stderr, only when stderr is a terminal and neither `--json` nor `--quiet` was given.
//!
//! They draw through the diagnostics queue ([`stderr_target`]), never to the terminal
//! directly: indicatif's ticker draws while holding the bar's lock, so a write blocked on a
//! terminal that stopped taking output (Ctrl-S, a suspended terminal, a stalled SSH channel)
//! held that lock, the wait's next status update blocked on it on the runtime's only
//! thread, and SIGINT and SIGTERM went unheard until the terminal drained.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use voiceclone::{UploadProgress, WaitPolicy};

use crate::output::{Frame, Printer};

/// The draw target of the spinner and the bars: stderr's terminal, each frame queued whole
/// for the diagnostics thread ([`crate::output::progress_frame`]), at indicatif's usual 20
/// frames a second at most; hidden when `TERM` is `dumb` (or unset, outside Windows), as
/// indicatif's own stderr target is. The caller checks that stderr is a terminal.
pub fn stderr_target() -> ProgressDrawTarget {
    let dumb = match std::env::var("TERM") {
        Ok(term) => term == "dumb",
        // `console`'s rule: unset is dumb except on Windows, whose consoles set no `TERM`.
        Err(_) => !cfg!(windows),
    };
    if dumb {
        return ProgressDrawTarget::hidden();
    }
    ProgressDrawTarget::term_like_with_hz(Box::new(QueuedStderr::default()), 20)
}

/// A terminal whose output is stderr's, written by the diagnostics thread: what indicatif
/// draws is gathered here and queued as one frame at each flush, never waited for.
#[derive(Debug, Default)]
struct QueuedStderr {
    frame: std::sync::Mutex<Frame>,
}

impl QueuedStderr {
    /// Adds `bytes` to the frame: to its erase while no text was written (indicatif's
    /// `draw_to_term` first clears the previous frame's lines with cursor moves and line
    /// clears only, then writes the new lines), else to its draw.
    fn push(&self, bytes: &str, text: bool) -> std::io::Result<()> {
        let mut frame = self
            .frame
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let part = if text || !frame.draw.is_empty() {
            &mut frame.draw
        } else {
            &mut frame.erase
        };
        part.extend_from_slice(bytes.as_bytes());
        Ok(())
    }

    /// A cursor move by `n` (`code`: `A` up, `B` down, `C` right, `D` left), as `console`
    /// writes it: nothing for 0, which many terminals read as 1.
    fn cursor(&self, n: usize, code: char) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.push(&format!("\x1b[{n}{code}"), false)
    }

    /// Stderr's terminal size (rows, columns), read at each draw (a window resized); 24 x 79,
    /// `console`'s default, when it cannot be read. Never blocks, the terminal stopped or not.
    fn size() -> (u16, u16) {
        #[cfg(unix)]
        if let Ok(w) = rustix::termios::tcgetwinsize(std::io::stderr())
            && w.ws_row > 0
            && w.ws_col > 0
        {
            return (w.ws_row, w.ws_col);
        }
        (24, 79)
    }
}

impl TermLike for QueuedStderr {
    fn width(&self) -> u16 {
        Self::size().1
    }

    fn height(&self) -> u16 {
        Self::size().0
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.cursor(n, 'D')
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.push(s, true)?;
        self.push("\n", true)
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.push(s, true)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.push("\r\x1b[2K", false)
    }

    fn flush(&self) -> std::io::Result<()> {
        let frame = std::mem::take(
            &mut *self
                .frame
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if !frame.is_empty() {
            crate::output::progress_frame(frame);
        }
        Ok(())
    }
}

/// A spinner that may be disabled; cleared when dropped. Its lines go through the printer's
/// redaction as every other line does: they name ids and paths a caller gave, which may be
/// a secret pasted into the wrong argument, and a terminal's log keeps a line the spinner
/// later erases.
#[derive(Debug)]
pub struct Spinner(Option<(ProgressBar, Printer)>);

/// The wait spinner's template.
const SPINNER: &str = "{spinner} [{elapsed_precise}] {wide_msg}";

/// The style of a display made from `template`, which ends in `{wide_msg}`: the message is
/// cut to the terminal's width, so that a frame is one row. A frame that wrapped onto two
/// rows was erased by indicatif from the wrong row, and the log line written between two
/// frames (a WARN, a part's progress) was wiped by the next one (review 33 pass 2 #4).
pub fn one_row_style(template: &str, fallback: fn() -> ProgressStyle) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| fallback())
}

impl Spinner {
    /// Starts a spinner showing `message` unless `printer` is `--json` or `--quiet`, when
    /// stderr is a terminal.
    pub fn start(printer: &Printer, message: impl Into<String>) -> Self {
        if printer.json || printer.quiet || !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = ProgressBar::with_draw_target(None, stderr_target());
        bar.set_style(one_row_style(SPINNER, ProgressStyle::default_spinner));
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
            crate::output::settle_progress();
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
        let bar = ProgressBar::with_draw_target(None, stderr_target());
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
            crate::output::settle_progress();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A terminal `WIDTH` columns wide (the usual least) that keeps the text drawn on it.
    #[derive(Debug, Default)]
    struct Narrow(std::sync::Mutex<String>);

    const WIDTH: u16 = 80;

    impl TermLike for Narrow {
        fn width(&self) -> u16 {
            WIDTH
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)?;
            self.write_str("\n")
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.write_str("\n")
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Review 33 pass 2 #4: the spinner's and the parts bar's frames are one row however
    /// long their message (a job id, a part's file name): a frame that wrapped was erased
    /// from the wrong row, and the log line between two frames was wiped.
    #[test]
    fn a_display_with_a_long_message_is_one_row_of_the_terminal() {
        for (template, fallback) in [
            (
                SPINNER,
                ProgressStyle::default_spinner as fn() -> ProgressStyle,
            ),
            (crate::commands::long::PARTS_BAR, ProgressStyle::default_bar),
        ] {
            let term = std::sync::Arc::new(Narrow::default());
            let target = ProgressDrawTarget::term_like(Box::new(ArcTerm(term.clone())));
            let bar = ProgressBar::with_draw_target(Some(10), target);
            bar.set_style(one_row_style(template, fallback));
            bar.set_message(format!("part 3 done: out/{}.mp3", "long-name-".repeat(20)));
            bar.finish();
            let drawn = term
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let rows: Vec<&str> = drawn.split('\n').filter(|r| !r.is_empty()).collect();
            assert!(!rows.is_empty(), "{template}: nothing drawn");
            for row in rows {
                assert!(
                    row.chars().count() <= usize::from(WIDTH),
                    "{template}: a row of {} columns: {row:?}",
                    row.chars().count()
                );
            }
        }
    }

    /// A shared [`Narrow`], so that the test reads what the bar drew.
    #[derive(Debug)]
    struct ArcTerm(std::sync::Arc<Narrow>);

    impl TermLike for ArcTerm {
        fn width(&self) -> u16 {
            self.0.width()
        }
        fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
            self.0.move_cursor_up(n)
        }
        fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
            self.0.move_cursor_down(n)
        }
        fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
            self.0.move_cursor_right(n)
        }
        fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
            self.0.move_cursor_left(n)
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.0.write_line(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.0.write_str(s)
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.0.clear_line()
        }
        fn flush(&self) -> std::io::Result<()> {
            self.0.flush()
        }
    }

    /// A frame is gathered whole and handed on at the flush, what clears the previous frame
    /// (before any text) apart from what draws this one; a cursor move by 0 writes nothing
    /// (`ESC[0A` moves one line on many terminals).
    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_frame_is_written_as_console_writes_it() {
        let t = QueuedStderr::default();
        t.move_cursor_up(0).unwrap();
        t.move_cursor_up(2).unwrap();
        t.clear_line().unwrap();
        t.write_str("spin").unwrap();
        t.write_line(" done").unwrap();
        t.move_cursor_left(3).unwrap();
        let frame = t.frame.lock().unwrap().clone();
        assert_eq!(frame.erase, b"\x1b[2A\r\x1b[2K");
        assert_eq!(frame.draw, b"spin done\n\x1b[3D");
        assert!(t.width() > 0 && t.height() > 0);
    }

    #[test]
    fn the_upload_bar_is_only_for_a_terminal() {
        assert!(UploadBar::new(false).callback().is_none());
        // Under the test harness stderr is captured, not a terminal.
        if !std::io::stderr().is_terminal() {
            assert!(UploadBar::new(true).callback().is_none());
        }
    }
}
