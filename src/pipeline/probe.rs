//! Reads the header only — dimensions, EXIF orientation, colour profile — and refuses images whose
//! declared size breaks the limits before a single pixel is decoded: a side over `max_side`, or
//! more than `max_declared_pixels`. The pixel limit proper (`max_pixels`) applies to the pixels a
//! decoder will hold, which depend on the target size too: `decode::plan` checks it.

use std::io::Cursor;

use image::ImageDecoder;
use image::metadata::Orientation;

use super::error::{PipelineError, classify, corrupt};
use super::{AnimationLimits, SourceFormat};

/// The largest ICC profile pixgate reads; a larger one is ignored, as if the file had none.
/// Real profiles are small (sRGB 3 KiB, Display P3 0.5 KiB; the big LUT-based printer profiles
/// stay well under 1 MiB), but PNG stores its profile deflated: without a cap a 2 MiB file
/// inflated a 465 MiB profile on every read. Ignoring rather than refusing is what browsers and
/// libpng (under sharp/libvips) do with a profile they will not read: the pixels are still good,
/// and `color` already treats an unreadable profile as none.
pub const MAX_ICC_BYTES: usize = 1 << 20;

/// What a decoder may hold besides the pixels: the chunks or segments it buffers (PNG holds at
/// most twice the largest chunk, and each text chunk, all within the file) and the profile.
fn metadata_budget(file_len: usize) -> u64 {
    (file_len as u64)
        .saturating_mul(3)
        .saturating_add(MAX_ICC_BYTES as u64)
        .saturating_add(1 << 20)
}

/// Pixel limits: `max_side` and `max_declared_pixels` bound what a header may declare;
/// `max_pixels` bounds what a decoder holds (see `decode::plan`).
#[derive(Debug, Clone, Copy)]
pub struct PixelLimits {
    /// Most pixels decoded: the declared size, or a JPEG's DCT-scaled size when it decodes
    /// scaled a few rows at a time (see [`Header::decodes_in_rows`]).
    pub max_pixels: u64,
    /// Most pixels any header may declare (at least `max_pixels`).
    pub max_declared_pixels: u64,
    pub max_side: u32,
    /// Frames, pixels across frames, and duration of an animation.
    pub animation: AnimationLimits,
}

impl PixelLimits {
    /// Limits for reading the header of a `file_len`-byte file: no pixel is decoded yet, so the
    /// decoders may allocate only what the metadata needs. This is what bounds the PNG profile
    /// bomb: the `png` crate inflates `iCCP` while reading the header, up to these limits.
    pub fn header_limits(&self, file_len: usize) -> image::Limits {
        self.with_alloc(metadata_budget(file_len))
    }

    /// Limits for decoding an image to `width`×`height` (`decode::plan`'s size): what its pixels need
    /// (RGBA at 16 bits per channel is the widest the decoders produce), the metadata budget
    /// and a little working room, so a lying header or a bomb in a chunk cannot make them
    /// allocate more than this image needs. Never more than the largest legal image may use.
    pub fn decoder_limits(&self, width: u32, height: u32, file_len: usize) -> image::Limits {
        let pixels = (u64::from(width) * u64::from(height)).min(self.max_pixels);
        let needed = pixels
            .saturating_mul(8)
            .saturating_add(metadata_budget(file_len))
            .saturating_add(16 << 20);
        let ceiling = self.max_pixels.saturating_mul(8).saturating_add(64 << 20);
        self.with_alloc(needed.min(ceiling))
    }

    fn with_alloc(&self, max_alloc: u64) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(self.max_side);
        limits.max_image_height = Some(self.max_side);
        limits.max_alloc = Some(max_alloc);
        limits
    }
}

