//! The frames of an animation, one at a time, each composited onto the full canvas (partial
//! frames, blending, and the previous frame's disposal applied) with how long it shows. GIF and
//! APNG through the `image` crate's frame iterators; WebP through libwebp's animation decoder,
//! which also refuses the malformed frames `image-webp` panics on (see `webp_frame`).

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::{AnimationDecoder, ImageDecoder};

use super::super::error::classify;
use super::super::{Layout, PipelineError, PixelLimits, Pixels, SourceFormat, webp_anim};

/// One composited frame and how long it shows.
pub struct Frame {
    pub pixels: Pixels,
    pub duration_ms: u32,
}

/// The frames of one file, decoded as they are asked for.
pub enum Frames<'a> {
    /// GIF and APNG: the `image` crate's compositing iterators.
    Image(image::Frames<'a>),
    Webp(webp_anim::Decoder<'a>),
}

impl<'a> Frames<'a> {
    /// The frames of `bytes`, a `width`×`height` animation in `format`, with the decoder's
    /// allocations bounded for that canvas.
    pub fn open(
        bytes: &'a [u8],
        format: SourceFormat,
        (width, height): (u32, u32),
        limits: &PixelLimits,
    ) -> Result<Self, PipelineError> {
        // The canvas, the frame being decoded and the one kept for disposal.
        let decoder_limits = limits.decoder_limits(width, height.saturating_mul(3), bytes.len());
        match format {
            SourceFormat::Gif => {
                let mut decoder = GifDecoder::new(Cursor::new(bytes)).map_err(classify)?;
                decoder.set_limits(decoder_limits).map_err(classify)?;
                Ok(Self::Image(decoder.into_frames()))
            }
            SourceFormat::Png => {
                let decoder = PngDecoder::with_limits(Cursor::new(bytes), decoder_limits)
                    .map_err(classify)?;
                Ok(Self::Image(decoder.apng().map_err(classify)?.into_frames()))
            }
            SourceFormat::Webp => Ok(Self::Webp(webp_anim::Decoder::new(bytes)?)),
            SourceFormat::Jpeg | SourceFormat::Bmp => {
                Err(PipelineError::internal("JPEG and BMP do not animate"))
            }
        }
    }

    /// The next frame, or `None` after the last.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, PipelineError> {
        match self {
            Self::Image(frames) => match frames.next() {
                None => Ok(None),
                Some(frame) => {
                    let frame = frame.map_err(classify)?;
                    let (numerator, denominator) = frame.delay().numer_denom_ms();
                    // Rounded: an APNG's 1/30 s is 33 ms, not a drift of 0.3 ms a frame.
                    let duration_ms = (u64::from(numerator) + u64::from(denominator / 2))
                        .checked_div(u64::from(denominator))
                        .map_or(0, |ms| u32::try_from(ms).unwrap_or(u32::MAX));
                    let buffer = frame.into_buffer();
                    Ok(Some(Frame {
                        pixels: Pixels {
                            width: buffer.width(),
                            height: buffer.height(),
                            layout: Layout::Rgba8,
                            data: buffer.into_raw(),
                        },
                        duration_ms,
                    }))
                }
            },
            Self::Webp(decoder) => Ok(decoder.next_frame()?.map(|(pixels, duration_ms)| Frame {
                pixels,
                duration_ms,
            })),
        }
    }
}
