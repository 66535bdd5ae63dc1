//! A JWKS fetched from the issuer's URL with the hyper client and rustls stack the S3 client
//! already brings: cached, refreshed when old, refetched when a token names an unknown `kid`
//! (keys rotate) but at most once per refetch interval, so a flood of made-up `kid`s costs the
//! issuer one request per interval. Each fetch is bounded in time and size.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::http::header::ACCEPT;
use axum::http::{Request, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Mutex;

use super::AuthError;
use super::keys::{JwksError, KeySet, VerifyingKey};

/// A whole fetch, connection to last byte. The request waits for it, so it stays short.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Real JWKS documents are a few KiB; this bounds what a broken or hostile server can send.
const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Keys older than this are refetched on their next use (issuers rotate in hours or days).
const MAX_AGE: Duration = Duration::from_secs(600);

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// Why the keys could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("no TLS root certificates: {0}")]
    Tls(#[source] std::io::Error),
    #[error("JWKS request: {0}")]
    Request(#[source] axum::http::Error),
    #[error("JWKS fetch failed: {0}")]
    Connect(#[source] hyper_util::client::legacy::Error),
    #[error("JWKS fetch answered {0}")]
    Status(StatusCode),
    #[error("JWKS body unreadable or over {MAX_JWKS_BYTES} bytes: {0}")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("JWKS fetch took over {} s", FETCH_TIMEOUT.as_secs())]
    Timeout,
    #[error("JWKS: {0}")]
    Jwks(#[from] JwksError),
    #[error("the last JWKS fetch failed less than {} s ago", .0.as_secs())]
    Backoff(Duration),
}

/// The keys as last fetched.
struct Snapshot {
    keys: KeySet,
    fetched_at: Instant,
}

/// Held while fetching, so concurrent requests for an unknown `kid` make one fetch.
#[derive(Default)]
struct Fetcher {
    last_attempt: Option<Instant>,
    client: Option<HttpsClient>,
}

pub(super) struct RemoteKeys {
    url: Uri,
    refetch_interval: Duration,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    fetcher: Mutex<Fetcher>,
}

impl RemoteKeys {
    pub(super) fn new(url: Uri, refetch_interval: Duration) -> Self {
        Self {
            url,
            refetch_interval,
            snapshot: RwLock::new(None),
            fetcher: Mutex::new(Fetcher::default()),
        }
    }

    /// The key for `kid`: from the cache when it is there and fresh, else after a fetch when
    /// one is allowed now. `Ok(None)`: no such key. `Err`: no keys could be had at all.
    pub(super) async fn find(&self, kid: Option<&str>) -> Result<Option<VerifyingKey>, AuthError> {
        if let Some(key) = self.cached(kid, Instant::now()) {
            return Ok(Some(key));
        }
        let mut fetcher = self.fetcher.lock().await;
        let now = Instant::now();
        // Another request may have fetched while this one waited.
        if let Some(key) = self.cached(kid, now) {
            return Ok(Some(key));
        }
        let current = self.current();
        let known = current.as_ref().and_then(|s| s.keys.find(kid)).cloned();
        if let Some(last) = fetcher.last_attempt
            && now.duration_since(last) < self.refetch_interval
        {
            return match current {
                Some(_) => Ok(known),
                None => Err(self.unavailable(FetchError::Backoff(self.refetch_interval))),
            };
        }
        fetcher.last_attempt = Some(now);
        match fetch(&mut fetcher.client, &self.url).await {
            Ok(keys) => {
                let found = keys.find(kid).cloned();
                self.store(keys, now);
                Ok(found)
            }
            // Stale keys beat none: the issuer may be down for a moment.
            Err(error) if current.is_some() => {
                tracing::warn!(url = %self.url, error = %error, "JWKS refetch failed; keeping the cached keys");
                Ok(known)
            }
            Err(error) => Err(self.unavailable(error)),
        }
    }

    fn unavailable(&self, error: FetchError) -> AuthError {
        AuthError::KeysUnavailable(error, self.refetch_interval)
    }

    /// The key for `kid` when the cache holds it and is fresh.
    fn cached(&self, kid: Option<&str>, now: Instant) -> Option<VerifyingKey> {
        let snapshot = self.current()?;
        let fresh = now.duration_since(snapshot.fetched_at) < MAX_AGE;
        fresh.then(|| snapshot.keys.find(kid).cloned()).flatten()
    }

    fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store(&self, keys: KeySet, fetched_at: Instant) {
        tracing::info!(url = %self.url, keys = keys.len(), "JWKS fetched");
        *self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) =
            Some(Arc::new(Snapshot { keys, fetched_at }));
    }
}

/// One bounded GET of the JWKS document.
async fn fetch(client: &mut Option<HttpsClient>, url: &Uri) -> Result<KeySet, FetchError> {
    let client = match client {
        Some(client) => client.clone(),
        None => client.insert(https_client()?).clone(),
    };
    let request = Request::get(url.clone())
        .header(ACCEPT, "application/json")
        .body(Empty::new())
        .map_err(FetchError::Request)?;
    let body = tokio::time::timeout(FETCH_TIMEOUT, async {
        let response = client.request(request).await.map_err(FetchError::Connect)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES);
        body.collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(FetchError::Body)
    })
    .await
    .map_err(|_| FetchError::Timeout)??;
    Ok(KeySet::from_jwks_json(&body)?)
}

/// https with the system's roots (plain http too, for an issuer on a private network).
fn https_client() -> Result<HttpsClient, FetchError> {
    let connector = HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(FetchError::Tls)?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}
