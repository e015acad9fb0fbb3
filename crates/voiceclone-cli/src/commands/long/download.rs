//! Downloading a finished part's audio in line order within the run's byte budget, and what
//! a part whose lines lack audio is.

use std::path::Path;

use voiceclone::ErrorKind;
use voiceclone::Speech;
use voiceclone::download::DownloadFailure;

use super::Run;
use super::manifest::{FileRecord, PartState, file_sha256};
use super::names::{part_stem, recorded_stem};
use crate::exit::Exit;
use crate::output::Failure;

/// What a finished part's lines lack.
pub(super) enum LinesMissing {
    /// The vendor said these lines failed (an error, no audio): `why`.
    Failed(String),
    /// No line failed by the vendor's word, but these have no audio the client can read.
    Unreadable(String),
}

impl Run<'_> {
    /// Downloads part `i`'s audio in order and records the files (its lines were checked by
    /// [`Run::wait`]).
    pub(super) async fn download(&self, i: usize, speech: &Speech) -> Result<Vec<String>, Failure> {
        let several = speech.audio_urls.len() > 1;
        let mut files = Vec::with_capacity(speech.audio_urls.len());
        let total = self.plan.parts().len();
        let rec = self.record(i);
        for (k, url) in speech.audio_urls.iter().enumerate() {
            let stem = part_stem(i, total, k, several);
            // A file recorded under the same part and line, padded otherwise by an earlier
            // version, is downloaded again under its recorded name.
            let stem = rec
                .as_ref()
                .and_then(|r| recorded_stem(r, k, &stem))
                .unwrap_or(stem);
            let left = self.budget.saturating_sub(self.spent.get());
            if left == 0 {
                return Err(self.budget_stop(i, k, left, None));
            }
            self.clear_stand_ins(i, &stem).map_err(|f| {
                self.unwritable.set(true);
                self.download_failed(i, f, false)
            })?;
            let got = match self
                .client
                .download_to_dir_within(url, &self.dir, &stem, left)
                .await
            {
                Ok(got) => got,
                // The cap in force was what is left of the budget, not the client's own.
                Err(e) if crate::commands::out::refused_by_budget(&e, left, self.client) => {
                    return Err(self.budget_stop(i, k, left, Some(&e)));
                }
                Err(e) => {
                    if matches!(e.kind(), ErrorKind::Download(DownloadFailure::Write { .. })) {
                        self.unwritable.set(true);
                    }
                    return Err(self.download_failed(i, Failure::from_adapter(&e), false));
                }
            };
            self.spent.set(self.spent.get().saturating_add(got.bytes));
            self.warn_of_earlier(&stem, &got.path);
            let (bytes, sha256) = file_sha256(&got.path).map_err(|e| {
                let f =
                    self.unrecorded(Failure::io(&format!("reading {}", got.path.display()), &e));
                self.download_failed(i, f, true)
            })?;
            let name = got
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(stem);
            files.push(FileRecord {
                name,
                bytes,
                sha256,
            });
        }
        let names = files.iter().map(|f| f.name.clone()).collect();
        self.update(i, |p| {
            p.state = PartState::Done;
            p.files = files;
            p.clear_error();
        })
        .map_err(|f| self.download_failed(i, f, true))?;
        Ok(names)
    }

    /// Warns of the regular files in `DIR` named as `stem` (one of a part's files, just
    /// downloaded again as `got`) plus another extension a download may take: an earlier
    /// download of it, cut short or damaged, may have come under another extension (another
    /// `Content-Type`, another URL), and left beside the new file it would be joined in by a
    /// glob or `ls` (review 35-c #11). Left in place, not removed: whether this tool wrote
    /// it cannot be told (an unrecorded download, or the user's own conversion of the part's
    /// file, review 35 pass 2d #4), and a user's file is never deleted. On stderr with
    /// `--json` and `--quiet` too, as a warning.
    fn warn_of_earlier(&self, stem: &str, got: &Path) {
        for ext in voiceclone::download::EXTENSIONS {
            let path = self.dir.join(format!("{stem}.{ext}"));
            let regular = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file());
            if !regular || path.file_name() == got.file_name() {
                continue;
            }
            crate::output::stderr_line(&self.printer.safe(&format!(
                "warning: {} is beside {}, the file just downloaded under the same name with another extension (an earlier download, or a file of your own): it was left in place; remove it before joining the directory's files by name",
                path.display(),
                got.display()
            )));
        }
    }

    /// A failure of part `i`'s download (`written`: its files were written, and reading
    /// them back or recording them failed). The part's task was paid, in this run or an
    /// earlier one: never exit 2, which promises that nothing was sent (a local write that
    /// failed is exit 1, as a download that could not be written is), and the message names
    /// the part, as `part` does with `--json`.
    /// Removes what stands in place of a file part `i` recorded in an earlier run under
    /// `stem` (`stem.ext`, an extension a download may take): a FIFO, socket, device or
    /// symlink, not a regular file or a directory. The library refuses to rename a download
    /// over one (a reader waiting on a FIFO would never get a byte), but this is the run's
    /// own output, judged not intact ([`files_intact`]), and is downloaded again in its
    /// place, as the rename used to do. Only the recorded names built from `stem` are
    /// touched, never a path the manifest could point elsewhere.
    pub(super) fn clear_stand_ins(&self, i: usize, stem: &str) -> Result<(), Failure> {
        let Some(rec) = self.record(i) else {
            return Ok(());
        };
        for f in &rec.files {
            let ours = f
                .name
                .strip_prefix(stem)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|ext| voiceclone::download::EXTENSIONS.contains(&ext));
            if !ours {
                continue;
            }
            let path = self.dir.join(&f.name);
            let stand_in = std::fs::symlink_metadata(&path)
                .is_ok_and(|m| !m.file_type().is_file() && !m.file_type().is_dir());
            if stand_in {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Failure::io(
                            &format!("removing {} to download it again", path.display()),
                            &e,
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// A failed write of the manifest (`f`) after part `i`'s task, paid in this run or an
    /// earlier one, was read (or its files checked): never exit 2, which promises that
    /// nothing was sent, on a rerun that only reads (review 35-c #7); the exit the read's own
    /// outcome gives when it is recorded (`found`: 1 for a task that failed, 3 for one whose
    /// outcome is not known, never 1 there, pass 2d #5), or more serious, naming the part and
    /// its task, as a failed download is told ([`Run::download_failed`]).
    pub(super) fn recorded_or(&self, i: usize, mut f: Failure, found: Exit) -> Failure {
        if f.exit == Exit::Usage || f.exit.code() < found.code() {
            f.exit = found;
        }
        f.message.push_str(&format!(
            "; {}: what this run found of it was not recorded in the manifest (its task is paid: rerun the same command to read it again)",
            self.name(i)
        ));
        let job = self.record(i).and_then(|r| r.job_id);
        let f = f.with("part", i + 1);
        match job {
            Some(id) => f.with("job_id", id),
            None => f,
        }
    }

    pub(super) fn download_failed(&self, i: usize, mut f: Failure, written: bool) -> Failure {
        if f.exit == Exit::Usage {
            f.exit = Exit::Failure;
        }
        let what = if written {
            "its audio was downloaded but not recorded as done"
        } else {
            "its audio was not downloaded"
        };
        f.message.push_str(&format!(
            "; {}: {what} (its task is paid: rerun the same command to download it again)",
            self.name(i)
        ));
        f.with("part", i + 1)
    }

    /// Why part `i`'s finished task lacks the audio of some of its lines, if it does. VMEG
    /// answers each line of a task (one result per line, by position), and a line can fail
    /// while the task succeeds: its audio is missing, and the files, named by position,
    /// would give the later lines' audio the wrong names. JimmyAI parts are one line with
    /// no per-line answer. A line the vendor said failed (its error, no audio) makes the
    /// part failed; a line with no audio and no error from the vendor is one the client
    /// could not read, and only makes the part unreadable when no line failed (a failed line
    /// sends the part again anyway). So does an answer listing another number of results
    /// than the part has lines, no line failed: that VMEG answers exactly one result per
    /// line is not documented (api-facts A13), but the files are numbered by position, so
    /// one line dropped would leave its audio missing and the later lines' files misnamed,
    /// and extra results would splice foreign audio in; the part is kept with its task, to
    /// be read again, never recorded done (nor paid again unasked). A line with audio and an
    /// error keeps its audio: the error is a remark.
    pub(super) fn lines_missing(&self, i: usize, speech: &Speech) -> Option<LinesMissing> {
        if speech.segments.is_empty() {
            return None;
        }
        let lines = self.plan.parts().get(i).map_or(0, |p| p.lines.len());
        let answered = speech.segments.len();
        let listed = |reasons: Vec<String>| -> (usize, String) {
            let shown = reasons.len().min(3);
            let mut listed = reasons.get(..shown).unwrap_or_default().join("; ");
            if reasons.len() > shown {
                listed.push_str(&format!("; and {} more", reasons.len() - shown));
            }
            (reasons.len(), listed)
        };
        // A vendor's message (or the client's reason), shown up to 200 characters.
        let line = |k: usize, why: &str| {
            let why: String = why.chars().take(200).collect();
            format!("line {}: {why}", k + 1)
        };
        let failed: Vec<String> = speech
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.failed())
            .map(|(k, s)| line(k, s.error.as_deref().unwrap_or_default()))
            .collect();
        if !failed.is_empty() {
            let (n, listed) = listed(failed);
            return Some(LinesMissing::Failed(format!(
                "{n} of its {answered} lines failed ({listed})"
            )));
        }
        if answered != lines {
            return Some(LinesMissing::Unreadable(format!(
                "the answer lists {answered} results for its {lines} lines (one a line is what its files are numbered by)"
            )));
        }
        let unread: Vec<String> = speech
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.url.is_none())
            .map(|(k, s)| {
                line(
                    k,
                    s.unreadable
                        .as_deref()
                        .unwrap_or("no audio URL and no error"),
                )
            })
            .collect();
        if unread.is_empty() {
            return None;
        }
        let (n, listed) = listed(unread);
        Some(LinesMissing::Unreadable(format!(
            "{n} of its {answered} lines could not be read ({listed})"
        )))
    }

    /// Part `i` finished without the audio of every line (`why`): recorded as failed (a
    /// rerun submits it again), nothing of it downloaded.
    pub(super) fn failed_lines(&self, i: usize, why: String) -> Failure {
        let job = self
            .manifest
            .borrow()
            .parts
            .get(i)
            .and_then(|p| p.job_id.clone());
        if let Err(f) = self.update(i, |p| {
            p.state = PartState::Failed;
            p.note(why.clone(), None);
        }) {
            return self.recorded_or(i, f, Exit::Failure);
        }
        let mut f = Failure::other(
            Exit::Failure,
            "task_failed",
            format!(
                "{}: its task finished, but {why}; nothing of it was downloaded (its files would miss lines); a rerun submits it again, and it is billed again",
                self.name(i)
            ),
        )
        .with("part", i + 1);
        if let Some(id) = job {
            f = f.with("job_id", id);
        }
        f
    }
}
