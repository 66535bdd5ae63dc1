//! AVIF, written with rav1e and wrapped by `avif-serialize`. The picture goes in as 8-bit
//! full-range Y'CbCr 4:2:0 with the JFIF coefficients: a JPEG's own layout, so planes from the
//! planar path are encoded as they are, and pixels are converted to the same planes first.
//! Transparency is a second, monochrome AV1 image, as AVIF stores it.
//!
//! Why not `ravif`: it writes 4:4:4 only, and spends the bytes on chroma detail a phone JPEG
//! never had (it was 4:2:0 when it left the camera). At equal luma SSIM the 4:2:0 image is the
//! smaller one (BENCHMARKS.md, "Transform", compares these files with sharp's libaom ones).

use rav1e::prelude::{
    ChromaSamplePosition, ChromaSampling, ColorDescription, ColorPrimaries, Config, Context,
    EncoderConfig, EncoderStatus, MatrixCoefficients, PixelRange, SceneDetectionSpeed,
    SpeedSettings, TransferCharacteristics,
};

use super::pixels::has_transparency;
use super::planar::Planes;
use super::{Layout, PipelineError, Pixels};

/// rav1e's speed preset when none is configured (`--avif-speed`): the fastest one that keeps
/// partitions down to 16×16, which the sweep in BENCHMARKS.md found worth its time.
pub const DEFAULT_SPEED: u8 = 9;

/// The lowest quality the alpha image is written at: blocky edges on a sticker show more than on
/// a photo (the default quality of every output, as `ravif` kept it).
const MIN_ALPHA_QUALITY: u8 = 80;

/// rav1e splits a picture into tiles to use more than one thread; tiles much smaller than this
/// cost more in compression than the threads win back.
const MIN_TILE_SIDE: usize = 128;

/// From full-range Y'CbCr 4:2:0 planes (the planar path's, as a JPEG stores them).
pub fn from_planes(planes: &Planes, quality: u8, speed: u8) -> Result<Vec<u8>, PipelineError> {
    encode(planes, None, quality, speed)
}

/// From interleaved pixels: converted to the planes [`from_planes`] takes; an alpha channel with
/// real transparency becomes the alpha image.
pub fn from_pixels(pixels: &Pixels, quality: u8, speed: u8) -> Result<Vec<u8>, PipelineError> {
    let alpha = match pixels.layout {
        Layout::Rgba8 if has_transparency(&pixels.data) => Some(
            pixels
                .data
                .chunks_exact(4)
                .map(|px| px[3])
                .collect::<Vec<_>>(),
        ),
        _ => None,
    };
    encode(
        &Planes::from_pixels(pixels),
        alpha.as_deref(),
        quality,
        speed,
    )
}

fn encode(
    planes: &Planes,
    alpha: Option<&[u8]>,
    quality: u8,
    speed: u8,
) -> Result<Vec<u8>, PipelineError> {
    let (width, height) = (planes.width as usize, planes.height as usize);
    let colour = av1(
        colour_config(width, height, quantizer(quality), speed),
        |frame| {
            let (chroma_stride, _) = planes.chroma_size();
            let [y, u, v] = &mut frame.planes;
            y.copy_from_raw_u8(planes.y(), planes.luma_stride(), 1);
            u.copy_from_raw_u8(planes.cb(), chroma_stride, 1);
            v.copy_from_raw_u8(planes.cr(), chroma_stride, 1);
        },
    )?;
    let alpha = alpha
        .map(|alpha| {
            let quantizer = quantizer(quality.max(MIN_ALPHA_QUALITY));
            av1(alpha_config(width, height, quantizer, speed), |frame| {
                frame.planes[0].copy_from_raw_u8(alpha, width, 1);
            })
        })
        .transpose()?;
    let mut file = avif_serialize::Aviffy::new();
    file.set_seq_profile(0)
        .set_chroma_subsampling((true, true))
        .set_full_color_range(true)
        .set_matrix_coefficients(avif_serialize::constants::MatrixCoefficients::Bt601)
        .set_transfer_characteristics(avif_serialize::constants::TransferCharacteristics::Srgb)
        .set_color_primaries(avif_serialize::constants::ColorPrimaries::Bt709);
    Ok(file.to_vec(&colour, alpha.as_deref(), planes.width, planes.height, 8))
}

