//! The outermost layer: names each request (the platform's id when the Lambda entry found one,
//! else a new one), serves it inside a `request` span carrying that id, so every log line
//! written while it runs names it, and puts the id on the answer as `x-request-id`.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::request_id::{self, RequestId};

pub async fn assign(request: Request, next: Next) -> Response {
    let id = request
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::generate);
    let span = tracing::info_span!("request", requestId = %id);
    let header = HeaderValue::from_str(id.as_str()).ok();
    let mut response = id.scope(next.run(request)).instrument(span).await;
    if let Some(header) = header {
        response.headers_mut().insert(request_id::HEADER, header);
    }
    response
}
