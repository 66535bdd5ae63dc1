//! `/direct/{type}/…`: direct uploads in the protocol of Uppy Companion's S3 routes, so Uppy's
//! AWS S3 plugin works with only `endpoint: "{base}/direct/{type}"`, and any client can make
//! the same calls. The bytes go to the staging area through signed URLs; `complete` processes
//! the staged original like `POST /upload` and answers its item, plus `location`.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use serde_json::json;

use super::log::{FileOutcome, FileOutcomes};
use super::upload::{StoredFile, forwarded_host, is_host, no_store, public_base_url, stored_file};
use crate::error::ApiError;
use crate::request::direct::{
    CompleteRequest, CreateRequest, SinglePutRequest, part_number, part_numbers, staging_key,
};
use crate::request::{RequestError, UploadKind};
use crate::service::{Destination, ServiceError, StoredImage};
use crate::state::AppState;
use crate::storage::staging::SinglePut;

/// Largest JSON body a protocol call takes: a complete of the most parts fits many times over.
const MAX_JSON_BODY: usize = 1 << 20;

/// `GET E/s3/params?filename=&type=&size=`: a staging key and one presigned PUT for it.
pub async fn params(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    answer(async {
        let kind = UploadKind::from_segment(&kind)?;
        let request = SinglePutRequest::from_query(uri.query())?;
        let put = SinglePut {
            content_type: request.content_type,
            length: request.size,
            original_name: request.original_name,
        };
        let (key, signed) = state
            .direct
            .sign_put(destination(&state, kind), put, &origin(&state, &headers))
            .await?;
        let headers: BTreeMap<String, String> = signed.headers.into_iter().collect();
        Ok(Json(json!({
            "method": "PUT",
            "url": signed.url,
            "fields": {},
            "headers": headers,
            "expires": state.direct.settings().url_ttl.as_secs(),
            "key": key,
        })))
    })
    .await
}

/// `POST E/s3/multipart` `{filename, type, metadata}`: a staging key and a multipart upload.
pub async fn create(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    body: Body,
) -> Response {
    answer(async {
        let kind = UploadKind::from_segment(&kind)?;
        let request = CreateRequest::from_body(&read_json_body(body).await?)?;
        let (upload_id, key) = state
            .direct
            .create(
                destination(&state, kind),
                &request.content_type,
                request.original_name.as_deref(),
                request.size,
            )
            .await?;
        Ok(Json(json!({
            "uploadId": upload_id,
            "key": key,
            "bucket": state.store.bucket(),
        })))
    })
    .await
}

