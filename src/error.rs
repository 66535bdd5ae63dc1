//! The one place where failures become HTTP answers: every error the gateway can give maps to a
//! stable machine code ([`ErrorCode`], listed in `openapi.yaml`), each code to one status, and
//! every error body has one JSON shape. The response carries the failure as an extension too,
//! so the request is logged once, with its whole cause chain, by `http::log`.

use std::sync::Arc;

use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Serialize, Serializer};

use crate::auth::{AuthError, retry_after_secs};
use crate::pipeline::PipelineError;
use crate::request::RequestError;
use crate::request_id;
use crate::service::{DirectError, ServiceError};
use crate::storage::StoreError;
use crate::storage::staging::{PutRefusal, StagingError};

/// Declares [`ErrorCode`] from one table: variant, code on the wire, HTTP status.
macro_rules! error_codes {
    ($($variant:ident => $code:literal, $status:ident;)*) => {
        /// The stable machine codes of error answers (`error.code`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &[Self] = &[$(Self::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            pub fn status(self) -> StatusCode {
                match self {
                    $(Self::$variant => StatusCode::$status,)*
                }
            }
        }
    };
}

error_codes! {
    InvalidType => "invalid_type", BAD_REQUEST;
    UnsupportedMediaType => "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE;
    MalformedMultipart => "malformed_multipart", BAD_REQUEST;
    MissingFile => "missing_file", BAD_REQUEST;
    TooManyFiles => "too_many_files", BAD_REQUEST;
    FileTooLarge => "file_too_large", PAYLOAD_TOO_LARGE;
    PayloadTooLarge => "payload_too_large", PAYLOAD_TOO_LARGE;
    InvalidParam => "invalid_param", BAD_REQUEST;
    SizeNotAllowed => "size_not_allowed", BAD_REQUEST;
    BadSignature => "bad_signature", FORBIDDEN;
    EmptyFile => "empty_file", BAD_REQUEST;
    UnsupportedFormat => "unsupported_format", UNSUPPORTED_MEDIA_TYPE;
    ImageTooLarge => "image_too_large", UNPROCESSABLE_ENTITY;
    CorruptImage => "corrupt_image", UNPROCESSABLE_ENTITY;
    NotFound => "not_found", NOT_FOUND;
    InvalidBody => "invalid_body", BAD_REQUEST;
    InvalidStagingKey => "invalid_staging_key", BAD_REQUEST;
    UploadNotFound => "upload_not_found", NOT_FOUND;
    InvalidParts => "invalid_parts", BAD_REQUEST;
    PartLimitExceeded => "part_limit_exceeded", PAYLOAD_TOO_LARGE;
    StagedTooLarge => "staged_too_large", PAYLOAD_TOO_LARGE;
    UploadInProgress => "upload_in_progress", CONFLICT;
    UrlExpired => "url_expired", FORBIDDEN;
    UrlReused => "url_reused", FORBIDDEN;
    MethodNotAllowed => "method_not_allowed", METHOD_NOT_ALLOWED;
    OriginNotAllowed => "origin_not_allowed", FORBIDDEN;
    Unauthorized => "unauthorized", UNAUTHORIZED;
    RateLimited => "rate_limited", TOO_MANY_REQUESTS;
    AuthUnavailable => "auth_unavailable", SERVICE_UNAVAILABLE;
    RequestTimeout => "request_timeout", REQUEST_TIMEOUT;
    UriTooLong => "uri_too_long", URI_TOO_LONG;
    HeadersTooLarge => "headers_too_large", REQUEST_HEADER_FIELDS_TOO_LARGE;
    Overloaded => "overloaded", SERVICE_UNAVAILABLE;
    StorageUnavailable => "storage_unavailable", BAD_GATEWAY;
    InsufficientStorage => "insufficient_storage", INSUFFICIENT_STORAGE;
    InternalError => "internal_error", INTERNAL_SERVER_ERROR;
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Everything a request can fail with, folded from each boundary's own error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Shared: a single-flight render answers one failure to every request that waited on it.
    #[error(transparent)]
    Service(Arc<ServiceError>),
    #[error("no such resource")]
    NotFound,
    #[error("method not allowed on this resource")]
    MethodNotAllowed,
    #[error("origin is not allowed to use this API")]
    OriginNotAllowed,
    #[error("the request took longer than {0} s")]
    Timeout(u64),
    #[error("the request URI is longer than {0} bytes")]
    UriTooLong(usize),
    #[error("the request head is over its limits ({0})")]
    HeadersTooLarge(String),
    /// A bounded resource is in full use; the answer says when to retry.
    #[error("the server is busy ({0}); retry in a moment")]
    Overloaded(&'static str),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// What `Retry-After` says on a 503 `overloaded`: long enough for a burst to pass, short enough
/// that an interactive client retrying once does not notice much.
pub const RETRY_AFTER_SECS: u64 = 2;

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self::Service(Arc::new(error))
    }
}

