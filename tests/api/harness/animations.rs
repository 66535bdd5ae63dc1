//! Animated files made on the spot, each with a composite that is known frame by frame: GIFs
//! (partial frames, every disposal mode, a transparent index, zero and odd delays, loop counts
//! and none), APNGs (dispose and blend ops) and the bombs (too many frames, too many pixels
//! in all, too long), kept small enough to build in milliseconds.
//!
//! Colours are the palette's ([`RED`], [`GREEN`], …); [`Rect`] names the regions a test reads
//! back (half-open, in canvas pixels).

use std::borrow::Cow;

pub use gif::{DisposalMethod, Repeat};

pub const RED: [u8; 3] = [230, 30, 30];
pub const GREEN: [u8; 3] = [30, 200, 60];
pub const BLUE: [u8; 3] = [40, 60, 220];
pub const WHITE: [u8; 3] = [255, 255, 255];
pub const BLACK: [u8; 3] = [0, 0, 0];
pub const YELLOW: [u8; 3] = [240, 220, 40];
/// The colour of palette index 0, which the transparent GIFs use as their transparent index:
/// it must never be seen.
pub const MAGENTA: [u8; 3] = [255, 0, 255];

/// The palette every generated GIF uses, index by index.
pub const PALETTE: [[u8; 3]; 8] = [MAGENTA, RED, GREEN, BLUE, WHITE, BLACK, YELLOW, [128; 3]];

/// Palette index of a palette colour.
pub fn index(colour: [u8; 3]) -> u8 {
    PALETTE
        .iter()
        .position(|c| *c == colour)
        .expect("a palette colour") as u8
}

/// A rectangle of the canvas, `x0..x1` × `y0..y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

impl Rect {
    pub const fn new(x0: u32, y0: u32, x1: u32, y1: u32) -> Self {
        Self { x0, y0, x1, y1 }
    }

    /// The rectangle shrunk by `by` on every side (away from edges a lossy codec smears).
    pub fn inset(self, by: u32) -> Self {
        Self::new(self.x0 + by, self.y0 + by, self.x1 - by, self.y1 - by)
    }
}

/// One GIF frame: a rectangle of palette indices, placed on the logical screen.
#[derive(Debug, Clone)]
pub struct GifFrame {
    pub left: u16,
    pub top: u16,
    pub width: u16,
    pub height: u16,
    /// Centiseconds.
    pub delay: u16,
    pub dispose: DisposalMethod,
    pub transparent: Option<u8>,
    pub indices: Vec<u8>,
    /// Rows stored in the four-pass interlaced order.
    pub interlaced: bool,
    /// A local colour table, in place of [`PALETTE`] for this frame.
    pub palette: Option<Vec<[u8; 3]>>,
}

impl GifFrame {
    /// A `width`×`height` frame at (`left`, `top`) of one colour, kept after it is shown.
    pub fn solid(left: u16, top: u16, width: u16, height: u16, colour: [u8; 3]) -> Self {
        Self {
            left,
            top,
            width,
            height,
            delay: 10,
            dispose: DisposalMethod::Keep,
            transparent: None,
            indices: vec![index(colour); usize::from(width) * usize::from(height)],
            interlaced: false,
            palette: None,
        }
    }

    /// A frame whose pixel at (x, y) of the frame is `colour(x, y)`.
    pub fn painted(
        left: u16,
        top: u16,
        width: u16,
        height: u16,
        colour: impl Fn(u16, u16) -> [u8; 3],
    ) -> Self {
        let mut indices = Vec::with_capacity(usize::from(width) * usize::from(height));
        for y in 0..height {
            for x in 0..width {
                indices.push(index(colour(x, y)));
            }
        }
        Self {
            indices,
            ..Self::solid(left, top, width, height, BLACK)
        }
    }

    pub fn delay(mut self, centiseconds: u16) -> Self {
        self.delay = centiseconds;
        self
    }

    pub fn dispose(mut self, dispose: DisposalMethod) -> Self {
        self.dispose = dispose;
        self
    }

    /// The rows stored interlaced (passes of every 8th row from 0, every 8th from 4, every 4th
    /// from 2, every 2nd from 1), with the interlace flag.
    pub fn interlaced(mut self) -> Self {
        let width = usize::from(self.width);
        let height = usize::from(self.height);
        let order = (0..height)
            .step_by(8)
            .chain((4..height).step_by(8))
            .chain((2..height).step_by(4))
            .chain((1..height).step_by(2));
        self.indices = order
            .flat_map(|row| self.indices[row * width..(row + 1) * width].to_vec())
            .collect();
        self.interlaced = true;
        self
    }

