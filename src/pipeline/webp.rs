//! Lossy WebP through libwebp 1.6 (the release sharp ships), from RGB(A) pixels or straight from
//! Y'CbCr planes. The `webp` crate pins libwebp 1.3 and takes only RGB(A), so this is the small
//! binding it would have been: one config, one picture, one memory writer, all freed on every
//! path by their guards. libwebp's structs start zeroed (every field is an integer, a float, a
//! pointer, an optional function or a C enum whose 0 is a variant), so no field is ever read
//! uninitialised, whichever ones a libwebp version's init functions leave alone.

use std::ffi::c_int;

use libwebp_sys as sys;

use super::planar::Planes;
use super::{Layout, PipelineError, Pixels};

pub(super) fn failed(what: impl Into<String>) -> PipelineError {
    PipelineError::internal(format!("libwebp: {}", what.into()))
}

pub(super) fn side(value: u32) -> Result<c_int, PipelineError> {
    c_int::try_from(value).map_err(|_| failed("image side out of range"))
}

/// Encoder settings: libwebp's defaults (method 4, as sharp's default effort) at `quality`.
pub(super) fn config(quality: u8) -> Result<sys::WebPConfig, PipelineError> {
    // SAFETY: all-zero bytes are a valid WebPConfig (see the module header).
    let mut config: sys::WebPConfig = unsafe { std::mem::zeroed() };
    // SAFETY: `config` is a valid, exclusively borrowed WebPConfig for the call's duration.
    let ok = unsafe {
        sys::WebPConfigInitInternal(
            &mut config,
            sys::WebPPreset::WEBP_PRESET_DEFAULT,
            f32::from(quality),
            sys::WEBP_ENCODER_ABI_VERSION as c_int,
        )
    };
    if ok == 0 {
        return Err(failed("config version mismatch"));
    }
    Ok(config)
}

/// A `WebPPicture` that frees whatever libwebp allocated in it when dropped.
pub(super) struct Picture(pub(super) sys::WebPPicture);

impl Picture {
    pub(super) fn new(width: u32, height: u32) -> Result<Self, PipelineError> {
        // SAFETY: all-zero bytes are a valid WebPPicture (see the module header), and a zeroed
        // picture owns no memory, so dropping it early is harmless.
        let mut picture = Self(unsafe { std::mem::zeroed() });
        // SAFETY: the picture is valid and exclusively borrowed for the call's duration.
        let ok = unsafe {
            sys::WebPPictureInitInternal(&mut picture.0, sys::WEBP_ENCODER_ABI_VERSION as c_int)
        };
        if ok == 0 {
            return Err(failed("picture version mismatch"));
        }
        picture.0.width = side(width)?;
        picture.0.height = side(height)?;
        Ok(picture)
    }

    /// The Y', U and V planes libwebp allocated, as slices: checked against the sizes about to
    /// be copied in rather than trusted.
    fn yuv_planes_mut(
        &mut self,
        (width, height): (usize, usize),
        (chroma_w, chroma_h): (usize, usize),
    ) -> Result<[(&mut [u8], usize); 3], PipelineError> {
        let p = &self.0;
        let y_stride = usize::try_from(p.y_stride).map_err(|_| failed("negative Y stride"))?;
        let uv_stride = usize::try_from(p.uv_stride).map_err(|_| failed("negative UV stride"))?;
        let fits = y_stride >= width
            && uv_stride >= chroma_w
            && usize::try_from(p.width).ok() == Some(width)
            && usize::try_from(p.height).ok() == Some(height)
            && chroma_h == height.div_ceil(2)
            && ![p.y, p.u, p.v].iter().any(|plane| plane.is_null());
        if !fits {
            return Err(failed("picture planes are not laid out as expected"));
        }
        let y_len = y_stride
            .checked_mul(height)
            .ok_or_else(|| failed("Y plane too large"))?;
        let uv_len = uv_stride
            .checked_mul(chroma_h)
            .ok_or_else(|| failed("UV plane too large"))?;
        // SAFETY: for a YUV420 picture, WebPPictureAlloc allocates `y_stride × height` bytes at
        // `y` and `uv_stride × ⌈height/2⌉` at each of `u` and `v` (picture_enc.c), three
        // separate regions that live until WebPPictureFree in `Drop`; `&mut self` keeps any
        // other access out while the slices live. Strides and sides were checked above.
        let planes = unsafe {
            [
                (std::slice::from_raw_parts_mut(p.y, y_len), y_stride),
                (std::slice::from_raw_parts_mut(p.u, uv_len), uv_stride),
                (std::slice::from_raw_parts_mut(p.v, uv_len), uv_stride),
            ]
        };
        Ok(planes)
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture is valid (zeroed or initialised); WebPPictureFree frees what
        // libwebp allocated in it and does nothing for a picture that owns no memory.
        unsafe { sys::WebPPictureFree(&mut self.0) };
    }
}

