//! What only local recordings need (the `upload` feature): a reader to send once
//! ([`AudioReader`]) and how far an upload got ([`UploadProgress`]).

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncRead;

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
