//! `--out PATH` of `clone --wait` and `speak --wait`: the results written to disk through the
//! adapter's downloads (https only, checked redirects, no key, size cap, audio types, each
//! file renamed into place only when complete).
//!
//! One audio URL: the file is PATH (or `PATH/01.<ext>` when PATH is an existing directory or
//! ends with `/`).
//! Several: when PATH is a directory (existing, or written with a trailing `/` and created),
//! it holds `01.<ext>`, `02.<ext>`, ... in the vendor's order; when PATH names a file
//! (`out.wav`), the files are its siblings `out-01.<ext>`, `out-02.<ext>`, ... (never a
//! directory named `out.wav`). The extension comes from the answer's Content-Type, else the
//! URL. A PATH that is there once those are written holds no audio of this run: with
//! `--overwrite` (the earlier run's file, which the run was asked to replace) it is removed
//! (`path_removed`); without it (it appeared after the check) it is left and named
//! (`path_not_written`). Either way a warning on stderr names it.
//!
//! Before anything is sent, a file the run may write that already exists (PATH, a sibling
//! `out-NN.<ext>`, or `DIR/NN.<ext>`, for any extension and NN up to [`MAX_OUT_FILES`]) is
//! refused (exit 2) unless `--overwrite`: the write itself renames over, after the job was
//! paid. One that is not a regular file (a device such as `/dev/null`, a FIFO, a socket, or
//! a symlink to one) is refused even with `--overwrite`: the rename would replace it. The
//! check is a guard against mistakes, not a lock: a file created between it and the write
//! is still replaced.
//!
//! One command asks for one clone preview or one line of speech: an answer listing more
//! than [`MAX_OUT_FILES`] URLs is refused before anything is downloaded, and all the files
//! of one command hold at most its byte budget (`speak --max-total-bytes`, else
//! [`MAX_OUT_BYTES`]; each file is also capped by the client's per-file limit): a download
//! that would go past it is refused before its bytes reach the disk. Either refusal is exit
//! 1 (kind `download_budget`), with the job's audio URLs printed.

use std::path::Path;

use serde_json::{Value, json};
use url::Url;
use voiceclone::download::DownloadFailure;
use voiceclone::{Client, Downloaded, ErrorKind, Provider};

use crate::cli::{Cli, Command};
use crate::output::{Failure, Outcome, Printer};
use crate::spinner::Spinner;

/// The `--out` flags of `clone` and `speak`, checked before anything is sent: only with
/// `--wait`; not for a VMEG clone (no preview audio); the destination's directory must
/// exist and take the file (for `DIR/` not made yet, its nearest existing ancestor must take
/// every missing directory; see [`writable`]), and `--overwrite` must be able to replace
/// what is there ([`sticky_target`]). `None` when `--out` was not given.
pub fn check(cli: &Cli) -> Result<Option<&Path>, Failure> {
    let (out, wait, is_clone, overwrite) = match &cli.command {
        Command::Clone(a) => (a.out.as_deref(), a.wait, true, a.overwrite),
        // `speak --text-file` waits by itself and takes --out as its directory (long.rs),
        // where a rerun resumes: replacing what is there is not what it does.
        Command::Speak(a) if a.text_file.is_some() => {
            if a.overwrite {
                return Err(Failure::usage(
                    "--overwrite does not apply to --text-file: a rerun into the same --out DIR resumes the run; give a new directory to start over",
                ));
            }
            return Ok(None);
        }
        Command::Speak(a) => (a.out.as_deref(), a.wait, false, a.overwrite),
        _ => return Ok(None),
    };
    let Some(out) = out else { return Ok(None) };
    if !wait {
        return Err(Failure::usage(
            "--out only applies with --wait (the audio exists only once the task has finished)",
        ));
    }
    if is_clone && cli.provider.map(Provider::from) == Some(Provider::Vmeg) {
        return Err(Failure::usage(
            "VMEG clones have no preview audio: --out applies to JimmyAI clones (and to speak)",
        ));
    }
    if out.as_os_str().is_empty() {
        return Err(Failure::usage("--out is empty"));
    }
    if names_dir(out) && !out.is_dir() && exists_as_non_dir(out) {
        return Err(Failure::usage(format!(
            "--out {}: ends with / (a directory) but names a file that exists",
            out.display()
        )));
    }
    if !out.is_dir() && !names_dir(out) {
        // Several URLs are written as this name's siblings (`<stem>-01.<ext>`): a stem the
        // download would refuse is refused now, before anything is sent and paid for.
        let stem = out
            .file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default();
        if stem.chars().any(|c| c == '\\' || c.is_control()) {
            return Err(Failure::usage(
                "--out: the file name must not hold a backslash or a control character",
            ));
        }
        // `<stem>-01.<ext>` must fit a file name (255 bytes on common file systems).
        if stem.len() > 240 {
            return Err(Failure::usage(
                "--out: the file name is too long (its stem must be at most 240 bytes)",
            ));
        }
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if !parent.is_dir() {
            return Err(Failure::usage(format!(
                "--out {}: the directory {} does not exist",
                out.display(),
                parent.display()
            )));
        }
    }
    // A device, FIFO or socket (or a symlink to one) where a file would go is refused
    // whatever --overwrite says: the download renames its file over it (as root,
    // `/dev/null` became a regular file; otherwise the rename failed after the job was paid).
    if let Some(special) = special_target(out) {
        return Err(Failure::usage(format!(
            "--out {}: {} exists and is not a regular file (a device, FIFO, socket or directory): the download would replace it, --overwrite or not; nothing was sent, choose another PATH",
            out.display(),
            special.display()
        )));
    }
    if let Some((target, input)) = read_target(cli, out) {
        return Err(Failure::usage(format!(
            "--out {}: {} is {input}: the result would replace it; nothing was sent, choose another PATH",
            out.display(),
            target.display()
        )));
    }
    writable(out)?;
    if overwrite && let Some(locked) = sticky_target(out) {
        return Err(Failure::usage(format!(
            "--out {}: {} is another user's file in a directory only its owners may replace files in (sticky, as /tmp): --overwrite cannot replace it; nothing was sent, choose another PATH",
            out.display(),
            locked.display()
        )));
    }
    if !overwrite && let Some(existing) = existing_target(out) {
        return Err(Failure::usage(format!(
            "--out {}: {} already exists and would be replaced: nothing was sent; pass --overwrite to replace it, or choose another PATH",
            out.display(),
            existing.display()
        )));
    }
    Ok(Some(out))
}