/// The encoded bytes, collected by libwebp's memory writer.
struct Output(sys::WebPMemoryWriter);

impl Drop for Output {
    fn drop(&mut self) {
        // SAFETY: the writer was initialised by WebPMemoryWriterInit in `encode`; clearing
        // frees the buffer it grew (and is a no-op on an empty one).
        unsafe { sys::WebPMemoryWriterClear(&mut self.0) };
    }
}

fn encode(mut picture: Picture, quality: u8) -> Result<Vec<u8>, PipelineError> {
    let config = config(quality)?;
    // SAFETY: the writer is plain data (a null pointer and sizes), valid when zeroed.
    let mut output = Output(unsafe { std::mem::zeroed() });
    // SAFETY: the writer is valid and exclusively borrowed for the call's duration.
    unsafe { sys::WebPMemoryWriterInit(&mut output.0) };
    picture.0.writer = Some(sys::WebPMemoryWrite);
    picture.0.custom_ptr = (&raw mut output.0).cast();
    // SAFETY: config and picture are initialised; the picture's writer points at `output`,
    // which outlives this call, and libwebp uses `custom_ptr` only during it.
    let ok = unsafe { sys::WebPEncode(&config, &mut picture.0) };
    picture.0.custom_ptr = std::ptr::null_mut();
    if ok == 0 {
        return Err(failed(format!(
            "encoding failed ({:?})",
            picture.0.error_code
        )));
    }
    if output.0.mem.is_null() {
        return Err(failed("no output"));
    }
    // SAFETY: libwebp wrote `size` bytes at `mem`, which stays valid until `output` drops.
    Ok(unsafe { std::slice::from_raw_parts(output.0.mem, output.0.size) }.to_vec())
}

/// From interleaved pixels: libwebp converts to Y'CbCr 4:2:0 itself (and keeps the alpha plane).
pub fn from_pixels(pixels: &Pixels, quality: u8) -> Result<Vec<u8>, PipelineError> {
    encode(Picture::from_pixels(pixels, false)?, quality)
}

impl Picture {
    /// A picture holding a copy of `pixels`: as ARGB when `argb` (exact, for lossless), else
    /// converted to Y'CbCr(A) 4:2:0 by libwebp.
    pub(super) fn from_pixels(pixels: &Pixels, argb: bool) -> Result<Self, PipelineError> {
        let mut picture = Picture::new(pixels.width, pixels.height)?;
        picture.0.use_argb = c_int::from(argb);
        let channels = pixels.layout.channels();
        let stride = side(pixels.width)?
            .checked_mul(channels as c_int)
            .ok_or_else(|| failed("row too long"))?;
        if pixels.data.len() != pixels.width as usize * pixels.height as usize * channels {
            return Err(failed("pixel buffer does not match its size"));
        }
        // SAFETY: `data` holds `height` rows of `stride` bytes (checked above) and outlives the
        // call; libwebp copies them into memory of its own.
        let ok = unsafe {
            match pixels.layout {
                Layout::Rgb8 => {
                    sys::WebPPictureImportRGB(&mut picture.0, pixels.data.as_ptr(), stride)
                }
                Layout::Rgba8 => {
                    sys::WebPPictureImportRGBA(&mut picture.0, pixels.data.as_ptr(), stride)
                }
            }
        };
        if ok == 0 {
            return Err(failed("out of memory importing pixels"));
        }
        Ok(picture)
    }
}

/// From full-range (JFIF) Y'CbCr 4:2:0 planes. VP8 stores studio-range BT.601, so the samples
/// are rescaled (Y' 0–255 → 16–235, Cb/Cr → 16–240) as they are copied in: the same values
/// libwebp's own RGB import would have computed, without the round trip through RGB.
pub fn from_planes(planes: &Planes, quality: u8) -> Result<Vec<u8>, PipelineError> {
    let mut picture = Picture::new(planes.width, planes.height)?;
    picture.0.use_argb = 0;
    picture.0.colorspace = sys::WebPEncCSP::WEBP_YUV420;
    // SAFETY: the picture is initialised with its size set; alloc sizes its planes from it.
    if unsafe { sys::WebPPictureAlloc(&mut picture.0) } == 0 {
        return Err(failed("out of memory allocating planes"));
    }
    let size = (planes.width as usize, planes.height as usize);
    let chroma = planes.chroma_size();
    let [y, u, v] = picture.yuv_planes_mut(size, chroma)?;
    let (luma, chroma_table) = (luma_table(), chroma_table());
    copy_plane(planes.y(), planes.luma_stride(), size, y, &luma);
    copy_plane(planes.cb(), chroma.0, chroma, u, &chroma_table);
    copy_plane(planes.cr(), chroma.0, chroma, v, &chroma_table);
    encode(picture, quality)
}