/// pixgate's `q` (1–100) on rav1e's quantizer scale (0 best, 255 worst), on the curve `ravif`
/// uses: pixgate wrote AVIF through `ravif` before, and `q` keeps the meaning it had.
fn quantizer(quality: u8) -> u8 {
    let q = f32::from(quality.clamp(1, 100)) / 100.0;
    let scale = if q >= 0.82 {
        (1.0 - q) * 2.6
    } else if q > 0.25 {
        0.875 - 0.5 * q
    } else {
        1.0 - q
    };
    (scale * 255.0).round() as u8
}

fn colour_config(width: usize, height: usize, quantizer: u8, speed: u8) -> EncoderConfig {
    EncoderConfig {
        chroma_sampling: ChromaSampling::Cs420,
        color_description: Some(ColorDescription {
            transfer_characteristics: TransferCharacteristics::SRGB,
            color_primaries: ColorPrimaries::BT709,
            matrix_coefficients: MatrixCoefficients::BT601,
        }),
        ..still_picture(width, height, quantizer, speed)
    }
}

fn alpha_config(width: usize, height: usize, quantizer: u8, speed: u8) -> EncoderConfig {
    EncoderConfig {
        chroma_sampling: ChromaSampling::Cs400,
        ..still_picture(width, height, quantizer, speed)
    }
}

/// One 8-bit full-range intra frame at a fixed quantizer.
fn still_picture(width: usize, height: usize, quantizer: u8, speed: u8) -> EncoderConfig {
    EncoderConfig {
        width,
        height,
        bit_depth: 8,
        pixel_range: PixelRange::Full,
        chroma_sample_position: ChromaSamplePosition::Unknown,
        still_picture: true,
        quantizer: usize::from(quantizer),
        min_quantizer: quantizer,
        bitrate: 0,
        tiles: tiles(width, height),
        speed_settings: speed_settings(speed),
        ..EncoderConfig::default()
    }
}

/// rav1e's preset, with loop restoration kept on: presets 8 and up turn it off, and on smooth
/// gradients (skies, renders) it is what keeps the bytes near libaom's at equal SSIM. On the
/// bench's 1920×1080 render at preset 10 it took libaom's bytes ratio from about 2.6× to 1.6×,
/// for about half as much time again. A still picture has no later frames to look ahead to,
/// detect scenes in or reference.
fn speed_settings(speed: u8) -> SpeedSettings {
    let mut settings = SpeedSettings::from_preset(speed);
    settings.lrf = true;
    settings.rdo_lookahead_frames = 1;
    settings.scene_detection_mode = SceneDetectionSpeed::None;
    settings.multiref = false;
    settings
}

/// One tile per thread of the pool rav1e runs on, while tiles stay at least
/// `MIN_TILE_SIDE` square.
fn tiles(width: usize, height: usize) -> usize {
    let fit = (width * height) / (MIN_TILE_SIDE * MIN_TILE_SIDE);
    rayon::current_num_threads().min(fit).max(1)
}

