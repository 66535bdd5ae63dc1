//! Encoding. Uploads: opaque images become JPEG q80 (4:2:0, optimised Huffman tables,
//! through libjpeg-turbo); images with real transparency become PNG. Transforms may also ask for
//! lossy WebP (libwebp) or AVIF (rav1e, in `avif`) at any quality. JPEG, WebP and AVIF are also
//! written straight from Y'CbCr planes (the `planar` path). Everything is written from bare
//! samples, so no EXIF, GPS, XMP or IPTC from the source can survive.

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use turbojpeg::{Compressor, PixelFormat, Subsamp, YuvPlanesImage};

use super::pixels::{drop_alpha, flatten_on_white, has_transparency};
use super::planar::Planes;
use super::{Layout, PipelineError, Pixels, Placeholder, ProcessedImage, avif, webp};

/// Quality of upload outputs, and the default of transforms.
pub const DEFAULT_QUALITY: u8 = 80;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jpeg,
    Png,
    Webp,
    Avif,
}

impl OutputFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Avif => "image/avif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Avif => "avif",
        }
    }

    /// The name used in transform queries (`f=`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Avif => "avif",
        }
    }

    /// Whether quality changes the output (PNG is lossless).
    pub fn is_lossy(self) -> bool {
        !matches!(self, Self::Png)
    }
}

/// Encoder settings a transform chooses.
#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    pub format: OutputFormat,
    /// 1..=100; ignored for PNG.
    pub quality: u8,
    /// rav1e speed, 1 (slowest, smallest) to 10 (fastest).
    pub avif_speed: u8,
}

/// Encodes as asked. JPEG has no alpha, so transparent areas are laid on white first.
pub fn encode_as(pixels: &Pixels, options: EncodeOptions) -> Result<Vec<u8>, PipelineError> {
    let (width, height) = (pixels.width, pixels.height);
    match (options.format, pixels.layout) {
        (OutputFormat::Jpeg, Layout::Rgb8) => {
            encode_jpeg(&pixels.data, width, height, options.quality)
        }
        (OutputFormat::Jpeg, Layout::Rgba8) => encode_jpeg(
            &flatten_on_white(&pixels.data),
            width,
            height,
            options.quality,
        ),
        (OutputFormat::Png, _) => encode_png(pixels),
        (OutputFormat::Webp, _) => webp::from_pixels(pixels, options.quality),
        (OutputFormat::Avif, _) => avif::from_pixels(pixels, options.quality, options.avif_speed),
    }
}

/// An upload from pixels; `placeholder` (computed from them) rides along into the result.
pub fn encode(pixels: Pixels, placeholder: Placeholder) -> Result<ProcessedImage, PipelineError> {
    let (width, height) = (pixels.width, pixels.height);
    let (format, bytes) = match pixels.layout {
        Layout::Rgba8 if has_transparency(&pixels.data) => {
            (OutputFormat::Png, encode_png(&pixels)?)
        }
        Layout::Rgba8 => (
            OutputFormat::Jpeg,
            encode_jpeg(&drop_alpha(&pixels.data), width, height, DEFAULT_QUALITY)?,
        ),
        Layout::Rgb8 => (
            OutputFormat::Jpeg,
            encode_jpeg(&pixels.data, width, height, DEFAULT_QUALITY)?,
        ),
    };
    Ok(ProcessedImage {
        bytes,
        format,
        width,
        height,
        animation: None,
        placeholder,
    })
}

/// Encodes 4:2:0 planes as JPEG, WebP or AVIF, the formats that store them as they are.
pub fn encode_planes(planes: &Planes, options: EncodeOptions) -> Result<Vec<u8>, PipelineError> {
    match options.format {
        OutputFormat::Jpeg => jpeg_from_planes(planes, options.quality),
        OutputFormat::Webp => webp::from_planes(planes, options.quality),
        OutputFormat::Avif => avif::from_planes(planes, options.quality, options.avif_speed),
        // `route::takes_planes` never sends other formats here.
        other => Err(PipelineError::internal(format!(
            "{} is not written from planes",
            other.name()
        ))),
    }
}

/// An upload from planes: always JPEG q80 (planes carry no alpha).
pub fn encode_upload_planes(
    planes: &Planes,
    placeholder: Placeholder,
) -> Result<ProcessedImage, PipelineError> {
    Ok(ProcessedImage {
        bytes: jpeg_from_planes(planes, DEFAULT_QUALITY)?,
        format: OutputFormat::Jpeg,
        width: planes.width,
        height: planes.height,
        animation: None,
        placeholder,
    })
}