impl From<Arc<ServiceError>> for ApiError {
    fn from(error: Arc<ServiceError>) -> Self {
        Self::Service(error)
    }
}

impl From<StagingError> for ApiError {
    fn from(error: StagingError) -> Self {
        ServiceError::Staging(error).into()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ServiceError::Store(error).into()
    }
}

impl ApiError {
    /// The stable code; the only mapping of errors to HTTP.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Request(e) => request_code(e),
            Self::Auth(e) => auth_code(e),
            Self::Service(e) => service_code(e),
            Self::NotFound => ErrorCode::NotFound,
            Self::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            Self::OriginNotAllowed => ErrorCode::OriginNotAllowed,
            Self::Timeout(_) => ErrorCode::RequestTimeout,
            Self::UriTooLong(_) => ErrorCode::UriTooLong,
            Self::HeadersTooLarge(_) => ErrorCode::HeadersTooLarge,
            Self::Overloaded(_) => ErrorCode::Overloaded,
            Self::Internal(_) => ErrorCode::InternalError,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code().status()
    }

    /// What the client is told. Server-side causes stay in the log, not in the answer.
    pub fn public_message(&self) -> String {
        match self.code() {
            ErrorCode::StorageUnavailable => "storage is unavailable, try again".to_owned(),
            ErrorCode::Overloaded => self.to_string(),
            ErrorCode::InsufficientStorage => "storage is full, try again later".to_owned(),
            ErrorCode::AuthUnavailable => "cannot check tokens now, try again".to_owned(),
            code if code.status().is_server_error() => "internal error".to_owned(),
            _ => self.to_string(),
        }
    }

    /// The `{code, message, requestId}` every error body carries.
    pub fn detail(&self, index: Option<usize>) -> ErrorDetail {
        ErrorDetail {
            code: self.code(),
            message: self.public_message(),
            index,
            param: match self {
                Self::Request(RequestError::InvalidParam { param, .. }) => Some(param.clone()),
                _ => None,
            },
            request_id: request_id::current().map(|id| id.as_str().to_owned()),
        }
    }

    /// What the log says of this failure: its code and the whole chain of causes.
    pub fn failure(&self, index: Option<usize>) -> Failure {
        Failure {
            code: self.code(),
            index,
            cause: cause_chain(self),
        }
    }

    /// The JSON body alone, for an answer written below the router (the local server's refusal
    /// of a connection over its cap). Serialising these plain structs cannot fail.
    pub fn body_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&ErrorBody {
            error: self.detail(None),
            message: None,
        })
        .unwrap_or_default()
    }

    /// The whole-request answer: this error's status with `{error: {code, message, index?}}`.
    pub fn response_for(&self, index: Option<usize>) -> Response {
        self.respond(index, None)
    }

    /// The answer of a direct upload call: the same, plus `"{code}: {message}"` at the top
    /// level, where Uppy's client reads it: it shows a 4xx's `message` as it is and passes
    /// nothing else on, so the code rides in the text.
    pub fn response_for_uppy(&self) -> Response {
        let top = format!("{}: {}", self.code().as_str(), self.public_message());
        self.respond(None, Some(top))
    }

    fn respond(&self, index: Option<usize>, top_message: Option<String>) -> Response {
        let body = Json(ErrorBody {
            error: self.detail(index),
            message: top_message,
        });
        let mut response = (self.status(), body).into_response();
        self.add_headers(response.headers_mut());
        response
            .extensions_mut()
            .insert(Failures(vec![self.failure(index)]));
        response
    }

    /// The headers a refusal owes the client: the bearer challenge of a 401 (RFC 6750 §3) and
    /// `Retry-After` when waiting helps.
    fn add_headers(&self, headers: &mut HeaderMap) {
        if self.code() == ErrorCode::Overloaded {
            headers.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        let Self::Auth(error) = self else {
            return;
        };
        if self.code() == ErrorCode::Unauthorized {
            let challenge = if error.is_invalid_token() {
                r#"Bearer realm="pixgate", error="invalid_token""#
            } else {
                r#"Bearer realm="pixgate""#
            };
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(wait) = error.retry_after() {
            headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs(wait)));
        }
    }
}

fn auth_code(error: &AuthError) -> ErrorCode {
    match error {
        AuthError::RateLimited(_) => ErrorCode::RateLimited,
        AuthError::KeysUnavailable(..) => ErrorCode::AuthUnavailable,
        _ => ErrorCode::Unauthorized,
    }
}

fn request_code(error: &RequestError) -> ErrorCode {
    use RequestError as R;
    match error {
        R::InvalidType => ErrorCode::InvalidType,
        R::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
        R::MalformedMultipart(_) | R::BodyRead(_) => ErrorCode::MalformedMultipart,
        R::MissingFile => ErrorCode::MissingFile,
        R::TooManyFiles { .. } => ErrorCode::TooManyFiles,
        R::FileTooLarge { .. } => ErrorCode::FileTooLarge,
        R::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
        R::InvalidParam { .. } => ErrorCode::InvalidParam,
        R::SizeNotAllowed { .. } => ErrorCode::SizeNotAllowed,
        R::BadSignature => ErrorCode::BadSignature,
        R::InvalidBody(_) => ErrorCode::InvalidBody,
    }
}

