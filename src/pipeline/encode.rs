//! Step 7: encode. Uploads: opaque images become JPEG q80 (4:2:0, optimised Huffman tables,
//! through libjpeg-turbo); images with real transparency become PNG. Transforms may also ask for
//! lossy WebP (libwebp) or AVIF (rav1e through `ravif`) at any quality. Everything is written
//! from bare pixels, so no EXIF, GPS, XMP or IPTC from the source can survive.

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use rgb::FromSlice;
use turbojpeg::{Compressor, PixelFormat, Subsamp};

use super::{Layout, PipelineError, Pixels, ProcessedImage};

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
        (OutputFormat::Webp, _) => encode_webp(pixels, options.quality),
        (OutputFormat::Avif, _) => encode_avif(pixels, options.quality, options.avif_speed),
    }
}

pub fn encode(pixels: Pixels) -> Result<ProcessedImage, PipelineError> {
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
    })
}

fn has_transparency(rgba: &[u8]) -> bool {
    rgba.chunks_exact(4).any(|px| px[3] != u8::MAX)
}

fn drop_alpha(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .flat_map(|px| [px[0], px[1], px[2]])
        .collect()
}

/// Alpha-composites onto white: what a transparent logo looks like on a page.
fn flatten_on_white(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .flat_map(|px| {
            let alpha = u16::from(px[3]);
            let over_white =
                |c: u8| ((u16::from(c) * alpha + 255 * (255 - alpha) + 127) / 255) as u8;
            [over_white(px[0]), over_white(px[1]), over_white(px[2])]
        })
        .collect()
}

fn internal(error: impl std::fmt::Display) -> PipelineError {
    PipelineError::Internal(error.to_string())
}

fn encode_jpeg(rgb: &[u8], width: u32, height: u32, quality: u8) -> Result<Vec<u8>, PipelineError> {
    let mut compressor = Compressor::new().map_err(internal)?;
    compressor
        .set_quality(i32::from(quality))
        .map_err(internal)?;
    compressor.set_subsamp(Subsamp::Sub2x2).map_err(internal)?;
    compressor.set_optimize(true).map_err(internal)?;
    let image = turbojpeg::Image {
        pixels: rgb,
        width: width as usize,
        pitch: width as usize * 3,
        height: height as usize,
        format: PixelFormat::RGB,
    };
    compressor.compress_to_vec(image).map_err(internal)
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
        .map_err(internal)?;
    Ok(out)
}

fn encode_webp(pixels: &Pixels, quality: u8) -> Result<Vec<u8>, PipelineError> {
    let encoder = match pixels.layout {
        Layout::Rgb8 => webp::Encoder::from_rgb(&pixels.data, pixels.width, pixels.height),
        Layout::Rgba8 => webp::Encoder::from_rgba(&pixels.data, pixels.width, pixels.height),
    };
    let encoded = encoder
        .encode_simple(false, f32::from(quality))
        .map_err(|e| internal(format!("{e:?}")))?;
    Ok(encoded.to_vec())
}

fn encode_avif(pixels: &Pixels, quality: u8, speed: u8) -> Result<Vec<u8>, PipelineError> {
    let (width, height) = (pixels.width as usize, pixels.height as usize);
    let encoder = ravif::Encoder::new()
        .with_quality(f32::from(quality))
        .with_speed(speed)
        // Fully transparent pixels' colour is invisible; letting ravif change it compresses better.
        .with_alpha_color_mode(ravif::AlphaColorMode::UnassociatedClean);
    let encoded = match pixels.layout {
        Layout::Rgb8 => encoder.encode_rgb(ravif::Img::new(pixels.data.as_rgb(), width, height)),
        Layout::Rgba8 => encoder.encode_rgba(ravif::Img::new(pixels.data.as_rgba(), width, height)),
    };
    Ok(encoded.map_err(internal)?.avif_file)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn opaque_rgba_becomes_jpeg_and_transparent_rgba_png() {
        let opaque = encode(rgba(255)).unwrap();
        assert_eq!(opaque.format, OutputFormat::Jpeg);
        assert!(opaque.bytes.starts_with(&[0xFF, 0xD8, 0xFF]));
        let clear = encode(rgba(128)).unwrap();
        assert_eq!(clear.format, OutputFormat::Png);
        assert!(clear.bytes.starts_with(b"\x89PNG"));
        assert_eq!((clear.width, clear.height), (4, 2));
    }
}
