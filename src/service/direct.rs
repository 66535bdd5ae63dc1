//! Direct uploads: the client puts the bytes in the staging area itself, through URLs signed
//! here, then asks for them to be processed. This use case issues staging keys and URLs within
//! the limits, then processes a staged original exactly as an upload (the same [`Uploads`]) and
//! removes it.
//!
//! Staging keys are `{incoming}/{random}{mac}`: the MAC binds the random part to the upload type
//! with the direct signing key, so a key is accepted only by the type it was issued for, without
//! any state kept between calls (Lambda instances share only the key).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{ServiceError, StoredImage, UploadMemory, Uploads};
use crate::pipeline::{PipelineError, Preset};
use crate::storage::staging::{
    MIN_PART_BYTES, PartInfo, SignedPut, Signing, SinglePut, StagingError,
};
use crate::storage::{SharedStaging, random_hex};

/// Hex digits of the random part and of the MAC in a staging id.
const ID_HEX: usize = 32;

#[derive(Debug, Clone)]
pub struct DirectSettings {
    /// The prefix of staging keys.
    pub incoming: String,
    /// Most bytes one direct upload may stage.
    pub max_bytes: u64,
    /// How long a signed URL stays valid.
    pub url_ttl: Duration,
    /// Signs staging ids (and, on disk, the staging URLs).
    pub secret: Vec<u8>,
}

/// What an upload type means to a direct upload: the tag its staging keys are bound to, and
/// how and where its files are stored.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    pub tag: &'a str,
    pub preset: Preset,
    pub prefix: &'a str,
}

/// Why a direct upload call was refused (besides what staging and the pipeline say).
#[derive(Debug, thiserror::Error)]
pub enum DirectError {
    #[error("`key` is not a staging key issued for this upload type")]
    ForeignKey,
    #[error("no such upload: it was never started, or was completed, aborted or expired")]
    UnknownUpload,
    #[error("the file is {size} bytes; direct uploads take at most {max}")]
    TooLarge { size: u64, max: u64 },
    #[error(
        "part number {number} is out of range: 1 to {max} (parts of at least 5 MiB, {max_bytes} bytes in all)"
    )]
    PartOutOfRange {
        number: u32,
        max: u32,
        max_bytes: u64,
    },
    #[error("the staged object is {size} bytes, over the {max} allowed; it was deleted")]
    StagedTooLarge { size: u64, max: u64 },
    #[error("this upload is being completed by another request")]
    InProgress,
}

pub struct DirectUploads {
    staging: SharedStaging,
    uploads: Arc<Uploads>,
    memory: UploadMemory,
    settings: DirectSettings,
    /// Staging keys being completed in this process: a second complete of one is refused
    /// rather than processed twice.
    completing: Mutex<HashSet<String>>,
}

impl DirectUploads {
    pub fn new(
        staging: SharedStaging,
        uploads: Arc<Uploads>,
        memory: UploadMemory,
        settings: DirectSettings,
    ) -> Self {
        Self {
            staging,
            uploads,
            memory,
            settings,
            completing: Mutex::default(),
        }
    }

    pub fn settings(&self) -> &DirectSettings {
        &self.settings
    }

    /// The most parts one upload may have.
    pub fn max_parts(&self) -> u32 {
        u32::try_from(self.settings.max_bytes.div_ceil(MIN_PART_BYTES)).unwrap_or(u32::MAX)
    }

    /// A new staging key and a URL for one PUT of the whole file to it.
    pub async fn sign_put(
        &self,
        to: Destination<'_>,
        put: SinglePut,
        origin: &str,
    ) -> Result<(String, SignedPut), ServiceError> {
        self.check_size(put.length)?;
        let key = self.issue_key(to.tag);
        let signed = self
            .staging
            .sign_put(&key, &put, self.signing(origin))
            .await?;
        Ok((key, signed))
    }

    /// A new staging key and a multipart upload to it; returns `(upload id, key)`.
    pub async fn create(
        &self,
        to: Destination<'_>,
        content_type: &str,
        original_name: Option<&str>,
        size: Option<u64>,
    ) -> Result<(String, String), ServiceError> {
        if let Some(size) = size {
            self.check_size(size)?;
        }
        let key = self.issue_key(to.tag);
        let upload_id = self
            .staging
            .create_multipart(&key, content_type, original_name)
            .await?;
        Ok((upload_id, key))
    }

    /// One URL per part number, in the order asked.
    pub async fn sign_parts(
        &self,
        to: Destination<'_>,
        key: &str,
        upload_id: &str,
        numbers: &[u32],
        origin: &str,
    ) -> Result<Vec<String>, ServiceError> {
        self.check_key(to.tag, key)?;
        for &number in numbers {
            self.check_part_number(number)?;
        }
        Ok(self
            .staging
            .sign_parts(key, upload_id, numbers, self.signing(origin))
            .await?)
    }

    pub async fn list_parts(
        &self,
        to: Destination<'_>,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<PartInfo>, ServiceError> {
        self.check_key(to.tag, key)?;
        Ok(self.staging.list_parts(key, upload_id).await?)
    }

    pub async fn abort(
        &self,
        to: Destination<'_>,
        key: &str,
        upload_id: &str,
    ) -> Result<(), ServiceError> {
        self.check_key(to.tag, key)?;
        Ok(self.staging.abort(key, upload_id).await?)
    }

