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
/// exist and take a new file (for `DIR/` not made yet, its nearest existing ancestor; see
/// [`writable`]). `None` when `--out` was not given.
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
    writable(out)?;
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
/// refusal after the job was paid leaves a billed task and no file): a name the file system
/// refuses as too long is refused; so is a directory under `/dev` or `/proc` (as root, a
/// file renamed over `/dev/stdout` replaced the system's link); and a temporary file is made
/// and removed at once in the directory the files go to. A `DIR/` not made yet is made only
/// after the job, so its nearest existing ancestor must be a directory that takes the file
/// (nothing is created before sending: a dry run leaves no directory behind).
fn writable(out: &Path) -> Result<(), Failure> {
    let refuse = |why: String| Failure::usage(format!("--out {}: {why}", out.display()));
    if let Err(e) = std::fs::symlink_metadata(out)
        && e.kind() == std::io::ErrorKind::InvalidFilename
    {
        return Err(refuse(
            "the name is too long for its file system: nothing was sent, choose a shorter PATH"
                .to_owned(),
        ));
    }
    let dir = if names_dir(out) && !out.is_dir() {
        existing_ancestor(out).map_err(refuse)?
    } else if out.is_dir() {
        out.to_path_buf()
    } else {
        parent_or_dot(out)
    };
    // Resolved, so that a link or a `..` to them is seen too.
    let resolved = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
    if ["/dev", "/proc"].iter().any(|d| resolved.starts_with(d)) {
        return Err(refuse(format!(
            "the files would go in {}, a directory of devices or processes, not of files: nothing was sent; give the path of a regular file instead",
            resolved.display()
        )));
    }
    tempfile::Builder::new()
        .prefix(".voiceclone-probe-")
        .tempfile_in(&dir)
        .map(drop)
        // The kind only: the error names the probe's random path, which says nothing.
        .map_err(|e| {
            refuse(format!(
                "cannot create a file in {} ({}): nothing was sent",
                dir.display(),
                e.kind()
            ))
        })
}

/// The nearest existing ancestor of the directory `out` names (which `create_dir_all` would
/// create after the job): it must be a directory.
fn existing_ancestor(out: &Path) -> Result<std::path::PathBuf, String> {
    let mut at = out;
    loop {
        match std::fs::metadata(at) {
            Ok(m) if m.is_dir() => return Ok(at.to_path_buf()),
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
        at = match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => return Ok(std::path::PathBuf::from(".")),
        };
    }
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
    let (dir, prefix) = match numbered_scope(out) {
        Some(scope) => scope,
        None if std::fs::symlink_metadata(out).is_ok() => return Some(out.to_path_buf()),
        None => file_scope(out),
    };
    numbered_files(&dir, &prefix)?.next()
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
fn numbered_files(dir: &Path, prefix: &str) -> Option<impl Iterator<Item = std::path::PathBuf>> {
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
    let not_regular = |p: &Path| std::fs::metadata(p).is_ok_and(|m| !m.is_file());
    let (dir, prefix) = match numbered_scope(out) {
        Some(scope) => scope,
        None if not_regular(out) => return Some(out.to_path_buf()),
        None => file_scope(out),
    };
    numbered_files(&dir, &prefix)?.find(|p| not_regular(p))
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