/// What the header says, before decoding.
#[derive(Debug, Clone)]
pub struct Header {
    pub format: SourceFormat,
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
    /// JPEG only: 4-component (CMYK/YCCK) data, which libjpeg-turbo cannot turn into RGB itself.
    pub cmyk: bool,
    /// JPEG only: lossless JPEG cannot be scaled while decoding.
    pub lossless: bool,
    /// JPEG only: sequential, with every component in the first scan, so libjpeg-turbo decodes
    /// it one row of blocks at a time. Progressive and multi-scan JPEGs are held whole as DCT
    /// coefficients first (2 bytes a sample, whatever the output scale).
    pub single_scan: bool,
    /// JPEG only: the chroma subsampling of a Y'CbCr image the planar path takes (see
    /// `decodes_to_planes`); `None` for grey, RGB-coded, CMYK and lossless JPEGs and other formats.
    pub planar_subsampling: Option<turbojpeg::Subsamp>,
    /// The embedded ICC colour profile, if any.
    pub icc: Option<Vec<u8>>,
}

impl Header {
    /// Whether a decode holds only the DCT-scaled pixels, not the declared ones: a sequential,
    /// single-scan, lossy JPEG. Everything else holds its declared size while decoding.
    pub fn decodes_in_rows(&self) -> bool {
        self.format == SourceFormat::Jpeg && self.single_scan && !self.lossless
    }

    /// Declared pixels.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Dimensions after the EXIF orientation is applied.
    pub fn upright_dimensions(&self) -> (u32, u32) {
        self.stored_dimensions_of(self.width, self.height)
    }

    /// Maps upright dimensions back to stored ones (the same swap, as it is its own inverse).
    pub fn stored_dimensions_of(&self, width: u32, height: u32) -> (u32, u32) {
        if swaps_sides(self.orientation) {
            (height, width)
        } else {
            (width, height)
        }
    }
}

