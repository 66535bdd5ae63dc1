//! How alike two images are: SSIM on luma (8×8 windows), the mean colour of a region, and
//! reference frames made by Pillow (each frame composited by Pillow's own GIF, WebP and APNG
//! readers, resized with `Image.LANCZOS`), so outputs are judged against a decoder pixgate does
//! not share.

use std::process::Command;

use image::{Rgba, RgbaImage};

use super::animations::Rect;

/// `image` laid over an opaque `background` (non-premultiplied alpha), as luma (BT.601).
pub fn luma_over(image: &RgbaImage, background: [u8; 3]) -> Vec<f64> {
    image
        .pixels()
        .map(|p| {
            let a = f64::from(p.0[3]) / 255.0;
            let c = |i: usize| f64::from(p.0[i]) * a + f64::from(background[i]) * (1.0 - a);
            0.299 * c(0) + 0.587 * c(1) + 0.114 * c(2)
        })
        .collect()
}

/// `image` laid over an opaque `background` (non-premultiplied alpha).
pub fn flatten(image: &RgbaImage, background: [u8; 3]) -> image::RgbImage {
    image::RgbImage::from_fn(image.width(), image.height(), |x, y| {
        let p = image.get_pixel(x, y).0;
        let a = f64::from(p[3]) / 255.0;
        image::Rgb(std::array::from_fn(|i| {
            (f64::from(p[i]) * a + f64::from(background[i]) * (1.0 - a)).round() as u8
        }))
    })
}

/// Mean SSIM of two same-sized images' luma over `background`, on 8×8 windows every 4 px
/// (smaller images: one window of the whole image), with the usual constants for 8-bit data.
pub fn ssim(a: &RgbaImage, b: &RgbaImage, background: [u8; 3]) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "SSIM of different sizes");
    let (width, height) = a.dimensions();
    let (la, lb) = (luma_over(a, background), luma_over(b, background));
    let window = 8.min(width).min(height);
    let step = 4.min(window).max(1);
    const C1: f64 = (0.01 * 255.0) * (0.01 * 255.0);
    const C2: f64 = (0.03 * 255.0) * (0.03 * 255.0);
    let mut total = 0.0;
    let mut count = 0u32;
    let mut y = 0;
    while y + window <= height {
        let mut x = 0;
        while x + window <= width {
            let n = f64::from(window * window);
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for wy in y..y + window {
                for wx in x..x + window {
                    let i = (wy * width + wx) as usize;
                    let (va, vb) = (la[i], lb[i]);
                    sa += va;
                    sb += vb;
                    saa += va * va;
                    sbb += vb * vb;
                    sab += va * vb;
                }
            }
            let (ma, mb) = (sa / n, sb / n);
            let var_a = saa / n - ma * ma;
            let var_b = sbb / n - mb * mb;
            let cov = sab / n - ma * mb;
            total += ((2.0 * ma * mb + C1) * (2.0 * cov + C2))
                / ((ma * ma + mb * mb + C1) * (var_a + var_b + C2));
            count += 1;
            x += step;
        }
        y += step;
    }
    total / f64::from(count)
}

/// Mean of each RGBA channel over `rect`.
pub fn mean_rgba(image: &RgbaImage, rect: Rect) -> [f64; 4] {
    assert!(
        rect.x1 <= image.width()
            && rect.y1 <= image.height()
            && rect.x0 < rect.x1
            && rect.y0 < rect.y1,
        "{rect:?} outside {}x{}",
        image.width(),
        image.height()
    );
    let mut sum = [0.0; 4];
    for y in rect.y0..rect.y1 {
        for x in rect.x0..rect.x1 {
            let Rgba(p) = image.get_pixel(x, y);
            for c in 0..4 {
                sum[c] += f64::from(p[c]);
            }
        }
    }
    let n = f64::from((rect.x1 - rect.x0) * (rect.y1 - rect.y0));
    sum.map(|s| s / n)
}

/// Mean absolute difference of the alpha channels.
pub fn alpha_diff(a: &RgbaImage, b: &RgbaImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .pixels()
        .zip(b.pixels())
        .map(|(p, q)| u64::from(p.0[3].abs_diff(q.0[3])))
        .sum();
    total as f64 / f64::from(a.width() * a.height())
}

