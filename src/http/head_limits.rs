//! Limits on the request head, answered in JSON like every other refusal. hyper has its own,
//! higher limits (its answers have no body and no CORS headers, so a browser client cannot
//! tell what happened); these are lower, so they are the ones clients meet.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Longest request target (path and query). Transform URLs are a key and a short query;
/// CloudFront refuses URLs past 8,192 bytes too.
pub const MAX_URI_BYTES: usize = 8192;

/// Most header lines in a request. Browsers send about 20.
pub const MAX_HEADERS: usize = 100;

/// Most bytes of header names and values together.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

pub async fn head_limits(request: Request, next: Next) -> Response {
    match check(&request) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn check(request: &Request) -> Result<(), ApiError> {
    let uri_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong(MAX_URI_BYTES));
    }
    let headers = request.headers();
    if headers.len() > MAX_HEADERS {
        return Err(ApiError::HeadersTooLarge(format!(
            "{} header lines, at most {MAX_HEADERS}",
            headers.len()
        )));
    }
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if bytes > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge(format!(
            "{bytes} bytes of headers, at most {MAX_HEADER_BYTES}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn request(target: &str) -> Request {
        Request::builder()
            .uri(target)
            .body(axum::body::Body::empty())
            .unwrap()
    }

    #[test]
    fn heads_within_the_limits_pass_and_others_are_named() {
        assert!(check(&request("/img/a.jpg?w=200")).is_ok());
        let long = format!("/img/{}", "a".repeat(MAX_URI_BYTES));
        assert!(matches!(
            check(&request(&long)),
            Err(ApiError::UriTooLong(_))
        ));

        let mut many = request("/upload");
        for i in 0..=MAX_HEADERS {
            many.headers_mut().insert(
                format!("x-h{i}").parse::<axum::http::HeaderName>().unwrap(),
                HeaderValue::from_static("1"),
            );
        }
        assert!(matches!(check(&many), Err(ApiError::HeadersTooLarge(_))));

        let mut big = request("/upload");
        let value = HeaderValue::from_str(&"v".repeat(MAX_HEADER_BYTES)).unwrap();
        big.headers_mut().insert("cookie", value);
        assert!(matches!(check(&big), Err(ApiError::HeadersTooLarge(_))));
    }
}
