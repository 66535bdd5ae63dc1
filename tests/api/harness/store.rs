//! A store wrapper that records which keys were looked at, so "never read" and "read the
//! version only" are assertions, not hopes. Every [`TestApp`](super::TestApp) stores through one.

use std::sync::{Mutex, PoisonError};

use futures_util::future::BoxFuture;
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

impl Store for RecordingStore {
    fn bucket(&self) -> &str {
        self.inner.bucket()
    }

    fn default_url(&self, key: &str) -> String {
        self.inner.default_url(key)
    }

    fn put(&self, object: NewObject) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.put(object)
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<StoredObject>, StoreError>> {
        self.record("get", key);
        self.inner.get(key)
    }

    fn version<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        self.record("version", key);
        self.inner.version(key)
    }
}