/// Whether the run can make its files where `out` says, proven before anything is sent (a
/// refusal after the job was paid leaves a billed task and no file), on the name the run
/// writes where it can: a name the file system refuses as too long is refused; so is a
/// directory under `/dev` (but a tmpfs, `/dev/shm`), `/proc` or `/sys` (as root, a file
/// renamed over `/dev/stdout` replaced the system's link; see [`system_dir`]), and one whose
/// file system has less than [`MIN_FREE_BYTES`] free for this user.
/// Then the names the run makes are made, and removed, in a hidden scratch directory
/// (`.voiceclone-probe-*`, mode 0700) in the nearest existing directory on the way (PATH's
/// directory, or a new `DIR/`'s nearest existing ancestor): the basename of PATH when
/// not there, or every missing directory of a `DIR/` not made yet, by its own name. The same
/// file system takes or refuses the same names (FAT refuses a `:`, and a name too long,
/// only when making it), and the user's names are never touched: a kill meanwhile leaves
/// at most that hidden directory, and a file renamed onto PATH meanwhile is never removed.
/// Otherwise (a file there, or a directory to write into) a file of any name is, there.
/// The rest is made only after the job, so a dry run leaves nothing behind.
fn writable(out: &Path) -> Result<(), Failure> {
    let refuse = |why: String| Failure::usage(format!("--out {}: {why}", out.display()));
    let there = std::fs::symlink_metadata(out);
    if let Err(e) = &there
        && e.kind() == std::io::ErrorKind::InvalidFilename
    {
        return Err(refuse(
            "the name is too long for its file system: nothing was sent, choose a shorter PATH"
                .to_owned(),
        ));
    }
    let is_dir = out.is_dir();
    let (dir, probe) = if names_dir(out) && !is_dir {
        let (ancestor, missing) = existing_ancestor(out).map_err(refuse)?;
        (ancestor, Probe::Dirs(missing))
    } else if is_dir {
        (out.to_path_buf(), Probe::Temporary)
    } else if there.is_err() {
        // The name as written: `x.wav/.` and `x/..` end with no name of a file (the path
        // keeps only `x.wav` and `x`), and a file cannot be made at them.
        let text = out.as_os_str().to_string_lossy();
        let written = text.rsplit(['/', std::path::MAIN_SEPARATOR]).next();
        let name = out
            .file_name()
            .filter(|n| written == Some(&*n.to_string_lossy()));
        let Some(name) = name else {
            return Err(refuse(
                "cannot create this file (it ends with no file name): nothing was sent".to_owned(),
            ));
        };
        (parent_or_dot(out), Probe::File(name.to_os_string()))
    } else {
        (parent_or_dot(out), Probe::Temporary)
    };
    // Resolved, so that a link or a `..` to them is seen too.
    let resolved = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
    if system_dir(&resolved) {
        return Err(refuse(format!(
            "the files would go in {}, a directory of devices, processes or the kernel, not of files: nothing was sent; give the path of a regular file instead",
            resolved.display()
        )));
    }
    if let Some(free) = free_bytes(&dir)
        && free < MIN_FREE_BYTES
    {
        return Err(refuse(format!(
            "the file system of {} has {free} bytes free for this user, less than the {MIN_FREE_BYTES} checked before sending: nothing was sent; free some space or choose another PATH",
            dir.display()
        )));
    }
    let mut scratch = tempfile::Builder::new();
    scratch.prefix(".voiceclone-probe-");
    // Only this user may put anything in it: in a group-writable directory, another user
    // could otherwise redirect the probe (a link in place of a missing directory).
    #[cfg(unix)]
    scratch.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    let scratch = scratch.tempdir_in(&dir).map_err(|e| {
        refuse(format!(
            "cannot create a file in {} ({}): nothing was sent",
            dir.display(),
            e.kind()
        ))
    })?;
    let made = make_in(scratch.path(), &probe);
    let kept = scratch.path().to_path_buf();
    // Removed even when a name was refused; a directory that lets names be made but not
    // removed (append-only) would fail the download's rename into place too.
    let removed = scratch.close();
    made.map_err(refuse)?;
    removed.map_err(|e| {
        refuse(format!(
            "made {} to check the names there, and cannot remove it ({}): nothing was sent",
            kept.display(),
            e.kind()
        ))
    })
}

