//! Animated GIF, WebP and APNG: detected from the container, checked against the animation
//! limits before a frame is decoded, then decoded, resized and encoded one frame at a time into
//! an animated WebP, keeping each frame's duration and the loop count. Only the canvas being
//! decoded, the frame being encoded and the encoder's own reference canvases are held at once,
//! whatever the frame count.
//!
//! Modules: `container` (the header walk: frames, duration, loops) → `frames` (composited
//! frames) → `webp_anim` (the encoder, beside `webp`).

mod container;
mod frames;

use super::webp_anim::{Compression, Encoder};
use super::{
    CancelFlag, DEFAULT_QUALITY, Header, PipelineError, PixelLimits, Pixels, Placeholder, Plan,
    SourceFormat, color, orient, placeholder, resize,
};
pub use container::Container;
use frames::Frames;

/// How much animation one input may hold.
#[derive(Debug, Clone, Copy)]
pub struct AnimationLimits {
    /// Most frames (`--max-frames`).
    pub max_frames: u64,
    /// Most pixels decoded across all frames: canvas pixels × frames (`--max-animation-pixels`).
    pub max_pixels: u64,
    /// Longest total duration (`--max-animation-secs`), in ms.
    pub max_duration_ms: u64,
}

impl AnimationLimits {
    /// The defaults of `pixgate serve`: 1,000 frames, 200 million pixels (a 500-frame
    /// 480×270 GIF is 65 million), five minutes.
    pub const DEFAULT: Self = Self {
        max_frames: 1000,
        max_pixels: 200_000_000,
        max_duration_ms: 300_000,
    };
}

/// What an upload makes of an animated file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnimationPolicy {
    /// An animated WebP.
    Keep,
    /// A still of the first frame, as any still image is stored.
    FirstFrame,
}

/// An animated output, as the upload answer describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnimationSummary {
    /// Frames in the stored file (libwebp merges identical neighbours into one longer frame).
    pub frames: u64,
    pub duration_ms: u64,
}

/// An animation encoded as WebP.
#[derive(Debug)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub summary: AnimationSummary,
    pub width: u32,
    pub height: u32,
    /// Of the first frame as stored. A transform has no use for it, but it costs a third of a
    /// millisecond against the tens to hundreds an animated encode takes.
    pub placeholder: Placeholder,
}

/// Animations whose first frame shows at most this many colours are encoded lossless where that
/// is smaller, frame by frame (libwebp's mixed mode): drawings, stickers and screen captures,
/// where lossless is exact and often smaller than lossy. Photographic GIFs use most of their 256
/// colours, and lossy WebP frames thousands; trying lossless on them doubles the encoding time
/// and is never smaller. (A GIF's colour table says little: encoders write 256-entry tables for
/// 10-colour images.) Any source format: a sticker stored lossless and uploaded again stays
/// lossless, and exact.
const SMALL_PALETTE: usize = 64;

/// The animation in `bytes`, or `None` for a still image (a single frame takes the still path);
/// refused when its container declares more than `limits` allow.
pub fn detect(
    bytes: &[u8],
    format: SourceFormat,
    limits: &AnimationLimits,
) -> Result<Option<Container>, PipelineError> {
    let container = container::read(bytes, format);
    if let Some(container) = &container {
        check_limits(container, limits)?;
    }
    Ok(container)
}

/// A refusal past an animation limit; `why` names the flag.
fn too_large(why: String) -> PipelineError {
    PipelineError::ImageTooLarge(why.into())
}