/// `GET E/s3/multipart/{uploadId}/{partNumber}?key=`: a URL for one part.
pub async fn sign_part(
    State(state): State<AppState>,
    Path((kind, upload_id, number)): Path<(String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    answer(async {
        let kind = UploadKind::from_segment(&kind)?;
        let key = staging_key(uri.query())?;
        let number = part_number(&number)?;
        let urls = state
            .direct
            .sign_parts(
                destination(&state, kind),
                &key,
                &upload_id,
                &[number],
                &origin(&state, &headers),
            )
            .await?;
        Ok(Json(json!({
            "url": urls.into_iter().next(),
            "expires": state.direct.settings().url_ttl.as_secs(),
        })))
    })
    .await
}

/// `GET E/s3/multipart/{uploadId}/batch?key=&partNumbers=1,2`: URLs for several parts.
pub async fn sign_batch(
    State(state): State<AppState>,
    Path((kind, upload_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    answer(async {
        let kind = UploadKind::from_segment(&kind)?;
        let key = staging_key(uri.query())?;
        let numbers = part_numbers(uri.query(), state.direct.max_parts())?;
        let urls = state
            .direct
            .sign_parts(
                destination(&state, kind),
                &key,
                &upload_id,
                &numbers,
                &origin(&state, &headers),
            )
            .await?;
        let presigned: BTreeMap<String, String> =
            numbers.iter().map(u32::to_string).zip(urls).collect();
        Ok(Json(json!({ "presignedUrls": presigned })))
    })
    .await
}

/// One part as the list call gives it (S3's own field names, as Companion passes them on).
#[derive(Serialize)]
struct ListedPart {
    #[serde(rename = "PartNumber")]
    number: u32,
    #[serde(rename = "Size")]
    size: u64,
    #[serde(rename = "ETag")]
    etag: String,
}

/// `GET E/s3/multipart/{uploadId}?key=`: the parts already uploaded, for a resume.
pub async fn list_parts(
    State(state): State<AppState>,
    Path((kind, upload_id)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    answer(async {
        let kind = UploadKind::from_segment(&kind)?;
        let key = staging_key(uri.query())?;
        let parts = state
            .direct
            .list_parts(destination(&state, kind), &key, &upload_id)
            .await?;
        let parts: Vec<ListedPart> = parts
            .into_iter()
            .map(|part| ListedPart {
                number: part.number,
                size: part.size,
                etag: part.etag,
            })
            .collect();
        Ok(Json(parts))
    })
    .await
}

/// `DELETE E/s3/multipart/{uploadId}?key=`: drops the upload and its parts.
pub async fn abort(
    State(state): State<AppState>,
    Path((kind, upload_id)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    answer(async {
        let kind = UploadKind::from_segment(&kind)?;
        let key = staging_key(uri.query())?;
        state
            .direct
            .abort(destination(&state, kind), &key, &upload_id)
            .await?;
        Ok(Json(json!({})))
    })
    .await
}

/// The answer of both completes: the `/upload` item, and `location` as S3's complete gives it
/// (Uppy reports it as the file's `uploadURL`).
#[derive(Serialize)]
struct Completed {
    location: String,
    #[serde(flatten)]
    file: StoredFile,
}

/// `POST E/s3/multipart/{uploadId}/complete?key=` `{parts}`: joins the parts, then processes
/// the staged original.
pub async fn complete_multipart(
    State(state): State<AppState>,
    Path((kind, upload_id)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(async {
        let kind = UploadKind::from_segment(&kind)?;
        let key = staging_key(uri.query())?;
        let request = CompleteRequest::from_body(&read_json_body(body).await?)?;
        let stored = state
            .direct
            .complete_multipart(
                destination(&state, kind),
                &key,
                &upload_id,
                &request.parts,
                Utc::now(),
            )
            .await;
        completed(&state, &headers, kind, stored)
    })
    .await
}

/// `POST E/complete?key=`: processes what a single PUT staged.
pub async fn complete_single(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    answer(async {
        let kind = UploadKind::from_segment(&kind)?;
        let key = staging_key(uri.query())?;
        let stored = state
            .direct
            .complete_single(destination(&state, kind), &key, Utc::now())
            .await;
        completed(&state, &headers, kind, stored)
    })
    .await
}

/// The answer of a complete: the stored file, counted as `/upload` counts its files and left
/// on the answer for the request's log line. A refusal of the protocol (unknown upload, bad
/// parts) is no file's outcome: it counts as a request only.
fn completed(
    state: &AppState,
    headers: &HeaderMap,
    kind: UploadKind,
    stored: Result<StoredImage, ServiceError>,
) -> Result<Response, ApiError> {
    let stored = match stored {
        Ok(stored) => stored,
        Err(error) => {
            let error = ApiError::from(error);
            if is_file_failure(&error) {
                state
                    .metrics
                    .upload(kind.as_str(), Err(error.code().as_str()));
            }
            return Err(error);
        }
    };
    state.metrics.upload(kind.as_str(), Ok(()));
    let base_url = public_base_url(state, headers);
    let file = stored_file(state, base_url.as_deref(), stored);
    let outcome = FileOutcome {
        index: 0,
        bytes_in: None,
        result: Ok((file.key.clone(), file.size)),
    };
    let mut response = Json(Completed {
        location: file.file_url.clone(),
        file,
    })
    .into_response();
    response
        .extensions_mut()
        .insert(FileOutcomes(vec![outcome]));
    Ok(response)
}

/// Whether a complete failed on the file itself (its bytes, or storing the result), as an
/// upload's file can.
fn is_file_failure(error: &ApiError) -> bool {
    matches!(
        error,
        ApiError::Service(service)
            if matches!(**service, ServiceError::Pipeline(_) | ServiceError::Store(_))
    )
}

/// Runs a handler's body and makes its outcome the answer, never cached.
async fn answer<T: IntoResponse>(handler: impl Future<Output = Result<T, ApiError>>) -> Response {
    no_store(match handler.await {
        Ok(ok) => ok.into_response(),
        Err(error) => error.response_for_uppy(),
    })
}

fn destination(state: &AppState, kind: UploadKind) -> Destination<'_> {
    Destination {
        tag: kind.as_str(),
        preset: kind.preset(),
        prefix: state.config.upload().prefix(kind).as_str(),
    }
}

/// Where this server is reached, for the disk staging's own URLs: the forwarded host (and
/// `X-Forwarded-Proto`, https unless it says http) when trusted and valid, else the `Host` the
/// client used, else the listening address.
fn origin(state: &AppState, headers: &HeaderMap) -> String {
    let forwarded = state
        .config
        .upload()
        .trust_forwarded_host
        .then(|| forwarded_host(headers))
        .flatten();
    if let Some(host) = forwarded {
        let proto = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim);
        let scheme = if proto == Some("http") {
            "http"
        } else {
            "https"
        };
        return format!("{scheme}://{host}");
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|host| is_host(host));
    match host {
        Some(host) => format!("http://{host}"),
        None => format!("http://{}", state.config.http().addr),
    }
}

async fn read_json_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_JSON_BODY)
        .await
        .map_err(|_| {
            RequestError::PayloadTooLarge {
                max: MAX_JSON_BODY as u64,
            }
            .into()
        })
}
