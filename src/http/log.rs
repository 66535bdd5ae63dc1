//! One log line for each request, written here and nowhere else, inside the request's span (so
//! it names the request id): method, route, path, the query's transform and type parameters,
//! status, error codes and causes, duration, bytes in and out, and for uploads each file's
//! outcome. Never a body, a header, a signature or a token: the query is logged only for the
//! parameters listed in [`LOGGED_PARAMS`].
//!
//! Failures travel as a response extension (see `error::Failures`), so a failure shared by many
//! single-flight waiters is logged once per request that answered it, and an answer that was
//! not a failure in the end (a preflight routing first refuses with 405, then answers 204) is
//! not logged as one.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;

use super::matched_route::MatchedRoute;
use crate::error::{ErrorCode, Failure, Failures};

/// The query parameters worth a log line: what was asked for, never who asked or a signature.
const LOGGED_PARAMS: &[&str] = &["type", "w", "h", "fit", "enlarge", "f", "q"];

/// A logged query is cut here: a valid one is far shorter, an abusive one must not flood logs.
const MAX_LOGGED_QUERY: usize = 256;

/// Response extension: what became of each file of an upload, for the request's line.
#[derive(Debug, Clone, Default)]
pub struct FileOutcomes(pub Vec<FileOutcome>);

#[derive(Debug, Clone)]
pub struct FileOutcome {
    pub index: usize,
    /// The file's bytes as received; unknown for a direct upload, whose bytes went to staging.
    pub bytes_in: Option<usize>,
    /// The stored key and size, or the code it was refused with.
    pub result: Result<(String, usize), ErrorCode>,
}

pub async fn requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Cheap clones (the URI shares the request's bytes).
    let method = request.method().clone();
    let uri = request.uri().clone();
    let (request, bytes_in) = count_body(request);
    let response = next.run(request).await;
    let line = Line {
        route: response
            .extensions()
            .get::<MatchedRoute>()
            .map_or("-", |route| &route.0),
        query: logged_query(uri.query()),
        status: response.status().as_u16(),
        // Whole microseconds: a line says 146.267, not 146.26762200000002.
        duration_ms: started.elapsed().as_micros() as f64 / 1000.0,
        bytes_in: bytes_in.load(Ordering::Relaxed),
        bytes_out: response.body().size_hint().exact(),
        files: response.extensions().get::<FileOutcomes>(),
    };
    let path = uri.path();
    let failures = response
        .extensions()
        .get::<Failures>()
        .map_or(&[][..], |f| &f.0[..]);
    let code = (!failures.is_empty()).then(|| codes(failures));
    let error = (!failures.is_empty()).then(|| causes(failures));
    if failures.iter().any(|f| f.code.status().is_server_error()) {
        tracing::error!(
            %method, path, route = line.route, query = line.query, status = line.status,
            code, error, durationMs = line.duration_ms, bytesIn = line.bytes_in,
            bytesOut = line.bytes_out, files = line.file_count(), outcomes = line.outcomes(),
            "request failed"
        );
    } else {
        let verdict = if failures.is_empty() {
            "served"
        } else {
            "refused"
        };
        tracing::info!(
            %method, path, route = line.route, query = line.query, status = line.status,
            code, error, durationMs = line.duration_ms, bytesIn = line.bytes_in,
            bytesOut = line.bytes_out, files = line.file_count(), outcomes = line.outcomes(),
            "request {verdict}"
        );
    }
    response
}

fn codes(failures: &[Failure]) -> String {
    let codes: Vec<&str> = failures.iter().map(|f| f.code.as_str()).collect();
    codes.join(",")
}

/// Each failure's whole cause chain, with the file it was about.
fn causes(failures: &[Failure]) -> String {
    let causes: Vec<String> = failures
        .iter()
        .map(|f| match f.index {
            Some(index) => format!("[file {index}] {}", f.cause),
            None => f.cause.clone(),
        })
        .collect();
    causes.join("; ")
}

/// The figures of one request's line.
struct Line<'a> {
    route: &'a str,
    query: String,
    status: u16,
    duration_ms: f64,
    bytes_in: u64,
    /// Unknown for a streamed answer.
    bytes_out: Option<u64>,
    files: Option<&'a FileOutcomes>,
}

