//! An upload, start to finish: sniff the real format, read the header and check the pixel
//! limits before any pixel is decoded (the declared size, then what the decode for the preset
//! will hold), decode (shrinking JPEGs in the DCT domain when the preset allows), resize,
//! convert to sRGB, turn upright, take the placeholder from the result, and encode without
//! metadata.
//!
//! The orientation is applied after the resize: the box is computed on the upright dimensions,
//! so the result is the same as orienting first, and rotating the small image is far cheaper.

use super::planar;
use super::route::{self, Job};
use super::timing::{Step, timed};
use super::{
    AnimationPolicy, Header, OutputFormat, PipelineError, PixelLimits, Preset, ProcessedImage,
    animation, color, decode, encode, fit, orient, placeholder, probe, resize, sniff,
};

/// `bytes` made into what an upload with `preset` stores; an animation is kept or reduced to
/// its first frame as `animated` says.
pub fn process(
    bytes: &[u8],
    preset: Preset,
    animated: AnimationPolicy,
    limits: &PixelLimits,
) -> Result<ProcessedImage, PipelineError> {
    let (header, stored_target, plan, animation) = timed(Step::Probe, || {
        let format = sniff::sniff(bytes)?;
        let header = probe::probe(bytes, format, limits)?;
        let (upright_w, upright_h) = header.upright_dimensions();
        let (target_w, target_h) = preset.fit(upright_w, upright_h);
        let stored_target = header.stored_dimensions_of(target_w, target_h);
        let plan = decode::plan(&header, stored_target, limits)?;
        // An animation over a limit is refused even when only its first frame would be kept:
        // the limits describe what an input may be, whichever upload type it is sent as.
        let animation = animation::detect(bytes, format, &limits.animation)?;
        Ok::<_, PipelineError>((header, stored_target, plan, animation))
    })?;
    if animated == AnimationPolicy::Keep
        && let Some(container) = animation
    {
        let encoded = timed(Step::Animation, || {
            animation::upload(bytes, &header, &container, stored_target, limits)
        })?;
        return Ok(ProcessedImage {
            bytes: encoded.bytes,
            format: OutputFormat::Webp,
            width: encoded.width,
            height: encoded.height,
            animation: Some(encoded.summary),
            placeholder: encoded.placeholder,
        });
    }
    if route::takes_planes(&header, Job::Upload)
        && let Some(planes) =
            timed(Step::Decode, || planar::decode(bytes, &header, plan))?.accepted()
    {
        return from_planes(planes, &header, stored_target);
    }
    from_pixels(bytes, &header, plan, stored_target, limits)
}

fn from_planes(
    decoded: planar::Planes,
    header: &Header,
    stored_target: (u32, u32),
) -> Result<ProcessedImage, PipelineError> {
    let resized = timed(Step::Resize, || {
        planar::resize(&decoded, fit::Region::WHOLE, stored_target)
    })?;
    drop(decoded);
    let upright = timed(Step::Orient, || planar::orient(resized, header.orientation))?;
    let placeholder = timed(Step::Placeholder, || placeholder::from_planes(&upright))?;
    timed(Step::Encode, || {
        encode::encode_upload_planes(&upright, placeholder)
    })
}

