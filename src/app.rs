//! The router and the state it shares: one `app(state)` serves the local server, the Lambda
//! entry point and the tests alike.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use bytes::Bytes;
use tokio::sync::Semaphore;
use tower::Layer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::config::{AllowedOrigins, Config, ConfigError};
use crate::error::ApiError;
use crate::http::{cors, files, method_not_allowed, not_found, time_limit, upload};
use crate::pipeline::{self, PipelineError, PixelLimits, Preset, ProcessedImage};
use crate::request::{FormLimits, UploadKind};
use crate::storage::{self, SharedStore};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
    pub settings: Arc<Settings>,
    /// Bounds CPU-heavy image work to the number of cores, whatever the request concurrency.
    cpu: Arc<Semaphore>,
}

/// The parts of [`Config`] the handlers use, parsed once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub form_limits: FormLimits,
    pub pixel_limits: PixelLimits,
    pub profile_prefix: String,
    pub image_prefix: String,
    pub public_base_url: Option<String>,
    pub allowed_origins: AllowedOrigins,
    pub request_timeout: Duration,
}

impl AppState {
    /// Validates the configuration, then opens the store it names: what both entry points do.
    pub async fn from_config(config: &Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let store = storage::open(config).await;
        Self::with_valid_config(config, store)
    }

    /// State over a store the caller opened (tests, embedders); validates the configuration.
    pub fn new(config: &Config, store: SharedStore) -> Result<Self, ConfigError> {
        config.validate()?;
        Self::with_valid_config(config, store)
    }

    fn with_valid_config(config: &Config, store: SharedStore) -> Result<Self, ConfigError> {
        let settings = Settings {
            form_limits: FormLimits {
                max_files: config.max_files,
                max_file_bytes: config.max_file_bytes,
                max_request_bytes: config.max_request_bytes,
            },
            pixel_limits: PixelLimits {
                max_pixels: config.max_pixels,
                max_side: config.max_side,
            },
            profile_prefix: config.profile_prefix.clone(),
            image_prefix: config.image_prefix.clone(),
            public_base_url: config.public_base_url.clone(),
            allowed_origins: config.allowed_origins()?,
            request_timeout: Duration::from_secs(config.request_timeout_secs),
        };
        Ok(Self {
            store,
            settings: Arc::new(settings),
            cpu: Arc::new(Semaphore::new(config.worker_count())),
        })
    }

    pub fn prefix(&self, kind: UploadKind) -> &str {
        match kind {
            UploadKind::Profile => &self.settings.profile_prefix,
            UploadKind::Image => &self.settings.image_prefix,
        }
    }

    /// The URL a client fetches a stored object from.
    pub fn file_url(&self, key: &str) -> String {
        match &self.settings.public_base_url {
            Some(base) => format!("{base}/{key}"),
            None => self.store.default_url(key),
        }
    }

    /// Whether a key lies under one of the upload prefixes (the only objects ever served).
    pub fn is_upload_key(&self, key: &str) -> bool {
        [&self.settings.profile_prefix, &self.settings.image_prefix]
            .iter()
            .any(|prefix| {
                key.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            })
    }

    /// Runs the pipeline off the async runtime, at most one job per permitted core at a time.
    pub async fn process_image(
        &self,
        bytes: Bytes,
        preset: Preset,
    ) -> Result<ProcessedImage, PipelineError> {
        let permit = Arc::clone(&self.cpu)
            .acquire_owned()
            .await
            .map_err(|e| PipelineError::Internal(e.to_string()))?;
        let limits = self.settings.pixel_limits;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            pipeline::process(&bytes, preset, &limits)
        })
        .await
        .map_err(|e| PipelineError::Internal(format!("image task failed: {e}")))?
    }
}

pub fn app(state: AppState) -> Router {
    let origins = Arc::new(state.settings.allowed_origins.clone());
    let timeout = state.settings.request_timeout;
    let routes = Router::new()
        .route("/upload", post(upload::upload))
        .route("/files/{*key}", get(files::serve))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(from_fn_with_state(timeout, time_limit))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("handler panicked".into()).into_response()
        }));
    // CORS goes around routing rather than inside each route, so every answer (404s, 405s,
    // panics turned into 500s) gets its headers and OPTIONS can be answered for any route.
    let with_cors = from_fn_with_state(origins, cors::cors).layer(routes);
    Router::new()
        .fallback_service(with_cors)
        .layer(TraceLayer::new_for_http())
}
