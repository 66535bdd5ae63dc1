//! An animated WebP read back independently of pixgate's libwebp: the RIFF chunks walked by
//! hand (`VP8X` flags and canvas, `ANIM` loop count, each `ANMF`'s rectangle, duration, blend
//! and dispose bits), each frame's bitstream decoded by `image-webp` as a still, and the frames
//! composited as the WebP container spec says (canvas starts transparent, as libwebp's and
//! browsers' decoders start it; dispose-to-background clears to transparent).

use image::RgbaImage;

/// `VP8X` flag bits.
const ICC: u8 = 0x20;
const ALPHA: u8 = 0x10;
const EXIF: u8 = 0x08;
const XMP: u8 = 0x04;
const ANIMATION: u8 = 0x02;

/// One chunk: its FourCC and payload.
#[derive(Debug, Clone)]
pub struct Chunk<'a> {
    pub fourcc: [u8; 4],
    pub payload: &'a [u8],
}

impl Chunk<'_> {
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.fourcc).into_owned()
    }
}

/// The chunks of a RIFF WebP file (or of an `ANMF` payload), in order; panics on a malformed
/// RIFF header or a chunk running past the end.
pub fn chunks(bytes: &[u8]) -> Vec<Chunk<'_>> {
    assert!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        "not a RIFF WebP"
    );
    let riff_size = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(riff_size + 8, bytes.len(), "RIFF size");
    sub_chunks(&bytes[12..])
}

fn sub_chunks(mut bytes: &[u8]) -> Vec<Chunk<'_>> {
    let mut out = Vec::new();
    while bytes.len() >= 8 {
        let fourcc: [u8; 4] = bytes[..4].try_into().unwrap();
        let size = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
        assert!(
            8 + size <= bytes.len(),
            "chunk {} runs past the end",
            String::from_utf8_lossy(&fourcc)
        );
        out.push(Chunk {
            fourcc,
            payload: &bytes[8..8 + size],
        });
        let padded = (8 + size + 1) & !1;
        bytes = &bytes[padded.min(bytes.len())..];
    }
    assert!(bytes.is_empty(), "trailing bytes after the last chunk");
    out
}

fn u24(bytes: &[u8]) -> u32 {
    u32::from(bytes[0]) | (u32::from(bytes[1]) << 8) | (u32::from(bytes[2]) << 16)
}

/// Whether the bytes are a WebP whose `VP8X` says animation.
pub fn is_animated_webp(bytes: &[u8]) -> bool {
    bytes.len() >= 21
        && &bytes[..4] == b"RIFF"
        && &bytes[8..12] == b"WEBP"
        && &bytes[12..16] == b"VP8X"
        && bytes[20] & ANIMATION != 0
}

/// One frame as shown: the whole canvas after compositing, and how it was made.
#[derive(Debug, Clone)]
pub struct ShownFrame {
    pub duration_ms: u32,
    pub canvas: RgbaImage,
    /// `(x, y, width, height)` of the `ANMF` rectangle.
    pub rect: (u32, u32, u32, u32),
    pub blend: bool,
    pub dispose_to_background: bool,
    /// `VP8L`, `VP8` or `ALPH+VP8`.
    pub bitstream: &'static str,
}

/// An animated WebP, read and composited.
#[derive(Debug, Clone)]
pub struct AnimatedWebp {
    pub width: u32,
    pub height: u32,
    /// `ANIM`'s loop count: 0 is forever.
    pub loop_count: u16,
    /// `VP8X`'s alpha flag.
    pub alpha_flag: bool,
    /// `VP8X`'s ICC, EXIF and XMP flags that are set, by name.
    pub metadata_flags: Vec<&'static str>,
    /// The top-level chunks, by name.
    pub chunk_names: Vec<String>,
    pub frames: Vec<ShownFrame>,
}

impl AnimatedWebp {
    pub fn durations(&self) -> Vec<u32> {
        self.frames.iter().map(|f| f.duration_ms).collect()
    }

    pub fn total_ms(&self) -> u64 {
        self.frames.iter().map(|f| u64::from(f.duration_ms)).sum()
    }

