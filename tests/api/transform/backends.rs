//! The disk and S3 backends give the same answers; a failing store is a 502 never cached.

use axum::http::{StatusCode, header};

use super::{IMMUTABLE, PHOTO, assert_error, assert_image, assert_redirect};
use crate::harness::{Backend, TestApp, corpus_image, default_config};

/// The same assertions on the disk and on the S3 store: identity, resize + format, 304,
/// redirect, 404.
async fn representative_subset(backend: Backend) {
    let app = TestApp::on(backend, default_config()).await;
    let original = corpus_image("DSCN0010.jpg");
    app.put(PHOTO, original.clone()).await;
    let label = format!("{backend:?}");

    let identity = app.get(&format!("/img/{PHOTO}")).await;
    assert_eq!(identity.status, StatusCode::OK, "{label}");
    assert_eq!(identity.body.as_ref(), original.as_slice(), "{label}");
    assert_eq!(
        identity.body,
        app.get(&format!("/files/{PHOTO}")).await.body,
        "{label}: /img without parameters = /files"
    );

    let uri = format!("/img/{PHOTO}?w=160&f=webp");
    let served = app.get(&uri).await;
    let etag = assert_image(&served, "webp", (160, 120), &label);
    assert_eq!(
        served.header(header::CONTENT_LENGTH),
        Some(served.body.len().to_string().as_str()),
        "{label}"
    );
    assert_eq!(
        served.header(header::CACHE_CONTROL),
        Some(IMMUTABLE),
        "{label}"
    );
    let jpeg = app.get(&format!("/img/{PHOTO}?w=160&h=160")).await;
    assert_image(&jpeg, "jpeg", (160, 160), &label);

    app.forget_reads();
    let revalidated = app.get_with(&uri, &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED, "{label}");
    assert!(revalidated.body.is_empty(), "{label}");
    assert_eq!(
        app.reads(),
        vec![format!("version {PHOTO}")],
        "{label}: a 304 reads the version only"
    );

    let moved_uri = format!("/img/{PHOTO}?f=WEBP&w=0160");
    let target = assert_redirect(&app.get(&moved_uri).await, &moved_uri, &uri);
    let followed = app.get(&target).await;
    assert_eq!(
        followed.header(header::ETAG),
        Some(etag.as_str()),
        "{label}"
    );
    assert_eq!(
        followed.body, served.body,
        "{label}: deterministic rendition"
    );

    let missing = "/img/images/2026/01/02/ffffffffffffffffffffffffffffffff.jpg?w=160";
    assert_error(
        &app.get(missing).await,
        StatusCode::NOT_FOUND,
        "not_found",
        &label,
    );
}

#[tokio::test]
async fn storage_failures_are_502_and_never_cached() {
    let app = TestApp::on_s3(default_config(), "wrong-secret").await;
    let response = app.get(&format!("/img/{PHOTO}?w=100")).await;
    assert_eq!(response.status, StatusCode::BAD_GATEWAY);
    assert_eq!(response.error_code(), "storage_unavailable");
    assert_eq!(response.header(header::CACHE_CONTROL), Some("no-store"));
}

#[tokio::test]
async fn representative_subset_on_disk() {
    representative_subset(Backend::Disk).await;
}

#[tokio::test]
async fn representative_subset_on_s3() {
    representative_subset(Backend::S3).await;
}
