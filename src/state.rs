//! What every handler can reach: the configuration, the store and the two use cases, built once
//! from a [`Config`] by both entry points and by the tests. Cheap to clone.

use std::sync::Arc;

use crate::auth::Gate;
use crate::config::Config;
use crate::metrics::{MeteredStore, Metrics};
use crate::service::{
    DirectSettings, DirectUploads, RenderCapacity, Renders, UploadMemory, Uploads, Workers,
};
use crate::storage::{self, SharedStore, StagingArea, StagingSettings};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: SharedStore,
    pub uploads: Arc<Uploads>,
    pub renders: Arc<Renders>,
    /// Bytes of upload bodies that may be held at once, across requests.
    pub upload_memory: UploadMemory,
    /// Direct uploads: staging keys, signed URLs, and processing what was staged.
    pub direct: Arc<DirectUploads>,
    /// The staging area on disk, whose signed PUTs the local server answers; `None` on S3.
    pub disk_staging: Option<Arc<storage::FsStaging>>,
    /// The token and rate-limit checks of the upload routes; `None` when neither is configured.
    pub gate: Option<Arc<Gate>>,
    /// The operator's figures (`GET /metrics`, or EMF lines under Lambda).
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Opens the store the configuration names: what both entry points do.
    pub async fn from_config(config: Config) -> Self {
        let files_url = format!("http://{}/files", config.http().addr);
        let (store, staging) =
            storage::open(config.storage(), files_url, staging_settings(&config)).await;
        Self::new(config, store, staging)
    }

    /// State over a store the caller opened, staging direct uploads on disk under `root`
    /// (tests, embedders; no sweep runs).
    pub fn with_disk_staging(config: Config, store: SharedStore, root: &std::path::Path) -> Self {
        let settings = staging_settings(&config);
        let staging = storage::FsStaging::new(root, settings.secret, settings.max_bytes);
        Self::new(config, store, StagingArea::on_disk(Arc::new(staging)))
    }

    /// State over a store and staging area the caller opened (tests, embedders).
    pub fn new(config: Config, store: SharedStore, staging: StagingArea) -> Self {
        let metrics = Arc::new(match (config.http().metrics, &config.http().emf_function) {
            (true, Some(function)) => Metrics::emf(function.clone()),
            _ => Metrics::new(),
        });
        let store: SharedStore = Arc::new(MeteredStore::new(store, Arc::clone(&metrics)));
        let limits = config.limits();
        let steps = Arc::clone(&metrics);
        let workers = Workers::new(limits.worker_count())
            .with_step_sink(Arc::new(move |times| steps.steps(times)));
        let pixels = limits.pixels();
        let auth = config.auth();
        let gate = Gate::new(auth.jwt.as_ref(), auth.rate_limit).map(Arc::new);
        let uploads = Arc::new(Uploads::new(
            Arc::clone(&store),
            workers.clone(),
            pixels,
            config.upload().clone(),
        ));
        let upload_memory = UploadMemory::new(limits.upload_memory_bytes);
        let direct = config.direct();
        let direct = DirectUploads::new(
            staging.shared,
            Arc::clone(&uploads),
            upload_memory.clone(),
            DirectSettings {
                incoming: direct.incoming_prefix.as_str().to_owned(),
                max_bytes: direct.max_bytes,
                url_ttl: direct.url_ttl,
                secret: direct.signing_key.as_bytes().to_vec(),
            },
        );
        Self {
            gate,
            metrics,
            uploads,
            direct: Arc::new(direct),
            disk_staging: staging.disk,
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
            upload_memory,
            store,
            config: Arc::new(config),
        }
    }
}

/// What the disk staging area needs of the configuration.
pub fn staging_settings(config: &Config) -> StagingSettings<'_> {
    let direct = config.direct();
    StagingSettings {
        secret: direct.signing_key.as_bytes(),
        max_bytes: direct.max_bytes,
        incoming: direct.incoming_prefix.as_str(),
        ttl: direct.staging_ttl,
    }
}
