//! The placeholder a chat client paints the instant an upload's answer arrives, before the image
//! itself: a ThumbHash and the dominant colour, both taken from the stored pixels (upright, sRGB,
//! already resized) scaled to 48 px on their long side.
//!
//! ThumbHash rather than BlurHash: it carries the aspect ratio and the alpha channel in its ~25
//! bytes, and has no component counts to choose. The dominant colour is the mean of the most
//! populated bin of a coarse colour histogram (16 levels a channel), each pixel counted by its
//! opacity, so a photo's sky or a logo's fill wins over the average of everything, which is
//! often a grey no pixel has.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::planar::Planes;
use super::{Layout, PipelineError, Pixels};

/// The thumbnail's long side. ThumbHash takes up to 100 px, but its encoder's time grows with the
/// pixels (the whole step: 1.2–1.6 ms at 100 px, 0.28–0.38 ms at 48 px, release build), and what
/// it keeps is at most 7 cosines a side: on the corpus photos the decoded placeholders of a 48 px
/// and a 100 px input differ by at most 3 levels in 255 (mean), where a 32 px input reached 6.
const THUMB_SIDE: u32 = 48;

/// Samples taken along each side of a thumbnail pixel's area when shrinking a large image (4×4
/// of them, nearest pixels, then averaged): the full box average read every stored pixel to make
/// a few thousand, and was most of the step's time (measured in a debug build only).
const SAMPLES: u8 = 4;

/// Bits kept of each channel when binning colours: 4,096 bins, coarse enough that a smooth
/// area falls into a few bins rather than hundreds.
const BIN_BITS: u32 = 4;

/// The colour of an image with no opaque pixel at all: the white pixgate lays transparency on
/// when it writes a JPEG.
const CLEAR: [u8; 3] = [255, 255, 255];

/// What a client paints before the image loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// The ThumbHash, as bytes.
    pub thumbhash: Vec<u8>,
    /// The dominant colour, sRGB.
    pub color: [u8; 3],
}

/// The placeholder of upright sRGB pixels.
pub fn from_pixels(pixels: &Pixels) -> Result<Placeholder, PipelineError> {
    let (width, height) = thumb_size(pixels.width, pixels.height);
    let pixel_type = match pixels.layout {
        Layout::Rgb8 => PixelType::U8x3,
        Layout::Rgba8 => PixelType::U8x4,
    };
    let thumb = shrink(
        pixels.width,
        pixels.height,
        &pixels.data,
        pixel_type,
        (width, height),
    )?;
    let rgba = match pixels.layout {
        Layout::Rgb8 => opaque_rgba(&thumb),
        Layout::Rgba8 => thumb,
    };
    Ok(of_thumbnail(width, height, &rgba))
}

/// The placeholder of pixgate's own upright 4:2:0 output planes: each plane scaled to the
/// thumbnail's size, then converted to RGB there, on 2,304 pixels at most.
pub fn from_planes(planes: &Planes) -> Result<Placeholder, PipelineError> {
    let size = thumb_size(planes.width, planes.height);
    let (chroma_w, chroma_h) = planes.chroma_size();
    let chroma = (side(chroma_w)?, side(chroma_h)?);
    let luma_w = side(planes.luma_stride())?;
    let y = shrink(luma_w, planes.height, planes.y(), PixelType::U8, size)?;
    let cb = shrink(chroma.0, chroma.1, planes.cb(), PixelType::U8, size)?;
    let cr = shrink(chroma.0, chroma.1, planes.cr(), PixelType::U8, size)?;
    let rgba: Vec<u8> = y
        .iter()
        .zip(cb.iter().zip(&cr))
        .flat_map(|(&y, (&cb, &cr))| ycbcr_to_rgba(y, cb, cr))
        .collect();
    Ok(of_thumbnail(size.0, size.1, &rgba))
}

/// The thumbnail's size: the image's aspect ratio with its long side at 48 px. Smaller images
/// are enlarged: ThumbHash samples its cosines at pixel centres, and on a few pixels the
/// higher ones alias onto the average (a 1×1 image came out grey whatever its colour).
fn thumb_size(width: u32, height: u32) -> (u32, u32) {
    let long = u64::from(width.max(height)).max(1);
    let side = |v: u32| (u64::from(v) * u64::from(THUMB_SIDE) * 2 + long) / (2 * long);
    // Each side is at most `THUMB_SIDE` (`v <= long`), so the narrowing cannot truncate.
    let (w, h) = (side(width), side(height));
    let max = u64::from(THUMB_SIDE);
    (w.clamp(1, max) as u32, h.clamp(1, max) as u32)
}

fn side(value: usize) -> Result<u32, PipelineError> {
    u32::try_from(value).map_err(PipelineError::internal)
}

