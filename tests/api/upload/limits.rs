//! Limits and partial success: file count, per-file and per-request size, 207 with failures in
//! place, the first failure as the answer when every file fails, ten files in order.

use axum::http::StatusCode;

use super::photo;
use crate::harness::{Multipart, TestApp, config_with, corpus_image, inspect};

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

/// The rule for 108 and 200 MP phone photos, at test scale: a 2725x2225 (6 MP) baseline JPEG
/// over `--max-pixels` 1 MP is taken for the profile preset (decoded at 1/8: 341x279), refused
/// for the image preset (1323x1080 needs a 1/2 decode, 1.5 MP), and refused from its header
/// alone once it declares more than `--max-declared-pixels`.
#[tokio::test]
async fn a_jpeg_over_max_pixels_is_taken_when_its_scaled_decode_is_under_and_max_declared_allows() {
    let photo = corpus_image("2569067123_aca715a2ee_o.jpg");
    let form = Multipart::new().file("phone.jpg", "image/jpeg", photo);
    let app = TestApp::with_config(config_with(&[
        "--max-pixels",
        "1000000",
        "--max-declared-pixels",
        "8000000",
    ]));
    let response = app.upload("type=profile", &form).await;
    response.assert_status(StatusCode::OK, "scaled decode under --max-pixels");
    let key = response.json()[0]["key"].as_str().unwrap().to_owned();
    let stored = inspect(&std::fs::read(app.data_dir().join(&key)).unwrap());
    assert_eq!((stored.width, stored.height), (200, 163));
    let response = app.upload("type=image", &form).await;
    assert_eq!(
        (response.status, response.error_code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "image_too_large")
    );

    let app = TestApp::with_config(config_with(&[
        "--max-pixels",
        "1000000",
        "--max-declared-pixels",
        "5000000",
    ]));
    let response = app.upload("type=profile", &form).await;
    assert_eq!(
        (response.status, response.error_code().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "image_too_large")
    );
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
