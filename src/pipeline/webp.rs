//! Lossy WebP through libwebp 1.6 (the release sharp ships), from RGB(A) pixels or straight from
//! Y'CbCr planes. The `webp` crate pins libwebp 1.3 and takes only RGB(A), so this is the small
//! binding it would have been: one config, one picture, one memory writer, all freed on every
//! path by their guards.

use libwebp_sys as sys;

use super::planar::Planes;
use super::{Layout, PipelineError, Pixels};

fn failed(what: &str) -> PipelineError {
    PipelineError::Internal(format!("libwebp: {what}"))
}

fn side(value: u32) -> Result<i32, PipelineError> {
    i32::try_from(value).map_err(|_| failed("image side out of range"))
}

/// Encoder settings: libwebp's defaults (method 4, as sharp's default effort) at `quality`.
fn config(quality: u8) -> Result<sys::WebPConfig, PipelineError> {
    let mut config = std::mem::MaybeUninit::<sys::WebPConfig>::uninit();
    // SAFETY: the init function writes every field of the config it is given.
    let ok = unsafe {
        sys::WebPConfigInitInternal(
            config.as_mut_ptr(),
            sys::WebPPreset::WEBP_PRESET_DEFAULT,
            f32::from(quality),
            sys::WEBP_ENCODER_ABI_VERSION as i32,
        )
    };
    if ok == 0 {
        return Err(failed("config version mismatch"));
    }
    // SAFETY: initialised above.
    Ok(unsafe { config.assume_init() })
}

/// A `WebPPicture` that frees whatever libwebp allocated in it when dropped.
struct Picture(sys::WebPPicture);

impl Picture {
    fn new(width: u32, height: u32) -> Result<Self, PipelineError> {
        let mut picture = std::mem::MaybeUninit::<sys::WebPPicture>::uninit();
        // SAFETY: the init function writes every field of the picture it is given.
        let ok = unsafe {
            sys::WebPPictureInitInternal(picture.as_mut_ptr(), sys::WEBP_ENCODER_ABI_VERSION as i32)
        };
        if ok == 0 {
            return Err(failed("picture version mismatch"));
        }
        // SAFETY: initialised above.
        let mut picture = Self(unsafe { picture.assume_init() });
        picture.0.width = side(width)?;
        picture.0.height = side(height)?;
        Ok(picture)
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture was initialised; freeing an unallocated picture is a no-op.
        unsafe { sys::WebPPictureFree(&mut self.0) };
    }
}

/// The encoded bytes, collected by libwebp's memory writer.
struct Output(sys::WebPMemoryWriter);

impl Drop for Output {
    fn drop(&mut self) {
        // SAFETY: initialised by `encode`; clearing frees the buffer the writer grew.
        unsafe { sys::WebPMemoryWriterClear(&mut self.0) };
    }
}

fn encode(mut picture: Picture, quality: u8) -> Result<Vec<u8>, PipelineError> {
    let config = config(quality)?;
    // SAFETY: the writer is plain data (a null pointer and sizes), valid zeroed; the picture
    // points at it only for the duration of `WebPEncode`, while `output` is alive.
    let mut output = Output(unsafe { std::mem::zeroed() });
    let ok = unsafe {
        sys::WebPMemoryWriterInit(&mut output.0);
        picture.0.writer = Some(sys::WebPMemoryWrite);
        picture.0.custom_ptr = (&raw mut output.0).cast();
        sys::WebPEncode(&config, &mut picture.0)
    };
    if ok == 0 {
        return Err(failed(&format!(
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
    let mut picture = Picture::new(pixels.width, pixels.height)?;
    let channels = pixels.layout.channels();
    let stride = side(pixels.width)?
        .checked_mul(channels as i32)
        .ok_or_else(|| failed("row too long"))?;
    if pixels.data.len() != pixels.width as usize * pixels.height as usize * channels {
        return Err(failed("pixel buffer does not match its size"));
    }
    // SAFETY: `data` holds `height` rows of `stride` bytes, checked above; libwebp copies them.
    let ok = unsafe {
        match pixels.layout {
            Layout::Rgb8 => sys::WebPPictureImportRGB(&mut picture.0, pixels.data.as_ptr(), stride),
            Layout::Rgba8 => {
                sys::WebPPictureImportRGBA(&mut picture.0, pixels.data.as_ptr(), stride)
            }
        }
    };
    if ok == 0 {
        return Err(failed("out of memory importing pixels"));
    }
    encode(picture, quality)
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
    let (width, height) = (planes.width as usize, planes.height as usize);
    let (chroma_w, chroma_h) = planes.chroma_size();
    let (y_stride, uv_stride) = (picture.0.y_stride as usize, picture.0.uv_stride as usize);
    let (luma, chroma) = (luma_table(), chroma_table());
    // SAFETY: WebPPictureAlloc made `height` rows of `y_stride` bytes for Y and `(height+1)/2`
    // rows of `uv_stride` for U and V, with strides at least the row widths copied here.
    unsafe {
        copy_plane(planes.y(), width, height, picture.0.y, y_stride, &luma);
        copy_plane(
            planes.cb(),
            chroma_w,
            chroma_h,
            picture.0.u,
            uv_stride,
            &chroma,
        );
        copy_plane(
            planes.cr(),
            chroma_w,
            chroma_h,
            picture.0.v,
            uv_stride,
            &chroma,
        );
    }
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

/// # Safety
/// `dest` must point at `rows` rows of `dest_stride` bytes, `dest_stride >= width`.
unsafe fn copy_plane(
    source: &[u8],
    width: usize,
    rows: usize,
    dest: *mut u8,
    dest_stride: usize,
    table: &[u8; 256],
) {
    for (row, line) in source.chunks_exact(width).take(rows).enumerate() {
        // SAFETY: row < rows and width <= dest_stride, per the caller's promise.
        let out = unsafe { std::slice::from_raw_parts_mut(dest.add(row * dest_stride), width) };
        for (o, &v) in out.iter_mut().zip(line) {
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
}
