//! POST /upload: request-level refusals, per-file limits, partial success, keys and names.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::harness::{BOUNDARY, Multipart, TestApp, TestResponse, config_with, corpus_image};

fn photo() -> Vec<u8> {
    corpus_image("Landscape_1.jpg")
}

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
async fn more_files_than_allowed_is_too_many_files() {
    let app = TestApp::with_config(config_with(&["--max-files", "2"]));
    let small = corpus_image("tbbn3p08.png");
    let form = (0..3).fold(Multipart::new(), |f, i| {
        f.file(&format!("{i}.png"), "image/png", small.clone())
    });
    let response = app.upload("type=image", &form).await;
    assert_eq!(
        (response.status, response.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "too_many_files")
    );
    let two = (0..2).fold(Multipart::new(), |f, i| {
        f.file(&format!("{i}.png"), "image/png", small.clone())
    });
    assert_eq!(app.upload("type=image", &two).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_oversized_file_fails_alone_and_the_rest_are_stored() {
    let app = TestApp::with_config(config_with(&["--max-file-bytes", "100000"]));
    let form = Multipart::new()
        .file("small.png", "image/png", corpus_image("swiss.png"))
        .file("big.jpg", "image/jpeg", photo())
        .file("tiny.png", "image/png", corpus_image("tbbn3p08.png"));
    let response = app.upload("type=image", &form).await;
    assert_eq!(response.status, StatusCode::MULTI_STATUS);
    let items = response.json();
    assert!(items[0]["key"].is_string());
    assert_eq!(items[1]["error"]["code"], "file_too_large");
    assert_eq!(items[1]["index"], 1);
    assert_eq!(items[1]["originalName"], "big.jpg");
    assert!(items[2]["key"].is_string());
}

#[tokio::test]
async fn a_body_over_the_request_limit_is_payload_too_large() {
    let app = TestApp::with_config(config_with(&[
        "--max-request-bytes",
        "200000",
        "--max-file-bytes",
        "150000",
    ]));
    let form =
        Multipart::new()
            .file("a.jpg", "image/jpeg", photo())
            .file("b.jpg", "image/jpeg", photo());
    let response = app.upload("type=image", &form).await;
    assert_eq!(
        (response.status, response.error_code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

#[tokio::test]
async fn when_every_file_fails_the_first_failure_is_the_answer() {
    let app = TestApp::new();
    let form = Multipart::new()
        .text("caption", "two bad files")
        .file("empty.jpg", "image/jpeg", Vec::new())
        .file("notes.jpg", "image/jpeg", b"just text".to_vec());
    let response = app.upload("type=profile", &form).await;
    assert_eq!(response.status, StatusCode::BAD_REQUEST);
    let body = response.json();
    assert_eq!(body["error"]["code"], "empty_file");
    assert_eq!(body["error"]["index"], 0);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
}

#[tokio::test]
async fn mixed_outcomes_answer_207_with_failures_in_place() {
    let app = TestApp::new();
    let form = Multipart::new()
        .file("ok.jpg", "image/jpeg", photo())
        .file("page.svg", "image/svg+xml", corpus_image("check.svg"))
        .file(
            "bomb.png",
            "image/png",
            corpus_image("bomb-png-50000x50000-header.png"),
        );
    let response = app.upload("type=profile", &form).await;
    assert_eq!(response.status, StatusCode::MULTI_STATUS);
    let items = response.json();
    assert_eq!(items.as_array().map(Vec::len), Some(3));
    assert_eq!(items[0]["originalName"], "ok.jpg");
    assert_eq!(items[1]["error"]["code"], "unsupported_format");
    assert_eq!(items[1]["index"], 1);
    assert_eq!(items[2]["error"]["code"], "image_too_large");
}

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

#[tokio::test]
async fn ten_files_in_one_request_are_all_stored_in_order() {
    let app = TestApp::new();
    let files = [
        "Landscape_1.jpg",
        "Portrait_1.jpg",
        "swiss.png",
        "with-alpha.png",
        "4.webp",
        "Crash_test.gif",
        "rgb24.bmp",
        "concert.jpg",
        "tbbn3p08.png",
        "Landscape_3.jpg",
    ];
    let form = files.iter().fold(Multipart::new(), |f, name| {
        f.file(name, "application/octet-stream", corpus_image(name))
    });
    let response = app.upload("type=image", &form).await;
    response.assert_status(StatusCode::OK, "ten files");
    let items = response.json();
    for (i, name) in files.iter().enumerate() {
        assert_eq!(items[i]["originalName"], *name);
        let key = items[i]["key"].as_str().unwrap();
        assert!(app.data_dir().join(key).is_file(), "{key}");
    }
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

/// Clients such as Postman and browsers send the headers, then stream the body. An answer
/// decided from the headers alone must still reach them: the server reads the body before
/// answering instead of closing the socket under the client's writes.
#[tokio::test]
async fn early_refusals_reach_clients_that_stream_the_body_after_the_headers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::new();
    let addr = app.spawn().await;
    let body = Multipart::new()
        .file("a.jpg", "image/jpeg", vec![0x55; 3 << 20])
        .body();
    let cases = [
        ("type=avatar", Multipart::content_type(), "invalid_type"),
        (
            "type=profile",
            "application/octet-stream".to_owned(),
            "unsupported_media_type",
        ),
        (
            "type=profile",
            "multipart/form-data; boundary=not-the-one".to_owned(),
            "malformed_multipart",
        ),
    ];
    for (query, content_type, code) in cases {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /upload?{query} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        for chunk in body.chunks(64 * 1024) {
            stream
                .write_all(chunk)
                .await
                .unwrap_or_else(|e| panic!("{code}: body write failed: {e}"));
        }
        let mut answer = vec![0; 4096];
        let n = stream.read(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(
            answer.contains(&format!("\"code\":\"{code}\"")),
            "{code}: {answer}"
        );
    }
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

#[tokio::test]
async fn a_client_that_stalls_mid_body_gets_408_instead_of_holding_the_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::with_config(config_with(&["--request-timeout-secs", "1"]));
    let addr = app.spawn().await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /upload?type=profile HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {}\r\nContent-Length: 100000\r\n\r\n--{BOUNDARY}\r\n",
        Multipart::content_type()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered well before the client gives up")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
}
