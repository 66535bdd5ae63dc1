//! Pixels from the file. JPEGs go through libjpeg-turbo, shrunk in the DCT domain by the
//! largest factor (1/2, 1/4, 1/8) that still leaves at least the target size, as libvips'
//! shrink-on-load does; other formats go through the `image` crate under the pixel limits.
//! Decoding is strict: a file that does not decode completely is corrupt, never half-grey.
//!
//! [`plan`] fixes that scale once the target is known and checks the pixel limit against what
//! the decoder will hold; both decoders (here and `planar`) take only a [`DecodePlan`], so
//! nothing decodes more than was checked.

use std::io::Cursor;

use turbojpeg::{Decompressor, PixelFormat, ScalingFactor};

use super::error::{PipelineError, classify, corrupt};
use super::fit::Region;
use super::{Header, Layout, PixelLimits, Pixels, SourceFormat, webp_frame};

/// Decoded pixels and the part of them that is the image. A DCT-scaled decode rounds each side
/// up to whole blocks: 2225 rows at 1/8 are 278.125 rows of image in 279 decoded. Resampling
/// the whole buffer would stretch the image by that fraction, a visible shift at thumbnail size.
pub struct Decoded {
    pub pixels: Pixels,
    pub area: Region,
}

/// The size libjpeg-turbo decodes the probed image to at `scale` (each side rounded up), without
/// reading the header a second time.
pub(super) fn scaled_size(header: &Header, scale: ScalingFactor) -> Size {
    Size {
        width: scale.scale(header.width as usize),
        height: scale.scale(header.height as usize),
    }
}

/// Decoded sides, as the turbojpeg calls take them.
pub(super) struct Size {
    pub width: usize,
    pub height: usize,
}

/// The exact extent of a `side`-pixel side decoded at `scale`, in decoded pixels.
pub(super) fn scaled_extent(side: u32, scale: ScalingFactor) -> f64 {
    f64::from(side) * scale.num() as f64 / scale.denom() as f64
}

/// How one image is decoded for one target, checked against `max_pixels`.
#[derive(Debug, Clone, Copy)]
pub struct DecodePlan {
    /// libjpeg-turbo's DCT scale; `ONE` for other formats and lossless JPEGs.
    pub scale: ScalingFactor,
}

/// The decode of `header`'s image for a `target` (stored orientation) and the pixel limit on it:
/// what the decoder holds must stay under `max_pixels`. A JPEG decoded a few block rows at a
/// time (`Header::decodes_in_rows`) holds its DCT-scaled pixels, so a 200 MP phone photo at 1/8
/// holds 3 MP; anything else holds its declared pixels, whatever it is scaled to on output.
pub fn plan(
    header: &Header,
    target: (u32, u32),
    limits: &PixelLimits,
) -> Result<DecodePlan, PipelineError> {
    let scale = if header.format == SourceFormat::Jpeg && !header.lossless {
        dct_scale((header.width, header.height), target)
    } else {
        ScalingFactor::ONE
    };
    let (w, h) = (header.width, header.height);
    if header.decodes_in_rows() {
        let scaled = scaled_size(header, scale);
        let held = (scaled.width as u64).saturating_mul(scaled.height as u64);
        if held > limits.max_pixels {
            return Err(PipelineError::ImageTooLarge(
                format!(
                    "{w}x{h} decodes to {}x{} = {held} pixels for this size, over {} pixels",
                    scaled.width, scaled.height, limits.max_pixels
                )
                .into(),
            ));
        }
    } else if header.pixels() > limits.max_pixels {
        return Err(PipelineError::ImageTooLarge(
            format!(
                "{w}x{h} is over {} pixels (this file cannot be decoded scaled down)",
                limits.max_pixels
            )
            .into(),
        ));
    }
    Ok(DecodePlan { scale })
}

/// Progressive JPEGs can declare thousands of scans to burn CPU; real ones have about ten.
const MAX_JPEG_SCANS: u32 = 500;

