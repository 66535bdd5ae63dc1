//! `GET /`: the upload page (Uppy's Dashboard over `POST /upload` and `/direct/{type}`), and its
//! assets under `/ui/`, all embedded in the binary: no build step at run time and no request
//! leaves this origin. The page learns the limits it shows and routes by from a JSON block the
//! server writes into it. Off with `--ui false`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::{not_modified, strong_etag, with_etag};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::staging::MIN_PART_BYTES;

const INDEX: &str = include_str!("../../web/page/index.html");

/// The files under `/ui/`: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/page/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/page/app.css"),
    ),
    (
        "uppy.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/vendor/uppy.min.js"),
    ),
    (
        "uppy.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/vendor/uppy.min.css"),
    ),
    (
        "LICENSES.md",
        "text/markdown; charset=utf-8",
        include_bytes!("../../web/vendor/LICENSES.md"),
    ),
];

/// The page's routes, when the configuration has them.
pub fn routes(state: &AppState) -> Router<AppState> {
    if !state.config.http().ui {
        return Router::new();
    }
    Router::new()
        .route("/", get(index))
        .route("/ui/{file}", get(asset))
}

async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // A string replace on 2 KiB: cheaper than keeping one per configuration.
    let page = render_index(&state);
    cached(&headers, "text/html; charset=utf-8", &page, "no-cache")
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == file) {
        // Revalidated on each load (an ETag makes that a 304), so a new binary's page is never
        // mixed with an old script.
        Some((_, content_type, bytes)) => cached(&headers, content_type, bytes, "no-cache"),
        None => ApiError::NotFound.into_response(),
    }
}

/// The page with the limits it needs written into its JSON block.
fn render_index(state: &AppState) -> Vec<u8> {
    let limits = state.config.limits();
    let config = serde_json::json!({
        "maxFileBytes": limits.max_file_bytes,
        "maxFiles": limits.max_files,
        "directMaxBytes": state.config.direct().max_bytes,
        "partBytes": MIN_PART_BYTES,
    });
    // Numbers only, so nothing in it can close the script element.
    INDEX
        .replace("{{PIXGATE_CONFIG}}", &config.to_string())
        .into_bytes()
}

/// `bytes` with its type, a strong ETag from its content, and `cache_control`; 304 when the
/// client has it.
fn cached(
    headers: &HeaderMap,
    content_type: &'static str,
    bytes: &[u8],
    cache_control: &'static str,
) -> Response {
    let etag = strong_etag(&hex::encode(&Sha256::digest(bytes)[..16]));
    let mut response = match &etag {
        Some(etag) if not_modified(headers, etag) => StatusCode::NOT_MODIFIED.into_response(),
        _ => bytes.to_vec().into_response(),
    };
    let response_headers = response.headers_mut();
    response_headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response_headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache_control));
    match &etag {
        Some(etag) => with_etag(response, etag),
        None => response,
    }
}
