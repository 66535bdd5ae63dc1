//! A store wrapper that records which keys were looked at, so "never read" and "read the
//! version only" are assertions, not hopes. Every [`TestApp`](super::TestApp) stores through one.

use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use pixgate::storage::{NewObject, SharedStore, Store, StoreError, StoredObject};

/// Records `get {key}` and `version {key}`; writes pass through unrecorded.
pub struct RecordingStore {
    inner: SharedStore,
    reads: Mutex<Vec<String>>,
}

impl RecordingStore {
    pub fn new(inner: SharedStore) -> Self {
        Self {
            inner,
            reads: Mutex::default(),
        }
    }

    /// Every read so far, oldest first.
    pub fn reads(&self) -> Vec<String> {
        self.lock().clone()
    }

    pub fn forget_reads(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        self.reads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, op: &str, key: &str) {
        self.lock().push(format!("{op} {key}"));
    }
}

#[async_trait]
impl Store for RecordingStore {
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
        self.record("get", key);
        self.inner.get(key).await
    }

    async fn version(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.record("version", key);
        self.inner.version(key).await
    }

    fn retries(&self) -> u64 {
        self.inner.retries()
    }
}
