//! Step 7: encode. Opaque images become JPEG q80 (4:2:0, optimised Huffman tables, through
//! libjpeg-turbo); images with real transparency become PNG. Both are written from bare pixels,
//! so no EXIF, GPS, XMP or IPTC from the source can survive.

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use turbojpeg::{Compressor, PixelFormat, Subsamp};

use super::{Layout, PipelineError, Pixels, ProcessedImage};

const JPEG_QUALITY: i32 = 80;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jpeg,
    Png,
}

impl OutputFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
        }
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
            encode_jpeg(&drop_alpha(&pixels.data), width, height)?,
        ),
        Layout::Rgb8 => (
            OutputFormat::Jpeg,
            encode_jpeg(&pixels.data, width, height)?,
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

fn internal(error: impl std::fmt::Display) -> PipelineError {
    PipelineError::Internal(error.to_string())
}

fn encode_jpeg(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, PipelineError> {
    let mut compressor = Compressor::new().map_err(internal)?;
    compressor.set_quality(JPEG_QUALITY).map_err(internal)?;
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
            image::ExtendedColorType::Rgba8,
        )
        .map_err(internal)?;
    Ok(out)
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
