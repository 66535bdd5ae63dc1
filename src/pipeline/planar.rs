//! The Y'CbCr fast path, for colour JPEGs going out as JPEG or WebP. A JPEG stores Y'CbCr with
//! subsampled chroma, and both encoders want exactly that back. The RGB path upsamples the
//! chroma, converts to RGB, resamples three full-size channels, then the encoder converts back
//! and subsamples again. Here libjpeg-turbo hands out its planes as decoded (DCT-scaled as on the
//! RGB path), each plane is resampled on its own (luma to the output size, chroma straight to
//! the output's 4:2:0 size: half the samples of one RGB channel) and the encoder takes them as
//! they are. The colour conversions are linear, so the pixels are the RGB path's within
//! rounding, for about half the work and half the memory.
//!
//! Used only where nothing needs RGB: no colour profile to convert, no alpha, no padding
//! (`route::takes_planes` decides). A plane layout this module does not know is not an error:
//! [`decode`] answers [`PlaneDecode::Refused`] and the file takes the RGB path.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{PixelType, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, GrayImage};
use turbojpeg::YuvImage;

use super::error::corrupt;
use super::fit::Region;
use super::{Header, PipelineError, Pixels, decode, resize};

/// Full-range (JFIF) Y'CbCr planes in one buffer: Y', then Cb, then Cr.
///
/// libjpeg-turbo pads the luma plane to whole chroma samples (`luma_stored`, a row or column
/// more at odd sides), and each chroma sample covers `chroma_factor` luma pixels; so the image
/// covers `luma_extent / factor` chroma samples, which may end part-way into the last one.
/// Planes pixgate makes are exact: luma `width`×`height`, chroma 4:2:0 rounded up.
pub struct Planes {
    pub width: u32,
    pub height: u32,
    /// The image's exact extent in the luma plane (fractional after a DCT-scaled decode: see
    /// `decode::Decoded`).
    luma_extent: (f64, f64),
    luma_stored: (u32, u32),
    chroma: (u32, u32),
    chroma_factor: (u32, u32),
    data: Vec<u8>,
}

impl Planes {
    /// Output planes: chroma at 4:2:0, the only subsampling pixgate writes.
    fn for_output(width: u32, height: u32) -> Self {
        let chroma = (width.div_ceil(2), height.div_ceil(2));
        Self::output_with(
            width,
            height,
            vec![0; area((width, height)) + 2 * area(chroma)],
        )
    }

    /// Output planes holding `data`, laid out as [`Planes::for_output`] lays them.
    fn output_with(width: u32, height: u32, data: Vec<u8>) -> Self {
        Self {
            width,
            height,
            luma_extent: (f64::from(width), f64::from(height)),
            luma_stored: (width, height),
            chroma: (width.div_ceil(2), height.div_ceil(2)),
            chroma_factor: (2, 2),
            data,
        }
    }

    /// Full-range Y'CbCr 4:2:0 from RGB(A) pixels (alpha is not carried), with the JFIF
    /// coefficients libjpeg-turbo decodes with, so planes made here and planes from a JPEG mean
    /// the same. Each chroma sample is the mean of the (up to) 2×2 pixels it covers.
    pub fn from_pixels(pixels: &Pixels) -> Self {
        let (width, height) = (pixels.width as usize, pixels.height as usize);
        let channels = pixels.layout.channels();
        let mut planes = Self::for_output(pixels.width, pixels.height);
        let (chroma_width, chroma_height) = planes.chroma_size();
        let rgb = |x: usize, y: usize| {
            let at = (y * width + x) * channels;
            let px = &pixels.data[at..at + 3];
            [f32::from(px[0]), f32::from(px[1]), f32::from(px[2])]
        };
        let [(luma, _), (cb, _), (cr, _)] = planes.planes_mut();
        for y in 0..height {
            for x in 0..width {
                let [r, g, b] = rgb(x, y);
                luma[y * width + x] = sample(0.299 * r + 0.587 * g + 0.114 * b);
            }
        }
        for cy in 0..chroma_height {
            for cx in 0..chroma_width {
                let (xs, ys) = (
                    2 * cx..(2 * cx + 2).min(width),
                    2 * cy..(2 * cy + 2).min(height),
                );
                let count = (xs.len() * ys.len()) as f32;
                let mut sum = [0f32; 3];
                for y in ys {
                    for x in xs.clone() {
                        for (total, v) in sum.iter_mut().zip(rgb(x, y)) {
                            *total += v;
                        }
                    }
                }
                let [r, g, b] = sum.map(|total| total / count);
                cb[cy * chroma_width + cx] = sample(128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b);
                cr[cy * chroma_width + cx] = sample(128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b);
            }
        }
        planes
    }

