//! The manifest of `speak --text-file F --out DIR`: `DIR/voiceclone-manifest.json`, what
//! each part of the text is and how far it got. It is written (to a temporary file, then
//! renamed over the old one, so a crash leaves the old or the new manifest, never half of
//! one) before each submit and after each step, so a rerun knows which parts were paid for.
//! On Unix the directory is synced after the rename too: the rename lives in the directory,
//! and until that is on disk a power loss can bring the old manifest back.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use voiceclone::long_text::LongSpeechPlan;

use crate::exit::Exit;
use crate::output::Failure;

/// The manifest's file name in the output directory.
pub const FILE_NAME: &str = "voiceclone-manifest.json";
const VERSION: u32 = 1;

/// Where a part got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartState {
    /// Nothing sent for it (or the vendor refused it: nothing was created).
    Planned,
    /// Its submit was being sent: it may or may not have created a task.
    Submitting,
    /// The vendor accepted it: `job_id` is its task.
    Submitted,
    /// Its audio is in the directory (`files`).
    Done,
    /// Its task failed (the vendor said so); a rerun submits it again.
    Failed,
}

/// One downloaded file of a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// The file name, in the output directory.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// SHA-256 of its content, lowercase hex.
    pub sha256: String,
}

/// One part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// From 0.
    pub index: usize,
    /// SHA-256 of the part's text.
    pub text_sha256: String,
    /// Its lines (one task each for JimmyAI; a VMEG batch).
    pub lines: usize,
    /// Its Unicode scalar values.
    pub chars: usize,
    /// Where it got to.
    pub state: PartState,
    /// VMEG: the `X-Idempotency-Key` of its latest submit (a resend reuses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// When its latest submit was sent, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at_ms: Option<u64>,
    /// Its task, stored form (`vmeg:speech:<id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Every task id this part ever had (a failed task, then its resubmission).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub past_job_ids: Vec<String>,
    /// Its audio, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRecord>,
    /// The last failure, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PartRecord {
    /// When its latest submit was sent. `None` also for a value that is no time: past what
    /// the system's clock holds (`UNIX_EPOCH + u64::MAX ms` overflows where `SystemTime`
    /// is narrower, a panic with `+`) or past what RFC 3339 writes (year 9999). Such a
    /// manifest is refused by [`Manifest::mismatch`], naming the field.
    pub fn submitted_at(&self) -> Option<SystemTime> {
        let ms = self.submitted_at_ms?;
        UNIX_EPOCH
            .checked_add(Duration::from_millis(ms))
            .filter(|t| crate::output::try_rfc3339(*t).is_some())
    }
}

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// `vmeg` or `jimmyai`.
    pub provider: String,
    /// The voice, as given.
    pub voice: String,
    /// `--language`, as given.
    #[serde(default)]
    pub language: Option<String>,
    /// SHA-256 of the text file's content.
    pub text_sha256: String,
    /// The split's limits.
    pub max_line_chars: usize,
    /// The split's limits.
    pub max_lines: usize,
    /// The parts, in order.
    pub parts: Vec<PartRecord>,
}

