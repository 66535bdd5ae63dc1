//! Lambda: the API Gateway REST (v1), HTTP API (v2) and Function URL events under `events/`,
//! decoded by `lambda_http` exactly as the runtime does, go through the router and answer the
//! same as the local server does for the same body over a real socket.

use axum::http::{StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http_body_util::BodyExt;
use image::ImageFormat;
use serde_json::{Value, json};

use crate::harness::{
    LambdaBody, Runtime, TestApp, check_stored_item, event, function_url_get, inspect, invoke,
};

/// The event's body, sent to the local server over a real socket.
async fn send_over_socket(app: &TestApp, name: &str) -> (StatusCode, Value) {
    let event: Value = serde_json::from_str(&event(name)).unwrap();
    let body = BASE64
        .decode(event["body"].as_str().unwrap())
        .expect("base64 body");
    let content_type = event["headers"]["content-type"]
        .as_str()
        .unwrap()
        .to_owned();
    let addr = app.spawn().await;
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/upload?type=profile"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("local server answers");
    (
        StatusCode::from_u16(response.status().as_u16()).unwrap(),
        response.json().await.unwrap(),
    )
}

#[tokio::test]
async fn every_event_shape_uploads_like_the_local_server() {
    for name in [
        "apigw-rest-upload.json",
        "apigw-http-upload.json",
        "function-url-upload.json",
    ] {
        let lambda_app = TestApp::new();
        let from_lambda = invoke(&lambda_app, Runtime::Buffered, &event(name)).await.0;
        from_lambda.assert_status(StatusCode::OK, name);
        assert_eq!(
            from_lambda.header("access-control-allow-origin"),
            Some("*"),
            "{name}"
        );
        let items = from_lambda.json();
        assert_eq!(items.as_array().map(Vec::len), Some(2), "{name}");
        for item in items.as_array().unwrap() {
            check_stored_item(&lambda_app, item, "profile", None, name).await;
        }
        assert_eq!(items[0]["contentType"], "image/jpeg");
        assert_eq!(items[1]["contentType"], "image/png");

        let local_app = TestApp::new();
        let (status, local_items) = send_over_socket(&local_app, name).await;
        assert_eq!(status, from_lambda.status, "{name}");
        assert_eq!(
            local_items, items,
            "{name}: same items from Lambda and from the local server"
        );
    }
}

#[tokio::test]
async fn rest_preflight_event_answers_204() {
    let app = TestApp::new();
    let response = invoke(&app, Runtime::Buffered, &event("apigw-rest-preflight.json"))
        .await
        .0;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert!(
        response
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST"))
    );
}

#[tokio::test]
async fn the_rest_stage_never_reaches_the_router() {
    let request = lambda_http::request::from_str(&event("apigw-rest-upload.json")).unwrap();
    let routed = pixgate::lambda::route_path(request);
    assert_eq!(routed.uri().path(), "/upload");
    assert_eq!(routed.uri().query(), Some("type=profile"));
    let body = routed.into_body().collect().await.unwrap().to_bytes();
    assert!(
        body.starts_with(b"------pixgateLambdaEventBoundary"),
        "base64 body decoded"
    );
}

/// The transform function answers through response streaming (Function URL,
/// `InvokeMode: RESPONSE_STREAM`): the same service, adapted as `run_with_streaming_response`
/// adapts it, streams the rendition with its status and headers in the prelude.
#[tokio::test]
async fn function_url_transform_streams_the_rendition() {
    let app = TestApp::new();
    let upload = invoke(&app, Runtime::Buffered, &event("function-url-upload.json"))
        .await
        .0;
    assert_eq!(upload.status, StatusCode::OK, "{:?}", upload.json());
    let key = upload.key(0);

    let headers = json!({
        "host": "abc123xyz.lambda-url.eu-west-1.on.aws",
        "origin": "https://chat.example.com",
    });
    let event = function_url_get(&format!("/img/{key}"), "w=40&h=30&f=webp", headers);
    let (response, body) = invoke(&app, Runtime::Streaming, &event).await;
    assert_eq!(body, LambdaBody::Streamed);
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header(header::CONTENT_TYPE), Some("image/webp"));
    assert!(
        response
            .header(header::CACHE_CONTROL)
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(
        response.header(header::CONTENT_LENGTH),
        Some(response.body.len().to_string().as_str())
    );
    let decoded = inspect(&response.body);
    assert_eq!(decoded.format, ImageFormat::WebP);
    assert_eq!((decoded.width, decoded.height), (40, 30));
}