/// Runs rav1e on one frame that `fill` writes, and returns the AV1 bitstream.
fn av1(
    config: EncoderConfig,
    fill: impl FnOnce(&mut rav1e::Frame<u8>),
) -> Result<Vec<u8>, PipelineError> {
    let mut context: Context<u8> = Config::new()
        .with_encoder_config(config)
        .new_context()
        .map_err(PipelineError::internal)?;
    let mut frame = context.new_frame();
    fill(&mut frame);
    context.send_frame(frame).map_err(PipelineError::internal)?;
    context.flush();
    let mut bitstream = Vec::new();
    loop {
        match context.receive_packet() {
            Ok(packet) => bitstream.extend_from_slice(&packet.data),
            Err(EncoderStatus::Encoded) => {}
            Err(EncoderStatus::LimitReached) => return Ok(bitstream),
            Err(status) => return Err(PipelineError::internal(status)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_maps_onto_the_quantizer_scale_best_to_worst() {
        assert_eq!(quantizer(100), 0);
        assert_eq!(quantizer(80), 121);
        assert_eq!(quantizer(1), 252);
        let all: Vec<u8> = (1..=100).map(quantizer).collect();
        assert!(all.windows(2).all(|pair| pair[0] >= pair[1]), "{all:?}");
    }

    fn gradient(layout: Layout, width: u32, height: u32) -> Pixels {
        let channels = layout.channels();
        let mut data = Vec::with_capacity(width as usize * height as usize * channels);
        for y in 0..height {
            for x in 0..width {
                let px = [
                    (x * 255 / width) as u8,
                    (y * 255 / height) as u8,
                    90,
                    (x * 4) as u8,
                ];
                data.extend_from_slice(&px[..channels]);
            }
        }
        Pixels {
            width,
            height,
            layout,
            data,
        }
    }

    /// The `av1C` box's fields the decoder checks against the bitstream: profile, and
    /// (high bit depth, monochrome, subsampling x, subsampling y).
    fn first_av1c(file: &[u8]) -> (u8, (bool, bool, bool, bool)) {
        let at = file
            .windows(4)
            .position(|w| w == b"av1C")
            .expect("an av1C box")
            + 4;
        let (profile, flags) = (file[at + 1] >> 5, file[at + 2]);
        let bit = |n: u8| flags & (1 << n) != 0;
        (profile, (bit(6), bit(4), bit(3), bit(2)))
    }

    #[test]
    fn opaque_pixels_are_one_4_2_0_image_whose_box_matches_its_bitstream() {
        let file = from_pixels(&gradient(Layout::Rgb8, 67, 41), 80, 10).unwrap();
        let avif = avif_parse::read_avif(&mut file.as_slice()).unwrap();
        assert!(avif.alpha_item.is_none());
        let meta = avif.primary_item_metadata().unwrap();
        assert_eq!(
            (meta.max_frame_width.get(), meta.max_frame_height.get()),
            (67, 41)
        );
        assert!(meta.still_picture && !meta.monochrome);
        assert_eq!(
            (meta.seq_profile, meta.bit_depth, meta.chroma_subsampling),
            (0, 8, (true, true))
        );
        assert_eq!(first_av1c(&file), (0, (false, false, true, true)));
    }

    #[test]
    fn transparency_becomes_a_monochrome_alpha_image() {
        let file = from_pixels(&gradient(Layout::Rgba8, 40, 30), 80, 10).unwrap();
        let avif = avif_parse::read_avif(&mut file.as_slice()).unwrap();
        let alpha = avif.alpha_item_metadata().unwrap().expect("an alpha image");
        assert!(alpha.monochrome && alpha.still_picture);
        assert_eq!((alpha.seq_profile, alpha.bit_depth), (0, 8));
        assert!(!avif.premultiplied_alpha);
    }

    #[test]
    fn opaque_rgba_has_no_alpha_image() {
        let mut pixels = gradient(Layout::Rgba8, 40, 30);
        pixels.data.chunks_exact_mut(4).for_each(|px| px[3] = 255);
        let file = from_pixels(&pixels, 80, 10).unwrap();
        assert!(
            avif_parse::read_avif(&mut file.as_slice())
                .unwrap()
                .alpha_item
                .is_none()
        );
    }

    #[test]
    fn odd_and_one_pixel_sides_encode() {
        for (width, height) in [(1, 1), (1, 9), (7, 1), (3, 3), (129, 65)] {
            for layout in [Layout::Rgb8, Layout::Rgba8] {
                let file = from_pixels(&gradient(layout, width, height), 80, 10).unwrap();
                let avif = avif_parse::read_avif(&mut file.as_slice()).unwrap();
                let meta = avif.primary_item_metadata().unwrap();
                let size = (meta.max_frame_width.get(), meta.max_frame_height.get());
                assert_eq!(size, (width, height), "{layout:?}");
            }
        }
    }

    #[test]
    fn lower_quality_is_smaller() {
        let pixels = gradient(Layout::Rgb8, 96, 64);
        let sizes: Vec<usize> = [95, 80, 40]
            .map(|q| from_pixels(&pixels, q, 10).unwrap().len())
            .to_vec();
        assert!(sizes[0] > sizes[1] && sizes[1] > sizes[2], "{sizes:?}");
    }

    #[test]
    fn tiles_stay_large_enough() {
        assert_eq!(tiles(100, 100), 1);
        assert!(tiles(4096, 4096) >= 1);
        assert!(tiles(4096, 4096) <= rayon::current_num_threads());
    }
}
