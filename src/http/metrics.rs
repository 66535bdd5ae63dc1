//! The request figures at the edge: each answer counted by route, method and status, timed,
//! and its bytes in and out; and `GET /metrics`, the text a Prometheus scraper reads.
//!
//! The route is the template the router matched (`matched_route`), never the path, so the
//! series stay few however many keys are asked for. [`measure`] wraps everything, so answers
//! CORS or a fallback gave are counted too.
//!
//! `GET /metrics` is for a scraper on the operator's network, not for pages in a browser: it is
//! routed outside CORS, so no page on another origin can read it, and it needs no token.

use std::time::Instant;

use axum::Router;
use axum::body::HttpBody;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::matched_route::{MatchedRoute, mark};
use crate::metrics::{CONTENT_TYPE, RequestRecord, UNMATCHED_ROUTE};
use crate::state::AppState;

/// `GET /metrics` when the configuration serves it; otherwise no route.
pub fn routes(state: &AppState) -> Router {
    if !state.config.serves_metrics() {
        return Router::new();
    }
    Router::new()
        .route("/metrics", get(scrape))
        .method_not_allowed_fallback(super::method_not_allowed)
        .route_layer(from_fn(mark))
        .with_state(state.clone())
}

/// Around everything: counts and times the request once it is answered.
pub async fn measure(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let bytes_in = body_length(request.body().size_hint().exact(), request.headers());
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<MatchedRoute>()
        .map_or_else(|| UNMATCHED_ROUTE.to_owned(), |route| route.0.to_string());
    let record = RequestRecord {
        route,
        method,
        status: response.status().as_u16(),
        duration: started.elapsed(),
        bytes_in,
        bytes_out: body_length(response.body().size_hint().exact(), response.headers()),
    };
    state.metrics.storage_retries(state.store.retries());
    state.metrics.request(&record);
    response
}

/// A body's length: exact when the body knows it, else its `Content-Length`, else 0 (a
/// streamed body of unknown length is not counted).
fn body_length(exact: Option<u64>, headers: &HeaderMap) -> u64 {
    exact
        .or_else(|| {
            headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// `GET /metrics`.
async fn scrape(State(state): State<AppState>) -> Response {
    state.metrics.storage_retries(state.store.retries());
    let text = state.metrics.encode(state.renders.load());
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        text,
    )
        .into_response()
}
