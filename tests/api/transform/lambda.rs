//! A Lambda Function URL event gets the same rendition as the local server, as a binary body,
//! and the same relative redirect.

use axum::http::{StatusCode, header};
use image::ImageFormat;
use serde_json::json;

use super::{IMMUTABLE, PHOTO, photo_app, resolve};
use crate::harness::{LambdaBody, Runtime, function_url_get, inspect, invoke};

#[tokio::test]
async fn a_function_url_event_gets_the_rendition() {
    let app = photo_app(&[]).await;
    let headers = json!({
        "host": "abc123xyz.lambda-url.eu-west-1.on.aws",
        "accept": "image/webp,*/*",
        "origin": "https://chat.example.com",
    });
    let event = function_url_get(&format!("/img/{PHOTO}"), "w=160&f=webp", headers.clone());
    let (response, body) = invoke(&app, Runtime::Buffered, &event).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        body,
        LambdaBody::Binary,
        "an image must be a binary (base64) Lambda body"
    );
    let out = inspect(&response.body);
    assert_eq!(out.format, ImageFormat::WebP);
    assert_eq!((out.width, out.height), (160, 120));
    assert_eq!(response.header(header::CONTENT_TYPE), Some("image/webp"));
    assert_eq!(
        response.header(header::CONTENT_LENGTH),
        Some(response.body.len().to_string().as_str())
    );
    assert_eq!(response.header(header::CACHE_CONTROL), Some(IMMUTABLE));
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("*")
    );
    let etag = response.header(header::ETAG).expect("etag");
    // The same rendition as the local server gives.
    let local = app.get(&format!("/img/{PHOTO}?w=160&f=webp")).await;
    assert_eq!(local.body, response.body);
    assert_eq!(local.header(header::ETAG), Some(etag));

    // A non-canonical query is redirected relative to the request, whatever is in front.
    let event = function_url_get(&format!("/img/{PHOTO}"), "f=webp&w=160", headers);
    let (moved, _) = invoke(&app, Runtime::Buffered, &event).await;
    assert_eq!(moved.status, StatusCode::MOVED_PERMANENTLY);
    let location = moved.header(header::LOCATION).expect("location");
    assert_eq!(
        resolve(&format!("/img/{PHOTO}?f=webp&w=160"), location),
        format!("/img/{PHOTO}?w=160&f=webp")
    );
}
