//! What the CLI's end-to-end tests share: the in-process simulator on its own runtime, and the
//! built binary run with a clean environment, its exit code and output, and the check that
//! no API key ever reaches stdout or stderr. Each test file says `mod support;` and keeps
//! only what is its own (its key, its constructors, its helpers).

#![allow(dead_code)] // each test file uses its own part

use std::process::{Command, Output, Stdio};

use serde_json::Value;
use voiceclone_sim::{SimConfig, SimHandle, Simulator};

/// Polls `ready` every 10 ms until it holds; fails naming `what` after `secs` seconds.
pub fn wait_until(what: &str, secs: u64, mut ready: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !ready() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Sends `signal` (`-TERM`, `-INT`) to `child` with `kill`.
pub fn send_signal(child: &std::process::Child, signal: &str) {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {signal}");
}

/// A child process that is killed and reaped when dropped. `std::process::Child` is not: a
/// test that panics between spawning the binary and waiting for it would leave the binary
/// running, polling or retrying a port that the next test's server may be given.
pub struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    /// Waits for the child to end, collecting its remaining output (as
    /// `Child::wait_with_output`).
    pub fn wait_with_output(mut self) -> std::io::Result<Output> {
        self.0
            .take()
            .expect("the child is there until waited on")
            .wait_with_output()
    }

    /// [`KillOnDrop::wait_with_output`], bounded: fails the test naming `what` if the child
    /// has not ended `secs` seconds on (it is killed then, and what it wrote so far shown),
    /// rather than waiting for as long as a regression keeps it running.
    pub fn wait_with_output_within(mut self, what: &str, secs: u64) -> Output {
        use std::io::Read;
        fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
            std::thread::spawn(move || {
                let mut all = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut all);
                }
                all
            })
        }
        let child = self.0.as_mut().expect("the child is there until waited on");
        let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let out = (stdout.join().unwrap(), stderr.join().unwrap());
        let Some(status) = status else {
            panic!(
                "{what}: still running {secs} s on (killed); stdout: {:?}; stderr: {:?}",
                String::from_utf8_lossy(&out.0),
                String::from_utf8_lossy(&out.1)
            );
        };
        Output {
            status,
            stdout: out.0,
            stderr: out.1,
        }
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        self.0.as_ref().expect("the child is there until waited on")
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the child is there until waited on")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Spawning whose child is a [`KillOnDrop`].
pub trait SpawnKilled {
    /// Spawns the command (and fails the test if it cannot be).
    fn spawn_killed(&mut self) -> KillOnDrop;
}

impl SpawnKilled for Command {
    fn spawn_killed(&mut self) -> KillOnDrop {
        KillOnDrop(Some(self.spawn().unwrap()))
    }
}

/// A child's stderr, read line by line on a thread of its own (so the child never blocks on
/// it), for a test to wait on what the child says (with `RUST_LOG=voiceclone=info`, the
/// library's one INFO line per call) instead of sleeping for a time a loaded machine can
/// overrun.
pub struct StderrLines {
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl StderrLines {
    /// Takes `child`'s stderr (which must be piped) and reads it to its end.
    pub fn of(child: &mut std::process::Child) -> StderrLines {
        use std::io::BufRead;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        StderrLines {
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until `ready` holds for all the lines read so far; fails naming `what`
    /// (with those lines) once `secs` seconds have passed or stderr has ended.
    pub fn wait_until(&mut self, what: &str, secs: u64, mut ready: impl FnMut(&[String]) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while !ready(&self.seen) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(e) => panic!("{what} ({e}); stderr so far: {:#?}", self.seen),
            }
        }
    }

    /// How many of the lines read so far hold every one of `needles`.
    pub fn count(lines: &[String], needles: &[impl AsRef<str>]) -> usize {
        lines
            .iter()
            .filter(|l| needles.iter().all(|n| l.contains(n.as_ref())))
            .count()
    }
}

/// What the library's INFO line for a call of `operation` that succeeded holds (with
/// `RUST_LOG=voiceclone=info`): written once the answer has been read, in the same step as
/// the caller going on with it.
pub fn call_ok(operation: &str) -> [String; 2] {
    [format!("operation=\"{operation}\""), "}: ok ".to_owned()]
}

/// A sample URL the simulator accepts.
pub const SAMPLE: &str = "https://example.com/samples/voice.wav";
/// Polls every 10 ms, so waits against a fast simulator end at once.
pub const FAST_POLL: [&str; 2] = ["--poll-interval", "0.01"];

/// The simulator, with the runtime it runs on.
pub struct Sim {
    pub handle: SimHandle,
    pub rt: tokio::runtime::Runtime,
    key: String,
}

impl Sim {
    /// Starts the simulator with `cfg`, accepting only [`Sim::key`]: `key` with a suffix of
    /// its own. A request from another test's CLI child (one left running when that test
    /// failed, whose simulator's port this one was given) is then refused 401, not served.
    pub fn with(cfg: SimConfig, key: &str) -> Sim {
        let key = format!("{key}-{}", uuid::Uuid::new_v4().simple());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let handle = rt
            .block_on(Simulator::start_with(cfg.with_api_key(&key)))
            .unwrap();
        Sim { handle, rt, key }
    }

