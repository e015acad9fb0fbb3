//! A `tracing` writer that keeps everything in memory, for tests that read log lines, and the
//! one process-wide subscriber that hands each thread's events to that thread's capture.
//!
//! Why not `tracing::subscriber::set_default` per test: tracing caches each callsite's
//! interest process-wide, and while exactly one dispatcher is live it asks only the registering
//! thread's default. A callsite first reached on another test thread (no subscriber there) was
//! cached as "never", and the capturing test's event at it was lost (review 31 #12). The global
//! subscriber here answers "sometimes" for every callsite, so each event is judged where it is
//! emitted: kept when its thread has a capture at that level, dropped otherwise.

use std::cell::RefCell;
use std::io::Write;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Filter, Layer as _, SubscriberExt as _};

/// Clones share one buffer; hand a clone to the subscriber, read the original.
#[derive(Clone, Debug, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far, as text; empties the buffer.
    pub fn take(&self) -> String {
        let mut buf = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let text = String::from_utf8_lossy(&buf).into_owned();
        buf.clear();
        text
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One capture on a thread: where its lines go, and what it keeps.
struct Active {
    id: u64,
    out: Captured,
    level: Level,
    span_closes: bool,
}

thread_local! {
    /// This thread's captures; the last one started gets the lines (as `set_default` nests).
    static ACTIVE: RefCell<Vec<Active>> = const { RefCell::new(Vec::new()) };
}

/// `f` of this thread's current capture, if there is one.
fn with_current<T>(f: impl FnOnce(&Active) -> T) -> Option<T> {
    ACTIVE
        .try_with(|a| a.try_borrow().ok().and_then(|a| a.last().map(f)))
        .ok()
        .flatten()
}

/// Ends its capture when dropped; on the thread that started it (not `Send`).
#[derive(Debug)]
pub struct CaptureGuard {
    id: u64,
    _this_thread: PhantomData<*const ()>,
}

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        let id = self.id;
        let _ = ACTIVE.try_with(|a| a.borrow_mut().retain(|c| c.id != id));
    }
}

/// Everything logged at `level` or above on this thread, kept in memory until the guard is
/// dropped.
pub fn capture(level: Level) -> (Captured, CaptureGuard) {
    start(level, false)
}

/// As [`capture`], with a line for each span as it closes (its fields and timings).
pub fn capture_with_span_closes(level: Level) -> (Captured, CaptureGuard) {
    start(level, true)
}

fn start(level: Level, span_closes: bool) -> (Captured, CaptureGuard) {
    let out = Captured::default();
    let guard = capture_into(&out, level, span_closes);
    (out, guard)
}

/// Also capture this thread's events at `level` or above into `out`, a capture started on
/// another thread: for the worker threads of a runtime a test builds (`on_thread_start`).
pub fn capture_into(out: &Captured, level: Level, span_closes: bool) -> CaptureGuard {
    install();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let out = out.clone();
    ACTIVE.with(|a| {
        a.borrow_mut().push(Active {
            id,
            out: out.clone(),
            level,
            span_closes,
        })
    });
    CaptureGuard {
        id,
        _this_thread: PhantomData,
    }
}

/// Installs the process-wide subscriber, once. A test binary that reads log lines calls this
/// (directly or through [`capture`]) before it sets any subscriber of its own.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let plain = tracing_subscriber::fmt::layer()
            .with_writer(ToCurrent)
            .with_ansi(false)
            .with_filter(Route { span_closes: false });
        let with_closes = tracing_subscriber::fmt::layer()
            .with_writer(ToCurrent)
            .with_ansi(false)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_filter(Route { span_closes: true });
        let subscriber = tracing_subscriber::registry().with(plain).with(with_closes);
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            panic!("another global tracing subscriber was set: captures would see nothing");
        }
    });
}

/// Lets an event or span through to one of the two layers when this thread's capture wants
/// it: its level, and whether that capture asked for span closes.
struct Route {
    span_closes: bool,
}

impl<S> Filter<S> for Route {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        with_current(|c| c.span_closes == self.span_closes && meta.level() <= &c.level)
            .unwrap_or(false)
    }

    /// Never cached as "always" or "never": the answer depends on the thread asking.
    fn callsite_enabled(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
}

/// Writes to this thread's current capture, or nowhere.
struct ToCurrent;

/// A line's destination: the capture current when it was formatted.
#[derive(Debug)]
pub struct CurrentWriter(Option<Captured>);

impl Write for CurrentWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.0 {
            Some(out) => out.write(buf),
            None => Ok(buf.len()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for ToCurrent {
    type Writer = CurrentWriter;

    fn make_writer(&'a self) -> CurrentWriter {
        CurrentWriter(with_current(|c| c.out.clone()))
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> CurrentWriter {
        CurrentWriter(with_current(|c| (meta.level() <= &c.level).then(|| c.out.clone())).flatten())
    }
}
