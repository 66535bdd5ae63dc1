//! Animated images (GIF, WebP, APNG): uploads stored as animated WebP with every frame, delay,
//! loop count and transparency kept, profiles, renditions, the animation limits and Lambda.
//!
//! Everything goes over a real socket to the app as `pixgate serve` runs it, and every upload
//! answer is checked against openapi.yaml; stored animations
//! are read back by the harness's own WebP reader ([`webp_anim`](crate::harness::webp_anim))
//! and compared with what Pillow makes of the source.

mod composite;
mod corpus;
mod lambda;
mod limits;
mod profile;
mod transform;

use std::net::SocketAddr;

use axum::http::{StatusCode, header};
use image::RgbaImage;
use serde_json::Value;

use crate::harness::animations::Rect;
use crate::harness::similarity::mean_rgba;
use crate::harness::webp_anim::{AnimatedWebp, is_animated_webp, read_animated_webp};
use crate::harness::{Backend, Multipart, TestApp, TestResponse, config_with, inspect};

/// How far a region's mean colour may be from the colour drawn there (lossy frames).
const COLOUR_TOLERANCE: f64 = 24.0;

/// An app served on a real socket, and a client that follows no redirect.
struct Served {
    app: TestApp,
    addr: SocketAddr,
    client: reqwest::Client,
}

impl Served {
    /// On `backend`, configured with `args` (flags of `pixgate serve`).
    async fn start(backend: Backend, args: &[&str]) -> Self {
        let app = TestApp::on(backend, config_with(args)).await;
        let addr = app.spawn().await;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self { app, addr, client }
    }

    async fn read(response: reqwest::Response) -> TestResponse {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body");
        TestResponse {
            status,
            headers,
            body,
        }
    }

    /// `POST /upload?{query}` with one file part and the request `headers`.
    async fn upload_with(
        &self,
        query: &str,
        filename: &str,
        bytes: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let form = Multipart::new().file(filename, "application/octet-stream", bytes);
        let mut request = self
            .client
            .post(format!("http://{}/upload?{query}", self.addr))
            .header(header::CONTENT_TYPE, Multipart::content_type())
            .body(form.body());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::read(request.send().await.expect("server answers")).await
    }

    async fn upload(&self, query: &str, filename: &str, bytes: Vec<u8>) -> TestResponse {
        self.upload_with(query, filename, bytes, &[]).await
    }