    pub fn chroma_size(&self) -> (usize, usize) {
        (self.chroma.0 as usize, self.chroma.1 as usize)
    }

    /// Each plane with its stored size and the image's extent in it: Y', Cb, Cr.
    fn planes(&self) -> [Plane<'_>; 3] {
        let (y, chroma) = self.data.split_at(area(self.luma_stored));
        let (cb, cr) = chroma.split_at(area(self.chroma));
        let luma_extent = self.luma_extent;
        let chroma_extent = (
            luma_extent.0 / f64::from(self.chroma_factor.0),
            luma_extent.1 / f64::from(self.chroma_factor.1),
        );
        let plane = |data, size, extent| Plane { data, size, extent };
        [
            plane(y, self.luma_stored, luma_extent),
            plane(cb, self.chroma, chroma_extent),
            plane(cr, self.chroma, chroma_extent),
        ]
    }

    fn planes_mut(&mut self) -> [(&mut [u8], (u32, u32)); 3] {
        let (y, chroma) = self.data.split_at_mut(area(self.luma_stored));
        let (cb, cr) = chroma.split_at_mut(area(self.chroma));
        [(y, self.luma_stored), (cb, self.chroma), (cr, self.chroma)]
    }

    /// The luma plane, `luma_stride()` bytes a row.
    pub fn y(&self) -> &[u8] {
        self.planes()[0].data
    }

    pub fn luma_stride(&self) -> usize {
        self.luma_stored.0 as usize
    }

    pub fn cb(&self) -> &[u8] {
        self.planes()[1].data
    }

    pub fn cr(&self) -> &[u8] {
        self.planes()[2].data
    }
}

/// A computed sample, rounded into 0–255.
fn sample(value: f32) -> u8 {
    value.round().clamp(0.0, 255.0) as u8
}

fn area((width, height): (u32, u32)) -> usize {
    width as usize * height as usize
}

/// What the planar decode made of a file.
pub enum PlaneDecode {
    Decoded(Planes),
    /// A layout the planar path does not handle; the RGB path takes the file (not an error).
    Refused(String),
}

impl PlaneDecode {
    /// The planes, or `None` after logging (at debug) why the RGB path takes the file.
    pub fn accepted(self) -> Option<Planes> {
        match self {
            Self::Decoded(planes) => Some(planes),
            Self::Refused(why) => {
                tracing::debug!(%why, "planar path refused the file; taking the RGB path");
                None
            }
        }
    }
}

/// Decodes to planes, shrunk in the DCT domain as `plan` says.
pub fn decode(
    bytes: &[u8],
    header: &Header,
    plan: decode::DecodePlan,
) -> Result<PlaneDecode, PipelineError> {
    let Some(subsamp) = header.planar_subsampling else {
        return Ok(PlaneDecode::Refused(
            "not a subsampling decoded to planes".into(),
        ));
    };
    let scale = plan.scale;
    let mut decompressor = decode::jpeg_decompressor(scale)?;
    let scaled = decode::scaled_size(header, scale);
    let (width, height) = (side(scaled.width)?, side(scaled.height)?);
    let (h_factor, v_factor) = subsamp.size();
    let chroma_factor = (side(h_factor)?, side(v_factor)?);
    let chroma = (
        width.div_ceil(chroma_factor.0),
        height.div_ceil(chroma_factor.1),
    );
    let luma_stored = (chroma.0 * chroma_factor.0, chroma.1 * chroma_factor.1);
    let mut planes = Planes {
        width,
        height,
        luma_extent: (
            decode::scaled_extent(header.width, scale),
            decode::scaled_extent(header.height, scale),
        ),
        luma_stored,
        chroma,
        chroma_factor,
        data: vec![0; area(luma_stored) + 2 * area(chroma)],
    };
    let expected = turbojpeg::yuv_pixels_len(scaled.width, 1, scaled.height, subsamp);
    if expected.as_ref().ok() != Some(&planes.data.len()) {
        return Ok(PlaneDecode::Refused(format!(
            "plane layout mismatch: libjpeg-turbo gives {expected:?} bytes, {} computed",
            planes.data.len()
        )));
    }
    decompressor
        .decompress_to_yuv(
            bytes,
            YuvImage {
                pixels: planes.data.as_mut_slice(),
                width: scaled.width,
                align: 1,
                height: scaled.height,
                subsamp,
            },
        )
        .map_err(corrupt)?;
    Ok(PlaneDecode::Decoded(planes))
}