/// `data` scaled to `size` (a box filter: shrinking, each output pixel is the mean of the area
/// it covers, alpha-weighted for RGBA); returned as packed samples of the same type.
fn shrink(
    width: u32,
    height: u32,
    data: &[u8],
    pixel_type: PixelType,
    (out_w, out_h): (u32, u32),
) -> Result<Vec<u8>, PipelineError> {
    let src = ImageRef::new(width, height, data, pixel_type).map_err(PipelineError::internal)?;
    let mut dst = Image::new(out_w, out_h, pixel_type);
    let options =
        ResizeOptions::new().resize_alg(ResizeAlg::SuperSampling(FilterType::Box, SAMPLES));
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(PipelineError::internal)?;
    Ok(dst.into_vec())
}

fn opaque_rgba(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .flat_map(|px| [px[0], px[1], px[2], u8::MAX])
        .collect()
}

/// Full-range (JFIF) Y'CbCr to RGB, as libjpeg-turbo decodes it.
fn ycbcr_to_rgba(y: u8, cb: u8, cr: u8) -> [u8; 4] {
    let (y, cb, cr) = (f32::from(y), f32::from(cb) - 128.0, f32::from(cr) - 128.0);
    let channel = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    [
        channel(y + 1.402 * cr),
        channel(y - 0.344_136 * cb - 0.714_136 * cr),
        channel(y + 1.772 * cb),
        u8::MAX,
    ]
}

/// Both parts from an RGBA thumbnail of at most 48×48 ([`thumb_size`] keeps it within the
/// 100×100 `thumbhash` asserts).
fn of_thumbnail(width: u32, height: u32, rgba: &[u8]) -> Placeholder {
    Placeholder {
        thumbhash: thumbhash::rgba_to_thumb_hash(width as usize, height as usize, rgba),
        color: dominant_color(rgba),
    }
}

/// One bin of the colour histogram: the opacity it holds and its opacity-weighted sums.
#[derive(Clone, Copy, Default)]
struct Bin {
    weight: u64,
    sums: [u64; 3],
}

