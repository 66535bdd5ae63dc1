//! The app under test: configuration from command-line flags, and the app on a fresh disk
//! directory, on a real S3 protocol server or on a given store, always behind a
//! [`RecordingStore`]; requests to it in-process or over a real socket. The only place tests
//! build a `Config` or an `AppState`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use bytes::Bytes;
use pixgate::storage::{FsStaging, FsStore, NewObject, SharedStore, StagingArea, Store};
use pixgate::{AppState, Config};
use tower::ServiceExt;

use super::multipart::Multipart;
use super::response::TestResponse;
use super::s3::{S3Server, SECRET_KEY};
use super::store::RecordingStore;

/// A configuration with every default, as `pixgate serve` with no flags would have.
pub fn default_config() -> Config {
    config_with(&[])
}

/// A configuration from `pixgate serve` flags, e.g. `&["--max-files", "2"]`.
pub fn config_with(args: &[&str]) -> Config {
    Config::from_args(args).expect("test config parses")
}

/// Where an app keeps its objects.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    /// A fresh temporary directory.
    Disk,
    /// A fresh in-process S3 protocol server, signed with the right secret.
    S3,
}

/// What holds the objects; lives as long as the app.
enum Backing {
    Disk(tempfile::TempDir),
    S3(S3Server),
    /// A store the test built and keeps alive itself.
    Given,
}

pub struct TestApp {
    state: AppState,
    store: Arc<RecordingStore>,
    backing: Backing,
    /// Where a disk staging area keeps direct uploads (none on S3, whose bucket does).
    _staging_dir: Option<tempfile::TempDir>,
}

impl TestApp {
    /// Every default, on disk.
    pub fn new() -> Self {
        Self::with_config(default_config())
    }

    /// On a fresh temporary data directory (disk backend).
    pub fn with_config(config: Config) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FsStore::new(dir.path(), "local", "http://127.0.0.1:3000/files");
        let settings = pixgate::state::staging_settings(&config);
        let staging = FsStaging::new(dir.path(), settings.secret, settings.max_bytes);
        Self {
            backing: Backing::Disk(dir),
            ..Self::with_staging(
                config,
                Arc::new(store),
                StagingArea::on_disk(Arc::new(staging)),
            )
        }
    }

    /// On a store the test keeps alive, direct uploads staged on a fresh temporary directory.
    pub fn with_store(config: Config, store: SharedStore) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(RecordingStore::new(store));
        let state =
            AppState::with_disk_staging(config, Arc::clone(&store) as SharedStore, dir.path());
        Self {
            state,
            store,
            backing: Backing::Given,
            _staging_dir: Some(dir),
        }
    }

    /// The one place the app state is built over a given staging area.
    fn with_staging(config: Config, store: SharedStore, staging: StagingArea) -> Self {
        let store = Arc::new(RecordingStore::new(store));
        let state = AppState::new(config, Arc::clone(&store) as SharedStore, staging);
        Self {
            state,
            store,
            backing: Backing::Given,
            _staging_dir: None,
        }
    }

    /// On either backend.
    pub async fn on(backend: Backend, config: Config) -> Self {
        match backend {
            Backend::Disk => Self::with_config(config),
            Backend::S3 => Self::on_s3(config, SECRET_KEY).await,
        }
    }

    /// On a fresh S3 protocol server, signing with `secret` (a wrong one makes every storage
    /// request fail authentication).
    pub async fn on_s3(config: Config, secret: &str) -> Self {
        let server = S3Server::start().await;
        let store = server.store(secret);
        let staging = StagingArea::remote(Arc::new(store.clone()));
        Self {
            backing: Backing::S3(server),
            ..Self::with_staging(config, Arc::new(store), staging)
        }
    }

    /// The router, as the local server and the Lambda entry build it.
    pub fn router(&self) -> Router {
        pixgate::app(self.state.clone())
    }

    /// The state the Lambda entry serves (see [`super::lambda::invoke`]).
    pub(super) fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Captures the EMF lines of an app configured as under Lambda (`with_emf_metrics`).
    pub fn capture_emf(&self) -> super::scrape::EmfCapture {
        let capture = super::scrape::EmfCapture::default();
        self.state.metrics.send_emf_to(Box::new(capture.clone()));
        capture
    }

    /// How many renders the transform's single-flight has started.
    pub fn renders_started(&self) -> u64 {
        self.state.renders.started()
    }

    /// Bytes of the upload memory budget not taken now.
    pub fn upload_memory_available(&self) -> u64 {
        self.state.upload_memory.available()
    }

    /// Which backend the app stores on (a given store counts as disk: its staging is).
    pub fn backend(&self) -> Backend {
        match self.backing {
            Backing::S3(_) => Backend::S3,
            Backing::Disk(_) | Backing::Given => Backend::Disk,
        }
    }

    /// The data directory of a disk app.
    pub fn data_dir(&self) -> &Path {
        match &self.backing {
            Backing::Disk(dir) => dir.path(),
            _ => panic!("not a disk app"),
        }
    }

    /// The S3 server of an S3 app, for checking what landed in the bucket.
    pub fn s3_server(&self) -> &S3Server {
        match &self.backing {
            Backing::S3(server) => server,
            _ => panic!("not an S3 app"),
        }
    }

    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router()
            .oneshot(request)
            .await
            .expect("router is infallible");
        TestResponse::read(response).await
    }

    pub async fn get(&self, uri: &str) -> TestResponse {
        self.get_with(uri, &[]).await
    }

    /// `GET uri` with the given request headers.
    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> TestResponse {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::empty()).expect("request"))
            .await
    }

    pub async fn upload(&self, query: &str, form: &Multipart) -> TestResponse {
        self.send(form.request(&format!("/upload?{query}"))).await
    }

    /// `POST /upload?{query}` with one file part.
    pub async fn upload_file(
        &self,
        query: &str,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> TestResponse {
        let form = Multipart::new().file(filename, content_type, bytes);
        self.upload(query, &form).await
    }

    /// Serves the app on 127.0.0.1 on a free port, for real clients, as `pixgate serve` does
    /// (its accept loop, which records each peer's address).
    pub async fn spawn(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = self.router();
        let http = self.state.config.http().clone();
        tokio::spawn(async move {
            let cap = http.max_connections;
            pixgate::server::serve(listener, router, &http, cap, std::future::pending()).await;
        });
        addr
    }

    /// Stores `bytes` at `key` as they are (no upload processing), typed by the extension.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) {
        let content_type = match key.rsplit_once('.').map(|(_, ext)| ext) {
            Some("txt") => "text/plain",
            Some(ext) => image::ImageFormat::from_extension(ext)
                .map_or("application/octet-stream", |f| f.to_mime_type()),
            None => "application/octet-stream",
        };
        self.store
            .put(NewObject {
                key: key.into(),
                bytes: Bytes::from(bytes),
                content_type,
                original_name: None,
            })
            .await
            .expect("object stored");
    }

    /// Every store read (`get {key}`, `version {key}`) so far.
    pub fn reads(&self) -> Vec<String> {
        self.store.reads()
    }

    pub fn forget_reads(&self) {
        self.store.forget_reads();
    }
}