fn side(value: usize) -> Result<u32, PipelineError> {
    u32::try_from(value).map_err(PipelineError::internal)
}

/// Resamples `region` of every plane to a `width`×`height` 4:2:0 image, Lanczos3 as the RGB
/// path does.
pub fn resize(
    source: &Planes,
    region: Region,
    (width, height): (u32, u32),
) -> Result<Planes, PipelineError> {
    let mut out = Planes::for_output(width, height);
    let mut resizer = Resizer::new();
    for (plane, (dst, dst_size)) in source.planes().into_iter().zip(out.planes_mut()) {
        resize_plane(&mut resizer, plane, region, dst, dst_size)?;
    }
    Ok(out)
}

/// One source plane: its samples, stored size, and the image's extent in it.
struct Plane<'a> {
    data: &'a [u8],
    size: (u32, u32),
    extent: (f64, f64),
}

fn resize_plane(
    resizer: &mut Resizer,
    src: Plane<'_>,
    region: Region,
    dst: &mut [u8],
    (dst_w, dst_h): (u32, u32),
) -> Result<(), PipelineError> {
    let (w, h) = src.extent;
    let exact = (f64::from(src.size.0), f64::from(src.size.1)) == (w, h);
    if region.is_whole() && exact && src.size == (dst_w, dst_h) {
        dst.copy_from_slice(src.data);
        return Ok(());
    }
    let (src_w, src_h) = src.size;
    let src =
        ImageRef::new(src_w, src_h, src.data, PixelType::U8).map_err(PipelineError::internal)?;
    let mut dst =
        Image::from_slice_u8(dst_w, dst_h, dst, PixelType::U8).map_err(PipelineError::internal)?;
    let options = resize::lanczos3_over(region, (w, h));
    resizer
        .resize(&src, &mut dst, &options)
        .map_err(PipelineError::internal)
}

/// Turns pixgate's own 4:2:0 planes upright (quarter turns swap both planes' sides). With an odd
/// side the last chroma sample reaches half a pixel past the edge; a flip moves that half pixel
/// to the other edge, a shift of a quarter chroma sample nobody can see.
pub fn orient(planes: Planes, orientation: Orientation) -> Result<Planes, PipelineError> {
    if orientation == Orientation::NoTransforms {
        return Ok(planes);
    }
    if planes.luma_stored != (planes.width, planes.height) || planes.chroma_factor != (2, 2) {
        return Err(PipelineError::internal(
            "only output planes are turned upright",
        ));
    }
    let mut turned: Vec<GrayImage> = Vec::with_capacity(3);
    for plane in planes.planes() {
        let (width, height) = plane.size;
        let gray = GrayImage::from_raw(width, height, plane.data.to_vec())
            .ok_or_else(|| PipelineError::internal("plane does not match its size"))?;
        let mut image = DynamicImage::ImageLuma8(gray);
        image.apply_orientation(orientation);
        turned.push(image.into_luma8());
    }
    let (width, height) = turned[0].dimensions();
    let mut data = Vec::with_capacity(planes.data.len());
    for plane in turned {
        data.extend_from_slice(plane.as_raw());
    }
    Ok(Planes::output_with(width, height, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planes(width: u32, height: u32) -> Planes {
        let mut planes = Planes::for_output(width, height);
        for (i, v) in planes.data.iter_mut().enumerate() {
            *v = (i % 251) as u8;
        }
        planes
    }

    #[test]
    fn odd_sizes_round_the_chroma_up() {
        let p = Planes::for_output(5, 3);
        assert_eq!(p.chroma_size(), (3, 2));
        assert_eq!((p.y().len(), p.cb().len(), p.cr().len()), (15, 6, 6));
    }

    #[test]
    fn quarter_turns_swap_every_plane() {
        let turned = orient(planes(5, 3), Orientation::Rotate90).unwrap();
        assert_eq!((turned.width, turned.height), (3, 5));
        assert_eq!(turned.chroma_size(), (2, 3));
        assert_eq!(turned.data.len(), 15 + 2 * 6);
    }

    #[test]
    fn a_flat_image_stays_flat_through_the_resize() {
        let mut flat = Planes::for_output(40, 30);
        flat.data.fill(77);
        let out = resize(&flat, Region::WHOLE, (13, 9)).unwrap();
        assert_eq!(out.chroma_size(), (7, 5));
        assert!(out.data.iter().all(|&v| v == 77));
    }
}
