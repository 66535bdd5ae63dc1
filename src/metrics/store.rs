//! The store, counted: every failed call adds to `pixgate_storage_errors_total{op}`, whichever
//! backend and whichever use case made it, without either knowing of the metrics.

use std::sync::Arc;

use async_trait::async_trait;

use super::Metrics;
use crate::storage::{NewObject, SharedStore, Store, StoreError, StoredObject};

pub struct MeteredStore {
    inner: SharedStore,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    pub fn new(inner: SharedStore, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn count<T>(&self, op: &'static str, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if result.is_err() {
            self.metrics.storage_error(op);
        }
        result
    }
}

#[async_trait]
impl Store for MeteredStore {
    fn bucket(&self) -> &str {
        self.inner.bucket()
    }

    fn default_url(&self, key: &str) -> String {
        self.inner.default_url(key)
    }

    async fn put(&self, object: NewObject) -> Result<(), StoreError> {
        self.count("put", self.inner.put(object).await)
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        self.count("get", self.inner.get(key).await)
    }

    async fn version(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.count("version", self.inner.version(key).await)
    }

    fn retries(&self) -> u64 {
        self.inner.retries()
    }
}
