//! Test images and measures the pipeline's unit tests share.

use super::{AnimationLimits, PixelLimits};

pub const LIMITS: PixelLimits = PixelLimits {
    max_pixels: 50_000_000,
    max_declared_pixels: 250_000_000,
    max_side: 16384,
    animation: AnimationLimits::DEFAULT,
};

/// A 4:2:0 JPEG q95 of coloured 64-px squares with a diagonal ramp: edges, chroma and
/// gradients, at sides no DCT scale divides.
pub fn test_jpeg(width: usize, height: usize) -> Vec<u8> {
    test_jpeg_subsampled(width, height, turbojpeg::Subsamp::Sub2x2)
}

pub fn test_jpeg_subsampled(width: usize, height: usize, subsamp: turbojpeg::Subsamp) -> Vec<u8> {
    let rgb = pattern(width, height);
    let image = turbojpeg::Image {
        pixels: rgb.as_slice(),
        width,
        pitch: width * 3,
        height,
        format: turbojpeg::PixelFormat::RGB,
    };
    turbojpeg::compress(image, 95, subsamp).unwrap().to_vec()
}

/// Coloured 64-px squares with a diagonal ramp, as RGB.
fn pattern(width: usize, height: usize) -> Vec<u8> {
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
    rgb
}

/// `test_jpeg`'s pattern as a progressive JPEG: DCT-scalable on output, but libjpeg-turbo holds
/// every coefficient of it while decoding.
pub fn progressive_jpeg(width: usize, height: usize) -> Vec<u8> {
    compress_with(width, height, |c| c.set_progressive(true).unwrap())
}

/// `test_jpeg`'s pattern as a lossless JPEG, which cannot be decoded scaled.
pub fn lossless_jpeg(width: usize, height: usize) -> Vec<u8> {
    compress_with(width, height, |c| c.set_lossless(true).unwrap())
}

/// `test_jpeg`'s pattern as an (Adobe-inverted, as in the wild) CMYK JPEG.
pub fn cmyk_jpeg(width: usize, height: usize) -> Vec<u8> {
    let cmyk: Vec<u8> = pattern(width, height)
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    let image = turbojpeg::Image {
        pixels: cmyk.as_slice(),
        width,
        pitch: width * 4,
        height,
        format: turbojpeg::PixelFormat::CMYK,
    };
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(90).unwrap();
    compressor.set_subsamp(turbojpeg::Subsamp::None).unwrap();
    compressor.compress_to_vec(image).unwrap()
}

fn compress_with(
    width: usize,
    height: usize,
    configure: impl FnOnce(&mut turbojpeg::Compressor),
) -> Vec<u8> {
    let rgb = pattern(width, height);
    let image = turbojpeg::Image {
        pixels: rgb.as_slice(),
        width,
        pitch: width * 3,
        height,
        format: turbojpeg::PixelFormat::RGB,
    };
    let mut compressor = turbojpeg::Compressor::new().unwrap();
    compressor.set_quality(90).unwrap();
    compressor.set_subsamp(turbojpeg::Subsamp::Sub2x2).unwrap();
    configure(&mut compressor);
    compressor.compress_to_vec(image).unwrap()
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

/// A `width`×`height` RGB PNG carrying an `iCCP` chunk whose profile inflates to `icc_len` zero
/// bytes: the PNG colour-profile decompression bomb when `icc_len` is large.
pub fn png_with_icc_bomb(width: u32, height: u32, icc_len: u64) -> Vec<u8> {
    let mut png = Vec::new();
    image::RgbImage::from_pixel(width, height, image::Rgb([200, 100, 50]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut data = b"bomb\0\0".to_vec(); // profile name, compression method 0 (zlib)
    data.extend(zlib_zeros(icc_len));
    // After the signature (8 bytes) and IHDR (25): where a profile must come.
    let at = 8 + 25;
    png.splice(at..at, png_chunk(b"iCCP", &data));
    png
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let crc = crc32(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    chunk
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// `len` zero bytes (`len` ≥ 1) as a zlib stream: one literal zero, then matches of 258 bytes
/// at distance 1 in one fixed-Huffman block (13 bits per 258 bytes, about 160:1).
fn zlib_zeros(len: u64) -> Vec<u8> {
    let mut bits = BitWriter::default();
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE = 01, fixed Huffman
    bits.put_code(0x30, 8); // literal 0
    let mut left = len - 1;
    while left >= 258 {
        bits.put_code(0b1100_0101, 8); // length symbol 285: 258 bytes
        bits.put_code(0, 5); // distance symbol 0: distance 1
        left -= 258;
    }
    for _ in 0..left {
        bits.put_code(0x30, 8);
    }
    bits.put_code(0, 7); // end of block
    let mut stream = vec![0x78, 0x01];
    stream.extend(bits.finish());
    // Adler-32 of zeros: a stays 1, b grows by 1 a byte.
    let adler = (((len % 65521) as u32) << 16) | 1;
    stream.extend_from_slice(&adler.to_be_bytes());
    stream
}

/// Deflate's bit order: values LSB first, Huffman codes MSB first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    acc: u64,
    count: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, n: u32) {
        self.acc |= u64::from(value) << self.count;
        self.count += n;
        while self.count >= 8 {
            self.bytes.push(self.acc as u8);
            self.acc >>= 8;
            self.count -= 8;
        }
    }

    fn put_code(&mut self, code: u32, n: u32) {
        self.put(code.reverse_bits() >> (32 - n), n);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}

/// A GIF of `frames` 1×1 frames, each `delay_cs` long, with a NETSCAPE block for `loops`.
pub fn tiny_gif(frames: usize, delay_cs: u16, loops: Option<u16>) -> Vec<u8> {
    let mut gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff".to_vec();
    if let Some(loops) = loops {
        gif.extend_from_slice(b"\x21\xff\x0bNETSCAPE2.0\x03\x01");
        gif.extend_from_slice(&loops.to_le_bytes());
        gif.push(0);
    }
    let [lo, hi] = delay_cs.to_le_bytes();
    for _ in 0..frames {
        gif.extend_from_slice(&[0x21, 0xF9, 4, 0, lo, hi, 0, 0]);
        gif.extend_from_slice(b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00");
    }
    gif.push(0x3B);
    gif
}
