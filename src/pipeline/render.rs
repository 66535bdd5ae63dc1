//! A stored image re-rendered on request: the same checks as an upload (real format, pixel
//! limits from the header and on what the decode for the plan will hold), then decode (DCT-scaled to what the plan needs), orient, crop and
//! resample in one pass, convert to sRGB, pad for `contain`, and encode as asked.
//!
//! An animated source asked for as WebP is rendered frame by frame into an animated WebP
//! (`animation`); asked for as anything else, its first frame is rendered as a still.
//!
//! Orientation comes before the resize here, unlike an upload: crops are planned on the upright
//! image, and stored originals are upright already, so it is nearly always a no-op.

use bytes::Bytes;

use super::planar;
use super::route::{self, Job};
use super::timing::{Step, timed};
use super::{
    CancelFlag, EncodeOptions, Header, Layout, OutputFormat, OutputLimits, PipelineError,
    PixelLimits, Plan, RenderSpec, Rendition, SourceFormat, animation, color, decode, encode, fit,
    orient, probe, resize, sniff,
};

/// `source` rendered as `spec` asks: `limits` bound the source, `output` the rendition, and
/// `cancel` is looked at between steps.
pub fn render(
    source: &Bytes,
    spec: &RenderSpec,
    limits: &PixelLimits,
    output: &OutputLimits,
    cancel: &CancelFlag,
) -> Result<Rendition, PipelineError> {
    let bytes: &[u8] = source;
    let (source_format, header, plan, decode_plan, animation) = timed(Step::Probe, || {
        let source_format = sniff::sniff(bytes)?;
        let header = probe::probe(bytes, source_format, limits)?;
        let plan = fit::plan(header.upright_dimensions(), spec.target);
        let (scaled_w, scaled_h) = plan.scaled_source;
        let decode_target = header.stored_dimensions_of(scaled_w, scaled_h);
        // Checked before the identity answer too (its target is the whole source): a source
        // the pipeline would refuse to decode is not served either.
        let decode_plan = decode::plan(&header, decode_target, limits)?;
        let animation = animation::detect(bytes, source_format, &limits.animation)?;
        Ok::<_, PipelineError>((source_format, header, plan, decode_plan, animation))
    })?;
    let (upright_w, upright_h) = header.upright_dimensions();
    if spec.is_identity() {
        return Ok(Rendition {
            bytes: source.clone(),
            content_type: source_format.image_format().to_mime_type(),
            width: upright_w,
            height: upright_h,
        });
    }
    let spec = &within_output_limits(spec, plan.output(), output)?;
    cancel.check()?;
    let format = spec
        .format
        .unwrap_or_else(|| nearest_output(source_format, Layout::Rgb8));
    // An animation stays one as WebP; when the server chose AVIF (`f=auto`), WebP stands in
    // for it, as it does for an AVIF over its size limit. Other formats take the first frame.
    let webp_allowed =
        format == OutputFormat::Webp || (spec.auto_format && format == OutputFormat::Avif);
    if webp_allowed && let Some(container) = animation {
        let encoded = timed(Step::Animation, || {
            animation::render(
                bytes,
                &header,
                &container,
                &plan,
                spec.quality,
                limits,
                cancel,
            )
        })?;
        return Ok(Rendition {
            bytes: Bytes::from(encoded.bytes),
            content_type: OutputFormat::Webp.content_type(),
            width: encoded.width,
            height: encoded.height,
        });
    }
    let planar_format = spec
        .format
        .unwrap_or_else(|| nearest_output(source_format, Layout::Rgb8));
    let job = Job::Render {
        format: planar_format,
        padded: plan.canvas.is_some(),
    };
    if route::takes_planes(&header, job)
        && let Some(planes) =
            timed(Step::Decode, || planar::decode(bytes, &header, decode_plan))?.accepted()
    {
        return from_planes(planes, &plan, spec.encode_options(planar_format), cancel);
    }
    from_pixels(bytes, &header, decode_plan, &plan, spec, limits, cancel)
}

fn from_planes(
    decoded: planar::Planes,
    plan: &Plan,
    options: EncodeOptions,
    cancel: &CancelFlag,
) -> Result<Rendition, PipelineError> {
    cancel.check()?;
    let resized = timed(Step::Resize, || {
        planar::resize(&decoded, plan.region, plan.resized)
    })?;
    drop(decoded);
    cancel.check()?;
    let encoded = timed(Step::Encode, || encode::encode_planes(&resized, options))?;
    Ok(Rendition {
        bytes: Bytes::from(encoded),
        content_type: options.format.content_type(),
        width: resized.width,
        height: resized.height,
    })
}

