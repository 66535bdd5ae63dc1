//! Direct uploads against the contract: every `/direct` route and `PUT /staging/{key}` called for
//! real over a socket (the disk staging signs URLs for the host the client used), each answer
//! checked against `openapi.yaml`, with one error answer of each new code that is cheap to cause.

use std::net::SocketAddr;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::assert_answer_matches_spec;
use crate::harness::{TestApp, TestResponse, config_with, default_config};

const PARAMS: &str = "/direct/{type}/s3/params";
const CREATE: &str = "/direct/{type}/s3/multipart";
const SIGN_PART: &str = "/direct/{type}/s3/multipart/{uploadId}/{partNumber}";
const BATCH: &str = "/direct/{type}/s3/multipart/{uploadId}/batch";
const UPLOAD: &str = "/direct/{type}/s3/multipart/{uploadId}";
const COMPLETE_MULTIPART: &str = "/direct/{type}/s3/multipart/{uploadId}/complete";
const COMPLETE: &str = "/direct/{type}/complete";
const STAGING: &str = "/staging/{key}";

/// A real client of a spawned app.
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn of(app: &TestApp) -> Self {
        let addr: SocketAddr = app.spawn().await;
        Self {
            http: reqwest::Client::new(),
            base: format!("http://{addr}"),
        }
    }

    /// Sends `request` and checks the answer against `method path` of the spec.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        (method, path): (&str, &str),
        label: &str,
    ) -> TestResponse {
        let response = request.send().await.expect("request sent");
        let answer = TestResponse {
            status: response.status(),
            headers: response.headers().clone(),
            body: response.bytes().await.expect("body"),
        };
        assert_answer_matches_spec(method, path, &answer, label);
        answer
    }

    async fn get(&self, uri: &str, path: &str, label: &str) -> TestResponse {
        let request = self.http.get(format!("{}{uri}", self.base));
        self.call(request, ("get", path), label).await
    }

    async fn post(&self, uri: &str, body: Option<&str>, path: &str, label: &str) -> TestResponse {
        let mut request = self.http.post(format!("{}{uri}", self.base));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        self.call(request, ("post", path), label).await
    }

    async fn delete(&self, uri: &str, path: &str, label: &str) -> TestResponse {
        let request = self.http.delete(format!("{}{uri}", self.base));
        self.call(request, ("delete", path), label).await
    }

    /// `PUT url` (a signed staging URL as an answer gave it) with `headers` and `body`.
    async fn put(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        label: &str,
    ) -> TestResponse {
        let mut request = self.http.put(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.call(request, ("put", STAGING), label).await
    }
}

