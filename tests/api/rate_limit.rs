//! The upload rate limit of `pixgate serve`: after its burst a client gets a JSON 429 with
//! `Retry-After` and the CORS headers, counted per token subject when authenticated and per
//! address when anonymous, so one client's uploads never spend another's.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::harness::jwt::{AUDIENCE, HS256_SECRET, ISSUER, Signer, claims};
use crate::harness::{Multipart, TestApp, TestResponse, config_with, encode_png};
use crate::openapi::assert_upload_answer_matches_spec;

fn form() -> Multipart {
    Multipart::new().file("a.png", "image/png", form_png())
}

fn upload_as(sub: &str) -> Request<Body> {
    let mut request = form().request("/upload?type=image");
    let token = Signer::Hs256.sign(None, &claims(sub));
    let value = format!("Bearer {token}").parse().expect("header value");
    request.headers_mut().insert(header::AUTHORIZATION, value);
    request
}

fn assert_rate_limited(response: &TestResponse, label: &str) {
    response.assert_status(StatusCode::TOO_MANY_REQUESTS, label);
    assert_eq!(response.error_code(), "rate_limited", "{label}");
    // 2 per minute: the next token comes back within 30 s.
    let retry: u64 = response
        .header(header::RETRY_AFTER)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{label}: no Retry-After"));
    assert!((1..=30).contains(&retry), "{label}: Retry-After {retry}");
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("*"),
        "{label}"
    );
    assert_upload_answer_matches_spec(response, label);
}

#[tokio::test]
async fn each_token_subject_has_its_own_bucket() {
    let app = TestApp::with_config(config_with(&[
        "--jwt-hs256-secret",
        HS256_SECRET,
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
        "--rate-limit-per-minute",
        "2",
        "--rate-limit-burst",
        "2",
    ]));
    for i in 0..2 {
        app.send(upload_as("alice"))
            .await
            .assert_status(StatusCode::OK, &format!("alice {i}"));
    }
    assert_rate_limited(&app.send(upload_as("alice")).await, "alice over the burst");
    app.send(upload_as("bob"))
        .await
        .assert_status(StatusCode::OK, "bob");
}

#[tokio::test]
async fn anonymous_clients_are_counted_by_address_over_a_real_socket() {
    let app = TestApp::with_config(config_with(&[
        "--rate-limit-per-minute",
        "2",
        "--rate-limit-burst",
        "2",
    ]));
    let addr = app.spawn().await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let part = reqwest::multipart::Part::bytes(form_png()).file_name("a.png");
        let response = client
            .post(format!("http://{addr}/upload?type=image"))
            .header(header::ORIGIN, "https://chat.example.com")
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .expect("request");
        statuses.push(response.status().as_u16());
        last = Some(response);
    }
    assert_eq!(statuses, [200, 200, 429]);
    let last = last.expect("three answers");
    let retry = last.headers().get(header::RETRY_AFTER).cloned();
    let origin = last
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .cloned();
    let body: serde_json::Value = last.json().await.expect("JSON body");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(retry.is_some());
    assert_eq!(origin.as_ref().and_then(|v| v.to_str().ok()), Some("*"));
    // Other routes are not counted.
    let health = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
}

fn form_png() -> Vec<u8> {
    encode_png(image::RgbImage::from_pixel(8, 8, image::Rgb([10, 200, 10])))
}
