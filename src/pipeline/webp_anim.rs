//! Animated WebP through libwebp's own animation API: `WebPAnimEncoder` (frame by frame in,
//! one file out: it finds the part of each frame that changed, chooses blending and disposal,
//! and places key frames) and `WebPAnimDecoder` (frame by frame out, each composited onto the
//! canvas). Both hold one or two canvases, never the whole animation decoded. The handles are
//! freed by their guards on every path, as in `webp`.

use std::ffi::{CStr, c_int};

use libwebp_sys as sys;

use super::pixels::has_transparency;
use super::webp::{Picture, config, failed, side};
use super::{Layout, PipelineError, Pixels};

/// An animation being encoded: frames go in one at a time with their durations.
pub struct Encoder {
    handle: *mut sys::WebPAnimEncoder,
    config: sys::WebPConfig,
    width: u32,
    height: u32,
    /// When the next frame starts, in ms from the first.
    timestamp: c_int,
    /// Whether any frame added has a pixel that is not opaque.
    transparent: bool,
    /// Frames go in as ARGB (mixed mode), else as Y'CbCr.
    argb: bool,
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: `handle` came from WebPAnimEncoderNew and is deleted once, here.
        unsafe { sys::WebPAnimEncoderDelete(self.handle) };
    }
}

/// How the frames are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// VP8 at this quality, as still WebPs are written.
    Lossy(u8),
    /// Each frame as the smaller of lossless and lossy at this quality: for small-palette
    /// sources (stickers, drawings), where lossless is both exact and often smaller.
    Mixed(u8),
}

impl Encoder {
    /// An encoder for a `width`×`height` canvas played `loop_count` times (0: forever).
    pub fn new(
        width: u32,
        height: u32,
        loop_count: u32,
        compression: Compression,
    ) -> Result<Self, PipelineError> {
        // SAFETY: all-zero bytes are valid options (integers and padding); the init call then
        // sets every field for this ABI version.
        let mut options: sys::WebPAnimEncoderOptions = unsafe { std::mem::zeroed() };
        // SAFETY: `options` is valid and exclusively borrowed for the call's duration.
        let ok = unsafe {
            sys::WebPAnimEncoderOptionsInitInternal(
                &mut options,
                sys::WEBP_MUX_ABI_VERSION as c_int,
            )
        };
        if ok == 0 {
            return Err(failed("animation options version mismatch"));
        }
        options.anim_params.loop_count =
            c_int::try_from(loop_count.min(u32::from(u16::MAX))).unwrap_or(0);
        // Transparent: browsers ignore the background colour, viewers that honour it should
        // show what the source showed where no frame paints.
        options.anim_params.bgcolor = 0;
        let quality = match compression {
            Compression::Lossy(quality) => quality,
            Compression::Mixed(quality) => {
                options.allow_mixed = 1;
                quality
            }
        };
        // SAFETY: the options are initialised; the sides were checked to fit a c_int.
        let handle = unsafe {
            sys::WebPAnimEncoderNewInternal(
                side(width)?,
                side(height)?,
                &options,
                sys::WEBP_MUX_ABI_VERSION as c_int,
            )
        };
        if handle.is_null() {
            return Err(failed("could not create the animation encoder"));
        }
        Ok(Self {
            handle,
            config: config(quality)?,
            width,
            height,
            timestamp: 0,
            transparent: false,
            argb: matches!(compression, Compression::Mixed(_)),
        })
    }

    /// Adds a frame shown for `duration_ms`. Every frame is the canvas's size.
    pub fn add(&mut self, frame: &Pixels, duration_ms: u32) -> Result<(), PipelineError> {
        if (frame.width, frame.height) != (self.width, self.height) {
            return Err(failed("frame size differs from the canvas"));
        }
        self.transparent |= frame.layout == Layout::Rgba8 && has_transparency(&frame.data);
        // Lossy only: imported as Y'CbCr, which the encoder turns back into ARGB before it finds
        // the changed rectangles. The round trip smooths the frames a little, and the file comes
        // out the same as sharp's (libvips imports the same way): byte for byte on two benchmark
        // GIFs but for the background colour in the header. Imported as ARGB the output scored
        // the same SSIM but was 1.6-4.9 % larger.
        // Mixed: as ARGB, exact, so lossless can find the few colours and win: the smoothed
        // frames have hundreds (a 16-colour sticker: 16,602 B mixed from ARGB, 74,628 B from
        // Y'CbCr, where lossless never won).
        let mut picture = Picture::from_pixels(frame, self.argb)?;
        // SAFETY: the encoder is live, the picture initialised with the canvas's size, and the
        // config valid; the encoder copies what it keeps of the picture.
        let ok = unsafe {
            sys::WebPAnimEncoderAdd(self.handle, &mut picture.0, self.timestamp, &self.config)
        };
        if ok == 0 {
            return Err(self.error("adding a frame"));
        }
        let duration = c_int::try_from(duration_ms).map_err(|_| failed("frame too long"))?;
        self.timestamp = self
            .timestamp
            .checked_add(duration)
            .ok_or_else(|| failed("animation too long"))?;
        Ok(())
    }