fn check_limits(container: &Container, limits: &AnimationLimits) -> Result<(), PipelineError> {
    if container.frames > limits.max_frames {
        return Err(too_large(format!(
            "the animation has {} frames, over {} (--max-frames)",
            container.frames, limits.max_frames
        )));
    }
    let pixels = u64::from(container.width)
        .saturating_mul(u64::from(container.height))
        .saturating_mul(container.frames);
    if pixels > limits.max_pixels {
        return Err(too_large(format!(
            "the animation has {} frames of {}x{} = {pixels} pixels, over {} \
             (--max-animation-pixels)",
            container.frames, container.width, container.height, limits.max_pixels
        )));
    }
    if container.duration_ms > limits.max_duration_ms {
        return Err(too_large(format!(
            "the animation lasts {:.1} s, over {} s (--max-animation-secs)",
            container.duration_ms as f64 / 1000.0,
            limits.max_duration_ms / 1000
        )));
    }
    Ok(())
}

/// An upload: every frame resized to `stored_target` (the preset's box in the stored
/// orientation), turned upright, and encoded at the upload quality.
pub fn upload(
    bytes: &[u8],
    header: &Header,
    container: &Container,
    stored_target: (u32, u32),
    limits: &PixelLimits,
) -> Result<Encoded, PipelineError> {
    let compression = |first: &Pixels| {
        if colours_up_to(first, SMALL_PALETTE) {
            Compression::Mixed(DEFAULT_QUALITY)
        } else {
            Compression::Lossy(DEFAULT_QUALITY)
        }
    };
    let upright = header.stored_dimensions_of(stored_target.0, stored_target.1);
    let job = Job {
        bytes,
        header,
        container,
        limits,
        size: upright,
        compression: &compression,
        cancel: &CancelFlag::default(),
    };
    job.run(|frame| {
        let resized = resize::resize_region(frame, super::fit::Region::WHOLE, stored_target)?;
        orient::apply(resized, header.orientation)
    })
}

/// A transform to WebP: every frame cropped and resized as `plan` says, padded for `contain`.
pub fn render(
    bytes: &[u8],
    header: &Header,
    container: &Container,
    plan: &Plan,
    quality: u8,
    limits: &PixelLimits,
    cancel: &CancelFlag,
) -> Result<Encoded, PipelineError> {
    let (width, height) = plan.output();
    let output_pixels = u64::from(width) * u64::from(height) * container.frames;
    if output_pixels > limits.animation.max_pixels {
        return Err(too_large(format!(
            "{} frames of {width}x{height} would be {output_pixels} pixels, over {} \
             (--max-animation-pixels)",
            container.frames, limits.animation.max_pixels
        )));
    }
    let job = Job {
        bytes,
        header,
        container,
        limits,
        size: (width, height),
        compression: &|_: &Pixels| Compression::Lossy(quality),
        cancel,
    };
    job.run(|frame| {
        let upright = orient::apply(frame, header.orientation)?;
        let resized = resize::resize_region(upright, plan.region, plan.resized)?;
        Ok(match plan.canvas {
            Some(canvas) => resize::pad_to_canvas(resized, canvas),
            None => resized,
        })
    })
}

/// One animation re-encoded: what every path shares.
struct Job<'a> {
    bytes: &'a [u8],
    header: &'a Header,
    container: &'a Container,
    limits: &'a PixelLimits,
    /// The output canvas.
    size: (u32, u32),
    /// The compression for the animation, chosen on its first composited frame as decoded.
    compression: &'a dyn Fn(&Pixels) -> Compression,
    cancel: &'a CancelFlag,
}

