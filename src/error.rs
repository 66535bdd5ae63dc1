//! The one place where failures become HTTP answers: every error the gateway can give maps to a
//! status and a stable machine code (listed in `openapi.yaml`), with a JSON body of one shape.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::pipeline::PipelineError;
use crate::request::RequestError;
use crate::storage::StoreError;

/// Everything a request can fail with, folded from each boundary's own error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no such resource")]
    NotFound,
    #[error("method not allowed on this resource")]
    MethodNotAllowed,
    #[error("origin is not allowed to use this API")]
    OriginNotAllowed,
    #[error("the request took longer than {0} s")]
    Timeout(u64),
    #[error("internal error: {0}")]
    Internal(String),
    /// One failure answered to every request that waited on the same work (single-flight).
    #[error(transparent)]
    Shared(std::sync::Arc<ApiError>),
}

impl ApiError {
    /// HTTP status and stable code; the only mapping of errors to HTTP.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use PipelineError as P;
        use RequestError as R;
        match self {
            Self::Request(e) => match e {
                R::InvalidType => (StatusCode::BAD_REQUEST, "invalid_type"),
                R::UnsupportedMediaType => {
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
                }
                R::MalformedMultipart(_) => (StatusCode::BAD_REQUEST, "malformed_multipart"),
                R::MissingFile => (StatusCode::BAD_REQUEST, "missing_file"),
                R::TooManyFiles { .. } => (StatusCode::BAD_REQUEST, "too_many_files"),
                R::FileTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large"),
                R::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
                R::BodyRead(_) => (StatusCode::BAD_REQUEST, "malformed_multipart"),
                R::InvalidParam { .. } => (StatusCode::BAD_REQUEST, "invalid_param"),
                R::SizeNotAllowed { .. } => (StatusCode::BAD_REQUEST, "size_not_allowed"),
                R::BadSignature => (StatusCode::FORBIDDEN, "bad_signature"),
            },
            Self::Pipeline(e) => match e {
                P::EmptyFile => (StatusCode::BAD_REQUEST, "empty_file"),
                P::UnsupportedFormat(_) => {
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_format")
                }
                P::ImageTooLarge { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "image_too_large"),
                P::CorruptImage(_) => (StatusCode::UNPROCESSABLE_ENTITY, "corrupt_image"),
                P::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            },
            Self::Store(StoreError::InvalidKey) | Self::NotFound => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            Self::Store(_) => (StatusCode::BAD_GATEWAY, "storage_unavailable"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::OriginNotAllowed => (StatusCode::FORBIDDEN, "origin_not_allowed"),
            Self::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
            Self::Shared(inner) => inner.status_and_code(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    /// What the client is told. Server-side causes stay in the log, not in the answer.
    pub fn public_message(&self) -> String {
        if let Self::Shared(inner) = self {
            return inner.public_message();
        }
        if self.status().is_server_error() {
            return match self {
                Self::Store(_) => "storage is unavailable, try again".to_owned(),
                _ => "internal error".to_owned(),
            };
        }
        self.to_string()
    }

    /// The `{code, message}` pair every error body carries.
    pub fn detail(&self, index: Option<usize>) -> ErrorDetail {
        self.log();
        ErrorDetail {
            code: self.code(),
            message: self.public_message(),
            index,
            param: self.param(),
        }
    }

    fn param(&self) -> Option<String> {
        match self {
            Self::Request(RequestError::InvalidParam { param, .. }) => Some(param.clone()),
            Self::Shared(inner) => inner.param(),
            _ => None,
        }
    }

    fn log(&self) {
        if self.status().is_server_error() {
            tracing::error!(code = self.code(), error = %self, "request failed");
        } else {
            tracing::info!(code = self.code(), error = %self, "request refused");
        }
    }

    /// The whole-request answer: this error's status with `{error: {code, message, index?}}`.
    pub fn response_for(&self, index: Option<usize>) -> Response {
        let status = self.status();
        (
            status,
            Json(ErrorBody {
                error: self.detail(index),
            }),
        )
            .into_response()
    }
}

/// `{code, message, index?, param?}`: the error object inside every error body.
#[derive(Debug, Serialize)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The query parameter an `invalid_param` error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

#[derive(Debug, Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(error: tokio::task::JoinError) -> Self {
        Self::Internal(format!("task failed: {error}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.response_for(None)
    }
}
