//! Every stored file in an upload answer carries a `placeholder` a client can paint at once:
//! a ThumbHash that decodes to the stored image's aspect ratio and average colour, and a
//! dominant colour as `#rrggbb`. Checked against the stored file itself, for corpus photos on
//! disk and on S3, an animation (its first frame) and a direct upload.

use std::io::Cursor;

use axum::http::StatusCode;
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, RgbaImage};
use serde_json::Value;

use crate::direct::client::Direct;
use crate::harness::webp_anim::is_animated_webp;
use crate::harness::{Backend, TestApp, corpus_image, default_config, inspect};
use crate::openapi::assert_upload_answer_matches_spec;

/// Photos and drawings of every path: a large JPEG (planar path), EXIF-rotated ones (stored
/// upright), a portrait, CMYK, a PNG with real transparency, a 16-bit PNG, a 1×1 pixel with a
/// colour profile, a 200:1 strip (past what ThumbHash's ratio can say).
const CORPUS: [&str; 9] = [
    "2569067123_aca715a2ee_o.jpg",
    "Landscape_6.jpg",
    "Landscape_8.jpg",
    "Portrait_1.jpg",
    "Channel_digital_image_CMYK_color.jpg",
    "with-alpha.png",
    "Flag_of_the_Netherlands-16bit.png",
    "prophoto.png",
    "strip-wide-10000x50.png",
];

/// Largest gap, per channel out of 255, between the ThumbHash's average colour and the stored
/// image's: ThumbHash keeps the average in 6 bits a component (steps of about 4 levels), and the
/// hash is taken from a 100 px thumbnail.
const AVERAGE_TOLERANCE: f64 = 12.0;

/// The stored image's average colour, each pixel counted by its opacity (as ThumbHash does).
fn average_rgb(image: &RgbaImage) -> [f64; 3] {
    let (mut sums, mut weight) = ([0f64; 3], 0f64);
    for px in image.pixels() {
        let alpha = f64::from(px[3]) / 255.0;
        for (sum, &c) in sums.iter_mut().zip(&px.0[..3]) {
            *sum += alpha * f64::from(c);
        }
        weight += alpha;
    }
    sums.map(|s| s / weight.max(f64::MIN_POSITIVE))
}

/// Checks `item`'s placeholder against `stored` (the stored image, or an animation's first
/// frame, as RGBA).
fn check_placeholder(item: &Value, stored: &RgbaImage, label: &str) {
    let placeholder = &item["placeholder"];
    let color = placeholder["color"]
        .as_str()
        .unwrap_or_else(|| panic!("{label}: no placeholder.color in {item}"));
    assert!(
        color.len() == 7
            && color.starts_with('#')
            && color[1..]
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{label}: colour {color:?} is not #rrggbb"
    );
    let encoded = placeholder["thumbhash"]
        .as_str()
        .unwrap_or_else(|| panic!("{label}: no placeholder.thumbhash in {item}"));
    let hash = BASE64_STANDARD
        .decode(encoded)
        .unwrap_or_else(|e| panic!("{label}: thumbhash {encoded:?} is not base64: {e}"));
    assert!(
        hash.len() <= 40,
        "{label}: {} bytes of ThumbHash",
        hash.len()
    );
    let (w, h, rgba) = thumbhash::thumb_hash_to_rgba(&hash)
        .unwrap_or_else(|()| panic!("{label}: thumbhash {encoded:?} does not decode"));
    check_aspect(&hash, (w, h), stored.dimensions(), label);
    // The average the ThumbHash carries (its DC terms), which clients can also read alone.
    // The decoded image's own mean strays further on high-contrast strips, where its
    // decoder clamps the sum of the cosines.
    let (r, g, b, _) = thumbhash::thumb_hash_to_average_rgba(&hash).expect("checked above");
    let got = [r, g, b].map(|c| f64::from(c) * 255.0);
    let want = average_rgb(stored);
    for (g, s) in got.iter().zip(want) {
        assert!(
            (g - s).abs() <= AVERAGE_TOLERANCE,
            "{label}: ThumbHash average {got:.0?}, stored image {want:.0?}"
        );
    }
    let decoded = RgbaImage::from_raw(w as u32, h as u32, rgba).expect("decoder's own size");
    let drawn = average_rgb(&decoded);
    for (d, s) in drawn.iter().zip(want) {
        assert!(
            (d - s).abs() <= 2.0 * AVERAGE_TOLERANCE,
            "{label}: decoded ThumbHash average {drawn:.0?}, stored image {want:.0?}"
        );
    }
}

/// ThumbHash writes the aspect ratio as luminance components along each side: 7 on the long
/// side (5 with alpha) and `round(7 × short / long)`, at least 1, on the short one; its decoder
/// draws 32 px along the long side. So the decoded ratio is the stored one to within that
/// rounding, plus the 100 px thumbnail's own rounding.
fn check_aspect(hash: &[u8], (w, h): (usize, usize), (sw, sh): (u32, u32), label: &str) {
    let has_alpha = hash[2] & 0x80 != 0;
    let long_components = if has_alpha { 5.0 } else { 7.0 };
    let (long, short) = (f64::from(sw.max(sh)), f64::from(sw.min(sh)));
    let expected = (long_components * short / long).max(1.0);
    let (dlong, dshort) = (w.max(h) as f64, w.min(h) as f64);
    let got = long_components * dshort / dlong;
    assert!(
        (got - expected).abs() <= 0.6,
        "{label}: decoded {w}x{h} for a stored {sw}x{sh} \
         ({got:.2} short-side components, {expected:.2} expected)"
    );
    if sw.abs_diff(sh) * 10 > sw.max(sh) {
        assert_eq!(w > h, sw > sh, "{label}: decoded {w}x{h}, stored {sw}x{sh}");
    }
}

