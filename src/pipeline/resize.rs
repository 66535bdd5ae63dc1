//! The resize: the box of each upload preset, and resampling (Lanczos3 through
//! `fast_image_resize`, alpha-aware) of a region of an image to a size, plus the `contain`
//! padding of transforms. Presets keep the aspect ratio, never enlarge, and never round a side
//! down to 0 px. Uploads resize before turning the image upright (the small image is cheaper to
//! rotate); transforms after (their crops are planned on the upright image).

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::fit::Region;
use super::{Layout, PipelineError, Pixels};

/// The size rules of the two upload types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Fit inside 200×200.
    Profile,
    /// The Android display preset: fit inside 1920×1080, or 1080×1920 for portrait images.
    Image,
}

impl Preset {
    fn bounds(self, width: u32, height: u32) -> (u32, u32) {
        match self {
            Self::Profile => (200, 200),
            Self::Image if width >= height => (1920, 1080),
            Self::Image => (1080, 1920),
        }
    }

    /// The output size for an upright `width`×`height` image.
    pub fn fit(self, width: u32, height: u32) -> (u32, u32) {
        let (max_w, max_h) = self.bounds(width, height);
        fit_inside(width, height, max_w, max_h)
    }
}

/// Largest size with the same aspect ratio inside `max_w`×`max_h`, never larger than the
/// source and never 0 on a side.
pub fn fit_inside(width: u32, height: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    if width <= max_w && height <= max_h {
        return (width, height);
    }
    let (w, h, mw, mh) = (
        u64::from(width),
        u64::from(height),
        u64::from(max_w),
        u64::from(max_h),
    );
    // Whichever side hits its bound first decides the scale; the other is rounded to nearest.
    let (out_w, out_h) = if w * mh >= h * mw {
        (mw, (h * mw * 2 + w) / (2 * w))
    } else {
        ((w * mh * 2 + h) / (2 * h), mh)
    };
    // Both values are at most the u32 bounds they were derived from.
    (out_w.clamp(1, mw) as u32, out_h.clamp(1, mh) as u32)
}

/// Resamples `region` of `source` to `width`×`height` in one pass (the crop is sub-pixel
/// exact, so a centre crop of an odd size stays centred).
pub fn resize_region(
    source: Pixels,
    region: Region,
    (width, height): (u32, u32),
) -> Result<Pixels, PipelineError> {
    if region.is_whole() && (source.width, source.height) == (width, height) {
        return Ok(source);
    }
    let pixel_type = match source.layout {
        Layout::Rgb8 => PixelType::U8x3,
        Layout::Rgba8 => PixelType::U8x4,
    };
    let layout = source.layout;
    let src = Image::from_vec_u8(source.width, source.height, source.data, pixel_type)
        .map_err(PipelineError::internal)?;
    let mut dst = Image::new(width, height, pixel_type);
    let extent = (f64::from(src.width()), f64::from(src.height()));
    let options = lanczos3_over(region, extent);
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(PipelineError::internal)?;
    Ok(Pixels {
        width,
        height,
        layout,
        data: dst.into_vec(),
    })
}

/// The resampling every path uses: Lanczos3 over `region` of an image whose extent is
/// `width`×`height` pixels (fractional where a scaled decode ends part-way into a block).
pub(super) fn lanczos3_over(region: Region, (width, height): (f64, f64)) -> ResizeOptions {
    ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3))
        .crop(
            region.left * width,
            region.top * height,
            region.width * width,
            region.height * height,
        )
}

/// Centres `image` on a transparent `width`×`height` canvas (`fit=contain`).
pub fn pad_to_canvas(image: Pixels, (width, height): (u32, u32)) -> Pixels {
    if (image.width, image.height) == (width, height) {
        return image;
    }
    let rgba = image.into_rgba();
    let mut data = vec![0u8; width as usize * height as usize * 4];
    let left = (width.saturating_sub(rgba.width) / 2) as usize;
    let top = (height.saturating_sub(rgba.height) / 2) as usize;
    let row_bytes = rgba.width as usize * 4;
    for (y, row) in rgba.data.chunks_exact(row_bytes).enumerate() {
        let start = ((top + y) * width as usize + left) * 4;
        if let Some(dest) = data.get_mut(start..start + row_bytes) {
            dest.copy_from_slice(row);
        }
    }
    Pixels {
        width,
        height,
        layout: Layout::Rgba8,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_ratio_never_enlarges_and_never_reaches_zero() {
        let cases = [
            ((4000, 3000), (200, 200), (200, 150)),
            ((3000, 4000), (200, 200), (150, 200)),
            ((100, 80), (200, 200), (100, 80)),
            ((10000, 50), (200, 200), (200, 1)),
            ((50, 10000), (200, 200), (1, 200)),
            ((100000, 1), (200, 200), (200, 1)),
            ((2725, 2225), (200, 200), (200, 163)),
            ((4000, 3000), (1920, 1080), (1440, 1080)),
            ((200, 200), (200, 200), (200, 200)),
        ];
        for ((w, h), (mw, mh), expected) in cases {
            assert_eq!(fit_inside(w, h, mw, mh), expected, "{w}x{h} in {mw}x{mh}");
        }
    }

    #[test]
    fn display_preset_follows_the_image_orientation() {
        assert_eq!(Preset::Image.fit(4000, 3000), (1440, 1080));
        assert_eq!(Preset::Image.fit(3000, 4000), (1080, 1440));
        assert_eq!(Preset::Image.fit(2000, 2000), (1080, 1080));
        assert_eq!(Preset::Image.fit(1920, 1080), (1920, 1080));
        assert_eq!(Preset::Profile.fit(600, 450), (200, 150));
    }

    #[test]
    fn padding_centres_the_image_on_transparency() {
        let image = Pixels {
            width: 2,
            height: 1,
            layout: Layout::Rgb8,
            data: vec![255; 6],
        };
        let padded = pad_to_canvas(image, (2, 3));
        assert_eq!(
            (padded.width, padded.height, padded.layout),
            (2, 3, Layout::Rgba8)
        );
        assert_eq!(&padded.data[..8], &[0; 8]);
        assert_eq!(&padded.data[8..16], &[255; 8]);
        assert_eq!(&padded.data[16..], &[0; 8]);
    }

    #[test]
    fn resize_produces_the_requested_size() {
        let source = Pixels {
            width: 40,
            height: 30,
            layout: Layout::Rgba8,
            data: vec![200; 40 * 30 * 4],
        };
        let out = resize_region(source, Region::WHOLE, (20, 15)).unwrap();
        assert_eq!(
            (out.width, out.height, out.data.len()),
            (20, 15, 20 * 15 * 4)
        );
        assert!(out.data.iter().all(|&v| v == 200));
    }
}
