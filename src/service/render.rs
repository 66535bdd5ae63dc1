//! The transform use case: a stored object rendered as a transform asks, computed once however
//! many identical requests arrive together.

use std::sync::Arc;

use super::{ServiceError, Workers};
use crate::pipeline::{self, PixelLimits, RenderSpec, Rendition};
use crate::single_flight::SingleFlight;
use crate::storage::SharedStore;

/// Renders stored objects.
pub struct Renders {
    store: SharedStore,
    workers: Workers,
    limits: PixelLimits,
    /// Renditions being computed, so identical concurrent transforms are computed once.
    in_flight: Arc<SingleFlight<RenderedObject, ServiceError>>,
}

/// A rendition and the version of the source it was made from.
#[derive(Debug)]
pub struct RenderedObject {
    pub rendition: Rendition,
    pub source_version: String,
}

impl Renders {
    pub fn new(store: SharedStore, workers: Workers, limits: PixelLimits) -> Self {
        Self {
            store,
            workers,
            limits,
            in_flight: Arc::default(),
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
        let (store, workers, limits) = (Arc::clone(&self.store), self.workers.clone(), self.limits);
        let work = async move {
            let object = store.get(&key).await?.ok_or(ServiceError::NotFound)?;
            let bytes = object.bytes;
            let rendition = workers
                .run(move || pipeline::render(&bytes, &spec, &limits))
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

    /// How many renders have been started: requests minus the ones that shared one.
    pub fn started(&self) -> u64 {
        self.in_flight.started()
    }
}