fn small_jpeg() -> Vec<u8> {
    let image = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("JPEG encodes");
    out.into_inner()
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

/// The status and code of an error answer, and the top-level `message` Uppy reads:
/// `"{code}: {error.message}"`.
fn assert_direct_error(answer: &TestResponse, status: StatusCode, code: &str, label: &str) {
    answer.assert_status(status, label);
    let body = answer.json();
    assert_eq!(body["error"]["code"], code, "{label}: {body}");
    let top = format!(
        "{code}: {}",
        body["error"]["message"].as_str().unwrap_or_default()
    );
    assert_eq!(body["message"], top.as_str(), "{label}: {body}");
}

/// A refusal of `PUT /staging/…`: the plain error body.
fn assert_staging_error(answer: &TestResponse, status: StatusCode, code: &str, label: &str) {
    answer.assert_status(status, label);
    assert_eq!(answer.error_code(), code, "{label}");
}

fn etag_of(headers: &HeaderMap, label: &str) -> String {
    let etag = headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{label}: no ETag"));
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "{label}: {etag}"
    );
    etag.to_owned()
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn a_single_put_upload_matches_the_spec() {
    let app = TestApp::with_config(default_config());
    let client = Client::of(&app).await;
    let jpeg = small_jpeg();

    let missing = client
        .get(
            "/direct/image/s3/params?filename=a.jpg&type=image/jpeg",
            PARAMS,
            "params without size",
        )
        .await;
    assert_direct_error(
        &missing,
        StatusCode::BAD_REQUEST,
        "invalid_param",
        "params without size",
    );
    let too_large = client
        .get(
            "/direct/image/s3/params?type=image/jpeg&size=999999999999",
            PARAMS,
            "params too large",
        )
        .await;
    assert_direct_error(
        &too_large,
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        "params too large",
    );

    let uri = format!(
        "/direct/image/s3/params?filename=a.jpg&type=image%2Fjpeg&size={}",
        jpeg.len()
    );
    let params = client.get(&uri, PARAMS, "params").await;
    params.assert_status(StatusCode::OK, "params");
    let params = params.json();
    let (url, key) = (text(&params["url"]), text(&params["key"]));
    assert_eq!(params["headers"]["content-type"], "image/jpeg");
    assert!(
        url.starts_with(&format!("{}/staging/{key}?", client.base)),
        "{url}"
    );

    let swapped = if url.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{swapped}", &url[..url.len() - 1]);
    let headers = [("content-type", "image/jpeg")];
    let forged = client
        .put(&tampered, &headers, jpeg.clone(), "tampered PUT")
        .await;
    assert_staging_error(
        &forged,
        StatusCode::FORBIDDEN,
        "bad_signature",
        "tampered PUT",
    );
    let untyped = client
        .put(&url, &[], jpeg.clone(), "PUT without the signed type")
        .await;
    assert_staging_error(
        &untyped,
        StatusCode::FORBIDDEN,
        "bad_signature",
        "PUT without the signed type",
    );

    let put = client.put(&url, &headers, jpeg.clone(), "PUT").await;
    put.assert_status(StatusCode::OK, "PUT");
    etag_of(&put.headers, "PUT");
    let again = client.put(&url, &headers, jpeg.clone(), "PUT again").await;
    assert_staging_error(&again, StatusCode::FORBIDDEN, "url_reused", "PUT again");

    let foreign = format!("/direct/profile/complete?key={}", encode(&key));
    let foreign = client
        .post(&foreign, None, COMPLETE, "complete as profile")
        .await;
    assert_direct_error(
        &foreign,
        StatusCode::BAD_REQUEST,
        "invalid_staging_key",
        "complete as profile",
    );

    let complete_uri = format!("/direct/image/complete?key={}", encode(&key));
    let complete = client.post(&complete_uri, None, COMPLETE, "complete").await;
    complete.assert_status(StatusCode::OK, "complete");
    let item = complete.json();
    assert!(text(&item["key"]).starts_with("images/"), "{item}");
    assert_eq!(item["location"], item["fileUrl"]);
    assert_eq!(item["originalName"], "a.jpg");
    assert!(!app.data_dir().join(&key).exists(), "{key} still staged");

    let twice = client
        .post(&complete_uri, None, COMPLETE, "complete twice")
        .await;
    assert_direct_error(
        &twice,
        StatusCode::NOT_FOUND,
        "upload_not_found",
        "complete twice",
    );
}

#[tokio::test]
async fn a_multipart_upload_matches_the_spec() {
    let app = TestApp::with_config(default_config());
    let client = Client::of(&app).await;
    let jpeg = small_jpeg();

    let bad = client
        .post(
            "/direct/profile/s3/multipart",
            Some("{nope"),
            CREATE,
            "create with bad JSON",
        )
        .await;
    assert_direct_error(
        &bad,
        StatusCode::BAD_REQUEST,
        "invalid_body",
        "create with bad JSON",
    );

    let body = json!({"filename": "b.jpg", "type": "image/jpeg", "metadata": {}}).to_string();
    let create = client
        .post(
            "/direct/profile/s3/multipart",
            Some(&body),
            CREATE,
            "create",
        )
        .await;
    create.assert_status(StatusCode::OK, "create");
    let create = create.json();
    let (upload_id, key) = (text(&create["uploadId"]), text(&create["key"]));
    let upload = format!("/direct/profile/s3/multipart/{upload_id}");
    let key_query = format!("key={}", encode(&key));

    let sign = client
        .get(&format!("{upload}/1?{key_query}"), SIGN_PART, "sign part")
        .await;
    sign.assert_status(StatusCode::OK, "sign part");
    let part_url = text(&sign.json()["url"]);
    let past_limit = client
        .get(
            &format!("{upload}/14?{key_query}"),
            SIGN_PART,
            "sign part 14",
        )
        .await;
    assert_direct_error(
        &past_limit,
        StatusCode::PAYLOAD_TOO_LARGE,
        "part_limit_exceeded",
        "sign part 14",
    );
    let unknown = client
        .get(
            &format!("/direct/profile/s3/multipart/0000/1?{key_query}"),
            SIGN_PART,
            "sign unknown upload",
        )
        .await;
    assert_direct_error(
        &unknown,
        StatusCode::NOT_FOUND,
        "upload_not_found",
        "sign unknown upload",
    );

    let batch = client
        .get(
            &format!("{upload}/batch?{key_query}&partNumbers=1,2"),
            BATCH,
            "batch",
        )
        .await;
    batch.assert_status(StatusCode::OK, "batch");
    let urls = batch.json()["presignedUrls"].clone();
    assert!(urls["1"].is_string() && urls["2"].is_string(), "{urls}");

    let put = client.put(&part_url, &[], jpeg.clone(), "PUT part").await;
    put.assert_status(StatusCode::OK, "PUT part");
    let etag = etag_of(&put.headers, "PUT part");

    let list = client
        .get(&format!("{upload}?{key_query}"), UPLOAD, "list")
        .await;
    list.assert_status(StatusCode::OK, "list");
    assert_eq!(
        list.json(),
        json!([{"PartNumber": 1, "Size": jpeg.len(), "ETag": etag}])
    );

    let complete_uri = format!("{upload}/complete?{key_query}");
    let wrong = json!({"parts": [{"PartNumber": 1, "ETag": "\"0000\""}]}).to_string();
    let wrong = client
        .post(
            &complete_uri,
            Some(&wrong),
            COMPLETE_MULTIPART,
            "complete with a wrong ETag",
        )
        .await;
    assert_direct_error(
        &wrong,
        StatusCode::BAD_REQUEST,
        "invalid_parts",
        "complete with a wrong ETag",
    );

    let parts = json!({"parts": [{"PartNumber": 1, "ETag": etag}]}).to_string();
    let complete = client
        .post(&complete_uri, Some(&parts), COMPLETE_MULTIPART, "complete")
        .await;
    complete.assert_status(StatusCode::OK, "complete");
    let item = complete.json();
    assert!(text(&item["key"]).starts_with("profile/"), "{item}");
    assert_eq!(item["originalName"], "b.jpg");
    assert!(!app.data_dir().join(&key).exists(), "{key} still staged");

    let create = client
        .post(
            "/direct/profile/s3/multipart",
            Some(&body),
            CREATE,
            "create to abort",
        )
        .await;
    let create = create.json();
    let upload = format!("/direct/profile/s3/multipart/{}", text(&create["uploadId"]));
    let key_query = format!("key={}", encode(&text(&create["key"])));
    let abort = client
        .delete(&format!("{upload}?{key_query}"), UPLOAD, "abort")
        .await;
    abort.assert_status(StatusCode::OK, "abort");
    assert_eq!(abort.json(), json!({}));
    let gone = client
        .get(&format!("{upload}?{key_query}"), UPLOAD, "list after abort")
        .await;
    assert_direct_error(
        &gone,
        StatusCode::NOT_FOUND,
        "upload_not_found",
        "list after abort",
    );
}

#[tokio::test]
async fn staging_puts_over_the_limit_or_too_late_are_refused_as_the_spec_says() {
    let config = config_with(&["--direct-max-bytes", "1000", "--direct-url-ttl-secs", "1"]);
    let app = TestApp::with_config(config);
    let client = Client::of(&app).await;
    let body = json!({"filename": "c.jpg", "type": "image/jpeg"}).to_string();
    let create = client
        .post("/direct/image/s3/multipart", Some(&body), CREATE, "create")
        .await
        .json();
    let batch = format!(
        "/direct/image/s3/multipart/{}/batch?key={}&partNumbers=1",
        text(&create["uploadId"]),
        encode(&text(&create["key"]))
    );
    let url = |answer: TestResponse| text(&answer.json()["presignedUrls"]["1"]);

    let part_url = url(client.get(&batch, BATCH, "batch").await);
    let over = client
        .put(&part_url, &[], vec![0; 2000], "PUT over the limit")
        .await;
    assert_staging_error(
        &over,
        StatusCode::PAYLOAD_TOO_LARGE,
        "part_limit_exceeded",
        "PUT over the limit",
    );

    let part_url = url(client.get(&batch, BATCH, "batch").await);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let late = client
        .put(&part_url, &[], vec![0; 10], "PUT after expiry")
        .await;
    assert_staging_error(
        &late,
        StatusCode::FORBIDDEN,
        "url_expired",
        "PUT after expiry",
    );
}
