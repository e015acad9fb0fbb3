//! SIGINT, SIGTERM and SIGHUP as events: a command that holds a paid job's id says what it
//! knows before it ends, instead of dying silently with the id unprinted. SIGHUP (a terminal
//! closed, an SSH session dropped, tmux's `kill-pane`) is handled as SIGTERM by those
//! commands only ([`Signals::install`]), and not in a process started with it ignored
//! (`nohup`): that asked to outlive the terminal, and a handler would undo it
//! ([`hangup_handled`]). A server that holds no job (`sim`, `webhook listen`) leaves SIGHUP
//! alone ([`Signals::install_keeping_hangup`]).
//!
//! Only the first one is an event. Once it came, a second signal (not a SIGHUP repeating a
//! first one within [`HANGUP_ECHO`]: a terminal closed sends two) ends the process as soon
//! as the first one's result is written (at most 2 s later), with exit 130, 143 or 129
//! (128 + the signal's number, what a shell reports for a process the signal killed):
//! whoever sends a second one wants the process gone now, and it may be stuck where no
//! result can come any more (a write to a stdout nobody reads, a DNS lookup in the
//! runtime's blocking pool). Not exit 3: that promises a result naming the job, which this
//! process could not print; the first signal's result, when it could be written, already
//! names it. tokio keeps its handlers for the life of the process, so without this every
//! later signal was swallowed.
//!
//! The same holds once the work is done and the result is being written ([`writing_result`]):
//! no `select!` listens any more, and a write to a stdout nobody reads (`voiceclone ... |
//! sleep 1000`) would block for ever with the signals swallowed. A first signal then ends
//! the process as a second one does, and a result naming a job that stdout did not
//! take is written to stderr first, so that the job is not lost.
//!
//! A line written on stdout while the work runs (`sim`'s start line, `webhook listen`'s
//! first line) goes through [`write_stdout`]: from a thread of its own, raced against the
//! signals, so that a stdout nobody reads blocks that thread, never the runtime; a signal the
//! blocked line does not survive by [`STUCK_LINE_GRACE`] ends the process (130 or 143).

use crate::output::Failure;

/// SIGINT, SIGTERM and SIGHUP (Ctrl-C elsewhere), installed before the work they interrupt
/// starts.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    /// `None` where SIGHUP keeps its disposition ([`hangup_handled`]).
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the handlers (from then on the signals no longer end the process), SIGHUP's
    /// among them unless it was ignored when the process started ([`hangup_handled`]): for a
    /// command that holds a job, whose id a hang-up would otherwise take with it.
    pub fn install() -> Result<Self, Failure> {
        Self::install_with(true)
    }

    /// [`Signals::install`] for SIGINT and SIGTERM only: SIGHUP keeps its disposition, for
    /// a server that holds no job (`sim`, `webhook listen`). Run as a container's PID 1,
    /// whose unhandled SIGHUP the kernel drops, a handler would turn `docker kill -s HUP` or
    /// a config reloader's HUP into a clean stop, exit 0, which an `on-failure` restart
    /// policy leaves stopped.
    pub fn install_keeping_hangup() -> Result<Self, Failure> {
        Self::install_with(false)
    }

    fn install_with(hangup: bool) -> Result<Self, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            // Before the first handler: one installed for good even if the second fails.
            INSTALLED.store(true, std::sync::atomic::Ordering::Release);
            let handler = |kind: SignalKind, name: &str| {
                signal(kind).map_err(|e| Failure::io(&format!("cannot handle {name}"), &e))
            };
            let int = handler(SignalKind::interrupt(), "SIGINT")?;
            let term = handler(SignalKind::terminate(), "SIGTERM")?;
            let hup = if hangup && hangup_handled() {
                // Before the handler, as for INSTALLED: the second-signal listener follows.
                HANGUP_INSTALLED.store(true, std::sync::atomic::Ordering::Release);
                Some(handler(SignalKind::hangup(), "SIGHUP")?)
            } else {
                None
            };
            Ok(Self { int, term, hup })
        }
        #[cfg(not(unix))]
        {
            let _ = hangup;
            Ok(Self {})
        }
    }

    /// Waits for the next signal; its name.
    pub async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            let name = tokio::select! {
                _ = self.int.recv() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
                () = hangup(self.hup.as_mut()) => "SIGHUP",
            };
            // In the same poll that hands the signal over: never cancelled half-way.
            if name == "SIGHUP" {
                let _ = FIRST_HANGUP.set(std::time::Instant::now());
            }
            SIGNAL_SEEN.store(true, std::sync::atomic::Ordering::Release);
            arm_second_signal();
            name
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

