//! The protocol as the upload function serves it: API Gateway HTTP API events for each call,
//! the part PUT straight to the (in-process) bucket, as a phone's would go to S3.

use serde_json::json;

use super::client::{encode, noisy_jpeg};
use crate::harness::{Runtime, TestApp, default_config, http_api_json, invoke};

#[tokio::test]
async fn a_multipart_upload_through_lambda_events() {
    let app = TestApp::on_s3(default_config(), crate::harness::s3::SECRET_KEY).await;
    let call = |method: &str,
                route: &str,
                path: String,
                query: String,
                body: Option<serde_json::Value>| {
        let event = http_api_json(
            method,
            &format!("{method} {route}"),
            &path,
            &query,
            body.as_ref(),
        );
        let app = &app;
        async move {
            let (response, _) = invoke(app, Runtime::Buffered, &event).await;
            (response.status.as_u16(), response.json())
        }
    };
    let (status, created) = call(
        "POST",
        "/direct/{type}/s3/multipart",
        "/direct/image/s3/multipart".into(),
        String::new(),
        Some(json!({"filename": "lambda.jpg", "type": "image/jpeg", "metadata": {}})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let (upload_id, key) = (
        created["uploadId"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    );
    let query = format!("key={}", encode(&key));
    let (status, signed) = call(
        "GET",
        "/direct/{type}/s3/multipart/{uploadId}/{partNumber}",
        format!("/direct/image/s3/multipart/{upload_id}/1"),
        query.clone(),
        None,
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    let url = signed["url"].as_str().unwrap();
    assert!(url.starts_with(&app.s3_server().endpoint), "{url}");
    let put = reqwest::Client::new()
        .put(url)
        .body(noisy_jpeg(640, 480, 85))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let etag = put.headers()["etag"].to_str().unwrap().to_owned();
    let (status, item) = call(
        "POST",
        "/direct/{type}/s3/multipart/{uploadId}/complete",
        format!("/direct/image/s3/multipart/{upload_id}/complete"),
        query,
        Some(json!({"parts": [{"PartNumber": 1, "ETag": etag}]})),
    )
    .await;
    assert_eq!(status, 200, "{item}");
    assert_eq!(
        (item["width"].as_u64(), item["height"].as_u64()),
        (Some(640), Some(480))
    );
    assert_eq!(item["originalName"], "lambda.jpg");
    assert!(
        app.s3_server().object(&key).await.is_none(),
        "nothing stays staged"
    );
    let stored = item["key"].as_str().unwrap();
    assert!(app.s3_server().object(stored).await.is_some(), "{stored}");
}