/// Unix milliseconds of `t`.
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Manifest {
    /// A fresh manifest for `plan`: every part planned.
    pub fn new(plan: &LongSpeechPlan, voice: &str, language: Option<&str>) -> Self {
        let limits = plan.limits();
        Self {
            version: VERSION,
            provider: plan.provider().as_str().to_owned(),
            voice: voice.to_owned(),
            language: language.map(str::to_owned),
            text_sha256: plan.text_sha256().to_owned(),
            max_line_chars: limits.max_line_chars,
            max_lines: limits.max_lines,
            parts: plan
                .parts()
                .iter()
                .map(|p| PartRecord {
                    index: p.index,
                    text_sha256: p.text_sha256(),
                    lines: p.lines.len(),
                    chars: p.chars(),
                    state: PartState::Planned,
                    idempotency_key: None,
                    submitted_at_ms: None,
                    job_id: None,
                    past_job_ids: Vec::new(),
                    files: Vec::new(),
                    error: None,
                })
                .collect(),
        }
    }

    /// Why this manifest cannot be resumed with `fresh` (the same command's plan now):
    /// another text, provider, voice, language or split. `None` when it can.
    pub fn mismatch(&self, fresh: &Manifest) -> Option<String> {
        if self.version != fresh.version {
            return Some(format!(
                "it has format version {}, this tool writes {}",
                self.version, fresh.version
            ));
        }
        if self.text_sha256 != fresh.text_sha256 {
            return Some(format!(
                "the text file changed since it was written (SHA-256 {} then, {} now)",
                short(&self.text_sha256),
                short(&fresh.text_sha256)
            ));
        }
        if self.provider != fresh.provider {
            return Some(format!(
                "it was written for --provider {}, not {}",
                self.provider, fresh.provider
            ));
        }
        if self.voice != fresh.voice {
            return Some(format!(
                "it was written for --voice {}, not {}",
                self.voice, fresh.voice
            ));
        }
        if self.language != fresh.language {
            return Some(format!(
                "it was written with --language {}, not {}",
                self.language.as_deref().unwrap_or("(none)"),
                fresh.language.as_deref().unwrap_or("(none)")
            ));
        }
        // The parts are in order, each at its index: a hand-edited index (out of range,
        // a duplicate) would tie a task or a file to the wrong part.
        if let Some((k, p)) = self.parts.iter().enumerate().find(|(k, p)| p.index != *k) {
            return Some(format!(
                "its part {} has index {}, not {k} (was it edited by hand?)",
                k + 1,
                p.index
            ));
        }
        // A submit time that is no time (hand-edited) would read as "sent at an unknown
        // time": refused by name instead.
        if let Some(p) = self
            .parts
            .iter()
            .find(|p| p.submitted_at_ms.is_some() && p.submitted_at().is_none())
        {
            return Some(format!(
                "its part {} has submitted_at_ms {}, which is no time this tool can read (was it edited by hand?)",
                p.index.saturating_add(1),
                p.submitted_at_ms.unwrap_or_default()
            ));
        }
        // A file of a part is a file of the directory, by its plain name: not a path out of
        // it (`../x`, `/etc/x`), which a rerun would hash and list as the part's audio.
        let outside = self.parts.iter().find_map(|p| {
            p.files
                .iter()
                .find(|f| !is_plain_file_name(&f.name))
                .map(|f| (p.index, f))
        });
        if let Some((k, f)) = outside {
            return Some(format!(
                "its part {} lists the file {:?}, which is not a plain file name in the directory (was it edited by hand?)",
                k.saturating_add(1),
                f.name
            ));
        }
        let split = |m: &Manifest| {
            (
                m.max_line_chars,
                m.max_lines,
                m.parts
                    .iter()
                    .map(|p| p.text_sha256.clone())
                    .collect::<Vec<_>>(),
            )
        };
        if split(self) != split(fresh) {
            return Some("the text is split differently now (another version of this tool)".into());
        }
        None
    }

    /// Reads `dir`'s manifest; `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Manifest>, Failure> {
        let path = dir.join(FILE_NAME);
        // Only a regular file is read: a FIFO would block the open forever, a device such
        // as `/dev/zero` would be read until memory runs out.
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Failure::io(&format!("reading {}", path.display()), &e)),
            Ok(m) if !m.is_file() => {
                return Err(Failure::other(
                    Exit::Usage,
                    "invalid_manifest",
                    format!(
                        "{} is not a regular file; nothing was sent. Use another --out directory",
                        path.display()
                    ),
                )
                .with("manifest", path.display().to_string()));
            }
            Ok(_) => {}
        }
        let bytes =
            match crate::bounded_read::read_at_most(&path, crate::bounded_read::MAX_MANIFEST_BYTES)
            {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Failure::io(&format!("reading {}", path.display()), &e)),
            };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Failure::other(
                Exit::Usage,
                "invalid_manifest",
                format!(
                    "{} is not a manifest this tool can read ({e}); nothing was sent. Use another --out directory, or remove the file if you are sure none of its parts is still to be paid for",
                    path.display()
                ),
            )
            .with("manifest", path.display().to_string())
        })
    }

    /// Writes it to `dir` atomically: a temporary file, flushed to disk, renamed over the
    /// manifest, and (on Unix) the directory flushed to disk.
    pub fn save(&self, dir: &Path) -> Result<(), Failure> {
        use std::io::Write;
        let path = dir.join(FILE_NAME);
        let fail = |e: std::io::Error| Failure::io(&format!("writing {}", path.display()), &e);
        let text = serde_json::to_vec_pretty(self).map_err(|e| {
            Failure::other(
                Exit::Failure,
                "manifest",
                format!("cannot encode the manifest: {e}"),
            )
        })?;
        // A new file of a random name (created exclusively: a symlink planted in DIR is never
        // written through), removed if anything fails before the rename.
        let prefix = format!(".{FILE_NAME}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let mut tmp = builder.tempfile_in(dir).map_err(fail)?;
        tmp.write_all(&text).map_err(fail)?;
        tmp.as_file().sync_all().map_err(fail)?;
        tmp.persist(&path).map_err(|e| fail(e.error))?;
        // The rename is an entry of the directory, not of the file: until the directory is
        // on disk, a power loss can undo it and bring back the manifest from before, losing
        // a `submitting` record whose submit went out (the rerun would send that part under
        // a new key: a second paid task).
        sync_dir(dir).map_err(fail)?;
        Ok(())
    }
}

