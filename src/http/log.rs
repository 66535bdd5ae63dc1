//! One log line for each failed request, written here and nowhere else: the answer carries its
//! failures as a response extension (see `error::Failures`), so a failure shared by many
//! single-flight waiters is logged once per request that answered it, and an answer that was
//! not a failure in the end (a preflight routing first refuses with 405, then answers 204) is
//! not logged as one.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::Failures;

pub async fn failures(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let Some(Failures(failures)) = response.extensions().get::<Failures>() else {
        return response;
    };
    let status = response.status().as_u16();
    let codes: Vec<&str> = failures.iter().map(|f| f.code.as_str()).collect();
    let causes: Vec<String> = failures
        .iter()
        .map(|f| match f.index {
            Some(index) => format!("[file {index}] {}", f.cause),
            None => f.cause.clone(),
        })
        .collect();
    let (codes, causes) = (codes.join(","), causes.join("; "));
    if failures.iter().any(|f| f.code.status().is_server_error()) {
        tracing::error!(%method, path, status, code = codes, error = causes, "request failed");
    } else {
        tracing::info!(%method, path, status, code = codes, error = causes, "request refused");
    }
    response
}
