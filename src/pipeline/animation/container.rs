//! What an animated file's container says, read without decoding a pixel: frame count, total
//! duration, loop count and canvas size. Walking the blocks of a GIF, the chunks of a WebP or a
//! PNG is a few comparisons per frame, so a file declaring 100,000 frames is measured (and
//! refused) in about a millisecond, long before the first frame would be decoded. A file this
//! walk cannot follow to its end is counted as far as it goes; the decoder then refuses it as
//! corrupt.

use super::super::SourceFormat;

/// An animation's container, as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub width: u32,
    pub height: u32,
    pub frames: u64,
    /// The sum of every frame's delay.
    pub duration_ms: u64,
    /// How many times to play: 0 forever (WebP's meaning, which APNG shares).
    pub loop_count: u32,
}

/// The container of an animation, or `None` for a still image (one frame, or a format that
/// does not animate).
pub fn read(bytes: &[u8], format: SourceFormat) -> Option<Container> {
    let container = match format {
        SourceFormat::Gif => gif(bytes)?,
        SourceFormat::Webp => webp(bytes)?,
        SourceFormat::Png => apng(bytes)?,
        SourceFormat::Jpeg | SourceFormat::Bmp => return None,
    };
    (container.frames > 1).then_some(container)
}

fn u16_le(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u24_le(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 3)?;
    Some(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
}

fn u16_be(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_le(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u32_be(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// GIF: the logical screen, then blocks. Each image descriptor is a frame; the graphic control
/// extension before it holds its delay (hundredths of a second); a NETSCAPE2.0 (or
/// ANIMEXTS1.0) application extension holds the loop count. GIF counts repetitions after the
/// first play and browsers play a GIF without that block once, hence the mapping to WebP's
/// count of plays: absent → 1, 0 (forever) → 0, n → n as written (what gif2webp and sharp
/// store too).
fn gif(bytes: &[u8]) -> Option<Container> {
    if !(bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")) {
        return None;
    }
    let width = u32::from(u16_le(bytes, 6)?);
    let height = u32::from(u16_le(bytes, 8)?);
    let flags = *bytes.get(10)?;
    let mut at = 13;
    if flags & 0x80 != 0 {
        at += 3 * (2usize << (flags & 7));
    }
    let container = Container {
        width,
        height,
        frames: 0,
        duration_ms: 0,
        loop_count: 1,
    };
    let mut walk = GifWalk {
        container,
        delay_cs: 0,
    };
    while let Some(next) = walk.block(bytes, at) {
        at = next;
    }
    Some(walk.container)
}

/// The state of a walk through a GIF's blocks.
struct GifWalk {
    container: Container,
    /// The delay the last graphic control extension set for the next frame.
    delay_cs: u64,
}

impl GifWalk {
    /// Takes in the block at `at` and gives the offset of the next one; `None` at the trailer
    /// or where the file is cut short or stops making sense.
    fn block(&mut self, bytes: &[u8], at: usize) -> Option<usize> {
        match *bytes.get(at)? {
            0x21 => {
                let label = *bytes.get(at + 1)?;
                let first = bytes.get(at + 2..)?;
                match label {
                    0xF9 if first.first() == Some(&4) => {
                        self.delay_cs = u64::from(u16_le(first, 2)?);
                    }
                    0xFF if first.get(1..12).is_some_and(is_loop_extension) => {
                        // The next sub-block: [3, 1, count lo, count hi].
                        if let (Some(&1), Some(count)) = (first.get(13), u16_le(first, 14)) {
                            self.container.loop_count = u32::from(count);
                        }
                    }
                    _ => {}
                }
                skip_sub_blocks(bytes, at + 2)
            }
            0x2C => {
                let local = *bytes.get(at + 9)?;
                let mut data = at + 10;
                if local & 0x80 != 0 {
                    data += 3 * (2usize << (local & 7));
                }
                // Counted once its descriptor is there: a frame cut short is the decoder's
                // to refuse.
                self.container.frames += 1;
                self.container.duration_ms += self.delay_cs * 10;
                self.delay_cs = 0;
                // The LZW minimum code size, then the image data's sub-blocks.
                skip_sub_blocks(bytes, data + 1)
            }
            _ => None,
        }
    }
}

fn is_loop_extension(identifier: &[u8]) -> bool {
    identifier == b"NETSCAPE2.0" || identifier == b"ANIMEXTS1.0"
}

/// The offset after the sub-blocks starting at `at` (each a length byte and that many bytes,
/// ended by a 0 length).
fn skip_sub_blocks(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = usize::from(*bytes.get(at)?);
        at += 1;
        if len == 0 {
            return Some(at);
        }
        at += len;
    }
}

/// `(fourcc, payload)` of each RIFF chunk in `data`, stopping at the first that does not fit.
fn riff_chunks(mut data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let fourcc = data.get(..4)?;
        let len = usize::try_from(u32_le(data, 4)?).ok()?;
        let payload = data.get(8..8usize.checked_add(len)?)?;
        data = data.get(8 + len + (len & 1)..).unwrap_or_default();
        Some((fourcc, payload))
    })
}

/// WebP: an extended file (`VP8X`) with the animation flag, its `ANIM` chunk (loop count) and
/// one `ANMF` chunk per frame (its duration in ms is bytes 12..15 of the frame header).
fn webp(bytes: &[u8]) -> Option<Container> {
    if bytes.get(..4)? != b"RIFF" || bytes.get(8..12)? != b"WEBP" {
        return None;
    }
    let mut chunks = riff_chunks(bytes.get(12..)?);
    let (fourcc, vp8x) = chunks.next()?;
    const ANIMATION: u8 = 0x02;
    if fourcc != b"VP8X" || vp8x.first()? & ANIMATION == 0 {
        return None;
    }
    let mut container = Container {
        width: u24_le(vp8x, 4)? + 1,
        height: u24_le(vp8x, 7)? + 1,
        frames: 0,
        duration_ms: 0,
        loop_count: 0,
    };
    for (fourcc, payload) in chunks {
        match fourcc {
            b"ANIM" => container.loop_count = u32::from(u16_le(payload, 4)?),
            b"ANMF" => {
                container.frames += 1;
                container.duration_ms += u64::from(u24_le(payload, 12)?);
            }
            _ => {}
        }
    }
    Some(container)
}

/// APNG: a PNG with an `acTL` chunk (frame count, number of plays) and one `fcTL` chunk per
/// frame (its delay as a fraction of a second; a denominator of 0 means hundredths).
fn apng(bytes: &[u8]) -> Option<Container> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    let mut at = SIGNATURE.len();
    if !bytes.starts_with(SIGNATURE) {
        return None;
    }
    let mut container: Option<Container> = None;
    let (mut width, mut height) = (0, 0);
    let mut declared = 0u64;
    while let Some(len) = u32_be(bytes, at) {
        let len = usize::try_from(len).ok()?;
        let kind = bytes.get(at + 4..at + 8)?;
        let Some(data) = bytes.get(at + 8..at + 8 + len) else {
            break;
        };
        match kind {
            b"IHDR" => (width, height) = (u32_be(data, 0)?, u32_be(data, 4)?),
            b"acTL" => {
                declared = u64::from(u32_be(data, 0)?);
                container = Some(Container {
                    width,
                    height,
                    frames: 0,
                    duration_ms: 0,
                    loop_count: u32_be(data, 4)?,
                });
            }
            b"fcTL" => {
                if let Some(container) = container.as_mut() {
                    let numerator = u64::from(u16_be(data, 20)?);
                    let denominator = match u16_be(data, 22)? {
                        0 => 100,
                        d => u64::from(d),
                    };
                    container.frames += 1;
                    container.duration_ms += (numerator * 1000 + denominator / 2) / denominator;
                }
            }
            b"IEND" => break,
            _ => {}
        }
        at += 12 + len;
    }
    // The frame count `acTL` declares is what a decoder will look for.
    container.map(|c| Container {
        frames: c.frames.max(declared),
        ..c
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::test_images::tiny_gif;

    #[test]
    fn gif_frames_delays_and_loops_come_from_the_blocks() {
        let c = read(&tiny_gif(3, 7, Some(0)), SourceFormat::Gif).unwrap();
        assert_eq!(
            (c.width, c.height, c.frames, c.duration_ms, c.loop_count),
            (1, 1, 3, 210, 0)
        );
        assert_eq!(
            read(&tiny_gif(2, 0, Some(3)), SourceFormat::Gif)
                .unwrap()
                .loop_count,
            3
        );
        assert_eq!(
            read(&tiny_gif(2, 0, None), SourceFormat::Gif)
                .unwrap()
                .loop_count,
            1
        );
        assert_eq!(read(&tiny_gif(1, 5, Some(0)), SourceFormat::Gif), None);
    }

    #[test]
    fn a_cut_gif_is_counted_as_far_as_it_goes() {
        let gif = tiny_gif(5, 1, None);
        let c = read(&gif[..gif.len() - 20], SourceFormat::Gif).unwrap();
        assert_eq!(c.frames, 4);
    }

    #[test]
    fn the_corpus_animations_are_read() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/images");
        let gif = std::fs::read(dir.join("rotating-squares.gif")).unwrap();
        let webp = std::fs::read(dir.join("rotating-squares.webp")).unwrap();
        let g = read(&gif, SourceFormat::Gif).unwrap();
        let w = read(&webp, SourceFormat::Webp).unwrap();
        assert!(g.frames > 1 && w.frames > 1, "{g:?} {w:?}");
        assert_eq!((g.width, g.height), (w.width, w.height));
    }

    #[test]
    fn stills_are_not_animations() {
        let mut png = Vec::new();
        image::RgbImage::new(4, 3)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert_eq!(read(&png, SourceFormat::Png), None);
        assert_eq!(read(b"RIFF\x10\0\0\0WEBPVP8 ", SourceFormat::Webp), None);
    }
}
