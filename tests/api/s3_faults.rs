//! The S3 backend on a bad day, through the fault layer in front of the in-process S3 server:
//! transient faults are retried (counted at the layer), faults that persist are answered
//! honestly (502, or 207 for the files that did get stored), and no 200 is ever given for an
//! object that is not in the bucket, whole.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::s3::{BUCKET, S3Server, SECRET_KEY};
use crate::harness::s3_faults::Fault;
use crate::harness::{
    Backend, Multipart, TestApp, TestResponse, config_with, corpus_image, default_config,
};

const PHOTO: &str = "DSCN0010.jpg";

async fn upload_photo(app: &TestApp) -> TestResponse {
    app.upload_file("type=profile", PHOTO, "image/jpeg", corpus_image(PHOTO))
        .await
}

/// Asserts the bucket holds the object a stored item names: its size, and the hash its key
/// names.
async fn assert_in_bucket(server: &S3Server, item: &Value) {
    let key = item["key"].as_str().expect("stored item has a key");
    let bytes = server
        .object(key)
        .await
        .unwrap_or_else(|| panic!("answered stored, but {key} is not in the bucket"));
    assert_eq!(bytes.len() as u64, item["size"].as_u64().unwrap(), "{key}");
    let hash = hex::encode(&Sha256::digest(&bytes)[..16]);
    assert!(key.contains(&hash), "{key} holds other bytes");
}

/// Checks an upload answer against the bucket: every stored item is there, whole.
async fn assert_honest(server: &S3Server, response: &TestResponse) {
    match response.status {
        StatusCode::OK | StatusCode::MULTI_STATUS => {
            for item in response.json().as_array().unwrap() {
                if item.get("key").is_some() {
                    assert_in_bucket(server, item).await;
                }
            }
        }
        _ => assert!(response.status.is_client_error() || response.status.is_server_error()),
    }
}

async fn bucket_keys(server: &S3Server) -> Vec<String> {
    server
        .client(SECRET_KEY)
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_until_the_object_is_stored() {
    for fault in [Fault::SlowDown, Fault::InternalError] {
        let app = TestApp::on(Backend::S3, default_config()).await;
        let server = app.s3_server();
        server.faults.next(2, fault);
        let response = upload_photo(&app).await;
        response.assert_status(StatusCode::OK, &format!("{fault:?} twice"));
        assert_eq!(
            server.faults.puts(),
            3,
            "{fault:?}: two failed attempts, one stored"
        );
        assert_honest(server, &response).await;
    }
}

#[tokio::test]
async fn faults_that_persist_answer_502_and_claim_nothing() {
    let app = TestApp::on(Backend::S3, default_config()).await;
    let server = app.s3_server();
    server.faults.always(Fault::SlowDown);
    let response = upload_photo(&app).await;
    response.assert_status(StatusCode::BAD_GATEWAY, "SlowDown on every request");
    assert_eq!(response.error_code(), "storage_unavailable");
    assert!(server.faults.puts() >= 2, "the write was not retried");
    server.faults.clear();
    assert_eq!(bucket_keys(server).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_file_whose_writes_all_fail_is_a_failed_item_of_a_207() {
    let app = TestApp::on(Backend::S3, default_config()).await;
    let server = app.s3_server();
    server.faults.poison_first_put(Fault::InternalError);
    let form = Multipart::new()
        .file("a.jpg", "image/jpeg", corpus_image(PHOTO))
        .file("b.png", "image/png", corpus_image("swiss.png"));
    let response = app.upload("type=profile", &form).await;
    response.assert_status(StatusCode::MULTI_STATUS, "one file's writes all fail");
    let items = response.json();
    let failed: Vec<&Value> = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item.get("error").is_some())
        .collect();
    assert_eq!(failed.len(), 1, "{items}");
    assert_eq!(failed[0]["error"]["code"], "storage_unavailable");
    // Every faulted request was to the one key, retried, and that key is not in the bucket.
    let faulted: Vec<String> = server
        .faults
        .seen()
        .into_iter()
        .filter(|seen| seen.fault.is_some())
        .map(|seen| seen.path)
        .collect();
    assert!(faulted.len() >= 2, "{faulted:?}");
    assert!(
        faulted.iter().all(|path| *path == faulted[0]),
        "{faulted:?}"
    );
    server.faults.clear();
    assert_honest(server, &response).await;
    let keys = bucket_keys(server).await;
    assert_eq!(keys.len(), 1);
    assert!(
        !faulted[0].ends_with(&keys[0]),
        "the failed file is in the bucket"
    );
}

#[tokio::test]
async fn a_write_whose_answer_was_lost_is_retried_and_found_stored() {
    let app = TestApp::on(Backend::S3, default_config()).await;
    let server = app.s3_server();
    server.faults.next(1, Fault::ResetAfterWrite);
    let response = upload_photo(&app).await;
    response.assert_status(StatusCode::OK, "reset after the first write");
    assert!(server.faults.puts() >= 2, "the lost answer was not retried");
    assert_honest(server, &response).await;
}

#[tokio::test]
async fn answers_lost_on_every_attempt_are_a_502_not_a_200() {
    let app = TestApp::on(Backend::S3, default_config()).await;
    let server = app.s3_server();
    server.faults.always(Fault::ResetAfterWrite);
    let response = upload_photo(&app).await;
    response.assert_status(StatusCode::BAD_GATEWAY, "every answer lost");
    assert_eq!(response.error_code(), "storage_unavailable");
}

#[tokio::test]
async fn a_slow_bucket_is_waited_for_within_the_time_limit_and_never_claimed_past_it() {
    let app = TestApp::on(Backend::S3, default_config()).await;
    let server = app.s3_server();
    server
        .faults
        .next(1, Fault::Delay(Duration::from_millis(500)));
    let response = upload_photo(&app).await;
    response.assert_status(StatusCode::OK, "a slow answer");
    assert_honest(server, &response).await;

    let app = TestApp::on(Backend::S3, config_with(&["--request-timeout-secs", "1"])).await;
    let server = app.s3_server();
    server.faults.always(Fault::Delay(Duration::from_secs(3)));
    let response = upload_photo(&app).await;
    response.assert_status(StatusCode::REQUEST_TIMEOUT, "slower than the time limit");
    assert_eq!(response.error_code(), "request_timeout");
}

#[tokio::test]
async fn a_short_object_found_at_the_key_is_replaced_not_trusted() {
    let app = TestApp::on(Backend::S3, default_config()).await;
    let server = app.s3_server();
    let first = upload_photo(&app).await;
    first.assert_status(StatusCode::OK, "first upload");
    let key = first.key(0);
    let whole = server.object(&key).await.expect("stored");
    // As a store cut short elsewhere could leave it.
    server
        .client(SECRET_KEY)
        .put_object()
        .bucket(BUCKET)
        .key(&key)
        .body(whole.slice(..whole.len() / 2).into())
        .send()
        .await
        .unwrap();
    let retry = upload_photo(&app).await;
    retry.assert_status(StatusCode::OK, "retry over a short object");
    let healed = server.object(&key).await.expect("still stored");
    assert_eq!(healed.len(), whole.len(), "the short object was kept");
    assert!(healed == whole, "the object holds other bytes");
}
