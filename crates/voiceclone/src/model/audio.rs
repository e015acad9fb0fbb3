//! Where a reference recording comes from: a URL the provider fetches, or (with the `upload`
//! feature) a local recording the client uploads first ([`AudioSource`]).

use std::fmt;
#[cfg(feature = "upload")]
use std::path::PathBuf;

#[cfg(feature = "upload")]
use bytes::Bytes;
#[cfg(feature = "upload")]
use tokio::io::AsyncRead;

#[cfg(feature = "upload")]
use super::AudioReader;

/// The reference recording of a [`CloneRequest`](super::CloneRequest), or what
/// `Client::upload` (the `upload` feature) sends.
///
/// A local recording (a file, bytes, a reader; the `upload` feature) is checked on this
/// machine first (its extension, its size, and for JimmyAI a WAV's duration), uploaded to the
/// provider (JimmyAI `files/upload`; VMEG's material upload), and the URL the provider hands
/// back is what the clone is submitted with. Nothing is ever read whole into memory: files
/// are streamed, and a reader is spooled to a temporary file as it is read. Without the
/// `upload` feature only [`AudioSource::Url`] exists.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioSource {
    /// A URL the provider fetches itself (VMEG: HTTPS; JimmyAI: public http(s), ASCII, an
    /// audio or video extension).
    Url(String),
    /// A file on this machine; its name's extension says its format. Requires the `upload`
    /// feature.
    #[cfg(feature = "upload")]
    File(PathBuf),
    /// A recording in memory, with the file name to give it (its extension says its format).
    /// Requires the `upload` feature.
    #[cfg(feature = "upload")]
    Bytes {
        /// The file name, extension included (e.g. `sample.wav`).
        file_name: String,
        /// The recording.
        bytes: Bytes,
    },
    /// A recording read once from an async reader (an upload a service is receiving, say).
    /// Requires the `upload` feature.
    #[cfg(feature = "upload")]
    Reader(AudioReader),
}

impl AudioSource {
    /// The URL, when the provider is to fetch the recording itself.
    pub fn url(&self) -> Option<&str> {
        match self {
            AudioSource::Url(u) => Some(u),
            #[cfg(feature = "upload")]
            _ => None,
        }
    }

    /// Whether the recording is local (uploaded by the client before the clone); always
    /// `false` without the `upload` feature.
    pub fn is_local(&self) -> bool {
        self.url().is_none()
    }

    /// A reader source: `reader` is read once, to its end, when the recording is sent.
    /// A reader that yields no byte for
    /// [`READER_IDLE_TIMEOUT`](crate::READER_IDLE_TIMEOUT) (60 s), that has not ended
    /// within [`READER_SPOOL_TIME`](crate::READER_SPOOL_TIME) (10 min) plus one second per
    /// [`READER_SPOOL_RATE`](crate::READER_SPOOL_RATE) bytes (32 KiB) it gave, or that after
    /// `READER_SPOOL_TIME` gives less than `READER_SPOOL_RATE` a second in any
    /// [`READER_SPOOL_WINDOW`](crate::READER_SPOOL_WINDOW) (60 s) is refused (`InvalidInput`
    /// naming `audio_file`, nothing sent). Requires the `upload` feature.
    ///
    /// The reader's bytes are spooled, as they are read, to a temporary file in
    /// [`std::env::temp_dir`] (`TMPDIR`, else `/tmp` on Unix), deleted when the call ends;
    /// no setting picks another directory. The spool comes before any of the client's slots
    /// is taken, so `max_in_flight` does not bound it: each reader upload running at once
    /// may spool up to
    /// [`ClientBuilder::max_upload_bytes`](crate::ClientBuilder::max_upload_bytes) (default
    /// 1 GiB). Where that directory is a tmpfs (the `/tmp` of some distributions and many
    /// containers), that is memory, not disk. Point `TMPDIR` at a disk, lower
    /// `max_upload_bytes`, bound how many reader uploads run at once, or pass a file (a
    /// file is streamed from where it is, never copied).
    #[cfg(feature = "upload")]
    pub fn reader(
        file_name: impl Into<String>,
        reader: impl AsyncRead + Send + Unpin + 'static,
    ) -> Self {
        AudioSource::Reader(AudioReader::new(file_name, reader))
    }
}

impl fmt::Debug for AudioSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AudioSource::Url(u) => f.debug_tuple("Url").field(u).finish(),
            #[cfg(feature = "upload")]
            AudioSource::File(p) => f.debug_tuple("File").field(p).finish(),
            #[cfg(feature = "upload")]
            AudioSource::Bytes { file_name, bytes } => f
                .debug_struct("Bytes")
                .field("file_name", file_name)
                .field("len", &bytes.len())
                .finish(),
            #[cfg(feature = "upload")]
            AudioSource::Reader(r) => f.debug_tuple("Reader").field(r).finish(),
        }
    }
}

#[cfg(feature = "upload")]
impl From<PathBuf> for AudioSource {
    fn from(p: PathBuf) -> Self {
        AudioSource::File(p)
    }
}

#[cfg(feature = "upload")]
impl From<&std::path::Path> for AudioSource {
    fn from(p: &std::path::Path) -> Self {
        AudioSource::File(p.to_path_buf())
    }
}
