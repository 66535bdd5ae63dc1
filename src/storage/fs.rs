//! The disk backend, pixgate's embedded default. Objects are files under the data directory at
//! their key; each write goes to a temporary file that is synced and then renamed into place, so
//! a half-written object is never visible. The content disposition lives in a sidecar under
//! `.meta/`, which no valid key can reach.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{NewObject, Store, StoreError, StoredObject, content_disposition, is_safe_key};

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

    fn object_path(&self, key: &str) -> Result<PathBuf, StoreError> {
        if !is_safe_key(key) {
            return Err(StoreError::InvalidKey);
        }
        Ok(self.root.join(key))
    }

    fn sidecar_path(&self, key: &str) -> PathBuf {
        self.root.join(META_DIR).join(format!("{key}.json"))
    }
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
        let path = self.object_path(&object.key)?;
        if tokio::fs::try_exists(&path).await? {
            return Ok(());
        }
        // The sidecar goes first, so an object is never visible without its metadata.
        let sidecar = Sidecar {
            content_disposition: object.original_name.as_deref().map(content_disposition),
        };
        let sidecar = serde_json::to_vec(&sidecar).map_err(std::io::Error::other)?;
        write_atomically(&self.sidecar_path(&object.key), &sidecar).await?;
        write_atomically(&path, &object.bytes).await
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let path = self.object_path(key)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        // Version and bytes from one open file, so they describe the same object.
        let metadata = file.metadata().await?;
        if !metadata.is_file() {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
        file.read_to_end(&mut bytes).await?;
        let bytes = Bytes::from(bytes);
        let content_disposition = match tokio::fs::read(self.sidecar_path(key)).await {
            Ok(raw) => serde_json::from_slice::<Sidecar>(&raw)
                .ok()
                .and_then(|s| s.content_disposition),
            Err(_) => None,
        };
        Ok(Some(StoredObject {
            bytes,
            content_type: content_type_of(key).to_owned(),
            content_disposition,
            version: version_of(&metadata),
        }))
    }

    async fn version(&self, key: &str) -> Result<Option<String>, StoreError> {
        let path = self.object_path(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(metadata) if metadata.is_file() => Ok(Some(version_of(&metadata))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
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

fn content_type_of(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, ext)| ext) {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("avif") => "image/avif",
        Some("gif") => "image/gif",
        _ => "application/octet-stream",
    }
}

/// Writes beside the destination, syncs, then renames over it: readers see the old state or
/// the whole new file, never a part.
async fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().ok_or(StoreError::InvalidKey)?;
    let name = path
        .file_name()
        .ok_or(StoreError::InvalidKey)?
        .to_string_lossy();
    tokio::fs::create_dir_all(dir).await?;
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.{}.{unique}.tmp", std::process::id()));
    let result = async {
        let mut file = tokio::fs::File::create(&temp).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        tokio::fs::rename(&temp, path).await
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&temp).await;
    }
    Ok(result?)
}