    /// Completes the multipart upload, then processes the staged object as [`Self::complete_single`] does.
    /// A retried complete whose upload was already joined goes straight to processing.
    pub async fn complete_multipart(
        &self,
        to: Destination<'_>,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
        now: DateTime<Utc>,
    ) -> Result<StoredImage, ServiceError> {
        self.check_key(to.tag, key)?;
        let _completing = self.start_completing(key)?;
        if let Some(&(number, _)) = parts.iter().max_by_key(|(number, _)| *number) {
            self.check_part_number(number)?;
        }
        match self.staging.complete(key, upload_id, parts).await {
            Ok(()) => {}
            Err(StagingError::NoSuchUpload) if self.staging.staged_size(key).await?.is_some() => {}
            Err(e) => return Err(e.into()),
        }
        self.process_staged(to, key, now).await
    }

    /// Processes the object staged at `key` by a single PUT.
    pub async fn complete_single(
        &self,
        to: Destination<'_>,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredImage, ServiceError> {
        self.check_key(to.tag, key)?;
        let _completing = self.start_completing(key)?;
        self.process_staged(to, key, now).await
    }

    /// Checks the staged object's size (before reading it), takes its share of the upload
    /// memory, runs it through the upload pipeline and store, and removes it: after a success
    /// or a refusal of the file, nothing stays staged. A failure that a retry can cure (busy,
    /// storage) keeps it for that retry.
    async fn process_staged(
        &self,
        to: Destination<'_>,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<StoredImage, ServiceError> {
        let max = self.settings.max_bytes;
        let size = self
            .staging
            .staged_size(key)
            .await?
            .ok_or(DirectError::UnknownUpload)?;
        if size > max {
            self.staging.remove(key).await?;
            return Err(DirectError::StagedTooLarge { size, max }.into());
        }
        let _memory = self.memory.reserve(size)?;
        let staged = self
            .staging
            .read(key)
            .await?
            .ok_or(DirectError::UnknownUpload)?;
        // The object may have been replaced between the size check and the read.
        if staged.bytes.len() as u64 > max {
            self.staging.remove(key).await?;
            return Err(DirectError::StagedTooLarge {
                size: staged.bytes.len() as u64,
                max,
            }
            .into());
        }
        let result = self
            .uploads
            .store(
                staged.bytes,
                to.preset,
                to.prefix,
                now,
                staged.original_name,
            )
            .await;
        if result.is_ok() || matches!(result, Err(ServiceError::Pipeline(ref e)) if is_refusal(e)) {
            self.staging.remove(key).await?;
        }
        result
    }

    fn signing<'a>(&self, origin: &'a str) -> Signing<'a> {
        Signing {
            ttl: self.settings.url_ttl,
            origin,
        }
    }

    fn check_size(&self, size: u64) -> Result<(), DirectError> {
        let max = self.settings.max_bytes;
        if size > max {
            return Err(DirectError::TooLarge { size, max });
        }
        Ok(())
    }

    fn check_part_number(&self, number: u32) -> Result<(), DirectError> {
        let max = self.max_parts();
        if !(1..=max).contains(&number) {
            return Err(DirectError::PartOutOfRange {
                number,
                max,
                max_bytes: self.settings.max_bytes,
            });
        }
        Ok(())
    }

    /// `{incoming}/{random}{mac}`.
    fn issue_key(&self, tag: &str) -> String {
        let random = random_hex(ID_HEX / 2);
        let mac = hex::encode(&self.id_mac(tag, &random)[..ID_HEX / 2]);
        format!("{}/{random}{mac}", self.settings.incoming)
    }

    /// Whether `key` is one [`Self::issue_key`] made for `tag`.
    fn check_key(&self, tag: &str, key: &str) -> Result<(), DirectError> {
        let id = key
            .strip_prefix(self.settings.incoming.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|id| id.len() == 2 * ID_HEX)
            .filter(|id| {
                id.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
            .ok_or(DirectError::ForeignKey)?;
        let (random, mac) = id.split_at(ID_HEX);
        let mac = hex::decode(mac).map_err(|_| DirectError::ForeignKey)?;
        self.id_hmac(tag, random)
            .verify_truncated_left(&mac)
            .map_err(|_| DirectError::ForeignKey)
    }

    fn id_mac(&self, tag: &str, random: &str) -> Vec<u8> {
        self.id_hmac(tag, random).finalize().into_bytes().to_vec()
    }

    fn id_hmac(&self, tag: &str, random: &str) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.settings.secret)
            .expect("HMAC accepts any key length");
        mac.update(b"pixgate-staging-id\0");
        mac.update(tag.as_bytes());
        mac.update(b"\0");
        mac.update(random.as_bytes());
        mac
    }

    fn start_completing(&self, key: &str) -> Result<Completing<'_>, DirectError> {
        let mut completing = self
            .completing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !completing.insert(key.to_owned()) {
            return Err(DirectError::InProgress);
        }
        Ok(Completing {
            set: &self.completing,
            key: key.to_owned(),
        })
    }
}

/// A refusal of the file itself: the same bytes would be refused again, so they need not stay.
fn is_refusal(error: &PipelineError) -> bool {
    matches!(
        error,
        PipelineError::EmptyFile
            | PipelineError::UnsupportedFormat(_)
            | PipelineError::ImageTooLarge(_)
            | PipelineError::CorruptImage(_)
    )
}

/// A key in the completing set, taken out when the complete ends however it ends.
struct Completing<'a> {
    set: &'a Mutex<HashSet<String>>,
    key: String,
}

impl Drop for Completing<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}