/// Flushes `dir` itself (its entries: a rename into it) to disk. A file system that cannot
/// sync a directory at all (`fsync` answering EINVAL or ENOTSUP, as some network and FUSE
/// ones do) is let be: failing there would refuse every run on it, for a durability it
/// never offered; any other error is a failed write.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    use std::io::ErrorKind;
    #[cfg(test)]
    tests::DIR_SYNCS.with(|n| n.set(n.get() + 1));
    match std::fs::File::open(dir)?.sync_all() {
        Err(e) if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported) => Ok(()),
        other => other,
    }
}

/// No directory handle to sync on this system: the rename is as durable as it makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Test seam, in debug builds only: when `1`, [`lock`] answers as where no lock can be
/// taken, which
/// no permission makes happen for root (a file system without `flock`, a directory that
/// cannot be opened for reading).
#[cfg(unix)]
const NO_LOCK_ENV: &str = "VOICECLONE_TEST_NO_DIR_LOCK";

/// One run at a time on `dir`: an exclusive lock on the directory itself (`flock`, no file
/// of its own to plant a symlink at), held while the returned value lives and released by
/// the system when the process ends however it ends (a kill leaves no stale lock). A second
/// run on the same directory is refused before it reads the manifest or sends anything:
/// each would submit the parts the other has not reached (both paid) and overwrite the
/// other's manifest. Where no lock can be taken (a file system without `flock`, a
/// directory that cannot be opened for reading, another system than Unix) the run goes on
/// unlocked: `Ok(Err(why))`, for a warning.
#[cfg(unix)]
pub fn lock(dir: &Path) -> Result<Result<impl Sized, String>, Failure> {
    use rustix::fs::{FlockOperation, Mode, OFlags, flock, open};
    // Debug builds only (the tests'), and only `1`: set by accident in a release run
    // (`=0` meaning "off"), it would let two runs on one directory both pay for parts.
    if cfg!(debug_assertions) && std::env::var_os(NO_LOCK_ENV).is_some_and(|v| v == "1") {
        return Ok(Err(format!(
            "locking {}: {NO_LOCK_ENV} is set (a test seam)",
            dir.display()
        )));
    }
    let fd = match open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => return Ok(Err(format!("opening {}: {e}", dir.display()))),
    };
    match flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Ok(fd)),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(Failure::other(
            Exit::Usage,
            "manifest_locked",
            format!(
                "another run of this tool is using {} (it holds the directory's lock); nothing was sent. Wait for it to end, or use another --out directory",
                dir.display()
            ),
        )
        .with("manifest", dir.join(FILE_NAME).display().to_string())),
        Err(e) => Ok(Err(format!("locking {}: {e}", dir.display()))),
    }
}

