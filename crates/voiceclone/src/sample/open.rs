//! Opening a local recording without ever waiting on it, and knowing it is still the file
//! that was measured.
//!
//! A recording is measured once and re-opened for every range and attempt. Between the two,
//! its path can come to name something else: a FIFO, whose plain `open` blocks until a
//! writer comes (forever, holding one of tokio's blocking threads, and the call with it), or
//! another file. So every open is non-blocking, and what was opened is checked on the open
//! handle (`fstat`), never only by a separate look at the path that a swap could slip between.
//! A look at the path comes first as well: opening a FIFO or a device has effects of its own,
//! so what is no regular file is refused without being opened.

use std::fs::Metadata;
use std::io;
use std::path::Path;

use super::refuse;
use crate::error::Error;

/// Which file a path named when the recording was measured (device and inode on Unix; on
/// other systems only "a regular file" is checked). A file deleted after it was measured can
/// have its inode number given to the next file made on that file system: a replacement made
/// so is not seen (a best effort against a swap, not a content check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId(#[cfg(unix)] (u64, u64));

impl FileId {
    pub(crate) fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Self((meta.dev(), meta.ino()))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            Self()
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Tests: every open on this thread waits for ever, as one on a file system that stopped
    /// answering does (an NFS hard mount, sshfs): no real file can be made to, at will.
    pub(crate) static STALLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A regular file, opened for reading.
pub(crate) struct Opened {
    pub(crate) file: tokio::fs::File,
    pub(crate) len: u64,
    pub(crate) id: FileId,
}

/// Opens `path` for reading without blocking, and refuses (`InvalidInput` naming
/// `audio_file`) anything but a regular file (without opening it when the path already names
/// something else), and, with `measured`, any file other than the one measured.
pub(crate) async fn open_regular(path: &Path, measured: Option<FileId>) -> Result<Opened, Error> {
    #[cfg(test)]
    if STALLED.with(std::cell::Cell::get) {
        std::future::pending::<()>().await;
    }
    let owned = path.to_owned();
    let opened = tokio::task::spawn_blocking(move || {
        // Looked at before the open, not only after it: an open has effects of its own (a
        // FIFO's waiting writer is released, then killed by `SIGPIPE` when this end closes;
        // a watchdog device is armed, a tape rewinds). `None` here: nothing was opened.
        if !std::fs::metadata(&owned)?.is_file() {
            return Ok(None);
        }
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Opening a FIFO for reading returns at once instead of waiting for a writer.
            // Reads of a regular file ignore the flag.
            options.custom_flags(libc::O_NONBLOCK);
        }
        let file = options.open(&owned)?;
        // Checked again on the open handle: the path may have been swapped between the two.
        let meta = file.metadata()?;
        Ok::<_, io::Error>(Some((file, meta)))
    })
    .await
    .map_err(|e| refuse(format!("cannot open {}: {e}", path.display())))?;
    let opened = opened.map_err(|e| {
        refuse(match e.kind() {
            io::ErrorKind::NotFound => format!("{}: no such file", path.display()),
            _ => format!("cannot read {}: {e}", path.display()),
        })
    })?;
    let Some((file, meta)) = opened.filter(|(_, meta)| meta.is_file()) else {
        return Err(refuse(format!("{} is not a file", path.display())));
    };
    let id = FileId::of(&meta);
    if measured.is_some_and(|m| m != id) {
        return Err(refuse(format!(
            "{} was replaced by another file after it was measured; give the recording again",
            path.display()
        )));
    }
    Ok(Opened {
        file: tokio::fs::File::from_std(file),
        len: meta.len(),
        id,
    })
}
