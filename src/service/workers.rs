//! Image jobs off the async runtime, at most a fixed number at once (one per core by default),
//! whatever the request concurrency: a burst of uploads queues for a permit instead of
//! oversubscribing the CPU.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::ServiceError;
use crate::pipeline::PipelineError;

#[derive(Clone)]
pub struct Workers {
    permits: Arc<Semaphore>,
}

impl Workers {
    pub fn new(count: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(count)),
        }
    }

    /// Runs `job` on a blocking thread once a permit is free.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T, PipelineError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        // The semaphore is never closed, so acquiring only waits.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the worker semaphore is never closed");
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        })
        .await?;
        Ok(outcome?)
    }
}
