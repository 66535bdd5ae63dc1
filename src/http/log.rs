//! One log line for each failed request, written here and nowhere else: the answer carries its
//! failures as a response extension (see `error::Failures`), so a failure shared by many
//! single-flight waiters is logged once per request that answered it, and an answer that was
//! not a failure in the end (a preflight routing first refuses with 405, then answers 204) is
//! not logged as one.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::Failures;

pub async fn failures(request: Request, next: Next) -> Response {
    // Cheap clones (the URI shares the request's bytes), so a request that succeeds pays nothing
    // for the log line it does not get.
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    let Some(Failures(failures)) = response.extensions().get::<Failures>() else {
        return response;
    };
    let path = uri.path();
    let status = response.status().as_u16();
    let codes: Vec<&str> = failures.iter().map(|f| f.code.as_str()).collect();
    let causes: Vec<String> = failures
        .iter()
        .map(|f| match f.index {
            Some(index) => format!("[file {index}] {}", f.cause),
            None => f.cause.clone(),
        })
        .collect();
    let (codes, causes) = (codes.join(","), causes.join("; "));
    if failures.iter().any(|f| f.code.status().is_server_error()) {
        tracing::error!(%method, %path, status, code = %codes, error = %causes, "request failed");
    } else {
        tracing::info!(%method, %path, status, code = %codes, error = %causes, "request refused");
    }
    response
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex, PoisonError};

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use crate::config::Config;
    use crate::state::AppState;
    use crate::storage::FsStore;

    /// What the subscriber wrote, for the test to read back.
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

    /// The status of `request` through the whole router, and the failure lines it logged.
    async fn failure_lines(request: Request<Body>) -> (StatusCode, Vec<String>) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(FsStore::new(dir.path(), "local", "http://127.0.0.1/files"));
        let config = Config::from_args(["--allowed-origins", "https://chat.example"]).unwrap();
        let app = crate::http::app(AppState::with_disk_staging(config, store, dir.path()));
        let status = app.oneshot(request).await.unwrap().status();
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines = text
            .lines()
            .filter(|l| l.contains("request refused") || l.contains("request failed"))
            .map(str::to_owned)
            .collect();
        (status, lines)
    }

    fn request(method: &str, uri: &str, origin: &str) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("origin", origin)
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn a_successful_preflight_is_not_logged_as_a_failure() {
        let (status, lines) =
            failure_lines(request("OPTIONS", "/upload", "https://chat.example")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert!(lines.is_empty(), "{lines:?}");
    }

    #[tokio::test]
    async fn each_refusal_is_logged_once_with_its_code() {
        let cases = [
            (
                request("GET", "/nope", "https://chat.example"),
                "code=not_found",
            ),
            (
                request("GET", "/healthz", "https://evil.example"),
                "code=origin_not_allowed",
            ),
            (
                request("POST", "/upload?type=avatar", "https://chat.example"),
                "code=invalid_type",
            ),
        ];
        for (request, code) in cases {
            let (status, lines) = failure_lines(request).await;
            assert!(status.is_client_error());
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert!(
                lines[0].contains(code) && lines[0].contains("request refused"),
                "{lines:?}"
            );
        }
    }
}