fn service_code(error: &ServiceError) -> ErrorCode {
    use PipelineError as P;
    match error {
        ServiceError::Pipeline(e) => match e {
            P::EmptyFile => ErrorCode::EmptyFile,
            P::UnsupportedFormat(_) => ErrorCode::UnsupportedFormat,
            P::ImageTooLarge(_) => ErrorCode::ImageTooLarge,
            P::CorruptImage(_) => ErrorCode::CorruptImage,
            // No one is left to read it; any code would do.
            P::Internal(_) | P::Cancelled => ErrorCode::InternalError,
        },
        ServiceError::Busy(_) => ErrorCode::Overloaded,
        ServiceError::NotFound => ErrorCode::NotFound,
        ServiceError::Store(e) => store_code(e),
        ServiceError::Staging(e) => staging_code(e),
        ServiceError::Direct(e) => direct_code(e),
        ServiceError::Job(_) => ErrorCode::InternalError,
    }
}

fn store_code(error: &StoreError) -> ErrorCode {
    match error {
        StoreError::InvalidKey => ErrorCode::NotFound,
        StoreError::Full(_) => ErrorCode::InsufficientStorage,
        StoreError::Io(_) | StoreError::S3(_) => ErrorCode::StorageUnavailable,
    }
}

fn staging_code(error: &StagingError) -> ErrorCode {
    match error {
        StagingError::NoSuchUpload => ErrorCode::UploadNotFound,
        StagingError::InvalidParts(_) => ErrorCode::InvalidParts,
        StagingError::Store(e) => store_code(e),
        StagingError::Put(refusal) => match refusal {
            PutRefusal::BadSignature
            | PutRefusal::WrongLength { .. }
            | PutRefusal::WrongContentType { .. } => ErrorCode::BadSignature,
            PutRefusal::Expired => ErrorCode::UrlExpired,
            PutRefusal::Reused => ErrorCode::UrlReused,
            PutRefusal::TooLarge { .. } => ErrorCode::PartLimitExceeded,
            PutRefusal::BodyRead(_) => ErrorCode::InvalidBody,
        },
    }
}

fn direct_code(error: &DirectError) -> ErrorCode {
    match error {
        DirectError::ForeignKey => ErrorCode::InvalidStagingKey,
        DirectError::UnknownUpload => ErrorCode::UploadNotFound,
        DirectError::TooLarge { .. } => ErrorCode::FileTooLarge,
        DirectError::PartOutOfRange { .. } => ErrorCode::PartLimitExceeded,
        DirectError::StagedTooLarge { .. } => ErrorCode::StagedTooLarge,
        DirectError::InProgress => ErrorCode::UploadInProgress,
    }
}

/// The error's message followed by each cause's that it does not already end with.
fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.ends_with(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

/// `{code, message, requestId, index?, param?}`: the error object inside every error body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The query parameter an `invalid_param` error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// The request's id (also its `x-request-id`), to quote when asking what went wrong. Absent
    /// only from the answer to a connection refused before its request was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    error: ErrorDetail,
    /// The message again, for clients that read it there (Uppy, on `/direct` routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// One failure as the log records it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: ErrorCode,
    /// The file's position in an upload, when the failure is one file's.
    pub index: Option<usize>,
    pub cause: String,
}

/// Response extension: the failures an answer reports, for the one log line of the request.
#[derive(Debug, Clone)]
pub struct Failures(pub Vec<Failure>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.response_for(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }

    #[test]
    fn a_missing_object_reads_like_any_other_404() {
        let missing = ApiError::from(ServiceError::NotFound);
        assert_eq!(missing.code(), ErrorCode::NotFound);
        assert_eq!(
            missing.public_message(),
            ApiError::NotFound.public_message()
        );
    }

    #[test]
    fn a_full_disk_is_507_and_other_disk_failures_502() {
        use std::io::Error;
        let full = ApiError::from(StoreError::from(Error::from_raw_os_error(libc::ENOSPC)));
        assert_eq!(full.code(), ErrorCode::InsufficientStorage);
        assert_eq!(full.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(full.public_message(), "storage is full, try again later");
        let broken = ApiError::from(StoreError::from(Error::from_raw_os_error(libc::EIO)));
        assert_eq!(broken.code(), ErrorCode::StorageUnavailable);
        assert_eq!(broken.status(), StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn causes_are_kept_once_each() {
        let io = std::io::Error::other("disk on fire");
        let error = ApiError::from(StoreError::Io(io));
        assert_eq!(error.code(), ErrorCode::StorageUnavailable);
        assert_eq!(error.public_message(), "storage is unavailable, try again");
        assert_eq!(
            error.failure(None).cause,
            "disk storage failed: disk on fire"
        );
    }
}
