//! Files named on the command line, read with a bound: a path given by mistake (`/dev/zero`,
//! a log of gigabytes) is refused once it passes what such a file can hold, instead of being
//! read into memory for ever.

use std::io::Read;
use std::path::Path;

/// The most an API key file holds: keys are tens of characters.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;
/// The most a `--text-file` holds: 16 MiB of UTF-8 is millions of characters, hundreds of
/// hours of speech and far past one run's download budget; a text that long is split into
/// several files.
pub const MAX_TEXT_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The most a long-text manifest holds: a record per part and file, a few hundred bytes
/// each, for a text of at most `MAX_TEXT_FILE_BYTES`.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;

/// The bytes of `path`, or an error once it holds more than `max`. Works on pipes too (a key
/// from `--api-key-file <(pass show vmeg)`), reading at most `max + 1` bytes.
pub fn read_at_most(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?
        .take(max.saturating_add(1))
        .read_to_end(&mut buf)?;
    if u64::try_from(buf.len()).unwrap_or(u64::MAX) > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("holds more than {max} bytes, more than such a file can hold"),
        ));
    }
    Ok(buf)
}

/// [`read_at_most`] as UTF-8 text.
pub fn read_text_at_most(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read_at_most(path, max)?).map_err(|_| {
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
    }
}
