//! CORS on every answer, errors and 404s included. It wraps the router from outside, so it sees
//! what routing decided (a 404, or the methods a path allows). Written here rather than taken from
//! `tower-http` because the gateway's contract differs from its `CorsLayer`: preflights answer
//! 204, and a browser request from an origin that is not allowed is refused with a JSON 403
//! before anything is stored (a multipart POST needs no preflight, so the browser alone would
//! not stop it).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, ALLOW,
    HOST, ORIGIN, VARY,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::AllowedOrigins;
use crate::error::ApiError;

const DEFAULT_ALLOWED_HEADERS: &str = "content-type, authorization, x-requested-with";
const PREFLIGHT_MAX_AGE_SECS: &str = "600";
// Retry-After and WWW-Authenticate let a browser client read why it was refused (429, 401);
// X-Request-Id, what to quote when reporting it.
const EXPOSED_HEADERS: &str =
    "etag, content-length, content-disposition, retry-after, www-authenticate, x-request-id";

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
            let listed = origin.to_str().is_ok_and(|o| {
                list.iter().any(|allowed| allowed == o) || is_same_origin(o, request.headers())
            });
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

    let mut response = if request.method() == Method::OPTIONS {
        options(request, next).await
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

/// Whether `origin` is this server as the request reached it (`http(s)://{Host}`): a browser
/// sends `Origin` on its own page's POSTs too, and pixgate's upload page must not need listing.
fn is_same_origin(origin: &str, headers: &axum::http::HeaderMap) -> bool {
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    ["http://", "https://"]
        .iter()
        .any(|scheme| origin.strip_prefix(scheme) == Some(host))
}

/// Any OPTIONS request, preflight or not, asks what a resource allows. Routing knows: no route
/// declares OPTIONS, so a known path answers 405 with its methods in `Allow`, which become the
/// 204 answer's; an unknown path stays a 404.
async fn options(request: Request, next: Next) -> Response {
    let requested_headers = request
        .headers()
        .get(ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned();
    let routed = next.run(request).await;
    if routed.status() != StatusCode::METHOD_NOT_ALLOWED {
        return routed;
    }
    let methods = routed
        .headers()
        .get(ALLOW)
        .and_then(|allow| allow.to_str().ok())
        .map(|allow| format!("{allow},OPTIONS"))
        .and_then(|methods| HeaderValue::from_str(&methods).ok())
        .unwrap_or(HeaderValue::from_static("OPTIONS"));
    preflight(requested_headers, methods)
}

/// The browser asks before a cross-origin request with custom headers; the requested headers
/// are allowed as asked, since no credentials are involved.
fn preflight(requested_headers: Option<HeaderValue>, methods: HeaderValue) -> Response {
    let allow_headers =
        requested_headers.unwrap_or(HeaderValue::from_static(DEFAULT_ALLOWED_HEADERS));
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(ALLOW, methods.clone());
    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
    headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
    headers.insert(
        ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE_SECS),
    );
    response
}
