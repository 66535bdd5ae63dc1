//! The transform use case: a stored object rendered as a transform asks, computed once however
//! many identical requests arrive together, and only while someone still waits for it.
//!
//! Renders are bounded twice: a render takes a queue place before anything else (over the
//! queue, the answer is 503 at once), and fetches its source only once a worker is free, so
//! the queue holds requests, not source images.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::Semaphore;

use super::{ServiceError, Workers};
use crate::pipeline::{self, CancelFlag, OutputLimits, PixelLimits, RenderSpec, Rendition};
use crate::single_flight::SingleFlight;
use crate::storage::SharedStore;

/// Renders stored objects.
pub struct Renders {
    store: SharedStore,
    workers: Workers,
    limits: PixelLimits,
    output: OutputLimits,
    /// Places for renders running or waiting for a worker.
    places: Arc<Semaphore>,
    /// Renditions being computed, so identical concurrent transforms are computed once.
    in_flight: Arc<SingleFlight<RenderedObject, ServiceError>>,
    load: Arc<Load>,
}

/// Renders holding a place now: waiting for a worker, or on one (for the metrics).
#[derive(Debug, Default)]
struct Load {
    queued: AtomicI64,
    running: AtomicI64,
}

/// How many renders wait for a worker and how many run, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderLoad {
    pub queued: i64,
    pub running: i64,
}

/// Counts one render in `count` while alive, so every way out of a render (an error, the last
/// waiter going away) takes it off again.
struct Counted<'a>(&'a AtomicI64);

impl<'a> Counted<'a> {
    fn new(count: &'a AtomicI64) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A rendition and the version of the source it was made from.
#[derive(Debug)]
pub struct RenderedObject {
    pub rendition: Rendition,
    pub source_version: String,
}

/// How many renders may run and wait at once.
#[derive(Debug, Clone, Copy)]
pub struct RenderCapacity {
    pub workers: usize,
    pub queue: usize,
}

impl Renders {
    pub fn new(
        store: SharedStore,
        workers: Workers,
        limits: PixelLimits,
        output: OutputLimits,
        capacity: RenderCapacity,
    ) -> Self {
        Self {
            store,
            workers,
            limits,
            output,
            places: Arc::new(Semaphore::new(capacity.workers + capacity.queue)),
            in_flight: Arc::default(),
            load: Arc::default(),
        }
    }

    /// The rendition of the stored object `key` named by its canonical query, fetched and
    /// rendered once however many identical requests arrive together.
    pub async fn render(
        &self,
        key: String,
        canonical_query: &str,
        spec: RenderSpec,
    ) -> Result<Arc<RenderedObject>, Arc<ServiceError>> {
        let flight_key = format!("{key}?{canonical_query}");
        let store = Arc::clone(&self.store);
        let (workers, places) = (self.workers.clone(), Arc::clone(&self.places));
        let (limits, output) = (self.limits, self.output);
        let load = Arc::clone(&self.load);
        let work = async move {
            let _place = places
                .try_acquire_owned()
                .map_err(|_| ServiceError::Busy("render queue full"))?;
            // Dropped with this future when the last request waiting for it goes away: the
            // blocking job sees the flag at its next step and stops.
            let cancel = CancelOnDrop(CancelFlag::default());
            let queued = Counted::new(&load.queued);
            let slot = workers.reserve().await;
            drop(queued);
            let _running = Counted::new(&load.running);
            let object = store.get(&key).await?.ok_or(ServiceError::NotFound)?;
            let bytes = object.bytes;
            let flag = cancel.0.clone();
            let rendition = slot
                .run(move || pipeline::render(&bytes, &spec, &limits, &output, &flag))
                .await?;
            Ok(RenderedObject {
                rendition,
                source_version: object.version,
            })
        };
        self.in_flight.run(flight_key, work).await
    }

    /// The version of the stored object `key`, read without fetching it (for revalidations).
    pub async fn source_version(&self, key: &str) -> Result<String, ServiceError> {
        self.store.version(key).await?.ok_or(ServiceError::NotFound)
    }

    /// How many renders wait for a worker and how many have one, now.
    pub fn load(&self) -> RenderLoad {
        RenderLoad {
            queued: self.load.queued.load(Ordering::Relaxed),
            running: self.load.running.load(Ordering::Relaxed),
        }
    }

    /// How many renders have been started: requests minus the ones that shared one.
    pub fn started(&self) -> u64 {
        self.in_flight.started()
    }
}

/// Cancels its flag when dropped; after a finished job that changes nothing.
struct CancelOnDrop(CancelFlag);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
