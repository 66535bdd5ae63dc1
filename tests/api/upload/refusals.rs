//! Request-level refusals (type, media type, multipart framing, no file, unknown routes and
//! methods), and no upload answer is ever cached.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use super::photo;
use crate::harness::{BOUNDARY, Multipart, TestApp, TestResponse};

/// `POST /upload?{query}` with the given Content-Type (if any) and body, as they are.
async fn raw_upload(
    app: &TestApp,
    query: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> TestResponse {
    let mut request = Request::post(format!("/upload?{query}"));
    if let Some(ct) = content_type {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    app.send(request.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn missing_or_unknown_type_is_invalid_type() {
    let app = TestApp::new();
    let form = Multipart::new().file("a.jpg", "image/jpeg", photo());
    for query in ["", "type=avatar", "type=PROFILE", "kind=profile"] {
        let response = app.upload(query, &form).await;
        assert_eq!(
            (response.status, response.error_code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_type"),
            "{query:?}"
        );
    }
}

#[tokio::test]
async fn non_multipart_bodies_are_unsupported_media_type() {
    let app = TestApp::new();
    for content_type in [
        None,
        Some("image/jpeg"),
        Some("application/json"),
        Some("multipart/mixed; boundary=x"),
    ] {
        let response = raw_upload(&app, "type=profile", content_type, photo()).await;
        assert_eq!(
            response.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(response.error_code(), "unsupported_media_type");
    }
}

#[tokio::test]
async fn broken_multipart_is_malformed_multipart() {
    let app = TestApp::new();
    let good = Multipart::new().file("a.jpg", "image/jpeg", photo()).body();
    let ct = Multipart::content_type();
    let unterminated = good[..good.len() - (BOUNDARY.len() + 6)].to_vec();
    let mut bad_headers = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
    )
    .into_bytes();
    bad_headers.extend_from_slice(b"this is not a header line");
    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        ("no boundary", "multipart/form-data".into(), good.clone()),
        (
            "boundary mismatch",
            "multipart/form-data; boundary=other".into(),
            good.clone(),
        ),
        ("no closing delimiter", ct.clone(), unterminated),
        ("part headers never end", ct.clone(), bad_headers),
        ("empty body", ct.clone(), Vec::new()),
    ];
    for (case, content_type, body) in cases {
        let response = raw_upload(&app, "type=profile", Some(&content_type), body).await;
        assert_eq!(
            (response.status, response.error_code().as_str()),
            (StatusCode::BAD_REQUEST, "malformed_multipart"),
            "{case}: {}",
            String::from_utf8_lossy(&response.body)
        );
    }
}

#[tokio::test]
async fn a_form_without_file_parts_is_missing_file() {
    let app = TestApp::new();
    let response = app
        .upload("type=profile", &Multipart::new().text("caption", "hello"))
        .await;
    assert_eq!(
        (response.status, response.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "missing_file")
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::new();
    let missing = app.get("/nope").await;
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let wrong_method = app.get("/upload?type=profile").await;
    assert_eq!(
        (wrong_method.status, wrong_method.error_code().as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let health = app.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
}

#[tokio::test]
async fn upload_answers_are_never_cached() {
    let app = TestApp::new();
    let ok = app
        .upload_file("type=profile", "a.jpg", "image/jpeg", photo())
        .await;
    let refused = app.upload("type=nope", &Multipart::new()).await;
    for response in [ok, refused] {
        assert_eq!(
            response.header(header::CACHE_CONTROL),
            Some("no-store"),
            "{response:?}"
        );
    }
}