fn from_pixels(
    bytes: &[u8],
    header: &Header,
    plan: decode::DecodePlan,
    stored_target: (u32, u32),
    limits: &PixelLimits,
) -> Result<ProcessedImage, PipelineError> {
    let decoded = timed(Step::Decode, || decode::decode(bytes, header, plan, limits))?;
    // An alpha channel with nothing transparent in it is written as JPEG anyway; dropping it
    // now resamples three channels instead of four, with no premultiplying.
    let pixels = decoded.pixels.without_opaque_alpha();
    let resized = timed(Step::Resize, || {
        resize::resize_region(pixels, decoded.area, stored_target)
    })?;
    let srgb = timed(Step::Color, || {
        color::to_srgb(resized, header.icc.as_deref())
    })?;
    let upright = timed(Step::Orient, || orient::apply(srgb, header.orientation))?;
    let placeholder = timed(Step::Placeholder, || placeholder::from_pixels(&upright))?;
    timed(Step::Encode, || encode::encode(upright, placeholder))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::test_images::{
        LIMITS, cmyk_jpeg, lossless_jpeg, luma, mean_abs_diff, progressive_jpeg, rgb_of, test_jpeg,
        test_jpeg_subsampled,
    };
    use crate::pipeline::{AnimationLimits, SourceFormat};

    /// 1 MP decoded, 10 MP declared: small enough for a 3000x2000 (6 MP) test photo to stand in
    /// for a 200 MP phone photo under the defaults.
    const SMALL: PixelLimits = PixelLimits {
        max_pixels: 1_000_000,
        max_declared_pixels: 10_000_000,
        max_side: 16384,
        animation: AnimationLimits::DEFAULT,
    };

    fn too_large(result: Result<ProcessedImage, PipelineError>) -> String {
        match result {
            Err(PipelineError::ImageTooLarge(why)) => why.to_string(),
            other => panic!("expected image_too_large, got {other:?}"),
        }
    }

    #[test]
    fn a_jpeg_over_max_pixels_is_taken_when_its_scaled_decode_is_under() {
        let jpeg = test_jpeg(3000, 2000);
        // Profile: 1/8 is 375x250, under 1 MP, both on the planar path and the RGB one.
        let out = process(&jpeg, Preset::Profile, AnimationPolicy::Keep, &SMALL).unwrap();
        assert_eq!((out.width, out.height), (200, 133));
        let header = probe::probe(&jpeg, SourceFormat::Jpeg, &SMALL).unwrap();
        let plan = decode::plan(&header, (200, 133), &SMALL).unwrap();
        let rgb = from_pixels(&jpeg, &header, plan, (200, 133), &SMALL).unwrap();
        assert_eq!((rgb.width, rgb.height), (200, 133));
        assert_eq!(rgb_of(&out.bytes).width, 200);
    }

    /// The same file for the image preset (1620x1080) needs the full 6 MP decode.
    #[test]
    fn a_jpeg_whose_decode_for_the_preset_is_over_max_pixels_is_refused() {
        let why = too_large(process(
            &test_jpeg(3000, 2000),
            Preset::Image,
            AnimationPolicy::Keep,
            &SMALL,
        ));
        assert!(why.contains("3000x2000 decodes to 3000x2000"), "{why}");
    }

    /// Only the header is there: a decode would fail as corrupt, so `image_too_large` shows
    /// the refusal came first.
    #[test]
    fn a_jpeg_over_max_declared_pixels_is_refused_before_decoding() {
        let jpeg = test_jpeg(4000, 3000);
        let scan = jpeg.windows(2).position(|m| m == [0xFF, 0xDA]).unwrap();
        let header_only = &jpeg[..scan + 32];
        let why = too_large(process(
            header_only,
            Preset::Profile,
            AnimationPolicy::Keep,
            &SMALL,
        ));
        assert!(why.contains("declares over 10000000"), "{why}");
        let limits = PixelLimits {
            max_declared_pixels: 20_000_000,
            ..SMALL
        };
        assert!(matches!(
            process(header_only, Preset::Profile, AnimationPolicy::Keep, &limits),
            Err(PipelineError::CorruptImage(_))
        ));
    }

    #[test]
    fn a_png_over_max_pixels_is_refused_whatever_the_preset() {
        let mut png = Vec::new();
        image::RgbImage::from_pixel(1500, 1000, image::Rgb([10, 200, 30]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let why = too_large(process(
            &png,
            Preset::Profile,
            AnimationPolicy::Keep,
            &SMALL,
        ));
        assert!(why.contains("1500x1000 is over 1000000"), "{why}");
        let roomy = PixelLimits {
            max_pixels: 2_000_000,
            ..SMALL
        };
        assert_eq!(
            process(&png, Preset::Profile, AnimationPolicy::Keep, &roomy)
                .unwrap()
                .width,
            200
        );
    }

    /// Progressive JPEGs scale on output but are buffered whole; lossless ones do not scale.
    /// Both keep the limit on their declared size. CMYK ones scale like any baseline JPEG.
    #[test]
    fn progressive_and_lossless_jpegs_keep_the_limit_and_cmyk_ones_scale() {
        let roomy = PixelLimits {
            max_pixels: 2_000_000,
            ..SMALL
        };
        for (name, jpeg) in [
            ("progressive", progressive_jpeg(1500, 1000)),
            ("lossless", lossless_jpeg(1500, 1000)),
        ] {
            let why = too_large(process(
                &jpeg,
                Preset::Profile,
                AnimationPolicy::Keep,
                &SMALL,
            ));
            assert!(why.contains("1500x1000 is over 1000000"), "{name}: {why}");
            let out = process(&jpeg, Preset::Profile, AnimationPolicy::Keep, &roomy).unwrap();
            assert_eq!((out.width, out.height), (200, 133), "{name}");
        }
        let cmyk = cmyk_jpeg(3000, 2000);
        let out = process(&cmyk, Preset::Profile, AnimationPolicy::Keep, &SMALL).unwrap();
        assert_eq!((out.width, out.height), (200, 133));
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
            for (preset, size) in [(Preset::Profile, (200, 140)), (Preset::Image, (1001, 701))] {
                let out = process(&jpeg, preset, AnimationPolicy::Keep, &LIMITS).unwrap();
                assert_eq!((out.width, out.height), size, "{subsamp:?}");
                let decoded = rgb_of(&out.bytes);
                assert_eq!(
                    (decoded.width, decoded.height),
                    (size.0 as usize, size.1 as usize)
                );
            }
        }
    }

    fn planes_of(jpeg: &[u8], header: &Header, target: (u32, u32)) -> planar::Planes {
        let plan = decode::plan(header, target, &LIMITS).unwrap();
        match planar::decode(jpeg, header, plan).unwrap() {
            planar::PlaneDecode::Decoded(planes) => planes,
            planar::PlaneDecode::Refused(why) => panic!("planar path refused: {why}"),
        }
    }

    #[test]
    fn the_planar_path_is_as_close_to_the_source_as_the_rgb_path() {
        let jpeg = test_jpeg(1001, 701);
        let header = probe::probe(&jpeg, SourceFormat::Jpeg, &LIMITS).unwrap();
        assert!(route::takes_planes(&header, Job::Upload));
        for target in [(200, 140), (640, 448), (1001, 701)] {
            let planar = from_planes(planes_of(&jpeg, &header, target), &header, target).unwrap();
            let plan = decode::plan(&header, target, &LIMITS).unwrap();
            let pixels = from_pixels(&jpeg, &header, plan, target, &LIMITS).unwrap();
            assert_eq!((planar.width, planar.height), target);
            let whole = decode::plan(&header, (1001, 701), &LIMITS).unwrap();
            let full = decode::decode(&jpeg, &header, whole, &LIMITS).unwrap();
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

    /// The planar path converts its thumbnail from Y'CbCr itself; its ThumbHash must be the RGB
    /// path's within rounding (a wrong matrix or a swapped Cb/Cr would move every colour).
    #[test]
    fn both_paths_give_the_same_thumbhash() {
        let jpeg = test_jpeg(1001, 701);
        let header = probe::probe(&jpeg, SourceFormat::Jpeg, &LIMITS).unwrap();
        for target in [(200, 140), (640, 448)] {
            let planar = from_planes(planes_of(&jpeg, &header, target), &header, target).unwrap();
            let plan = decode::plan(&header, target, &LIMITS).unwrap();
            let pixels = from_pixels(&jpeg, &header, plan, target, &LIMITS).unwrap();
            let (a, b) = (planar.placeholder, pixels.placeholder);
            let (aw, ah, a_rgba) = thumbhash::thumb_hash_to_rgba(&a.thumbhash).unwrap();
            let (bw, bh, b_rgba) = thumbhash::thumb_hash_to_rgba(&b.thumbhash).unwrap();
            assert_eq!((aw, ah), (bw, bh), "{target:?}");
            let gap = mean_abs_diff(&a_rgba, &b_rgba);
            assert!(
                gap < 3.0,
                "{target:?}: decoded ThumbHashes differ by {gap:.2}"
            );
            // The dominant colours are not compared: the test pattern is a 50/50 checkerboard,
            // where a rounding either way may pick the other half.
        }
    }

    /// 2005×1605 at 1/8 decodes to 251×201, of which 250.625×200.625 is image. Resampling only
    /// the image part must land much nearer a full decode than stretching all 251×201.
    #[test]
    fn dct_scaled_decodes_are_not_stretched_by_their_partial_blocks() {
        let jpeg = test_jpeg(2005, 1605);
        let header = probe::probe(&jpeg, SourceFormat::Jpeg, &LIMITS).unwrap();
        let target = (200, 160);
        let resample = |decode_to: (u32, u32), exact: bool| {
            let plan = decode::plan(&header, decode_to, &LIMITS).unwrap();
            let decoded = decode::decode(&jpeg, &header, plan, &LIMITS).unwrap();
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

    /// Inputs on which the `pipeline` fuzz target found `image-webp` 0.2.4 panicking inside
    /// `read_frame` (the first frame of an animated WebP): an index past a short `ALPH` chunk
    /// (decoder.rs:858) and a chroma slice out of range (yuv.rs:147). A panic is a 500 under
    /// `serve` and kills the instance under Lambda (`panic = "abort"`). Each must be refused as
    /// a corrupt image instead (`webp_frame` checks the frame first).
    #[test]
    fn animated_webp_fuzz_findings_are_refused_without_a_panic() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/findings/pipeline");
        for name in ["webp-anmf-alpha-short", "webp-anmf-yuv-slice"] {
            let input = std::fs::read(dir.join(name)).unwrap();
            // The fuzz target's first byte is its control byte; the file follows.
            let result = process(&input[1..], Preset::Image, AnimationPolicy::Keep, &LIMITS);
            assert!(result.is_err(), "{name}");
        }
    }
}
