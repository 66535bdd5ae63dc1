//! Storage: where finished images are kept, behind one small trait with a local-disk and an S3
//! backend chosen at start. Storage knows nothing of images; it stores bytes under keys.

mod fs;
mod key;
mod s3;
pub mod staging;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

pub use fs::{FsStaging, FsStore, Grant};
pub use key::{content_key, content_type_of, is_safe_key};
pub use s3::S3Store;
pub use staging::{SharedStaging, random_hex};

/// An object to write.
#[derive(Debug, Clone)]
pub struct NewObject {
    pub key: String,
    pub bytes: Bytes,
    pub content_type: &'static str,
    /// The client's file name, kept as metadata only.
    pub original_name: Option<String>,
}

/// An object read back.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub bytes: Bytes,
    pub content_type: String,
    pub content_disposition: Option<String>,
    /// The same token [`Store::version`] gives for these bytes.
    pub version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid object key")]
    InvalidKey,
    /// No space (or quota) left: nothing was stored, and a retry once space is freed can work.
    #[error("disk is full: {0}")]
    Full(#[source] std::io::Error),
    #[error("disk storage failed: {0}")]
    Io(#[source] std::io::Error),
    #[error("S3 request failed: {0}")]
    S3(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Every disk error goes through here, so a full disk (ENOSPC, or EDQUOT for a quota) is told
/// apart wherever it surfaces: creating a directory, writing, syncing.
impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        use std::io::ErrorKind;
        match error.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => Self::Full(error),
            _ => Self::Io(error),
        }
    }
}

impl StoreError {
    fn s3(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::S3(Box::new(error))
    }
}

/// Objects are immutable: a key names its content, so `put` on an existing key keeps what is
/// there once it is verified whole (its size, and on disk the hash its key names), and replaces
/// it, atomically, when it is not: a store cut short elsewhere heals on the next upload. `put`
/// never half-writes.
#[async_trait]
pub trait Store: Send + Sync {
    /// The bucket name reported to clients.
    fn bucket(&self) -> &str;

    /// Where the object can be fetched when no public base URL is configured.
    fn default_url(&self, key: &str) -> String;

    /// Returns once the object is written to the end and durable (or was already there, whole).
    async fn put(&self, object: NewObject) -> Result<(), StoreError>;

    /// `Ok(None)` when no object has that key.
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError>;

    /// A token that changes whenever the object at `key` changes (S3's ETag; size and
    /// modification time on disk), read without fetching the bytes. `Ok(None)` when absent.
    async fn version(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// How many times so far the backend tried a call again after a failed attempt (the S3
    /// SDK retries throttling and server errors inside a call); for the metrics.
    fn retries(&self) -> u64 {
        0
    }
}

pub type SharedStore = Arc<dyn Store>;

/// `Cache-Control` for stored objects: keys name their content, so they never change.
pub const IMMUTABLE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// `inline` with the original name as an RFC 6266/5987 `filename*`, plus an ASCII fallback
/// for clients that only read `filename`.
pub fn content_disposition(original_name: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // attr-char from RFC 5987: ALPHA / DIGIT / "!#$&+-.^_`|~"
    const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let fallback: String = original_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = utf8_percent_encode(original_name, ATTR_CHAR);
    format!("inline; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// Which backend stores the objects, as the configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// Files under `root`; `bucket` is only a label in answers.
    Disk { root: PathBuf, bucket: String },
    /// An S3 bucket, or one on any S3-compatible server (`AWS_ENDPOINT_URL`).
    S3 {
        bucket: String,
        force_path_style: bool,
    },
}

/// The staging area of the backend, for direct uploads; on disk, also as the disk staging
/// itself, whose signed PUTs the local server answers.
#[derive(Clone)]
pub struct StagingArea {
    pub shared: SharedStaging,
    pub disk: Option<Arc<FsStaging>>,
}

impl StagingArea {
    pub fn on_disk(staging: Arc<FsStaging>) -> Self {
        Self {
            shared: Arc::clone(&staging) as SharedStaging,
            disk: Some(staging),
        }
    }

    pub fn remote(staging: SharedStaging) -> Self {
        Self {
            shared: staging,
            disk: None,
        }
    }
}

/// How the disk staging area signs and bounds what it takes, and when it is swept.
#[derive(Debug, Clone, Copy)]
pub struct StagingSettings<'a> {
    pub secret: &'a [u8],
    pub max_bytes: u64,
    /// The staging prefix, swept for uploads untouched for `ttl`.
    pub incoming: &'a str,
    pub ttl: std::time::Duration,
}

/// Opens `backend` and its staging area. `files_url` is where this server serves disk objects
/// back (`http://{addr}/files`), the base of their `fileUrl` when no public base URL is set. A
/// disk backend also gets its sweeps: stale temp files and stale staged uploads, now and every
/// few minutes.
pub async fn open(
    backend: &Backend,
    files_url: String,
    staging: StagingSettings<'_>,
) -> (SharedStore, StagingArea) {
    match backend {
        Backend::Disk { root, bucket } => {
            fs::start_sweeping(root.clone());
            let disk = Arc::new(FsStaging::new(root, staging.secret, staging.max_bytes));
            disk.start_sweeping(staging.incoming.to_owned(), staging.ttl);
            (
                Arc::new(FsStore::new(root, bucket.clone(), files_url)),
                StagingArea::on_disk(disk),
            )
        }
        Backend::S3 {
            bucket,
            force_path_style,
        } => {
            let store = S3Store::from_env(bucket, *force_path_style).await;
            let staging = Arc::new(store.clone()) as SharedStaging;
            (Arc::new(store), StagingArea::remote(staging))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_full_disk_or_quota_is_a_full_store() {
        use std::io::Error;
        for (errno, full) in [
            (libc::ENOSPC, true),
            (libc::EDQUOT, true),
            (libc::EIO, false),
            (libc::EACCES, false),
            (libc::EROFS, false),
        ] {
            let error = StoreError::from(Error::from_raw_os_error(errno));
            assert_eq!(matches!(error, StoreError::Full(_)), full, "errno {errno}");
            assert!(matches!(error, StoreError::Full(_) | StoreError::Io(_)));
        }
    }

    #[test]
    fn content_disposition_encodes_utf8_names() {
        assert_eq!(
            content_disposition("프로필 사진.jpg"),
            "inline; filename=\"___ __.jpg\"; filename*=UTF-8''%ED%94%84%EB%A1%9C%ED%95%84%20%EC%82%AC%EC%A7%84.jpg"
        );
        assert_eq!(
            content_disposition("a\"b.png"),
            "inline; filename=\"a_b.png\"; filename*=UTF-8''a%22b.png"
        );
    }
}
