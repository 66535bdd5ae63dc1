//! One old object's way: read from the source (retried), its date and name taken from the old
//! key, through the upload use case into the destination, and its outcome as a mapping line.

use std::sync::Arc;

use chrono::Utc;

use super::mapping::MappingLine;
use super::old_key;
use super::retry::Retry;
use super::source::{Source, SourceError, SourceObject};
use super::store;
use crate::config::{Config, UploadConfig};
use crate::error::ApiError;
use crate::service::{Uploads, Workers};
use crate::storage::SharedStore;

/// One object's way from the source to the destination.
pub struct Migration {
    source: Source,
    uploads: Uploads,
    /// The destination, for the `fileUrl` of what was stored.
    store: SharedStore,
    upload: UploadConfig,
    retry: Retry,
    max_bytes: u64,
}

impl Migration {
    /// `dry_run`: writes go nowhere; else they are retried with `retry`.
    pub fn new(
        source: Source,
        store: SharedStore,
        config: &Config,
        retry: Retry,
        dry_run: bool,
    ) -> Self {
        let store: SharedStore = if dry_run {
            Arc::new(store::Discarding { inner: store })
        } else {
            Arc::new(store::Retried {
                inner: store,
                retry: retry.clone(),
            })
        };
        let limits = config.limits();
        let uploads = Uploads::new(
            Arc::clone(&store),
            Workers::new(limits.worker_count()),
            limits.pixels(),
            config.upload().clone(),
        );
        Self {
            source,
            uploads,
            store,
            upload: config.upload().clone(),
            retry,
            max_bytes: limits.max_file_bytes,
        }
    }

    /// Reads, processes and stores `object`; every failure ends up in the line, as a code.
    pub async fn migrate(&self, object: SourceObject) -> MappingLine {
        let line = MappingLine::listed(object.key.clone(), object.size);
        let read = self
            .retry
            .run(SourceError::is_transient, || {
                self.source.read(&object, self.max_bytes)
            })
            .await;
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) => return line.failed(e.code(), e.to_string()),
        };
        let line = MappingLine {
            bytes_before: Some(bytes.len() as u64),
            ..line
        };
        let old = old_key::parse(&object.key);
        // The old key's `Date.now()` keeps the original upload day; else when it was written.
        let uploaded = old
            .uploaded
            .or(object.last_modified)
            .unwrap_or_else(Utc::now);
        let prefix = self.upload.prefix(object.kind).as_str();
        let stored = self
            .uploads
            .store(bytes, object.kind.preset(), prefix, uploaded, old.name)
            .await;
        match stored {
            Ok(stored) => {
                let url = self.file_url(&stored.key);
                line.stored(&stored, url)
            }
            Err(e) => {
                let error = ApiError::from(e);
                line.failed(error.code(), error.failure(None).cause)
            }
        }
    }

    /// As an upload answers it: on the public base URL when one is set.
    fn file_url(&self, key: &str) -> String {
        match &self.upload.public_base_url {
            Some(base) => format!("{}/{key}", base.as_str()),
            None => self.store.default_url(key),
        }
    }
}
