//! Step 6: turn the image upright according to its EXIF orientation, so the output needs none.

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage, RgbaImage};

use super::{Layout, PipelineError, Pixels};

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
    let mut image = image
        .ok_or_else(|| PipelineError::Internal("pixel buffer does not match its size".into()))?;
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

    #[test]
    fn flip_horizontal_mirrors_the_row() {
        let out = apply(red_blue(), Orientation::FlipHorizontal).unwrap();
        assert_eq!(out.data, vec![0, 0, 255, 255, 0, 0]);
    }
}