/// What [`writable`] proves the run can make.
enum Probe {
    /// PATH, a file not there yet: its basename.
    File(std::ffi::OsString),
    /// The missing directories of a `DIR/` not made yet, outermost first, as written
    /// (`..` included).
    Dirs(Vec<std::ffi::OsString>),
    /// A file of any name in the directory the files go to.
    Temporary,
}

/// Makes the names of `probe` inside `scratch` as the run would make them beside it: the
/// file by `create_new` (any name for [`Probe::Temporary`]), the directories one inside
/// the other, as `create_dir_all` makes them (a `..` goes back up the directories just
/// made; one above `scratch` is refused, since the real path would climb out of the
/// directory that was checked). The error says which name was refused, and why.
fn make_in(scratch: &Path, probe: &Probe) -> Result<(), String> {
    let file = |name: &std::ffi::OsStr| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(scratch.join(name))
            .map(drop)
    };
    match probe {
        Probe::Temporary => file(std::ffi::OsStr::new("probe")).map_err(|e| {
            format!(
                "cannot create a file there ({}): nothing was sent",
                e.kind()
            )
        }),
        Probe::File(name) => file(name)
            .map_err(|e| format!("cannot create this file ({}): nothing was sent", e.kind())),
        Probe::Dirs(missing) => {
            let mut at = scratch.to_path_buf();
            let mut depth = 0usize;
            for name in missing {
                if name == ".." {
                    if depth == 0 {
                        return Err(
                            "a `..` after a directory not made yet leads out of the directory the run was checked in: nothing was sent; give the path without it"
                                .to_owned(),
                        );
                    }
                    at.pop();
                    depth = depth.saturating_sub(1);
                    continue;
                }
                at.push(name);
                std::fs::create_dir(&at).map_err(|e| {
                    format!(
                        "cannot create the directory {} ({}): nothing was sent",
                        Path::new(name).display(),
                        e.kind()
                    )
                })?;
                depth = depth.saturating_add(1);
            }
            Ok(())
        }
    }
}

/// The least room, in bytes, the file system of `--out` must have free before anything is
/// sent: the size of the audio is known only after the job, so a floor is all that is checked.
pub const MIN_FREE_BYTES: u64 = 1 << 20;

/// Whether `resolved` (a directory, links resolved) is one of devices, processes or the
/// kernel: under `/proc` or `/sys` (as root, a cgroup directory takes a file), on the file
/// system of `/dev` itself (where `/dev` is no mount of its own, only what is under it
/// counts), or under `/dev` on any file system but a tmpfs (`/dev/shm` is taken). The other
/// mounts there take the probe's file but not the download: `/dev/mqueue` and
/// `/dev/hugepages` create it and refuse its `write` after the job was paid; `/dev/pts`
/// takes no file at all.
fn system_dir(resolved: &Path) -> bool {
    if resolved.starts_with("/proc") || resolved.starts_with("/sys") {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (Ok(at), Ok(dev), Ok(root)) = (
            std::fs::metadata(resolved),
            std::fs::metadata("/dev"),
            std::fs::metadata("/"),
        ) else {
            return resolved.starts_with("/dev");
        };
        let on_dev =
            at.dev() == dev.dev() && (dev.dev() != root.dev() || resolved.starts_with("/dev"));
        on_dev || (resolved.starts_with("/dev") && !is_tmpfs(resolved))
    }
    #[cfg(not(unix))]
    false
}

/// Whether `dir` is on a tmpfs (`statfs`'s `f_type` is `TMPFS_MAGIC`).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn is_tmpfs(dir: &Path) -> bool {
    const TMPFS_MAGIC: i128 = 0x0102_1994;
    rustix::fs::statfs(dir).is_ok_and(|st| i128::from(st.f_type) == TMPFS_MAGIC)
}

/// Without Linux's `statfs` type: only `/dev/shm` counts as a tmpfs.
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
fn is_tmpfs(dir: &Path) -> bool {
    dir.starts_with("/dev/shm")
}

/// The bytes free for this user on the file system of `dir` (the blocks reserved for root
/// count for root), or `None` when it does not say (`statvfs` failing, or reporting no
/// blocks at all, as some FUSE and network file systems do). Quotas are not seen.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    let avail = if rustix::process::geteuid().is_root() {
        st.f_bfree
    } else {
        st.f_bavail
    };
    let block = if st.f_frsize != 0 {
        st.f_frsize
    } else {
        st.f_bsize
    };
    reported_free(st.f_blocks, avail, block)
}

#[cfg(not(unix))]
fn free_bytes(_: &Path) -> Option<u64> {
    None
}

