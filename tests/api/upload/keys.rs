//! Keys and names: content-addressed keys under prefix/date, client names kept as metadata
//! only, the public base URL and prefixes in the answer.

use axum::http::header;

use super::photo;
use crate::harness::{TestApp, config_with, corpus_image};

#[tokio::test]
async fn the_same_upload_twice_lands_on_the_same_key_and_different_content_does_not() {
    let app = TestApp::new();
    let first = app
        .upload_file("type=profile", "a.jpg", "image/jpeg", photo())
        .await
        .json();
    let again = app
        .upload_file("type=profile", "renamed.jpg", "image/jpeg", photo())
        .await
        .json();
    let other = app
        .upload_file(
            "type=profile",
            "a.jpg",
            "image/jpeg",
            corpus_image("Portrait_1.jpg"),
        )
        .await
        .json();
    assert_eq!(first[0]["key"], again[0]["key"]);
    assert_ne!(first[0]["key"], other[0]["key"]);
    // The first upload's stored name is not overwritten by the retry.
    let key = first[0]["key"].as_str().unwrap();
    let served = app.get(&format!("/files/{key}")).await;
    assert!(
        served
            .header(header::CONTENT_DISPOSITION)
            .is_some_and(|d| d.contains("a.jpg"))
    );
}

#[tokio::test]
async fn keys_follow_prefix_date_hash_and_names_are_kept_as_metadata() {
    let app = TestApp::new();
    let item = &app
        .upload_file(
            "type=image",
            "../../etc/프로필 사진.jpg",
            "image/jpeg",
            photo(),
        )
        .await
        .json()[0];
    let key = item["key"].as_str().unwrap();
    let today = chrono::Utc::now().format("%Y/%m/%d").to_string();
    let rest = key
        .strip_prefix(&format!("images/{today}/"))
        .unwrap_or_else(|| panic!("{key}"));
    let (hash, ext) = rest.split_once('.').unwrap();
    assert_eq!(ext, "jpg");
    assert_eq!(hash.len(), 32);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(item["originalName"], "프로필 사진.jpg");
    assert_eq!(item["bucket"], "local");
    assert_eq!(
        item["fileUrl"],
        format!("http://127.0.0.1:3000/files/{key}")
    );
    assert_eq!(item["contentType"], "image/jpeg");
    let served = app.get(&format!("/files/{key}")).await;
    assert_eq!(
        served.header(header::CONTENT_DISPOSITION),
        Some(
            "inline; filename=\"___ __.jpg\"; filename*=UTF-8''%ED%94%84%EB%A1%9C%ED%95%84%20%EC%82%AC%EC%A7%84.jpg"
        )
    );
}

#[tokio::test]
async fn public_base_url_and_prefixes_shape_the_answer() {
    let app = TestApp::with_config(config_with(&[
        "--public-base-url",
        "https://cdn.example.com",
        "--profile-prefix",
        "avatars",
    ]));
    let item = &app
        .upload_file("type=profile", "a.jpg", "image/jpeg", photo())
        .await
        .json()[0];
    let key = item["key"].as_str().unwrap();
    assert!(key.starts_with("avatars/"), "{key}");
    assert_eq!(item["fileUrl"], format!("https://cdn.example.com/{key}"));
}
