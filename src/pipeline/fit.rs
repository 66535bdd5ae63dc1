//! Geometry of a transform: from the source size, the requested box and the fit mode, which
//! part of the source is kept, what size it is resampled to, and on what canvas it lands.
//! Pure arithmetic, so every mode is unit-tested without an image.

/// How an image is fitted into a `w`×`h` box; sharp's meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Fill the box, cropping the overflow around the centre.
    Cover,
    /// Fit inside the box and pad the rest, so the output is exactly the box.
    Contain,
    /// Stretch to the box, ignoring the aspect ratio.
    Fill,
    /// Largest size inside the box, aspect ratio kept.
    Inside,
    /// Smallest size covering the box, aspect ratio kept.
    Outside,
}

impl Fit {
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "cover" => Self::Cover,
            "contain" => Self::Contain,
            "fill" => Self::Fill,
            "inside" => Self::Inside,
            "outside" => Self::Outside,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Cover => "cover",
            Self::Contain => "contain",
            Self::Fill => "fill",
            Self::Inside => "inside",
            Self::Outside => "outside",
        }
    }
}

/// The size asked for. With one side only, the other follows the aspect ratio and `fit` does
/// not matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetBox {
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub fit: Fit,
    /// Whether the source may be scaled up.
    pub enlarge: bool,
}

/// Part of the source, as fractions of its width and height (so it applies to a source decoded
/// at any scale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Region {
    pub const WHOLE: Self = Self {
        left: 0.0,
        top: 0.0,
        width: 1.0,
        height: 1.0,
    };

    pub fn is_whole(&self) -> bool {
        *self == Self::WHOLE
    }

    /// This region of `outer` (itself a region of some buffer), as fractions of that buffer.
    pub fn within(self, outer: Region) -> Region {
        Region {
            left: outer.left + self.left * outer.width,
            top: outer.top + self.top * outer.height,
            width: self.width * outer.width,
            height: self.height * outer.height,
        }
    }
}

/// What to do to an upright `source` to answer a [`TargetBox`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    /// The whole source at the resampling scale: a decoder may shrink to this and no further.
    pub scaled_source: (u32, u32),
    pub region: Region,
    /// Size the region is resampled to.
    pub resized: (u32, u32),
    /// `contain` only: the box the resized image is centred on.
    pub canvas: Option<(u32, u32)>,
}

impl Plan {
    /// Width and height of the image produced.
    pub fn output(&self) -> (u32, u32) {
        self.canvas.unwrap_or(self.resized)
    }
}

pub fn plan((source_w, source_h): (u32, u32), target: TargetBox) -> Plan {
    let (sw, sh) = (f64::from(source_w), f64::from(source_h));
    let clamp = |scale: f64| {
        if target.enlarge {
            scale
        } else {
            scale.min(1.0)
        }
    };
    let whole = |scale: f64| {
        let size = scaled((sw, sh), scale);
        Plan {
            scaled_source: size,
            region: Region::WHOLE,
            resized: size,
            canvas: None,
        }
    };
    let (w, h) = match (target.width, target.height) {
        (None, None) => return whole(1.0),
        (Some(w), None) => return whole(clamp(f64::from(w) / sw)),
        (None, Some(h)) => return whole(clamp(f64::from(h) / sh)),
        (Some(w), Some(h)) => (f64::from(w), f64::from(h)),
    };
    let (scale_w, scale_h) = (w / sw, h / sh);
    match target.fit {
        Fit::Inside => whole(clamp(scale_w.min(scale_h))),
        Fit::Outside => whole(clamp(scale_w.max(scale_h))),
        Fit::Contain => Plan {
            canvas: Some((w as u32, h as u32)),
            ..whole(clamp(scale_w.min(scale_h)))
        },
        Fit::Fill => {
            let out = (clamp(scale_w) * sw, clamp(scale_h) * sh);
            let size = (round_side(out.0), round_side(out.1));
            Plan {
                scaled_source: size,
                region: Region::WHOLE,
                resized: size,
                canvas: None,
            }
        }
        Fit::Cover => cover((sw, sh), (w, h), clamp(scale_w.max(scale_h))),
    }
}

