//! Files named on the command line, read with a bound: a path given by mistake (`/dev/zero`,
//! a log of gigabytes) is refused once it passes what such a file can hold, instead of being
//! read into memory for ever.
//!
//! [`read_within`] also bounds the wait: a FIFO with no writer (`mkfifo key`, given before
//! its writer is started, or never) or a writer that never finishes is refused after a
//! while, instead of hanging the command with nothing printed.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

/// The most an API key file holds: keys are tens of characters.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;
/// The most a `--text-file` holds: 16 MiB of UTF-8 is millions of characters, hundreds of
/// hours of speech and far past one run's download budget; a text that long is split into
/// several files.
pub const MAX_TEXT_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The most a long-text manifest holds: a record per part and file, a few hundred bytes
/// each, for a text of at most `MAX_TEXT_FILE_BYTES`.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// How long [`read_within`] waits on a FIFO, a pipe or a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// For a writer to come to a FIFO that has none (nor had one since it was opened).
    pub writer: Duration,
    /// For the whole content, from the open to its end.
    pub whole: Duration,
}

/// `--api-key-file`: a FIFO's writer must come within 10 s (`pass show` starts at once); a
/// writer that is there has 2 minutes for the whole key (a passphrase typed into a
/// pinentry prompt first).
pub const KEY_FILE_PATIENCE: Patience = Patience {
    writer: Duration::from_secs(10),
    whole: Duration::from_secs(120),
};

/// How often a read with nothing to read yet looks again.
const POLL: Duration = Duration::from_millis(20);

/// The bytes of `path`, or an error once it holds more than `max`. Works on pipes too (a key
/// from `--api-key-file <(pass show vmeg)`), reading at most `max + 1` bytes.
pub fn read_at_most(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(max.saturating_add(1))
        .read_to_end(&mut buf)?;
    too_large_unless_within(buf, max)
}

/// [`read_at_most`] as UTF-8 text.
pub fn read_text_at_most(path: &Path, max: u64) -> std::io::Result<String> {
    utf8(read_at_most(path, max)?)
}

/// The bytes of `path`, as [`read_at_most`] reads them, but never waiting for ever: the file
/// is opened without blocking (a FIFO's open would wait for a writer), and a read that has
/// nothing yet looks again every 20 ms. A FIFO that no writer comes to within
/// `patience.writer`, or content that has not ended within `patience.whole`, is an error of
/// kind `TimedOut`. An empty pipe whose writer is gone (`<(cmd)` where `cmd` printed
/// nothing) ends at once, as an empty file.
pub fn read_within(path: &Path, max: u64, patience: Patience) -> std::io::Result<Vec<u8>> {
    read_within_shared(path, max, patience).map(|(bytes, _)| bytes)
}

/// [`read_within`], and, when `path` is a regular file that its group or others may read
/// (`mode & 0o044`, unix only: a secret kept there is exposed to other local users), who
/// owns it: [`Shared`].
pub fn read_within_shared(
    path: &Path,
    max: u64,
    patience: Patience,
) -> std::io::Result<(Vec<u8>, Option<Shared>)> {
    let started = Instant::now();
    let Opened {
        mut file,
        may_get_a_writer,
        shared,
    } = open_without_waiting(path)?;
    let limit = usize::try_from(max.saturating_add(1)).unwrap_or(usize::MAX);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    // A writer has been there: data came, or a read found it open with nothing yet.
    let mut writer_seen = false;
    loop {
        let room = limit.saturating_sub(buf.len()).min(chunk.len());
        if room == 0 {
            break;
        }
        match file.read(&mut chunk[..room]) {
            Ok(0) if buf.is_empty() && !writer_seen && may_get_a_writer => {
                // A FIFO with no writer reads as its end: one may still come.
                if started.elapsed() >= patience.writer {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "it is a FIFO and nothing wrote to it within {} s (start its writer first, or give a file)",
                            patience.writer.as_secs()
                        ),
                    ));
                }
            }
            Ok(0) => break,
            Ok(n) => {
                writer_seen = true;
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                writer_seen = true;
                if started.elapsed() >= patience.whole {
                    let what = if buf.is_empty() {
                        "nothing arrived".to_owned()
                    } else {
                        format!("{} bytes arrived but no end", buf.len())
                    };
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "{what} within {} s: its writer stayed open",
                            patience.whole.as_secs()
                        ),
                    ));
                }
            }
            Err(e) => return Err(e),
        }
        std::thread::sleep(POLL);
    }
    Ok((too_large_unless_within(buf, max)?, shared))
}

/// [`read_within_shared`] as UTF-8 text.
pub fn read_text_within_shared(
    path: &Path,
    max: u64,
    patience: Patience,
) -> std::io::Result<(String, Option<Shared>)> {
    let (bytes, shared) = read_within_shared(path, max, patience)?;
    Ok((utf8(bytes)?, shared))
}

/// A file opened by [`open_without_waiting`].
struct Opened {
    file: std::fs::File,
    /// A FIFO: a writer may still come to it.
    may_get_a_writer: bool,
    /// A regular file its group or others may read.
    shared: Option<Shared>,
}

/// A file that others may read: who owns it, which says who can restrict it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shared {
    /// The owner's user id.
    pub owner: u32,
    /// Whether the owner is this process's effective user (who may `chmod` it).
    pub owned_by_caller: bool,
}

