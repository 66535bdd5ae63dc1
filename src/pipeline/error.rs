//! Why one image could not be processed, and how the decoders' own errors sort into that. Every
//! variant keeps its cause (a decoder's error, or a sentence of ours) for the log.

/// What caused a pipeline error: a library's error, or a message of ours.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("the file is empty")]
    EmptyFile,
    #[error("unsupported image format: {0}; send JPEG, PNG, GIF, WebP or BMP")]
    UnsupportedFormat(#[source] Cause),
    #[error("image is too large: {0}")]
    ImageTooLarge(#[source] Cause),
    #[error("the image could not be decoded: {0}")]
    CorruptImage(#[source] Cause),
    #[error("image processing failed: {0}")]
    Internal(#[source] Cause),
    /// No one waits for the result any more (see `CancelFlag`).
    #[error("the job was cancelled: no one waits for it")]
    Cancelled,
}

impl PipelineError {
    /// A failure of ours or of a library's that no input should cause.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }
}

/// Sorts the `image` crate's errors into the gateway's: limits are "too large", an unsupported
/// variant of a known format is "unsupported", everything else is a broken file.
pub fn classify(error: image::ImageError) -> PipelineError {
    match error {
        image::ImageError::Limits(e) => PipelineError::ImageTooLarge(e.into()),
        image::ImageError::Unsupported(e) => PipelineError::UnsupportedFormat(e.into()),
        other => PipelineError::CorruptImage(other.into()),
    }
}

/// libjpeg-turbo refusing the data (it treats warnings as errors: decoding is strict).
pub fn corrupt(error: turbojpeg::Error) -> PipelineError {
    PipelineError::CorruptImage(error.into())
}