impl Line<'_> {
    fn file_count(&self) -> Option<usize> {
        self.files.map(|files| files.0.len())
    }

    /// `#0 stored profile/…/ab.jpg 812345>23456 B; #1 corrupt_image 1234 B`.
    fn outcomes(&self) -> Option<String> {
        let files = self.files?;
        let mut text = String::new();
        for (n, file) in files.0.iter().enumerate() {
            if n > 0 {
                text.push_str("; ");
            }
            let bytes_in = file
                .bytes_in
                .map_or_else(|| "?".to_owned(), |bytes| bytes.to_string());
            let _ = match &file.result {
                Ok((key, size)) => {
                    write!(text, "#{} stored {key} {bytes_in}>{size} B", file.index)
                }
                Err(code) => write!(text, "#{} {} {bytes_in} B", file.index, code.as_str()),
            };
        }
        Some(text)
    }
}

/// The request with its body counted as it is read: what a handler consumed, whatever it was
/// sent as (chunked, base64 in an event).
fn count_body(request: Request) -> (Request, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&count);
    let request = request.map(|body| {
        Body::new(body.map_frame(move |frame| {
            if let Some(data) = frame.data_ref() {
                counter.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            frame
        }))
    });
    (request, count)
}

/// The query reduced to [`LOGGED_PARAMS`], in the order given.
fn logged_query(query: Option<&str>) -> String {
    let Some(query) = query else {
        return String::new();
    };
    let kept: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .filter(|(name, _)| LOGGED_PARAMS.contains(&name.as_ref()))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let mut text = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    if text.len() > MAX_LOGGED_QUERY {
        let mut end = MAX_LOGGED_QUERY;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex, PoisonError};

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::response::Response;
    use serde_json::Value;
    use tower::ServiceExt;

    use crate::config::Config;
    use crate::logging::{self, LogFormat};
    use crate::state::AppState;
    use crate::storage::FsStore;

    /// What the logger wrote, for the test to read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut out = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            out.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The answer to `request` through the whole router, and the request lines logged in
    /// `format` meanwhile.
    async fn logged(format: LogFormat, request: Request<Body>) -> (Response, Vec<String>) {
        let captured = Captured::default();
        let writer = captured.clone();
        let dispatch = logging::dispatch(format, false, move || writer.clone());
        let _guard = tracing::dispatcher::set_default(&dispatch);
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FsStore::new(dir.path(), "local", "http://127.0.0.1/files"));
        let config = Config::from_args(["--allowed-origins", "https://chat.example"]).unwrap();
        let app = crate::http::app(AppState::with_disk_staging(config, store, dir.path()));
        let response = app.oneshot(request).await.unwrap();
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines = text
            .lines()
            .filter(|l| l.contains("pixgate::http::log"))
            .map(str::to_owned)
            .collect();
        (response, lines)
    }

    fn request(method: &str, uri: &str, origin: &str) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("origin", origin)
            .body(Body::empty())
            .unwrap()
    }

    fn upload(jpeg: Vec<u8>) -> Request<Body> {
        let boundary = "pixgate-log-test";
        let mut body = format!(
            "--{boundary}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\
             content-type: image/jpeg\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&jpeg);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Request::builder()
            .method("POST")
            .uri("/upload?type=profile")
            .header("origin", "https://chat.example")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .unwrap()
    }

    fn request_id(response: &Response) -> String {
        let id = response
            .headers()
            .get("x-request-id")
            .expect("x-request-id");
        id.to_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_successful_preflight_is_one_line_and_not_a_failure() {
        let (response, lines) = logged(
            LogFormat::Text,
            request("OPTIONS", "/upload", "https://chat.example"),
        )
        .await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("request served"), "{lines:?}");
    }

    #[tokio::test]
    async fn each_refusal_is_logged_once_with_its_code_and_request_id() {
        let cases = [
            (
                request("GET", "/nope", "https://chat.example"),
                "code=\"not_found\"",
            ),
            (
                request("GET", "/healthz", "https://evil.example"),
                "code=\"origin_not_allowed\"",
            ),
            (
                request("POST", "/upload?type=avatar", "https://chat.example"),
                "code=\"invalid_type\"",
            ),
        ];
        for (request, code) in cases {
            let (response, lines) = logged(LogFormat::Text, request).await;
            assert!(response.status().is_client_error());
            assert_eq!(lines.len(), 1, "{lines:?}");
            let id = request_id(&response);
            assert!(
                lines[0].contains(code)
                    && lines[0].contains("request refused")
                    && lines[0].contains(&format!("requestId={id}")),
                "{lines:?}"
            );
        }
    }

    #[tokio::test]
    async fn an_upload_line_names_route_sizes_and_each_file_s_outcome() {
        let jpeg = crate::pipeline::test_images::test_jpeg(640, 480);
        let sent = jpeg.len();
        let (response, lines) = logged(LogFormat::Json, upload(jpeg)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let id = request_id(&response);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line: Value = serde_json::from_str(&lines[0]).expect("one JSON object per line");
        assert_eq!(line["requestId"], id.as_str());
        assert_eq!(line["message"], "request served");
        assert_eq!(line["level"], "INFO");
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(line["route"], "/upload");
        assert_eq!(line["query"], "type=profile");
        assert_eq!(line["status"], 200);
        assert_eq!(line["files"], 1);
        // The multipart framing comes on top of the file.
        let bytes_in = line["bytesIn"].as_u64().unwrap();
        assert!(
            bytes_in > sent as u64 && bytes_in < sent as u64 + 300,
            "{line}"
        );
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(line["bytesOut"], body.len());
        let stored: Value = serde_json::from_slice(&body).unwrap();
        let key = stored[0]["key"].as_str().unwrap();
        let size = &stored[0]["size"];
        let outcome = format!("#0 stored {key} {sent}>{size} B");
        assert_eq!(line["outcomes"], outcome.as_str());
    }

    #[tokio::test]
    async fn signatures_and_unknown_parameters_stay_out_of_the_line() {
        let uri = "/img/a/b.jpg?w=10&s=SECRETSIGNATURE&token=SECRETTOKEN";
        let (response, lines) =
            logged(LogFormat::Json, request("GET", uri, "https://chat.example")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(!lines[0].contains("SECRET"), "{lines:?}");
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["query"], "w=10");
        assert_eq!(line["route"], "/img/{*key}");
        assert_eq!(line["code"], "not_found");
        assert_eq!(line["requestId"], request_id(&response).as_str());
    }

    #[test]
    fn outcomes_name_each_file_and_an_unknown_size_as_such() {
        use super::{FileOutcome, FileOutcomes, Line};
        use crate::error::ErrorCode;
        let files = FileOutcomes(vec![
            FileOutcome {
                index: 0,
                bytes_in: Some(812_345),
                result: Ok(("images/a.jpg".into(), 23_456)),
            },
            FileOutcome {
                index: 1,
                bytes_in: Some(1234),
                result: Err(ErrorCode::CorruptImage),
            },
            FileOutcome {
                index: 2,
                bytes_in: None,
                result: Ok(("profile/b.webp".into(), 99)),
            },
        ]);
        let line = Line {
            route: "/upload",
            query: String::new(),
            status: 207,
            duration_ms: 1.0,
            bytes_in: 0,
            bytes_out: None,
            files: Some(&files),
        };
        assert_eq!(line.file_count(), Some(3));
        assert_eq!(
            line.outcomes().unwrap(),
            "#0 stored images/a.jpg 812345>23456 B; #1 corrupt_image 1234 B; \
             #2 stored profile/b.webp ?>99 B"
        );
    }

    #[test]
    fn logged_queries_keep_listed_parameters_and_are_bounded() {
        use super::logged_query;
        assert_eq!(logged_query(None), "");
        assert_eq!(
            logged_query(Some("h=5&s=x&w=7&X-Amz-Signature=y")),
            "h=5&w=7"
        );
        let long = format!("w={}", "9".repeat(1000));
        assert_eq!(logged_query(Some(&long)).len(), super::MAX_LOGGED_QUERY);
    }
}