fn from_pixels(
    bytes: &[u8],
    header: &Header,
    decode_plan: decode::DecodePlan,
    plan: &Plan,
    spec: &RenderSpec,
    limits: &PixelLimits,
    cancel: &CancelFlag,
) -> Result<Rendition, PipelineError> {
    let mut decoded = timed(Step::Decode, || {
        decode::decode(bytes, header, decode_plan, limits)
    })?;
    cancel.check()?;
    // JPEG has no alpha. Laying the image on white before the resize rather than after gives
    // the same pixels (compositing on a constant and resampling are both linear) and resamples
    // three channels instead of four, with no premultiplying. Only in sRGB: a profile's
    // conversion is not linear, so it must see the transparent pixels as they are.
    if spec.format == Some(OutputFormat::Jpeg) && !color::converts(header.icc.as_deref()) {
        decoded.pixels = decoded.pixels.flattened_on_white();
    }
    let upright = timed(Step::Orient, || {
        orient::apply(decoded.pixels, header.orientation)
    })?;
    let area = orient::area_after(decoded.area, header.orientation);
    let resized = timed(Step::Resize, || {
        resize::resize_region(upright, plan.region.within(area), plan.resized)
    })?;
    cancel.check()?;
    let placed = timed(Step::Color, || {
        let srgb = color::to_srgb(resized, header.icc.as_deref())?;
        Ok::<_, PipelineError>(match plan.canvas {
            Some(canvas) => resize::pad_to_canvas(srgb, canvas),
            None => srgb,
        })
    })?;
    let format = spec
        .format
        .unwrap_or_else(|| nearest_output(header.format, placed.layout));
    let options = spec.encode_options(format);
    cancel.check()?;
    let encoded = timed(Step::Encode, || encode::encode_as(&placed, options))?;
    Ok(Rendition {
        bytes: Bytes::from(encoded),
        content_type: format.content_type(),
        width: placed.width,
        height: placed.height,
    })
}

/// The spec as it will be rendered: refused when the rendition is over the output limits, and
/// with WebP standing in for an AVIF the server chose (`f=auto`) that would be over AVIF's.
fn within_output_limits(
    spec: &RenderSpec,
    (width, height): (u32, u32),
    limits: &OutputLimits,
) -> Result<RenderSpec, PipelineError> {
    let pixels = u64::from(width) * u64::from(height);
    if width.max(height) > limits.max_side || pixels > limits.max_pixels {
        return Err(PipelineError::ImageTooLarge(
            format!(
                "the rendition would be {width}x{height} pixels; renditions are limited to \
                 {} pixels a side and {} pixels in all",
                limits.max_side, limits.max_pixels
            )
            .into(),
        ));
    }
    if spec.format != Some(OutputFormat::Avif) || pixels <= limits.max_avif_pixels {
        return Ok(*spec);
    }
    if spec.auto_format {
        return Ok(RenderSpec {
            format: Some(OutputFormat::Webp),
            ..*spec
        });
    }
    Err(PipelineError::ImageTooLarge(
        format!(
            "an AVIF rendition would be {width}x{height} pixels; AVIF renditions are limited to \
             {} pixels (ask for a smaller size or f=webp)",
            limits.max_avif_pixels
        )
        .into(),
    ))
}

