//! Turns an image upright according to its EXIF orientation, so the output needs none, and maps
//! a decoded image area through the same turn. Uploads orient after the resize, transforms
//! before it (see `upload` and `render`).

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage, RgbaImage};

use super::fit::Region;
use super::{Layout, PipelineError, Pixels};

/// Where the image area `area` of a stored buffer lies once the buffer is turned upright.
/// `area` starts at the top left (a DCT-scaled decode ends in part of a block on the right and
/// bottom edges); turning moves those edges, and the area with them.
pub fn area_after(area: Region, orientation: Orientation) -> Region {
    let (cx, cy) = (area.width, area.height);
    let (left, top, width, height) = match orientation {
        Orientation::NoTransforms => (0.0, 0.0, cx, cy),
        Orientation::FlipHorizontal => (1.0 - cx, 0.0, cx, cy),
        Orientation::FlipVertical => (0.0, 1.0 - cy, cx, cy),
        Orientation::Rotate180 => (1.0 - cx, 1.0 - cy, cx, cy),
        Orientation::Rotate90 => (1.0 - cy, 0.0, cy, cx),
        Orientation::Rotate270 => (0.0, 1.0 - cx, cy, cx),
        Orientation::Rotate90FlipH => (0.0, 0.0, cy, cx),
        Orientation::Rotate270FlipH => (1.0 - cy, 1.0 - cx, cy, cx),
    };
    Region {
        left,
        top,
        width,
        height,
    }
}

pub fn apply(pixels: Pixels, orientation: Orientation) -> Result<Pixels, PipelineError> {
    if orientation == Orientation::NoTransforms {
        return Ok(pixels);
    }
    let Pixels {
        width,
        height,
        layout,
        data,
    } = pixels;
    let image = match layout {
        Layout::Rgb8 => RgbImage::from_raw(width, height, data).map(DynamicImage::ImageRgb8),
        Layout::Rgba8 => RgbaImage::from_raw(width, height, data).map(DynamicImage::ImageRgba8),
    };
    let mut image =
        image.ok_or_else(|| PipelineError::internal("pixel buffer does not match its size"))?;
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    let data = match image {
        DynamicImage::ImageRgba8(rgba) => rgba.into_raw(),
        other => other.into_rgb8().into_raw(),
    };
    Ok(Pixels {
        width,
        height,
        layout,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2×1 image: red then blue.
    fn red_blue() -> Pixels {
        Pixels {
            width: 2,
            height: 1,
            layout: Layout::Rgb8,
            data: vec![255, 0, 0, 0, 0, 255],
        }
    }

    #[test]
    fn rotate90_turns_a_row_into_a_column() {
        let out = apply(red_blue(), Orientation::Rotate90).unwrap();
        assert_eq!((out.width, out.height), (1, 2));
        assert_eq!(out.data, vec![255, 0, 0, 0, 0, 255]);
    }

    /// Every orientation moves the image area where `apply` moves its pixels: a 4×2 buffer whose
    /// last column and row are padding (3×1 of image) is turned, and the area must hold exactly
    /// the image pixels.
    #[test]
    fn the_image_area_follows_every_orientation() {
        let (w, h) = (4u32, 2u32);
        let data: Vec<u8> = (0..w * h)
            .flat_map(|i| {
                let image = i % w < 3 && i / w < 1;
                [if image { 255 } else { 0 }, 0, 0]
            })
            .collect();
        let area = Region {
            left: 0.0,
            top: 0.0,
            width: 0.75,
            height: 0.5,
        };
        for orientation in [
            Orientation::NoTransforms,
            Orientation::FlipHorizontal,
            Orientation::FlipVertical,
            Orientation::Rotate180,
            Orientation::Rotate90,
            Orientation::Rotate270,
            Orientation::Rotate90FlipH,
            Orientation::Rotate270FlipH,
        ] {
            let buffer = Pixels {
                width: w,
                height: h,
                layout: Layout::Rgb8,
                data: Vec::clone(&data),
            };
            let turned = apply(buffer, orientation).unwrap();
            let a = area_after(area, orientation);
            let (tw, th) = (f64::from(turned.width), f64::from(turned.height));
            for y in 0..turned.height {
                for x in 0..turned.width {
                    let (cx, cy) = ((f64::from(x) + 0.5) / tw, (f64::from(y) + 0.5) / th);
                    let inside =
                        cx > a.left && cx < a.left + a.width && cy > a.top && cy < a.top + a.height;
                    let red = turned.data[((y * turned.width + x) * 3) as usize] == 255;
                    assert_eq!(inside, red, "{orientation:?} at {x},{y}");
                }
            }
        }
    }

    #[test]
    fn flip_horizontal_mirrors_the_row() {
        let out = apply(red_blue(), Orientation::FlipHorizontal).unwrap();
        assert_eq!(out.data, vec![0, 0, 255, 255, 0, 0]);
    }
}