    /// The frame shown at `t_ms` into the first play (the last to start at or before it among
    /// frames shown for some time), or `None` past the end.
    pub fn shown_at(&self, t_ms: u64) -> Option<&ShownFrame> {
        let mut start = 0u64;
        for frame in &self.frames {
            let end = start + u64::from(frame.duration_ms);
            if t_ms < end {
                return Some(frame);
            }
            start = end;
        }
        None
    }

    /// How each frame was stored: rectangle, blending, disposal and bitstream, for messages.
    pub fn describe(&self) -> Vec<String> {
        self.frames
            .iter()
            .map(|f| {
                let (x, y, w, h) = f.rect;
                format!(
                    "{w}x{h}+{x}+{y} {}ms {}{} {}",
                    f.duration_ms,
                    if f.blend { "blend" } else { "replace" },
                    if f.dispose_to_background {
                        " dispose"
                    } else {
                        ""
                    },
                    f.bitstream
                )
            })
            .collect()
    }

    /// Whether any frame has a pixel that is not opaque.
    pub fn any_transparency(&self) -> bool {
        self.frames
            .iter()
            .any(|f| f.canvas.pixels().any(|p| p.0[3] < 255))
    }
}

/// Reads an animated WebP and composites every frame; panics (naming what is wrong) on anything
/// that is not a well-formed animated WebP.
pub fn read_animated_webp(bytes: &[u8]) -> AnimatedWebp {
    let top = chunks(bytes);
    let names: Vec<String> = top.iter().map(Chunk::name).collect();
    assert_eq!(
        top.first().map(|c| c.fourcc),
        Some(*b"VP8X"),
        "an animated WebP starts with VP8X: {names:?}"
    );
    let vp8x = top[0].payload;
    assert!(vp8x.len() >= 10, "VP8X too short");
    let flags = vp8x[0];
    assert!(flags & ANIMATION != 0, "VP8X animation flag not set");
    let width = u24(&vp8x[4..7]) + 1;
    let height = u24(&vp8x[7..10]) + 1;
    let metadata_flags = [(ICC, "ICC"), (EXIF, "EXIF"), (XMP, "XMP")]
        .into_iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, name)| name)
        .collect();
    let anim = top
        .iter()
        .find(|c| &c.fourcc == b"ANIM")
        .unwrap_or_else(|| panic!("no ANIM chunk: {names:?}"));
    assert!(anim.payload.len() >= 6, "ANIM too short");
    let loop_count = u16::from_le_bytes(anim.payload[4..6].try_into().unwrap());

    let mut canvas = RgbaImage::new(width, height);
    let mut frames = Vec::new();
    let mut to_clear: Option<(u32, u32, u32, u32)> = None;
    for anmf in top.iter().filter(|c| &c.fourcc == b"ANMF") {
        let p = anmf.payload;
        assert!(p.len() >= 16, "ANMF too short");
        let (x, y) = (u24(&p[0..3]) * 2, u24(&p[3..6]) * 2);
        let (w, h) = (u24(&p[6..9]) + 1, u24(&p[9..12]) + 1);
        let duration_ms = u24(&p[12..15]);
        let blend = p[15] & 0x02 == 0;
        let dispose_to_background = p[15] & 0x01 != 0;
        assert!(
            x + w <= width && y + h <= height,
            "frame {} at ({x}, {y}) {w}x{h} outside the {width}x{height} canvas",
            frames.len()
        );
        if let Some((cx, cy, cw, ch)) = to_clear.take() {
            for py in cy..cy + ch {
                for px in cx..cx + cw {
                    canvas.put_pixel(px, py, image::Rgba([0, 0, 0, 0]));
                }
            }
        }
        let (pixels, bitstream) = decode_frame(&p[16..], w, h);
        for fy in 0..h {
            for fx in 0..w {
                let src = pixels.get_pixel(fx, fy).0;
                let dst = canvas.get_pixel_mut(x + fx, y + fy);
                dst.0 = if blend { over(src, dst.0) } else { src };
            }
        }
        frames.push(ShownFrame {
            duration_ms,
            canvas: canvas.clone(),
            rect: (x, y, w, h),
            blend,
            dispose_to_background,
            bitstream,
        });
        if dispose_to_background {
            to_clear = Some((x, y, w, h));
        }
    }
    assert!(!frames.is_empty(), "no ANMF frame: {names:?}");
    AnimatedWebp {
        width,
        height,
        loop_count,
        alpha_flag: flags & ALPHA != 0,
        metadata_flags,
        chunk_names: names,
        frames,
    }
}

