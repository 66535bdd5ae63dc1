//! Image jobs off the async runtime, at most a fixed number at once (one per core by default),
//! whatever the request concurrency: a burst of uploads queues for a slot instead of
//! oversubscribing the CPU.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ServiceError;
use crate::pipeline::{PipelineError, StepTimes, timing};

/// Told the step times of every job a worker ran (the metrics); called on the job's thread.
pub type StepSink = Arc<dyn Fn(&StepTimes) + Send + Sync>;

#[derive(Clone)]
pub struct Workers {
    permits: Arc<Semaphore>,
    steps: Option<StepSink>,
}

/// A free worker, held: a job run with it starts at once.
pub struct WorkerSlot {
    permit: OwnedSemaphorePermit,
    steps: Option<StepSink>,
}

impl Workers {
    pub fn new(count: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(count)),
            steps: None,
        }
    }

    /// Workers that tell `sink` how long each step of each job took.
    pub fn with_step_sink(mut self, sink: StepSink) -> Self {
        self.steps = Some(sink);
        self
    }

    /// Waits for a free worker. Taking the slot before fetching a job's input means inputs
    /// are only held in memory by jobs about to run, not by every job in the queue.
    pub async fn reserve(&self) -> WorkerSlot {
        // The semaphore is never closed, so acquiring only waits.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .expect("the worker semaphore is never closed");
        WorkerSlot {
            permit,
            steps: self.steps.clone(),
        }
    }

    /// Runs `job` on a blocking thread once a worker is free.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T, PipelineError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        self.reserve().await.run(job).await
    }
}

impl WorkerSlot {
    /// Runs `job` on a blocking thread. The slot stays taken until the job returns, even if
    /// the caller stops waiting: the CPU is busy until then.
    pub async fn run<T: Send + 'static>(
        self,
        job: impl FnOnce() -> Result<T, PipelineError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let (permit, sink) = (self.permit, self.steps);
        // The job's log lines belong to the request that asked for it.
        let span = tracing::Span::current();
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _entered = span.enter();
            let Some(sink) = sink else {
                return job();
            };
            let (outcome, steps) = timing::collect(job);
            sink(&steps);
            outcome
        })
        .await?;
        Ok(outcome?)
    }
}
