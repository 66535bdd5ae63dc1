//! `POST /upload?type=profile|image`: read the form, run every file through the pipeline and
//! into storage concurrently, and answer one JSON item per file in request order.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde::Serialize;

use crate::app::AppState;
use crate::error::{ApiError, ErrorDetail};
use crate::request::{FilePart, UploadKind, discard_body, read_upload_form};
use crate::storage::{NewObject, content_key};

/// One stored file, in the shape the chat clients parse.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredFile {
    pub bucket: String,
    pub key: String,
    pub file_url: String,
    pub content_type: &'static str,
    pub size: usize,
    pub width: u32,
    pub height: u32,
    pub original_name: Option<String>,
}

/// One file that failed while others were stored (the items of a 207 answer).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FailedFile {
    error: ErrorDetail,
    original_name: Option<String>,
    index: usize,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Item {
    Stored(StoredFile),
    Failed(FailedFile),
}

pub async fn upload(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut response = handle(&state, &uri, &headers, body).await;
    // An upload answer describes one request's outcome: no cache may keep or replay it.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn handle(state: &AppState, uri: &Uri, headers: &HeaderMap, body: Body) -> Response {
    let kind = match UploadKind::from_query(uri.query()) {
        Ok(kind) => kind,
        Err(e) => {
            discard_body(body, state.settings.form_limits.max_request_bytes).await;
            return ApiError::from(e).into_response();
        }
    };
    let form = match read_upload_form(headers, body, state.settings.form_limits).await {
        Ok(form) => form,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let now = Utc::now();
    let base_url = state.public_base_url(headers);
    let base_url = base_url.as_deref();
    let uploads = form.files.into_iter().map(|part| {
        let name = part.original_name.clone();
        let index = part.index;
        async move {
            (
                index,
                name,
                store_file(state, kind, now, base_url, part).await,
            )
        }
    });
    answer(join_all(uploads).await)
}

async fn store_file(
    state: &AppState,
    kind: UploadKind,
    now: DateTime<Utc>,
    base_url: Option<&str>,
    part: FilePart,
) -> Result<StoredFile, ApiError> {
    let bytes = part.content?;
    let image = state.process_image(bytes, kind.preset()).await?;
    let key = content_key(
        state.prefix(kind),
        now,
        &image.bytes,
        image.format.extension(),
    );
    let size = image.bytes.len();
    let content_type = image.format.content_type();
    state
        .store
        .put(NewObject {
            key: key.clone(),
            bytes: Bytes::from(image.bytes),
            content_type,
            original_name: part.original_name.clone(),
        })
        .await?;
    Ok(StoredFile {
        bucket: state.store.bucket().to_owned(),
        file_url: state.file_url(base_url, &key),
        key,
        content_type,
        size,
        width: image.width,
        height: image.height,
        original_name: part.original_name,
    })
}

/// 200 when every file is stored; 207 with failed items in place when some are; otherwise the
/// first failure as the whole answer.
fn answer(outcomes: Vec<(usize, Option<String>, Result<StoredFile, ApiError>)>) -> Response {
    let stored = outcomes
        .iter()
        .filter(|(_, _, outcome)| outcome.is_ok())
        .count();
    if stored == 0 {
        let first_failure = outcomes
            .into_iter()
            .find_map(|(index, _, outcome)| outcome.err().map(|e| (index, e)));
        return match first_failure {
            Some((index, error)) => error.response_for(Some(index)),
            None => ApiError::Internal("upload produced no outcome".into()).into_response(),
        };
    }
    let status = if stored == outcomes.len() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let items: Vec<Item> = outcomes
        .into_iter()
        .map(|(index, original_name, outcome)| match outcome {
            Ok(file) => Item::Stored(file),
            Err(error) => Item::Failed(FailedFile {
                error: error.detail(None),
                original_name,
                index,
            }),
        })
        .collect();
    (status, Json(items)).into_response()
}