fn swaps_sides(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

pub fn probe(
    bytes: &[u8],
    format: SourceFormat,
    limits: &PixelLimits,
) -> Result<Header, PipelineError> {
    let header = match format {
        SourceFormat::Jpeg => probe_jpeg(bytes)?,
        _ => probe_with_image(bytes, format, limits)?,
    };
    check_limits(&header, limits)?;
    Ok(header)
}

fn check_limits(header: &Header, limits: &PixelLimits) -> Result<(), PipelineError> {
    let (w, h) = (header.width, header.height);
    if w == 0 || h == 0 {
        return Err(PipelineError::CorruptImage(
            format!("header declares {w}x{h} pixels").into(),
        ));
    }
    if w > limits.max_side || h > limits.max_side {
        return Err(PipelineError::ImageTooLarge(
            format!("{w}x{h} has a side over {} px", limits.max_side).into(),
        ));
    }
    if header.pixels() > limits.max_declared_pixels {
        return Err(PipelineError::ImageTooLarge(
            format!(
                "{w}x{h} declares over {} pixels (--max-declared-pixels)",
                limits.max_declared_pixels
            )
            .into(),
        ));
    }
    Ok(())
}

fn probe_jpeg(bytes: &[u8]) -> Result<Header, PipelineError> {
    let info = turbojpeg::read_header(bytes).map_err(corrupt)?;
    let (width, height) = (dimension(info.width)?, dimension(info.height)?);
    let orientation = jpeg_exif(bytes)
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    Ok(Header {
        format: SourceFormat::Jpeg,
        width,
        height,
        orientation,
        cmyk: matches!(
            info.colorspace,
            turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK
        ),
        lossless: info.is_lossless,
        single_scan: !info.is_progressive && jpeg_first_scan_is_whole(bytes),
        planar_subsampling: (info.colorspace == turbojpeg::Colorspace::YCbCr
            && !info.is_lossless
            && decodes_to_planes(info.subsamp))
        .then_some(info.subsamp),
        icc: jpeg_icc(bytes),
    })
}

fn dimension(value: usize) -> Result<u32, PipelineError> {
    u32::try_from(value)
        .map_err(|_| PipelineError::ImageTooLarge(format!("{value} px side").into()))
}

/// The TIFF body of the first `Exif` APP1 segment.
fn jpeg_exif(bytes: &[u8]) -> Option<&[u8]> {
    const APP1: u8 = 0xE1;
    jpeg_segments(bytes)
        .filter(|(marker, _)| *marker == APP1)
        .find_map(|(_, segment)| segment.strip_prefix(b"Exif\0\0"))
}

/// The ICC profile, which JPEG splits over numbered `ICC_PROFILE` APP2 segments; `None` past
/// [`MAX_ICC_BYTES`], checked before the pieces are joined.
fn jpeg_icc(bytes: &[u8]) -> Option<Vec<u8>> {
    const APP2: u8 = 0xE2;
    let mut chunks: Vec<(u8, &[u8])> = jpeg_segments(bytes)
        .filter(|(marker, _)| *marker == APP2)
        .filter_map(|(_, segment)| segment.strip_prefix(b"ICC_PROFILE\0"))
        .filter_map(|chunk| Some((*chunk.first()?, chunk.get(2..)?)))
        .collect();
    let total: usize = chunks.iter().map(|(_, data)| data.len()).sum();
    if chunks.is_empty() || total > MAX_ICC_BYTES {
        return None;
    }
    chunks.sort_by_key(|(sequence, _)| *sequence);
    Some(
        chunks
            .into_iter()
            .flat_map(|(_, data)| data.iter().copied())
            .collect(),
    )
}

/// Whether the first scan carries every component of the frame (its SOS lists as many as the
/// SOF): if not, libjpeg-turbo buffers the whole image's coefficients, as for progressive ones.
/// `false` when either header is missing or unreadable, so a doubtful file keeps the stricter
/// limit.
fn jpeg_first_scan_is_whole(bytes: &[u8]) -> bool {
    let mut frame_components = None;
    for (marker, segment) in jpeg_segments(bytes) {
        match marker {
            // SOF0..SOF15 but DHT, JPG and DAC: payload is precision, height, width, count.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                frame_components = segment.get(5).copied();
            }
            SOS => {
                return frame_components.is_some() && segment.first() == frame_components.as_ref();
            }
            _ => {}
        }
    }
    false
}

const SOS: u8 = 0xDA;

/// `(marker, payload)` of each segment up to the first scan's header (the last one yielded);
/// no pixel data is touched.
fn jpeg_segments(bytes: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    const EOI: u8 = 0xD9;
    let mut at = if bytes.starts_with(&[0xFF, 0xD8]) {
        2
    } else {
        bytes.len()
    };
    std::iter::from_fn(move || {
        while at + 4 <= bytes.len() && bytes[at] == 0xFF {
            let marker = bytes[at + 1];
            match marker {
                0xFF => at += 1,
                EOI => return None,
                0x01 | 0xD0..=0xD7 => at += 2,
                _ => {
                    let len = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
                    let segment = bytes.get(at + 4..at + 2 + len)?;
                    // Entropy-coded data follows a scan header: stop there.
                    at = if marker == SOS {
                        bytes.len()
                    } else {
                        at + 2 + len.max(2)
                    };
                    return Some((marker, segment));
                }
            }
        }
        None
    })
}

fn probe_with_image(
    bytes: &[u8],
    format: SourceFormat,
    limits: &PixelLimits,
) -> Result<Header, PipelineError> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format.image_format());
    reader.limits(limits.header_limits(bytes.len()));
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (width, height) = decoder.dimensions();
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = decoder
        .icc_profile()
        .ok()
        .flatten()
        .filter(|icc| icc.len() <= MAX_ICC_BYTES);
    Ok(Header {
        format,
        width,
        height,
        orientation,
        cmyk: false,
        lossless: false,
        single_scan: false,
        planar_subsampling: None,
        icc,
    })
}

