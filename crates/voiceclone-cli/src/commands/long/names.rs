//! Where a part's audio goes: the file names of a part and its lines, and the name a
//! part recorded before.

use std::path::{Path, PathBuf};

use super::manifest::PartRecord;

/// The first entry of `dir` (any kind: a symlink would be renamed over too) named as a part's
/// audio may be: digits, `-` between digit groups (`001.wav`, `001-01.mp3`), then an
/// extension a download may take ([`voiceclone::download::EXTENSIONS`], any case). A
/// directory that cannot be read is no refusal: the run reports its own errors.
pub(super) fn existing_part_file(dir: &Path) -> Option<PathBuf> {
    let is_part_name = |name: &str| {
        let Some((stem, ext)) = name.split_once('.') else {
            return false;
        };
        !stem.is_empty()
            && stem
                .split('-')
                .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
            && voiceclone::download::EXTENSIONS
                .iter()
                .any(|e| e.eq_ignore_ascii_case(ext))
    };
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_str().is_some_and(is_part_name))
        .map(|e| e.path())
}

/// The stem of part `i`'s file `k` (of `total` parts; `several` files for the part, a VMEG
/// batch's lines, at most 50): the part's number padded to the width of the part count, at
/// least 3, so that a glob or `ls` sorts the files in text order (`1000` after `0999`, not
/// after `100`), and a line's number in 2 digits.
pub(super) fn part_stem(i: usize, total: usize, k: usize, several: bool) -> String {
    let width = total.to_string().len().max(3);
    let part = i.saturating_add(1);
    if several {
        format!("{part:0width$}-{:02}", k.saturating_add(1))
    } else {
        format!("{part:0width$}")
    }
}

/// The stem of file `k` recorded for `rec`, when it names the same part and line as `stem`
/// with another padding (a manifest an earlier version wrote, padding to 3 digits only).
pub(super) fn recorded_stem(rec: &PartRecord, k: usize, stem: &str) -> Option<String> {
    let numbers =
        |s: &str| -> Option<Vec<u64>> { s.split('-').map(|g| g.parse::<u64>().ok()).collect() };
    let (recorded, _ext) = rec.files.get(k)?.name.rsplit_once('.')?;
    (recorded != stem && numbers(recorded)? == numbers(stem)?).then(|| recorded.to_owned())
}
