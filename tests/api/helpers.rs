//! Shared test harness: an app on a temporary data directory, in-process or on a real socket,
//! multipart bodies, corpus access and checks on stored images.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use pixgate::storage::{FsStore, SharedStore};
use pixgate::{AppState, Config, app};
use serde_json::Value;
use tower::ServiceExt;

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

pub fn corpus_image(name: &str) -> Vec<u8> {
    let path = corpus_dir().join("images").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A configuration with every default, as `pixgate serve` with no flags would have.
pub fn default_config() -> Config {
    config_with(&[])
}

pub fn config_with(args: &[&str]) -> Config {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }
    let mut argv = vec!["pixgate"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv)
        .expect("test config parses")
        .config
}

/// An app on a fresh temporary data directory (disk backend).
pub struct TestApp {
    pub state: AppState,
    pub data_dir: tempfile::TempDir,
}

impl TestApp {
    pub fn new() -> Self {
        Self::with_config(default_config())
    }

    pub fn with_config(config: Config) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let store: SharedStore = Arc::new(FsStore::new(
            data_dir.path(),
            "local",
            "http://127.0.0.1:3000/files",
        ));
        let state = AppState::new(&config, store).expect("valid config");
        Self { state, data_dir }
    }

    pub fn with_store(config: Config, store: SharedStore) -> Self {
        let state = AppState::new(&config, store).expect("valid config");
        Self {
            state,
            data_dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = app(self.state.clone())
            .oneshot(request)
            .await
            .expect("router is infallible");
        TestResponse::read(response).await
    }

    pub async fn upload(&self, query: &str, form: &Multipart) -> TestResponse {
        self.send(form.request(&format!("/upload?{query}"))).await
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.send(Request::get(uri).body(Body::empty()).expect("request"))
            .await
    }

    /// Serves the app on 127.0.0.1 on a free port, for real clients.
    pub async fn spawn(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = app(self.state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        addr
    }
}

/// A response read whole.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: bytes::Bytes,
}

impl TestResponse {
    pub async fn read(response: axum::response::Response) -> Self {
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Self {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `error.code` of an error body.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

/// A multipart/form-data body built by hand, so tests control every byte.
/// A part: field name, file name (files only), Content-Type, bytes.
type Part = (String, Option<String>, Option<String>, Vec<u8>);

#[derive(Debug, Clone, Default)]
pub struct Multipart {
    parts: Vec<Part>,
}

pub const BOUNDARY: &str = "pixgate-test-boundary-7MA4YWxkTrZu0gW";

impl Multipart {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn file(mut self, filename: &str, content_type: &str, bytes: Vec<u8>) -> Self {
        self.parts.push((
            "file".into(),
            Some(filename.into()),
            Some(content_type.into()),
            bytes,
        ));
        self
    }

    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.parts
            .push((name.into(), None, None, value.as_bytes().to_vec()));
        self
    }

    pub fn body(&self) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, filename, content_type, bytes) in &self.parts {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            let disposition = match filename {
                Some(f) => {
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n")
                }
                None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n"),
            };
            body.extend_from_slice(disposition.as_bytes());
            if let Some(ct) = content_type {
                body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    pub fn content_type() -> String {
        format!("multipart/form-data; boundary={BOUNDARY}")
    }

    pub fn request(&self, uri: &str) -> Request<Body> {
        Request::post(uri)
            .header(header::CONTENT_TYPE, Self::content_type())
            .body(Body::from(self.body()))
            .expect("request")
    }
}

/// What a stored image looks like once decoded.
#[derive(Debug)]
pub struct Inspected {
    pub format: image::ImageFormat,
    pub width: u32,
    pub height: u32,
    pub image: image::DynamicImage,
}

pub fn inspect(bytes: &[u8]) -> Inspected {
    let format = image::guess_format(bytes).expect("stored bytes are an image");
    let image = image::load_from_memory(bytes).expect("stored image decodes cleanly");
    Inspected {
        format,
        width: image.width(),
        height: image.height(),
        image,
    }
}

/// Metadata carriers left in an encoded image: JPEG APPn segments other than JFIF's APP0 and
/// PNG chunks other than the pixel-bearing ones. Empty means no EXIF, GPS, XMP, IPTC or ICC.
pub fn metadata_blocks(bytes: &[u8]) -> Vec<String> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return png_chunks(bytes)
            .into_iter()
            .filter(|c| !matches!(c.as_str(), "IHDR" | "IDAT" | "IEND" | "PLTE" | "tRNS"))
            .collect();
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return jpeg_markers(bytes)
            .into_iter()
            .filter(|m| (0xE1..=0xEF).contains(m) || *m == 0xFE)
            .map(|m| format!("marker {m:02X}"))
            .collect();
    }
    panic!("not a PNG or JPEG")
}

fn png_chunks(bytes: &[u8]) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        chunks.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        at += 12 + len;
    }
    chunks
}

