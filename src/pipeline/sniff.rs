//! The real format, from the file's first bytes. The extension and the part's
//! Content-Type are never trusted.

use super::PipelineError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Jpeg,
    Png,
    Gif,
    Webp,
    Bmp,
}

impl SourceFormat {
    pub fn image_format(self) -> image::ImageFormat {
        match self {
            Self::Jpeg => image::ImageFormat::Jpeg,
            Self::Png => image::ImageFormat::Png,
            Self::Gif => image::ImageFormat::Gif,
            Self::Webp => image::ImageFormat::WebP,
            Self::Bmp => image::ImageFormat::Bmp,
        }
    }
}

pub fn sniff(bytes: &[u8]) -> Result<SourceFormat, PipelineError> {
    if bytes.is_empty() {
        return Err(PipelineError::EmptyFile);
    }
    match image::guess_format(bytes) {
        Ok(image::ImageFormat::Jpeg) => Ok(SourceFormat::Jpeg),
        Ok(image::ImageFormat::Png) => Ok(SourceFormat::Png),
        Ok(image::ImageFormat::Gif) => Ok(SourceFormat::Gif),
        Ok(image::ImageFormat::WebP) => Ok(SourceFormat::Webp),
        Ok(image::ImageFormat::Bmp) => Ok(SourceFormat::Bmp),
        Ok(other) => Err(PipelineError::UnsupportedFormat(
            format!("{other:?}").into(),
        )),
        Err(_) => Err(PipelineError::UnsupportedFormat(
            "not a recognised image".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_comes_from_magic_bytes() {
        let cases: &[(&[u8], Option<SourceFormat>)] = &[
            (b"\xff\xd8\xff\xe0\0\x10JFIF", Some(SourceFormat::Jpeg)),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some(SourceFormat::Png)),
            (b"GIF89a\x01\0\x01\0", Some(SourceFormat::Gif)),
            (b"RIFF\0\0\0\0WEBPVP8 ", Some(SourceFormat::Webp)),
            (b"BM\0\0\0\0\0\0\0\0", Some(SourceFormat::Bmp)),
            (b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>", None),
            (b"<!DOCTYPE html><html>", None),
            (b"MM\0*\0\0\0\x08", None),
            (b"\0\0\0\x18ftypheic", None),
        ];
        for (bytes, expected) in cases {
            assert_eq!(sniff(bytes).ok(), *expected, "{bytes:?}");
        }
    }

    #[test]
    fn empty_input_is_its_own_error() {
        assert!(matches!(sniff(b""), Err(PipelineError::EmptyFile)));
    }
}
