//! Refusals: bad parameters, keys outside the transform prefixes (never read), stored objects
//! that are not good images, renditions over the pixel limit.

use axum::http::StatusCode;

use super::{PHOTO, assert_error, assert_image, photo_app};
use crate::harness::{TestApp, config_with, corpus_image};

#[tokio::test]
async fn bad_parameters_are_400_invalid_param_naming_the_parameter() {
    let app = photo_app(&["--transform-max-side", "1000"]).await;
    let cases = [
        ("w=abc", "w"),
        ("w=0", "w"),
        ("w=1001", "w"),
        ("w=", "w"),
        ("h=-5", "h"),
        ("h=1e3", "h"),
        ("q=0", "q"),
        ("q=101", "q"),
        ("f=gif", "f"),
        ("fit=crop", "fit"),
        ("enlarge=yes", "enlarge"),
        ("s=abc%3D", "s"),
        ("width=100", "width"),
        ("Foo=1", "foo"),
        ("w=100&bogus", "bogus"),
        ("W=100&w=200", "w"),
        ("w=100&w=100", "w"),
        ("f=webp&f=webp", "f"),
        ("h=10&w=abc&q=0", "w"),
    ];
    for (query, param) in cases {
        let response = app
            .get_with(
                &format!("/img/{PHOTO}?{query}"),
                &[("origin", "https://chat.example.com")],
            )
            .await;
        assert_error(&response, StatusCode::BAD_REQUEST, "invalid_param", query);
        assert_eq!(response.json()["error"]["param"], param, "{query}");
        assert_eq!(
            response.header("access-control-allow-origin"),
            Some("*"),
            "{query}: CORS on errors"
        );
    }
    assert!(
        app.reads().is_empty(),
        "refused before any read: {:?}",
        app.reads()
    );
    // The limit itself is allowed.
    let at_limit = app.get(&format!("/img/{PHOTO}?w=1000")).await;
    assert_eq!(at_limit.status, StatusCode::OK);
}

#[tokio::test]
async fn keys_outside_the_transform_prefixes_are_404_and_never_read() {
    let app = TestApp::new();
    let jpeg = corpus_image("DSCN0010.jpg");
    // Real objects outside the prefixes, to prove they are not served.
    app.put("other/x.jpg", jpeg.clone()).await;
    app.put("profile/p.jpg", jpeg.clone()).await;
    let dir = app.data_dir();
    std::fs::write(dir.join("secret.txt"), "secret").unwrap();
    std::fs::create_dir_all(dir.join(".meta/images")).unwrap();
    std::fs::write(dir.join(".meta/images/x.json"), "{}").unwrap();
    for uri in [
        "/img/other/x.jpg",
        "/img/other/x.jpg?w=10",
        "/img/../etc/passwd",
        "/img/../secret.txt?w=10",
        "/img/images/../secret.txt",
        "/img/images/%2e%2e/secret.txt",
        "/img/images/..%2f..%2fsecret.txt",
        "/img/images%2f..%2fsecret.txt",
        "/img/images/%5c..%5csecret.txt",
        "/img/.meta/images/x.json",
        "/img/images/.meta/x.json",
        "/img/secret.txt",
        "/img/images",
        "/img/imagesx/a.jpg",
    ] {
        let response = app
            .get_with(uri, &[("origin", "https://chat.example.com")])
            .await;
        assert_error(&response, StatusCode::NOT_FOUND, "not_found", uri);
        assert_eq!(
            response.header("access-control-allow-origin"),
            Some("*"),
            "{uri}"
        );
    }
    assert!(app.reads().is_empty(), "read: {:?}", app.reads());

    // Missing under a valid prefix: looked up, then 404.
    let missing = "/img/images/2026/01/01/missing.jpg?w=10";
    assert_error(
        &app.get(missing).await,
        StatusCode::NOT_FOUND,
        "not_found",
        missing,
    );
    // The default prefixes are the upload ones; profile/ is served.
    assert_eq!(
        app.get("/img/profile/p.jpg?w=10").await.status,
        StatusCode::OK
    );

    // Narrowed with --transform-prefixes, the other upload prefix is off limits too.
    let app = TestApp::with_config(config_with(&["--transform-prefixes", "images"]));
    app.put("profile/p.jpg", jpeg).await;
    assert_error(
        &app.get("/img/profile/p.jpg?w=10").await,
        StatusCode::NOT_FOUND,
        "not_found",
        "profile with --transform-prefixes images",
    );
    assert!(app.reads().is_empty(), "read: {:?}", app.reads());
}

#[tokio::test]
async fn stored_objects_that_are_not_good_images_are_refused() {
    let app = TestApp::new();
    app.put("images/notes.txt", b"just some text, not pixels\n".to_vec())
        .await;
    app.put("images/not-an-image.jpg", corpus_image("not-an-image.jpg"))
        .await;
    app.put("images/truncated.jpg", corpus_image("truncated.jpg"))
        .await;
    app.put("images/truncated.png", corpus_image("truncated.png"))
        .await;
    app.put(
        "images/bomb.png",
        corpus_image("bomb-png-50000x50000-header.png"),
    )
    .await;
    let cases = [
        (
            "/img/images/notes.txt?w=10",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_format",
        ),
        (
            "/img/images/notes.txt",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_format",
        ),
        (
            "/img/images/not-an-image.jpg?w=10",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_format",
        ),
        (
            "/img/images/truncated.jpg?w=100",
            StatusCode::UNPROCESSABLE_ENTITY,
            "corrupt_image",
        ),
        (
            "/img/images/truncated.png?w=100",
            StatusCode::UNPROCESSABLE_ENTITY,
            "corrupt_image",
        ),
        (
            "/img/images/bomb.png?w=100",
            StatusCode::UNPROCESSABLE_ENTITY,
            "image_too_large",
        ),
    ];
    for (uri, status, code) in cases {
        let response = app
            .get_with(uri, &[("origin", "https://chat.example.com")])
            .await;
        assert_error(&response, status, code, uri);
        assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    }
}

#[tokio::test]
async fn renditions_over_the_pixel_limit_are_422() {
    let app = photo_app(&["--max-pixels", "1000000"]).await;
    let uri = format!("/img/{PHOTO}?w=4000&h=4000&fit=outside&enlarge=1");
    assert_error(
        &app.get(&uri).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "image_too_large",
        &uri,
    );
    let uri = format!("/img/{PHOTO}?w=1200&enlarge=1"); // 1200x900
    assert_error(
        &app.get(&uri).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "image_too_large",
        &uri,
    );
    // Under the limit it renders (1000x750 = 750 000 pixels).
    let uri = format!("/img/{PHOTO}?w=1000&h=750&fit=outside&enlarge=1");
    assert_image(&app.get(&uri).await, "jpeg", (1000, 750), &uri);
}
