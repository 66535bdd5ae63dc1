//! Lambda: the API Gateway REST (v1), HTTP API (v2) and Function URL events under `events/`,
//! decoded by `lambda_http` exactly as the runtime does, go through the router and answer the
//! same as the local server does for the same body over a real socket.

use axum::body::Body;
use axum::http::StatusCode;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::helpers::{TestApp, TestResponse, check_stored_item};

fn event(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the Lambda runtime would hand the router for this event.
async fn invoke(app: &TestApp, name: &str) -> TestResponse {
    let request = lambda_http::request::from_str(&event(name)).expect("event decodes");
    let request = pixgate::lambda::route_path(request);
    let (parts, body) = request.into_parts();
    let body = Body::from(body.to_vec());
    let response = pixgate::app(app.state.clone())
        .oneshot(axum::http::Request::from_parts(parts, body))
        .await
        .expect("infallible");
    TestResponse::read(response).await
}

/// The event's body, sent to the local server over a real socket.
async fn send_over_socket(app: &TestApp, name: &str) -> (StatusCode, Value) {
    let event: Value = serde_json::from_str(&event(name)).unwrap();
    let body = base64_decode(event["body"].as_str().unwrap());
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

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[tokio::test]
async fn every_event_shape_uploads_like_the_local_server() {
    for name in [
        "apigw-rest-upload.json",
        "apigw-http-upload.json",
        "function-url-upload.json",
    ] {
        let lambda_app = TestApp::new();
        let from_lambda = invoke(&lambda_app, name).await;
        assert_eq!(
            from_lambda.status,
            StatusCode::OK,
            "{name}: {}",
            String::from_utf8_lossy(&from_lambda.body)
        );
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
    let response = invoke(&app, "apigw-rest-preflight.json").await;
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
    use futures_util::StreamExt;
    use lambda_http::{Context, LambdaEvent, StreamAdapter, request::LambdaRequest};
    use tower::Service;

    let app = TestApp::new();
    let upload = invoke(&app, "function-url-upload.json").await;
    assert_eq!(upload.status, StatusCode::OK, "{:?}", upload.json());
    let key = upload.json()[0]["key"].as_str().unwrap().to_owned();

    let mut event: Value = serde_json::from_str(&event("function-url-upload.json")).unwrap();
    event["rawPath"] = Value::from(format!("/img/{key}"));
    event["rawQueryString"] = Value::from("w=40&h=30&f=webp");
    event["requestContext"]["http"]["method"] = Value::from("GET");
    event["requestContext"]["http"]["path"] = Value::from(format!("/img/{key}"));
    event["body"] = Value::Null;
    event["isBase64Encoded"] = Value::from(false);
    if let Some(headers) = event["headers"].as_object_mut() {
        headers.remove("content-type");
        headers.remove("content-length");
    }
    let payload: LambdaRequest = serde_json::from_value(event).expect("Function URL event");

    let mut adapter = StreamAdapter::from(pixgate::lambda::service(app.state.clone()));
    let response = adapter
        .call(LambdaEvent::new(payload, Context::default()))
        .await
        .expect("infallible");
    assert_eq!(response.metadata_prelude.status_code, StatusCode::OK);
    let headers = &response.metadata_prelude.headers;
    assert_eq!(headers["content-type"], "image/webp");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let mut bytes = Vec::new();
    let mut stream = response.stream;
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.expect("body chunk"));
    }
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
    assert!(bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP");
    let decoded = image::load_from_memory(&bytes).expect("decodable WebP");
    assert_eq!((decoded.width(), decoded.height()), (40, 30));
}
