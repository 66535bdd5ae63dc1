//! `GET /files/{key}`: serves stored objects back (the disk backend's `fileUrl`). Objects are
//! immutable and their keys hold a content hash, which doubles as a strong ETag.

use axum::extract::{Path, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, ETAG, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::etag_matches;
use crate::app::AppState;
use crate::error::ApiError;
use crate::storage::{IMMUTABLE_CACHE_CONTROL, StoredObject, is_safe_key};

pub async fn serve(
    State(state): State<AppState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !is_safe_key(&key) || !state.is_upload_key(&key) {
        return Err(ApiError::NotFound);
    }
    let etag = etag_of(&key);
    if etag_matches(&headers, &etag) {
        return Ok(with_cache_headers(
            StatusCode::NOT_MODIFIED.into_response(),
            &etag,
        ));
    }
    let object = state.store.get(&key).await?.ok_or(ApiError::NotFound)?;
    Ok(with_cache_headers(object_response(object), &etag))
}

/// The key's file stem is the content hash, so it identifies the bytes exactly.
fn etag_of(key: &str) -> String {
    let file = key.rsplit('/').next().unwrap_or(key);
    let stem = file.split('.').next().unwrap_or(file);
    format!("\"{stem}\"")
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

fn with_cache_headers(mut response: Response, etag: &str) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static(IMMUTABLE_CACHE_CONTROL),
    );
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_is_the_content_hash_of_the_key() {
        assert_eq!(etag_of("profile/2026/01/02/abc123.jpg"), "\"abc123\"");
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        use axum::http::header::IF_NONE_MATCH;
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"abc\""));
        assert!(etag_matches(&headers, "\"abc\""));
        assert!(!etag_matches(&headers, "\"abd\""));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(etag_matches(&headers, "\"abd\""));
    }
}