/// The bytes `avail` blocks of `block` bytes hold, or `None` when a file system of `total`
/// blocks says nothing of its size (`total` or `block` zero).
fn reported_free(total: u64, avail: u64, block: u64) -> Option<u64> {
    (total != 0 && block != 0).then(|| avail.saturating_mul(block))
}

/// The nearest existing ancestor of the directory `out` names (which `create_dir_all` would
/// create after the job), and the components under it that are missing, outermost first.
/// Links are looked at, not followed through as missing: one that resolves to no directory
/// (dangling, or to a file) is refused, since `create_dir_all` fails on it after the job.
fn existing_ancestor(out: &Path) -> Result<(std::path::PathBuf, Vec<std::ffi::OsString>), String> {
    // Without its trailing `/`: `lstat("link/")` follows the link.
    let whole: Vec<std::path::Component<'_>> = out.components().collect();
    let mut missing = Vec::new();
    for (i, last) in whole.iter().enumerate().rev() {
        // The path of the first `i + 1` components, `at`, ends with `last`.
        let at: std::path::PathBuf = whole.iter().take(i.saturating_add(1)).collect();
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => return Ok((at, missing)),
            Ok(m) if m.file_type().is_symlink() => {
                return match std::fs::metadata(&at) {
                    Ok(t) if t.is_dir() => Ok((at, missing)),
                    Ok(_) => Err(format!(
                        "{} is a symbolic link to something that is not a directory, so the directory cannot be created: nothing was sent",
                        at.display()
                    )),
                    Err(e) => Err(format!(
                        "{} is a symbolic link that leads to no directory ({}), so the directory cannot be created: nothing was sent",
                        at.display(),
                        e.kind()
                    )),
                };
            }
            Ok(_) => {
                return Err(format!(
                    "{} is not a directory, so the directory cannot be created: nothing was sent",
                    at.display()
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(format!(
                    "the directory cannot be created ({}: {e}): nothing was sent",
                    at.display()
                ));
            }
        }
        missing.insert(0, last.as_os_str().to_os_string());
    }
    Ok((std::path::PathBuf::from("."), missing))
}

/// With `--overwrite`: the first existing file among those the run may write (as
/// [`existing_target`] looks for them) that a sticky directory (`/tmp`) will not let this
/// user replace: owned by neither this user nor the directory's owner (root may). The
/// rename would fail with EPERM after the job was paid.
#[cfg(unix)]
fn sticky_target(out: &Path) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let euid = rustix::process::geteuid().as_raw();
    let (dir, mut names) = targets(out);
    let d = std::fs::metadata(&dir).ok()?;
    names.find(|p| {
        std::fs::symlink_metadata(p).is_ok_and(|f| sticky_refuses(d.mode(), d.uid(), f.uid(), euid))
    })
}

#[cfg(not(unix))]
fn sticky_target(_: &Path) -> Option<std::path::PathBuf> {
    None
}

/// Whether a directory of mode `dir_mode` owned by `dir_uid` refuses user `euid` the
/// replacing of a file there owned by `file_uid`: sticky (`S_ISVTX`), and `euid` owns
/// neither (root, with `CAP_FOWNER`, may).
fn sticky_refuses(dir_mode: u32, dir_uid: u32, file_uid: u32, euid: u32) -> bool {
    dir_mode & 0o1000 != 0 && euid != 0 && file_uid != euid && dir_uid != euid
}

/// Whether `out`, written with a trailing `/`, names something that exists and is not a
/// directory (`file.wav/`: the OS says "not a directory" for it as given).
fn exists_as_non_dir(out: &Path) -> bool {
    let s = out.as_os_str().to_string_lossy();
    let bare = s.trim_end_matches(['/', std::path::MAIN_SEPARATOR]);
    !bare.is_empty() && std::fs::metadata(bare).is_ok_and(|m| !m.is_dir())
}

/// The first existing file among those a run writing to `out` may write ([`write_all`]'s
/// names: PATH, its siblings `<stem>-NN.<ext>`, or `DIR/NN.<ext>`; the count and the
/// extension are known only from the answer, so every one that could be). A directory that
/// cannot be read is no refusal: the write reports its own errors.
fn existing_target(out: &Path) -> Option<std::path::PathBuf> {
    // A dangling symlink counts: the rename would replace it.
    targets(out)
        .1
        .find(|p| std::fs::symlink_metadata(p).is_ok())
}

/// The directory a run writing to `out` writes in, and the names there it may replace, in
/// the order they are looked at: PATH itself when it names a file, then the [`numbered`]
/// files (beside it, or in DIR). The directory is read only once a caller looks past PATH.
fn targets(out: &Path) -> (std::path::PathBuf, impl Iterator<Item = std::path::PathBuf>) {
    let scope = numbered_scope(out);
    let own = scope.is_none().then(|| out.to_path_buf());
    let (dir, prefix) = scope.unwrap_or_else(|| file_scope(out));
    let at = dir.clone();
    let listed =
        std::iter::once(()).flat_map(move |()| numbered_files(&at, &prefix).into_iter().flatten());
    (dir, own.into_iter().chain(listed))
}

