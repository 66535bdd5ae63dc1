//! The operator's figures, every one defined here: requests by route and status, latency, bytes
//! in and out, pipeline time by step, renders in flight and queued, uploads by outcome, storage
//! errors and retries. The local server serves them at `GET /metrics` in the Prometheus text
//! format; under Lambda each request also writes them as one CloudWatch EMF line ([`emf`]).
//!
//! `prometheus-client` rather than the `metrics` crate family: its `Registry` is a plain value,
//! owned here by each app's state, where `metrics` records through a process-global recorder.
//! Apps sharing a process (the API tests run many at once) would share one recorder's counters,
//! and a test could not say by how much its own requests moved them.

pub mod emf;
mod store;

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

pub use store::MeteredStore;

use crate::pipeline::StepTimes;
use crate::service::RenderLoad;

/// The `route` label of a request no route matched: one value, whatever the path was, so
/// scanners cannot grow the series without bound.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    step: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UploadLabels {
    r#type: &'static str,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    op: &'static str,
}

/// One answered request, as the HTTP edge measured it.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// The route template (`/img/{*key}`) or [`UNMATCHED_ROUTE`].
    pub route: String,
    pub method: String,
    pub status: u16,
    pub duration: Duration,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Every figure of one app.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram>,
    request_bytes: Family<RouteLabels, Counter>,
    response_bytes: Family<RouteLabels, Counter>,
    steps: Family<StepLabels, Histogram>,
    renders_in_flight: Gauge,
    renders_queued: Gauge,
    uploads: Family<UploadLabels, Counter>,
    storage_errors: Family<OpLabels, Counter>,
    storage_retries: Counter,
    /// Serialises bringing the retry counter up to the store's count at a scrape.
    retries_sync: Mutex<()>,
    /// Under Lambda: this request's figures so far, written as one EMF line at its end.
    emf: Option<emf::Emf>,
}

/// From 1 ms to about 16 s, doubling: a small profile upload to a large AVIF render.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    /// Figures for `GET /metrics`.
    pub fn new() -> Self {
        Self::with_emf(None)
    }

    /// Figures that also go out as one EMF line per request, for the Lambda function named
    /// `function`.
    pub fn emf(function: String) -> Self {
        Self::with_emf(Some(emf::Emf::new(function)))
    }

    fn with_emf(emf: Option<emf::Emf>) -> Self {
        let mut registry = Registry::with_prefix("pixgate");
        let requests = Family::default();
        registry.register("http_requests", "Requests answered", requests.clone());
        let duration = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time from the request's arrival to its answer's head",
            Unit::Seconds,
            duration.clone(),
        );
        let request_bytes = Family::default();
        registry.register_with_unit(
            "http_request",
            "Request body bytes received",
            Unit::Bytes,
            request_bytes.clone(),
        );
        let response_bytes = Family::default();
        registry.register_with_unit(
            "http_response",
            "Response body bytes sent",
            Unit::Bytes,
            response_bytes.clone(),
        );
        let steps = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "pipeline_step",
            "Time of each image pipeline step, uploads and renders",
            Unit::Seconds,
            steps.clone(),
        );
        let renders_in_flight = Gauge::default();
        registry.register(
            "renders_in_flight",
            "Renders running on a worker now",
            renders_in_flight.clone(),
        );
        let renders_queued = Gauge::default();
        registry.register(
            "renders_queued",
            "Renders waiting for a free worker now",
            renders_queued.clone(),
        );
        let uploads = Family::default();
        registry.register(
            "uploads",
            "Uploaded files by type and outcome (stored, or the error code)",
            uploads.clone(),
        );
        let storage_errors = Family::default();
        registry.register(
            "storage_errors",
            "Store calls that failed, by operation",
            storage_errors.clone(),
        );
        let storage_retries = Counter::default();
        registry.register(
            "storage_retries",
            "Attempts the store made again after a failed one (S3 SDK retries)",
            storage_retries.clone(),
        );
        Self {
            registry,
            requests,
            duration,
            request_bytes,
            response_bytes,
            steps,
            renders_in_flight,
            renders_queued,
            uploads,
            storage_errors,
            storage_retries,
            retries_sync: Mutex::new(()),
            emf,
        }
    }

    /// Counts one answered request; under Lambda, writes its EMF line.
    pub fn request(&self, record: &RequestRecord) {
        let route = RouteLabels {
            route: record.route.clone(),
        };
        self.requests
            .get_or_create(&RequestLabels {
                route: record.route.clone(),
                method: record.method.clone(),
                status: record.status.to_string(),
            })
            .inc();
        self.duration
            .get_or_create(&route)
            .observe(record.duration.as_secs_f64());
        self.request_bytes
            .get_or_create(&route)
            .inc_by(record.bytes_in);
        self.response_bytes
            .get_or_create(&route)
            .inc_by(record.bytes_out);
        if let Some(emf) = &self.emf {
            emf.finish(record);
        }
    }

    /// Times of one image job's steps.
    pub fn steps(&self, times: &StepTimes) {
        for (step, took) in times {
            self.steps
                .get_or_create(&StepLabels {
                    step: step.as_str(),
                })
                .observe(took.as_secs_f64());
        }
        if let Some(emf) = &self.emf {
            emf.steps(times);
        }
    }

    /// One uploaded file's outcome: `Ok(())` stored, `Err(code)` refused or failed.
    pub fn upload(&self, kind: &'static str, outcome: Result<(), &str>) {
        let label = match outcome {
            Ok(()) => "stored",
            Err(code) => code,
        };
        self.uploads
            .get_or_create(&UploadLabels {
                r#type: kind,
                outcome: label.to_owned(),
            })
            .inc();
        if let Some(emf) = &self.emf {
            emf.upload(outcome.is_ok());
        }
    }

    /// One failed store call (`put`, `get`, `version`).
    pub fn storage_error(&self, op: &'static str) {
        self.storage_errors.get_or_create(&OpLabels { op }).inc();
        if let Some(emf) = &self.emf {
            emf.storage_error();
        }
    }

    /// The store's retry count so far (it counts them itself: they happen inside its calls).
    pub fn storage_retries(&self, total: u64) {
        let _sync = self
            .retries_sync
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let seen = self.storage_retries.get();
        self.storage_retries.inc_by(total.saturating_sub(seen));
        if let Some(emf) = &self.emf {
            emf.storage_retries(total);
        }
    }

    /// Sends the EMF lines to `out` instead of stdout (tests, embedders); without EMF, nothing.
    pub fn send_emf_to(&self, out: emf::EmfOut) {
        if let Some(emf) = &self.emf {
            emf.send_to(out);
        }
    }

    /// The text exposition, with the render gauges as `load` has them now.
    pub fn encode(&self, load: RenderLoad) -> String {
        self.renders_in_flight.set(load.running);
        self.renders_queued.set(load.queued);
        let mut text = String::new();
        // Writing to a String cannot fail; the labels are ours and always encode.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
