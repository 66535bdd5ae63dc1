//! The S3 backend's staging area: presigned PutObject and UploadPart URLs from the SDK's own
//! presigning, multipart calls as S3 has them. Clients PUT straight to the bucket; the upload
//! function only signs, completes, reads the staged object once and deletes it.

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::{ORIGINAL_NAME_METADATA, S3Store, body_bytes};
use crate::storage::staging::{
    PartInfo, SignedPut, Signing, SinglePut, StagedObject, Staging, StagingError,
};

/// S3's error codes for parts that do not complete an upload.
const INVALID_PARTS: &[&str] = &["InvalidPart", "InvalidPartOrder", "EntityTooSmall"];

/// Refusals of a multipart call that mean the upload is not there (never was, or was
/// completed, aborted or expired by the lifecycle rule).
fn is_no_such_upload(code: Option<&str>) -> bool {
    matches!(code, Some("NoSuchUpload" | "NoSuchKey" | "NotFound"))
}

fn multipart_error<E, R>(error: SdkError<E, R>) -> StagingError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match error.code() {
        code if is_no_such_upload(code) => StagingError::NoSuchUpload,
        Some(code) if INVALID_PARTS.contains(&code) => StagingError::InvalidParts(
            error
                .message()
                .map_or_else(|| code.to_owned(), str::to_owned),
        ),
        _ => StagingError::s3(error),
    }
}

fn presigning(signing: Signing<'_>) -> Result<PresigningConfig, StagingError> {
    PresigningConfig::expires_in(signing.ttl).map_err(StagingError::s3)
}

fn percent_encoded(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[async_trait]
impl Staging for S3Store {
    async fn sign_put(
        &self,
        key: &str,
        put: &SinglePut,
        signing: Signing<'_>,
    ) -> Result<SignedPut, StagingError> {
        let length = i64::try_from(put.length).map_err(StagingError::s3)?;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(&put.content_type)
            .content_length(length);
        // Signed like the rest, so the client must send it: the name reaches the stored file.
        if let Some(name) = &put.original_name {
            request = request.metadata(ORIGINAL_NAME_METADATA, percent_encoded(name));
        }
        let presigned = request
            .presigned(presigning(signing)?)
            .await
            .map_err(StagingError::s3)?;
        Ok(SignedPut {
            url: presigned.uri().to_owned(),
            // What the client must send for the signature to hold; a browser sets
            // Content-Length itself and refuses to be told it.
            headers: presigned
                .headers()
                .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
                .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
                .collect(),
        })
    }

    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        original_name: Option<&str>,
    ) -> Result<String, StagingError> {
        let mut request = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type);
        if let Some(name) = original_name {
            request = request.metadata(ORIGINAL_NAME_METADATA, percent_encoded(name));
        }
        let created = request.send().await.map_err(StagingError::s3)?;
        created
            .upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StagingError::s3(std::io::Error::other("S3 gave no upload id")))
    }

    async fn sign_parts(
        &self,
        key: &str,
        upload_id: &str,
        numbers: &[u32],
        signing: Signing<'_>,
    ) -> Result<Vec<String>, StagingError> {
        // One ListParts first: a URL for an upload that is not there would only fail later,
        // at the client's PUT, with S3's XML instead of our answer.
        self.client
            .list_parts()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .max_parts(1)
            .send()
            .await
            .map_err(multipart_error)?;
        let mut urls = Vec::with_capacity(numbers.len());
        for number in numbers {
            let presigned = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(i32::try_from(*number).map_err(StagingError::s3)?)
                .presigned(presigning(signing)?)
                .await
                .map_err(StagingError::s3)?;
            urls.push(presigned.uri().to_owned());
        }
        Ok(urls)
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<PartInfo>, StagingError> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(multipart_error)?;
            parts.extend(page.parts().iter().filter_map(|part| {
                Some(PartInfo {
                    number: u32::try_from(part.part_number()?).ok()?,
                    size: u64::try_from(part.size()?).ok()?,
                    etag: part.e_tag()?.to_owned(),
                })
            }));
            match page.next_part_number_marker() {
                Some(next) if page.is_truncated() == Some(true) => marker = Some(next.to_owned()),
                _ => return Ok(parts),
            }
        }
    }

    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<(), StagingError> {
        let parts = parts
            .iter()
            .map(|(number, etag)| {
                Ok(CompletedPart::builder()
                    .part_number(i32::try_from(*number).map_err(StagingError::s3)?)
                    .e_tag(etag)
                    .build())
            })
            .collect::<Result<Vec<_>, StagingError>>()?;
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(drop)
            .map_err(multipart_error)
    }

    async fn abort(&self, key: &str, upload_id: &str) -> Result<(), StagingError> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map(drop)
            .map_err(multipart_error)
    }

    async fn staged_size(&self, key: &str) -> Result<Option<u64>, StagingError> {
        let head = self.head(key).await?;
        Ok(head.map(|head| {
            head.content_length()
                .and_then(|length| u64::try_from(length).ok())
                .unwrap_or(0)
        }))
    }

    async fn read(&self, key: &str) -> Result<Option<StagedObject>, StagingError> {
        let Some(response) = self.fetch(key).await? else {
            return Ok(None);
        };
        let original_name = response
            .metadata()
            .and_then(|metadata| metadata.get(ORIGINAL_NAME_METADATA))
            .and_then(|name| {
                percent_encoding::percent_decode_str(name)
                    .decode_utf8()
                    .ok()
            })
            .map(|name| name.into_owned());
        Ok(Some(StagedObject {
            bytes: body_bytes(response).await?,
            original_name,
        }))
    }

    async fn remove(&self, key: &str) -> Result<(), StagingError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(drop)
            .map_err(StagingError::s3)
    }
}