/// The stored file behind `item`, as RGBA (an animation's first frame).
async fn stored_rgba(app: &TestApp, item: &Value, label: &str) -> RgbaImage {
    let key = item["key"].as_str().expect("key");
    let stored = app.get(&format!("/files/{key}")).await;
    assert_eq!(stored.status, StatusCode::OK, "{label}: GET /files/{key}");
    if is_animated_webp(&stored.body) {
        let decoder = WebPDecoder::new(Cursor::new(&stored.body[..])).expect("WebP");
        let first = decoder
            .into_frames()
            .next()
            .expect("a frame")
            .expect("frame decodes");
        return first.into_buffer();
    }
    inspect(&stored.body).image().to_rgba8()
}

async fn corpus_photos_carry_a_placeholder(backend: Backend) {
    let app = TestApp::on(backend, default_config()).await;
    for name in CORPUS {
        for query_type in ["profile", "image"] {
            let label = format!("{name} as {query_type} ({backend:?})");
            let response = app
                .upload_file(
                    &format!("type={query_type}"),
                    name,
                    "application/octet-stream",
                    corpus_image(name),
                )
                .await;
            assert_upload_answer_matches_spec(&response, &label);
            assert_eq!(response.status, StatusCode::OK, "{label}");
            let item = &response.json()[0];
            let stored = stored_rgba(&app, item, &label).await;
            check_placeholder(item, &stored, &label);
        }
    }
}

#[tokio::test]
async fn corpus_photos_carry_a_placeholder_of_the_stored_image_on_disk() {
    corpus_photos_carry_a_placeholder(Backend::Disk).await;
}

#[tokio::test]
async fn corpus_photos_carry_a_placeholder_of_the_stored_image_on_s3() {
    corpus_photos_carry_a_placeholder(Backend::S3).await;
}

/// The colour names the most common colour of the stored image: its bin of a 16-levels-a-
/// channel histogram of the full stored image (opaque pixels only) is the fullest one, or
/// close (the answer comes from a 100 px thumbnail, whose averaging moves pixels across bins).
/// `with-alpha.png`'s transparent part must not count.
#[tokio::test]
async fn the_colour_is_the_most_common_one_of_the_stored_image() {
    let app = TestApp::new();
    for name in [
        "Portrait_1.jpg",
        "with-alpha.png",
        "DSCN0010.jpg",
        "concert.jpg",
    ] {
        let response = app
            .upload_file("type=image", name, "image/jpeg", corpus_image(name))
            .await;
        assert_eq!(response.status, StatusCode::OK, "{name}");
        let item = &response.json()[0];
        let stored = stored_rgba(&app, item, name).await;
        let color = item["placeholder"]["color"].as_str().expect("colour");
        let rgb = hex::decode(&color[1..]).expect("hex");
        let bin = |c: &[u8]| {
            (usize::from(c[0] >> 4) << 8) | (usize::from(c[1] >> 4) << 4) | usize::from(c[2] >> 4)
        };
        let mut counts = vec![0u64; 4096];
        for px in stored.pixels().filter(|px| px[3] > 127) {
            counts[bin(&px.0)] += 1;
        }
        let fullest = counts.iter().copied().max().unwrap_or(0);
        let answer = counts[bin(&rgb)];
        assert!(
            answer as f64 >= fullest as f64 * 0.6 && answer > 0,
            "{name}: {color}'s bin holds {answer} pixels, the fullest {fullest}"
        );
    }
}

#[tokio::test]
async fn an_animation_carries_the_placeholder_of_its_first_frame() {
    for backend in [Backend::Disk, Backend::S3] {
        let app = TestApp::on(backend, default_config()).await;
        let name = "rotating-squares.gif";
        let label = format!("{name} ({backend:?})");
        let response = app
            .upload_file("type=image", name, "image/gif", corpus_image(name))
            .await;
        assert_upload_answer_matches_spec(&response, &label);
        let item = &response.json()[0];
        assert_eq!(item["animated"], true, "{label}: {item}");
        let first = stored_rgba(&app, item, &label).await;
        check_placeholder(item, &first, &label);
    }
}

#[tokio::test]
async fn a_direct_upload_carries_a_placeholder() {
    for backend in [Backend::Disk, Backend::S3] {
        let direct = Direct::start(backend, &[]).await;
        let label = format!("direct upload ({backend:?})");
        let (_, completed) = direct
            .single_put(
                "image",
                "photo.jpg",
                "image/jpeg",
                corpus_image("Portrait_2.jpg"),
            )
            .await;
        let item = completed.expect(200, &label).clone();
        let stored = stored_rgba(&direct.app, &item, &label).await;
        check_placeholder(&item, &stored, &label);
    }
}
