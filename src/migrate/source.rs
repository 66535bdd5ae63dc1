//! The old objects: listed page by page (never the whole bucket in memory) from an S3 bucket on
//! any endpoint or from a local folder laid out like one, and read whole up to a size limit.
//! The source is only ever listed and read.

use std::path::{Path, PathBuf};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::args::{MapRule, SourceSpec, rule_for};
use crate::error::ErrorCode;
use crate::request::UploadKind;

/// Where the old objects are read from.
#[derive(Debug, Clone)]
pub enum Source {
    S3 {
        client: Client,
        bucket: String,
        /// Prefix of every mapped prefix: empty, or ending in `/`.
        root: String,
    },
    Folder(PathBuf),
}

/// One old object, as listed.
#[derive(Debug, Clone)]
pub struct SourceObject {
    /// Its key in the bucket (below the folder, `/`-separated): the mapping's `oldKey`.
    pub key: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
    /// The upload type its prefix is mapped to.
    pub kind: UploadKind,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("source S3 request failed: {error}")]
    S3 {
        #[source]
        error: Box<dyn std::error::Error + Send + Sync>,
        transient: bool,
    },
    #[error("the object is no longer in the source")]
    Missing,
    #[error("reading the source folder failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the object is over the upload limit of {max} bytes")]
    TooLarge { max: u64 },
}

impl SourceError {
    /// Worth another try in a moment: throttling, 5xx, timeouts, connection errors, and disk
    /// errors other than a missing or forbidden file.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::S3 { transient, .. } => *transient,
            Self::Io(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
            ),
            Self::Missing | Self::TooLarge { .. } => false,
        }
    }

    /// The API's code for this failure, as the mapping records it.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. } => ErrorCode::FileTooLarge,
            Self::Missing => ErrorCode::NotFound,
            Self::Io(e) if e.kind() == std::io::ErrorKind::NotFound => ErrorCode::NotFound,
            Self::S3 { .. } | Self::Io(_) => ErrorCode::StorageUnavailable,
        }
    }
}

/// S3 error codes that mean "slow down / try again", besides any 5xx.
const RETRYABLE_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
];

fn s3_error<E>(error: SdkError<E, HttpResponse>) -> SourceError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let transient = match &error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            status >= 500
                || status == 429
                || service
                    .err()
                    .code()
                    .is_some_and(|c| RETRYABLE_CODES.contains(&c))
        }
        // Timeouts, dropped connections, unreadable answers.
        _ => true,
    };
    SourceError::S3 {
        transient,
        error: Box::new(error),
    }
}

impl Source {
    /// The source a `--source` names; an S3 client is built from the SDK's environment
    /// (credentials, region) with the given endpoint and addressing.
    pub async fn open(spec: &SourceSpec, endpoint: Option<&str>, path_style: bool) -> Self {
        match spec {
            SourceSpec::Folder(path) => Self::Folder(path.clone()),
            SourceSpec::S3 { bucket, root } => {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let mut config =
                    aws_sdk_s3::config::Builder::from(&sdk).force_path_style(path_style);
                if let Some(endpoint) = endpoint {
                    config = config.endpoint_url(endpoint);
                }
                Self::S3 {
                    client: Client::from_conf(config.build()),
                    bucket: bucket.clone(),
                    root: root.clone(),
                }
            }
        }
    }

    /// Lists the objects under `rule`'s prefix that no rule with a longer prefix claims, page
    /// by page, into `sink`; stops early when the receiver is gone.
    pub async fn list(
        &self,
        rules: &[MapRule],
        rule: &MapRule,
        sink: &mpsc::Sender<SourceObject>,
    ) -> Result<(), SourceError> {
        let root = match self {
            Self::S3 { root, .. } => root.as_str(),
            Self::Folder(_) => "",
        };
        let sink = Sink {
            rules,
            rule,
            root,
            sink,
        };
        match self {
            Self::S3 { client, bucket, .. } => {
                list_s3(client, bucket, &format!("{root}{}", rule.prefix), &sink).await
            }
            Self::Folder(folder) => list_folder(folder, &rule.prefix, &sink).await,
        }
    }