    /// The one key this simulator accepts: the test's key with a suffix of its own (so a
    /// check that the test's key is never printed covers it).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// A simulator whose tasks finish 1000 times faster than the vendors'.
    pub fn fast(key: &str) -> Sim {
        Sim::with(SimConfig::default().with_speed(1000.0), key)
    }

    pub fn url(&self) -> String {
        self.handle.base_url()
    }

    pub fn requests(&self) -> u64 {
        self.handle.stats().requests_total
    }
}

/// Makes a FIFO at `path` (`mkfifo`): a file whose open blocks until someone writes.
pub fn mkfifo(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo").arg(path).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", path.display());
}

/// A thread writing a text into a FIFO: its open blocks until a reader opens the FIFO.
#[cfg(unix)]
pub struct FifoFeed {
    path: std::path::PathBuf,
    writer: std::thread::JoinHandle<std::io::Result<()>>,
}

/// Starts writing `text` into the FIFO at `path` (made with [`mkfifo`]) from a thread.
#[cfg(unix)]
pub fn feed_fifo(path: &std::path::Path, text: String) -> FifoFeed {
    let fifo = path.to_owned();
    FifoFeed {
        path: path.to_owned(),
        writer: std::thread::spawn(move || std::fs::write(fifo, text)),
    }
}

#[cfg(unix)]
impl FifoFeed {
    /// Waits for the text to be written, `secs` seconds at most; fails the test naming
    /// `what` if nobody opened the FIFO by then (its writer is released first, by a read end
    /// opened without waiting, so that the test ends rather than hangs on it).
    pub fn join_within(self, what: &str, secs: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while !self.writer.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let opened = self.writer.is_finished();
        if !opened {
            use std::os::unix::fs::OpenOptionsExt;
            let _release = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
                .open(&self.path);
            let _ = self.writer.join();
            panic!("{what}: nobody opened {} in {secs} s", self.path.display());
        }
        self.writer.join().unwrap().unwrap();
    }
}

/// A loopback port nothing answers on, for as long as the returned socket lives: bound but
/// never listening, so a connection to it is refused, and no other test's server can be
/// given the same port meanwhile (as it could if a listener bound to port 0 were dropped
/// and its number reused).
pub fn refusing_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

/// One run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The run's output, after checking that none of `secrets` was printed by `args`.
    pub fn from_output(out: Output, secrets: &[&str], args: &[&str]) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        for secret in secrets.iter().filter(|k| !k.is_empty()) {
            assert!(
                !run.stdout.contains(secret) && !run.stderr.contains(secret),
                "the API key was printed by {args:?}: {run:?}"
            );
        }
        run
    }

    /// Stdout's one JSON line.
    pub fn json(&self) -> Value {
        let lines: Vec<&str> = self
            .stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected exactly one JSON line on stdout: {self:?}"
        );
        serde_json::from_str(lines[0])
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    pub fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit code: {self:?}");
        self
    }
}

