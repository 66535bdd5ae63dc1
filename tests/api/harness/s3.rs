//! A real S3 protocol server for the tests: `s3s-fs` over loopback HTTP with SigV4 credentials,
//! and the `aws-sdk-s3` client pixgate uses in production pointed at it.

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use pixgate::storage::S3Store;

pub const ACCESS_KEY: &str = "pixgate-test-access";
pub const SECRET_KEY: &str = "pixgate-test-secret-key";
pub const BUCKET: &str = "pixgate-test";

/// A server on 127.0.0.1, storing under a temporary directory; lives while the test holds it.
pub struct S3Server {
    pub endpoint: String,
    _root: tempfile::TempDir,
}

impl S3Server {
    /// A server with [`BUCKET`] created.
    pub async fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let service = service.clone();
                tokio::spawn(async move {
                    let _ = ConnBuilder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        let server = Self {
            endpoint,
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

    /// A client signing with `secret` (a wrong one makes every request fail authentication).
    pub fn client(&self, secret: &str) -> Client {
        let config = aws_sdk_s3::config::Builder::new()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(ACCESS_KEY, secret, None, None, "test"))
            .force_path_style(true)
            .build();
        Client::from_conf(config)
    }

    /// pixgate's S3 store over [`BUCKET`], signing with `secret`.
    pub fn store(&self, secret: &str) -> S3Store {
        S3Store::new(
            self.client(secret),
            BUCKET,
            "us-east-1",
            Some(&self.endpoint),
        )
    }
}
