//! Where a downloaded file may go. The file is renamed into place after its last byte, and
//! `rename(2)` replaces whatever sits at the name: a FIFO, a socket or a device (as root,
//! `/dev/null`) would silently become a regular file, and a path no rename can take fails
//! only after the whole body came. So each is refused before the body, where the name is
//! known before anything is sent, before sending.

use std::path::Path;

/// Why a file cannot be put at a path by the download's rename.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unfit {
    Empty,
    Nul,
    /// A directory, or a symlink to one.
    Directory,
    /// A FIFO, socket or device, or a symlink to one.
    Special,
    /// Ends with a separator and is no directory: no file can have that name.
    TrailingSeparator,
    /// The file system said so (`ENAMETOOLONG`): its own limit, not a guessed one.
    TooLong,
}

impl Unfit {
    /// What is wrong, said of the path (the caller puts the path or the field before it).
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Unfit::Empty => "is empty; give the file's path",
            Unfit::Nul => "holds a NUL byte, which no file name can",
            Unfit::Directory => "is a directory; a file cannot replace it",
            Unfit::Special => {
                "exists and is not a regular file (a FIFO, socket or device, or a symlink to one): the download would replace it with a regular file"
            }
            Unfit::TrailingSeparator => {
                "ends with a path separator; give a file's path, not a directory's"
            }
            Unfit::TooLong => "names a file too long for its file system",
        }
    }
}

/// Why the download's rename could not (or must not) put a file at `path`, told from the
/// path and what is there now; `None` when it may. A symlink is followed: one to a regular
/// file, or to nothing, is replaced by the download (what it pointed at is left as it was),
/// as a file there would be; one to a directory or a special file is refused like its
/// target. A path whose lookup fails otherwise (a missing parent, no permission) is left to
/// the temporary file to report, which comes before anything is sent too.
pub(crate) async fn unfit(path: &Path) -> Option<Unfit> {
    let raw = path.as_os_str();
    if raw.is_empty() {
        return Some(Unfit::Empty);
    }
    if raw.as_encoded_bytes().contains(&0) {
        return Some(Unfit::Nul);
    }
    match tokio::fs::metadata(path).await {
        Ok(m) if m.is_dir() => return Some(Unfit::Directory),
        Ok(m) if !m.is_file() => return Some(Unfit::Special),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::InvalidFilename => {
            return Some(Unfit::TooLong);
        }
        Err(_) => {}
    }
    // Checked after the lookup: `dir/` naming an existing directory says "is a directory".
    if raw
        .as_encoded_bytes()
        .last()
        .is_some_and(|b| std::path::is_separator(char::from(*b)))
    {
        return Some(Unfit::TrailingSeparator);
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn only_a_regular_file_or_nothing_is_fit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.wav");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(unfit(&file).await, None);
        assert_eq!(unfit(&dir.path().join("new.wav")).await, None);
        assert_eq!(unfit(dir.path()).await, Some(Unfit::Directory));
        assert_eq!(unfit(Path::new("")).await, Some(Unfit::Empty));
        assert_eq!(unfit(&dir.path().join("a\0b.wav")).await, Some(Unfit::Nul));
        assert_eq!(
            unfit(&dir.path().join("new.wav/")).await,
            Some(Unfit::TrailingSeparator)
        );
        // A file written with a trailing separator: no lookup succeeds (`ENOTDIR`).
        assert_eq!(
            unfit(Path::new(&format!("{}/", file.display()))).await,
            Some(Unfit::TrailingSeparator)
        );
        assert_eq!(
            unfit(&dir.path().join("a".repeat(300))).await,
            Some(Unfit::TooLong)
        );
        #[cfg(unix)]
        {
            let link = dir.path().join("link.wav");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert_eq!(unfit(&link).await, None);
            let dangling = dir.path().join("dangling.wav");
            std::os::unix::fs::symlink(dir.path().join("gone"), &dangling).unwrap();
            assert_eq!(unfit(&dangling).await, None);
            let to_dir = dir.path().join("to-dir");
            std::os::unix::fs::symlink(dir.path(), &to_dir).unwrap();
            assert_eq!(unfit(&to_dir).await, Some(Unfit::Directory));
            let sock = dir.path().join("s.wav");
            let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
            assert_eq!(unfit(&sock).await, Some(Unfit::Special));
        }
    }
}
