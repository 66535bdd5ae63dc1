//! Sniff, probe, decode, resize, colour, orient and encode on arbitrary bytes: the whole upload
//! pipeline (`pipeline::process`) under small pixel limits so each run is quick, then, for
//! images that pass, a render to a small fixed box. The first byte picks the preset, whether an
//! animation is kept, and the render's fit and format; the rest is the file. Any panic, hang or
//! runaway allocation is a finding; refusals (`unsupported_format`, `corrupt_image`, `image_too_large`) are answers.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pixgate::pipeline::{
    self, AnimationPolicy, CancelFlag, Fit, OutputFormat, OutputLimits, Preset, RenderSpec,
    TargetBox,
};
use pixgate_fuzz::PIXEL_LIMITS;

/// The server's defaults: nothing this target asks for comes near them.
const OUTPUT_LIMITS: OutputLimits = OutputLimits {
    max_side: 4096,
    max_pixels: 4096 * 4096,
    max_avif_pixels: 2048 * 2048,
};

fuzz_target!(|data: &[u8]| {
    let Some((&control, file)) = data.split_first() else {
        return;
    };
    let preset = if control & 1 == 0 {
        Preset::Profile
    } else {
        Preset::Image
    };
    // Animations are kept (the costlier path, and the one that reads every frame) unless bit 6
    // asks for the first frame.
    let animated = if control & 0x40 == 0 {
        AnimationPolicy::Keep
    } else {
        AnimationPolicy::FirstFrame
    };
    let Ok(processed) = pipeline::process(file, preset, animated, &PIXEL_LIMITS) else {
        return;
    };
    assert!(processed.width >= 1 && processed.height >= 1);
    assert!(!processed.bytes.is_empty());

    let fit = match (control >> 1) & 3 {
        0 => Fit::Cover,
        1 => Fit::Contain,
        2 => Fit::Fill,
        _ => Fit::Inside,
    };
    // No AVIF: its encoder costs seconds a run and takes the same resized pixels as the others.
    let format = match (control >> 3) & 3 {
        0 => None,
        1 => Some(OutputFormat::Jpeg),
        2 => Some(OutputFormat::Png),
        _ => Some(OutputFormat::Webp),
    };
    let spec = RenderSpec {
        target: TargetBox {
            width: Some(24),
            height: Some(16),
            fit,
            enlarge: control & 0x20 != 0,
        },
        format,
        quality: 75,
        avif_speed: 10,
        auto_format: false,
    };
    let source = Bytes::copy_from_slice(file);
    let never = CancelFlag::default();
    if let Ok(rendition) = pipeline::render(&source, &spec, &PIXEL_LIMITS, &OUTPUT_LIMITS, &never) {
        assert!(rendition.width >= 1 && rendition.height >= 1);
        assert!(rendition.width <= 24 && rendition.height <= 16 || !spec.target.enlarge);
    }
});
