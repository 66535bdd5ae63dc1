//! Output formats: quality against size, `f=auto` from `Accept` (and `Vary`), and PNG output
//! of opaque sources.

use axum::http::{StatusCode, header};

use super::{PHOTO, assert_image, assert_redirect, photo_app};
use crate::harness::{corpus_image, encode_png};

#[tokio::test]
async fn quality_shrinks_lossy_outputs_and_is_dropped_for_png() {
    let app = photo_app(&[]).await;
    for format in ["jpeg", "webp"] {
        let at = |q: u8| format!("/img/{PHOTO}?w=320&f={format}&q={q}");
        let low = app.get(&at(30)).await;
        let high = app.get(&at(90)).await;
        assert_image(&low, format, (320, 240), &at(30));
        assert_image(&high, format, (320, 240), &at(90));
        assert!(
            low.body.len() < high.body.len(),
            "{format}: q=30 gave {} bytes, q=90 {}",
            low.body.len(),
            high.body.len()
        );
        assert_ne!(low.header(header::ETAG), high.header(header::ETAG));
    }
    // PNG is lossless, so q means nothing: dropped from the canonical URL.
    let uri = format!("/img/{PHOTO}?w=320&f=png&q=30");
    assert_redirect(
        &app.get(&uri).await,
        &uri,
        &format!("/img/{PHOTO}?w=320&f=png"),
    );
    // q=80 is the default, dropped too.
    let uri = format!("/img/{PHOTO}?w=320&f=webp&q=80");
    assert_redirect(
        &app.get(&uri).await,
        &uri,
        &format!("/img/{PHOTO}?w=320&f=webp"),
    );
}

#[tokio::test]
async fn auto_format_follows_accept_and_varies_on_it() {
    const AVIF: &str = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
    const WEBP: &str = "image/webp,*/*";
    let cases = [
        (Some(AVIF), "avif"),
        (Some(WEBP), "webp"),
        (Some("image/*,*/*;q=0.8"), "jpeg"),
        (None, "jpeg"),
    ];
    // With canonical redirects (the default) auto is resolved by a 301 that varies on Accept.
    let app = photo_app(&[]).await;
    let uri = format!("/img/{PHOTO}?w=100&f=auto");
    for (accept, format) in cases {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let moved = app.get_with(&uri, &headers).await;
        let target = assert_redirect(&moved, &uri, &format!("/img/{PHOTO}?w=100&f={format}"));
        assert_eq!(moved.header(header::VARY), Some("Accept"), "{accept:?}");
        if format != "avif" {
            let served = app.get_with(&target, &headers).await;
            assert_image(&served, format, (100, 75), &target);
        }
    }
    // Without them, the rendition is served directly, with Vary: Accept.
    let app = photo_app(&["--canonical-redirect", "false"]).await;
    for (accept, format) in cases {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let served = app.get_with(&uri, &headers).await;
        let etag = assert_image(&served, format, (100, 75), &format!("{uri} {accept:?}"));
        assert_eq!(served.header(header::VARY), Some("Accept"), "{accept:?}");
        let mut revalidate = headers.clone();
        revalidate.push(("if-none-match", &etag));
        let revalidated = app.get_with(&uri, &revalidate).await;
        assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED, "{accept:?}");
        assert_eq!(
            revalidated.header(header::VARY),
            Some("Accept"),
            "304 {accept:?}"
        );
        // The same rendition as the explicit format: one ETag.
        if format == "webp" {
            let explicit = app.get(&format!("/img/{PHOTO}?w=100&f=webp")).await;
            assert_eq!(explicit.header(header::ETAG), Some(etag.as_str()));
            assert_eq!(explicit.body, served.body);
            assert_eq!(explicit.header(header::VARY), None, "explicit f: no Vary");
        }
    }
}

/// PNG output of pixels without alpha: a JPEG with `f=png`, an RGB (or 16-bit RGB) PNG resized.
/// Regression: the PNG encoder once declared every buffer RGBA, so 3-channel pixels panicked
/// (500). The GIF (decoded as RGBA) is the control.
#[tokio::test]
async fn png_output_of_an_opaque_source() {
    let app = photo_app(&[]).await;
    app.put("images/gif.gif", corpus_image("Crash_test.gif"))
        .await; // 800x533, opaque
    app.put(
        "images/flag.png",
        corpus_image("Flag_of_the_Netherlands-16bit.png"),
    )
    .await; // 900x600 RGB 16-bit
    let rgb = image::RgbImage::from_pixel(30, 20, image::Rgb([0, 255, 0]));
    app.put("images/rgb.png", encode_png(rgb)).await;
    let cases = [
        (format!("/img/{PHOTO}?w=320&f=png"), (320, 240)),
        ("/img/images/gif.gif?w=80".to_owned(), (80, 53)),
        ("/img/images/flag.png?w=90".to_owned(), (90, 60)),
        ("/img/images/rgb.png?w=15".to_owned(), (15, 10)),
    ];
    let mut failed = Vec::new();
    for (uri, _) in &cases {
        let response = app.get(uri).await;
        if response.status != StatusCode::OK {
            failed.push(format!(
                "{uri}: {} {}",
                response.status,
                response.error_code()
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
    for (uri, size) in cases {
        assert_image(&app.get(&uri).await, "png", size, &uri);
    }
}