fn encode_jpeg(rgb: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, PipelineError> {
    let mut compressor = jpeg_compressor(quality)?;
    let image = turbojpeg::Image {
        pixels: rgb,
        width: width as usize,
        pitch: width as usize * 3,
        height: height as usize,
        format: PixelFormat::RGB,
    };
    compressor
        .compress_to_vec(image)
        .map_err(PipelineError::internal)
}

fn jpeg_compressor(quality: u8) -> Result<Compressor, PipelineError> {
    let mut compressor = Compressor::new().map_err(PipelineError::internal)?;
    compressor
        .set_quality(i32::from(quality))
        .map_err(PipelineError::internal)?;
    compressor
        .set_subsamp(Subsamp::Sub2x2)
        .map_err(PipelineError::internal)?;
    compressor
        .set_optimize(true)
        .map_err(PipelineError::internal)?;
    Ok(compressor)
}

fn jpeg_from_planes(planes: &Planes, quality: u8) -> Result<Vec<u8>, PipelineError> {
    let (chroma_w, chroma_h) = planes.chroma_size();
    // libjpeg-turbo reads 4:2:0 luma in whole chroma samples: an odd side needs one more
    // row or column, which repeats the edge (as its own RGB path pads).
    let (width, height) = (planes.width as usize, planes.height as usize);
    let padded;
    let (y_plane, y_stride) = if (width, height) == (chroma_w * 2, chroma_h * 2) {
        (planes.y(), planes.luma_stride())
    } else {
        padded = pad_luma(
            planes.y(),
            planes.luma_stride(),
            (width, height),
            (chroma_w * 2, chroma_h * 2),
        );
        (padded.as_slice(), chroma_w * 2)
    };
    let image = YuvPlanesImage {
        y_plane,
        u_plane: planes.cb(),
        v_plane: planes.cr(),
        width,
        height,
        y_stride,
        u_stride: chroma_w,
        v_stride: chroma_w,
        subsamp: Subsamp::Sub2x2,
    };
    jpeg_compressor(quality)?
        .compress_yuv_planes_to_vec(&image)
        .map_err(PipelineError::internal)
}

/// Copies a `width`×`height` plane into a `padded` one, repeating the last column and row.
fn pad_luma(
    plane: &[u8],
    stride: usize,
    (width, height): (usize, usize),
    (padded_w, padded_h): (usize, usize),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(padded_w * padded_h);
    for row in plane.chunks(stride).take(height) {
        let row = &row[..width];
        out.extend_from_slice(row);
        let last = row.last().copied().unwrap_or(0);
        out.resize(out.len() + (padded_w - width), last);
    }
    for _ in height..padded_h {
        let Some(start) = out.len().checked_sub(padded_w) else {
            break;
        };
        out.extend_from_within(start..);
    }
    out
}

fn encode_png(pixels: &Pixels) -> Result<Vec<u8>, PipelineError> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(
            &pixels.data,
            pixels.width,
            pixels.height,
            match pixels.layout {
                Layout::Rgb8 => image::ExtendedColorType::Rgb8,
                Layout::Rgba8 => image::ExtendedColorType::Rgba8,
            },
        )
        .map_err(PipelineError::internal)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::test_images::rgb_of;

    /// Planes made from pixels (the AVIF encoder's input) mean what libjpeg-turbo's planes mean:
    /// written as a JPEG straight from them and decoded, they are the same colours again.
    #[test]
    fn planes_from_pixels_read_back_as_the_same_colours() {
        let colours: [[u8; 3]; 4] = [[230, 20, 30], [20, 40, 220], [30, 200, 60], [128, 128, 128]];
        let (width, height) = (64u32, 48u32);
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let colour = colours[((y / 24) * 2 + x / 32) as usize];
                data.extend_from_slice(&colour.map(|c| c.saturating_add((x % 8) as u8)));
            }
        }
        let pixels = Pixels {
            width,
            height,
            layout: Layout::Rgb8,
            data,
        };
        let jpeg = jpeg_from_planes(&Planes::from_pixels(&pixels), 100).unwrap();
        let back = rgb_of(&jpeg).pixels;
        // Inside each block (4:2:0 blurs colour across the blocks' edges, by design).
        for (i, colour) in colours.iter().enumerate() {
            for (dx, dy) in [(4, 4), (13, 10), (22, 18)] {
                let (x, y) = ((i as u32 % 2) * 32 + dx, (i as u32 / 2) * 24 + dy);
                let at = ((y * width + x) * 3) as usize;
                let want = colour.map(|c| i32::from(c) + (x % 8) as i32);
                for (got, want) in back[at..at + 3].iter().zip(want) {
                    let got = i32::from(*got);
                    assert!(
                        (got - want).abs() <= 2,
                        "colour {i} at {x},{y}: {got} for {want}"
                    );
                }
            }
        }
    }

    fn rgba(alpha: u8) -> Pixels {
        Pixels {
            width: 4,
            height: 2,
            layout: Layout::Rgba8,
            data: [10, 20, 30, alpha].repeat(8),
        }
    }

    #[test]
    fn every_format_encodes_both_layouts() {
        for layout in [Layout::Rgb8, Layout::Rgba8] {
            let pixels = Pixels {
                width: 3,
                height: 2,
                layout,
                data: vec![90; 3 * 2 * layout.channels()],
            };
            for format in [
                OutputFormat::Jpeg,
                OutputFormat::Png,
                OutputFormat::Webp,
                OutputFormat::Avif,
            ] {
                let options = EncodeOptions {
                    format,
                    quality: 50,
                    avif_speed: 10,
                };
                let bytes = encode_as(&pixels, options).unwrap();
                assert!(bytes.len() > 20, "{format:?} from {layout:?}");
            }
        }
    }

    #[test]
    fn padding_repeats_the_last_column_and_row() {
        let plane = [1, 2, 3, 4, 5, 6];
        assert_eq!(
            pad_luma(&plane, 3, (3, 2), (4, 3)),
            vec![1, 2, 3, 3, 4, 5, 6, 6, 4, 5, 6, 6]
        );
    }

    fn no_placeholder() -> Placeholder {
        Placeholder {
            thumbhash: Vec::new(),
            color: [0; 3],
        }
    }

    #[test]
    fn opaque_rgba_becomes_jpeg_and_transparent_rgba_png() {
        let opaque = encode(rgba(255), no_placeholder()).unwrap();
        assert_eq!(opaque.format, OutputFormat::Jpeg);
        assert!(opaque.bytes.starts_with(&[0xFF, 0xD8, 0xFF]));
        let clear = encode(rgba(128), no_placeholder()).unwrap();
        assert_eq!(clear.format, OutputFormat::Png);
        assert!(clear.bytes.starts_with(b"\x89PNG"));
        assert_eq!((clear.width, clear.height), (4, 2));
    }
}
