//! The use cases: what an upload and a transform do, in terms of the pipeline and the store,
//! with no HTTP in sight. The HTTP edge parses a request, calls one of these, and turns the
//! outcome (or a [`ServiceError`]) into an answer.

mod direct;
mod memory;
mod render;
mod upload;
mod workers;

pub use direct::{Destination, DirectError, DirectSettings, DirectUploads};
pub use memory::{MemoryShare, UploadMemory};
pub use render::{RenderCapacity, RenderLoad, RenderedObject, Renders};
pub use upload::{StoredImage, Uploads};
pub use workers::{StepSink, WorkerSlot, Workers};

use crate::pipeline::PipelineError;
use crate::storage::StoreError;
use crate::storage::staging::StagingError;

/// Why a use case failed, with its cause kept for the log.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Staging(#[from] StagingError),
    #[error(transparent)]
    Direct(#[from] DirectError),
    // Worded as the HTTP edge words every 404, so answers do not depend on who noticed.
    #[error("no such resource")]
    NotFound,
    /// A bounded queue is full.
    #[error("the server is busy ({0}); retry in a moment")]
    Busy(&'static str),
    /// The blocking task an image job ran on panicked or was cancelled.
    #[error("image job failed")]
    Job(#[from] tokio::task::JoinError),
}