/// What Pillow makes of an animation.
pub struct PillowFrames {
    /// Each frame composited on the canvas, as RGBA, resized to the size asked for.
    pub frames: Vec<RgbaImage>,
    /// Each frame's duration as Pillow reads it, ms.
    pub durations_ms: Vec<u32>,
    /// `info["loop"]`, when the file says.
    pub loop_count: Option<u32>,
}

const PILLOW_FRAMES: &str = r#"
import json, sys
from PIL import Image
src, out, width, height = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
im = Image.open(src)
durations = []
for i in range(getattr(im, "n_frames", 1)):
    im.seek(i)
    im.load()
    durations.append(int(im.info.get("duration", 0) or 0))
    frame = im.convert("RGBA")
    if frame.size != (width, height):
        frame = frame.resize((width, height), Image.LANCZOS)
    frame.save(f"{out}/{i}.png")
im.seek(0)
print(json.dumps({"durations": durations, "loop": im.info.get("loop")}))
"#;

/// Every frame of `bytes` as Pillow composites it, resized to `size` with `Image.LANCZOS` (kept
/// as it is when already that size). Needs `python3` with Pillow (`scripts/setup` installs it).
pub fn pillow_frames(bytes: &[u8], size: (u32, u32)) -> PillowFrames {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("source");
    std::fs::write(&src, bytes).expect("source written");
    let out = dir.path().join("frames");
    std::fs::create_dir(&out).expect("frames dir");
    let run = Command::new("python3")
        .arg("-c")
        .arg(PILLOW_FRAMES)
        .arg(&src)
        .arg(&out)
        .arg(size.0.to_string())
        .arg(size.1.to_string())
        .output()
        .expect("python3 runs (scripts/setup installs it with Pillow)");
    assert!(
        run.status.success(),
        "Pillow failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&run.stdout).expect("Pillow's JSON");
    let durations_ms: Vec<u32> = info["durations"]
        .as_array()
        .expect("durations")
        .iter()
        .map(|d| d.as_u64().expect("a duration") as u32)
        .collect();
    let frames = (0..durations_ms.len())
        .map(|i| {
            image::open(out.join(format!("{i}.png")))
                .expect("Pillow's frame")
                .to_rgba8()
        })
        .collect();
    PillowFrames {
        frames,
        durations_ms,
        loop_count: info["loop"].as_u64().map(|l| l as u32),
    }
}

/// Checks that `output` is frame `expected` of `references` (frames at the output's size) and
/// no other: its SSIM against that frame is at least `floor`, and higher than against every
/// reference frame whose picture differs from it. Mean SSIM alone cannot tell two frames of a
/// small-motion animation apart (the corpus spinner's frames score 0.965 against each other
/// over grey), so the frame is picked by comparison. Returns the SSIM, or what went wrong.
pub fn identify(
    output: &RgbaImage,
    references: &[RgbaImage],
    expected: usize,
    background: [u8; 3],
    floor: f64,
) -> Result<f64, String> {
    let scores: Vec<f64> = references
        .iter()
        .map(|r| ssim(output, r, background))
        .collect();
    let score = scores[expected];
    if score < floor {
        return Err(format!(
            "SSIM {score:.4} against frame {expected}, under {floor}; all: {}",
            fmt_scores(&scores)
        ));
    }
    let picture = flatten(&references[expected], background);
    for (i, other) in references.iter().enumerate() {
        let differs = super::images::mean_abs_diff(&flatten(other, background), &picture) > 0.05;
        if differs && scores[i] >= score {
            return Err(format!(
                "as like frame {i} ({:.4}) as frame {expected} ({score:.4}); all: {}",
                scores[i],
                fmt_scores(&scores)
            ));
        }
    }
    Ok(score)
}

fn fmt_scores(scores: &[f64]) -> String {
    scores
        .iter()
        .map(|s| format!("{s:.4}"))
        .collect::<Vec<_>>()
        .join(" ")
}
