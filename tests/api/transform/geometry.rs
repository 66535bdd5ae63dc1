//! Geometry: the size every fit mode gives on corpus originals, enlargement, one-sided
//! boxes, the untouched original, and which part of the picture cover keeps.

use axum::http::{StatusCode, header};

use super::{PHOTO, assert_image, assert_redirect, photo_app};
use crate::harness::{TestApp, corpus_image, encode_png, inspect};

const RED: image::Rgba<u8> = image::Rgba([255, 0, 0, 255]);
const GREEN: image::Rgba<u8> = image::Rgba([0, 255, 0, 255]);
const BLUE: image::Rgba<u8> = image::Rgba([0, 0, 255, 255]);

fn band(index: u32) -> image::Rgba<u8> {
    [RED, GREEN, BLUE][index as usize]
}

fn is_green(pixel: &image::Rgb<u8>) -> bool {
    let [r, g, b] = pixel.0;
    g > 200 && r < 60 && b < 60
}

#[tokio::test]
async fn every_fit_mode_gives_sharps_size_on_corpus_originals() {
    let app = photo_app(&[]).await;
    // (query, expected size) on the 640x480 photo: cover/contain/fill are exactly the box,
    // inside the largest size inside it, outside the smallest covering it.
    let cases = [
        ("w=200&h=200", (200, 200)),
        ("w=200&h=200&fit=contain", (200, 200)),
        ("w=200&h=200&fit=fill", (200, 200)),
        ("w=200&h=200&fit=inside", (200, 150)),
        ("w=200&h=200&fit=outside", (267, 200)),
        ("w=300&h=100", (300, 100)),
        ("w=300&h=100&fit=contain", (300, 100)),
        ("w=300&h=100&fit=fill", (300, 100)),
        ("w=300&h=100&fit=inside", (133, 100)),
        ("w=300&h=100&fit=outside", (300, 225)),
    ];
    for (query, size) in cases {
        let response = app.get(&format!("/img/{PHOTO}?{query}")).await;
        assert_image(&response, "jpeg", size, query);
    }

    // contain letterboxes: 200x150 of picture centred on 200x200, the bands white in JPEG.
    let contain = inspect(
        &app.get(&format!("/img/{PHOTO}?w=200&h=200&fit=contain"))
            .await
            .body,
    )
    .image()
    .to_rgb8();
    for (x, y) in [(100, 5), (5, 5), (195, 194), (100, 194)] {
        let [r, g, b] = contain.get_pixel(x, y).0;
        assert!(
            r > 245 && g > 245 && b > 245,
            "contain band at {x},{y} is {r},{g},{b}, not white"
        );
    }

    // Other source formats keep theirs: WebP stays WebP, fill stretches it to the box.
    app.put("images/4.webp", corpus_image("4.webp")).await;
    let webp = app.get("/img/images/4.webp?w=100&h=300&fit=fill").await;
    assert_image(&webp, "webp", (100, 300), "4.webp fill");
    // EXIF orientation 6 (stored 450x600): the box applies to the upright 600x450 picture.
    app.put("images/l6.jpg", corpus_image("Landscape_6.jpg"))
        .await;
    let upright = app.get("/img/images/l6.jpg?w=300&h=300&fit=inside").await;
    assert_image(&upright, "jpeg", (300, 225), "Landscape_6 inside");
}

