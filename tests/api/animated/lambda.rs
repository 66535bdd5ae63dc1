//! Through Lambda: an animated upload in an API Gateway (HTTP API) event, and its WebP
//! rendition through a Function URL event, as a binary body; the same as the local server.

use axum::http::{StatusCode, header};
use serde_json::json;

use crate::harness::webp_anim::read_animated_webp;
use crate::harness::{
    LambdaBody, Multipart, Runtime, TestApp, corpus_image, default_config, function_url_get,
    http_api_upload, invoke,
};

#[tokio::test]
async fn an_animation_uploads_and_renders_through_lambda() {
    let app = TestApp::with_config(default_config());
    let form = Multipart::new().file(
        "spinner.gif",
        "image/gif",
        corpus_image("rotating-squares.gif"),
    );
    let event = http_api_upload("type=image", &Multipart::content_type(), &form.body());
    let (response, _) = invoke(&app, Runtime::Buffered, &event).await;
    response.assert_status(StatusCode::OK, "HTTP API upload");
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("*")
    );
    let item = response.json()[0].clone();
    assert_eq!(item["contentType"], "image/webp", "{item}");
    assert_eq!(item["animated"], true, "{item}");
    assert_eq!(item["durationMs"], 900, "{item}");
    let key = item["key"].as_str().expect("key").to_owned();
    assert!(key.ends_with(".webp"), "{key}");
    let stored = app.get(&format!("/files/{key}")).await;
    stored.assert_status(StatusCode::OK, "stored");
    let anim = read_animated_webp(&stored.body);
    assert_eq!(item["frames"].as_u64(), Some(anim.frames.len() as u64));
    assert_eq!((anim.width, anim.height), (80, 80));

    // The rendition through a Function URL event, buffered and streamed.
    let headers = json!({
        "host": "abc123xyz.lambda-url.eu-west-1.on.aws",
        "accept": "image/webp,*/*",
    });
    let event = function_url_get(&format!("/img/{key}"), "w=40&f=webp", headers);
    let local = app.get(&format!("/img/{key}?w=40&f=webp")).await;
    for runtime in [Runtime::Buffered, Runtime::Streaming] {
        let (response, body) = invoke(&app, runtime, &event).await;
        response.assert_status(StatusCode::OK, &format!("{runtime:?} rendition"));
        assert!(
            matches!(body, LambdaBody::Binary | LambdaBody::Streamed),
            "{runtime:?}: an image must be a binary body, not {body:?}"
        );
        assert_eq!(response.header(header::CONTENT_TYPE), Some("image/webp"));
        let rendition = read_animated_webp(&response.body);
        assert_eq!((rendition.width, rendition.height), (40, 40), "{runtime:?}");
        assert_eq!(rendition.durations(), anim.durations(), "{runtime:?}");
        assert_eq!(rendition.loop_count, anim.loop_count, "{runtime:?}");
        assert_eq!(
            response.body, local.body,
            "{runtime:?}: the same rendition as the local server"
        );
    }
}
