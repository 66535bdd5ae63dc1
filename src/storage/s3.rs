//! The S3 backend (`aws-sdk-s3`, client built once at start). Works with any S3-compatible
//! server through the SDK's own `AWS_ENDPOINT_URL` and path-style addressing. Writes are
//! conditional (`If-None-Match: *`), so a whole object is never replaced; one found at the key
//! with another length is.

mod retries;
mod staging;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::ByteStream;

use super::{
    IMMUTABLE_CACHE_CONTROL, NewObject, Store, StoreError, StoredObject, content_disposition,
};

#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// Base of `fileUrl` when no public base URL is set.
    object_url_base: String,
    /// Attempts beyond the first of every call, counted by the client's interceptor.
    retries: Arc<AtomicU64>,
}

/// Object metadata key holding the original file name, percent-encoded (S3 metadata is ASCII).
pub const ORIGINAL_NAME_METADATA: &str = "original-name";

impl S3Store {
    /// `endpoint` is the S3-compatible endpoint, if any; with it, URLs are path-style.
    pub fn new(
        client: Client,
        bucket: impl Into<String>,
        region: &str,
        endpoint: Option<&str>,
    ) -> Self {
        let bucket = bucket.into();
        let retries = Arc::new(AtomicU64::new(0));
        let client = retries::counting(&client, Arc::clone(&retries));
        let object_url_base = match endpoint {
            Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        Self {
            client,
            bucket,
            object_url_base,
            retries,
        }
    }

    /// Builds the client from the environment the SDK reads (credentials, region,
    /// `AWS_ENDPOINT_URL`), once, at start.
    pub async fn from_env(bucket: &str, force_path_style: bool) -> Self {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(force_path_style)
            .build();
        let region = sdk.region().map_or("us-east-1", |r| r.as_ref()).to_owned();
        Self::new(
            Client::from_conf(config),
            bucket,
            &region,
            sdk.endpoint_url(),
        )
    }
}

impl S3Store {
    /// An unconditional PutObject of `object`, with its type, cache and name headers.
    fn put_request(&self, object: &NewObject) -> PutObjectFluentBuilder {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&object.key)
            .body(ByteStream::from(object.bytes.clone()))
            .content_type(object.content_type)
            .cache_control(IMMUTABLE_CACHE_CONTROL);
        if let Some(name) = &object.original_name {
            let encoded =
                percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
            request = request
                .content_disposition(content_disposition(name))
                .metadata(ORIGINAL_NAME_METADATA, encoded.to_string());
        }
        request
    }

    /// Whether the object at `object.key` has the length of `object.bytes` (HeadObject).
    async fn holds_whole(&self, object: &NewObject) -> Result<bool, StoreError> {
        let head = self.head(&object.key).await?;
        Ok(
            head.is_some_and(|head| {
                head.content_length() == i64::try_from(object.bytes.len()).ok()
            }),
        )
    }

    /// HeadObject of `key`; `None` when there is no object.
    async fn head(&self, key: &str) -> Result<Option<HeadObjectOutput>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(head) => Ok(Some(head)),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(None),
            Err(e) => Err(StoreError::s3(e)),
        }
    }

    /// GetObject of `key`, its body not read yet; `None` when there is no object.
    async fn fetch(&self, key: &str) -> Result<Option<GetObjectOutput>, StoreError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(response) => Ok(Some(response)),
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => Ok(None),
            Err(e) => Err(StoreError::s3(e)),
        }
    }
}

/// The whole body of a GetObject answer.
async fn body_bytes(response: GetObjectOutput) -> Result<bytes::Bytes, StoreError> {
    Ok(response
        .body
        .collect()
        .await
        .map_err(StoreError::s3)?
        .into_bytes())
}

#[async_trait]
impl Store for S3Store {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    fn default_url(&self, key: &str) -> String {
        format!("{}/{key}", self.object_url_base)
    }

    async fn put(&self, object: NewObject) -> Result<(), StoreError> {
        match self.put_request(&object).if_none_match("*").send().await {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.code(),
                    Some("PreconditionFailed" | "ConditionalRequestConflict")
                ) =>
            {
                // The key names its content, but what is there is trusted only once its size
                // is seen to match: anything else is replaced by the whole object.
                if self.holds_whole(&object).await? {
                    return Ok(());
                }
                self.put_request(&object)
                    .send()
                    .await
                    .map(drop)
                    .map_err(StoreError::s3)
            }
            Err(e) => Err(StoreError::s3(e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let Some(response) = self.fetch(key).await? else {
            return Ok(None);
        };
        let content_type = response
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let content_disposition = response.content_disposition().map(str::to_owned);
        let version = response.e_tag().unwrap_or_default().to_owned();
        Ok(Some(StoredObject {
            bytes: body_bytes(response).await?,
            content_type,
            content_disposition,
            version,
        }))
    }

    async fn version(&self, key: &str) -> Result<Option<String>, StoreError> {
        let head = self.head(key).await?;
        Ok(head.map(|head| head.e_tag().unwrap_or_default().to_owned()))
    }

    fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}
