//! The HTTP edge: the router ([`app`]), route handlers, CORS, request ids, the request log, and
//! the pieces every handler shares (fallbacks that keep every answer JSON, the time limit,
//! ETags).
//! Handlers parse with `request`, act through the use cases in `service` (reached through
//! `state::AppState`), and answer; errors become answers only in `error`.

pub mod auth;
pub mod cors;
pub mod direct;
pub mod files;
pub mod head_limits;
mod log;
mod matched_route;
mod metrics;
pub mod page;
mod request_id;
mod router;
pub mod staging;
pub mod transform;
pub mod upload;

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use headers::{ETag, HeaderMapExt, IfNoneMatch};

pub use router::app;

use crate::error::ApiError;

pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Bounds a whole request, slow body uploads included, so a stalled client cannot hold a
/// connection and its buffers forever.
pub async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(limit.as_secs()).into_response(),
    }
}

/// The strong ETag `"{token}"`; `None` when the token cannot be one (a quote, a control
/// character).
pub fn strong_etag(token: &str) -> Option<ETag> {
    format!("\"{token}\"").parse().ok()
}

/// Whether `If-None-Match` names `etag` (or `*`): the weak comparison a 304 calls for
/// (RFC 9110 §13.1.2).
pub fn not_modified(headers: &HeaderMap, etag: &ETag) -> bool {
    headers
        .typed_get::<IfNoneMatch>()
        .is_some_and(|if_none_match| !if_none_match.precondition_passes(etag))
}

pub fn with_etag(mut response: Response, etag: &ETag) -> Response {
    response.headers_mut().typed_insert(etag.clone());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use axum::http::header::IF_NONE_MATCH;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"abc\""));
        let tag = |token| strong_etag(token).unwrap();
        assert!(not_modified(&headers, &tag("abc")));
        assert!(!not_modified(&headers, &tag("abd")));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(not_modified(&headers, &tag("abd")));
        assert!(!not_modified(&HeaderMap::new(), &tag("abd")));
        assert!(strong_etag("a\"b").is_none());
    }
}
