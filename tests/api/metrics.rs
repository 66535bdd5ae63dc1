//! `GET /metrics` after real traffic: each counter moved by exactly what the requests did
//! (each app owns its registry, so other tests running in the process cannot move them), the
//! storage figures under S3 faults, and the route gone with `--metrics false`; under Lambda, one
//! EMF line per request through real events, and no route.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::harness::s3_faults::Fault;
use crate::harness::scrape::Scrape;
use crate::harness::{
    Backend, Multipart, Runtime, TestApp, config_with, corpus_image, default_config, encode_png,
    function_url_get, http_api_upload, invoke,
};

const PHOTO: &str = "DSCN0010.jpg";
const UPLOAD: &str = "/upload";

async fn scrape(app: &TestApp) -> Scrape {
    let response = app.get("/metrics").await;
    response.assert_status(StatusCode::OK, "GET /metrics");
    assert!(
        response
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        response.header("content-type")
    );
    Scrape::parse(std::str::from_utf8(&response.body).expect("metrics are text"))
}

fn small_png() -> Vec<u8> {
    encode_png(image::RgbImage::from_fn(300, 200, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    }))
}

#[tokio::test]
async fn counters_move_by_exactly_what_the_requests_did() {
    let app = TestApp::new();
    let forms = [
        Multipart::new().file("a.png", "image/png", small_png()),
        Multipart::new().file(PHOTO, "image/jpeg", corpus_image(PHOTO)),
        Multipart::new().file("notes.png", "image/png", b"not an image at all".to_vec()),
    ];
    let mut sent = 0;
    let mut answered = 0;
    let mut statuses = Vec::new();
    for form in &forms {
        sent += form.body().len();
        let response = app.upload("type=profile", form).await;
        answered += response.body.len();
        statuses.push(response.status);
    }
    assert_eq!(statuses[..2], [StatusCode::OK, StatusCode::OK]);
    let refused = statuses[2];
    assert!(refused.is_client_error(), "{refused}");
    let key = app.upload("type=image", &forms[0]).await.key(0);
    let render = app.get(&format!("/img/{key}?w=50")).await;
    render.assert_status(StatusCode::OK, "render");
    app.get("/no/such/route")
        .await
        .assert_status(StatusCode::NOT_FOUND, "404");

    let m = scrape(&app).await;
    let requests = |route: &str, method: &str, status: StatusCode| {
        m.value(
            "pixgate_http_requests_total",
            &[
                ("route", route),
                ("method", method),
                ("status", status.as_str()),
            ],
        )
    };
    assert_eq!(requests(UPLOAD, "POST", StatusCode::OK), 3.0);
    assert_eq!(requests(UPLOAD, "POST", refused), 1.0);
    assert_eq!(requests("/img/{*key}", "GET", StatusCode::OK), 1.0);
    // The path asked for is not a label: unmatched requests share one.
    assert_eq!(requests("unmatched", "GET", StatusCode::NOT_FOUND), 1.0);
    let upload_route = [("route", UPLOAD)];
    assert_eq!(
        m.value("pixgate_http_request_duration_seconds_count", &upload_route),
        4.0
    );
    assert!(m.value("pixgate_http_request_duration_seconds_sum", &upload_route) > 0.0);
    let form_bytes = forms[0].body().len();
    assert_eq!(
        m.value("pixgate_http_request_bytes_total", &upload_route),
        (sent + form_bytes) as f64
    );
    let responses = m.value("pixgate_http_response_bytes_total", &upload_route);
    assert!(responses > answered as f64, "{responses} vs {answered}");
    assert_eq!(
        m.value(
            "pixgate_http_response_bytes_total",
            &[("route", "/img/{*key}")]
        ),
        render.body.len() as f64
    );
    let uploads = |kind: &str, outcome: &str| {
        m.value(
            "pixgate_uploads_total",
            &[("type", kind), ("outcome", outcome)],
        )
    };
    assert_eq!(uploads("profile", "stored"), 2.0);
    assert_eq!(uploads("profile", "unsupported_format"), 1.0);
    assert_eq!(uploads("image", "stored"), 1.0);
    // Every job probes, even the one refused there; the three stored images and the render
    // each decoded and encoded once.
    let step = |step: &str| m.value("pixgate_pipeline_step_seconds_count", &[("step", step)]);
    assert_eq!(step("probe"), 5.0);
    assert_eq!(step("decode"), 4.0);
    assert_eq!(step("encode"), 4.0);
    assert_eq!(step("animation"), 0.0);
    assert!(m.value("pixgate_pipeline_step_seconds_sum", &[("step", "decode")]) > 0.0);
    assert_eq!(m.value("pixgate_renders_in_flight", &[]), 0.0);
    assert_eq!(m.value("pixgate_renders_queued", &[]), 0.0);
    assert_eq!(m.value("pixgate_storage_errors_total", &[]), 0.0);
    assert_eq!(m.value("pixgate_storage_retries_total", &[]), 0.0);
    for name in ["pixgate_storage_retries_total", "pixgate_renders_queued"] {
        assert!(m.names().contains(&name), "{name} is not exposed");
    }
}

