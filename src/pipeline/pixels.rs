//! Decoded pixels (8-bit RGB or RGBA, rows packed) and the alpha operations every path needs:
//! whether anything is transparent, dropping an opaque alpha channel, laying an image on white.

use std::fmt;

/// Decoded pixels, 8 bits per channel, rows packed without padding.
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Rgb8,
    Rgba8,
}

impl Layout {
    pub fn channels(self) -> usize {
        match self {
            Self::Rgb8 => 3,
            Self::Rgba8 => 4,
        }
    }
}

impl Pixels {
    /// The pixels of a decoded image as 8-bit RGB, or RGBA when it has alpha: 16-bit, grey and
    /// palette images all come out that way.
    pub fn from_decoded(image: image::DynamicImage) -> Self {
        let (width, height) = (image.width(), image.height());
        let (layout, data) = if image.color().has_alpha() {
            (Layout::Rgba8, image.into_rgba8().into_raw())
        } else {
            (Layout::Rgb8, image.into_rgb8().into_raw())
        };
        Self {
            width,
            height,
            layout,
            data,
        }
    }

    /// Laid on white, without alpha (already opaque pixels are returned as they are).
    pub fn flattened_on_white(self) -> Self {
        if self.layout == Layout::Rgb8 {
            return self;
        }
        Self {
            layout: Layout::Rgb8,
            data: flatten_on_white(&self.data),
            ..self
        }
    }

    /// Without the alpha channel if nothing in it is transparent.
    pub fn without_opaque_alpha(self) -> Self {
        if self.layout == Layout::Rgb8 || has_transparency(&self.data) {
            return self;
        }
        Self {
            layout: Layout::Rgb8,
            data: drop_alpha(&self.data),
            ..self
        }
    }

    /// The same pixels with an opaque alpha channel, if they had none.
    pub fn into_rgba(self) -> Self {
        if self.layout == Layout::Rgba8 {
            return self;
        }
        let data = self
            .data
            .chunks_exact(3)
            .flat_map(|px| [px[0], px[1], px[2], u8::MAX])
            .collect();
        Self {
            layout: Layout::Rgba8,
            data,
            ..self
        }
    }
}

impl fmt::Debug for Pixels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Pixels({}x{} {:?})",
            self.width, self.height, self.layout
        )
    }
}

pub fn has_transparency(rgba: &[u8]) -> bool {
    rgba.chunks_exact(4).any(|px| px[3] != u8::MAX)
}

pub fn drop_alpha(rgba: &[u8]) -> Vec<u8> {
    let mut rgb = vec![0u8; rgba.len() / 4 * 3];
    for (out, px) in rgb.chunks_exact_mut(3).zip(rgba.chunks_exact(4)) {
        out.copy_from_slice(&px[..3]);
    }
    rgb
}

/// Alpha-composites onto white: what a transparent logo looks like on a page.
pub fn flatten_on_white(rgba: &[u8]) -> Vec<u8> {
    let mut rgb = vec![0u8; rgba.len() / 4 * 3];
    for (out, px) in rgb.chunks_exact_mut(3).zip(rgba.chunks_exact(4)) {
        let transparency = u32::from(u8::MAX - px[3]);
        for (o, &c) in out.iter_mut().zip(&px[..3]) {
            // c·a + 255·(1 − a) = c + (255 − c)·(1 − a): the colour pulled toward white.
            *o = c + div255_rounded(u32::from(u8::MAX - c) * transparency);
        }
    }
    rgb
}

/// `x / 255`, rounded, for `x <= 255 * 255`, without a division.
fn div255_rounded(x: u32) -> u8 {
    let t = x + 128;
    ((t + (t >> 8)) >> 8) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattening_matches_the_compositing_formula_for_every_colour_and_alpha() {
        for a in 0..=255u8 {
            let rgba: Vec<u8> = (0..=255u8).flat_map(|c| [c, c, c, a]).collect();
            let flat = flatten_on_white(&rgba);
            for c in 0..=255u8 {
                let (c32, a32) = (u32::from(c), u32::from(a));
                let expected = ((c32 * a32 + 255 * (255 - a32) + 127) / 255) as u8;
                assert_eq!(flat[usize::from(c) * 3], expected, "c {c} a {a}");
            }
        }
    }

    #[test]
    fn opaque_alpha_is_dropped_and_real_alpha_kept() {
        let pixels = |alpha| Pixels {
            width: 2,
            height: 1,
            layout: Layout::Rgba8,
            data: vec![1, 2, 3, 255, 4, 5, 6, alpha],
        };
        let opaque = pixels(255).without_opaque_alpha();
        assert_eq!(
            (opaque.layout, opaque.data),
            (Layout::Rgb8, vec![1, 2, 3, 4, 5, 6])
        );
        assert_eq!(pixels(0).without_opaque_alpha().layout, Layout::Rgba8);
    }
}
