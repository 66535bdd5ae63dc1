//! A multipart/form-data body built by hand, so tests control every byte.

use axum::body::Body;
use axum::http::{Request, header};

/// A part: field name, file name (files only), Content-Type, bytes.
type Part = (String, Option<String>, Option<String>, Vec<u8>);

#[derive(Debug, Clone, Default)]
pub struct Multipart {
    parts: Vec<Part>,
}

pub const BOUNDARY: &str = "pixgate-test-boundary-7MA4YWxkTrZu0gW";

impl Multipart {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn file(mut self, filename: &str, content_type: &str, bytes: Vec<u8>) -> Self {
        self.parts.push((
            "file".into(),
            Some(filename.into()),
            Some(content_type.into()),
            bytes,
        ));
        self
    }

    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.parts
            .push((name.into(), None, None, value.as_bytes().to_vec()));
        self
    }

    pub fn body(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, filename, content_type, bytes) in &self.parts {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            let disposition = match filename {
                Some(f) => {
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n")
                }
                None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n"),
            };
            body.extend_from_slice(disposition.as_bytes());
            if let Some(ct) = content_type {
                body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    pub fn content_type() -> String {
        format!("multipart/form-data; boundary={BOUNDARY}")
    }

    pub fn request(&self, uri: &str) -> Request<Body> {
        Request::post(uri)
            .header(header::CONTENT_TYPE, Self::content_type())
            .body(Body::from(self.body()))
            .expect("request")
    }
}