pub fn decode(
    bytes: &[u8],
    header: &Header,
    plan: DecodePlan,
    limits: &PixelLimits,
) -> Result<Decoded, PipelineError> {
    match header.format {
        SourceFormat::Jpeg => decode_jpeg(bytes, header, plan.scale),
        // The plan's scale is `ONE` here: the `image` crate decodes at the declared size.
        _ => Ok(Decoded {
            pixels: decode_with_image(bytes, header, limits)?,
            area: Region::WHOLE,
        }),
    }
}

fn decode_jpeg(
    bytes: &[u8],
    header: &Header,
    scale: ScalingFactor,
) -> Result<Decoded, PipelineError> {
    let mut decompressor = jpeg_decompressor(scale)?;
    let scaled = scaled_size(header, scale);
    let format = if header.cmyk {
        PixelFormat::CMYK
    } else {
        PixelFormat::RGB
    };
    let channels = if header.cmyk { 4 } else { 3 };
    let mut image = turbojpeg::Image {
        pixels: vec![0u8; scaled.width * scaled.height * channels],
        width: scaled.width,
        pitch: scaled.width * channels,
        height: scaled.height,
        format,
    };
    decompressor
        .decompress(bytes, image.as_deref_mut())
        .map_err(corrupt)?;
    let data = if header.cmyk {
        cmyk_to_rgb(&image.pixels)
    } else {
        image.pixels
    };
    let area = Region {
        left: 0.0,
        top: 0.0,
        width: scaled_extent(header.width, scale) / scaled.width as f64,
        height: scaled_extent(header.height, scale) / scaled.height as f64,
    };
    let pixels = Pixels {
        width: u32::try_from(scaled.width).map_err(PipelineError::internal)?,
        height: u32::try_from(scaled.height).map_err(PipelineError::internal)?,
        layout: Layout::Rgb8,
        data,
    };
    Ok(Decoded { pixels, area })
}

/// A libjpeg-turbo decoder set to `scale`, with the scan limit on.
pub(super) fn jpeg_decompressor(scale: ScalingFactor) -> Result<Decompressor, PipelineError> {
    let mut decompressor = Decompressor::new().map_err(PipelineError::internal)?;
    decompressor
        .set_scan_limit(MAX_JPEG_SCANS)
        .map_err(corrupt)?;
    decompressor.set_scaling_factor(scale).map_err(corrupt)?;
    Ok(decompressor)
}

/// The smallest DCT scale whose output still covers the target on both sides.
fn dct_scale((width, height): (u32, u32), (target_w, target_h): (u32, u32)) -> ScalingFactor {
    [
        ScalingFactor::ONE_EIGHTH,
        ScalingFactor::ONE_QUARTER,
        ScalingFactor::ONE_HALF,
    ]
    .into_iter()
    .find(|s| {
        s.scale(width as usize) >= target_w as usize
            && s.scale(height as usize) >= target_h as usize
    })
    .unwrap_or(ScalingFactor::ONE)
}

/// CMYK JPEGs in the wild are written by Adobe software with inverted channels (255 = no ink),
/// which libjpeg-turbo hands over as stored; R = C·K/255 is the matching conversion.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let k = u16::from(px[3]);
        for &c in &px[..3] {
            rgb.push(((u16::from(c) * k + 127) / 255) as u8);
        }
    }
    rgb
}