    /// The object's bytes; one over `max_bytes` is refused without reading past the limit.
    pub async fn read(&self, object: &SourceObject, max_bytes: u64) -> Result<Bytes, SourceError> {
        if object.size > max_bytes {
            return Err(SourceError::TooLarge { max: max_bytes });
        }
        match self {
            Self::S3 { client, bucket, .. } => {
                read_s3(client, bucket, &object.key, max_bytes).await
            }
            Self::Folder(root) => read_file(&root.join(&object.key), max_bytes).await,
        }
    }
}

/// Where listed objects go: those under `rule` that no rule with a longer prefix claims.
struct Sink<'a> {
    rules: &'a [MapRule],
    rule: &'a MapRule,
    /// The source root, stripped before matching rules.
    root: &'a str,
    sink: &'a mpsc::Sender<SourceObject>,
}

impl Sink<'_> {
    /// Sends the object on when `rule` is the one that claims it; false once no one listens.
    async fn emit(&self, key: String, size: u64, last_modified: Option<DateTime<Utc>>) -> bool {
        let relative = key.strip_prefix(self.root).unwrap_or(&key);
        if rule_for(self.rules, relative) != Some(self.rule) {
            return true;
        }
        let object = SourceObject {
            key,
            size,
            last_modified,
            kind: self.rule.kind,
        };
        self.sink.send(object).await.is_ok()
    }
}

async fn list_s3(
    client: &Client,
    bucket: &str,
    prefix: &str,
    sink: &Sink<'_>,
) -> Result<(), SourceError> {
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(s3_error)?;
        for object in page.contents() {
            // A key ending in `/` is a console-made "folder", not a file.
            let Some(key) = object.key().filter(|key| !key.ends_with('/')) else {
                continue;
            };
            let size = object
                .size()
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(0);
            let modified = object
                .last_modified()
                .and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()));
            if !sink.emit(key.to_owned(), size, modified).await {
                return Ok(());
            }
        }
    }
    Ok(())
}

async fn read_s3(
    client: &Client,
    bucket: &str,
    key: &str,
    max_bytes: u64,
) -> Result<Bytes, SourceError> {
    let response = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(response) => response,
        Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => {
            return Err(SourceError::Missing);
        }
        Err(e) => return Err(s3_error(e)),
    };
    let mut body = response.body;
    let mut bytes = BytesMut::new();
    while let Some(chunk) = body.try_next().await.map_err(|e| SourceError::S3 {
        error: Box::new(e),
        transient: true,
    })? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > max_bytes {
            return Err(SourceError::TooLarge { max: max_bytes });
        }
    }
    Ok(bytes.freeze())
}

async fn read_file(path: &Path, max_bytes: u64) -> Result<Bytes, SourceError> {
    let file = tokio::fs::File::open(path).await?;
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .await?;
    if bytes.len() as u64 > max_bytes {
        return Err(SourceError::TooLarge { max: max_bytes });
    }
    Ok(Bytes::from(bytes))
}

/// Walks `root/prefix` depth first in name order, one directory in memory at a time.
async fn list_folder(root: &Path, prefix: &str, sink: &Sink<'_>) -> Result<(), SourceError> {
    let mut pending = vec![prefix.trim_end_matches('/').to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = match read_dir_sorted(root.join(&dir)).await {
            Ok(entries) => entries,
            // A mapped prefix with nothing under it.
            Err(SourceError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut subdirs = Vec::new();
        for entry in entries {
            let key = format!("{dir}/{}", entry.name);
            match entry.file {
                Some((size, modified)) => {
                    if !sink.emit(key, size, modified).await {
                        return Ok(());
                    }
                }
                None => subdirs.push(key),
            }
        }
        pending.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

struct Entry {
    name: String,
    /// Size and modification time of a file; `None` for a directory.
    file: Option<(u64, Option<DateTime<Utc>>)>,
}

async fn read_dir_sorted(dir: PathBuf) -> Result<Vec<Entry>, SourceError> {
    let job = move || -> std::io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            // A name that is not UTF-8 cannot be a key the old Lambda wrote.
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let meta = std::fs::metadata(entry.path())?;
            let file = meta.is_file().then(|| {
                let modified = meta.modified().ok().map(DateTime::<Utc>::from);
                (meta.len(), modified)
            });
            if file.is_some() || meta.is_dir() {
                entries.push(Entry { name, file });
            }
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    };
    match tokio::task::spawn_blocking(job).await {
        Ok(result) => Ok(result?),
        Err(join) => Err(SourceError::Io(std::io::Error::other(join))),
    }
}
