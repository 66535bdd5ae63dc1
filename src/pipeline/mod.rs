//! The image pipeline: bytes in, a resized, re-encoded, metadata-free image out. It knows
//! nothing of HTTP or storage. The steps and their order are written once, in [`process`];
//! each step lives in its own module.

mod color;
mod decode;
mod encode;
mod fit;
mod orient;
mod planar;
mod probe;
mod resize;
mod sniff;
mod webp;

use std::fmt;

use bytes::Bytes;
use image::metadata::Orientation;

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
    /// Laid on white, without alpha (already opaque pixels are returned as they are).
    fn flattened_on_white(self) -> Self {
        if self.layout == Layout::Rgb8 {
            return self;
        }
        Self {
            layout: Layout::Rgb8,
            data: encode::flatten_on_white(&self.data),
            ..self
        }
    }

    /// Without the alpha channel if nothing in it is transparent.
    fn without_opaque_alpha(self) -> Self {
        if self.layout == Layout::Rgb8 || encode::has_transparency(&self.data) {
            return self;
        }
        Self {
            layout: Layout::Rgb8,
            data: encode::drop_alpha(&self.data),
            ..self
        }
    }

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
/// Colour JPEGs with nothing to convert take the same steps on Y'CbCr planes (`planar`).
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
    if planar::applies(&header) {
        let planar = upload_from_planes(bytes, &header, stored_target);
        if !needs_rgb_path(&planar) {
            return planar;
        }
    }
    upload_from_pixels(bytes, &header, stored_target, limits)
}

/// The planar path refused for a reason of its own (a plane layout it does not know, an encoder
/// it cannot feed): the RGB path takes the file. A corrupt file is corrupt on both paths, so its
/// answer stands and it is not decoded twice.
fn needs_rgb_path<T>(planar: &Result<T, PipelineError>) -> bool {
    matches!(planar, Err(PipelineError::Internal(_)))
}

fn upload_from_planes(
    bytes: &[u8],
    header: &Header,
    stored_target: (u32, u32),
) -> Result<ProcessedImage, PipelineError> {
    let decoded = planar::decode(bytes, header, stored_target)?;
    let resized = planar::resize(&decoded, fit::Region::WHOLE, stored_target)?;
    drop(decoded);
    let upright = planar::orient(resized, header.orientation)?;
    encode::encode_upload_planes(&upright)
}

fn upload_from_pixels(
    bytes: &[u8],
    header: &Header,
    stored_target: (u32, u32),
    limits: &PixelLimits,
) -> Result<ProcessedImage, PipelineError> {
    let decoded = decode::decode(bytes, header, stored_target, limits)?;
    // An alpha channel with nothing transparent in it is written as JPEG anyway; dropping it
    // now resamples three channels instead of four, with no premultiplying.
    let pixels = decoded.pixels.without_opaque_alpha();
    let resized = resize::resize_region(pixels, decoded.area, stored_target)?;
    let srgb = color::to_srgb(resized, header.icc.as_deref())?;
    let upright = orient::apply(srgb, header.orientation)?;
    encode::encode(upright)
}

/// A stored image re-rendered on request: the same checks as an upload (real format, pixel
/// limits from the header), then decode (DCT-scaled to what the plan needs), orient, crop and
/// resample in one pass, convert to sRGB, pad for `contain`, and encode as asked. A colour JPEG
/// going out as JPEG or WebP without padding takes those steps on Y'CbCr planes (`planar`).
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
    let planar_format = spec
        .format
        .unwrap_or_else(|| nearest_output(source_format, Layout::Rgb8));
    // Stored originals are upright (uploads are), so a rotated source is rare enough for the
    // RGB path, where crops are planned on the upright image.
    if planar::applies(&header)
        && header.orientation == Orientation::NoTransforms
        && plan.canvas.is_none()
        && matches!(planar_format, OutputFormat::Jpeg | OutputFormat::Webp)
    {
        let options = EncodeOptions {
            format: planar_format,
            quality: spec.quality,
            avif_speed: spec.avif_speed,
        };
        let planar = render_from_planes(bytes, &header, decode_target, &plan, options);
        if !needs_rgb_path(&planar) {
            return planar;
        }
    }
    let mut decoded = decode::decode(bytes, &header, decode_target, limits)?;
    // JPEG has no alpha. Laying the image on white before the resize rather than after gives
    // the same pixels (compositing on a constant and resampling are both linear) and resamples
    // three channels instead of four, with no premultiplying. Only in sRGB: a profile's
    // conversion is not linear, so it must see the transparent pixels as they are.
    if spec.format == Some(OutputFormat::Jpeg) && !color::converts(header.icc.as_deref()) {
        decoded.pixels = decoded.pixels.flattened_on_white();
    }
    let upright = orient::apply(decoded.pixels, header.orientation)?;
    let area = orient::area_after(decoded.area, header.orientation);
    let resized = resize::resize_region(upright, plan.region.within(area), plan.resized)?;
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