impl Job<'_> {
    /// Decodes, reshapes (with `shape`, to `size`), converts to sRGB and encodes every frame.
    fn run(
        self,
        mut shape: impl FnMut(Pixels) -> Result<Pixels, PipelineError>,
    ) -> Result<Encoded, PipelineError> {
        let canvas = (self.container.width, self.container.height);
        let mut frames = Frames::open(self.bytes, self.header.format, canvas, self.limits)?;
        let (width, height) = self.size;
        let (mut encoder, mut first) = (None, None);
        let (mut decoded, mut duration_ms) = (0u64, 0u64);
        while let Some(frame) = frames.next_frame()? {
            self.cancel.check()?;
            decoded += 1;
            // The container was counted before decoding; a decoder that finds more frames
            // than it declared (an APNG's `acTL` is only a promise) is held to the same limit.
            if decoded > self.limits.animation.max_frames {
                return Err(too_large(format!(
                    "the animation has over {} frames (--max-frames)",
                    self.limits.animation.max_frames
                )));
            }
            let encoder = match &mut encoder {
                Some(encoder) => encoder,
                None => encoder.insert(Encoder::new(
                    width,
                    height,
                    self.container.loop_count,
                    (self.compression)(&frame.pixels),
                )?),
            };
            let shaped = shape(frame.pixels)?;
            let srgb = color::to_srgb(shaped, self.header.icc.as_deref())?;
            if first.is_none() {
                first = Some(placeholder::from_pixels(&srgb)?);
            }
            encoder.add(&srgb.into_rgba(), frame.duration_ms)?;
            duration_ms += u64::from(frame.duration_ms);
        }
        let (Some(encoder), Some(placeholder)) = (encoder, first) else {
            return Err(PipelineError::CorruptImage(
                "the animation has no frame that decodes".into(),
            ));
        };
        let bytes = encoder.finish()?;
        let frames =
            container::read(&bytes, SourceFormat::Webp).map_or(1, |written| written.frames);
        let summary = AnimationSummary {
            frames,
            duration_ms,
        };
        Ok(Encoded {
            bytes,
            summary,
            width,
            height,
            placeholder,
        })
    }
}