/// One run at a time on `dir`: not enforced on this system.
#[cfg(not(unix))]
pub fn lock(_dir: &Path) -> Result<Result<(), String>, Failure> {
    Ok(Err("no directory lock on this system".to_owned()))
}

/// A name of one file in the directory: one normal path component, no control character.
fn is_plain_file_name(name: &str) -> bool {
    use std::path::Component;
    let mut parts = Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(n)), None) if n == std::ffi::OsStr::new(name)
    ) && !name.chars().any(char::is_control)
}

/// The first 12 hex digits, for messages.
fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

/// SHA-256 of a file's content, lowercase hex, and its size.
pub fn file_sha256(path: &Path) -> std::io::Result<(u64, String)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
        total = total.saturating_add(n as u64);
    }
    Ok((total, hex::encode(h.finalize())))
}

/// Whether a done part's files are all there, whole (size and SHA-256 as recorded). Only a
/// regular file counts, never a symlink, and at most its recorded size and one byte more is
/// read ([`recorded_file_sha256`]): a FIFO or a symlink to `/dev/zero` put in a file's place
/// hung the run in its open or its read, deaf to SIGINT and SIGTERM. Anything else is not
/// intact, and the part is downloaded again (replacing it) from its known task.
pub fn files_intact(dir: &Path, part: &PartRecord) -> bool {
    !part.files.is_empty()
        && part.files.iter().all(|f| {
            matches!(recorded_file_sha256(&dir.join(&f.name), f.bytes), Some((bytes, sha)) if bytes == f.bytes && sha == f.sha256)
        })
}