#[tokio::test]
async fn the_response_byte_count_of_an_upload_is_the_answer_sent() {
    let app = TestApp::new();
    let response = app
        .upload_file("type=profile", "a.png", "image/png", small_png())
        .await;
    response.assert_status(StatusCode::OK, "upload");
    let m = scrape(&app).await;
    assert_eq!(
        m.value("pixgate_http_response_bytes_total", &[("route", UPLOAD)]),
        response.body.len() as f64
    );
}

#[tokio::test]
async fn no_page_on_another_origin_may_read_the_metrics() {
    let config = config_with(&["--allowed-origins", "https://chat.example"]);
    let app = TestApp::with_config(config);
    for origin in ["https://chat.example", "https://evil.example"] {
        let response = app.get_with("/metrics", &[("origin", origin)]).await;
        response.assert_status(StatusCode::OK, origin);
        assert_eq!(
            response.header("access-control-allow-origin"),
            None,
            "{origin}"
        );
    }
    // Any other route still answers with CORS.
    let health = app
        .get_with("/healthz", &[("origin", "https://chat.example")])
        .await;
    assert_eq!(
        health.header("access-control-allow-origin"),
        Some("https://chat.example")
    );
    let post = app.send(
        axum::http::Request::post("/metrics")
            .body(axum::body::Body::empty())
            .unwrap(),
    );
    let post = post.await;
    post.assert_status(StatusCode::METHOD_NOT_ALLOWED, "POST /metrics");
    assert_eq!(post.error_code(), "method_not_allowed");
    let m = scrape(&app).await;
    let metrics_requests = |status: &str| {
        m.value(
            "pixgate_http_requests_total",
            &[("route", "/metrics"), ("status", status)],
        )
    };
    assert_eq!(metrics_requests("200"), 2.0);
    assert_eq!(metrics_requests("405"), 1.0);
}

#[tokio::test]
async fn metrics_false_serves_no_metrics_route() {
    let app = TestApp::with_config(config_with(&["--metrics", "false"]));
    let response = app.get("/metrics").await;
    response.assert_status(StatusCode::NOT_FOUND, "--metrics false");
    assert_eq!(response.error_code(), "not_found");
}

#[tokio::test]
async fn s3_retries_and_failed_writes_are_counted() {
    let app = TestApp::on(Backend::S3, default_config()).await;
    let faults = &app.s3_server().faults;
    faults.next(2, Fault::SlowDown);
    app.upload_file("type=profile", PHOTO, "image/jpeg", corpus_image(PHOTO))
        .await
        .assert_status(StatusCode::OK, "two throttled attempts, then stored");
    assert_eq!(faults.puts(), 3);
    let m = scrape(&app).await;
    assert_eq!(m.value("pixgate_storage_retries_total", &[]), 2.0);
    assert_eq!(m.value("pixgate_storage_errors_total", &[]), 0.0);

    faults.always(Fault::InternalError);
    let failed = app
        .upload_file("type=image", PHOTO, "image/jpeg", corpus_image(PHOTO))
        .await;
    faults.clear();
    assert!(failed.status.is_server_error(), "{}", failed.status);
    let attempts = faults.puts() - 3;
    assert!(attempts > 1, "the SDK retried the failing write");
    let m = scrape(&app).await;
    assert_eq!(
        m.value("pixgate_storage_errors_total", &[("op", "put")]),
        1.0
    );
    assert_eq!(
        m.value("pixgate_storage_retries_total", &[]),
        (2 + attempts - 1) as f64
    );
    let code = failed.error_code();
    assert_eq!(
        m.value(
            "pixgate_uploads_total",
            &[("type", "image"), ("outcome", code.as_str())]
        ),
        1.0
    );
}

