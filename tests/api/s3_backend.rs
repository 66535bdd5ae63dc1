//! The S3 backend against a real S3 protocol server: `s3s-fs` served over loopback HTTP with
//! SigV4 credentials, driven by the same `aws-sdk-s3` client pixgate uses in production.

use axum::http::StatusCode;

use crate::harness::s3::{BUCKET, SECRET_KEY};
use crate::harness::{
    Backend, Multipart, TestApp, corpus_image, default_config, inspect, metadata_blocks,
};

#[tokio::test]
async fn uploads_are_stored_in_s3_with_type_cache_control_and_name_metadata() {
    let app = TestApp::on(Backend::S3, default_config()).await;
    let server = app.s3_server();
    let form = Multipart::new()
        .file("프로필.jpg", "image/jpeg", corpus_image("DSCN0010.jpg"))
        .file("alpha.png", "image/png", corpus_image("with-alpha.png"));
    let response = app.upload("type=profile", &form).await;
    response.assert_status(StatusCode::OK, "two files");
    let items = response.json();
    let admin = server.client(SECRET_KEY);
    for (item, content_type) in items
        .as_array()
        .unwrap()
        .iter()
        .zip(["image/jpeg", "image/png"])
    {
        let key = item["key"].as_str().unwrap();
        assert_eq!(item["bucket"], BUCKET);
        assert_eq!(
            item["fileUrl"],
            format!("{}/{BUCKET}/{key}", server.endpoint)
        );
        let object = admin
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .expect("object exists");
        assert_eq!(object.content_type(), Some(content_type));
        assert_eq!(
            object.cache_control(),
            Some("public, max-age=31536000, immutable")
        );
        let disposition = object.content_disposition().unwrap_or_default().to_owned();
        let metadata = object.metadata().cloned().unwrap_or_default();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(bytes.len() as u64, item["size"].as_u64().unwrap());
        let image = inspect(&bytes);
        assert_eq!(
            (u64::from(image.width), u64::from(image.height)),
            (
                item["width"].as_u64().unwrap(),
                item["height"].as_u64().unwrap()
            )
        );
        assert!(image.width <= 200 && image.height <= 200);
        assert!(metadata_blocks(&bytes).is_empty());
        if content_type == "image/jpeg" {
            assert!(
                disposition.contains("filename*=UTF-8''%ED%94%84%EB%A1%9C%ED%95%84.jpg"),
                "{disposition}"
            );
            assert_eq!(
                metadata.get("original-name").map(String::as_str),
                Some("%ED%94%84%EB%A1%9C%ED%95%84%2Ejpg")
            );
        }
    }
}

#[tokio::test]
async fn a_retried_upload_keeps_the_first_object() {
    let app = TestApp::on(Backend::S3, default_config()).await;
    let first = app
        .upload_file(
            "type=image",
            "first.png",
            "image/png",
            corpus_image("swiss.png"),
        )
        .await
        .json();
    let retry = app
        .upload_file(
            "type=image",
            "second.png",
            "image/png",
            corpus_image("swiss.png"),
        )
        .await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.json()[0]["key"], first[0]["key"]);
    let key = first[0]["key"].as_str().unwrap();
    let listed = app
        .s3_server()
        .client(SECRET_KEY)
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.contents().len(), 1);
    let served = app.get(&format!("/files/{key}")).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(
        served.header("content-type"),
        first[0]["contentType"].as_str()
    );
}

#[tokio::test]
async fn a_rejected_signature_is_a_storage_error_not_a_crash() {
    let app = TestApp::on_s3(default_config(), "wrong-secret").await;
    let response = app
        .upload_file(
            "type=profile",
            "a.png",
            "image/png",
            corpus_image("swiss.png"),
        )
        .await;
    assert_eq!(response.status, StatusCode::BAD_GATEWAY);
    assert_eq!(response.error_code(), "storage_unavailable");
    assert!(
        !String::from_utf8_lossy(&response.body).contains("SignatureDoesNotMatch"),
        "internal cause stays in the log"
    );
}
