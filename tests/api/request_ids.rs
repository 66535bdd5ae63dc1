//! Request ids: every answer names its request in `x-request-id`, every error body repeats it
//! as `error.requestId` (the failed items of a 207 too), and under Lambda the id is the one
//! API Gateway or the Function URL gave the event.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::{
    Multipart, Runtime, TestApp, config_with, corpus_image, event, function_url_get, invoke,
};

/// The id API Gateway gave every event under `events/`.
const EVENT_REQUEST_ID: &str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef";

fn is_generated_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A request over a real socket: its status, `x-request-id` and JSON body (`Null` if none).
async fn call(request: reqwest::RequestBuilder) -> (StatusCode, String, Value) {
    let response = request.send().await.expect("the server answers");
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let id = response
        .headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("{status}: no x-request-id"))
        .to_str()
        .unwrap()
        .to_owned();
    let body = response.bytes().await.unwrap();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, id, json)
}

fn form(files: &[(&str, Vec<u8>)]) -> reqwest::multipart::Form {
    files
        .iter()
        .fold(reqwest::multipart::Form::new(), |form, (name, bytes)| {
            let part = reqwest::multipart::Part::bytes(bytes.clone())
                .file_name((*name).to_owned())
                .mime_str("image/png")
                .unwrap();
            form.part("file", part)
        })
}

#[tokio::test]
async fn every_answer_names_its_request_and_every_error_body_repeats_it() {
    let app = TestApp::with_config(config_with(&["--allowed-origins", "https://chat.example"]));
    let addr = app.spawn().await;
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let png = corpus_image("tbbn3p08.png");
    let origin = ("origin", "https://chat.example");

    let (status, stored_id, items) = call(
        client
            .post(format!("{base}/upload?type=image"))
            .header(origin.0, origin.1)
            .multipart(form(&[("a.png", png.clone())])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{items}");
    assert!(is_generated_id(&stored_id), "{stored_id}");
    let key = items[0]["key"].as_str().unwrap().to_owned();

    let mut ids = vec![stored_id];
    let errors = [
        (
            client.post(format!("{base}/upload?type=avatar")),
            StatusCode::BAD_REQUEST,
        ),
        (client.get(format!("{base}/nope")), StatusCode::NOT_FOUND),
        (
            client.get(format!("{base}/upload")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            client.get(format!("{base}/img/{key}?w=0")),
            StatusCode::BAD_REQUEST,
        ),
        (
            client
                .get(format!("{base}/healthz"))
                .header("origin", "https://evil.example"),
            StatusCode::FORBIDDEN,
        ),
        (
            client
                .post(format!("{base}/upload?type=profile"))
                .multipart(form(&[("bad.png", b"not an image".to_vec())])),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ];
    for (request, expected) in errors {
        let (status, id, body) = call(request.header(origin.0, origin.1)).await;
        assert_eq!(status, expected, "{body}");
        assert!(is_generated_id(&id), "{id}");
        assert_eq!(body["error"]["requestId"], id.as_str(), "{status}: {body}");
        ids.push(id);
    }

    // A 207: the failed item names the request; the stored one needs no id.
    let (status, id, items) = call(
        client
            .post(format!("{base}/upload?type=image"))
            .header(origin.0, origin.1)
            .multipart(form(&[("good.png", png), ("bad.png", b"junk".to_vec())])),
    )
    .await;
    assert_eq!(status, StatusCode::MULTI_STATUS, "{items}");
    assert_eq!(items[1]["error"]["requestId"], id.as_str(), "{items}");
    assert!(items[0].get("error").is_none());
    ids.push(id);

    let (status, id, _) = call(
        client
            .request(reqwest::Method::OPTIONS, format!("{base}/upload"))
            .header(origin.0, origin.1)
            .header("access-control-request-method", "POST"),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    ids.push(id);

    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "each request has its own id");
}

#[tokio::test]
async fn browsers_may_read_the_request_id() {
    let app = TestApp::with_config(config_with(&["--allowed-origins", "https://chat.example"]));
    let response = app
        .get_with("/nope", &[("origin", "https://chat.example")])
        .await;
    let exposed = response
        .header("access-control-expose-headers")
        .unwrap_or_default();
    assert!(exposed.contains("x-request-id"), "{exposed}");
}

#[tokio::test]
async fn under_lambda_the_id_is_the_one_api_gateway_gave_the_event() {
    for name in [
        "apigw-rest-upload.json",
        "apigw-http-upload.json",
        "function-url-upload.json",
    ] {
        let app = TestApp::new();
        let (response, _) = invoke(&app, Runtime::Buffered, &event(name)).await;
        response.assert_status(StatusCode::OK, name);
        assert_eq!(
            response.header("x-request-id"),
            Some(EVENT_REQUEST_ID),
            "{name}"
        );
    }
    // A refusal, streamed as the transform function answers.
    let app = TestApp::new();
    let headers = json!({"host": "abc123xyz.lambda-url.eu-west-1.on.aws"});
    let missing = function_url_get("/img/profile/none.jpg", "w=40", headers);
    let (response, _) = invoke(&app, Runtime::Streaming, &missing).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(response.header("x-request-id"), Some(EVENT_REQUEST_ID));
    assert_eq!(response.json()["error"]["requestId"], EVENT_REQUEST_ID);
}

#[tokio::test]
async fn an_event_without_a_usable_id_gets_a_generated_one() {
    let app = TestApp::new();
    for id in [None, Some("has spaces in it")] {
        let mut event: Value = serde_json::from_str(&event("apigw-http-upload.json")).unwrap();
        match id {
            Some(id) => event["requestContext"]["requestId"] = json!(id),
            None => {
                event["requestContext"]
                    .as_object_mut()
                    .unwrap()
                    .remove("requestId");
            }
        }
        let (response, _) = invoke(&app, Runtime::Buffered, &event.to_string()).await;
        response.assert_status(StatusCode::OK, "event");
        let header = response.header("x-request-id").unwrap_or_default();
        assert!(is_generated_id(header), "{id:?}: {header}");
    }
}

/// The form the multipart harness builds travels the same way: a refusal in-process names its
/// request too (the router, not the socket, assigns ids).
#[tokio::test]
async fn in_process_refusals_carry_the_id_as_well() {
    let app = TestApp::new();
    let form = Multipart::new().file("e.jpg", "image/jpeg", Vec::new());
    let response = app.upload("type=profile", &form).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let header = response
        .header("x-request-id")
        .unwrap_or_default()
        .to_owned();
    assert!(is_generated_id(&header));
    assert_eq!(response.json()["error"]["requestId"], header.as_str());
}