/// The next SIGHUP from `hup`; never, without one.
#[cfg(unix)]
async fn hangup(hup: Option<&mut tokio::signal::unix::Signal>) {
    match hup {
        // `None` from `recv` (no more signals, never in practice) counts as one, as for the
        // others.
        Some(hup) => drop(hup.recv().await),
        None => std::future::pending().await,
    }
}

/// Whether SIGHUP is handled: not in a process started with it ignored (`nohup`, a
/// supervisor's choice), which asked to outlive its terminal: a handler would end the work
/// on the hang-up. Read once, before any SIGHUP handler exists (every one is installed only
/// after this): Linux's `SigIgn` in `/proc/self/status`. Where that cannot be read (no
/// `/proc`, another Unix: the disposition is readable only through `sigaction`, unsafe code
/// this workspace forbids), SIGHUP keeps its default action, as before.
#[cfg(unix)]
fn hangup_handled() -> bool {
    static HANDLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HANDLED.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status");
        let handled = sighup_at_default(status.as_deref().ok());
        tracing::debug!(handled, "SIGHUP handling");
        handled
    })
}

/// Whether a `/proc/<pid>/status` text says SIGHUP (signal 1: bit 0 of the `SigIgn` mask) is
/// not ignored; `false` when it cannot be told.
#[cfg(any(unix, test))]
fn sighup_at_default(status: Option<&str>) -> bool {
    status
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("SigIgn:")))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & 1 == 0)
}

