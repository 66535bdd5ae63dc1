//! The disk backend, pixgate's embedded default. Objects are files under the data directory at
//! their key; each write goes to a temporary file that is synced and then renamed into place
//! (and the rename synced), so a half-written object is never visible and a stored one survives
//! a crash ([`write`]). Reads never leave the data directory ([`read`]); stale temp files are
//! swept ([`sweep`]). The content disposition lives in a sidecar under `.meta/`, which no valid
//! key can reach.

mod read;
mod staging;
mod sweep;
mod write;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{
    NewObject, Store, StoreError, StoredObject, content_disposition, content_type_of, is_safe_key,
};

pub use staging::{FsStaging, Grant};
pub use sweep::start as start_sweeping;

const META_DIR: &str = ".meta";

#[derive(Debug)]
pub struct FsStore {
    root: PathBuf,
    bucket: String,
    /// `http://{addr}/files`: where this server serves the objects back.
    files_url: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    content_disposition: Option<String>,
}

impl FsStore {
    pub fn new(
        root: impl Into<PathBuf>,
        bucket: impl Into<String>,
        files_url: impl Into<String>,
    ) -> Self {
        Self {
            root: root.into(),
            bucket: bucket.into(),
            files_url: files_url.into(),
        }
    }

    fn checked_key(key: &str) -> Result<&str, StoreError> {
        if is_safe_key(key) {
            Ok(key)
        } else {
            Err(StoreError::InvalidKey)
        }
    }

    /// The sidecar of `key`, relative to the root.
    fn sidecar_path(key: &str) -> PathBuf {
        Path::new(META_DIR).join(format!("{key}.json"))
    }

    /// Runs `job` on a blocking thread: the disk calls are `std::fs`, checked one by one.
    async fn blocking<T: Send + 'static>(
        job: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        match tokio::task::spawn_blocking(job).await {
            Ok(result) => Ok(result?),
            Err(join) => Err(StoreError::Io(std::io::Error::other(join))),
        }
    }
}

/// Whether sidecar bytes read back are a sidecar (an empty or cut-short one is rewritten).
fn sidecar_is_valid(raw: &[u8]) -> bool {
    serde_json::from_slice::<Sidecar>(raw).is_ok()
}

#[async_trait]
impl Store for FsStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    fn default_url(&self, key: &str) -> String {
        format!("{}/{key}", self.files_url)
    }

    async fn put(&self, object: NewObject) -> Result<(), StoreError> {
        let key = Self::checked_key(&object.key)?.to_owned();
        let sidecar = Sidecar {
            content_disposition: object.original_name.as_deref().map(content_disposition),
        };
        let sidecar = serde_json::to_vec(&sidecar).map_err(std::io::Error::other)?;
        let job = write::Job {
            root: self.root.clone(),
            sidecar_path: Self::sidecar_path(&key),
            key,
            sidecar,
            bytes: object.bytes,
        };
        // Dropping this future (a timeout, a client gone) does not stop the job: it still
        // publishes or removes its temp file.
        Self::blocking(move || job.run()).await
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let key = Self::checked_key(key)?.to_owned();
        let root = self.root.clone();
        Self::blocking(move || read_object(&root, &key)).await
    }

    async fn version(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = PathBuf::from(Self::checked_key(key)?);
        let root = self.root.clone();
        let metadata = Self::blocking(move || read::plain_file_metadata(&root, &key)).await?;
        Ok(metadata.as_ref().map(version_of))
    }
}

/// The object at `key` and its sidecar's disposition.
fn read_object(root: &Path, key: &str) -> std::io::Result<Option<StoredObject>> {
    let Some((bytes, metadata)) = read::read_plain_file(root, Path::new(key))? else {
        return Ok(None);
    };
    Ok(Some(StoredObject {
        bytes: Bytes::from(bytes),
        content_type: content_type_of(key)
            .unwrap_or("application/octet-stream")
            .to_owned(),
        content_disposition: read_disposition(root, key),
        version: version_of(&metadata),
    }))
}

/// The sidecar's content disposition; a missing or unreadable sidecar only loses the name.
fn read_disposition(root: &Path, key: &str) -> Option<String> {
    let (raw, _) = read::read_plain_file(root, &FsStore::sidecar_path(key)).ok()??;
    serde_json::from_slice::<Sidecar>(&raw)
        .ok()
        .and_then(|s| s.content_disposition)
}

/// Size and modification time: what changes when a file is replaced.
fn version_of(metadata: &std::fs::Metadata) -> String {
    let modified = metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_nanos();
    format!("{:x}-{modified:x}", metadata.len())
}