/// Every metric the line's `_aws` directive names has a number at the top level: what
/// CloudWatch needs to extract it.
fn assert_extractable(line: &Value) {
    let directive = &line["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "pixgate", "{line}");
    assert_eq!(
        directive["Dimensions"],
        json!([["Function", "Route"], ["Function"]])
    );
    for metric in directive["Metrics"].as_array().expect("metrics listed") {
        let name = metric["Name"].as_str().expect("metric name");
        assert!(line[name].is_number(), "{name} has no value: {line}");
    }
}

#[tokio::test]
async fn under_lambda_each_request_writes_one_emf_line_and_no_route_is_served() {
    let app = TestApp::with_config(default_config().with_emf_metrics("pixgate-upload".into()));
    let emf = app.capture_emf();
    let form = Multipart::new().file(PHOTO, "image/jpeg", corpus_image(PHOTO));
    let body = form.body();
    let event = http_api_upload("type=profile", &Multipart::content_type(), &body);
    let (upload, _) = invoke(&app, Runtime::Buffered, &event).await;
    upload.assert_status(StatusCode::OK, "upload through an HTTP API event");
    let event = function_url_get("/metrics", "", json!({"host": "example.lambda-url.aws"}));
    let (scrape, _) = invoke(&app, Runtime::Buffered, &event).await;
    scrape.assert_status(StatusCode::NOT_FOUND, "no /metrics under Lambda");

    let lines = emf.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let (stored, missing) = (&lines[0], &lines[1]);
    assert_extractable(stored);
    assert_eq!(stored["Function"], "pixgate-upload");
    assert_eq!(stored["Route"], "/upload");
    assert_eq!(stored["Status"], 200);
    assert_eq!(stored["Requests"], 1);
    assert_eq!(stored["Errors5xx"], 0);
    assert_eq!(stored["UploadsStored"], 1);
    assert_eq!(stored["RequestBytes"], body.len());
    assert_eq!(stored["ResponseBytes"], upload.body.len());
    assert!(stored["Duration"].as_f64().unwrap() > 0.0);
    assert!(stored["PipelineStep_decode"].as_f64().unwrap() > 0.0);
    assert!(stored["PipelineStep_encode"].as_f64().unwrap() > 0.0);
    assert_extractable(missing);
    assert_eq!(missing["Route"], "unmatched");
    assert_eq!(missing["Status"], 404);
    assert_eq!(missing["Errors4xx"], 1);
    // What the upload reported went with its own line only.
    assert!(missing.get("UploadsStored").is_none() && missing.get("PipelineStep_decode").is_none());
}

/// A direct upload's file counts as an upload's does: stored, or refused for its bytes; a
/// refusal of the protocol (no such staged upload) is a request, not a file.
#[tokio::test]
async fn direct_upload_files_count_as_uploads_and_protocol_refusals_do_not() {
    let direct = crate::direct::client::Direct::start(Backend::Disk, &[]).await;
    let (_, stored) = direct
        .single_put("profile", PHOTO, "image/jpeg", corpus_image(PHOTO))
        .await;
    stored.expect(200, "complete");
    let (_, corrupt) = direct
        .single_put(
            "image",
            "bad.jpg",
            "image/jpeg",
            b"\xff\xd8\xff not a jpeg".to_vec(),
        )
        .await;
    let refused = corrupt.code().to_owned();
    assert_eq!(corrupt.status, 422, "{}", corrupt.body);
    let protocol = direct
        .post("image", "complete?key=incoming%2Fnope", None)
        .await;
    assert!((400..500).contains(&protocol.status), "{}", protocol.body);
    let protocol = protocol.code().to_owned();

    let m = scrape(&direct.app).await;
    let uploads = |kind: &str, outcome: &str| {
        m.value(
            "pixgate_uploads_total",
            &[("type", kind), ("outcome", outcome)],
        )
    };
    assert_eq!(uploads("profile", "stored"), 1.0);
    assert_eq!(uploads("image", &refused), 1.0);
    assert_eq!(
        uploads("image", &protocol),
        0.0,
        "{protocol} is no file's outcome"
    );
    let all: f64 = ["stored", refused.as_str(), protocol.as_str()]
        .iter()
        .map(|outcome| uploads("image", outcome) + uploads("profile", outcome))
        .sum();
    assert_eq!(all, 2.0, "the protocol refusal is no file's outcome");
}