/// When a first SIGHUP was handed over by [`Signals::next`] ([`HANGUP_ECHO`]).
#[cfg(unix)]
static FIRST_HANGUP: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// How long after a first SIGHUP another one is the same hang-up, not a second signal: a
/// terminal closed sends two, the shell's to each of its jobs and, once the shell has gone
/// (after saving its history, maybe), the kernel's to the foreground group. Taken as a
/// second signal, the second one ended the process with 129 or let it end with 3, by a race.
/// A repeat does not end the process while the first one's result is written; a process
/// still stuck writing it after [`SECOND_SIGNAL_GRACE`] (a stdout nobody reads: nobody is
/// left to send another signal after a terminal close) is ended as by a second signal.
/// Longer than the pair's usual milliseconds, for a loaded machine; shorter than anyone
/// sending a deliberate second SIGHUP takes.
#[cfg(unix)]
const HANGUP_ECHO: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether the first signal's result is written within `grace` (checked every 10 ms).
#[cfg(unix)]
async fn result_written_within(grace: std::time::Duration) -> bool {
    let until = tokio::time::Instant::now() + grace;
    loop {
        if RESULT_WRITTEN.load(std::sync::atomic::Ordering::Acquire) {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Whether a SIGHUP now repeats a first one handed over less than [`HANGUP_ECHO`] ago.
#[cfg(unix)]
fn hangup_repeated() -> bool {
    FIRST_HANGUP
        .get()
        .is_some_and(|first| first.elapsed() < HANGUP_ECHO)
}

/// Set once a first signal was handed over by [`Signals::next`].
static SIGNAL_SEEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether a first SIGINT, SIGTERM or SIGHUP came (and was handed over to the work it stopped): its
/// result is then to be written without delay, since a second signal ends the process 2 s
/// after it ([`SECOND_SIGNAL_GRACE`]).
pub fn signal_seen() -> bool {
    SIGNAL_SEEN.load(std::sync::atomic::Ordering::Acquire)
}

/// Set once the command's result has been written (or its write has failed): a second
/// signal then ends the process without waiting.
static RESULT_WRITTEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set once [`Signals::install`] (or [`Signals::install_keeping_hangup`]) ran: tokio then
/// holds SIGINT, SIGTERM (and SIGHUP, see [`HANGUP_INSTALLED`]) for the rest of the process,
/// and they end it only through this module's listener.
#[cfg(unix)]
static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Set once [`Signals::install`] takes SIGHUP: the second-signal listener then takes it too
/// (elsewhere it keeps its disposition, as [`Signals::install_keeping_hangup`] left it).
#[cfg(unix)]
static HANGUP_INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What the result being written says, when it names a job: for stderr, should stdout
/// never take it before a signal ends the process.
#[cfg(unix)]
static PENDING: std::sync::Mutex<Option<PendingResult>> = std::sync::Mutex::new(None);

/// The text of a result that names a job, for the exit code the process ends with: what
/// [`writing_result`] is given, written to stderr with the 130, 143 or 129 of the signal that
/// ended the process (a `--json` result's `exit_code` says that code, not the work's).
pub type PendingResult = Box<dyn Fn(u8) -> String + Send>;

/// How long the listener waits for stderr to take [`PENDING`] before it ends the process
/// anyway (a stderr nobody reads blocks that write too).
const PENDING_WRITE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// The command's result is about to be written: from now on a signal ends the
/// process (exit 130, 143 or 129) once the result is written, or 2 s after the signal if it is
/// not (a stdout nobody reads); `pending` (the result's text for an exit code, when it names
/// a job) is then written to stderr first, with the code the process ends with, which may
/// take 1 s more (a stderr nobody reads blocks it too). Without handlers installed, the
/// signals' default action still ends the process, and nothing is done.
pub fn writing_result(pending: Option<PendingResult>) {
    result_pending(pending);
    #[cfg(unix)]
    if INSTALLED.load(std::sync::atomic::Ordering::Acquire) {
        arm_second_signal();
    }
}

/// The command's result exists but some cleanup comes before it is written (a webhook
/// receiver's stop): `pending` (its text for an exit code, when it names a job) is written
/// to stderr should a second signal end the process meanwhile, as [`writing_result`] does,
/// but nothing is armed: a first signal is still the work's to handle.
pub fn result_pending(pending: Option<PendingResult>) {
    #[cfg(unix)]
    {
        if !INSTALLED.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        if let Some(text) = pending {
            *PENDING
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(text);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pending;
    }
}

/// The listener ends the process with `code`: first [`PENDING`] on stderr (its text for
/// `code`) when the result was not written, waiting for that write
/// [`PENDING_WRITE_PATIENCE`] at most.
#[cfg(unix)]
fn end_process(code: u8, signal: &'static str) -> ! {
    // The diagnostics queued so far go first, briefly (a stderr nobody reads blocks them).
    crate::output::drain_diagnostics(std::time::Duration::from_millis(200));
    let unwritten = !RESULT_WRITTEN.load(std::sync::atomic::Ordering::Acquire);
    let pending = PENDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(text) = pending.filter(|_| unwritten).map(|render| render(code)) {
        stderr_within(
            format!(
                "error (interrupted): {signal} while stdout took no more of the result; it names a job, here on stderr: keep its id to find the job again\n{text}"
            ),
            PENDING_WRITE_PATIENCE,
        );
    }
    std::process::exit(i32::from(code));
}

/// Writes `text` on stderr from a thread of its own and waits `patience` at most for it (a
/// stderr nobody reads blocks that write too; the thread is then left behind).
fn stderr_within(text: String, patience: std::time::Duration) {
    let (done, written) = std::sync::mpsc::sync_channel::<()>(1);
    let spawned = std::thread::Builder::new()
        .name("last-words".into())
        .spawn(move || {
            use std::io::Write;
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(text.as_bytes());
            let _ = err.flush();
            let _ = done.send(());
        });
    if spawned.is_ok() {
        let _ = written.recv_timeout(patience);
    }
}

/// The exit status for a process a signal ends: 128 + its number, as a shell reports a
/// process the signal killed (SIGINT, and Ctrl-C elsewhere, 130; SIGTERM 143; SIGHUP 129).
fn exit_code_for(signal: &str) -> u8 {
    match signal {
        "SIGTERM" => 143,
        "SIGHUP" => 129,
        _ => 130,
    }
}

/// How long a line on stdout that was being written when a signal came may still take
/// before the signal ends the process ([`write_stdout`]).
pub const STUCK_LINE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Writes `text` on stdout (and flushes it) from a thread of its own, raced against
/// `signals`: for a line written while the work runs (`sim`'s start line, `webhook listen`'s
/// first line). On the runtime's thread, a write blocked on a stdout nobody reads (a pipe
/// already full: several commands' output on one pipe whose reader stopped) held the whole
/// runtime, and a SIGINT or SIGTERM, swallowed by the installed handlers, was never acted on:
/// the process hung until SIGKILL.
///
/// `Ok(None)`: written. `Ok(Some(name))`: written, and signal `name` came meanwhile (the
/// caller stops as on that signal). `Err`: the write failed. A signal that comes while the
/// write is blocked ends the process if the line is still not taken [`STUCK_LINE_GRACE`]
/// later: exit 130, 143 or 129, as for a result stuck on stdout, after a line on stderr (waited
/// for 1 s at most). Such a line names no job: nothing is lost.
pub async fn write_stdout(
    signals: &mut Signals,
    text: String,
) -> std::io::Result<Option<&'static str>> {
    fn write(text: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }
    let (done, mut written) = tokio::sync::oneshot::channel();
    let line = std::sync::Arc::<str>::from(text);
    let for_thread = line.clone();
    let spawned = std::thread::Builder::new()
        .name("stdout-line".into())
        .spawn(move || {
            let _ = done.send(write(&for_thread));
        });
    if let Err(e) = spawned {
        // No thread: written in place, as before.
        tracing::debug!(error = %e, "cannot start a thread for a stdout line; writing it in place");
        return write(&line).map(|()| None);
    }
    let gone = || std::io::Error::other("the stdout line's writer is gone");
    // Biased: a line written by the time the signal comes is written.
    let signal = tokio::select! {
        biased;
        result = &mut written => return result.unwrap_or_else(|_| Err(gone())).map(|()| None),
        name = signals.next() => name,
    };
    match tokio::time::timeout(STUCK_LINE_GRACE, written).await {
        Ok(result) => result
            .unwrap_or_else(|_| Err(gone()))
            .map(|()| Some(signal)),
        Err(_) => {
            stderr_within(
                format!(
                    "error (interrupted): {signal} while stdout took no more output (its reader stopped reading); stopped\n"
                ),
                PENDING_WRITE_PATIENCE,
            );
            std::process::exit(i32::from(exit_code_for(signal)));
        }
    }
}

/// How long a second signal waits for the first one's result to be written.
#[cfg(unix)]
const SECOND_SIGNAL_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Records that the result has been written, or could not be (see [`RESULT_WRITTEN`]).
pub fn result_written() {
    RESULT_WRITTEN.store(true, std::sync::atomic::Ordering::Release);
}

/// From now on a SIGINT, SIGTERM or SIGHUP ends the process at once (see the module docs): a
/// thread of its own with a runtime of its own listens, so that a main thread blocked in a
/// write or in the runtime's shutdown cannot hold it up. Once per process (after a first signal,
/// or when the result is being written); returns when its listeners are in place (1 s at
/// most), so that a signal sent right after is not missed.
#[cfg(unix)]
fn arm_second_signal() {
    static ARMED: std::sync::Once = std::sync::Once::new();
    ARMED.call_once(|| {
        let (ready, listening) = std::sync::mpsc::sync_channel::<()>(1);
        let spawned = std::thread::Builder::new()
            .name("second-signal".into())
            .spawn(move || {
                // Without a runtime or a handler, the signal is left to tokio's handler,
                // as before: nothing worse than without this thread.
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    use tokio::signal::unix::{SignalKind, signal};
                    let (Ok(mut int), Ok(mut term)) = (
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::terminate()),
                    ) else {
                        return;
                    };
                    let mut hup = HANGUP_INSTALLED
                        .load(std::sync::atomic::Ordering::Acquire)
                        .then(|| signal(SignalKind::hangup()).ok())
                        .flatten();
                    let _ = ready.send(());
                    let name = loop {
                        let name = tokio::select! {
                            _ = int.recv() => "SIGINT",
                            _ = term.recv() => "SIGTERM",
                            () = hangup(hup.as_mut()) => "SIGHUP",
                        };
                        if name == "SIGHUP" && hangup_repeated() {
                            // The same hang-up, but after a terminal close nobody is left to
                            // send another signal: a process still stuck writing the result
                            // (a stdout nobody reads) after the grace is ended as by a
                            // second signal; one that wrote it ends with its own code.
                            tracing::debug!(
                                "SIGHUP repeated right after the first: the same hang-up"
                            );
                            if result_written_within(SECOND_SIGNAL_GRACE).await {
                                continue;
                            }
                        }
                        break name;
                    };
                    let code = exit_code_for(name);
                    // The first signal's result names the job: a second signal right behind
                    // it (`kill -INT; kill -TERM`, a wrapper forwarding what the terminal
                    // sent) must not end the process before it is written. It gets a moment;
                    // a process stuck writing it (a stdout nobody reads) is ended after it.
                    result_written_within(SECOND_SIGNAL_GRACE).await;
                    end_process(code, name);
                });
            });
        if spawned.is_ok() {
            let _ = listening.recv_timeout(std::time::Duration::from_secs(1));
        }
    });
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
    /// SIGHUP is handled only when the status says it is not ignored (`nohup` sets bit 0 of
    /// `SigIgn`), never when that cannot be read; it ends a process as 129.
    #[test]
    fn sighup_is_handled_only_when_known_not_ignored() {
        let status = |mask: &str| format!("Name:\tvoiceclone\nSigBlk:\t0\nSigIgn:\t{mask}\n");
        assert!(super::sighup_at_default(Some(&status("0000000000001000"))));
        assert!(!super::sighup_at_default(Some(&status("0000000000000001"))));
        assert!(!super::sighup_at_default(Some(&status("zz"))));
        assert!(!super::sighup_at_default(Some("Name:\tvoiceclone\n")));
        assert!(!super::sighup_at_default(None));
        assert_eq!(super::exit_code_for("SIGHUP"), 129);
        assert_eq!(super::exit_code_for("SIGTERM"), 143);
        assert_eq!(super::exit_code_for("SIGINT"), 130);
    }

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
