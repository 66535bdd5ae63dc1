//! `PUT /staging/{key}`: the disk staging area's signed URLs land here (`pixgate serve` without
//! S3), standing in for S3's PutObject and UploadPart: the signature in the query is the only
//! permission, the body is streamed to disk, and the answer carries the part's `ETag` as S3's
//! does. There is no such route on S3, where clients PUT to the bucket itself.

use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use headers::{ContentLength, HeaderMapExt};

use super::upload::no_store;
use crate::error::ApiError;
use crate::state::AppState;
use crate::storage::staging::StagingError;

pub async fn put(
    State(state): State<AppState>,
    Path(key): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(staging) = &state.disk_staging else {
        return Err(ApiError::NotFound);
    };
    let grant = staging
        .verify(&key, uri.query().unwrap_or_default(), SystemTime::now())
        .map_err(StagingError::from)?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let content_length = headers
        .typed_get::<ContentLength>()
        .map(|ContentLength(length)| length);
    let etag = staging
        .receive(
            &key,
            grant,
            content_type,
            content_length,
            body.into_data_stream(),
        )
        .await?;
    let mut response = StatusCode::OK.into_response();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(ETAG, value);
    }
    Ok(no_store(response))
}