    /// `GET {uri}` with the request `headers`.
    async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> TestResponse {
        let mut request = self.client.get(format!("http://{}{uri}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::read(request.send().await.expect("server answers")).await
    }

    async fn get(&self, uri: &str) -> TestResponse {
        self.get_with(uri, &[]).await
    }

    /// Uploads one file, expects 200 with an answer that matches `openapi.yaml`, and gives its
    /// label for messages and its item.
    async fn upload_one(&self, query_type: &str, name: &str, bytes: Vec<u8>) -> (String, Value) {
        let label = format!("{name} ({query_type}, {:?})", self.app.backend());
        let response = self
            .upload(&format!("type={query_type}"), name, bytes)
            .await;
        response.assert_status(StatusCode::OK, &label);
        crate::openapi::assert_upload_answer_matches_spec(&response, &label);
        let item = response.json()[0].clone();
        (label, item)
    }

    /// Uploads one animation and checks the answer and the stored object: an animated WebP
    /// under the type's prefix whose answer's `frames`, `durationMs`, size and byte count are
    /// the stored file's, inside the type's box, with no metadata.
    async fn upload_animated(&self, query_type: &str, name: &str, bytes: Vec<u8>) -> Stored {
        let (label, item) = self.upload_one(query_type, name, bytes).await;
        assert_eq!(item["contentType"], "image/webp", "{label}: {item}");
        assert_eq!(item["animated"], true, "{label}: {item}");
        let key = item["key"].as_str().expect("key").to_owned();
        let prefix = if query_type == "profile" {
            "profile/"
        } else {
            "images/"
        };
        assert!(
            key.starts_with(prefix) && key.ends_with(".webp"),
            "{label}: key {key}"
        );
        let stored = self.get(&format!("/files/{key}")).await;
        stored.assert_status(StatusCode::OK, &format!("{label}: GET /files/{key}"));
        assert_eq!(
            stored.header(header::CONTENT_TYPE),
            Some("image/webp"),
            "{label}: stored content type"
        );
        assert_eq!(
            item["size"].as_u64(),
            Some(stored.body.len() as u64),
            "{label}: size"
        );
        let anim = read_animated_webp(&stored.body);
        assert_eq!(
            item["frames"].as_u64(),
            Some(anim.frames.len() as u64),
            "{label}: frames vs the stored file's {:?}",
            anim.durations()
        );
        assert_eq!(
            item["durationMs"].as_u64(),
            Some(anim.total_ms()),
            "{label}: durationMs vs the stored file's {:?}",
            anim.durations()
        );
        assert_eq!(
            (item["width"].as_u64(), item["height"].as_u64()),
            (Some(u64::from(anim.width)), Some(u64::from(anim.height))),
            "{label}: width and height vs the canvas"
        );
        assert!(
            fits(query_type, anim.width, anim.height),
            "{label}: {}x{} outside the {query_type} box",
            anim.width,
            anim.height
        );
        assert_no_metadata(&anim, &label);
        Stored {
            key,
            item,
            bytes: stored.body.to_vec(),
            anim,
        }
    }

    /// Uploads a still (or an animation's container holding one frame) and checks it took the
    /// still path: `animated: false`, no `frames` or `durationMs`, a JPEG or PNG stored.
    async fn upload_still(&self, query_type: &str, name: &str, bytes: Vec<u8>) -> (Value, Vec<u8>) {
        let (label, item) = self.upload_one(query_type, name, bytes).await;
        assert_eq!(item["animated"], false, "{label}: {item}");
        assert!(
            item.get("frames").is_none() && item.get("durationMs").is_none(),
            "{label}: a still has no frames or durationMs: {item}"
        );
        let content_type = item["contentType"].as_str().unwrap_or_default();
        assert!(
            matches!(content_type, "image/jpeg" | "image/png"),
            "{label}: a still is stored as JPEG or PNG, not {content_type}"
        );
        let key = item["key"].as_str().expect("key");
        let stored = self.get(&format!("/files/{key}")).await;
        stored.assert_status(StatusCode::OK, &label);
        assert!(!is_animated_webp(&stored.body), "{label}: stored animated");
        let out = inspect(&stored.body);
        assert_eq!(
            (item["width"].as_u64(), item["height"].as_u64()),
            (Some(u64::from(out.width)), Some(u64::from(out.height))),
            "{label}"
        );
        assert!(fits(query_type, out.width, out.height), "{label}");
        (item, stored.body.to_vec())
    }
}

/// An uploaded animation: its answer item and the stored file, read.
struct Stored {
    key: String,
    item: Value,
    bytes: Vec<u8>,
    anim: AnimatedWebp,
}

/// The box of an upload type (portrait images get the tall one).
fn fits(query_type: &str, width: u32, height: u32) -> bool {
    match query_type {
        "profile" => width <= 200 && height <= 200,
        _ if width >= height => width <= 1920 && height <= 1080,
        _ => width <= 1080 && height <= 1920,
    }
}

/// Only the animation's own chunks, and no ICC, EXIF or XMP flag.
fn assert_no_metadata(anim: &AnimatedWebp, label: &str) {
    assert!(
        anim.metadata_flags.is_empty(),
        "{label}: VP8X flags metadata {:?}",
        anim.metadata_flags
    );
    let others: Vec<&String> = anim
        .chunk_names
        .iter()
        .filter(|c| !matches!(c.as_str(), "VP8X" | "ANIM" | "ANMF"))
        .collect();
    assert!(
        others.is_empty(),
        "{label}: chunks besides the animation's: {others:?}"
    );
}

/// The region's mean is `colour`, opaque.
fn assert_colour(frame: &RgbaImage, rect: Rect, colour: [u8; 3], label: &str) {
    let mean = mean_rgba(frame, rect.inset(2));
    let off = (0..3).any(|c| (mean[c] - f64::from(colour[c])).abs() > COLOUR_TOLERANCE);
    assert!(
        !off && mean[3] > 250.0,
        "{label}: {rect:?} has mean {mean:.0?}, expected {colour:?} opaque"
    );
}

/// The region is transparent.
fn assert_clear(frame: &RgbaImage, rect: Rect, label: &str) {
    let mean = mean_rgba(frame, rect.inset(2));
    assert!(
        mean[3] < 8.0,
        "{label}: {rect:?} has mean {mean:.0?}, expected transparent"
    );
}
