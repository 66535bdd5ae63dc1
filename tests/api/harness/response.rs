//! An answer read whole, whichever way it came: the router in-process, a Lambda runtime, or a
//! raw socket.

use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;

#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl TestResponse {
    pub async fn read(response: axum::response::Response) -> Self {
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Self {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error.code` of an error body.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The stored key of item `index` of an upload answer.
    pub fn key(&self, index: usize) -> String {
        let item = &self.json()[index];
        item["key"]
            .as_str()
            .unwrap_or_else(|| panic!("no key in item {index}: {item}"))
            .to_owned()
    }

    /// Asserts the status, showing (the start of) the body when it differs.
    pub fn assert_status(&self, status: StatusCode, label: &str) {
        assert_eq!(
            self.status,
            status,
            "{label}: {}",
            String::from_utf8_lossy(&self.body[..self.body.len().min(1000)])
        );
    }
}
