//! The upload use case: one file's bytes through the pipeline and into the store under a key
//! named by its content.

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::{ServiceError, Workers};
use crate::config::UploadConfig;
use crate::pipeline::{self, AnimationSummary, PixelLimits, Placeholder, Preset};
use crate::storage::{NewObject, SharedStore, content_key};

/// Processes and stores uploaded files.
pub struct Uploads {
    store: SharedStore,
    workers: Workers,
    limits: PixelLimits,
    settings: UploadConfig,
}

/// A file as it was stored.
#[derive(Debug)]
pub struct StoredImage {
    pub key: String,
    pub content_type: &'static str,
    pub size: usize,
    pub width: u32,
    pub height: u32,
    /// The client's file name, as it was given to [`Uploads::store`].
    pub original_name: Option<String>,
    /// Set when the stored file is an animated WebP.
    pub animation: Option<AnimationSummary>,
    pub placeholder: Placeholder,
}

impl Uploads {
    pub fn new(
        store: SharedStore,
        workers: Workers,
        limits: PixelLimits,
        settings: UploadConfig,
    ) -> Self {
        Self {
            store,
            workers,
            limits,
            settings,
        }
    }

    /// Runs the pipeline on `file` with `preset`, then stores the result under
    /// `{prefix}/{date}/{hash}.{ext}`. Returns once the store has confirmed the write.
    pub async fn store(
        &self,
        file: Bytes,
        preset: Preset,
        prefix: &str,
        now: DateTime<Utc>,
        original_name: Option<String>,
    ) -> Result<StoredImage, ServiceError> {
        let limits = self.limits;
        let animated = self.settings.animation_policy(preset);
        let image = self
            .workers
            .run(move || pipeline::process(&file, preset, animated, &limits))
            .await?;
        let key = content_key(prefix, now, &image.bytes, image.format.extension());
        let stored = StoredImage {
            key: key.clone(),
            content_type: image.format.content_type(),
            size: image.bytes.len(),
            width: image.width,
            height: image.height,
            original_name: original_name.clone(),
            animation: image.animation,
            placeholder: image.placeholder,
        };
        self.store
            .put(NewObject {
                key,
                bytes: Bytes::from(image.bytes),
                content_type: stored.content_type,
                original_name,
            })
            .await?;
        Ok(stored)
    }
}