fn decode_with_image(
    bytes: &[u8],
    header: &Header,
    limits: &PixelLimits,
) -> Result<Pixels, PipelineError> {
    if header.format == SourceFormat::Webp {
        // image-webp panics on some broken animated first frames; libwebp's checks first.
        webp_frame::check(bytes)?;
    }
    let mut reader =
        image::ImageReader::with_format(Cursor::new(bytes), header.format.image_format());
    reader.limits(limits.decoder_limits(header.width, header.height, bytes.len()));
    let image = reader.decode().map_err(classify)?;
    Ok(Pixels::from_decoded(image))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::AnimationLimits;

    #[test]
    fn dct_scale_never_goes_below_the_target() {
        let cases = [
            ((4000, 3000), (200, 150), ScalingFactor::ONE_EIGHTH),
            ((4000, 3000), (1440, 1080), ScalingFactor::ONE_HALF),
            ((4000, 3000), (1000, 750), ScalingFactor::ONE_QUARTER),
            ((1000, 800), (1000, 800), ScalingFactor::ONE),
            ((1601, 1201), (200, 150), ScalingFactor::ONE_EIGHTH),
            ((50, 10000), (1, 200), ScalingFactor::ONE_EIGHTH),
            ((1590, 1190), (200, 150), ScalingFactor::ONE_QUARTER),
        ];
        for (source, target, expected) in cases {
            assert_eq!(
                dct_scale(source, target),
                expected,
                "{source:?} -> {target:?}"
            );
        }
    }

    fn header(format: SourceFormat, (width, height): (u32, u32), single_scan: bool) -> Header {
        Header {
            format,
            width,
            height,
            orientation: image::metadata::Orientation::NoTransforms,
            cmyk: false,
            lossless: false,
            single_scan,
            planar_subsampling: None,
            icc: None,
        }
    }

    /// `max_pixels` against what each decode holds: the scaled size for a single-scan JPEG, the
    /// declared size for anything else (under the default 50 MP limit).
    #[test]
    fn plans_check_the_pixels_the_decoder_holds() {
        let limits = PixelLimits {
            max_pixels: 50_000_000,
            max_declared_pixels: 250_000_000,
            max_side: 16384,
            animation: AnimationLimits::DEFAULT,
        };
        // The `image` preset of a 16320x12240 (200 MP) photo.
        const IMAGE_PRESET: (u32, u32) = (1440, 1080);
        let lossless = Header {
            lossless: true,
            ..header(SourceFormat::Jpeg, (8000, 7000), true)
        };
        let cases = [
            (
                header(SourceFormat::Jpeg, (16320, 12240), true),
                IMAGE_PRESET,
                Some(ScalingFactor::ONE_EIGHTH),
            ),
            (
                header(SourceFormat::Jpeg, (12000, 9000), true),
                (200, 150),
                Some(ScalingFactor::ONE_EIGHTH),
            ),
            // Full size is asked for: a 200 MP decode.
            (
                header(SourceFormat::Jpeg, (16320, 12240), true),
                (16320, 12240),
                None,
            ),
            // Progressive or multi-scan: the whole coefficient buffer, whatever the scale.
            (
                header(SourceFormat::Jpeg, (16320, 12240), false),
                IMAGE_PRESET,
                None,
            ),
            (
                header(SourceFormat::Jpeg, (8000, 6000), false),
                (200, 150),
                Some(ScalingFactor::ONE_EIGHTH),
            ),
            (lossless.clone(), (200, 175), None),
            (
                Header {
                    width: 7000,
                    ..lossless
                },
                (200, 200),
                Some(ScalingFactor::ONE),
            ),
            (
                header(SourceFormat::Png, (8000, 7000), false),
                (200, 175),
                None,
            ),
            (
                header(SourceFormat::Png, (7000, 7000), false),
                (200, 200),
                Some(ScalingFactor::ONE),
            ),
        ];
        for (header, target, expected) in cases {
            let plan = plan(&header, target, &limits);
            let what = format!(
                "{:?} {}x{} -> {target:?}",
                header.format, header.width, header.height
            );
            match (plan, expected) {
                (Ok(plan), Some(scale)) => assert_eq!(plan.scale, scale, "{what}"),
                (Err(PipelineError::ImageTooLarge(_)), None) => {}
                (other, _) => panic!("{what}: {other:?}"),
            }
        }
    }

    #[test]
    fn inverted_cmyk_becomes_the_expected_rgb() {
        // Adobe-inverted: 255 means no ink. White, pure cyan ink, black.
        let cmyk = [255, 255, 255, 255, 0, 255, 255, 255, 255, 255, 255, 0];
        assert_eq!(
            cmyk_to_rgb(&cmyk),
            vec![255, 255, 255, 0, 255, 255, 0, 0, 0]
        );
    }
}
