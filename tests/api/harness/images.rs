//! Images in and out: the shared corpus, small images made on the spot, and the one decoder of
//! answers (format from magic bytes by `image::guess_format`, size, pixels, metadata left in).

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat};

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

pub fn corpus_image(name: &str) -> Vec<u8> {
    let path = corpus_dir().join("images").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `image` encoded as PNG (RGB stays RGB, RGBA stays RGBA).
pub fn encode_png(image: impl Into<DynamicImage>) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .into()
        .write_to(&mut out, ImageFormat::Png)
        .expect("PNG encodes");
    out.into_inner()
}

/// What an image answer or stored image is, once decoded.
#[derive(Debug)]
pub struct Inspected {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// `None` for AVIF, which the tests can size but not decode.
    pixels: Option<DynamicImage>,
}

impl Inspected {
    pub fn image(&self) -> &DynamicImage {
        self.pixels
            .as_ref()
            .unwrap_or_else(|| panic!("no {:?} decoder in the tests", self.format))
    }
}

/// Format by magic bytes, then size and pixels: decoded by `image` (JPEG, PNG, WebP, GIF, BMP),
/// or for AVIF the size from its `ispe` property (no AVIF decoder here).
pub fn inspect(bytes: &[u8]) -> Inspected {
    let format = image::guess_format(bytes).expect("bytes are an image");
    if format == ImageFormat::Avif {
        let (width, height) = avif_size(bytes);
        return Inspected {
            format,
            width,
            height,
            pixels: None,
        };
    }
    let image = image::load_from_memory_with_format(bytes, format).expect("image decodes cleanly");
    Inspected {
        format,
        width: image.width(),
        height: image.height(),
        pixels: Some(image),
    }
}

fn avif_size(bytes: &[u8]) -> (u32, u32) {
    let at = bytes
        .windows(4)
        .position(|w| w == b"ispe")
        .expect("AVIF has an ispe box");
    // box type, then version and flags, then width and height.
    let field = |offset: usize| {
        let start = at + 8 + offset;
        u32::from_be_bytes(bytes[start..start + 4].try_into().unwrap())
    };
    (field(0), field(4))
}

/// Metadata carriers left in an encoded image: JPEG APPn segments other than JFIF's APP0,
/// PNG chunks other than the pixel-bearing ones, WebP chunks other than the image and
/// animation ones. Empty means no EXIF, GPS, XMP, IPTC or ICC.
pub fn metadata_blocks(bytes: &[u8]) -> Vec<String> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Png) => png_chunks(bytes)
            .into_iter()
            .filter(|c| !matches!(c.as_str(), "IHDR" | "IDAT" | "IEND" | "PLTE" | "tRNS"))
            .collect(),
        Ok(ImageFormat::Jpeg) => jpeg_markers(bytes)
            .into_iter()
            .filter(|m| (0xE1..=0xEF).contains(m) || *m == 0xFE)
            .map(|m| format!("marker {m:02X}"))
            .collect(),
        Ok(ImageFormat::WebP) => webp_chunks(bytes)
            .into_iter()
            .filter(|c| {
                !matches!(
                    c.as_str(),
                    "VP8X" | "ANIM" | "ANMF" | "VP8 " | "VP8L" | "ALPH"
                )
            })
            .collect(),
        other => panic!("not a PNG, JPEG or WebP: {other:?}"),
    }
}

/// The top-level RIFF chunks of a WebP (`EXIF`, `XMP `, `ICCP` would carry metadata).
fn webp_chunks(bytes: &[u8]) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        chunks.push(String::from_utf8_lossy(&bytes[at..at + 4]).into_owned());
        at += 8 + len + (len & 1);
    }
    chunks
}

fn png_chunks(bytes: &[u8]) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        chunks.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        at += 12 + len;
    }
    chunks
}

/// Markers before the first scan.
fn jpeg_markers(bytes: &[u8]) -> Vec<u8> {
    let mut markers = Vec::new();
    let mut at = 2;
    while at + 4 <= bytes.len() && bytes[at] == 0xFF {
        let marker = bytes[at + 1];
        markers.push(marker);
        if marker == 0xDA {
            break;
        }
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        at += 2 + len;
    }
    markers
}

/// Mean absolute difference per channel sample between two same-sized images.
pub fn mean_abs_diff(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}