/// Scale so the box is covered, keep the centred part the size of the box (or of the scaled
/// source, when it may not be enlarged and is smaller than the box).
fn cover((sw, sh): (f64, f64), (w, h): (f64, f64), scale: f64) -> Plan {
    let out_w = w.min(sw * scale).round().max(1.0);
    let out_h = h.min(sh * scale).round().max(1.0);
    let region_w = (out_w / scale / sw).min(1.0);
    let region_h = (out_h / scale / sh).min(1.0);
    Plan {
        scaled_source: (ceil_side(sw * scale), ceil_side(sh * scale)),
        region: Region {
            left: (1.0 - region_w) / 2.0,
            top: (1.0 - region_h) / 2.0,
            width: region_w,
            height: region_h,
        },
        resized: (out_w as u32, out_h as u32),
        canvas: None,
    }
}

fn scaled((w, h): (f64, f64), scale: f64) -> (u32, u32) {
    (round_side(w * scale), round_side(h * scale))
}

/// Sides are whole pixels, never 0; the `as` saturates far beyond any size limit.
fn round_side(side: f64) -> u32 {
    side.round().max(1.0) as u32
}

fn ceil_side(side: f64) -> u32 {
    (side - 1e-9).ceil().max(1.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(w: Option<u32>, h: Option<u32>, fit: Fit, enlarge: bool) -> TargetBox {
        TargetBox {
            width: w,
            height: h,
            fit,
            enlarge,
        }
    }

    #[test]
    fn every_fit_gives_sharps_output_size() {
        let source = (800, 600);
        let cases = [
            (Fit::Cover, (200, 200)),
            (Fit::Contain, (200, 200)),
            (Fit::Fill, (200, 200)),
            (Fit::Inside, (200, 150)),
            (Fit::Outside, (267, 200)),
        ];
        for (fit, expected) in cases {
            let plan = plan(source, target(Some(200), Some(200), fit, false));
            assert_eq!(plan.output(), expected, "{fit:?}");
        }
    }

    #[test]
    fn a_region_within_a_region_composes() {
        let outer = Region {
            left: 0.5,
            top: 0.0,
            width: 0.5,
            height: 0.8,
        };
        let inner = Region {
            left: 0.5,
            top: 0.25,
            width: 0.5,
            height: 0.5,
        };
        assert_eq!(
            inner.within(outer),
            Region {
                left: 0.75,
                top: 0.2,
                width: 0.25,
                height: 0.4
            }
        );
        assert_eq!(Region::WHOLE.within(outer), outer);
    }

    #[test]
    fn cover_crops_the_centre() {
        let plan = plan((800, 800), target(Some(200), Some(150), Fit::Cover, false));
        assert_eq!(plan.resized, (200, 150));
        assert_eq!(plan.scaled_source, (200, 200));
        assert_eq!(plan.region.width, 1.0);
        assert_eq!(plan.region.height, 0.75);
        assert_eq!(plan.region.top, 0.125);
    }

    #[test]
    fn contain_centres_the_image_on_the_box() {
        let plan = plan(
            (800, 400),
            target(Some(200), Some(200), Fit::Contain, false),
        );
        assert_eq!(plan.resized, (200, 100));
        assert_eq!(plan.canvas, Some((200, 200)));
    }

    #[test]
    fn small_sources_are_not_enlarged_unless_asked() {
        let small = (100, 50);
        let no = |fit| plan(small, target(Some(400), Some(400), fit, false)).output();
        assert_eq!(no(Fit::Inside), (100, 50));
        assert_eq!(no(Fit::Outside), (100, 50));
        assert_eq!(no(Fit::Fill), (100, 50));
        assert_eq!(no(Fit::Cover), (100, 50));
        assert_eq!(no(Fit::Contain), (400, 400));
        let yes = plan(small, target(Some(400), Some(400), Fit::Inside, true));
        assert_eq!(yes.output(), (400, 200));
        let wide = plan(small, target(Some(400), None, Fit::Inside, true));
        assert_eq!(wide.output(), (400, 200));
        let cover = plan(small, target(Some(80), Some(80), Fit::Cover, false));
        assert_eq!(cover.output(), (80, 50));
        assert_eq!(cover.region.width, 0.8);
    }

    #[test]
    fn one_side_keeps_the_aspect_ratio_and_never_reaches_zero() {
        assert_eq!(
            plan((4000, 3000), target(Some(400), None, Fit::Inside, false)).output(),
            (400, 300)
        );
        assert_eq!(
            plan((4000, 3000), target(None, Some(30), Fit::Inside, false)).output(),
            (40, 30)
        );
        assert_eq!(
            plan((10000, 5), target(Some(100), None, Fit::Inside, false)).output(),
            (100, 1)
        );
        assert_eq!(
            plan((640, 480), target(None, None, Fit::Inside, false)).output(),
            (640, 480)
        );
    }
}
