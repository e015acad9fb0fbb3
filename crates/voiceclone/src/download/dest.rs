//! Where a downloaded file may go. The file is renamed into place after its last byte, and
//! `rename(2)` replaces whatever sits at the name: a FIFO, a socket or a device (as root,
//! `/dev/null`) would silently become a regular file, and a path no rename can take fails
//! only after the whole body came. So each is refused before the body (before sending when
//! the caller gave the name, once the answer's headers name it otherwise), and the target
//! is looked at again just before the rename: a FIFO made there while the body streamed is
//! refused too. Only one made between that last look and the rename is still replaced.

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
    /// Its last component is `.` or `..` and it is no directory: no file can have that name.
    DotName,
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
            Unfit::DotName => {
                "ends with '.' or '..', which name a directory; give a file's path, not a directory's"
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
/// the temporary file to report, which comes before anything is sent too. It is a look at one
/// moment: the download asks again just before its rename, but something made at the path
/// between that look and the rename is still replaced (no portable rename can replace a
/// regular file and refuse anything else in one step).
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
    // Checked after the lookup: `dir/` or `dir/.` naming an existing directory says "is a
    // directory".
    let bytes = raw.as_encoded_bytes();
    let separator = |b: &u8| std::path::is_separator(char::from(*b));
    if bytes.last().is_some_and(separator) {
        return Some(Unfit::TrailingSeparator);
    }
    // On the raw bytes: `Path::components` drops a final `.`, so `new.wav/.` would look
    // like `new.wav` (and its temporary file could be made), but the rename fails on it.
    if matches!(bytes.rsplit(separator).next(), Some(b"." | b"..")) {
        return Some(Unfit::DotName);
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
        // A last component `.` or `..` names a directory, never a file the rename can put
        // there: missing (`ENOENT`) or under a regular file (`ENOTDIR`), no lookup succeeds,
        // and `Path::parent` drops the `.`, so the temporary file could be made.
        for bad in [
            dir.path().join("new.wav/."),
            dir.path().join("new.wav/.."),
            file.join("."),
            file.join(".."),
        ] {
            assert_eq!(unfit(&bad).await, Some(Unfit::DotName), "{bad:?}");
        }
        // An existing directory named so is still "a directory".
        assert_eq!(unfit(&dir.path().join(".")).await, Some(Unfit::Directory));
        // A name merely starting or ending with dots is a file's name.
        assert_eq!(unfit(&dir.path().join("..new.wav")).await, None);
        assert_eq!(unfit(&dir.path().join("new.wav..")).await, None);
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