/// The directory and name prefix of the numbered files a download to `out` writes, when
/// `out` names a directory (no prefix); `None` when it names a file (see [`file_scope`]).
fn numbered_scope(out: &Path) -> Option<(std::path::PathBuf, String)> {
    (out.is_dir() || names_dir(out)).then(|| (out.to_path_buf(), String::new()))
}

/// The numbered files beside the file `out` names: its directory, and `<stem>-`.
fn file_scope(out: &Path) -> (std::path::PathBuf, String) {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    (parent_or_dot(out), format!("{stem}-"))
}

/// The entries of `dir` named as [`numbered`] files with `prefix`.
fn numbered_files(
    dir: &Path,
    prefix: &str,
) -> Option<impl Iterator<Item = std::path::PathBuf> + use<>> {
    let prefix = prefix.to_owned();
    Some(
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter(move |e| e.file_name().to_str().is_some_and(|n| numbered(n, &prefix)))
            .map(|e| e.path()),
    )
}

/// The first of the names [`existing_target`] looks at that exists and is not a regular
/// file nor a symlink to one (PATH itself when it names a file; a numbered file, which
/// can also not be a directory). The rename of a download would replace it.
fn special_target(out: &Path) -> Option<std::path::PathBuf> {
    targets(out)
        .1
        .find(|p| std::fs::metadata(p).is_ok_and(|m| !m.is_file()))
}

/// The first existing file the run may write (as [`existing_target`] looks) that is a file
/// the same run reads, with what that input is: the local recording a clone uploads, or the
/// `--api-key-file`. Refused whatever `--overwrite` says: the user asked to replace an
/// earlier result, not the recording being cloned (a later clone from it would clone the
/// vendor's synthetic preview) nor the key (the next run would read audio as its key).
fn read_target(cli: &Cli, out: &Path) -> Option<(std::path::PathBuf, &'static str)> {
    let recording = match &cli.command {
        Command::Clone(a) => match super::provider::audio_source(&a.audio) {
            voiceclone::AudioSource::File(p) => Some(p),
            _ => None,
        },
        _ => None,
    };
    let inputs: Vec<(std::path::PathBuf, &'static str)> = recording
        .map(|p| (p, "the recording this clone uploads (AUDIO_URL_OR_FILE)"))
        .into_iter()
        .chain(
            cli.api_key_file
                .clone()
                .map(|p| (p, "the --api-key-file this run reads its key from")),
        )
        .collect();
    if inputs.is_empty() {
        return None;
    }
    targets(out).1.find_map(|t| {
        inputs
            .iter()
            .find(|(input, _)| same_file(&t, input))
            .map(|(_, what)| (t.clone(), *what))
    })
}

/// Whether `a` and `b` are one file, each taken as it is or followed if a link: the rename
/// replaces a link and the read follows one, and a link from one to the other is a mistake
/// either way, so the wider match. By metadata, never by opening (a FIFO would block).
fn same_file(a: &Path, b: &Path) -> bool {
    let metas = |p: &Path| {
        [std::fs::symlink_metadata(p), std::fs::metadata(p)]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
    };
    let (ma, mb) = (metas(a), metas(b));
    ma.iter().any(|x| mb.iter().any(|y| same_inode(x, y, a, b)))
}

/// Whether `name` is `<prefix>NN.<ext>`, a name [`write_all`] may give one of at most
/// [`MAX_OUT_FILES`] files: `ext` one a download may take (`notes-01.txt` beside
/// `--out notes.wav` is never written, and no reason to refuse the run).
fn numbered(name: &str, prefix: &str) -> bool {
    let Some((n, ext)) = name.strip_prefix(prefix).and_then(|r| r.split_once('.')) else {
        return false;
    };
    let width = MAX_OUT_FILES.to_string().len().max(2);
    n.len() == width
        && n.parse::<usize>()
            .is_ok_and(|i| (1..=MAX_OUT_FILES).contains(&i))
        && voiceclone::download::EXTENSIONS
            .iter()
            .any(|e| e.eq_ignore_ascii_case(ext))
}

/// `out`'s directory (`.` for a bare name).
fn parent_or_dot(out: &Path) -> std::path::PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// The most audio URLs `--out` downloads for one command (more is a suspicious answer).
pub const MAX_OUT_FILES: usize = 16;

/// The most bytes `--out` writes for one command, over all its files, unless
/// `--max-total-bytes` says otherwise (1 GiB, as `speak --text-file`'s default budget).
pub const MAX_OUT_BYTES: u64 = crate::commands::long::DEFAULT_MAX_TOTAL_BYTES;

/// Whether `e`, from a download capped at `left` bytes of a budget, is the budget's refusal:
/// too large, with what is left below the client's own cap (so the cap in force was the
/// budget's).
pub fn refused_by_budget(e: &voiceclone::Error, left: u64, client: &Client) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Download(DownloadFailure::TooLarge { .. })
    ) && left < client.max_download_bytes()
}

/// A PATH written with a trailing separator (`out/`) names a directory, to be created.
fn names_dir(out: &Path) -> bool {
    let s = out.as_os_str().to_string_lossy();
    s.ends_with('/') || s.ends_with(std::path::MAIN_SEPARATOR)
}

