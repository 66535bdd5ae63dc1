//! `GET /files/{key}`: serves stored objects back (the disk backend's `fileUrl`), images only.
//! Objects are immutable and their keys hold a content hash, which doubles as a strong ETag.

use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use headers::ETag;

use super::{not_modified, strong_etag, with_etag};
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::{IMMUTABLE_CACHE_CONTROL, StoredObject, content_type_of, is_safe_key};

pub async fn serve(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !is_served(&state, &key) {
        return Err(ApiError::NotFound);
    }
    let etag = etag_of(&key);
    if etag
        .as_ref()
        .is_some_and(|etag| not_modified(&headers, etag))
    {
        return Ok(with_cache_headers(
            StatusCode::NOT_MODIFIED.into_response(),
            etag.as_ref(),
        ));
    }
    let object = state.store.get(&key).await?.ok_or(ApiError::NotFound)?;
    Ok(with_cache_headers(object_response(object), etag.as_ref()))
}

/// Only what pixgate could have stored: a safe key under an upload prefix, with the extension
/// of an image format. Anything else put under the prefixes by other hands is not served.
fn is_served(state: &AppState, key: &str) -> bool {
    is_safe_key(key) && state.config.upload().holds(key) && content_type_of(key).is_some()
}

/// The key's file stem is the content hash, so it identifies the bytes exactly.
fn etag_of(key: &str) -> Option<ETag> {
    let file = key.rsplit('/').next().unwrap_or(key);
    strong_etag(file.split('.').next().unwrap_or(file))
}

fn object_response(object: StoredObject) -> Response {
    let mut response = object.bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&object.content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    if let Some(value) = object
        .content_disposition
        .and_then(|d| HeaderValue::from_str(&d).ok())
    {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn with_cache_headers(mut response: Response, etag: Option<&ETag>) -> Response {
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static(IMMUTABLE_CACHE_CONTROL),
    );
    match etag {
        Some(etag) => with_etag(response, etag),
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_is_the_content_hash_of_the_key() {
        assert_eq!(
            etag_of("profile/2026/01/02/abc123.jpg"),
            strong_etag("abc123")
        );
        assert_ne!(
            etag_of("profile/2026/01/02/abc124.jpg"),
            strong_etag("abc123")
        );
    }
}
