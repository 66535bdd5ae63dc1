//! Test images and measures the pipeline's unit tests share.

use super::PixelLimits;

pub const LIMITS: PixelLimits = PixelLimits {
    max_pixels: 50_000_000,
    max_side: 16384,
};

/// A 4:2:0 JPEG q95 of coloured 64-px squares with a diagonal ramp: edges, chroma and
/// gradients, at sides no DCT scale divides.
pub fn test_jpeg(width: usize, height: usize) -> Vec<u8> {
    test_jpeg_subsampled(width, height, turbojpeg::Subsamp::Sub2x2)
}

pub fn test_jpeg_subsampled(width: usize, height: usize, subsamp: turbojpeg::Subsamp) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let square = (x / 64 + y / 64) % 2 == 0;
            let ramp = ((x + y) * 255 / (width + height)) as u8;
            rgb.extend_from_slice(&if square {
                [220, ramp, 40]
            } else {
                [30, 90, 255 - ramp]
            });
        }
    }
    let image = turbojpeg::Image {
        pixels: rgb.as_slice(),
        width,
        pitch: width * 3,
        height,
        format: turbojpeg::PixelFormat::RGB,
    };
    turbojpeg::compress(image, 95, subsamp).unwrap().to_vec()
}

pub fn rgb_of(jpeg: &[u8]) -> turbojpeg::Image<Vec<u8>> {
    turbojpeg::decompress(jpeg, turbojpeg::PixelFormat::RGB).unwrap()
}

/// BT.601 luma, as SSIM tools compute it.
pub fn luma(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| {
            let weighted = u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114;
            (weighted / 1000) as u8
        })
        .collect()
}

pub fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    sum as f64 / a.len() as f64
}
