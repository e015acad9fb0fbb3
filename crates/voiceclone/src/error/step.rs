//! The steps of cloning from a local recording, so that an error says which one failed.

use std::fmt;

/// One step of sending a local recording (a file, bytes, a reader) to a provider, as
/// [`Error::step`](super::Error::step) reports it. Every step before
/// [`UploadStep::SubmitClone`] leaves no clone submitted: calling again is safe (an upload's
/// repeat creates nothing billable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UploadStep {
    /// Reading and checking the recording on this machine (nothing was sent).
    ReadFile,
    /// JimmyAI `files/upload` (the streamed multipart upload).
    UploadFile,
    /// VMEG `gen-upload-url`: asking where to put the file.
    RequestUploadUrl,
    /// The PUT of the file to the presigned URL.
    Put,
    /// VMEG `upload/complete`: registering the uploaded file as a material.
    CompleteUpload,
    /// VMEG `multipart/initiate`.
    StartMultipart,
    /// VMEG `multipart/presign-parts`.
    PresignParts,
    /// The PUT of one part (1-based) to its presigned URL.
    PutPart(u32),
    /// VMEG `multipart/complete`.
    CompleteMultipart,
    /// Submitting the clone with the uploaded file's URL (the only billable step).
    SubmitClone,
}

impl UploadStep {
    /// A short name, stable for logs and the command line's `--json` (`read_file`,
    /// `upload_file`, `request_upload_url`, `put`, `complete_upload`, `start_multipart`,
    /// `presign_parts`, `put_part`, `complete_multipart`, `submit_clone`).
    pub fn name(self) -> &'static str {
        match self {
            UploadStep::ReadFile => "read_file",
            UploadStep::UploadFile => "upload_file",
            UploadStep::RequestUploadUrl => "request_upload_url",
            UploadStep::Put => "put",
            UploadStep::CompleteUpload => "complete_upload",
            UploadStep::StartMultipart => "start_multipart",
            UploadStep::PresignParts => "presign_parts",
            UploadStep::PutPart(_) => "put_part",
            UploadStep::CompleteMultipart => "complete_multipart",
            UploadStep::SubmitClone => "submit_clone",
        }
    }

    /// Whether a clone may have been submitted when this step failed.
    pub fn after_submit(self) -> bool {
        self == UploadStep::SubmitClone
    }
}

impl fmt::Display for UploadStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadStep::ReadFile => f.write_str("reading the recording"),
            UploadStep::UploadFile => f.write_str("uploading the recording (files/upload)"),
            UploadStep::RequestUploadUrl => {
                f.write_str("requesting an upload URL (gen-upload-url)")
            }
            UploadStep::Put => f.write_str("PUT of the recording to its upload URL"),
            UploadStep::CompleteUpload => f.write_str("registering the upload (upload/complete)"),
            UploadStep::StartMultipart => f.write_str("starting a multipart upload"),
            UploadStep::PresignParts => f.write_str("presigning the upload's parts"),
            UploadStep::PutPart(n) => write!(f, "PUT of part {n} of the recording"),
            UploadStep::CompleteMultipart => f.write_str("completing the multipart upload"),
            UploadStep::SubmitClone => f.write_str("submitting the clone"),
        }
    }
}
