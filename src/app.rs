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

use axum::http::{HeaderMap, HeaderValue};

use crate::config::{AllowedOrigins, Config, ConfigError};
use crate::error::ApiError;
use crate::http::{cors, files, method_not_allowed, not_found, time_limit, transform, upload};
use crate::pipeline::{
    self, PipelineError, PixelLimits, Preset, ProcessedImage, RenderSpec, Rendition,
};
use crate::request::{FormLimits, UploadKind};
use crate::single_flight::SingleFlight;
use crate::storage::{self, SharedStore};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: SharedStore,
    pub settings: Arc<Settings>,
    /// Bounds CPU-heavy image work to the number of cores, whatever the request concurrency.
    cpu: Arc<Semaphore>,
    /// Renditions being computed, so identical concurrent transforms are computed once.
    pub renders: Arc<SingleFlight<RenderedObject, ApiError>>,
}

/// A rendition and the version of the source it was made from.
#[derive(Debug)]
pub struct RenderedObject {
    pub rendition: Rendition,
    pub source_version: String,
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
    pub trust_forwarded_host: bool,
    pub transform: TransformSettings,
}

/// Settings of `GET /img/{key}`.
#[derive(Debug, Clone)]
pub struct TransformSettings {
    pub prefixes: Vec<String>,
    pub max_side: u32,
    pub cache_control: HeaderValue,
    pub canonical_redirect: bool,
    /// Empty: URLs are not signed.
    pub signing_keys: Vec<Vec<u8>>,
    /// `None`: any size.
    pub allowed_sizes: Option<Vec<(u32, u32)>>,
    pub avif_speed: u8,
}

impl TransformSettings {
    /// Whether `key` lies under a prefix the transform route may read.
    pub fn serves(&self, key: &str) -> bool {
        self.prefixes.iter().any(|prefix| is_under(key, prefix))
    }
}

/// A host name with an optional port: nothing that could change the URL's shape.
fn is_host(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
}

fn is_under(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix)
        .is_some_and(|rest| rest.starts_with('/'))
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
            trust_forwarded_host: config.trust_forwarded_host,
            transform: TransformSettings {
                prefixes: config.transform_prefixes(),
                max_side: config.transform_max_side,
                cache_control: config.transform_cache_control()?,
                canonical_redirect: config.canonical_redirect,
                signing_keys: config
                    .signing_keys
                    .iter()
                    .map(|k| k.as_bytes().to_vec())
                    .collect(),
                allowed_sizes: config.allowed_sizes()?,
                avif_speed: config.avif_speed,
            },
        };
        Ok(Self {
            store,
            settings: Arc::new(settings),
            cpu: Arc::new(Semaphore::new(config.worker_count())),
            renders: Arc::default(),
        })
    }

    pub fn prefix(&self, kind: UploadKind) -> &str {
        match kind {
            UploadKind::Profile => &self.settings.profile_prefix,
            UploadKind::Image => &self.settings.image_prefix,
        }
    }

    /// The base of `fileUrl` for this request: `https://{X-Forwarded-Host}` when trusted and
    /// present (behind CloudFront, whose domain the upload function cannot be told at deploy
    /// time), else the configured public base URL.
    pub fn public_base_url(&self, headers: &HeaderMap) -> Option<String> {
        let forwarded = self
            .settings
            .trust_forwarded_host
            .then(|| headers.get("x-forwarded-host"))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|host| is_host(host));
        match forwarded {
            Some(host) => Some(format!("https://{host}")),
            None => self.settings.public_base_url.clone(),
        }
    }

    /// The URL a client fetches a stored object from.
    pub fn file_url(&self, base_url: Option<&str>, key: &str) -> String {
        match base_url {
            Some(base) => format!("{base}/{key}"),
            None => self.store.default_url(key),
        }
    }

    /// Whether a key lies under one of the upload prefixes (the only objects ever served).
    pub fn is_upload_key(&self, key: &str) -> bool {
        [&self.settings.profile_prefix, &self.settings.image_prefix]
            .iter()
            .any(|prefix| is_under(key, prefix))
    }

    /// Runs the pipeline off the async runtime, at most one job per permitted core at a time.
    pub async fn process_image(
        &self,
        bytes: Bytes,
        preset: Preset,
    ) -> Result<ProcessedImage, PipelineError> {
        let limits = self.settings.pixel_limits;
        self.on_cpu(move || pipeline::process(&bytes, preset, &limits))
            .await
    }

    /// The rendition of the stored object `key` named by its canonical query, fetched and
    /// rendered once however many identical requests arrive together.
    pub async fn render_stored(
        &self,
        key: String,
        canonical: &str,
        spec: RenderSpec,
    ) -> Result<Arc<RenderedObject>, Arc<ApiError>> {
        let flight_key = format!("{key}?{canonical}");
        let state = self.clone();
        let work = async move {
            let object = state.store.get(&key).await?.ok_or(ApiError::NotFound)?;
            let limits = state.settings.pixel_limits;
            let bytes = object.bytes;
            let rendition = state
                .on_cpu(move || pipeline::render(&bytes, &spec, &limits))
                .await?;
            Ok(RenderedObject {
                rendition,
                source_version: object.version,
            })
        };
        self.renders.run(flight_key, work).await
    }

    async fn on_cpu<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<T, PipelineError> + Send + 'static,
    ) -> Result<T, PipelineError> {
        let permit = Arc::clone(&self.cpu)
            .acquire_owned()
            .await
            .map_err(|e| PipelineError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
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
        .route("/img/{*key}", get(transform::transform))
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