/// The binary with a clean environment: `key` for both providers (none when empty), both
/// base URLs set to `base_url` (when given), `env` on top, stdin closed, output captured.
pub fn command(base_url: Option<&str>, key: &str, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_voiceclone"));
    cmd.env_clear();
    if !key.is_empty() {
        cmd.env("VMEG_API_KEY", key).env("JIMMYAI_API_KEY", key);
    }
    if let Some(url) = base_url {
        cmd.env("VMEG_BASE_URL", url).env("JIMMYAI_BASE_URL", url);
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// [`command`] run through `prefix`, a program that execs the rest (`nohup`, `env ...`),
/// found on this process's `PATH`: the same environment and output. Its pid is the binary's
/// once it has exec'd (any time after its first request).
pub fn command_through(
    prefix: &[&str],
    base_url: Option<&str>,
    key: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> Command {
    let inner = command(base_url, key, env, args);
    let (first, rest) = prefix.split_first().expect("a program to run through");
    let program = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(first))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{first} is not on PATH"));
    let mut cmd = Command::new(program);
    cmd.args(rest)
        .arg(inner.get_program())
        .args(inner.get_args())
        .env_clear();
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Whether process `pid` ignores SIGHUP (bit 0 of `SigIgn` in its status), as one started by
/// `nohup` does.
#[cfg(target_os = "linux")]
pub fn ignores_sighup(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .expect("a SigIgn line");
    u64::from_str_radix(mask.trim(), 16).unwrap() & 1 == 1
}

/// [`command`] whose binary starts with SIGHUP at its default action, as from a terminal:
/// through `env --default-signal=HUP` (GNU coreutils 8.31 or later) when this test process
/// ignores SIGHUP (run under `nohup`), which the binary would otherwise inherit.
#[cfg(target_os = "linux")]
pub fn command_hanging_up(
    base_url: Option<&str>,
    key: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> Command {
    if ignores_sighup(std::process::id()) {
        command_through(&["env", "--default-signal=HUP"], base_url, key, env, args)
    } else {
        command(base_url, key, env, args)
    }
}

/// A pipe whose buffer is full, and its reading end (kept, never read): a stdout (or
/// stderr) that takes nothing more, as one shared with a reader that stopped reading.
#[cfg(unix)]
pub fn full_pipe() -> (std::io::PipeReader, std::io::PipeWriter) {
    use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
    use std::io::Write;
    let (reader, mut writer) = std::io::pipe().unwrap();
    let flags = fcntl_getfl(&writer).unwrap();
    fcntl_setfl(&writer, flags | OFlags::NONBLOCK).unwrap();
    let chunk = [b'x'; 4096];
    let mut size = 4096;
    loop {
        match writer.write(&chunk[..size]) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && size > 1 => size = 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    // Blocking again: the child's writes wait, as on a pipe nobody reads.
    fcntl_setfl(&writer, flags).unwrap();
    (reader, writer)
}

/// Spawns `cmd` with its stdout on a [`full_pipe`]: its first write there blocks, as on a
/// stdout whose reader stopped reading (`voiceclone ... | sleep 1000`). Returns the child and
/// the pipe's reading end, to keep until the child has ended: dropped, the write fails
/// (EPIPE) instead of blocking.
#[cfg(unix)]
pub fn spawn_on_full_stdout(mut cmd: Command) -> (KillOnDrop, std::io::PipeReader) {
    let (reader, writer) = full_pipe();
    cmd.stdout(Stdio::from(writer));
    let child = cmd.spawn_killed();
    drop(cmd); // the parent's copy of the writing end
    (child, reader)
}

/// A pseudo-terminal: its master (the terminal's side: what is read from it is what a
/// program wrote on the terminal, what is written to it is typed) and its slave (the
/// program's side, to give as its stdin, stdout or stderr).
pub fn pty() -> (std::fs::File, std::fs::File) {
    use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    (std::fs::File::from(master), slave)
}

/// Runs `command(..)` to its end; none of `secrets` (nor `key`) may be printed.
pub fn run_binary(
    base_url: Option<&str>,
    key: &str,
    secrets: &[&str],
    env: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let out = command(base_url, key, env, args).output().unwrap();
    let mut all = secrets.to_vec();
    all.push(key);
    Run::from_output(out, &all, args)
}

/// Runs the binary (in `dir`, when given) with `key` for both providers and its stderr on a
/// pseudo-terminal (stdout a pipe); returns the exit code, stdout, and everything written to
/// the terminal. The key may appear in neither.
pub fn run_on_a_terminal(
    key: &str,
    dir: Option<&std::path::Path>,
    args: &[&str],
) -> (i32, String, String) {
    use std::io::Read;
    let (mut master, slave) = pty();
    let size = rustix::termios::Winsize {
        ws_row: 24,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(&master, size).unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Linux answers EIO once every slave descriptor is closed: the end of the output.
        while let Ok(n @ 1..) = master.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let mut cmd = command(None, key, &[("TERM", "xterm")], args);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    cmd.stderr(slave);
    let child = cmd.spawn().unwrap();
    drop(cmd); // the parent's copy of the slave: the reader ends when the child's closes
    let out = child.wait_with_output().unwrap();
    let terminal = reader.join().unwrap();
    assert!(!terminal.contains(key) && !String::from_utf8_lossy(&out.stdout).contains(key));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        terminal,
    )
}

/// `speak --text-file --out DIR`'s manifest, by name in DIR.
pub const MANIFEST: &str = "voiceclone-manifest.json";

/// A long-text run's inputs: a temporary directory holding the text file and, once a run
/// made it, the output directory.
pub struct Case {
    pub tmp: tempfile::TempDir,
    pub file: String,
    pub out: String,
}

/// `text` in `script.txt` of a fresh temporary directory, with `out` beside it.
pub fn case(text: &str) -> Case {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("script.txt");
    std::fs::write(&file, text).unwrap();
    let out = tmp.path().join("out");
    Case {
        file: file.display().to_string(),
        out: out.display().to_string(),
        tmp,
    }
}

/// DIR's manifest as JSON.
pub fn manifest(dir: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join(MANIFEST)).unwrap()).unwrap()
}

/// A VMEG stand-in for answers the simulator does not give: every TTS task is finished at
/// once with `files` results of `file_bytes` bytes of audio each (with a `Content-Length`,
/// or chunked without one), however few lines it had, or, with `files` 0, one result for
/// each line its create sent (as VMEG answers; a task it did not create, one a test lists or
/// names, as many as the latest create sent); `hook` runs in the server with each
/// request's path before the request is answered (to change the output directory at an
/// exact point of a run). Counts creates and requests, and keeps each create's
/// `X-Idempotency-Key`. `tasks/list` is not there (404) until [`FakeVmeg::list_tasks_with`]
/// gives it records, nor are the voice lists until [`FakeVmeg::answer_lists_with`] gives every
/// list a `data`.
pub struct FakeVmeg {
    pub rt: tokio::runtime::Runtime,
    pub url: String,
    pub state: std::sync::Arc<FakeState>,
}

/// A server-side hook of [`FakeVmeg`]: called with each request's path.
pub type Hook = Box<dyn FnMut(&str) + Send>;

pub struct FakeState {
    /// Results a task lists; 0: one for each line its create sent.
    pub files: usize,
    /// The lines each task's create sent (its `data`), by task id (`t{n}`, and the task an
    /// answer set by [`FakeVmeg::answer_creates_with`] names); the latest create's under "".
    pub lines_of: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    pub file_bytes: usize,
    pub chunked: bool,
    pub creates: std::sync::atomic::AtomicU64,
    pub requests: std::sync::atomic::AtomicU64,
    pub hook: std::sync::Mutex<Option<Hook>>,
    /// When set, every create is answered with this status and body instead (still counted).
    pub create_answer: std::sync::Mutex<Option<(u16, Value)>>,
    /// Each create's `X-Idempotency-Key` (empty when it had none), in order.
    pub create_keys: std::sync::Mutex<Vec<String>>,
    /// When set, `tasks/list` answers these records (one page); otherwise it is a 404.
    pub list_records: std::sync::Mutex<Option<Vec<Value>>>,
    /// When not 0, `tasks/list` answers `list_records` in pages of this many (by
    /// `currentPage`, from 1) instead of all on every page.
    pub list_page_size: std::sync::atomic::AtomicUsize,
    /// When set, `tasks/list` and the voice lists answer this `data`, whatever it is.
    pub list_data: std::sync::Mutex<Option<Value>>,
    /// When set, `tasks/list` and the voice lists answer this status and body instead.
    pub list_answer: std::sync::Mutex<Option<(u16, Value)>>,
    /// When set, every file is answered 200 with an empty body (a store's failure).
    pub empty_files: std::sync::atomic::AtomicBool,
    /// When set, every file's body breaks off after its first bytes (the connection cut).
    pub cut_files: std::sync::atomic::AtomicBool,
    /// When set, every `tasks/detail` is answered with this status and raw body instead.
    pub detail_answer: std::sync::Mutex<Option<(u16, String)>>,
    /// One task's `tasks/detail` answer (status, raw body), given after a delay; before
    /// `detail_answer`.
    pub detail_of:
        std::sync::Mutex<std::collections::HashMap<String, (u16, String, std::time::Duration)>>,
    base: std::sync::OnceLock<String>,
}

impl FakeVmeg {
    pub fn start(files: usize, file_bytes: usize, chunked: bool) -> FakeVmeg {
        use axum::routing::{get, post};
        use std::sync::Arc;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = Arc::new(FakeState {
            files,
            lines_of: Default::default(),
            file_bytes,
            chunked,
            creates: Default::default(),
            requests: Default::default(),
            hook: std::sync::Mutex::new(None),
            create_answer: std::sync::Mutex::new(None),
            create_keys: std::sync::Mutex::new(Vec::new()),
            list_records: std::sync::Mutex::new(None),
            list_page_size: Default::default(),
            list_data: std::sync::Mutex::new(None),
            list_answer: std::sync::Mutex::new(None),
            empty_files: Default::default(),
            cut_files: Default::default(),
            detail_answer: std::sync::Mutex::new(None),
            detail_of: Default::default(),
            base: std::sync::OnceLock::new(),
        });
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        state.base.set(url.clone()).unwrap();
        let app = axum::Router::new()
            .route("/openapi/v1/task/tts/create-async", post(fake_create))
            // The synchronous creates answer as the async one does: a task id, no result.
            .route("/openapi/v1/task/tts/create", post(fake_create))
            .route("/openapi/v1/task/clone-voice/create", post(fake_create))
            .route("/openapi/v1/tasks/detail", get(fake_detail))
            .route("/openapi/v1/tasks/list", get(fake_list))
            .route("/openapi/v1/assets/voice/clone/list", post(fake_list))
            .route("/openapi/v1/assets/voice/basic/list", post(fake_list))
            .route("/files/{task}/{name}", get(fake_file))
            .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "not here") })
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                fake_count_and_hook,
            ))
            .with_state(state.clone());
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeVmeg { rt, url, state }
    }

    /// Runs `hook` with every request's path, in the server, before it is answered.
    pub fn on_request(&self, hook: impl FnMut(&str) + Send + 'static) {
        *self.state.hook.lock().unwrap() = Some(Box::new(hook));
    }

    /// Answers every create with `status` and `body` from now on.
    pub fn answer_creates_with(&self, status: u16, body: Value) {
        *self.state.create_answer.lock().unwrap() = Some((status, body));
    }

    /// Lists `records` (VMEG `tasks/list` records: `taskId`, `taskType`, `status`,
    /// `createdAt`, ...) as the account's tasks from now on, whatever the page asked.
    pub fn list_tasks_with(&self, records: Vec<Value>) {
        *self.state.list_records.lock().unwrap() = Some(records);
    }

    /// Lists `records` as [`FakeVmeg::list_tasks_with`] does, in pages of `size` read by
    /// `currentPage` (a client reads at most 10,000 records from one answer).
    pub fn list_tasks_paged(&self, records: Vec<Value>, size: usize) {
        self.state
            .list_page_size
            .store(size, std::sync::atomic::Ordering::SeqCst);
        self.list_tasks_with(records);
    }

    /// Answers `tasks/list` and the cloned- and system-voice lists with `data` (`null`, `{}`,
    /// `{"records": null}`, ...) as a success's `data` from now on, whatever the page asked.
    pub fn answer_lists_with(&self, data: Value) {
        *self.state.list_data.lock().unwrap() = Some(data);
    }

    /// Answers `tasks/list` and the voice lists with `status` and `body` from now on.
    pub fn answer_lists_with_status(&self, status: u16, body: Value) {
        *self.state.list_answer.lock().unwrap() = Some((status, body));
    }

    /// Answers every file with an empty 200 from now on (`true`), or with its audio again.
    pub fn serve_empty_files(&self, empty: bool) {
        self.state
            .empty_files
            .store(empty, std::sync::atomic::Ordering::SeqCst);
    }

    /// Breaks off every file's body after its first bytes from now on (`true`), or serves
    /// them whole again.
    pub fn cut_files(&self, cut: bool) {
        self.state
            .cut_files
            .store(cut, std::sync::atomic::Ordering::SeqCst);
    }

    /// Answers every `tasks/detail` with `status` and the raw `body` from now on.
    pub fn answer_details_with(&self, status: u16, body: &str) {
        *self.state.detail_answer.lock().unwrap() = Some((status, body.to_owned()));
    }

    /// Answers `task`'s `tasks/detail` with `status` and the raw `body`, `after` a delay (the
    /// other requests are served meanwhile), from now on.
    pub fn answer_detail_of(
        &self,
        task: &str,
        status: u16,
        body: &str,
        after: std::time::Duration,
    ) {
        self.state
            .detail_of
            .lock()
            .unwrap()
            .insert(task.to_owned(), (status, body.to_owned(), after));
    }

    /// Each create's `X-Idempotency-Key` so far, in order.
    pub fn create_keys(&self) -> Vec<String> {
        self.state.create_keys.lock().unwrap().clone()
    }

    pub fn creates(&self) -> u64 {
        self.state.creates.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn requests(&self) -> u64 {
        self.state
            .requests
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

type FakeShared = axum::extract::State<std::sync::Arc<FakeState>>;

async fn fake_count_and_hook(
    axum::extract::State(st): FakeShared,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    st.requests
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if let Some(hook) = st.hook.lock().unwrap().as_mut() {
        hook(req.uri().path());
    }
    next.run(req).await
}

async fn fake_create(
    axum::extract::State(st): FakeShared,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    let n = st.creates.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    let lines = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|b| b["data"].as_array().map(Vec::len))
        .unwrap_or(1);
    {
        let mut lines_of = st.lines_of.lock().unwrap();
        lines_of.insert(format!("t{n}"), lines);
        lines_of.insert(String::new(), lines);
        let answer = st.create_answer.lock().unwrap().clone();
        if let Some(named) =
            answer.and_then(|(_, b)| b["data"]["taskId"].as_str().map(str::to_owned))
        {
            lines_of.insert(named, lines);
        }
    }
    let key = headers
        .get("x-idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    st.create_keys.lock().unwrap().push(key);
    if let Some((status, body)) = st.create_answer.lock().unwrap().clone() {
        return (
            axum::http::StatusCode::from_u16(status).unwrap(),
            axum::Json(body),
        );
    }
    (
        axum::http::StatusCode::OK,
        axum::Json(serde_json::json!({
            "code": 200, "message": "",
            "data": {"taskId": format!("t{n}"), "createdAt": "2026-01-01T00:00:00Z"},
        })),
    )
}

/// `tasks/list` (and the voice lists): the `data` set by [`FakeVmeg::answer_lists_with`], else
/// the records set by [`FakeVmeg::list_tasks_with`] as one page whose `total` is their number
/// (so the client reads no further page), or a 404.
async fn fake_list(
    axum::extract::State(st): FakeShared,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some((status, body)) = st.list_answer.lock().unwrap().clone() {
        return (
            axum::http::StatusCode::from_u16(status).unwrap(),
            axum::Json(body),
        )
            .into_response();
    }
    if let Some(data) = st.list_data.lock().unwrap().clone() {
        return axum::Json(serde_json::json!({"code": 200, "message": "", "data": data}))
            .into_response();
    }
    let records = st.list_records.lock().unwrap().clone();
    match records {
        Some(mut records) => {
            let total = records.len();
            let size = st.list_page_size.load(std::sync::atomic::Ordering::SeqCst);
            if size > 0 {
                let page: usize = q
                    .get("currentPage")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(1);
                records = records
                    .into_iter()
                    .skip(page.saturating_sub(1) * size)
                    .take(size)
                    .collect();
            }
            axum::Json(serde_json::json!({
                "code": 200, "message": "",
                "data": {"records": records, "total": total},
            }))
            .into_response()
        }
        None => (axum::http::StatusCode::NOT_FOUND, "not here").into_response(),
    }
}

async fn fake_detail(
    axum::extract::State(st): FakeShared,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let task = q.get("taskId").cloned().unwrap_or_default();
    let of = st.detail_of.lock().unwrap().get(&task).cloned();
    if let Some((status, body, after)) = of {
        tokio::time::sleep(after).await;
        return (axum::http::StatusCode::from_u16(status).unwrap(), body).into_response();
    }
    if let Some((status, body)) = st.detail_answer.lock().unwrap().clone() {
        return (axum::http::StatusCode::from_u16(status).unwrap(), body).into_response();
    }
    let base = st.base.get().cloned().unwrap_or_default();
    let files = match st.files {
        0 => {
            let lines_of = st.lines_of.lock().unwrap();
            lines_of
                .get(&task)
                .or_else(|| lines_of.get(""))
                .copied()
                .unwrap_or(1)
        }
        n => n,
    };
    let results: Vec<Value> = (0..files)
        .map(|k| {
            serde_json::json!({
                "uri": format!("{base}/files/{task}/{k}.wav"), "duration": 1.0, "errorMessage": "",
            })
        })
        .collect();
    axum::Json(serde_json::json!({
        "code": 200, "message": "",
        "data": {"taskId": task, "taskType": "tts", "status": "finished", "result": {"results": results}},
    }))
    .into_response()
}

async fn fake_file(axum::extract::State(st): FakeShared) -> axum::response::Response {
    use axum::http::header::CONTENT_TYPE;
    let body = if st.empty_files.load(std::sync::atomic::Ordering::SeqCst) {
        axum::body::Body::empty()
    } else if st.cut_files.load(std::sync::atomic::Ordering::SeqCst) {
        // A stream that fails a moment after its first chunk (so that the head and those
        // bytes are out): hyper ends the connection without the body's end, as a host that
        // goes away mid-file does.
        use futures::StreamExt;
        let first =
            futures::stream::iter([Ok::<_, std::io::Error>(vec![b'a'; st.file_bytes.min(100)])]);
        let cut = futures::stream::once(async {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            Err(std::io::Error::other("cut"))
        });
        axum::body::Body::from_stream(first.chain(cut))
    } else if st.chunked {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..st.file_bytes)
            .step_by(1000)
            .map(|at| Ok(vec![b'a'; (st.file_bytes - at).min(1000)]))
            .collect();
        axum::body::Body::from_stream(futures::stream::iter(chunks))
    } else {
        axum::body::Body::from(vec![b'a'; st.file_bytes])
    };
    axum::response::Response::builder()
        .header(CONTENT_TYPE, "audio/wav")
        .body(body)
        .unwrap()
}
