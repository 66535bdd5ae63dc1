//! The image pipeline: bytes in, a resized, re-encoded, metadata-free image out. It knows
//! nothing of HTTP or storage. The steps and their order are written once, in [`process`];
//! each step lives in its own module.

mod color;
mod decode;
mod encode;
mod fit;
mod orient;
mod probe;
mod resize;
mod sniff;

use std::fmt;

use bytes::Bytes;

pub use encode::{DEFAULT_QUALITY, EncodeOptions, OutputFormat};
pub use fit::{Fit, Plan, TargetBox};
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

/// What a transform asks of one stored image.
#[derive(Debug, Clone, Copy)]
pub struct RenderSpec {
    pub target: TargetBox,
    /// `None` keeps the source's format (or the nearest one pixgate writes).
    pub format: Option<OutputFormat>,
    pub quality: u8,
    pub avif_speed: u8,
}

impl RenderSpec {
    /// No resize and no re-encode: the stored bytes are the answer.
    fn is_identity(&self) -> bool {
        self.target.width.is_none()
            && self.target.height.is_none()
            && self.format.is_none()
            && self.quality == DEFAULT_QUALITY
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

impl Pixels {
    /// The same pixels with an opaque alpha channel, if they had none.
    pub fn into_rgba(self) -> Self {
        if self.layout == Layout::Rgba8 {
            return self;
        }
        let data = self
            .data
            .chunks_exact(3)
            .flat_map(|px| [px[0], px[1], px[2], u8::MAX])
            .collect();
        Self {
            layout: Layout::Rgba8,
            data,
            ..self
        }
    }
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

/// A stored image re-rendered on request: the same checks as an upload (real format, pixel
/// limits from the header), then decode (DCT-scaled to what the plan needs), orient, crop and
/// resample in one pass, convert to sRGB, pad for `contain`, and encode as asked.
///
/// Orientation comes before the resize here, unlike [`process`]: crops are planned on the
/// upright image, and stored originals are upright already, so it is nearly always a no-op.
pub fn render(
    source: &Bytes,
    spec: &RenderSpec,
    limits: &PixelLimits,
) -> Result<Rendition, PipelineError> {
    let bytes: &[u8] = source;
    let source_format = sniff::sniff(bytes)?;
    let header = probe::probe(bytes, source_format, limits)?;
    let (upright_w, upright_h) = header.upright_dimensions();
    if spec.is_identity() {
        return Ok(Rendition {
            bytes: source.clone(),
            content_type: source_format.image_format().to_mime_type(),
            width: upright_w,
            height: upright_h,
        });
    }
    let plan = fit::plan((upright_w, upright_h), spec.target);
    check_output_size(plan.output(), limits)?;
    let (scaled_w, scaled_h) = plan.scaled_source;
    let decode_target = header.stored_dimensions_of(scaled_w, scaled_h);
    let decoded = decode::decode(bytes, &header, decode_target, limits)?;
    let upright = orient::apply(decoded, header.orientation)?;
    let resized = resize::resize_region(upright, plan.region, plan.resized)?;
    let srgb = color::to_srgb(resized, header.icc.as_deref())?;
    let placed = match plan.canvas {
        Some(canvas) => resize::pad_to_canvas(srgb, canvas),
        None => srgb,
    };
    let format = spec
        .format
        .unwrap_or_else(|| nearest_output(source_format, placed.layout));
    let options = EncodeOptions {
        format,
        quality: spec.quality,
        avif_speed: spec.avif_speed,
    };
    Ok(Rendition {
        bytes: Bytes::from(encode::encode_as(&placed, options)?),
        content_type: format.content_type(),
        width: placed.width,
        height: placed.height,
    })
}

/// `enlarge=1` and `fit=outside` can ask for more pixels than any source may have.
fn check_output_size(
    (width, height): (u32, u32),
    limits: &PixelLimits,
) -> Result<(), PipelineError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels || width.max(height) > limits.max_side {
        return Err(PipelineError::ImageTooLarge(format!(
            "the rendition would be {width}x{height} pixels"
        )));
    }
    Ok(())
}

/// Without `f`, the output keeps the source's format where pixgate writes it.
fn nearest_output(source: SourceFormat, layout: Layout) -> OutputFormat {
    match (source, layout) {
        (SourceFormat::Jpeg, _) => OutputFormat::Jpeg,
        (SourceFormat::WebP, _) => OutputFormat::Webp,
        (SourceFormat::Png | SourceFormat::Gif, _) | (_, Layout::Rgba8) => OutputFormat::Png,
        (SourceFormat::Bmp, Layout::Rgb8) => OutputFormat::Jpeg,
    }
}