    /// The frame's indices point into `palette`, its local colour table, instead of
    /// [`PALETTE`].
    pub fn local_palette(mut self, palette: &[[u8; 3]]) -> Self {
        self.palette = Some(palette.to_vec());
        self
    }

    /// Palette index 0 ([`MAGENTA`]) is transparent in this frame.
    pub fn transparent(mut self) -> Self {
        self.transparent = Some(0);
        self
    }
}

/// A GIF of `frames` on a `width`×`height` logical screen with [`PALETTE`] as its global
/// palette: a NETSCAPE2.0 loop block when `repeat` is given (none at all otherwise), and a
/// comment holding `comment` when given (metadata that must not survive).
pub fn gif(
    width: u16,
    height: u16,
    repeat: Option<Repeat>,
    comment: Option<&str>,
    frames: &[GifFrame],
) -> Vec<u8> {
    let palette: Vec<u8> = PALETTE.iter().flatten().copied().collect();
    let mut encoder = gif::Encoder::new(Vec::new(), width, height, &palette).expect("GIF header");
    if let Some(repeat) = repeat {
        encoder.set_repeat(repeat).expect("loop block");
    }
    if let Some(comment) = comment {
        encoder
            .write_raw_extension(
                gif::AnyExtension(gif::Extension::Comment as u8),
                &[comment.as_bytes()],
            )
            .expect("comment");
    }
    for f in frames {
        let frame = gif::Frame {
            delay: f.delay,
            dispose: f.dispose,
            transparent: f.transparent,
            left: f.left,
            top: f.top,
            width: f.width,
            height: f.height,
            buffer: Cow::Borrowed(&f.indices),
            interlaced: f.interlaced,
            palette: f
                .palette
                .as_ref()
                .map(|p| p.iter().flatten().copied().collect()),
            ..gif::Frame::default()
        };
        encoder.write_frame(&frame).expect("GIF frame");
    }
    encoder.into_inner().expect("GIF trailer")
}

/// `count` full-canvas frames of distinct colours, one after another, with `delays`
/// (centiseconds; cycled when shorter than `count`).
pub fn solid_frames(width: u16, height: u16, count: usize, delays: &[u16]) -> Vec<GifFrame> {
    const CYCLE: [[u8; 3]; 6] = [RED, GREEN, BLUE, WHITE, YELLOW, BLACK];
    (0..count)
        .map(|i| {
            GifFrame::solid(0, 0, width, height, CYCLE[i % CYCLE.len()])
                .delay(delays[i % delays.len()])
        })
        .collect()
}

/// The disposal fixture: a 96×96 GIF of four frames, each shown 0.1 s.
///
/// 0. the whole screen red;
/// 1. a white strip over rows 0..24 (kept);
/// 2. a 48×48 green square at (16, 8), half over the strip — disposed by `dispose`;
/// 3. a 24×24 blue square at (72, 72).
///
/// Frame 2 as shown is the same for every mode (green square over red and white); what frame 3
/// shows where the square was is the disposal's doing: green (keep), transparent (background:
/// what browsers and libwebp show, the logical screen's background colour being ignored) or the
/// canvas from before frame 2, white over the strip and red below it (previous). See
/// [`DisposalRegions`].
pub fn disposal_gif(dispose: DisposalMethod) -> Vec<u8> {
    let frames = [
        GifFrame::solid(0, 0, 96, 96, RED),
        GifFrame::solid(0, 0, 96, 24, WHITE),
        GifFrame::solid(16, 8, 48, 48, GREEN).dispose(dispose),
        GifFrame::solid(72, 72, 24, 24, BLUE),
    ];
    gif(96, 96, Some(Repeat::Infinite), None, &frames)
}

/// The regions of [`disposal_gif`]'s canvas whose colour the disposal decides or not.
pub struct DisposalRegions;

impl DisposalRegions {
    pub const SIZE: (u32, u32) = (96, 96);
    /// The green square where it covers the white strip.
    pub const SQUARE_OVER_STRIP: Rect = Rect::new(16, 8, 64, 24);
    /// The green square below the strip, over red.
    pub const SQUARE_OVER_RED: Rect = Rect::new(16, 24, 64, 56);
    /// The blue square of the last frame.
    pub const BLUE_SQUARE: Rect = Rect::new(72, 72, 96, 96);
    /// Red from frame 0 that no later frame touches.
    pub const RED_ALONE: Rect = Rect::new(0, 56, 64, 96);
    /// The white strip outside the square.
    pub const STRIP_ALONE: Rect = Rect::new(64, 0, 96, 24);
}

