//! A real S3 protocol server for the tests: `s3s-fs` over loopback HTTP with SigV4 credentials,
//! and the `aws-sdk-s3` client pixgate uses in production pointed at it. pixgate's store talks
//! to it through a [`FaultLayer`] (a pass-through until armed); the tests' own client has an
//! endpoint of its own without one, so checking the bucket is never faulted or counted.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::service::TowerToHyperService;
use pixgate::storage::S3Store;
use s3s::service::S3Service;

use super::s3_compat::S3Compat;
use super::s3_faults::{FaultLayer, Faults};

pub const ACCESS_KEY: &str = "pixgate-test-access";
pub const SECRET_KEY: &str = "pixgate-test-secret-key";
pub const BUCKET: &str = "pixgate-test";

/// A server on 127.0.0.1, storing under a temporary directory; lives while the test holds it.
pub struct S3Server {
    /// pixgate's endpoint, behind the fault layer.
    pub endpoint: String,
    /// The tests' endpoint, straight to the store.
    admin_endpoint: String,
    /// The switches of the fault layer in front of [`S3Server::endpoint`].
    pub faults: Faults,
    _root: tempfile::TempDir,
}

impl S3Server {
    /// A server with [`BUCKET`] created.
    pub async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(S3Compat::new(fs));
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let faults = Faults::default();
        let endpoint = serve(FaultLayer::new(service.clone(), faults.clone())).await;
        // Never armed: the tests' own view of the bucket.
        let admin_endpoint = serve(FaultLayer::new(service, Faults::default())).await;
        let server = Self {
            endpoint,
            admin_endpoint,
            faults,
            _root: root,
        };
        server
            .client(SECRET_KEY)
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("bucket created");
        server
    }

    /// A client of the store itself, without the fault layer, signing with `secret` (a wrong
    /// one makes every request fail authentication).
    pub fn client(&self, secret: &str) -> Client {
        client_at(&self.admin_endpoint, secret)
    }

    /// pixgate's S3 store over [`BUCKET`], through the fault layer, signing with `secret`.
    pub fn store(&self, secret: &str) -> S3Store {
        S3Store::new(
            client_at(&self.endpoint, secret),
            BUCKET,
            "us-east-1",
            Some(&self.endpoint),
        )
    }

    /// The bytes stored at `key`, read past the fault layer; `None` when there is no object.
    pub async fn object(&self, key: &str) -> Option<bytes::Bytes> {
        let object = self
            .client(SECRET_KEY)
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(
            object
                .body
                .collect()
                .await
                .expect("object body")
                .into_bytes(),
        )
    }
}

/// Serves `service` on a free port of 127.0.0.1; returns its URL.
async fn serve(service: FaultLayer<S3Service>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = ConnBuilder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    endpoint
}

fn client_at(endpoint: &str, secret: &str) -> Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, secret, None, None, "test"))
        .force_path_style(true)
        .build();
    Client::from_conf(config)
}
