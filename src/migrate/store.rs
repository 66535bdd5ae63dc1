//! The destination as the migration writes to it: the store `serve` opens, with writes retried
//! on transient errors, or, on a dry run, with writes dropped.

use async_trait::async_trait;

use super::retry::Retry;
use crate::storage::{NewObject, SharedStore, Store, StoreError, StoredObject};

/// A store whose writes are retried on I/O and S3 errors (not on a full disk: waiting does not
/// free space).
pub struct Retried {
    pub inner: SharedStore,
    pub retry: Retry,
}

/// A store that writes nothing: a dry run processes every object and keeps none.
pub struct Discarding {
    pub inner: SharedStore,
}

fn is_transient(error: &StoreError) -> bool {
    matches!(error, StoreError::Io(_) | StoreError::S3(_))
}

#[async_trait]
impl Store for Retried {
    fn bucket(&self) -> &str {
        self.inner.bucket()
    }

    fn default_url(&self, key: &str) -> String {
        self.inner.default_url(key)
    }

    async fn put(&self, object: NewObject) -> Result<(), StoreError> {
        // `put` is idempotent: a key names its content.
        self.retry
            .run(is_transient, || self.inner.put(object.clone()))
            .await
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        self.inner.get(key).await
    }

    async fn version(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.version(key).await
    }
}

#[async_trait]
impl Store for Discarding {
    fn bucket(&self) -> &str {
        self.inner.bucket()
    }

    fn default_url(&self, key: &str) -> String {
        self.inner.default_url(key)
    }

    async fn put(&self, _object: NewObject) -> Result<(), StoreError> {
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        self.inner.get(key).await
    }

    async fn version(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.version(key).await
    }
}