/// Full-range luma onto 16 + v·219/255, rounded.
fn luma_table() -> [u8; 256] {
    std::array::from_fn(|v| ((16 * 255 + v as u32 * 219 + 127) / 255) as u8)
}

/// Full-range chroma onto 128 + (v − 128)·224/255, rounded (kept in unsigned arithmetic:
/// 128·255 − 128·224 is added first).
fn chroma_table() -> [u8; 256] {
    std::array::from_fn(|v| ((128 * 31 + v as u32 * 224 + 127) / 255) as u8)
}

/// Copies `width`×`rows` samples from `source` (rows `source_stride` apart) into `dest` (rows
/// `dest_stride` apart), mapped through `table`.
fn copy_plane(
    source: &[u8],
    source_stride: usize,
    (width, rows): (usize, usize),
    (dest, dest_stride): (&mut [u8], usize),
    table: &[u8; 256],
) {
    let lines = source
        .chunks(source_stride)
        .zip(dest.chunks_mut(dest_stride));
    for (line, out) in lines.take(rows) {
        for (o, &v) in out[..width].iter_mut().zip(&line[..width]) {
            *o = table[usize::from(v)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn studio_range_keeps_the_ends_and_the_centre() {
        let luma = luma_table();
        assert_eq!((luma[0], luma[255]), (16, 235));
        let chroma = chroma_table();
        assert_eq!((chroma[0], chroma[128], chroma[255]), (16, 128, 240));
    }

    /// The planes of a picture laid out as WebPPictureAlloc lays out a 5×3 YUV420 one, in
    /// memory of the test's own, so Miri can check the slices without calling libwebp. The
    /// picture is never dropped: freeing it is libwebp's job, and this memory is not libwebp's.
    #[test]
    fn plane_slices_are_checked_against_the_sizes_copied_in() {
        let (y_stride, uv_stride) = (6usize, 3usize);
        let mut memory = vec![0u8; y_stride * 3 + 2 * uv_stride * 2];
        let (y, uv) = memory.split_at_mut(y_stride * 3);
        let (u, v) = uv.split_at_mut(uv_stride * 2);
        // SAFETY: all-zero bytes are a valid WebPPicture (see the module header).
        let mut raw: sys::WebPPicture = unsafe { std::mem::zeroed() };
        (raw.width, raw.height) = (5, 3);
        (raw.y, raw.u, raw.v) = (y.as_mut_ptr(), u.as_mut_ptr(), v.as_mut_ptr());
        (raw.y_stride, raw.uv_stride) = (y_stride as c_int, uv_stride as c_int);
        let mut picture = std::mem::ManuallyDrop::new(Picture(raw));
        let [(y, ys), (u, us), (v, vs)] = picture.yuv_planes_mut((5, 3), (3, 2)).unwrap();
        assert_eq!((y.len(), ys, u.len(), us, v.len(), vs), (18, 6, 6, 3, 6, 3));
        y.fill(1);
        u.fill(2);
        v.fill(3);
        assert!(
            picture.yuv_planes_mut((7, 3), (4, 2)).is_err(),
            "stride too short"
        );
        assert!(
            picture.yuv_planes_mut((5, 4), (3, 2)).is_err(),
            "not the picture's size"
        );
        picture.0.u = std::ptr::null_mut();
        assert!(
            picture.yuv_planes_mut((5, 3), (3, 2)).is_err(),
            "no U plane"
        );
        assert_eq!(memory.iter().filter(|&&b| b == 2).count(), 6);
    }

    #[test]
    fn planes_are_copied_row_by_row_across_strides() {
        let source = [0, 255, 9, 128, 128, 9];
        let mut dest = [7u8; 8];
        copy_plane(&source, 3, (2, 2), (&mut dest, 4), &luma_table());
        assert_eq!(dest, [16, 235, 7, 7, 126, 126, 7, 7]);
    }
}
