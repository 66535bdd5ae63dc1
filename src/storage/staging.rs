//! Staging: where direct uploads land before pixgate processes them. Clients write the bytes
//! themselves, through URLs pixgate signs: S3's own presigned URLs, or, on disk, URLs that point
//! back at this server (`PUT /staging/…`, an HMAC in the query). A staged object lives at a key
//! the caller chose (`{incoming}/{id}`), is read once when the client says it is complete, and
//! is removed after. Like [`Store`](super::Store), staging knows nothing of images.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::StoreError;

/// S3's smallest part but the last: the disk staging area checks it as S3 does, and the part count
/// a size limit allows follows from it.
pub const MIN_PART_BYTES: u64 = 5 << 20;

/// The longest a signed URL may live: a Lambda role's credentials (which sign S3's URLs) may
/// expire after an hour, taking every URL they signed with them.
pub const MAX_URL_TTL: Duration = Duration::from_secs(3600);

/// A URL the client may PUT to, and the headers it must send with it (they are signed).
#[derive(Debug, Clone)]
pub struct SignedPut {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// What a single-PUT URL is signed for.
#[derive(Debug, Clone)]
pub struct SinglePut {
    pub content_type: String,
    /// The exact `Content-Length` the client must send.
    pub length: u64,
    pub original_name: Option<String>,
}

/// Where signed URLs are valid from: the TTL, and (disk only) the base of this server's own
/// URLs as the client reached it, `http://host:port`.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    pub ttl: Duration,
    pub origin: &'a str,
}

/// A part already uploaded, as a resuming client needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub number: u32,
    pub size: u64,
    /// As S3 gives it, quotes included.
    pub etag: String,
}

/// A staged object read back.
#[derive(Debug, Clone)]
pub struct StagedObject {
    pub bytes: Bytes,
    pub original_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    /// The multipart upload does not exist (never did, was aborted, completed or expired), or
    /// does not belong to that key.
    #[error("no such upload: it was never started, or was completed, aborted or expired")]
    NoSuchUpload,
    /// The parts named to complete an upload are not the parts uploaded, or are out of order or
    /// too small (S3: `InvalidPart`, `InvalidPartOrder`, `EntityTooSmall`).
    #[error("the parts do not complete the upload: {0}")]
    InvalidParts(String),
    /// A PUT to one of this server's own staging URLs was refused.
    #[error(transparent)]
    Put(#[from] PutRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a PUT to a disk staging URL was refused.
#[derive(Debug, thiserror::Error)]
pub enum PutRefusal {
    #[error("the URL signature is missing or wrong")]
    BadSignature,
    #[error("the URL has expired")]
    Expired,
    #[error("the URL was already used; ask for a new one")]
    Reused,
    #[error("the body must be exactly the {expected} bytes the URL was signed for")]
    WrongLength { expected: u64 },
    #[error("the Content-Type must be the `{expected}` the URL was signed for")]
    WrongContentType { expected: String },
    #[error("the upload would be over {max} bytes")]
    TooLarge { max: u64 },
    #[error("the body could not be read: {0}")]
    BodyRead(String),
}

impl StagingError {
    pub(super) fn s3(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(StoreError::s3(error))
    }
}

impl From<std::io::Error> for StagingError {
    fn from(error: std::io::Error) -> Self {
        Self::Store(error.into())
    }
}

/// The staging area of one backend. Keys are checked by the caller; a backend still refuses
/// an unsafe one.
#[async_trait]
pub trait Staging: Send + Sync {
    /// A URL for one PUT of the whole object to `key`.
    async fn sign_put(
        &self,
        key: &str,
        put: &SinglePut,
        signing: Signing<'_>,
    ) -> Result<SignedPut, StagingError>;

    /// Starts a multipart upload to `key`; returns its upload id.
    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        original_name: Option<&str>,
    ) -> Result<String, StagingError>;

    /// One URL per part number, each for one PUT of that part; the upload must exist.
    async fn sign_parts(
        &self,
        key: &str,
        upload_id: &str,
        numbers: &[u32],
        signing: Signing<'_>,
    ) -> Result<Vec<String>, StagingError>;

    /// The parts uploaded so far, by number.
    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<PartInfo>, StagingError>;

    /// Joins the named parts (`(number, etag)`, ascending) into the object at `key`.
    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<(), StagingError>;

    /// Drops the upload and its parts.
    async fn abort(&self, key: &str, upload_id: &str) -> Result<(), StagingError>;

    /// The size of the object staged at `key`; `None` when there is none.
    async fn staged_size(&self, key: &str) -> Result<Option<u64>, StagingError>;

    /// The object staged at `key`; `None` when there is none.
    async fn read(&self, key: &str) -> Result<Option<StagedObject>, StagingError>;

    /// Removes whatever is staged at `key` (object, parts, upload); nothing there is not an error.
    async fn remove(&self, key: &str) -> Result<(), StagingError>;
}

pub type SharedStaging = std::sync::Arc<dyn Staging>;

/// Random bytes, in hex: staging ids, upload ids, URL nonces. The OS generator cannot fail on
/// Linux once booted; if it ever did, an id made of zeros would be guessable, so that is a
/// crash, not a fallback.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buffer).expect("the OS random generator failed");
    hex::encode(buffer)
}

/// The ETag without the quotes S3 puts around it (clients send it back either way).
pub fn bare_etag(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}
