//! CORS: allowed origins are echoed with `Vary: Origin`, refused ones get a JSON 403, preflights
//! answer 204, and error answers carry the headers too.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::harness::{Multipart, TestApp, config_with, corpus_image};

const CHAT: &str = "https://chat.example.com";

fn listed_app() -> TestApp {
    TestApp::with_config(config_with(&[
        "--allowed-origins",
        "https://chat.example.com,https://web.example.com",
    ]))
}

fn upload_from(origin: &str, query: &str) -> Request<Body> {
    let mut request = Multipart::new()
        .file("a.png", "image/png", corpus_image("swiss.png"))
        .request(&format!("/upload?{query}"));
    request
        .headers_mut()
        .insert(header::ORIGIN, origin.parse().unwrap());
    request
}

fn preflight(origin: &str) -> Request<Body> {
    Request::options("/upload?type=profile")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,x-api-key",
        )
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_listed_origin_is_echoed_with_vary() {
    let app = listed_app();
    let response = app.send(upload_from(CHAT, "type=profile")).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(CHAT)
    );
    assert!(
        response
            .header(header::VARY)
            .is_some_and(|v| v.to_ascii_lowercase().contains("origin"))
    );
}

#[tokio::test]
async fn an_unlisted_origin_is_refused_before_anything_is_stored() {
    let app = listed_app();
    let response = app
        .send(upload_from("https://evil.example", "type=profile"))
        .await;
    assert_eq!(
        (response.status, response.error_code().as_str()),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );
    assert_eq!(response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), None);
    assert!(!app.data_dir().join("profile").exists());
    let refused_preflight = app.send(preflight("https://evil.example")).await;
    assert_eq!(refused_preflight.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn preflight_answers_204_with_methods_and_headers() {
    let app = listed_app();
    let response = app.send(preflight(CHAT)).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(CHAT)
    );
    assert!(
        response
            .header(header::ACCESS_CONTROL_ALLOW_METHODS)
            .is_some_and(|m| m.contains("POST"))
    );
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_HEADERS),
        Some("content-type,x-api-key")
    );
    assert!(response.body.is_empty());
}

#[tokio::test]
async fn errors_and_404s_carry_cors_headers() {
    let app = listed_app();
    let error = app.send(upload_from(CHAT, "type=nope")).await;
    assert_eq!(error.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(CHAT)
    );
    let mut request = Request::get("/missing").body(Body::empty()).unwrap();
    request
        .headers_mut()
        .insert(header::ORIGIN, CHAT.parse().unwrap());
    let missing = app.send(request).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(CHAT)
    );
}

#[tokio::test]
async fn the_default_policy_allows_any_origin_on_every_answer() {
    let app = TestApp::new();
    let ok = app
        .send(upload_from("https://anywhere.example", "type=profile"))
        .await;
    assert_eq!(ok.header(header::ACCESS_CONTROL_ALLOW_ORIGIN), Some("*"));
    let no_origin = app.get("/nope").await;
    assert_eq!(
        no_origin.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("*")
    );
    let pre = app.send(preflight("https://anywhere.example")).await;
    assert_eq!(
        (pre.status, pre.header(header::ACCESS_CONTROL_ALLOW_ORIGIN)),
        (StatusCode::NO_CONTENT, Some("*"))
    );
}

#[tokio::test]
async fn options_lists_exactly_the_methods_of_each_route() {
    let app = TestApp::new();
    let options = |uri: &str| Request::options(uri).body(Body::empty()).unwrap();
    let upload = app.send(options("/upload")).await;
    assert_eq!(upload.status, StatusCode::NO_CONTENT);
    assert_eq!(upload.header(header::ALLOW), Some("POST,OPTIONS"));
    let health = app.send(options("/healthz")).await;
    assert_eq!(health.header(header::ALLOW), Some("GET,HEAD,OPTIONS"));
    let missing = app.send(options("/nope")).await;
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    assert_eq!(
        missing.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("*")
    );
}

#[tokio::test]
async fn the_servers_own_origin_needs_no_listing() {
    let app = TestApp::with_config(config_with(&["--allowed-origins", "https://chat.example"]));
    let own = [
        ("host", "127.0.0.1:3000"),
        ("origin", "http://127.0.0.1:3000"),
    ];
    let answer = app.get_with("/healthz", &own).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        Some("http://127.0.0.1:3000")
    );
    let other = [
        ("host", "127.0.0.1:3000"),
        ("origin", "http://127.0.0.1:3001"),
    ];
    let refused = app.get_with("/healthz", &other).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "origin_not_allowed");
}