    /// The finished file.
    pub fn finish(self) -> Result<Vec<u8>, PipelineError> {
        // SAFETY: a null frame marks the end (its timestamp closes the last frame's duration).
        let ok = unsafe {
            sys::WebPAnimEncoderAdd(
                self.handle,
                std::ptr::null_mut(),
                self.timestamp,
                std::ptr::null(),
            )
        };
        if ok == 0 {
            return Err(self.error("ending the animation"));
        }
        let mut data = sys::WebPData::default();
        // SAFETY: the encoder is live; on success `data` owns a buffer libwebp allocated.
        let ok = unsafe { sys::WebPAnimEncoderAssemble(self.handle, &mut data) };
        if ok == 0 || data.bytes.is_null() {
            return Err(self.error("assembling the animation"));
        }
        // SAFETY: libwebp wrote `size` bytes at `bytes`; they are copied, then freed once.
        let mut bytes = unsafe { std::slice::from_raw_parts(data.bytes, data.size) }.to_vec();
        // SAFETY: `data` holds the buffer Assemble allocated and nothing else frees it.
        unsafe { sys::WebPDataClear(&mut data) };
        if self.transparent {
            mark_alpha(&mut bytes);
        }
        Ok(bytes)
    }

    fn error(&self, what: &str) -> PipelineError {
        // SAFETY: the encoder is live; its error string lives as long as it does and is
        // copied before this returns.
        let message = unsafe { sys::WebPAnimEncoderGetError(self.handle) };
        let detail = if message.is_null() {
            String::new()
        } else {
            // SAFETY: a non-null message is a NUL-terminated string owned by the encoder.
            unsafe { CStr::from_ptr(message) }
                .to_string_lossy()
                .into_owned()
        };
        failed(format!("{what}: {detail}"))
    }
}

/// Sets the alpha flag of the `VP8X` header. libwebp sets it only when a frame it wrote carries
/// alpha data, but it crops fully transparent borders off the frames it writes: an animation
/// whose transparency lies only outside every frame rectangle (the canvas shows through) came
/// out flagged opaque, and decoders that trust the flag (Pillow, the `image` crate) painted the
/// transparent parts black. Browsers and libwebp show them transparent either way.
fn mark_alpha(webp: &mut [u8]) {
    const ALPHA: u8 = 0x10;
    if webp.get(12..16) == Some(b"VP8X")
        && let Some(flags) = webp.get_mut(20)
    {
        *flags |= ALPHA;
    }
}

/// An animated WebP being decoded: each call to [`Decoder::next_frame`] gives the next
/// frame composited onto the canvas.
pub struct Decoder<'a> {
    handle: *mut sys::WebPAnimDecoder,
    width: u32,
    height: u32,
    /// When the previous frame ended, in ms from the start.
    previous_end: c_int,
    /// The file: libwebp reads it in place for as long as the decoder lives.
    _bytes: std::marker::PhantomData<&'a [u8]>,
}

impl Drop for Decoder<'_> {
    fn drop(&mut self) {
        // SAFETY: `handle` came from WebPAnimDecoderNew and is deleted once, here.
        unsafe { sys::WebPAnimDecoderDelete(self.handle) };
    }
}

impl<'a> Decoder<'a> {
    pub fn new(bytes: &'a [u8]) -> Result<Self, PipelineError> {
        // SAFETY: all-zero bytes are valid options; the init call sets them for this ABI.
        let mut options: sys::WebPAnimDecoderOptions = unsafe { std::mem::zeroed() };
        // SAFETY: `options` is valid and exclusively borrowed for the call's duration.
        if unsafe { sys::WebPAnimDecoderOptionsInit(&mut options) } == 0 {
            return Err(failed("animation decoder version mismatch"));
        }
        options.color_mode = sys::WEBP_CSP_MODE::MODE_RGBA;
        options.use_threads = 0;
        let data = sys::WebPData {
            bytes: bytes.as_ptr(),
            size: bytes.len(),
        };
        // SAFETY: `data` points at `bytes`, which outlives the decoder (the lifetime `'a`);
        // libwebp parses it here and reads it again on each frame.
        let handle = unsafe { sys::WebPAnimDecoderNew(&data, &options) };
        if handle.is_null() {
            return Err(PipelineError::CorruptImage(
                "animated WebP: libwebp could not parse it".into(),
            ));
        }
        let mut info = sys::WebPAnimInfo::default();
        let mut decoder = Self {
            handle,
            width: 0,
            height: 0,
            previous_end: 0,
            _bytes: std::marker::PhantomData,
        };
        // SAFETY: the decoder is live and `info` is exclusively borrowed for the call.
        if unsafe { sys::WebPAnimDecoderGetInfo(decoder.handle, &mut info) } == 0 {
            return Err(failed("animation info"));
        }
        (decoder.width, decoder.height) = (info.canvas_width, info.canvas_height);
        Ok(decoder)
    }

