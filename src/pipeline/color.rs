//! Colours into sRGB. The output carries no ICC profile (metadata is stripped), so
//! pixels in another space (Display P3 from phones, Adobe RGB, ProPhoto) are converted with the
//! embedded profile, as browsers would have shown them. A profile that cannot be read is ignored,
//! as browsers ignore it.

use moxcms::{ColorProfile, DataColorSpace, TransformOptions};

use super::{Layout, PipelineError, Pixels};

/// The embedded profile pixels are converted from: a readable RGB one. Grey and CMYK profiles
/// describe data this pipeline has already turned into RGB.
fn source_profile(icc: Option<&[u8]>) -> Option<ColorProfile> {
    icc.and_then(|icc| ColorProfile::new_from_slice(icc).ok())
        .filter(|profile| profile.color_space == DataColorSpace::Rgb)
}

/// Whether [`to_srgb`] would change pixels carrying this profile.
pub fn converts(icc: Option<&[u8]>) -> bool {
    source_profile(icc).is_some()
}

pub fn to_srgb(pixels: Pixels, icc: Option<&[u8]>) -> Result<Pixels, PipelineError> {
    let Some(source) = source_profile(icc) else {
        return Ok(pixels);
    };
    let layout = match pixels.layout {
        Layout::Rgb8 => moxcms::Layout::Rgb,
        Layout::Rgba8 => moxcms::Layout::Rgba,
    };
    let Ok(transform) = source.create_transform_8bit(
        layout,
        &ColorProfile::new_srgb(),
        layout,
        TransformOptions::default(),
    ) else {
        return Ok(pixels);
    };
    let mut converted = vec![0u8; pixels.data.len()];
    transform
        .transform(&pixels.data, &mut converted)
        .map_err(|e| PipelineError::internal(format!("colour conversion: {e}")))?;
    Ok(Pixels {
        data: converted,
        ..pixels
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(rgb: [u8; 3]) -> Pixels {
        Pixels {
            width: 1,
            height: 1,
            layout: Layout::Rgb8,
            data: rgb.to_vec(),
        }
    }

    #[test]
    fn without_a_readable_profile_pixels_are_unchanged() {
        assert_eq!(to_srgb(pixel([1, 2, 3]), None).unwrap().data, vec![1, 2, 3]);
        assert_eq!(
            to_srgb(pixel([1, 2, 3]), Some(b"not icc")).unwrap().data,
            vec![1, 2, 3]
        );
    }

    #[test]
    fn display_p3_red_becomes_the_most_saturated_srgb_red() {
        let p3 = ColorProfile::new_display_p3().encode().unwrap();
        let out = to_srgb(pixel([255, 0, 0]), Some(&p3)).unwrap().data;
        // P3 red lies outside sRGB: it clips to full red with no green or blue.
        assert_eq!(out[0], 255);
        assert!(out[1] < 10 && out[2] < 10, "{out:?}");
        let grey = to_srgb(pixel([128, 128, 128]), Some(&p3)).unwrap().data;
        assert!(grey.iter().all(|&v| v.abs_diff(128) <= 1), "{grey:?}");
    }
}