/// The chroma subsamplings the planar path takes, as cameras and encoders write them (not
/// grey: no chroma to carry; not the rare 4:1:1 and 4:4:1, which stay on the RGB path).
fn decodes_to_planes(subsamp: turbojpeg::Subsamp) -> bool {
    use turbojpeg::Subsamp;
    matches!(
        subsamp,
        Subsamp::None | Subsamp::Sub2x1 | Subsamp::Sub2x2 | Subsamp::Sub1x2
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PixelLimits = PixelLimits {
        max_pixels: 50_000_000,
        max_declared_pixels: 250_000_000,
        max_side: 16384,
        animation: AnimationLimits::DEFAULT,
    };

    fn header(width: u32, height: u32) -> Header {
        Header {
            format: SourceFormat::Png,
            width,
            height,
            orientation: Orientation::NoTransforms,
            cmyk: false,
            lossless: false,
            single_scan: false,
            planar_subsampling: None,
            icc: None,
        }
    }

    /// The header alone bounds sides and declared pixels; `max_pixels` waits for the target
    /// (`decode::plan`), so 10000x5001 passes here.
    #[test]
    fn limits_refuse_large_declared_sizes() {
        assert!(check_limits(&header(4000, 3000), &LIMITS).is_ok());
        assert!(check_limits(&header(10000, 50), &LIMITS).is_ok());
        assert!(check_limits(&header(10000, 5001), &LIMITS).is_ok());
        assert!(check_limits(&header(16320, 12240), &LIMITS).is_ok());
        assert!(matches!(
            check_limits(&header(16385, 10), &LIMITS),
            Err(PipelineError::ImageTooLarge(_))
        ));
        let over = check_limits(&header(16384, 15259), &LIMITS);
        assert!(
            matches!(&over, Err(PipelineError::ImageTooLarge(m)) if m.to_string().contains("--max-declared-pixels")),
            "{over:?}"
        );
        assert!(matches!(
            check_limits(&header(0, 10), &LIMITS),
            Err(PipelineError::CorruptImage(_))
        ));
    }

    /// Baseline JPEGs decode a row of blocks at a time; progressive ones, and sequential ones
    /// whose first scan leaves out a component, are buffered whole.
    #[test]
    fn only_single_scan_jpegs_decode_in_rows() {
        let baseline = crate::pipeline::test_images::test_jpeg(64, 48);
        assert!(jpeg_first_scan_is_whole(&baseline));
        let header = probe(&baseline, SourceFormat::Jpeg, &LIMITS).unwrap();
        assert!(header.single_scan && header.decodes_in_rows());

        let progressive = crate::pipeline::test_images::progressive_jpeg(64, 48);
        let header = probe(&progressive, SourceFormat::Jpeg, &LIMITS).unwrap();
        assert!(!header.single_scan && !header.decodes_in_rows());

        // A frame of 3 components whose first scan carries 1 (non-interleaved).
        let sof = [
            0xFF, 0xC0, 0, 17, 8, 0, 48, 0, 64, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
        ];
        let mut split = vec![0xFF, 0xD8];
        split.extend_from_slice(&sof);
        split.extend_from_slice(&[0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 63, 0]);
        assert!(!jpeg_first_scan_is_whole(&split));
        // No frame header before the scan, or none at all: doubtful, so not whole.
        assert!(!jpeg_first_scan_is_whole(&[
            0xFF, 0xD8, 0xFF, 0xDA, 0, 3, 3
        ]));
        assert!(!jpeg_first_scan_is_whole(&[0xFF, 0xD8]));
    }

    /// A real-sized profile is read, one over the cap is ignored, and reading the header of a
    /// PNG whose profile inflates to 1 GiB (the decompression bomb) stops at the cap: before
    /// the cap, the profile was inflated up to the decoder's 465 MiB allocation limit.
    #[test]
    fn png_profiles_over_the_cap_are_ignored_without_being_inflated() {
        use crate::pipeline::test_images::png_with_icc_bomb;
        let small = png_with_icc_bomb(4, 4, 4096);
        let header = probe(&small, SourceFormat::Png, &LIMITS).unwrap();
        assert_eq!(header.icc.map(|icc| icc.len()), Some(4096));

        for icc_len in [MAX_ICC_BYTES as u64 + 1, 100 << 20, 1 << 30] {
            let png = png_with_icc_bomb(4, 4, icc_len);
            let header = probe(&png, SourceFormat::Png, &LIMITS).unwrap();
            assert!(header.icc.is_none(), "a {icc_len}-byte profile was kept");
            assert_eq!((header.width, header.height), (4, 4));
        }
    }

    #[test]
    fn decoders_may_allocate_what_the_image_needs_not_what_the_limit_allows() {
        let budget = |limits: image::Limits| limits.max_alloc.unwrap();
        let file = 2 << 20;
        // A 2 MiB file's header: its chunks and a capped profile, a few MiB, not hundreds.
        assert!(budget(LIMITS.header_limits(file)) <= 8 << 20);
        // A small image from the same file: its pixels and that budget, nothing like 465 MiB.
        assert!(budget(LIMITS.decoder_limits(100, 100, file)) <= 32 << 20);
        // The largest legal image still has room for its widest pixels, under the old ceiling.
        let largest = budget(LIMITS.decoder_limits(10_000, 5_000, file));
        assert!((10_000 * 5_000 * 8..=LIMITS.max_pixels * 8 + (64 << 20)).contains(&largest));
    }

    #[test]
    fn jpeg_profiles_over_the_cap_are_ignored() {
        let mut jpeg = vec![0xFF, 0xD8];
        // 20 APP2 pieces of 65,000 bytes: 1.24 MiB of profile.
        for sequence in 1..=20u8 {
            let data = vec![0u8; 65_000];
            jpeg.extend_from_slice(&[0xFF, 0xE2]);
            jpeg.extend_from_slice(&((2 + 12 + 2 + data.len()) as u16).to_be_bytes());
            jpeg.extend_from_slice(b"ICC_PROFILE\0");
            jpeg.extend_from_slice(&[sequence, 20]);
            jpeg.extend_from_slice(&data);
        }
        jpeg.extend_from_slice(&[0xFF, 0xDA, 0, 2]);
        assert_eq!(jpeg_icc(&jpeg), None);
        // The first 16 pieces (1.04 MB, under 1 MiB) are a profile.
        let cut = 2 + 16 * (4 + 12 + 2 + 65_000);
        let mut smaller = jpeg[..cut].to_vec();
        smaller.extend_from_slice(&[0xFF, 0xDA, 0, 2]);
        assert_eq!(jpeg_icc(&smaller).map(|icc| icc.len()), Some(16 * 65_000));
    }

    #[test]
    fn quarter_turns_swap_the_sides() {
        let mut h = header(600, 450);
        assert_eq!(h.upright_dimensions(), (600, 450));
        h.orientation = Orientation::Rotate90;
        assert_eq!(h.upright_dimensions(), (450, 600));
        h.orientation = Orientation::FlipVertical;
        assert_eq!(h.upright_dimensions(), (600, 450));
    }

    #[test]
    fn exif_is_found_after_other_segments() {
        let tiff = b"MM\0*\0\0\0\x08";
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0xAA, 0xBB, 0xFF, 0xE1];
        jpeg.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
        jpeg.extend_from_slice(b"Exif\0\0");
        jpeg.extend_from_slice(tiff);
        jpeg.extend_from_slice(&[0xFF, 0xDA, 0, 2]);
        assert_eq!(jpeg_exif(&jpeg), Some(&tiff[..]));
        assert_eq!(jpeg_exif(&jpeg[..12]), None);
        assert_eq!(jpeg_exif(b"\xff\xd8\xff\xda\0\x02"), None);
    }
}