/// A 64×64 GIF with a transparent index, two frames of 0.2 s:
/// 0. left half transparent, right half red — then restored to the background (transparent);
/// 1. left half green, right half transparent.
///
/// So frame 0 is transparent on the left and red on the right; frame 1 green on the left and
/// transparent on the right.
pub fn transparent_gif() -> Vec<u8> {
    let half =
        |left: [u8; 3], right: [u8; 3]| move |x: u16, _y: u16| if x < 32 { left } else { right };
    let frames = [
        GifFrame::painted(0, 0, 64, 64, half(MAGENTA, RED))
            .transparent()
            .delay(20)
            .dispose(DisposalMethod::Background),
        GifFrame::painted(0, 0, 64, 64, half(GREEN, MAGENTA))
            .transparent()
            .delay(20),
    ];
    gif(64, 64, Some(Repeat::Infinite), None, &frames)
}

/// A 48×48 GIF of two frames (0.1 s) using what real GIFs use:
/// 0. interlaced, quadrants red, green (top) and blue, white (bottom);
/// 1. with a local colour table in which index 1 (red in the global one) is yellow and index 2
///    (green) is black: yellow on the left, black on the right.
pub fn interlaced_and_local_palette_gif() -> Vec<u8> {
    let quadrants = GifFrame::painted(0, 0, 48, 48, |x, y| match (x < 24, y < 24) {
        (true, true) => RED,
        (false, true) => GREEN,
        (true, false) => BLUE,
        (false, false) => WHITE,
    })
    .interlaced();
    let mut local = PALETTE;
    local[usize::from(index(RED))] = YELLOW;
    local[usize::from(index(GREEN))] = BLACK;
    let halves = GifFrame::painted(0, 0, 48, 48, |x, _| if x < 24 { RED } else { GREEN })
        .local_palette(&local);
    gif(48, 48, Some(Repeat::Infinite), None, &[quadrants, halves])
}

pub const LEFT_HALF: Rect = Rect::new(0, 0, 32, 64);
pub const RIGHT_HALF: Rect = Rect::new(32, 0, 64, 64);

/// One frame of an APNG: position, size, delay (num/den seconds), ops and RGBA pixels.
#[derive(Debug, Clone)]
pub struct ApngFrame {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub delay: (u16, u16),
    pub dispose: png::DisposeOp,
    pub blend: png::BlendOp,
    pub rgba: Vec<u8>,
}

impl ApngFrame {
    /// A frame whose pixel at (x, y) of the frame is `colour(x, y)`.
    pub fn painted(
        (x, y): (u32, u32),
        (width, height): (u32, u32),
        delay: (u16, u16),
        dispose: png::DisposeOp,
        blend: png::BlendOp,
        colour: impl Fn(u32, u32) -> [u8; 4],
    ) -> Self {
        let mut rgba = Vec::with_capacity(width as usize * height as usize * 4);
        for fy in 0..height {
            for fx in 0..width {
                rgba.extend_from_slice(&colour(fx, fy));
            }
        }
        Self {
            x,
            y,
            width,
            height,
            delay,
            dispose,
            blend,
            rgba,
        }
    }
}

/// An RGBA APNG of `frames` (the first is the default image, part of the animation, and must
/// cover the canvas), played `plays` times (0: forever), with a `tEXt` comment when given.
pub fn apng(
    width: u32,
    height: u32,
    plays: u32,
    comment: Option<&str>,
    frames: &[ApngFrame],
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .set_animated(u32::try_from(frames.len()).unwrap(), plays)
        .expect("acTL");
    if let Some(comment) = comment {
        encoder
            .add_text_chunk("Comment".into(), comment.into())
            .expect("tEXt");
    }
    let mut writer = encoder.write_header().expect("PNG header");
    for frame in frames {
        writer.reset_frame_position().expect("fcTL");
        writer
            .set_frame_dimension(frame.width, frame.height)
            .expect("fcTL size");
        writer
            .set_frame_position(frame.x, frame.y)
            .expect("fcTL position");
        writer
            .set_frame_delay(frame.delay.0, frame.delay.1)
            .expect("fcTL delay");
        writer.set_dispose_op(frame.dispose).expect("fcTL dispose");
        writer.set_blend_op(frame.blend).expect("fcTL blend");
        writer.write_image_data(&frame.rgba).expect("frame data");
    }
    writer.finish().expect("IEND");
    out
}

const fn opaque(c: [u8; 3]) -> [u8; 4] {
    [c[0], c[1], c[2], 255]
}

