//! Where a reference recording comes from: a URL the provider fetches, or a local recording
//! the client uploads first ([`AudioSource`]).

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::io::AsyncRead;

/// The reference recording of a [`CloneRequest`](super::CloneRequest), or what
/// [`Client::upload`](crate::Client::upload) sends.
///
/// A local recording (a file, bytes, a reader) is checked on this machine first (its
/// extension, its size, and for JimmyAI a WAV's duration), uploaded to the provider (JimmyAI
/// `files/upload`; VMEG's material upload), and the URL the provider hands back is what the
/// clone is submitted with. Nothing is ever read whole into memory: files are streamed, and a
/// reader is spooled to a temporary file as it is read.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioSource {
    /// A URL the provider fetches itself (VMEG: HTTPS; JimmyAI: public http(s), ASCII, an
    /// audio or video extension).
    Url(String),
    /// A file on this machine; its name's extension says its format.
    File(PathBuf),
    /// A recording in memory, with the file name to give it (its extension says its format).
    Bytes {
        /// The file name, extension included (e.g. `sample.wav`).
        file_name: String,
        /// The recording.
        bytes: Bytes,
    },
    /// A recording read once from an async reader (an upload a service is receiving, say).
    Reader(AudioReader),
}

impl AudioSource {
    /// The URL, when the provider is to fetch the recording itself.
    pub fn url(&self) -> Option<&str> {
        match self {
            AudioSource::Url(u) => Some(u),
            _ => None,
        }
    }

    /// Whether the recording is local (uploaded by the client before the clone).
    pub fn is_local(&self) -> bool {
        !matches!(self, AudioSource::Url(_))
    }

    /// A reader source: `reader` is read once, to its end, when the recording is sent.
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
            AudioSource::File(p) => f.debug_tuple("File").field(p).finish(),
            AudioSource::Bytes { file_name, bytes } => f
                .debug_struct("Bytes")
                .field("file_name", file_name)
                .field("len", &bytes.len())
                .finish(),
            AudioSource::Reader(r) => f.debug_tuple("Reader").field(r).finish(),
        }
    }
}

type BoxedReader = Pin<Box<dyn AsyncRead + Send>>;

/// A recording to be read once from an async reader, with its file name. Clones of it share
/// the one reader: the first send takes it, a second one is refused with `InvalidInput`.
#[derive(Clone)]
pub struct AudioReader {
    file_name: String,
    reader: Arc<Mutex<Option<BoxedReader>>>,
}

impl AudioReader {
    /// Wraps `reader`; `file_name`'s extension says the recording's format.
    pub fn new(
        file_name: impl Into<String>,
        reader: impl AsyncRead + Send + Unpin + 'static,
    ) -> Self {
        Self {
            file_name: file_name.into(),
            reader: Arc::new(Mutex::new(Some(Box::pin(reader)))),
        }
    }

    /// The file name given.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Takes the reader (`None` once it was taken).
    pub(crate) fn take(&self) -> Option<BoxedReader> {
        self.reader.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl fmt::Debug for AudioReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AudioReader")
            .field("file_name", &self.file_name)
            .finish_non_exhaustive()
    }
}

/// Two readers are equal when they share the one underlying reader.
impl PartialEq for AudioReader {
    fn eq(&self, other: &Self) -> bool {
        self.file_name == other.file_name && Arc::ptr_eq(&self.reader, &other.reader)
    }
}

impl Eq for AudioReader {}

impl From<PathBuf> for AudioSource {
    fn from(p: PathBuf) -> Self {
        AudioSource::File(p)
    }
}

impl From<&std::path::Path> for AudioSource {
    fn from(p: &std::path::Path) -> Self {
        AudioSource::File(p.to_path_buf())
    }
}

/// How far an upload got, as [`ClientBuilder::on_upload_progress`](crate::ClientBuilder::on_upload_progress)
/// reports it: bytes of the recording sent so far, of the total. A retried PUT starts its
/// range again, so `sent` can go back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadProgress {
    /// Bytes sent so far.
    pub sent: u64,
    /// The recording's size.
    pub total: u64,
}

impl UploadProgress {
    /// Progress of `sent` bytes of `total`.
    pub fn new(sent: u64, total: u64) -> Self {
        Self { sent, total }
    }
}
