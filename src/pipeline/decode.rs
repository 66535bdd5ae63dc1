//! Pixels from the file. JPEGs go through libjpeg-turbo, shrunk in the DCT domain by the
//! largest factor (1/2, 1/4, 1/8) that still leaves at least the target size, as libvips'
//! shrink-on-load does; other formats go through the `image` crate under the pixel limits.
//! Decoding is strict: a file that does not decode completely is corrupt, never half-grey.

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

/// Progressive JPEGs can declare thousands of scans to burn CPU; real ones have about ten.
const MAX_JPEG_SCANS: u32 = 500;

pub fn decode(
    bytes: &[u8],
    header: &Header,
    target: (u32, u32),
    limits: &PixelLimits,
) -> Result<Decoded, PipelineError> {
    match header.format {
        SourceFormat::Jpeg => decode_jpeg(bytes, header, target),
        _ => Ok(Decoded {
            pixels: decode_with_image(bytes, header, limits)?,
            area: Region::WHOLE,
        }),
    }
}

fn decode_jpeg(
    bytes: &[u8],
    header: &Header,
    target: (u32, u32),
) -> Result<Decoded, PipelineError> {
    let scale = if header.lossless {
        ScalingFactor::ONE
    } else {
        dct_scale((header.width, header.height), target)
    };
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
pub(super) fn dct_scale(
    (width, height): (u32, u32),
    (target_w, target_h): (u32, u32),
) -> ScalingFactor {
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
    let (width, height) = (image.width(), image.height());
    // 16-bit, grey and palette images all come out as 8-bit RGB(A) here.
    let (layout, data) = if image.color().has_alpha() {
        (Layout::Rgba8, image.into_rgba8().into_raw())
    } else {
        (Layout::Rgb8, image.into_rgb8().into_raw())
    };
    Ok(Pixels {
        width,
        height,
        layout,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
