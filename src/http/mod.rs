//! The HTTP edge: route handlers, CORS, and the fallbacks that keep every answer JSON.

pub mod cors;
pub mod files;
pub mod upload;

use crate::error::ApiError;

pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