fn render_from_planes(
    bytes: &[u8],
    header: &Header,
    decode_target: (u32, u32),
    plan: &Plan,
    options: EncodeOptions,
) -> Result<Rendition, PipelineError> {
    let decoded = planar::decode(bytes, header, decode_target)?;
    let resized = planar::resize(&decoded, plan.region, plan.resized)?;
    drop(decoded);
    Ok(Rendition {
        bytes: Bytes::from(encode::encode_planes(&resized, options)?),
        content_type: options.format.content_type(),
        width: resized.width,
        height: resized.height,
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PixelLimits = PixelLimits {
        max_pixels: 50_000_000,
        max_side: 16384,
    };

    /// A 4:2:0 JPEG q95 of coloured 64-px squares with a diagonal ramp: edges, chroma and
    /// gradients, at sides no DCT scale divides.
    fn test_jpeg(width: usize, height: usize) -> Vec<u8> {
        test_jpeg_subsampled(width, height, turbojpeg::Subsamp::Sub2x2)
    }

    fn test_jpeg_subsampled(width: usize, height: usize, subsamp: turbojpeg::Subsamp) -> Vec<u8> {
        let mut rgb = Vec::with_capacity(width * height * 3);
        for y in 0..height {
            for x in 0..width {
                let square = (x / 64 + y / 64) % 2 == 0;
                let ramp = ((x + y) * 255 / (width + height)) as u8;
                rgb.extend_from_slice(&if square {
                    [220, ramp, 40]
                } else {
                    [30, 90, 255 - ramp]
                });
            }
        }
        let image = turbojpeg::Image {
            pixels: rgb.as_slice(),
            width,
            pitch: width * 3,
            height,
            format: turbojpeg::PixelFormat::RGB,
        };
        turbojpeg::compress(image, 95, subsamp).unwrap().to_vec()
    }

    #[test]
    fn every_chroma_subsampling_uploads_whichever_path_takes_it() {
        use turbojpeg::Subsamp;
        for subsamp in [
            Subsamp::None,
            Subsamp::Sub2x1,
            Subsamp::Sub2x2,
            Subsamp::Sub1x2,
            Subsamp::Sub4x1,
            Subsamp::Sub1x4,
            Subsamp::Gray,
        ] {
            let jpeg = test_jpeg_subsampled(1001, 701, subsamp);
            for (preset, size) in [
                (Preset::Profile, (200, 140)),
                (Preset::Display, (1001, 701)),
            ] {
                let out = process(&jpeg, preset, &LIMITS).unwrap();
                assert_eq!((out.width, out.height), size, "{subsamp:?}");
                let decoded = rgb_of(&out.bytes);
                assert_eq!(
                    (decoded.width, decoded.height),
                    (size.0 as usize, size.1 as usize)
                );
            }
        }
    }

    fn rgb_of(jpeg: &[u8]) -> turbojpeg::Image<Vec<u8>> {
        turbojpeg::decompress(jpeg, turbojpeg::PixelFormat::RGB).unwrap()
    }

    /// BT.601 luma, as SSIM tools compute it.
    fn luma(rgb: &[u8]) -> Vec<u8> {
        rgb.chunks_exact(3)
            .map(|p| {
                let weighted =
                    u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114;
                (weighted / 1000) as u8
            })
            .collect()
    }

    fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
        assert_eq!(a.len(), b.len());
        let sum: u64 = a
            .iter()
            .zip(b)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        sum as f64 / a.len() as f64
    }

    #[test]
    fn the_planar_path_is_as_close_to_the_source_as_the_rgb_path() {
        let jpeg = test_jpeg(1001, 701);
        let header = probe::probe(&jpeg, SourceFormat::Jpeg, &LIMITS).unwrap();
        assert!(planar::applies(&header));
        for target in [(200, 140), (640, 448), (1001, 701)] {
            let planar = upload_from_planes(&jpeg, &header, target).unwrap();
            let pixels = upload_from_pixels(&jpeg, &header, target, &LIMITS).unwrap();
            assert_eq!((planar.width, planar.height), target);
            let full = decode::decode(&jpeg, &header, (1001, 701), &LIMITS).unwrap();
            let reference = resize::resize_region(full.pixels, full.area, target).unwrap();
            let (a, b) = (rgb_of(&planar.bytes), rgb_of(&pixels.bytes));
            // Both end as JPEG 4:2:0, so both lose chroma detail the reference keeps; the
            // planar path may not lose more, and its luma must be the RGB path's.
            let planar_error = mean_abs_diff(&a.pixels, &reference.data);
            let rgb_error = mean_abs_diff(&b.pixels, &reference.data);
            assert!(
                planar_error <= rgb_error + 0.5,
                "{target:?}: planar {planar_error:.2}, rgb {rgb_error:.2}"
            );
            let luma_gap = mean_abs_diff(&luma(&a.pixels), &luma(&reference.data))
                - mean_abs_diff(&luma(&b.pixels), &luma(&reference.data));
            assert!(
                luma_gap.abs() < 0.1,
                "{target:?}: luma error gap {luma_gap:.3}"
            );
        }
    }

    /// VP8 stores studio-range Y'CbCr: planes copied in without the range change would come out
    /// washed out (dark greys lifted, brights dimmed), which the mean colour shows at once.
    #[test]
    fn webp_from_planes_keeps_the_colours() {
        let jpeg = Bytes::from(test_jpeg(1001, 701));
        let spec = RenderSpec {
            target: TargetBox {
                width: Some(500),
                height: None,
                fit: Fit::Inside,
                enlarge: false,
            },
            format: Some(OutputFormat::Webp),
            quality: 90,
            avif_speed: 10,
        };
        let webp = render(&jpeg, &spec, &LIMITS).unwrap();
        assert_eq!(webp.content_type, "image/webp");
        let decoded = image::load_from_memory_with_format(&webp.bytes, image::ImageFormat::WebP)
            .unwrap()
            .into_rgb8();
        let header = probe::probe(&jpeg, SourceFormat::Jpeg, &LIMITS).unwrap();
        let full = decode::decode(&jpeg, &header, (1001, 701), &LIMITS).unwrap();
        let reference = resize::resize_region(full.pixels, full.area, (500, 350)).unwrap();
        // Against a full decode: what WebP's own loss costs, but no shift of the tones.
        // (Measured: 3.1 with the range change, 9.6 without it.)
        let error = mean_abs_diff(decoded.as_raw(), &reference.data);
        assert!(error < 5.0, "mean difference {error:.2}");
    }

    /// 2005×1605 at 1/8 decodes to 251×201, of which 250.625×200.625 is image. Resampling only
    /// the image part must land much nearer a full decode than stretching all 251×201.
    #[test]
    fn dct_scaled_decodes_are_not_stretched_by_their_partial_blocks() {
        let jpeg = test_jpeg(2005, 1605);
        let header = probe::probe(&jpeg, SourceFormat::Jpeg, &LIMITS).unwrap();
        let target = (200, 160);
        let resample = |decode_to: (u32, u32), exact: bool| {
            let decoded = decode::decode(&jpeg, &header, decode_to, &LIMITS).unwrap();
            let area = if exact {
                decoded.area
            } else {
                fit::Region::WHOLE
            };
            resize::resize_region(decoded.pixels, area, target)
                .unwrap()
                .data
        };
        let reference = resample((2005, 1605), true);
        let exact = mean_abs_diff(&resample(target, true), &reference);
        let stretched = mean_abs_diff(&resample(target, false), &reference);
        assert!(
            exact * 2.0 < stretched,
            "image area {exact}, whole buffer {stretched}"
        );
    }
}
