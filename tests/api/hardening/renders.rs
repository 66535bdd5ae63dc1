//! The render queue: bounded (503 past it), sources fetched only once a worker is free, work
//! dropped when its clients leave; and renditions bounded by the transform's own limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use pixgate::storage::{FsStore, NewObject, SharedStore, Store, StoreError, StoredObject};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::harness::{TestApp, TestResponse, config_with, encode_png};

/// A disk store whose reads wait at a gate, counting the ones abandoned before they finished
/// (the app's `RecordingStore` in front of it records the reads started).
struct GatedStore {
    inner: FsStore,
    gate: Semaphore,
    abandoned: Arc<AtomicUsize>,
}

/// Counts a read as abandoned if dropped before `finish`.
struct ReadGuard {
    abandoned: Arc<AtomicUsize>,
    finished: bool,
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl Store for GatedStore {
    fn bucket(&self) -> &str {
        self.inner.bucket()
    }
    fn default_url(&self, key: &str) -> String {
        self.inner.default_url(key)
    }
    async fn put(&self, object: NewObject) -> Result<(), StoreError> {
        self.inner.put(object).await
    }
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let mut guard = ReadGuard {
            abandoned: Arc::clone(&self.abandoned),
            finished: false,
        };
        let _pass = self.gate.acquire().await;
        let object = self.inner.get(key).await;
        guard.finished = true;
        object
    }
    async fn version(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.version(key).await
    }
}

fn spawn_get(app: &TestApp, uri: &str) -> tokio::task::JoinHandle<TestResponse> {
    let router = app.router();
    let request = Request::get(uri).body(Body::empty()).unwrap();
    tokio::spawn(async move { TestResponse::read(router.oneshot(request).await.unwrap()).await })
}

async fn wait_for(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..500 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_render_queue_is_bounded_and_abandoned_renders_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(GatedStore {
        inner: FsStore::new(dir.path(), "local", "http://127.0.0.1/files"),
        gate: Semaphore::new(0),
        abandoned: Arc::default(),
    });
    let config = config_with(&["--workers", "1", "--render-queue", "1"]);
    let app = TestApp::with_store(config, Arc::clone(&store) as SharedStore);
    let key = "images/a.png";
    app.put(key, encode_png(image::RgbImage::new(64, 48))).await;

    // A holds the one worker (stuck in its fetch); B waits for the worker in the one queue place.
    let a = spawn_get(&app, &format!("/img/{key}?w=10"));
    let fetches = || app.reads().iter().filter(|r| r.starts_with("get ")).count();
    wait_for("A's fetch", || fetches() == 1).await;
    let b = spawn_get(&app, &format!("/img/{key}?w=11"));
    wait_for("B's flight", || app.renders_started() == 2).await;
    tokio::time::sleep(Duration::from_millis(50)).await;

    let c = app.get(&format!("/img/{key}?w=12")).await;
    c.assert_status(StatusCode::SERVICE_UNAVAILABLE, "past the queue");
    assert_eq!(c.error_code(), "overloaded");
    assert!(c.header("retry-after").is_some(), "503 says when to retry");
    assert_eq!(
        fetches(),
        1,
        "B waits for a worker before fetching its source"
    );

    // Both clients leave, B first (so that A's worker, once free, has no one to go to): A's
    // fetch is dropped mid-way and B never fetches.
    b.abort();
    assert!(b.await.unwrap_err().is_cancelled());
    a.abort();
    assert!(a.await.unwrap_err().is_cancelled());
    wait_for("A's fetch to be dropped", || {
        store.abandoned.load(Ordering::SeqCst) == 1
    })
    .await;
    store.gate.add_permits(100);
    let d = app.get(&format!("/img/{key}?w=13")).await;
    d.assert_status(StatusCode::OK, "the worker and the queue places came back");
    assert_eq!(fetches(), 2, "only A and D ever fetched");
}

/// `fit=outside&enlarge=1&w=4096&h=4096` on a 372×1080 source rendered 4096×11892.
#[tokio::test]
async fn renditions_are_bounded_by_the_transform_limits() {
    let app = TestApp::with_config(config_with(&["--canonical-redirect", "false"]));
    let key = "images/tall.png";
    app.put(key, encode_png(image::RgbImage::new(372, 1080)))
        .await;
    let outside = app
        .get(&format!("/img/{key}?w=4096&h=4096&fit=outside&enlarge=1"))
        .await;
    outside.assert_status(StatusCode::UNPROCESSABLE_ENTITY, "past the side cap");
    assert_eq!(outside.error_code(), "image_too_large");
    assert!(
        outside.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4096x11892")
    );

    let avif = app
        .get(&format!(
            "/img/{key}?w=2100&h=2100&fit=cover&enlarge=1&f=avif"
        ))
        .await;
    avif.assert_status(StatusCode::UNPROCESSABLE_ENTITY, "past the AVIF area");
    assert_eq!(avif.error_code(), "image_too_large");

    let auto = app
        .get_with(
            &format!("/img/{key}?w=2100&h=2100&fit=cover&enlarge=1&f=auto"),
            &[("accept", "image/avif,image/webp,*/*")],
        )
        .await;
    auto.assert_status(StatusCode::OK, "auto falls back");
    assert_eq!(auto.header("content-type"), Some("image/webp"));
}