/// Whether `pixels` (RGBA) show at most `limit` colours, fully transparent pixels aside.
fn colours_up_to(pixels: &Pixels, limit: usize) -> bool {
    let mut seen = std::collections::HashSet::with_capacity(limit + 1);
    for px in pixels.data.chunks_exact(4).filter(|px| px[3] != 0) {
        let colour = u32::from_le_bytes([px[0], px[1], px[2], px[3]]);
        if seen.insert(colour) && seen.len() > limit {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::test_images::{LIMITS, tiny_gif};
    use crate::pipeline::webp_anim::Decoder;
    use crate::pipeline::{
        AnimationPolicy, Fit, OutputFormat, OutputLimits, Preset, RenderSpec, TargetBox, process,
    };
    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, Frame, Rgba, RgbaImage};

    /// A `width`×`height` GIF of solid frames, one per `(colour, delay in ms)`.
    fn solid_gif(width: u32, height: u32, frames: &[([u8; 4], u32)], repeat: Repeat) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut out);
            encoder.set_repeat(repeat).unwrap();
            for &(colour, delay) in frames {
                let image = RgbaImage::from_pixel(width, height, Rgba(colour));
                let delay = Delay::from_numer_denom_ms(delay, 1);
                encoder
                    .encode_frame(Frame::from_parts(image, 0, 0, delay))
                    .unwrap();
            }
        }
        out
    }

    /// Every frame of an animated WebP: its first pixel and duration.
    fn decoded(webp: &[u8]) -> Vec<([u8; 4], u32)> {
        let mut decoder = Decoder::new(webp).unwrap();
        let mut frames = Vec::new();
        while let Some((pixels, duration)) = decoder.next_frame().unwrap() {
            let first: [u8; 4] = pixels.data[..4].try_into().unwrap();
            frames.push((first, duration));
        }
        frames
    }

    /// Frames of a few-colour drawing: diagonal stripes of six colours, moving a pixel a frame.
    fn sticker_frames(side: u32, count: u32) -> Vec<RgbaImage> {
        const PALETTE: [[u8; 4]; 6] = [
            [255, 255, 255, 255],
            [20, 20, 20, 255],
            [240, 60, 40, 255],
            [40, 160, 240, 255],
            [250, 210, 30, 255],
            [60, 200, 90, 255],
        ];
        (0..count)
            .map(|n| {
                RgbaImage::from_fn(side, side, |x, y| {
                    Rgba(PALETTE[((x + y + n) / 7 % 6) as usize])
                })
            })
            .collect()
    }

    fn gif_of(frames: &[RgbaImage]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut out);
            encoder.set_repeat(Repeat::Infinite).unwrap();
            for image in frames {
                let delay = Delay::from_numer_denom_ms(80, 1);
                let frame = Frame::from_parts(image.clone(), 0, 0, delay);
                encoder.encode_frame(frame).unwrap();
            }
        }
        out
    }

    /// Every frame of an animated WebP, whole.
    fn canvases(webp: &[u8]) -> Vec<Vec<u8>> {
        let mut decoder = Decoder::new(webp).unwrap();
        let mut frames = Vec::new();
        while let Some((pixels, _)) = decoder.next_frame().unwrap() {
            frames.push(pixels.data);
        }
        frames
    }

    #[test]
    fn a_few_colour_animation_is_stored_exactly_and_stays_so_when_uploaded_again() {
        let frames = sticker_frames(120, 6);
        let gif = gif_of(&frames);
        let stored = process(&gif, Preset::Image, AnimationPolicy::Keep, &LIMITS).unwrap();
        let sources: Vec<Vec<u8>> = frames.iter().map(|f| f.as_raw().clone()).collect();
        // Exact: lossless won every frame, which it can only do from exact (ARGB) pixels.
        assert_eq!(canvases(&stored.bytes), sources);
        let again = process(&stored.bytes, Preset::Image, AnimationPolicy::Keep, &LIMITS).unwrap();
        assert_eq!(
            canvases(&again.bytes),
            sources,
            "the stored WebP uploaded again"
        );
    }

    const RED: [u8; 4] = [230, 20, 20, 255];
    const GREEN: [u8; 4] = [20, 230, 20, 255];
    const BLUE: [u8; 4] = [20, 20, 230, 255];

    fn close(a: [u8; 4], b: [u8; 4]) -> bool {
        a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12)
    }

    #[test]
    fn an_animated_gif_becomes_an_animated_webp_with_its_timing_and_loops() {
        let gif = solid_gif(
            300,
            120,
            &[(RED, 100), (GREEN, 0), (BLUE, 250)],
            Repeat::Finite(3),
        );
        let out = process(&gif, Preset::Profile, AnimationPolicy::Keep, &LIMITS).unwrap();
        assert_eq!(out.format, OutputFormat::Webp);
        assert_eq!((out.width, out.height), (200, 80));
        let summary = out.animation.unwrap();
        assert_eq!((summary.frames, summary.duration_ms), (3, 350));
        let frames = decoded(&out.bytes);
        let durations: Vec<u32> = frames.iter().map(|(_, d)| *d).collect();
        assert_eq!(durations, [100, 0, 250]);
        for ((pixel, _), colour) in frames.iter().zip([RED, GREEN, BLUE]) {
            assert!(close(*pixel, colour), "{pixel:?} vs {colour:?}");
        }
        let written = container::read(&out.bytes, SourceFormat::Webp).unwrap();
        assert_eq!(
            (written.loop_count, written.width, written.height),
            (3, 200, 80)
        );
    }

    #[test]
    fn the_first_frame_policy_and_single_frames_take_the_still_path() {
        let gif = solid_gif(40, 30, &[(RED, 100), (GREEN, 100)], Repeat::Infinite);
        let still = process(&gif, Preset::Profile, AnimationPolicy::FirstFrame, &LIMITS).unwrap();
        assert_eq!((still.format, still.animation), (OutputFormat::Jpeg, None));
        let single = solid_gif(40, 30, &[(RED, 100)], Repeat::Infinite);
        let out = process(&single, Preset::Image, AnimationPolicy::Keep, &LIMITS).unwrap();
        assert_eq!((out.format, out.animation), (OutputFormat::Jpeg, None));
    }

    fn too_large(result: Result<crate::pipeline::ProcessedImage, PipelineError>) -> String {
        match result {
            Err(PipelineError::ImageTooLarge(why)) => why.to_string(),
            other => panic!("expected image_too_large, got {other:?}"),
        }
    }

    /// The bombs are refused from the container: the frames here would decode, but the
    /// message shows which limit refused them.
    #[test]
    fn animations_over_a_limit_are_refused_naming_it() {
        let many = tiny_gif(100_000, 1, Some(0));
        let why = too_large(process(
            &many,
            Preset::Image,
            AnimationPolicy::Keep,
            &LIMITS,
        ));
        assert!(
            why.contains("100000 frames") && why.contains("--max-frames"),
            "{why}"
        );

        let tight = PixelLimits {
            animation: AnimationLimits {
                max_pixels: 300 * 120 * 2,
                ..AnimationLimits::DEFAULT
            },
            ..LIMITS
        };
        let three = solid_gif(
            300,
            120,
            &[(RED, 10), (GREEN, 10), (BLUE, 10)],
            Repeat::Infinite,
        );
        let why = too_large(process(
            &three,
            Preset::Image,
            AnimationPolicy::Keep,
            &tight,
        ));
        assert!(why.contains("--max-animation-pixels"), "{why}");

        let long = tiny_gif(3, 65_535, Some(0));
        let why = too_large(process(
            &long,
            Preset::Image,
            AnimationPolicy::Keep,
            &LIMITS,
        ));
        assert!(
            why.contains("1966.0 s") && why.contains("--max-animation-secs"),
            "{why}"
        );
        // The limits describe the input: they hold when only the first frame would be kept.
        let why = too_large(process(
            &many,
            Preset::Profile,
            AnimationPolicy::FirstFrame,
            &LIMITS,
        ));
        assert!(why.contains("--max-frames"), "{why}");
    }

    fn spec(width: u32, format: OutputFormat, auto: bool) -> RenderSpec {
        RenderSpec {
            target: TargetBox {
                width: Some(width),
                height: None,
                fit: Fit::Inside,
                enlarge: false,
            },
            format: Some(format),
            quality: 80,
            avif_speed: 10,
            auto_format: auto,
        }
    }

    #[test]
    fn renders_stay_animated_as_webp_and_take_the_first_frame_otherwise() {
        let gif = solid_gif(300, 120, &[(RED, 100), (GREEN, 200)], Repeat::Infinite);
        let stored = process(&gif, Preset::Image, AnimationPolicy::Keep, &LIMITS).unwrap();
        let source = bytes::Bytes::from(stored.bytes);
        let output = OutputLimits {
            max_side: 4096,
            max_pixels: 4096 * 4096,
            max_avif_pixels: 2048 * 2048,
        };
        let render = |spec: RenderSpec| {
            crate::pipeline::render(&source, &spec, &LIMITS, &output, &CancelFlag::default())
                .unwrap()
        };
        for auto_avif in [
            spec(150, OutputFormat::Webp, false),
            spec(150, OutputFormat::Avif, true),
        ] {
            let webp = render(auto_avif);
            assert_eq!(
                (webp.content_type, webp.width, webp.height),
                ("image/webp", 150, 60)
            );
            let frames = decoded(&webp.bytes);
            assert_eq!(frames.len(), 2);
            assert_eq!((frames[0].1, frames[1].1), (100, 200));
            assert!(close(frames[1].0, GREEN), "{:?}", frames[1].0);
        }
        let jpeg = render(spec(150, OutputFormat::Jpeg, false));
        assert_eq!((jpeg.content_type, jpeg.width), ("image/jpeg", 150));
        let rgb = crate::pipeline::test_images::rgb_of(&jpeg.bytes);
        assert!(close(
            [rgb.pixels[0], rgb.pixels[1], rgb.pixels[2], 255],
            RED
        ));
        assert!(container::read(&jpeg.bytes, SourceFormat::Jpeg).is_none());
    }
}
