//! `s3s-fs` with the multipart answers of real S3. `s3s-fs` 0.14 lists no parts (it looks for
//! them where it does not write them), answers `AccessDenied` for an upload id it does not
//! know, and completes with any ETags and part sizes. The direct upload protocol rests on
//! exactly those answers, so this wrapper keeps each upload's parts as S3 reports them and
//! answers as S3 documents: `NoSuchUpload` (404) for an unknown or finished upload, `ListParts`
//! with numbers, sizes and ETags, and `InvalidPart` / `EntityTooSmall` on a bad complete.
//! Every other call, and the bytes themselves, are `s3s-fs`'s.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CreateBucketInput, CreateBucketOutput,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, DeleteObjectInput, DeleteObjectOutput,
    GetObjectInput, GetObjectOutput, HeadObjectInput, HeadObjectOutput, ListObjectsV2Input,
    ListObjectsV2Output, ListPartsInput, ListPartsOutput, Part, PutObjectInput, PutObjectOutput,
    UploadPartInput, UploadPartOutput,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;

/// S3's smallest part but the last.
const MIN_PART_BYTES: i64 = 5 << 20;

/// One multipart upload in progress: its key and its parts by number (size, ETag).
struct Upload {
    key: String,
    parts: BTreeMap<i32, (i64, String)>,
}

pub struct S3Compat {
    fs: FileSystem,
    uploads: Arc<Mutex<HashMap<String, Upload>>>,
}

impl S3Compat {
    pub fn new(fs: FileSystem) -> Self {
        Self {
            fs,
            uploads: Arc::default(),
        }
    }

    fn uploads(&self) -> std::sync::MutexGuard<'_, HashMap<String, Upload>> {
        self.uploads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `NoSuchUpload` unless `upload_id` is an upload of `key` in progress.
    fn check(&self, key: &str, upload_id: &str) -> S3Result<()> {
        match self.uploads().get(upload_id) {
            Some(upload) if upload.key == key => Ok(()),
            _ => Err(s3_error!(NoSuchUpload)),
        }
    }
}

#[async_trait::async_trait]
impl S3 for S3Compat {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.fs.create_bucket(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.fs.put_object(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.fs.get_object(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.fs.head_object(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.fs.delete_object(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.fs.list_objects_v2(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let key = req.input.key.clone();
        let created = self.fs.create_multipart_upload(req).await?;
        if let Some(id) = &created.output.upload_id {
            let upload = Upload {
                key,
                parts: BTreeMap::new(),
            };
            self.uploads().insert(id.clone(), upload);
        }
        Ok(created)
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let (key, id, number) = (
            req.input.key.clone(),
            req.input.upload_id.clone(),
            req.input.part_number,
        );
        self.check(&key, &id)?;
        let size = req.input.content_length.unwrap_or_default();
        let uploaded = self.fs.upload_part(req).await?;
        let etag = uploaded
            .output
            .e_tag
            .as_ref()
            .map(|etag| format!("\"{}\"", etag.value()))
            .unwrap_or_default();
        if let Some(upload) = self.uploads().get_mut(&id) {
            upload.parts.insert(number, (size, etag));
        }
        Ok(uploaded)
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let input = &req.input;
        self.check(&input.key, &input.upload_id)?;
        let uploads = self.uploads();
        let upload = uploads
            .get(&input.upload_id)
            .ok_or_else(|| s3_error!(NoSuchUpload))?;
        let from = input.part_number_marker.unwrap_or(0);
        let max = input.max_parts.unwrap_or(1000).max(1) as usize;
        let parts: Vec<Part> = upload
            .parts
            .range(from + 1..)
            .take(max)
            .map(|(number, (size, etag))| Part {
                part_number: Some(*number),
                size: Some(*size),
                e_tag: Some(s3s::dto::ETag::Strong(etag.trim_matches('"').to_owned())),
                ..Default::default()
            })
            .collect();
        let truncated = upload.parts.range(from + 1..).count() > parts.len();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket.clone()),
            key: Some(input.key.clone()),
            upload_id: Some(input.upload_id.clone()),
            is_truncated: Some(truncated),
            next_part_number_marker: parts.last().and_then(|p| p.part_number),
            parts: Some(parts),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = &req.input;
        self.check(&input.key, &input.upload_id)?;
        let named = input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.clone())
            .unwrap_or_default();
        {
            let uploads = self.uploads();
            let upload = uploads
                .get(&input.upload_id)
                .ok_or_else(|| s3_error!(NoSuchUpload))?;
            let mut last = 0;
            for (index, part) in named.iter().enumerate() {
                let number = part.part_number.unwrap_or_default();
                if number <= last {
                    return Err(s3_error!(InvalidPartOrder));
                }
                last = number;
                let etag = part
                    .e_tag
                    .as_ref()
                    .map(|e| e.value().trim_matches('"').to_owned());
                let Some((size, uploaded)) = upload.parts.get(&number) else {
                    return Err(s3_error!(InvalidPart, "part {number} was not uploaded"));
                };
                if etag.as_deref() != Some(uploaded.trim_matches('"')) {
                    return Err(s3_error!(InvalidPart, "part {number} has another ETag"));
                }
                if index + 1 < named.len() && *size < MIN_PART_BYTES {
                    return Err(s3_error!(EntityTooSmall));
                }
            }
        }
        let id = input.upload_id.clone();
        let completed = self.fs.complete_multipart_upload(req).await?;
        self.uploads().remove(&id);
        Ok(completed)
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.check(&req.input.key, &req.input.upload_id)?;
        let id = req.input.upload_id.clone();
        let aborted = self.fs.abort_multipart_upload(req).await?;
        self.uploads().remove(&id);
        Ok(aborted)
    }
}
