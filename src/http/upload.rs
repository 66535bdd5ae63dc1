//! `POST /upload?type=profile|image`: read the form, hand every file to the upload use case
//! concurrently, and answer one JSON item per file in request order.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use headers::{ContentLength, HeaderMapExt};
use serde::Serialize;

use super::log::{FileOutcome, FileOutcomes};
use crate::error::{ApiError, ErrorDetail, Failures};
use crate::request::{FilePart, RequestError, UploadKind, discard_body, read_upload_form};
use crate::service::StoredImage;
use crate::state::AppState;

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
    /// Whether the stored file is an animated WebP; `frames` and `durationMs` come with it.
    pub animated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    pub placeholder: PlaceholderJson,
}

/// What a client paints before the file loads: the ThumbHash in standard base64 (with
/// padding) and the dominant colour as `#rrggbb`.
#[derive(Debug, Serialize)]
pub struct PlaceholderJson {
    pub thumbhash: String,
    pub color: String,
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

/// What became of one file part.
struct Outcome {
    index: usize,
    original_name: Option<String>,
    bytes_in: usize,
    result: Result<StoredFile, ApiError>,
}

pub async fn upload(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    no_store(handle(&state, &uri, &headers, body).await)
}

/// An upload answer describes one request's outcome: no cache may keep or replay it.
pub(super) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn handle(state: &AppState, uri: &Uri, headers: &HeaderMap, body: Body) -> Response {
    let form_limits = state.config.limits().form();
    // Taken before a byte of the body is read, held until the answer: the body's memory.
    let _memory = match state
        .upload_memory
        .reserve(body_size_bound(headers, form_limits.max_request_bytes))
    {
        Ok(share) => share,
        Err(busy) => {
            // Read and dropped, not kept: the refusal costs no memory, and a client that
            // streams its body after the headers still gets to read it.
            discard_body(body, form_limits.max_request_bytes).await;
            return ApiError::from(busy).into_response();
        }
    };
    let kind = match UploadKind::from_query(uri.query()) {
        Ok(kind) => kind,
        Err(e) => {
            discard_body(body, form_limits.max_request_bytes).await;
            return ApiError::from(e).into_response();
        }
    };
    let form = match read_upload_form(headers, body, form_limits).await {
        Ok(form) => form,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let now = Utc::now();
    let base_url = public_base_url(state, headers);
    let base_url = base_url.as_deref();
    let uploads = form.files.into_iter().map(|part| async move {
        Outcome {
            index: part.index,
            original_name: part.original_name.clone(),
            bytes_in: part.content.as_ref().map_or(0, |bytes| bytes.len()),
            result: store_file(state, kind, now, base_url, part).await,
        }
    });
    let outcomes = join_all(uploads).await;
    for outcome in &outcomes {
        let result = outcome
            .result
            .as_ref()
            .map(drop)
            .map_err(|e| e.code().as_str());
        state.metrics.upload(kind.as_str(), result);
    }
    answer(outcomes)
}

/// The most this request's body can hold in memory: its `Content-Length` when it gives one
/// (a longer body is refused when it gets there), else the largest body allowed.
fn body_size_bound(headers: &HeaderMap, max_request_bytes: u64) -> u64 {
    headers
        .typed_get::<ContentLength>()
        .map_or(max_request_bytes, |ContentLength(length)| {
            length.min(max_request_bytes)
        })
}

async fn store_file(
    state: &AppState,
    kind: UploadKind,
    now: DateTime<Utc>,
    base_url: Option<&str>,
    part: FilePart,
) -> Result<StoredFile, ApiError> {
    let bytes = part.content?;
    let prefix = state.config.upload().prefix(kind).as_str();
    let stored = state
        .uploads
        .store(bytes, kind.preset(), prefix, now, part.original_name)
        .await?;
    Ok(stored_file(state, base_url, stored))
}

/// A stored image in the answer's shape, its `fileUrl` on `base_url` when there is one.
pub(super) fn stored_file(
    state: &AppState,
    base_url: Option<&str>,
    stored: StoredImage,
) -> StoredFile {
    StoredFile {
        bucket: state.store.bucket().to_owned(),
        file_url: match base_url {
            Some(base) => format!("{base}/{}", stored.key),
            None => state.store.default_url(&stored.key),
        },
        key: stored.key,
        content_type: stored.content_type,
        size: stored.size,
        width: stored.width,
        height: stored.height,
        original_name: stored.original_name,
        animated: stored.animation.is_some(),
        frames: stored.animation.map(|a| a.frames),
        duration_ms: stored.animation.map(|a| a.duration_ms),
        placeholder: PlaceholderJson {
            thumbhash: BASE64_STANDARD.encode(&stored.placeholder.thumbhash),
            color: format!("#{}", hex::encode(stored.placeholder.color)),
        },
    }
}

/// The base of `fileUrl` for this request: `https://{X-Forwarded-Host}` when trusted and
/// present (behind CloudFront, whose domain the upload function cannot be told at deploy
/// time), else the configured public base URL.
pub(super) fn public_base_url(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let upload = state.config.upload();
    let forwarded = upload
        .trust_forwarded_host
        .then(|| forwarded_host(headers))
        .flatten();
    match forwarded {
        Some(host) => Some(format!("https://{host}")),
        None => upload
            .public_base_url
            .as_ref()
            .map(|url| url.as_str().to_owned()),
    }
}

/// The first `X-Forwarded-Host`, when it is a plain host (trusting it is the caller's call).
pub(super) fn forwarded_host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-forwarded-host")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|host| is_host(host))
}

/// A host name with an optional port: nothing that could change the URL's shape.
pub(super) fn is_host(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
}

/// 200 when every file is stored; 207 with failed items in place when some are; otherwise the
/// first failure as the whole answer.
fn answer(outcomes: Vec<Outcome>) -> Response {
    let files = file_outcomes(&outcomes);
    let mut response = respond(outcomes);
    response.extensions_mut().insert(files);
    response
}

/// Each file's fate as the request's log line tells it.
fn file_outcomes(outcomes: &[Outcome]) -> FileOutcomes {
    let files = outcomes.iter().map(|outcome| FileOutcome {
        index: outcome.index,
        bytes_in: Some(outcome.bytes_in),
        result: match &outcome.result {
            Ok(file) => Ok((file.key.clone(), file.size)),
            Err(error) => Err(error.code()),
        },
    });
    FileOutcomes(files.collect())
}

fn respond(outcomes: Vec<Outcome>) -> Response {
    let stored = outcomes.iter().filter(|o| o.result.is_ok()).count();
    if stored == 0 {
        let first_failure = outcomes
            .into_iter()
            .find_map(|o| o.result.err().map(|e| (o.index, e)));
        return match first_failure {
            Some((index, error)) => error.response_for(Some(index)),
            // The form refuses a request without files, so this is never reached.
            None => ApiError::from(RequestError::MissingFile).into_response(),
        };
    }
    let status = if stored == outcomes.len() {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    let mut failures = Vec::new();
    let items: Vec<Item> = outcomes
        .into_iter()
        .map(|outcome| match outcome.result {
            Ok(file) => Item::Stored(file),
            Err(error) => {
                failures.push(error.failure(Some(outcome.index)));
                Item::Failed(FailedFile {
                    error: error.detail(None),
                    original_name: outcome.original_name,
                    index: outcome.index,
                })
            }
        })
        .collect();
    let mut response = (status, Json(items)).into_response();
    if !failures.is_empty() {
        response.extensions_mut().insert(Failures(failures));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_hosts_are_trusted_as_forwarded_hosts() {
        assert!(is_host("d111.cloudfront.net"));
        assert!(is_host("localhost:3000"));
        assert!(!is_host(""));
        assert!(!is_host("evil.com/path"));
        assert!(!is_host("a b"));
    }
}