#[tokio::test]
async fn small_sources_are_not_enlarged_unless_asked() {
    let app = TestApp::new();
    let key = "images/alpha.png"; // 256x192 RGBA
    app.put(key, corpus_image("with-alpha.png")).await;
    let cases = [
        // Without enlarge: the source size, except contain, which always gives the box.
        ("w=400&h=400", (256, 192)),
        ("w=400&h=400&fit=inside", (256, 192)),
        ("w=400&h=400&fit=outside", (256, 192)),
        ("w=400&h=400&fit=fill", (256, 192)),
        ("w=400&h=400&fit=contain", (400, 400)),
        ("w=512", (256, 192)),
        // With enlarge=1 each mode's own size.
        ("w=400&h=400&enlarge=1", (400, 400)),
        ("w=400&h=400&fit=inside&enlarge=1", (400, 300)),
        ("w=400&h=400&fit=outside&enlarge=1", (533, 400)),
        ("w=400&h=400&fit=fill&enlarge=1", (400, 400)),
        ("w=512&enlarge=1", (512, 384)),
    ];
    for (query, size) in cases {
        let response = app.get(&format!("/img/{key}?{query}")).await;
        assert_image(&response, "png", size, query);
    }
    // contain centres the 256x192 picture; the padding is transparent in PNG.
    let contain = inspect(
        &app.get(&format!("/img/{key}?w=400&h=400&fit=contain"))
            .await
            .body,
    )
    .image()
    .to_rgba8();
    for (x, y) in [(200, 10), (10, 10), (200, 390), (390, 390), (10, 200)] {
        assert_eq!(contain.get_pixel(x, y).0[3], 0, "padding at {x},{y}");
    }
}

#[tokio::test]
async fn one_side_keeps_the_aspect_ratio_and_never_reaches_zero() {
    let app = photo_app(&[]).await;
    app.put("images/l6.jpg", corpus_image("Landscape_6.jpg"))
        .await;
    app.put("images/tall.jpg", corpus_image("strip-tall-50x10000.jpg"))
        .await;
    let cases = [
        (format!("/img/{PHOTO}?w=320"), (320, 240)),
        (format!("/img/{PHOTO}?h=120"), (160, 120)),
        // Upright 600x450 (orientation 6).
        ("/img/images/l6.jpg?w=300".to_owned(), (300, 225)),
        ("/img/images/l6.jpg?h=150".to_owned(), (200, 150)),
        // 50x10000 to 100 high is 0.5 px wide: one pixel, never none.
        ("/img/images/tall.jpg?h=100".to_owned(), (1, 100)),
    ];
    for (uri, size) in cases {
        assert_image(&app.get(&uri).await, "jpeg", size, &uri);
    }
}

#[tokio::test]
async fn no_size_answers_the_stored_bytes_unchanged() {
    let app = photo_app(&[]).await;
    let original = corpus_image("DSCN0010.jpg");
    let files = app.get(&format!("/files/{PHOTO}")).await;
    assert_eq!(files.status, StatusCode::OK);
    let served = app.get(&format!("/img/{PHOTO}")).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, files.body, "same bytes as GET /files");
    assert_eq!(served.body.as_ref(), original.as_slice(), "not re-encoded");
    assert_eq!(served.header(header::CONTENT_TYPE), Some("image/jpeg"));
    // Spellings of "nothing" are sent to the bare URL.
    let bare = format!("/img/{PHOTO}");
    for query in ["q=80", "enlarge=1", "fit=contain", "Q=080&enlarge=false"] {
        let uri = format!("{bare}?{query}");
        assert_redirect(&app.get(&uri).await, &uri, &bare);
    }
}

#[tokio::test]
async fn cover_keeps_the_centre() {
    let app = TestApp::new();
    // Red | green | blue, left to right: a 100x100 cover crop must be the green middle.
    // (Opaque RGBA: see `png_output_of_an_opaque_source` for RGB sources.)
    let across = image::RgbaImage::from_fn(300, 100, |x, _| band(x / 100));
    app.put("images/across.png", encode_png(across)).await;
    // Red / green / blue, top to bottom, 90x300: 45x45 halves it (90x150) and keeps the
    // middle 45 rows, all inside the green band.
    let down = image::RgbaImage::from_fn(90, 300, |_, y| band(y / 100));
    app.put("images/down.png", encode_png(down)).await;
    for (uri, size) in [
        ("/img/images/across.png?w=100&h=100", (100, 100)),
        ("/img/images/down.png?w=45&h=45", (45, 45)),
    ] {
        let response = app.get(uri).await;
        assert_image(&response, "png", size, uri);
        let out = inspect(&response.body).image().to_rgb8();
        let off: Vec<_> = out
            .enumerate_pixels()
            .filter(|&(_, _, p)| !is_green(p))
            .map(|(x, y, p)| (x, y, p.0))
            .take(5)
            .collect();
        assert!(off.is_empty(), "{uri}: not the green centre: {off:?}");
    }
}
