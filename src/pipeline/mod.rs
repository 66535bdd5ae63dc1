//! The image pipeline: bytes in, a resized, re-encoded, metadata-free image out. It knows
//! nothing of HTTP or storage. The steps and their order are written once, in [`process`];
//! each step lives in its own module.

mod color;
mod decode;
mod encode;
mod orient;
mod probe;
mod resize;
mod sniff;

use std::fmt;

pub use encode::OutputFormat;
pub use probe::{Header, PixelLimits};
pub use resize::{Preset, fit_inside};
pub use sniff::SourceFormat;

/// Why one image could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("the file is empty")]
    EmptyFile,
    #[error("unsupported image format: {0}; send JPEG, PNG, GIF, WebP or BMP")]
    UnsupportedFormat(String),
    #[error("image is too large: {0}")]
    ImageTooLarge(String),
    #[error("the image could not be decoded: {0}")]
    CorruptImage(String),
    #[error("image processing failed: {0}")]
    Internal(String),
}

/// Decoded pixels, 8 bits per channel, rows packed without padding.
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Rgb8,
    Rgba8,
}

impl Layout {
    pub fn channels(self) -> usize {
        match self {
            Self::Rgb8 => 3,
            Self::Rgba8 => 4,
        }
    }
}

impl fmt::Debug for Pixels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Pixels({}x{} {:?})",
            self.width, self.height, self.layout
        )
    }
}

/// The finished image, ready to store.
#[derive(Debug)]
pub struct ProcessedImage {
    pub bytes: Vec<u8>,
    pub format: OutputFormat,
    pub width: u32,
    pub height: u32,
}

/// Runs every step on one file: sniff the real format, read the header and check the pixel
/// limits before any pixel is decoded, decode (shrinking JPEGs in the DCT domain when the target
/// allows), resize, convert to sRGB, apply the EXIF orientation, and encode without metadata.
///
/// The orientation is applied after the resize: the box is computed on the upright dimensions,
/// so the result is the same as orienting first, and rotating the small image is far cheaper.
pub fn process(
    bytes: &[u8],
    preset: Preset,
    limits: &PixelLimits,
) -> Result<ProcessedImage, PipelineError> {
    let format = sniff::sniff(bytes)?;
    let header = probe::probe(bytes, format, limits)?;
    let (upright_w, upright_h) = header.upright_dimensions();
    let (target_w, target_h) = preset.fit(upright_w, upright_h);
    let stored_target = header.stored_dimensions_of(target_w, target_h);
    let decoded = decode::decode(bytes, &header, stored_target, limits)?;
    let resized = resize::resize(decoded, stored_target)?;
    let srgb = color::to_srgb(resized, header.icc.as_deref())?;
    let upright = orient::apply(srgb, header.orientation)?;
    encode::encode(upright)
}