/// Markers before the first scan.
fn jpeg_markers(bytes: &[u8]) -> Vec<u8> {
    let mut markers = Vec::new();
    let mut at = 2;
    while at + 4 <= bytes.len() && bytes[at] == 0xFF {
        let marker = bytes[at + 1];
        markers.push(marker);
        if marker == 0xDA {
            break;
        }
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        at += 2 + len;
    }
    markers
}

/// The shape an accepted image must have after orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upright {
    Landscape,
    Portrait,
    Square,
}

impl Upright {
    pub fn parse(expected: &str) -> Option<Self> {
        let value = expected.split("upright=").nth(1)?;
        let word: String = value
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        match word.as_str() {
            "landscape" => Some(Self::Landscape),
            "portrait" => Some(Self::Portrait),
            "square" => Some(Self::Square),
            _ => None,
        }
    }

    pub fn of(width: u32, height: u32) -> Self {
        match width.cmp(&height) {
            std::cmp::Ordering::Greater => Self::Landscape,
            std::cmp::Ordering::Less => Self::Portrait,
            std::cmp::Ordering::Equal => Self::Square,
        }
    }
}

/// The contract's `expected` grammar: an accept, a reject with one or more allowed
/// status/reason pairs, or either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub may_accept: bool,
    pub rejections: Vec<(u16, String)>,
    pub upright: Option<Upright>,
}

impl Expectation {
    pub fn parse(expected: &str) -> Self {
        let head = expected.split(';').next().unwrap_or_default();
        let head = head.strip_prefix("optional:").unwrap_or(head).trim();
        let may_accept = head.starts_with("accept");
        let mut rejections = Vec::new();
        let words: Vec<&str> = head.split_whitespace().collect();
        for window in words.windows(3) {
            if (window[0] == "reject" || window[0] == "or")
                && let Ok(status) = window[1].parse::<u16>()
            {
                rejections.push((status, window[2].to_owned()));
            }
        }
        Self {
            may_accept,
            rejections,
            upright: Upright::parse(expected),
        }
    }
}

/// The box an upload type must fit in, given the upright output shape.
pub fn fits_preset(query_type: &str, width: u32, height: u32) -> bool {
    match query_type {
        "profile" => width <= 200 && height <= 200,
        _ if width >= height => width <= 1920 && height <= 1080,
        _ => width <= 1080 && height <= 1920,
    }
}

/// Checks one accepted item against the stored object and the contract; returns the decoded
/// image for further checks.
pub async fn check_stored_item(
    app: &TestApp,
    item: &Value,
    query_type: &str,
    upright: Option<Upright>,
    label: &str,
) -> Inspected {
    let key = item["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{label}: no key in {item}"));
    let prefix = if query_type == "profile" {
        "profile/"
    } else {
        "images/"
    };
    assert!(
        key.starts_with(prefix),
        "{label}: key {key} outside {prefix}"
    );
    assert!(!key.contains(".."), "{label}: key {key}");
    let stored = app.get(&format!("/files/{key}")).await;
    assert_eq!(stored.status, StatusCode::OK, "{label}: GET /files/{key}");
    let out = inspect(&stored.body);
    assert_eq!(
        item["width"].as_u64(),
        Some(u64::from(out.width)),
        "{label}: width"
    );
    assert_eq!(
        item["height"].as_u64(),
        Some(u64::from(out.height)),
        "{label}: height"
    );
    assert_eq!(
        item["size"].as_u64(),
        Some(stored.body.len() as u64),
        "{label}: size"
    );
    assert_eq!(
        stored.header(header::CONTENT_TYPE),
        item["contentType"].as_str(),
        "{label}: content type"
    );
    assert!(out.width >= 1 && out.height >= 1, "{label}: empty side");
    assert!(
        fits_preset(query_type, out.width, out.height),
        "{label}: {}x{} outside the {query_type} box",
        out.width,
        out.height
    );
    if let Some(upright) = upright {
        assert_eq!(
            Upright::of(out.width, out.height),
            upright,
            "{label}: {}x{} not {upright:?}",
            out.width,
            out.height
        );
    }
    let leftovers = metadata_blocks(&stored.body);
    assert!(
        leftovers.is_empty(),
        "{label}: metadata left in output: {leftovers:?}"
    );
    out
}

/// Mean absolute difference per channel sample between two same-sized images.
pub fn mean_abs_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}