/// `path` opened for reading without waiting for a FIFO's writer, and whether a writer may
/// still come to it: true for a FIFO, false for anything else, an anonymous pipe (Linux's
/// `/dev/fd/N` of `<(cmd)`) included, whose writers are all there from the start. The mode
/// is read from the file opened, not from the path again (which may be swapped meanwhile).
#[cfg(unix)]
fn open_without_waiting(path: &Path) -> std::io::Result<Opened> {
    use rustix::fs::{Mode, OFlags};
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    use std::os::unix::io::AsRawFd;
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata()?;
    let fifo = meta.file_type().is_fifo();
    // A pipe's or a device's mode says nothing of who can read what passes through it.
    // Read bits only: a group that may write or search the file (0620, 0710) cannot read it.
    let shared = (meta.is_file() && meta.permissions().mode() & 0o044 != 0).then(|| {
        use std::os::unix::fs::MetadataExt;
        Shared {
            owner: meta.uid(),
            owned_by_caller: meta.uid() == rustix::process::geteuid().as_raw(),
        }
    });
    // Linux names an anonymous pipe `pipe:[inode]` here; elsewhere this fails, and a pipe
    // is taken for a FIFO (an empty one then waits `patience.writer` before it ends).
    let anonymous = fifo
        && std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .is_ok_and(|target| target.as_os_str().as_encoded_bytes().starts_with(b"pipe:"));
    Ok(Opened {
        file,
        may_get_a_writer: fifo && !anonymous,
        shared,
    })
}

/// Elsewhere: no FIFOs to wait on, and no mode bits.
#[cfg(not(unix))]
fn open_without_waiting(path: &Path) -> std::io::Result<Opened> {
    Ok(Opened {
        file: std::fs::File::open(path)?,
        may_get_a_writer: false,
        shared: None,
    })
}

fn too_large_unless_within(buf: Vec<u8>, max: u64) -> std::io::Result<Vec<u8>> {
    if u64::try_from(buf.len()).unwrap_or(u64::MAX) > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("holds more than {max} bytes, more than such a file can hold"),
        ));
    }
    Ok(buf)
}

fn utf8(bytes: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// README and RELIABILITY promise an `--api-key-file` FIFO ends: a writer within 10 s,
    /// the whole key within 120 s. A longer patience (`Duration::MAX`) hangs a command whose
    /// key writer opened the FIFO and stays silent, with nothing printed.
    #[test]
    fn the_key_file_patience_is_10_s_for_a_writer_and_120_s_for_the_key() {
        assert_eq!(KEY_FILE_PATIENCE.writer, Duration::from_secs(10));
        assert_eq!(KEY_FILE_PATIENCE.whole, Duration::from_secs(120));
    }

    #[test]
    fn a_file_past_its_bound_is_refused_and_one_at_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("at");
        std::fs::write(&at, b"12345").unwrap();
        assert_eq!(read_at_most(&at, 5).unwrap(), b"12345");
        let e = read_at_most(&at, 4).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(e.to_string().contains("more than 4 bytes"), "{e}");
        std::fs::write(&at, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_text_at_most(&at, 5).unwrap_err().kind(),
            std::io::ErrorKind::InvalidData
        );
    }

    /// An endless file ends at the bound, not in memory exhaustion.
    #[cfg(unix)]
    #[test]
    fn an_endless_file_is_refused_at_the_bound() {
        let e = read_at_most(Path::new("/dev/zero"), 1024).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
        let e = read_within(Path::new("/dev/zero"), 1024, SHORT).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::FileTooLarge);
    }

    #[cfg(unix)]
    const SHORT: Patience = Patience {
        writer: Duration::from_millis(200),
        whole: Duration::from_millis(400),
    };

    #[cfg(unix)]
    fn fifo(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        assert!(made.is_ok_and(|s| s.success()));
        path
    }

    /// A FIFO with no writer, and one whose writer stays open and silent or stops short:
    /// each refused once its wait is over. A regular file and a FIFO written whole are read.
    #[cfg(unix)]
    #[test]
    fn a_fifo_is_waited_on_for_a_bounded_time() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("at");
        std::fs::write(&at, b"key\n").unwrap();
        assert_eq!(read_within(&at, 64, SHORT).unwrap(), b"key\n");
        std::fs::write(&at, b"").unwrap();
        assert_eq!(read_within(&at, 64, SHORT).unwrap(), b"");
        assert!(read_within(dir.path(), 64, SHORT).is_err());

        let path = fifo(dir.path());
        let e = read_within(&path, 64, SHORT).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(e.to_string().contains("nothing wrote to it"), "{e}");

        for part in [&b""[..], b"sk-"] {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let writer = {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
                    f.write_all(part).unwrap();
                    // Open and silent until the reader gave up.
                    let _ = rx.recv();
                })
            };
            let e = read_within(&path, 64, SHORT).unwrap_err();
            drop(tx);
            writer.join().unwrap();
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
            let said = if part.is_empty() {
                "nothing arrived"
            } else {
                "3 bytes arrived but no end"
            };
            assert!(e.to_string().contains(said), "{e}");
        }

        let writer = {
            let path = path.clone();
            std::thread::spawn(move || std::fs::write(path, b"sk-whole\n"))
        };
        assert_eq!(read_within(&path, 64, SHORT).unwrap(), b"sk-whole\n");
        writer.join().unwrap().unwrap();
    }
}
