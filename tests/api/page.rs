//! `GET /`: the upload page and its assets, served from the binary; `--ui false` turns it off.
//! (What the page does in a browser is tested in Chromium: `web/tests/`.)

use axum::http::StatusCode;

use crate::harness::{TestApp, config_with, default_config};

#[tokio::test]
async fn the_page_carries_the_limits_it_routes_by() {
    let app = TestApp::with_config(config_with(&["--max-file-bytes", "1234567"]));
    let page = app.get("/").await;
    page.assert_status(StatusCode::OK, "GET /");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(page.body.to_vec()).unwrap();
    let start = html.find(r#"id="pixgate-config">"#).expect("config block") + 20;
    let end = start + html[start..].find("</script>").unwrap();
    let config: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
    assert_eq!(config["maxFileBytes"], 1_234_567);
    assert_eq!(config["directMaxBytes"], 64 << 20);
    assert_eq!(config["partBytes"], 5 << 20);
    // Nothing is fetched from anywhere else.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
}

#[tokio::test]
async fn assets_are_served_with_their_type_and_a_content_etag() {
    let app = TestApp::new();
    for (file, content_type) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("uppy.min.js", "text/javascript; charset=utf-8"),
        ("uppy.min.css", "text/css; charset=utf-8"),
        ("LICENSES.md", "text/markdown; charset=utf-8"),
    ] {
        let asset = app.get(&format!("/ui/{file}")).await;
        asset.assert_status(StatusCode::OK, file);
        assert_eq!(asset.header("content-type"), Some(content_type), "{file}");
        assert!(asset.body.len() > 100, "{file}");
        let etag = asset.header("etag").expect("an ETag").to_owned();
        let again = app
            .get_with(&format!("/ui/{file}"), &[("if-none-match", &etag)])
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{file}");
    }
    let missing = app.get("/ui/nope.js").await;
    assert_eq!(
        (missing.status, missing.error_code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn ui_false_turns_the_page_off() {
    let app = TestApp::with_config(config_with(&["--ui", "false"]));
    for path in ["/", "/ui/app.js"] {
        let answer = app.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.error_code(), "not_found");
    }
    assert_eq!(
        TestApp::with_config(default_config()).get("/").await.status,
        StatusCode::OK
    );
}
