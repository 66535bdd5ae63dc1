//! The router: every route, and the layers every answer passes through (request id, the one
//! log line of each request, CORS, panics as JSON, the time limit). One `app(state)` serves the local server,
//! the Lambda entry point and the tests alike.

use std::sync::Arc;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use tower::Layer;
use tower_http::catch_panic::CatchPanicLayer;

use super::{
    auth, cors, direct, files, head_limits, log, matched_route, method_not_allowed, metrics,
    not_found, page, request_id, staging, time_limit, transform, upload,
};
use crate::error::ApiError;
use crate::state::AppState;

pub fn app(state: AppState) -> Router {
    let origins = Arc::new(state.config.http().allowed_origins.clone());
    let timeout = state.config.http().request_timeout;
    let measured = state.clone();
    let routes = Router::new()
        .merge(uploads(&state))
        .merge(page::routes(&state))
        .route("/files/{*key}", get(files::serve))
        .route("/img/{*key}", get(transform::transform))
        .route("/staging/{*key}", put(staging::put))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(from_fn_with_state(timeout, time_limit))
        .layer(from_fn(head_limits::head_limits))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("handler panicked").into_response()
        }))
        .layer(from_fn(matched_route::mark));
    // CORS goes around routing rather than inside each route, so every answer (404s, 405s,
    // panics turned into 500s) gets its headers and OPTIONS can be answered for any route.
    let with_cors = from_fn_with_state(origins, cors::cors).layer(routes);
    metrics::routes(&measured)
        .fallback_service(with_cors)
        .layer(from_fn(log::requests))
        .layer(from_fn_with_state(measured, metrics::measure))
        .layer(from_fn(request_id::assign))
}

/// The routes that write to the store, behind the token and rate-limit gate when one is
/// configured (a route layer: it runs only once routing chose one of these routes, so
/// preflights and 405s stay open). The calls that start an upload count against the rate limit;
/// the calls that carry on a direct upload need the token only. Routes that write belong here.
fn uploads(state: &AppState) -> Router<AppState> {
    let upload = Router::new().route("/upload", post(upload::upload));
    let starts = Router::new()
        .route("/direct/{type}/s3/params", get(direct::params))
        .route(MULTIPART, post(direct::create));
    let follow_ups = Router::new()
        .route(
            &format!("{MULTIPART}/{{upload_id}}"),
            get(direct::list_parts).delete(direct::abort),
        )
        .route(
            &format!("{MULTIPART}/{{upload_id}}/batch"),
            get(direct::sign_batch),
        )
        .route(
            &format!("{MULTIPART}/{{upload_id}}/complete"),
            post(direct::complete_multipart),
        )
        .route(
            &format!("{MULTIPART}/{{upload_id}}/{{part}}"),
            get(direct::sign_part),
        )
        .route("/direct/{type}/complete", post(direct::complete_single));
    let Some(gate) = &state.gate else {
        return upload.merge(starts).merge(follow_ups);
    };
    upload
        .route_layer(from_fn_with_state(Arc::clone(gate), auth::guard))
        .merge(starts.route_layer(from_fn_with_state(Arc::clone(gate), auth::guard_direct)))
        .merge(follow_ups.route_layer(from_fn_with_state(Arc::clone(gate), auth::guard_follow_up)))
}

/// The direct upload protocol's multipart calls.
const MULTIPART: &str = "/direct/{type}/s3/multipart";