/// Without `f`, the output keeps the source's format where pixgate writes it.
fn nearest_output(source: SourceFormat, layout: Layout) -> OutputFormat {
    match (source, layout) {
        (SourceFormat::Jpeg, _) => OutputFormat::Jpeg,
        (SourceFormat::Webp, _) => OutputFormat::Webp,
        (SourceFormat::Png | SourceFormat::Gif, _) | (_, Layout::Rgba8) => OutputFormat::Png,
        (SourceFormat::Bmp, Layout::Rgb8) => OutputFormat::Jpeg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::test_images::{LIMITS, mean_abs_diff, test_jpeg};
    use crate::pipeline::{AnimationLimits, DEFAULT_QUALITY, Fit, TargetBox};

    const OUTPUT: OutputLimits = OutputLimits {
        max_side: 4096,
        max_pixels: 4096 * 4096,
        max_avif_pixels: 2048 * 2048,
    };

    fn spec(width: u32, height: u32, fit: Fit, format: OutputFormat, auto: bool) -> RenderSpec {
        RenderSpec {
            target: TargetBox {
                width: Some(width),
                height: Some(height),
                fit,
                enlarge: true,
            },
            format: Some(format),
            quality: 80,
            avif_speed: 10,
            auto_format: auto,
        }
    }

    /// The attack from issue 10: `fit=outside&enlarge=1&w=4096&h=4096` on a tall source asked
    /// for 4096×11892, under the upload pixel limit but far past the transform's own side cap.
    #[test]
    fn renditions_past_the_output_limits_are_refused_before_decoding() {
        let tall = Bytes::from(test_jpeg(372, 1080));
        let asked = spec(4096, 4096, Fit::Outside, OutputFormat::Jpeg, false);
        let refused = render(&tall, &asked, &LIMITS, &OUTPUT, &CancelFlag::default());
        assert!(
            matches!(&refused, Err(PipelineError::ImageTooLarge(m)) if m.to_string().contains("4096x11892")),
            "{refused:?}"
        );
    }

    #[test]
    fn avif_over_its_own_area_is_refused_or_replaced_by_webp_when_auto() {
        let square = Bytes::from(test_jpeg(300, 300));
        let big = spec(3000, 3000, Fit::Cover, OutputFormat::Avif, false);
        let refused = render(&square, &big, &LIMITS, &OUTPUT, &CancelFlag::default());
        assert!(
            matches!(refused, Err(PipelineError::ImageTooLarge(_))),
            "{refused:?}"
        );
        let auto = spec(3000, 3000, Fit::Cover, OutputFormat::Avif, true);
        let webp = render(&square, &auto, &LIMITS, &OUTPUT, &CancelFlag::default()).unwrap();
        assert_eq!((webp.content_type, webp.width), ("image/webp", 3000));
        let small = spec(2000, 2000, Fit::Cover, OutputFormat::Avif, false);
        let avif = render(&square, &small, &LIMITS, &OUTPUT, &CancelFlag::default()).unwrap();
        assert_eq!(avif.content_type, "image/avif");
    }

    /// The upload rule holds for transforms: a JPEG over `max_pixels` renders small when its
    /// DCT-scaled decode is under it, and is refused whole (the identity answer included).
    #[test]
    fn a_jpeg_over_max_pixels_renders_only_as_small_as_its_scaled_decode_allows() {
        let limits = PixelLimits {
            max_pixels: 1_000_000,
            max_declared_pixels: 10_000_000,
            max_side: 16384,
            animation: AnimationLimits::DEFAULT,
        };
        let jpeg = Bytes::from(test_jpeg(3000, 2000));
        let small = spec(300, 200, Fit::Cover, OutputFormat::Jpeg, false);
        let out = render(&jpeg, &small, &limits, &OUTPUT, &CancelFlag::default()).unwrap();
        assert_eq!((out.width, out.height), (300, 200));
        let identity = RenderSpec {
            target: TargetBox {
                width: None,
                height: None,
                fit: Fit::Inside,
                enlarge: false,
            },
            format: None,
            quality: DEFAULT_QUALITY,
            avif_speed: 10,
            auto_format: false,
        };
        for asked in [
            spec(2000, 2000, Fit::Inside, OutputFormat::Jpeg, false),
            identity,
        ] {
            let refused = render(&jpeg, &asked, &limits, &OUTPUT, &CancelFlag::default());
            assert!(
                matches!(&refused, Err(PipelineError::ImageTooLarge(m)) if m.to_string().contains("decodes to")),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn a_cancelled_render_stops_at_the_next_step() {
        let jpeg = Bytes::from(test_jpeg(640, 480));
        let cancel = CancelFlag::default();
        cancel.cancel();
        let asked = spec(320, 240, Fit::Cover, OutputFormat::Webp, false);
        let outcome = render(&jpeg, &asked, &LIMITS, &OUTPUT, &cancel);
        assert!(
            matches!(outcome, Err(PipelineError::Cancelled)),
            "{outcome:?}"
        );
    }

    /// VP8 stores studio-range Y'CbCr: planes copied in without the range change would come out
    /// washed out (dark greys lifted, brights dimmed), which the mean colour shows at once.
    #[test]
    fn webp_from_planes_keeps_the_colours() {
        let jpeg = Bytes::from(test_jpeg(1001, 701));
        let spec = RenderSpec {
            target: TargetBox {
                width: Some(500),
                height: None,
                fit: Fit::Inside,
                enlarge: false,
            },
            format: Some(OutputFormat::Webp),
            quality: 90,
            avif_speed: 10,
            auto_format: false,
        };
        let header = probe::probe(&jpeg, SourceFormat::Jpeg, &LIMITS).unwrap();
        let job = Job::Render {
            format: OutputFormat::Webp,
            padded: false,
        };
        assert!(
            route::takes_planes(&header, job),
            "the test must cover the planar path"
        );
        let webp = render(&jpeg, &spec, &LIMITS, &OUTPUT, &CancelFlag::default()).unwrap();
        assert_eq!(webp.content_type, "image/webp");
        let decoded = image::load_from_memory_with_format(&webp.bytes, image::ImageFormat::WebP)
            .unwrap()
            .into_rgb8();
        let whole = decode::plan(&header, (1001, 701), &LIMITS).unwrap();
        let full = decode::decode(&jpeg, &header, whole, &LIMITS).unwrap();
        let reference = resize::resize_region(full.pixels, full.area, (500, 350)).unwrap();
        // Against a full decode: what WebP's own loss costs, but no shift of the tones.
        // (Measured: 3.1 with the range change, 9.6 without it.)
        let error = mean_abs_diff(decoded.as_raw(), &reference.data);
        assert!(error < 5.0, "mean difference {error:.2}");
    }
}
