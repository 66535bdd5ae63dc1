//! Checks the first frame of an animated WebP before `image-webp` decodes it. `image-webp` 0.2.4
//! panics (index out of bounds) on a frame whose `ALPH` chunk is shorter than the frame or whose
//! VP8/VP8L bitstream is not the size its `ANMF` header declares; both were found by the
//! `pipeline` fuzz target. A panic is a 500 under `serve` and kills the instance under Lambda
//! (`panic = "abort"`), so such files are refused here as corrupt, as libwebp's demuxer refuses
//! them (it requires the bitstream's size to be the frame's).

use super::PipelineError;

pub fn check(bytes: &[u8]) -> Result<(), PipelineError> {
    match first_frame_problem(bytes) {
        Some(problem) => Err(PipelineError::CorruptImage(
            format!("animated WebP: {problem}").into(),
        )),
        None => Ok(()),
    }
}

/// `(fourcc, payload)` of each chunk in `data`; the last one's payload may be cut short (the
/// caller checks its length against what it declares, `declared`).
fn chunks(mut data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8], usize)> {
    std::iter::from_fn(move || {
        let fourcc = data.get(..4)?;
        let declared = u32::from_le_bytes(data.get(4..8)?.try_into().ok()?) as usize;
        let end = 8usize.saturating_add(declared).min(data.len());
        let payload = &data[8..end];
        let next = end.saturating_add(declared & 1).min(data.len());
        data = &data[next..];
        Some((fourcc, payload, declared))
    })
}

fn u24(bytes: &[u8]) -> usize {
    usize::from(bytes[0]) | usize::from(bytes[1]) << 8 | usize::from(bytes[2]) << 16
}

/// Why the first frame would break the decoder, or `None` (also for still images, and for
/// files too broken to reach a frame: the decoder refuses those by itself).
fn first_frame_problem(bytes: &[u8]) -> Option<&'static str> {
    let body = bytes.get(12..)?;
    if bytes.get(..4)? != b"RIFF" || bytes.get(8..12)? != b"WEBP" {
        return None;
    }
    let mut top = chunks(body);
    let (fourcc, vp8x, _) = top.next()?;
    const ANIMATION: u8 = 0x02;
    if fourcc != b"VP8X" || vp8x.first()? & ANIMATION == 0 {
        return None;
    }
    let (_, anmf, declared) = top.find(|(fourcc, _, _)| *fourcc == b"ANMF")?;
    if anmf.len() < declared {
        return Some("first frame cut short");
    }
    let Some(header) = anmf.get(..16) else {
        return Some("ANMF header cut short");
    };
    let (width, height) = (u24(&header[6..9]) + 1, u24(&header[9..12]) + 1);
    for (fourcc, payload, _) in chunks(&anmf[16..]) {
        match fourcc {
            b"ALPH" => {
                let Some(&flags) = payload.first() else {
                    return Some("empty ALPH chunk");
                };
                const UNCOMPRESSED: u8 = 0;
                if flags & 0x03 == UNCOMPRESSED && payload.len() - 1 < width * height {
                    return Some("ALPH chunk shorter than the frame");
                }
            }
            b"VP8 " => {
                let size = payload.get(6..10).map(|d| {
                    let w = usize::from(u16::from_le_bytes([d[0], d[1]]) & 0x3fff);
                    let h = usize::from(u16::from_le_bytes([d[2], d[3]]) & 0x3fff);
                    (w, h)
                });
                return (size != Some((width, height)))
                    .then_some("VP8 bitstream size differs from the frame's");
            }
            b"VP8L" => {
                let size = payload.get(1..5).map(|d| {
                    let bits = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
                    let w = (bits & 0x3fff) as usize + 1;
                    let h = ((bits >> 14) & 0x3fff) as usize + 1;
                    (w, h)
                });
                return (size != Some((width, height)))
                    .then_some("VP8L bitstream size differs from the frame's");
            }
            _ => {}
        }
    }
    Some("first frame has no VP8 or VP8L bitstream")
}