/// The opacity-weighted mean of the heaviest bin (the first of equals, so the answer is
/// stable); [`CLEAR`] when nothing is opaque at all.
fn dominant_color(rgba: &[u8]) -> [u8; 3] {
    let mut bins = vec![Bin::default(); 1 << (3 * BIN_BITS)];
    for px in rgba.chunks_exact(4) {
        let index = px[..3].iter().fold(0usize, |i, &c| {
            (i << BIN_BITS) | usize::from(c >> (8 - BIN_BITS))
        });
        let weight = u64::from(px[3]);
        let bin = &mut bins[index];
        bin.weight += weight;
        for (sum, &c) in bin.sums.iter_mut().zip(&px[..3]) {
            *sum += weight * u64::from(c);
        }
    }
    // `max_by_key` keeps the last of equals; reversed, that is the first bin.
    match bins.iter().rev().max_by_key(|bin| bin.weight) {
        Some(bin) if bin.weight > 0 => bin
            .sums
            .map(|sum| ((sum + bin.weight / 2) / bin.weight) as u8),
        _ => CLEAR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, paint: impl Fn(u32, u32) -> [u8; 4]) -> Pixels {
        let data = (0..height)
            .flat_map(|y| (0..width).map(move |x| (x, y)))
            .flat_map(|(x, y)| paint(x, y))
            .collect();
        Pixels {
            width,
            height,
            layout: Layout::Rgba8,
            data,
        }
    }

    fn rgb(pixels: Pixels) -> Pixels {
        pixels.without_opaque_alpha()
    }

    /// The average colour (0..=255) and aspect ratio of the image the ThumbHash decodes to.
    fn decoded(hash: &[u8]) -> ([f64; 3], f64) {
        let (w, h, rgba) = thumbhash::thumb_hash_to_rgba(hash).unwrap();
        let mut sums = [0f64; 3];
        for px in rgba.chunks_exact(4) {
            for (sum, &c) in sums.iter_mut().zip(&px[..3]) {
                *sum += f64::from(c);
            }
        }
        let n = (w * h) as f64;
        (sums.map(|s| s / n), w as f64 / h as f64)
    }

    #[test]
    fn a_solid_image_is_its_own_dominant_colour_exactly() {
        for colour in [[0, 0, 0], [255, 255, 255], [12, 200, 77], [255, 128, 1]] {
            for (w, h) in [(1, 1), (37, 5), (640, 480)] {
                let solid = image(w, h, |_, _| [colour[0], colour[1], colour[2], 255]);
                assert_eq!(from_pixels(&rgb(solid)).unwrap().color, colour, "{w}x{h}");
            }
        }
    }

    #[test]
    fn the_colour_covering_70_percent_wins_over_the_30_percent_one() {
        let (red, blue) = ([200, 30, 40, 255], [20, 60, 220, 255]);
        // Left 70 % red, right 30 % blue; the blue area is brighter, so an average or a
        // luminance-weighted choice would not land on red.
        let split = image(500, 300, |x, _| if x < 350 { red } else { blue });
        assert_eq!(from_pixels(&rgb(split)).unwrap().color, [200, 30, 40]);
        let flipped = image(500, 300, |x, _| if x < 150 { red } else { blue });
        assert_eq!(from_pixels(&rgb(flipped)).unwrap().color, [20, 60, 220]);
    }

    #[test]
    fn transparent_pixels_do_not_count_and_a_clear_image_is_white() {
        // 80 % fully transparent red, 20 % opaque green: green.
        let logo = image(300, 300, |x, _| {
            if x < 240 {
                [255, 0, 0, 0]
            } else {
                [10, 180, 20, 255]
            }
        });
        assert_eq!(from_pixels(&logo).unwrap().color, [10, 180, 20]);
        let clear = image(64, 48, |_, _| [40, 40, 40, 0]);
        let placeholder = from_pixels(&clear).unwrap();
        assert_eq!(placeholder.color, CLEAR);
        let (_, _, _, alpha) =
            thumbhash::thumb_hash_to_average_rgba(&placeholder.thumbhash).unwrap();
        assert!(alpha < 0.1, "alpha {alpha}");
    }

    #[test]
    fn the_thumbhash_decodes_to_the_inputs_average_colour_and_aspect_ratio() {
        // A diagonal gradient: red grows to the right, blue downwards.
        for (w, h) in [(640, 480), (480, 640), (1000, 250), (150, 150)] {
            let gradient = image(w, h, |x, y| {
                [(x * 255 / w) as u8, 90, (y * 255 / h) as u8, 255]
            });
            let mean = [127.0, 90.0, 127.0];
            let hash = from_pixels(&rgb(gradient)).unwrap().thumbhash;
            assert!(hash.len() <= 30, "{} bytes", hash.len());
            let (average, aspect) = decoded(&hash);
            for (got, want) in average.iter().zip(mean) {
                assert!((got - want).abs() < 8.0, "{w}x{h}: average {average:?}");
            }
            let ratio = f64::from(w) / f64::from(h);
            assert!(
                (aspect / ratio - 1.0).abs() < 0.15,
                "{w}x{h}: decoded aspect {aspect:.2}, input {ratio:.2}"
            );
        }
    }

    #[test]
    fn a_portrait_and_a_landscape_give_different_aspect_ratios() {
        let paint = |x: u32, y: u32| [(x % 256) as u8, (y % 256) as u8, 128, 255];
        let landscape = from_pixels(&rgb(image(800, 400, paint))).unwrap();
        let portrait = from_pixels(&rgb(image(400, 800, paint))).unwrap();
        let aspect = |p: &Placeholder| {
            thumbhash::thumb_hash_to_approximate_aspect_ratio(&p.thumbhash).unwrap()
        };
        assert!(aspect(&landscape) > 1.5, "{}", aspect(&landscape));
        assert!(aspect(&portrait) < 0.67, "{}", aspect(&portrait));
    }

    #[test]
    fn the_thumbnail_has_its_long_side_at_48_px_whatever_the_size() {
        let cases = [
            ((1620, 1080), (48, 32)),
            ((1080, 1620), (32, 48)),
            ((1, 1), (48, 48)),
            ((3, 2), (48, 32)),
            ((10000, 50), (48, 1)),
            ((100, 100), (48, 48)),
            ((48, 36), (48, 36)),
        ];
        for ((w, h), expected) in cases {
            assert_eq!(thumb_size(w, h), expected, "{w}x{h}");
        }
    }

    /// A 1×1 image once decoded to grey: too few pixels for ThumbHash's cosines.
    #[test]
    fn a_one_pixel_image_keeps_its_colour_in_the_thumbhash() {
        let dot = rgb(image(1, 1, |_, _| [117, 161, 210, 255]));
        let placeholder = from_pixels(&dot).unwrap();
        assert_eq!(placeholder.color, [117, 161, 210]);
        let (average, _) = decoded(&placeholder.thumbhash);
        for (got, want) in average.iter().zip([117.0, 161.0, 210.0]) {
            assert!((got - want).abs() < 6.0, "{average:?}");
        }
    }

    #[test]
    fn ycbcr_conversion_matches_the_jfif_formulas_at_the_corners() {
        assert_eq!(ycbcr_to_rgba(128, 128, 128), [128, 128, 128, 255]);
        assert_eq!(ycbcr_to_rgba(255, 128, 128), [255, 255, 255, 255]);
        // Pure red in JFIF Y'CbCr: Y 76, Cb 85, Cr 255.
        assert_eq!(ycbcr_to_rgba(76, 85, 255), [254, 0, 0, 255]);
    }
}