/// SHA-256 and size of the regular file at `path` (not a symlink, a FIFO, a device), reading
/// at most `recorded + 1` bytes: enough to tell a file of the recorded size from a longer
/// one. `None` for anything else, or when it cannot be read. The file is opened without
/// following a symlink and without blocking, and checked again once open, so a FIFO swapped
/// in after the first look does not hang the open either.
fn recorded_file_sha256(path: &Path, recorded: u64) -> Option<(u64, String)> {
    use std::io::Read;
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return None;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(
            (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32,
        );
    }
    let f = options.open(path).ok()?;
    if !f.metadata().is_ok_and(|m| m.file_type().is_file()) {
        return None;
    }
    let mut f = f.take(recorded.saturating_add(1));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
        total = total.saturating_add(n as u64);
    }
    Some((total, hex::encode(h.finalize())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use voiceclone::{Provider, SpeechRequest};

    fn plan(text: &str) -> LongSpeechPlan {
        LongSpeechPlan::new(Provider::Vmeg, &SpeechRequest::new("cv_1", text)).unwrap()
    }

    /// A submit time past what the clock or RFC 3339 holds is refused by name, never
    /// added with `+` (a panic where `SystemTime` is narrower than `u64::MAX` ms).
    #[test]
    fn a_submit_time_that_is_no_time_is_refused_by_name() {
        let p = plan("Hello there. General Kenobi.");
        let fresh = Manifest::new(&p, "cv_1", None);
        let mut m = fresh.clone();
        for (ms, refused) in [
            (u64::MAX, true),
            (253_402_300_800_000, true), // 10000-01-01T00:00:00Z
            (1_700_000_000_000, false),
        ] {
            m.parts[0].submitted_at_ms = Some(ms);
            let why = m.mismatch(&fresh);
            assert_eq!(why.is_some(), refused, "{ms}: {why:?}");
            if let Some(why) = why {
                assert!(why.contains("submitted_at_ms"), "{why}");
            }
            assert_eq!(m.parts[0].submitted_at().is_none(), refused, "{ms}");
        }
    }

    #[test]
    fn saves_atomically_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::new(&plan("Hello there. General Kenobi."), "cv_1", Some("en-US"));
        m.save(dir.path()).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), Some(m));
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [FILE_NAME]);
    }

    #[cfg(unix)]
    std::thread_local! {
        /// How many times this test's thread synced a directory (see `sync_dir`).
        pub(super) static DIR_SYNCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// Each save syncs the directory after the rename. That the rename then survives a
    /// power loss cannot be shown by a test: this checks that the sync is made, on the
    /// manifest's directory, without an error on a normal directory.
    #[cfg(unix)]
    #[test]
    fn each_save_syncs_the_directory_after_the_rename() {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::new(&plan("Hello there."), "cv_1", None);
        let before = DIR_SYNCS.with(std::cell::Cell::get);
        m.save(dir.path()).unwrap();
        m.save(dir.path()).unwrap();
        assert_eq!(DIR_SYNCS.with(std::cell::Cell::get), before + 2);
        assert_eq!(Manifest::load(dir.path()).unwrap(), Some(m));
        // A directory that cannot be opened is an error (a failed write), not let be.
        assert!(sync_dir(&dir.path().join("gone")).is_err());
    }

    #[test]
    fn another_text_voice_or_language_is_a_mismatch() {
        let a = Manifest::new(&plan("One text."), "cv_1", None);
        assert_eq!(a.mismatch(&a.clone()), None);
        let b = Manifest::new(&plan("Another text."), "cv_1", None);
        assert!(a.mismatch(&b).unwrap().contains("text file changed"));
        let c = Manifest::new(&plan("One text."), "cv_2", None);
        assert!(a.mismatch(&c).unwrap().contains("--voice"));
        let d = Manifest::new(&plan("One text."), "cv_1", Some("en-US"));
        assert!(a.mismatch(&d).unwrap().contains("--language"));
        // README: "... the provider ... or the split changed" refuse to resume too.
        let jimmy =
            LongSpeechPlan::new(Provider::JimmyAi, &SpeechRequest::new("cv_1", "One text."));
        let e = Manifest::new(&jimmy.unwrap(), "cv_1", None);
        assert!(a.mismatch(&e).unwrap().contains("--provider"));
        let limits =
            voiceclone::long_text::SplitLimits::for_provider(Provider::Vmeg).with_max_line_chars(4);
        let req = SpeechRequest::new("cv_1", "One text.");
        let f = Manifest::new(
            &LongSpeechPlan::with_limits(Provider::Vmeg, &req, limits).unwrap(),
            "cv_1",
            None,
        );
        assert!(a.mismatch(&f).unwrap().contains("split differently"));
    }

    #[test]
    fn file_names_are_plain_names_in_the_directory() {
        for ok in ["001.wav", "001-02.mp3", "x"] {
            assert!(is_plain_file_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x.wav",
            "/etc/passwd",
            "a/b.wav",
            "./001.wav",
            "a\nb",
            "001.wav/",
        ] {
            assert!(!is_plain_file_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_damaged_file_is_not_intact() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("001.wav"), b"RIFF....").unwrap();
        let (bytes, sha256) = file_sha256(&dir.path().join("001.wav")).unwrap();
        let mut part = Manifest::new(&plan("x."), "cv_1", None).parts.remove(0);
        part.files = vec![FileRecord {
            name: "001.wav".into(),
            bytes,
            sha256,
        }];
        assert!(files_intact(dir.path(), &part));
        std::fs::write(dir.path().join("001.wav"), b"RIFF...!").unwrap();
        assert!(!files_intact(dir.path(), &part));
        std::fs::remove_file(dir.path().join("001.wav")).unwrap();
        assert!(!files_intact(dir.path(), &part));
    }
}