/// The spec's non-premultiplied "over".
fn over(src: [u8; 4], dst: [u8; 4]) -> [u8; 4] {
    let sa = f64::from(src[3]) / 255.0;
    let da = f64::from(dst[3]) / 255.0;
    let a = sa + da * (1.0 - sa);
    if a <= 0.0 {
        return [0, 0, 0, 0];
    }
    let mut out = [0u8; 4];
    for c in 0..3 {
        let v = (f64::from(src[c]) * sa + f64::from(dst[c]) * da * (1.0 - sa)) / a;
        out[c] = v.round().clamp(0.0, 255.0) as u8;
    }
    out[3] = (a * 255.0).round() as u8;
    out
}

/// An `ANMF`'s frame data (`ALPH`? then `VP8`, or `VP8L`) decoded as a still WebP.
fn decode_frame(data: &[u8], width: u32, height: u32) -> (RgbaImage, &'static str) {
    let inner = sub_chunks(data);
    let names: Vec<String> = inner.iter().map(Chunk::name).collect();
    let find = |fourcc: &[u8; 4]| inner.iter().find(|c| &c.fourcc == fourcc);
    let mut body = Vec::new();
    let push = |body: &mut Vec<u8>, chunk: &Chunk<'_>| {
        body.extend_from_slice(&chunk.fourcc);
        body.extend_from_slice(&(chunk.payload.len() as u32).to_le_bytes());
        body.extend_from_slice(chunk.payload);
        if chunk.payload.len() % 2 == 1 {
            body.push(0);
        }
    };
    let kind = if let Some(vp8l) = find(b"VP8L") {
        push(&mut body, vp8l);
        "VP8L"
    } else if let Some(vp8) = find(b"VP8 ") {
        if let Some(alph) = find(b"ALPH") {
            let mut vp8x = vec![ALPHA, 0, 0, 0];
            vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
            vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
            push(
                &mut body,
                &Chunk {
                    fourcc: *b"VP8X",
                    payload: &vp8x,
                },
            );
            push(&mut body, alph);
            push(&mut body, vp8);
            "ALPH+VP8"
        } else {
            push(&mut body, vp8);
            "VP8"
        }
    } else {
        panic!("ANMF without a bitstream: {names:?}");
    };
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
    file.extend_from_slice(b"WEBP");
    file.extend_from_slice(&body);

    let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(&file))
        .unwrap_or_else(|e| panic!("{kind} frame does not parse: {e}"));
    assert_eq!(
        decoder.dimensions(),
        (width, height),
        "{kind} frame size vs its ANMF"
    );
    let mut buf = vec![0; decoder.output_buffer_size().expect("frame size")];
    decoder
        .read_image(&mut buf)
        .unwrap_or_else(|e| panic!("{kind} frame does not decode: {e}"));
    let rgba = if decoder.has_alpha() {
        buf
    } else {
        buf.chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect()
    };
    (
        RgbaImage::from_raw(width, height, rgba).expect("frame buffer"),
        kind,
    )
}

/// The same WebP with only its first `keep` `ANMF` frames (the RIFF size fixed): a one-frame
/// animated WebP from an animated one.
pub fn keep_frames(bytes: &[u8], keep: usize) -> Vec<u8> {
    let mut body = Vec::new();
    let mut seen = 0;
    for chunk in chunks(bytes) {
        if &chunk.fourcc == b"ANMF" {
            seen += 1;
            if seen > keep {
                continue;
            }
        }
        body.extend_from_slice(&chunk.fourcc);
        body.extend_from_slice(&(chunk.payload.len() as u32).to_le_bytes());
        body.extend_from_slice(chunk.payload);
        if chunk.payload.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
    file.extend_from_slice(b"WEBP");
    file.extend_from_slice(&body);
    file
}