/// A stem for part `i` (0-based) of `n`: `01`, `02`, ... (wider beyond 99 parts).
fn stem(i: usize, n: usize) -> String {
    let width = n.to_string().len().max(2);
    format!("{:0width$}", i.saturating_add(1))
}

fn file_json(d: &Downloaded) -> Value {
    json!({
        "path": d.path.display().to_string(),
        "bytes": d.bytes,
        "content_type": d.content_type,
    })
}

/// Downloads `urls` to `out` (see the module docs) and records the files in `o` (`files`,
/// also on a failure: the files already written). A failure leaves the printed URLs usable.
/// SIGINT or SIGTERM stops the downloading (a file not complete is not left behind) and is
/// reported with the job and the files written so far (exit 3, `interrupted`). `budget` is
/// the most bytes all the files may hold; `overwrite` is `--overwrite`.
#[allow(clippy::too_many_arguments)] // one call per command; a struct would only rename them
pub async fn write(
    client: &Client,
    urls: &[Url],
    out: &Path,
    budget: u64,
    overwrite: bool,
    printer: &Printer,
    o: &mut Outcome,
    signals: &mut Option<crate::signals::Signals>,
) {
    let mut files: Vec<Downloaded> = Vec::new();
    let n = urls.len();
    let result = match signals.as_mut() {
        Some(signals) => {
            let work = write_all(client, urls, out, budget, printer, &mut files, o);
            tokio::select! {
                biased;
                r = work => r,
                name = signals.next() => Err(Failure::other(
                    crate::exit::Exit::Unreachable,
                    "interrupted",
                    format!("{name}: stopped downloading; the job finished and its audio URLs are printed (of {n} files, those written are listed)"),
                )),
            }
        }
        None => write_all(client, urls, out, budget, printer, &mut files, o).await,
    };
    if result.is_ok() && n > 1 && !(out.is_dir() || names_dir(out)) {
        stale_path(out, &files, n, overwrite, printer, o);
    }
    if result.is_ok() {
        stale_numbered(out, &files, printer, o);
    }
    o.set("files", files.iter().map(file_json).collect::<Vec<Value>>());
    if let Err(mut f) = result {
        // Whatever refused the write (the adapter's `InvalidInput` for a path that became a
        // directory after `check`, say), it came after the job was paid: exit 1, never 2,
        // which says nothing was sent.
        if f.exit == crate::exit::Exit::Usage {
            f.exit = crate::exit::Exit::Failure;
        }
        // A download's own advice ("try again later") must not read as "run the command
        // again": that submits, and pays for, a new task. (The budget's says so itself.)
        // With no URL there is nothing printed to fetch: the sentence would be untrue.
        if f.kind != "download_budget" && !urls.is_empty() {
            f.message = format!(
                "{}; the job is finished and paid for: its audio URLs are printed (running the command again submits and bills a new task)",
                f.message
            );
        }
        o.failure = Some(f);
    }
}

/// After `n` files were written as the siblings of the file `out` names: a file (or link) at
/// `out` holds no audio of this run, and a script reading `out` would take it for this
/// run's. With `--overwrite` it is the file the run was asked to replace, so it is removed;
/// without, it appeared after the check and is someone else's, so it is only named. A link
/// at `out` to one of the files just written (a "latest" link to `<stem>-01.<ext>`) holds
/// this run's audio: it is left alone.
fn stale_path(
    out: &Path,
    written: &[Downloaded],
    n: usize,
    overwrite: bool,
    printer: &Printer,
    o: &mut Outcome,
) {
    let Ok(meta) = std::fs::symlink_metadata(out) else {
        return;
    };
    if is_written(out, written) {
        return;
    }
    let shown = out.display().to_string();
    // `check` refused anything but a regular file or a link there; a directory since then
    // is not removed.
    let removed = if overwrite && !meta.is_dir() {
        std::fs::remove_file(out).map_err(|e| e.to_string())
    } else if overwrite {
        Err("it is a directory now".to_owned())
    } else {
        Err("it appeared after the check and --overwrite was not given".to_owned())
    };
    match removed {
        // On stderr through the printer, not `tracing`, which does not redact: the path is
        // the caller's, and a key pasted as `--out` must not show.
        Ok(()) => {
            crate::output::stderr_line(&printer.safe(&format!(
                "warning: removed the earlier file at --out {shown}: the answer had {n} audio files, written as its numbered siblings, so it would have held an earlier result"
            )));
            o.set("path_removed", shown);
        }
        Err(why) => {
            crate::output::stderr_line(&printer.safe(&format!(
                "warning: --out was not written and {shown} still holds something else ({why}): the answer had {n} audio files, written as its numbered siblings"
            )));
            o.set("path_not_written", shown);
        }
    }
}

/// Whether `path` (followed, if a link) is one of the files just written. By metadata, never
/// by opening it: a FIFO that appeared there would block the open for ever, with the signal
/// handlers on the same runtime thread.
fn is_written(path: &Path, written: &[Downloaded]) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    written
        .iter()
        .any(|d| std::fs::metadata(&d.path).is_ok_and(|w| same_inode(&meta, &w, path, &d.path)))
}

