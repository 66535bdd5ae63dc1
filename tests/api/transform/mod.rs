//! `GET /img/{key}`: stored images rendered on request, one file per concern, and the checks
//! they share on an image answer, an error answer and a canonical redirect.
//!
//! Sources are put straight into the store (uploads would shrink and re-encode them); the
//! harness's store records every read, so "never read" is an assertion, not a hope.

mod backends;
mod caching;
mod errors;
mod formats;
mod geometry;
mod lambda;
mod redirects;
mod signing;
mod single_flight;

use axum::http::{StatusCode, header};
use image::ImageFormat;

use crate::harness::{TestApp, TestResponse, config_with, corpus_image, inspect};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const ERROR_CACHE: &str = "public, max-age=60";

/// DSCN0010.jpg: a 640x480 camera JPEG (EXIF orientation 1), cheap to decode.
const PHOTO: &str = "images/2026/01/02/0123456789abcdef0123456789abcdef.jpg";

/// A disk app configured with `args`, with the camera photo stored at [`PHOTO`].
async fn photo_app(args: &[&str]) -> TestApp {
    let app = TestApp::with_config(config_with(args));
    app.put(PHOTO, corpus_image("DSCN0010.jpg")).await;
    app
}

/// A 200 image answer of the given format (`jpeg`, `png`, `webp`, `avif`) and size, checked by
/// its magic bytes and its Content-Type; returns its ETag.
fn assert_image(response: &TestResponse, format: &str, size: (u32, u32), label: &str) -> String {
    response.assert_status(StatusCode::OK, label);
    let expected = ImageFormat::from_extension(format).expect("a known format");
    let out = inspect(&response.body);
    assert_eq!(out.format, expected, "{label}: magic bytes");
    assert_eq!(
        response.header(header::CONTENT_TYPE),
        Some(format!("image/{format}").as_str()),
        "{label}: content type"
    );
    assert_eq!((out.width, out.height), size, "{label}: dimensions");
    response
        .header(header::ETAG)
        .unwrap_or_else(|| panic!("{label}: no ETag"))
        .to_owned()
}

/// A JSON error answer with the transform's error cache policy.
fn assert_error(response: &TestResponse, status: StatusCode, code: &str, label: &str) {
    response.assert_status(status, label);
    assert_eq!(response.error_code(), code, "{label}");
    assert_eq!(
        response.header(header::CACHE_CONTROL),
        Some(ERROR_CACHE),
        "{label}: error cache policy"
    );
}

/// `location` resolved against the request URL, as path and query.
fn resolve(request_uri: &str, location: &str) -> String {
    let base = reqwest::Url::parse(&format!("http://pixgate.test{request_uri}")).unwrap();
    let url = base.join(location).unwrap();
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// A 301 whose `Location`, resolved against the request, is `expected`; returns it.
fn assert_redirect(response: &TestResponse, request_uri: &str, expected: &str) -> String {
    response.assert_status(StatusCode::MOVED_PERMANENTLY, request_uri);
    let location = response
        .header(header::LOCATION)
        .unwrap_or_else(|| panic!("{request_uri}: no Location"));
    let target = resolve(request_uri, location);
    assert_eq!(target, expected, "{request_uri} redirects via {location}");
    target
}
