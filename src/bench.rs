//! `pixgate bench`: times one pipeline operation in a warm loop on the calling thread, the way
//! `scripts/bench` compares pixgate with sharp op by op. Not used when serving.

use std::time::Instant;

use bytes::Bytes;
use serde::Serialize;
use turbojpeg::{Decompressor, PixelFormat, ScalingFactor};

use crate::pipeline::{
    self, AnimationLimits, AnimationPolicy, CancelFlag, OutputLimits, PixelLimits, Pixels, Preset,
};
use crate::request::TransformQuery;

/// One operation to time.
#[derive(Debug, Clone)]
pub enum Op {
    /// The upload pipeline with a preset (`profile`, `image`).
    Upload(Preset),
    /// The transform pipeline with a canonical-form query (`transform:w=400&f=webp`).
    Transform(String),
    /// libjpeg-turbo decoding alone at 1/8 scale: the floor any JPEG → profile op sits on.
    JpegDecodeEighth,
    /// The upload's placeholder step alone (ThumbHash and dominant colour), on the pixels the
    /// `image` preset stores for the input (decoded from the stored file, before timing).
    Placeholder,
}

impl Op {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "profile" => Ok(Self::Upload(Preset::Profile)),
            "image" => Ok(Self::Upload(Preset::Image)),
            "jpeg-decode-1/8" => Ok(Self::JpegDecodeEighth),
            "placeholder" => Ok(Self::Placeholder),
            _ => match text.strip_prefix("transform:") {
                Some(query) => Ok(Self::Transform(query.to_owned())),
                None => Err(format!(
                    "unknown op {text:?}: use profile, image, jpeg-decode-1/8, placeholder or \
                     transform:QUERY"
                )),
            },
        }
    }
}

/// What one op took, per iteration, and what it made.
#[derive(Debug, Serialize)]
pub struct Timing {
    pub op: String,
    pub iterations: usize,
    pub ms: Vec<f64>,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub output_bytes: usize,
    /// Where the last output was written, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved: Option<String>,
}

/// Runs `op` `warmup` times untimed, then `iterations` times timed; writes the last output to
/// `save_to` if given.
pub fn run(
    name: &str,
    op: &Op,
    input: &Bytes,
    warmup: usize,
    iterations: usize,
    avif_speed: u8,
    save_to: Option<&std::path::Path>,
) -> Result<Timing, String> {
    let limits = PixelLimits {
        max_pixels: 100_000_000,
        max_declared_pixels: 250_000_000,
        max_side: 16384,
        animation: AnimationLimits::DEFAULT,
    };
    // The bench times what it is asked to, however large: no output cap.
    let output = OutputLimits {
        max_side: 16384,
        max_pixels: 100_000_000,
        max_avif_pixels: 100_000_000,
    };
    let never = CancelFlag::default();
    let spec = match op {
        Op::Transform(query) => Some(
            TransformQuery::parse(query, None, 16384)
                .map_err(|e| e.to_string())?
                .render_spec(avif_speed),
        ),
        _ => None,
    };
    let stored = match op {
        Op::Placeholder => Some(stored_pixels(input, &limits)?),
        _ => None,
    };
    let once = || -> Result<Bytes, String> {
        if let Some(pixels) = &stored {
            return pipeline::placeholder_of(pixels)
                .map(|placeholder| Bytes::from(placeholder.thumbhash))
                .map_err(|e| e.to_string());
        }
        match (op, &spec) {
            (Op::Upload(preset), _) => {
                // As `serve` does by default: animated images stay animated, avatars are stills.
                let animated = match preset {
                    Preset::Image => AnimationPolicy::Keep,
                    Preset::Profile => AnimationPolicy::FirstFrame,
                };
                pipeline::process(input, *preset, animated, &limits)
            }
            .map(|out| Bytes::from(out.bytes))
            .map_err(|e| e.to_string()),
            (Op::Transform(_), Some(spec)) => {
                pipeline::render(input, spec, &limits, &output, &never)
                    .map(|out| out.bytes)
                    .map_err(|e| e.to_string())
            }
            (Op::Transform(_), None) => Err("no render spec".into()),
            (Op::JpegDecodeEighth, _) => decode_eighth(input).map(Bytes::from),
            (Op::Placeholder, _) => Err("no stored pixels".into()),
        }
    };
    for _ in 0..warmup {
        once()?;
    }
    let mut ms = Vec::with_capacity(iterations);
    let mut output = Bytes::new();
    for _ in 0..iterations {
        let start = Instant::now();
        output = once()?;
        ms.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    let saved = match save_to {
        Some(path) => {
            std::fs::write(path, &output).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(path.display().to_string())
        }
        None => None,
    };
    let mut sorted = ms.clone();
    sorted.sort_by(f64::total_cmp);
    let median_ms = match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    };
    Ok(Timing {
        op: name.to_owned(),
        iterations,
        median_ms,
        min_ms: sorted.first().copied().unwrap_or(f64::NAN),
        max_ms: sorted.last().copied().unwrap_or(f64::NAN),
        ms,
        output_bytes: output.len(),
        saved,
    })
}

/// What the `image` preset stores for `input`, decoded back to pixels (an animation's first
/// frame): the size and content the placeholder step sees in an upload.
fn stored_pixels(input: &[u8], limits: &PixelLimits) -> Result<Pixels, String> {
    let stored = pipeline::process(input, Preset::Image, AnimationPolicy::Keep, limits)
        .map_err(|e| e.to_string())?;
    let image = image::load_from_memory(&stored.bytes).map_err(|e| e.to_string())?;
    Ok(Pixels::from_decoded(image))
}

fn decode_eighth(input: &[u8]) -> Result<Vec<u8>, String> {
    let mut decompressor = Decompressor::new().map_err(|e| e.to_string())?;
    decompressor
        .set_scaling_factor(ScalingFactor::ONE_EIGHTH)
        .map_err(|e| e.to_string())?;
    let header = decompressor
        .read_header(input)
        .map_err(|e| e.to_string())?
        .scaled(ScalingFactor::ONE_EIGHTH);
    let mut image = turbojpeg::Image {
        pixels: vec![0u8; header.width * header.height * 3],
        width: header.width,
        pitch: header.width * 3,
        height: header.height,
        format: PixelFormat::RGB,
    };
    decompressor
        .decompress(input, image.as_deref_mut())
        .map_err(|e| e.to_string())?;
    Ok(image.pixels)
}
