//! Canonical redirects: non-canonical queries are sent to the one canonical URL (relative,
//! so a path prefix is kept), or served directly when redirects are off; a real client follows.

use axum::http::{StatusCode, header};
use image::ImageFormat;

use super::{PHOTO, assert_image, assert_redirect, photo_app, resolve};
use crate::harness::inspect;

#[tokio::test]
async fn non_canonical_queries_redirect_to_the_canonical_url() {
    let app = photo_app(&[]).await;
    let canonical = format!("/img/{PHOTO}?w=200&h=150");
    let uri = format!("/img/{PHOTO}?h=150&w=200");
    let moved = app.get(&uri).await;
    let target = assert_redirect(&moved, &uri, &canonical);
    assert_eq!(moved.header(header::VARY), None, "no f=auto, no Vary");
    // Relative, so a stage or path prefix in front of /img (API Gateway, a CDN) is kept.
    let location = moved.header(header::LOCATION).unwrap();
    assert_eq!(
        resolve(&format!("/prod{uri}"), location),
        format!("/prod{canonical}")
    );
    let followed = app.get(&target).await;
    let etag = assert_image(&followed, "jpeg", (200, 150), &target);
    for query in [
        "W=0200&h=150&q=80&fit=COVER",
        "h=150&fit=cover&w=200&enlarge=0",
        "w=200&&h=150",
        "w=200&h=150&q=080",
    ] {
        let uri = format!("/img/{PHOTO}?{query}");
        assert_redirect(&app.get(&uri).await, &uri, &canonical);
    }
    let uri = format!("/img/{PHOTO}?f=JPG&fit=Contain&h=20&w=10&q=050&enlarge=TRUE");
    assert_redirect(
        &app.get(&uri).await,
        &uri,
        &format!("/img/{PHOTO}?w=10&h=20&fit=contain&enlarge=1&f=jpeg&q=50"),
    );
    // Canonical queries are served directly.
    let direct = app.get(&canonical).await;
    assert_eq!(direct.header(header::ETAG), Some(etag.as_str()));

    // With redirects off, the non-canonical spelling is the same rendition, served directly.
    let app = photo_app(&["--canonical-redirect", "false"]).await;
    let canonical_answer = app.get(&canonical).await;
    let canonical_etag = assert_image(&canonical_answer, "jpeg", (200, 150), &canonical);
    let direct = app.get(&format!("/img/{PHOTO}?h=150&w=200")).await;
    assert_eq!(direct.status, StatusCode::OK);
    assert_eq!(direct.header(header::ETAG), Some(canonical_etag.as_str()));
    assert_eq!(direct.body, canonical_answer.body);
}

#[tokio::test]
async fn a_real_client_follows_the_redirect_over_a_socket() {
    let app = photo_app(&[]).await;
    let addr = app.spawn().await;
    let response = reqwest::get(format!("http://{addr}/img/{PHOTO}?f=webp&h=120&w=160"))
        .await
        .expect("server answers");
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert_eq!(response.url().path(), format!("/img/{PHOTO}"));
    assert_eq!(response.url().query(), Some("w=160&h=120&f=webp"));
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("image/webp")
    );
    let length = response.content_length();
    let body = response.bytes().await.unwrap();
    assert_eq!(length, Some(body.len() as u64));
    let out = inspect(&body);
    assert_eq!(out.format, ImageFormat::WebP);
    assert_eq!((out.width, out.height), (160, 120));
}