    /// The next frame and how long it shows, or `None` after the last one.
    pub fn next_frame(&mut self) -> Result<Option<(Pixels, u32)>, PipelineError> {
        // SAFETY: the decoder is live.
        if unsafe { sys::WebPAnimDecoderHasMoreFrames(self.handle) } == 0 {
            return Ok(None);
        }
        let mut buffer: *mut u8 = std::ptr::null_mut();
        let mut end: c_int = 0;
        // SAFETY: the decoder is live; on success `buffer` points at its canvas, valid until
        // the next call, and is copied before then.
        let ok = unsafe { sys::WebPAnimDecoderGetNext(self.handle, &mut buffer, &mut end) };
        if ok == 0 || buffer.is_null() {
            return Err(PipelineError::CorruptImage(
                "animated WebP: a frame could not be decoded".into(),
            ));
        }
        let len = self.width as usize * self.height as usize * 4;
        // SAFETY: in RGBA mode the canvas is `width × height × 4` bytes (anim_decode.c).
        let data = unsafe { std::slice::from_raw_parts(buffer, len) }.to_vec();
        let duration = u32::try_from(end.saturating_sub(self.previous_end)).unwrap_or(0);
        self.previous_end = end;
        Ok(Some((
            Pixels {
                width: self.width,
                height: self.height,
                layout: Layout::Rgba8,
                data,
            },
            duration,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(width: u32, height: u32, rgba: [u8; 4]) -> Pixels {
        Pixels {
            width,
            height,
            layout: Layout::Rgba8,
            data: rgba.repeat((width * height) as usize),
        }
    }

    #[test]
    fn frames_durations_and_transparency_survive_a_round_trip() {
        let mut encoder = Encoder::new(8, 6, 3, Compression::Lossy(90)).unwrap();
        let colours = [[250, 0, 0, 255], [0, 250, 0, 255], [0, 0, 250, 0]];
        for (colour, duration) in colours.iter().zip([100, 0, 70]) {
            encoder.add(&solid(8, 6, *colour), duration).unwrap();
        }
        let bytes = encoder.finish().unwrap();
        let mut decoder = Decoder::new(&bytes).unwrap();
        let mut seen = Vec::new();
        while let Some((frame, duration)) = decoder.next_frame().unwrap() {
            seen.push((frame.data[..4].to_vec(), duration));
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(
            seen.iter().map(|(_, d)| *d).collect::<Vec<_>>(),
            [100, 0, 70]
        );
        assert!(seen[0].0[0] > 200 && seen[1].0[1] > 200, "{seen:?}");
        assert_eq!(seen[2].0[3], 0, "transparent frame");
    }

    /// The right half is transparent in every frame, so libwebp crops it off every frame it
    /// writes; the file must still say it has alpha.
    #[test]
    fn transparency_outside_every_frame_rectangle_is_flagged() {
        let half = |colour: [u8; 4]| {
            let mut frame = solid(8, 4, [0, 0, 0, 0]);
            for row in frame.data.chunks_exact_mut(8 * 4) {
                for px in row[..4 * 4].chunks_exact_mut(4) {
                    px.copy_from_slice(&colour);
                }
            }
            frame
        };
        let mut encoder = Encoder::new(8, 4, 0, Compression::Lossy(80)).unwrap();
        encoder.add(&half([250, 0, 0, 255]), 50).unwrap();
        encoder.add(&half([0, 250, 0, 255]), 50).unwrap();
        let bytes = encoder.finish().unwrap();
        assert_eq!(&bytes[12..16], b"VP8X");
        assert_ne!(bytes[20] & 0x10, 0, "alpha flag");
        let mut opaque = Encoder::new(8, 4, 0, Compression::Lossy(80)).unwrap();
        opaque.add(&solid(8, 4, [1, 2, 3, 255]), 50).unwrap();
        opaque.add(&solid(8, 4, [200, 2, 3, 255]), 50).unwrap();
        assert_eq!(opaque.finish().unwrap()[20] & 0x10, 0, "no alpha flag");
    }

    #[test]
    fn a_broken_file_is_refused_as_corrupt() {
        let mut encoder = Encoder::new(4, 4, 0, Compression::Lossy(80)).unwrap();
        encoder.add(&solid(4, 4, [1, 2, 3, 255]), 10).unwrap();
        encoder.add(&solid(4, 4, [200, 2, 3, 255]), 10).unwrap();
        let bytes = encoder.finish().unwrap();
        let cut = &bytes[..bytes.len() / 2];
        assert!(matches!(
            Decoder::new(cut).and_then(|mut d| d.next_frame().and(d.next_frame())),
            Err(PipelineError::CorruptImage(_))
        ));
    }
}