/// The APNG fixture: 64×64, four frames, played twice, with a `tEXt` comment.
///
/// 0. the whole canvas red (source), 0.1 s;
/// 1. a 32×32 square at (16, 16), green on its left half and fully transparent on its right,
///    blended over — then disposed to the background (transparent black), 0.2 s;
/// 2. a 16×16 blue square at (0, 0), replacing — then disposed to the previous canvas, 50 ms;
/// 3. a 16×16 white square at (48, 48), replacing, 0.3 s.
///
/// Shown: frame 1 has the square's left half green and its right half still red (blended
/// over); frame 2 has the whole square transparent and blue in the corner; frame 3 the square
/// still transparent, the corner red again, white at the bottom right. See [`ApngRegions`].
pub fn apng_fixture(comment: Option<&str>) -> Vec<u8> {
    use png::{BlendOp, DisposeOp};
    let frames = [
        ApngFrame::painted(
            (0, 0),
            (64, 64),
            (1, 10),
            DisposeOp::None,
            BlendOp::Source,
            |_, _| opaque(RED),
        ),
        ApngFrame::painted(
            (16, 16),
            (32, 32),
            (2, 10),
            DisposeOp::Background,
            BlendOp::Over,
            |x, _| {
                if x < 16 { opaque(GREEN) } else { [0, 0, 0, 0] }
            },
        ),
        ApngFrame::painted(
            (0, 0),
            (16, 16),
            (5, 100),
            DisposeOp::Previous,
            BlendOp::Source,
            |_, _| opaque(BLUE),
        ),
        ApngFrame::painted(
            (48, 48),
            (16, 16),
            (300, 1000),
            DisposeOp::None,
            BlendOp::Source,
            |_, _| opaque(WHITE),
        ),
    ];
    apng(64, 64, 2, comment, &frames)
}

/// The regions of [`apng_fixture`]'s canvas.
pub struct ApngRegions;

impl ApngRegions {
    pub const SIZE: (u32, u32) = (64, 64);
    pub const DELAYS_MS: [u32; 4] = [100, 200, 50, 300];
    pub const PLAYS: u32 = 2;
    /// Left half of frame 1's square: green in frame 1, transparent after.
    pub const SQUARE_LEFT: Rect = Rect::new(16, 16, 32, 48);
    /// Right half of frame 1's square: red in frame 1 (blended over), transparent after.
    pub const SQUARE_RIGHT: Rect = Rect::new(32, 16, 48, 48);
    /// Frame 2's corner: blue in frame 2, red in frames 1 and 3.
    pub const CORNER: Rect = Rect::new(0, 0, 16, 16);
    /// Frame 3's square: red before, white in frame 3.
    pub const LAST_SQUARE: Rect = Rect::new(48, 48, 64, 64);
    /// Red in every frame.
    pub const RED_ALONE: Rect = Rect::new(0, 48, 48, 64);
}

/// A single-frame APNG (`acTL` with one frame): a still image in an animation's container.
pub fn one_frame_apng() -> Vec<u8> {
    let frame = ApngFrame::painted(
        (0, 0),
        (40, 30),
        (1, 10),
        png::DisposeOp::None,
        png::BlendOp::Source,
        |x, _| if x < 20 { opaque(RED) } else { opaque(BLUE) },
    );
    apng(40, 30, 0, None, &[frame])
}

/// `acTL` rewritten to declare `num_frames` (its CRC fixed), whatever the file holds.
pub fn apng_declaring(mut apng: Vec<u8>, num_frames: u32) -> Vec<u8> {
    let at = apng
        .windows(4)
        .position(|w| w == b"acTL")
        .expect("an acTL chunk");
    apng[at + 4..at + 8].copy_from_slice(&num_frames.to_be_bytes());
    let crc = crc32fast::hash(&apng[at..at + 12]);
    apng[at + 12..at + 16].copy_from_slice(&crc.to_be_bytes());
    apng
}

/// A GIF of `frames` 1×1 frames (no delay, no loop block needed to count): what
/// `--max-frames` (1000) must refuse before decoding any. 100,000 frames are about 2 MB.
pub fn many_frames_gif(frames: usize) -> Vec<u8> {
    let palette: Vec<u8> = PALETTE.iter().flatten().copied().collect();
    let mut encoder = gif::Encoder::new(Vec::new(), 1, 1, &palette).expect("GIF header");
    encoder.set_repeat(Repeat::Infinite).expect("loop block");
    // One frame, LZW-encoded once and written `frames` times, alternating two colours.
    let mut red = gif::Frame {
        width: 1,
        height: 1,
        buffer: Cow::Owned(vec![index(RED)]),
        ..gif::Frame::default()
    };
    let mut blue = gif::Frame {
        buffer: Cow::Owned(vec![index(BLUE)]),
        ..red.clone()
    };
    red.make_lzw_pre_encoded();
    blue.make_lzw_pre_encoded();
    for i in 0..frames {
        let frame = if i % 2 == 0 { &red } else { &blue };
        encoder
            .write_lzw_pre_encoded_frame(frame)
            .expect("GIF frame");
    }
    encoder.into_inner().expect("GIF trailer")
}
