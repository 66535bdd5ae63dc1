//! The disk backend and GET /files: atomic writes, key safety, cache headers, ETags.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bytes::Bytes;
use pixgate::storage::{FsStore, NewObject, Store, StoreError};

use crate::harness::{TestApp, corpus_image};

#[tokio::test]
async fn stored_files_are_served_with_type_immutable_cache_and_etag() {
    let app = TestApp::new();
    let item = &app
        .upload_file(
            "type=profile",
            "a.png",
            "image/png",
            corpus_image("with-alpha.png"),
        )
        .await
        .json()[0];
    let key = item["key"].as_str().unwrap();
    let served = app.get(&format!("/files/{key}")).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.header(header::CONTENT_TYPE), Some("image/png"));
    assert_eq!(
        served.header(header::CACHE_CONTROL),
        Some("public, max-age=31536000, immutable")
    );
    let etag = served.header(header::ETAG).expect("etag").to_owned();
    let revalidated = app
        .send(
            Request::get(format!("/files/{key}"))
                .header(header::IF_NONE_MATCH, &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert!(revalidated.body.is_empty());
    let head = app
        .send(
            Request::head(format!("/files/{key}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn keys_that_climb_out_or_leave_the_prefixes_are_not_found() {
    let app = TestApp::new();
    std::fs::write(app.data_dir().join("secret.txt"), "secret").unwrap();
    for path in [
        "/files/profile/../secret.txt",
        "/files/profile/%2e%2e/secret.txt",
        "/files/secret.txt",
        "/files/profile\\..\\secret.txt",
        "/files/profile/%5c..%5csecret.txt",
        "/files/.meta/profile/x.json",
        "/files/profile/2026/01/01/missing.jpg",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.error_code(), "not_found", "{path}");
    }
}

#[tokio::test]
async fn disk_writes_are_atomic_and_never_replace_an_object() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(dir.path(), "local", "http://x/files"));
    let key = "images/2026/01/01/abc.jpg";
    let object = |bytes: &'static [u8]| NewObject {
        key: key.into(),
        bytes: Bytes::from_static(bytes),
        content_type: "image/jpeg",
        original_name: Some("a.jpg".into()),
    };
    // Many concurrent writers of one key: exactly one whole object, no temporary file left.
    let writers: Vec<_> = (0..16)
        .map(|_| {
            let store = Arc::clone(&store);
            let object = object(b"first bytes");
            tokio::spawn(async move { store.put(object).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    store.put(object(b"other bytes")).await.unwrap();
    let stored = store.get(key).await.unwrap().unwrap();
    assert_eq!(stored.bytes.as_ref(), b"first bytes");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("images/2026/01/01"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "abc.jpg")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(matches!(
        store
            .put(NewObject {
                key: "../x.jpg".into(),
                ..object(b"x")
            })
            .await,
        Err(StoreError::InvalidKey)
    ));
}
