//! The image pipeline: bytes in, a resized, re-encoded, metadata-free image out. It knows
//! nothing of HTTP or storage. Two entry points, [`process`] (an upload, to a preset) and
//! [`render`] (a stored image, as a transform asks), each writing its steps in order once; each
//! step lives in its own module, and [`route`] decides once which path the pixels take.
//!
//! Modules, in the order an image meets them: `sniff` (format from the bytes) → `probe` (header,
//! declared limits) → `decode` (`plan`: the scale and the pixel limit for the target; then pixels,
//! `webp_frame` checking an animated WebP first) or `planar` (Y'CbCr planes) → `fit` (geometry) → `resize` →
//! `color` (to sRGB) → `orient` (EXIF orientation) → `placeholder` (an upload's ThumbHash and
//! dominant colour) → `encode` (with `webp` and `avif`). Animations branch
//! off after `probe` into `animation`, which takes every frame through the same steps and
//! `webp_anim`. Shared by all: `error`, `pixels`.

mod animation;
mod avif;
mod color;
mod decode;
mod encode;
mod error;
mod fit;
mod orient;
mod pixels;
mod placeholder;
mod planar;
mod probe;
mod render;
mod resize;
mod route;
mod sniff;
#[cfg(test)]
pub(crate) mod test_images;
pub mod timing;
mod upload;
mod webp;
mod webp_anim;
mod webp_frame;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

pub use animation::{AnimationLimits, AnimationPolicy, AnimationSummary};
pub use avif::DEFAULT_SPEED as DEFAULT_AVIF_SPEED;
pub use encode::{DEFAULT_QUALITY, EncodeOptions, OutputFormat};
pub use error::{Cause, PipelineError};
pub use fit::{Fit, Plan, TargetBox};
pub use pixels::{Layout, Pixels};
pub use placeholder::Placeholder;
pub use probe::{Header, PixelLimits};
pub use render::render;
pub use resize::{Preset, fit_inside};
pub use sniff::SourceFormat;
pub use timing::{Step, StepTimes};
pub use upload::process;

/// What a transform asks of one stored image.
#[derive(Debug, Clone, Copy)]
pub struct RenderSpec {
    pub target: TargetBox,
    /// `None` keeps the source's format (or the nearest one pixgate writes).
    pub format: Option<OutputFormat>,
    pub quality: u8,
    pub avif_speed: u8,
    /// The format was chosen by the server (`f=auto`), so another may stand in for it.
    pub auto_format: bool,
}

/// How large a rendition may be, whatever the query asks: `enlarge=1` and `fit=outside` can
/// ask for more pixels than any source has, and AVIF costs far more CPU per pixel than the rest.
#[derive(Debug, Clone, Copy)]
pub struct OutputLimits {
    pub max_side: u32,
    pub max_pixels: u64,
    pub max_avif_pixels: u64,
}

/// Set when no one waits for a job any more. The pipeline looks at it between steps, so an
/// abandoned render stops within one step instead of running to the end for nobody.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// `Err(Cancelled)` once cancelled: for `?` between steps.
    pub fn check(&self) -> Result<(), PipelineError> {
        if self.0.load(Ordering::Relaxed) {
            Err(PipelineError::Cancelled)
        } else {
            Ok(())
        }
    }
}

impl RenderSpec {
    /// No resize and no re-encode: the stored bytes are the answer.
    fn is_identity(&self) -> bool {
        self.target.width.is_none()
            && self.target.height.is_none()
            && self.format.is_none()
            && self.quality == DEFAULT_QUALITY
    }

    fn encode_options(&self, format: OutputFormat) -> EncodeOptions {
        EncodeOptions {
            format,
            quality: self.quality,
            avif_speed: self.avif_speed,
        }
    }
}

/// A transform's result.
#[derive(Debug)]
pub struct Rendition {
    /// Shared with the source when nothing was asked of it, so the original is never copied.
    pub bytes: Bytes,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// The finished upload, ready to store.
#[derive(Debug)]
pub struct ProcessedImage {
    pub bytes: Vec<u8>,
    pub format: OutputFormat,
    pub width: u32,
    pub height: u32,
    /// Set when the stored file is an animated WebP.
    pub animation: Option<AnimationSummary>,
    /// What a client paints before the file loads (of the first frame, for an animation).
    pub placeholder: Placeholder,
}

/// The placeholder of upright sRGB pixels, as an upload computes it: for `pixgate bench`,
/// which times the step alone.
pub fn placeholder_of(pixels: &Pixels) -> Result<Placeholder, PipelineError> {
    placeholder::from_pixels(pixels)
}