#[cfg(unix)]
fn same_inode(a: &std::fs::Metadata, b: &std::fs::Metadata, _: &Path, _: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_inode(_: &std::fs::Metadata, _: &std::fs::Metadata, a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// After a write: the numbered files in the scope `check` looked at (the siblings
/// `<stem>-NN.<ext>` of the file `out` names, or `DIR/NN.<ext>`) that this run did not write
/// may hold an earlier run's audio, which a glob or a directory reader would take for this
/// run's. They are named (`stale_paths`, a warning), never removed: `--overwrite` agreed to
/// replace the files this run writes, and a refusal without it named only the first file in
/// the way; these may be a video of the same number, or another run's output made since.
fn stale_numbered(out: &Path, written: &[Downloaded], printer: &Printer, o: &mut Outcome) {
    let (dir, prefix) = numbered_scope(out).unwrap_or_else(|| file_scope(out));
    let Some(found) = numbered_files(&dir, &prefix) else {
        return;
    };
    let mut stale: Vec<String> = found
        .filter(|p| !is_written(p, written))
        .map(|p| p.display().to_string())
        .collect();
    if stale.is_empty() {
        return;
    }
    stale.sort();
    crate::output::stderr_line(&printer.safe(&format!(
        "warning: {} numbered file(s) beside this run's were not written by it and may hold an earlier run's audio (left as they are): {}",
        stale.len(),
        stale.join(", ")
    )));
    o.set("stale_paths", stale);
}

async fn write_all(
    client: &Client,
    urls: &[Url],
    out: &Path,
    budget: u64,
    printer: &Printer,
    files: &mut Vec<Downloaded>,
    o: &mut Outcome,
) -> Result<(), Failure> {
    if urls.is_empty() {
        return Err(Failure::other(
            crate::exit::Exit::Failure,
            "no_audio",
            "the task finished without an audio URL: nothing to write",
        ));
    }
    if urls.len() > MAX_OUT_FILES {
        return Err(Failure::other(
            crate::exit::Exit::Failure,
            "download_budget",
            format!(
                "the answer lists {} audio URLs, more than the {MAX_OUT_FILES} --out writes for one command: nothing was downloaded; the URLs are printed",
                urls.len()
            ),
        ));
    }
    let into_dir = out.is_dir() || names_dir(out);
    // Several files for a PATH naming a file: its siblings `<stem>-01.<ext>`, ...
    let (dir, prefix) = if into_dir || urls.len() == 1 {
        (out.to_path_buf(), String::new())
    } else {
        let parent = parent_or_dot(out);
        let stem = out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        (parent, format!("{stem}-"))
    };
    let as_dir = into_dir || urls.len() > 1;
    if into_dir {
        // After the task was paid: exit 1 (not 2, which says nothing was sent); the audio
        // URLs are in the output.
        std::fs::create_dir_all(out).map_err(|e| {
            Failure::other(
                crate::exit::Exit::Failure,
                "download",
                format!(
                    "cannot create the --out directory {}: {e}; the audio URLs are printed, fetch them again",
                    out.display()
                ),
            )
        })?;
    }
    let n = urls.len();
    let over_budget = |i: usize| {
        Failure::other(
            crate::exit::Exit::Failure,
            "download_budget",
            format!(
                "the files would hold more than the {budget} bytes --out writes for one command (speak: --max-total-bytes): {} of {n} not downloaded; the job is finished and paid for: fetch its printed audio URLs (running the command again submits and bills a new task)",
                n.saturating_sub(i)
            ),
        )
        .with("max_total_bytes", budget)
    };
    let mut left = budget;
    for (i, url) in urls.iter().enumerate() {
        if left == 0 {
            return Err(over_budget(i));
        }
        let spinner = Spinner::start(
            printer,
            format!("downloading {}/{n} to {}", i + 1, out.display()),
        );
        let got = if as_dir {
            let name = format!("{prefix}{}", stem(i, n));
            client.download_to_dir_within(url, &dir, &name, left).await
        } else {
            client.download_to_path_within(url, out, left).await
        };
        drop(spinner);
        let d = match got {
            Ok(d) => d,
            // The cap in force was what is left of the budget, not the client's own.
            Err(e) if refused_by_budget(&e, left, client) => {
                return Err(over_budget(i));
            }
            Err(e) => return Err(Failure::from_adapter(&e).with("url_index", i)),
        };
        left = left.saturating_sub(d.bytes);
        o.line(format!("wrote {} ({} bytes)", d.path.display(), d.bytes));
        files.push(d);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A download refused as invalid input (here a file name `check` would have refused; in
    /// life, say, the path became a directory after the check) comes after the job was paid:
    /// exit 1, never 2 ("nothing was sent"). Before, the adapter's `InvalidInput` went out as
    /// exit 2.
    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn a_download_refused_as_invalid_input_after_the_job_is_not_exit_2() {
        let client = Client::builder(Provider::Vmeg)
            .api_key("sk-out-test-0123456789")
            .base_url("http://127.0.0.1:9/")
            .retry(voiceclone::RetryPolicy::none())
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a\u{1}b.wav");
        {
            let url = Url::parse("https://127.0.0.1:9/a.wav").unwrap();
            let urls = [url.clone(), url];
            let mut o = Outcome::default();
            let printer = Printer::new(true, true);
            write(
                &client, &urls, &target, 1000, false, &printer, &mut o, &mut None,
            )
            .await;
            let f = o.failure.unwrap();
            assert_eq!(f.kind, "invalid_input", "{f:?}");
            assert_eq!(f.exit, crate::exit::Exit::Failure, "{f:?}");
        }
    }

    /// Review 29 pass 2-b #2: a file system with less than 1 MiB free for the caller is
    /// refused before sending (before, a full disk passed the probe, an empty file needing no
    /// block, and the download failed after the job was paid); one that reports no size is
    /// not refused for it.
    #[test]
    fn a_file_system_under_the_free_floor_is_refused() {
        let refused = |total, avail, block| {
            reported_free(total, avail, block).is_some_and(|free| free < MIN_FREE_BYTES)
        };
        assert!(refused(1000, 0, 4096));
        assert!(refused(1000, 255, 4096));
        assert!(!refused(1000, 256, 4096));
        assert!(refused(10, 2047, 512));
        assert!(!refused(10, 2048, 512));
        assert!(!refused(1000, u64::MAX, 4096), "no overflow");
        assert_eq!(reported_free(0, 0, 4096), None, "no size reported");
        assert_eq!(reported_free(1000, 0, 0), None, "no block size reported");
    }

    /// Review 29 pass 2-b #1: `--overwrite` onto a file in a sticky directory (`/tmp`) that
    /// neither the file nor the directory is owned by the caller is refused before sending
    /// (the rename fails with EPERM after the job); the owner of either, root, and a directory
    /// that is not sticky pass.
    #[test]
    fn a_sticky_directory_refuses_another_users_file() {
        assert!(sticky_refuses(0o41777, 0, 1001, 1000));
        assert!(sticky_refuses(0o1770, 1002, 1001, 1000));
        assert!(!sticky_refuses(0o41777, 0, 1000, 1000), "the file's owner");
        assert!(
            !sticky_refuses(0o41777, 1000, 1001, 1000),
            "the directory's owner"
        );
        assert!(!sticky_refuses(0o41777, 1001, 1001, 0), "root");
        assert!(!sticky_refuses(0o40777, 0, 1001, 1000), "not sticky");
    }

    /// Review 29 pass 3-b #3: under `/dev` only a tmpfs (`/dev/shm`) is taken. Any other
    /// mount there (`/dev/pts` here; `/dev/mqueue` and `/dev/hugepages` elsewhere take the
    /// probe's file and refuse the download's write after the job) is refused, and so is
    /// `/sys` (a cgroup directory takes a file as root). Before, every mount of its own
    /// under `/dev` passed. Each case is skipped where that directory is not there.
    #[cfg(target_os = "linux")]
    #[test]
    fn under_dev_only_a_tmpfs_is_taken() {
        use std::os::unix::fs::MetadataExt;
        let dev = std::fs::metadata("/dev").map(|m| m.dev()).ok();
        for refused in [
            "/dev",
            "/dev/pts",
            "/dev/mqueue",
            "/dev/hugepages",
            "/sys/fs/cgroup",
            "/proc",
        ] {
            if Path::new(refused).is_dir() {
                assert!(system_dir(Path::new(refused)), "{refused}");
            }
        }
        let shm = std::fs::metadata("/dev/shm").ok();
        if shm.is_some_and(|m| m.is_dir() && Some(m.dev()) != dev) {
            assert!(is_tmpfs(Path::new("/dev/shm")));
            assert!(!system_dir(Path::new("/dev/shm")));
        }
        assert!(!system_dir(
            &std::env::temp_dir().canonicalize().unwrap_or_default()
        ));
    }

    #[test]
    fn stems_sort_as_numbers() {
        assert_eq!(stem(0, 1), "01");
        assert_eq!(stem(9, 12), "10");
        assert_eq!(stem(0, 100), "001");
        assert_eq!(stem(99, 100), "100");
    }

    #[test]
    fn the_numbered_names_are_those_written() {
        for (name, prefix) in [
            ("01.wav", ""),
            ("16.bin", ""),
            ("a-01.mp3", "a-"),
            ("02.WAV", ""),
        ] {
            assert!(numbered(name, prefix), "{name}");
        }
        for (name, prefix) in [
            ("00.wav", ""),
            ("17.wav", ""),
            ("1.wav", ""),
            ("01", ""),
            ("01.", ""),
            ("01.w.av", ""),
            ("b-01.wav", "a-"),
            ("notes.txt", ""),
            ("01.txt", ""),
            ("a-03.md", "a-"),
        ] {
            assert!(!numbered(name, prefix), "{name}");
        }
        // As `stem` names them.
        assert!(numbered(
            &format!("{}.wav", stem(MAX_OUT_FILES - 1, MAX_OUT_FILES)),
            ""
        ));
    }

    #[test]
    fn a_trailing_slash_names_a_directory() {
        assert!(names_dir(Path::new("out/")));
        assert!(!names_dir(Path::new("out")));
        assert!(!names_dir(Path::new("out.wav")));
    }
}
