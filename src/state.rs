//! What every handler can reach: the configuration, the store and the two use cases, built once
//! from a [`Config`] by both entry points and by the tests. Cheap to clone.

use std::sync::Arc;

use crate::auth::Gate;
use crate::config::Config;
use crate::service::{RenderCapacity, Renders, UploadMemory, Uploads, Workers};
use crate::storage::{self, SharedStore};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: SharedStore,
    pub uploads: Arc<Uploads>,
    pub renders: Arc<Renders>,
    /// Bytes of upload bodies that may be held at once, across requests.
    pub upload_memory: UploadMemory,
    /// The token and rate-limit checks of the upload routes; `None` when neither is configured.
    pub gate: Option<Arc<Gate>>,
}

impl AppState {
    /// Opens the store the configuration names: what both entry points do.
    pub async fn from_config(config: Config) -> Self {
        let files_url = format!("http://{}/files", config.http().addr);
        let store = storage::open(config.storage(), files_url).await;
        Self::new(config, store)
    }

    /// State over a store the caller opened (tests, embedders).
    pub fn new(config: Config, store: SharedStore) -> Self {
        let limits = config.limits();
        let workers = Workers::new(limits.worker_count());
        let pixels = limits.pixels();
        let auth = config.auth();
        let gate = Gate::new(auth.jwt.as_ref(), auth.rate_limit).map(Arc::new);
        Self {
            gate,
            uploads: Arc::new(Uploads::new(Arc::clone(&store), workers.clone(), pixels)),
            renders: Arc::new(Renders::new(
                Arc::clone(&store),
                workers,
                pixels,
                config.output_limits(),
                RenderCapacity {
                    workers: limits.worker_count(),
                    queue: limits.render_queue,
                },
            )),
            upload_memory: UploadMemory::new(limits.upload_memory_bytes),
            store,
            config: Arc::new(config),
        }
    }
}
