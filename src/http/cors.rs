//! CORS on every answer, errors and 404s included. Written here rather than taken from
//! `tower-http` because the gateway's contract differs from its `CorsLayer`: preflights answer
//! 204, and a browser request from an origin that is not allowed is refused with a JSON 403
//! before anything is stored (a multipart POST needs no preflight, so the browser alone would
//! not stop it).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::AllowedOrigins;
use crate::error::ApiError;

const ALLOWED_METHODS: &str = "GET, HEAD, POST, OPTIONS";
const DEFAULT_ALLOWED_HEADERS: &str = "content-type, authorization, x-requested-with";
const PREFLIGHT_MAX_AGE_SECS: &str = "600";
const EXPOSED_HEADERS: &str = "etag, content-length, content-disposition";

pub async fn cors(
    State(policy): State<Arc<AllowedOrigins>>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request.headers().get(ORIGIN).cloned();
    let allow_origin = match (&*policy, &origin) {
        (AllowedOrigins::Any, _) => Some(HeaderValue::from_static("*")),
        (AllowedOrigins::List(_), None) => None,
        (AllowedOrigins::List(list), Some(origin)) => {
            let listed = origin
                .to_str()
                .is_ok_and(|o| list.iter().any(|allowed| allowed == o));
            if !listed {
                let mut response = ApiError::OriginNotAllowed.into_response();
                response
                    .headers_mut()
                    .insert(VARY, HeaderValue::from_static("origin"));
                return response;
            }
            Some(origin.clone())
        }
    };

    let is_preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if is_preflight {
        preflight(request.headers())
    } else {
        next.run(request).await
    };

    let headers = response.headers_mut();
    if let Some(value) = allow_origin {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
    if matches!(*policy, AllowedOrigins::List(_)) {
        // The answer depends on the Origin header, so shared caches must key on it.
        headers.append(VARY, HeaderValue::from_static("origin"));
    }
    response
}

/// The browser asks before a cross-origin request with custom headers; the requested headers
/// are allowed as asked, since no credentials are involved.
fn preflight(request_headers: &HeaderMap) -> Response {
    let allow_headers = request_headers
        .get(ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or(HeaderValue::from_static(DEFAULT_ALLOWED_HEADERS));
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
    headers.insert(
        ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE_SECS),
    );
    response
}
