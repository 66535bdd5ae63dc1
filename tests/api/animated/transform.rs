//! `GET /img/{key}` of a stored animation: WebP renditions (`f=webp`, no `f`, `f=auto` with
//! WebP accepted) stay animated with every frame resized and the timing kept; JPEG, PNG and
//! AVIF renditions are the first frame; the identity answer is the stored file; canonical
//! queries and ETags as for stills.

use axum::http::{StatusCode, header};
use image::ImageFormat;

use super::{Served, Stored};
use crate::harness::similarity::{alpha_diff, identify, pillow_frames};
use crate::harness::webp_anim::{is_animated_webp, read_animated_webp};
use crate::harness::{Backend, TestResponse, corpus_image, inspect};

use super::corpus::SSIM_MIN;

const GREY: [u8; 3] = [128; 3];

/// A 200 answer of `content_type`.
fn assert_ok(response: &TestResponse, content_type: &str, label: &str) {
    response.assert_status(StatusCode::OK, label);
    assert_eq!(
        response.header(header::CONTENT_TYPE),
        Some(content_type),
        "{label}: content type"
    );
    assert_eq!(
        response.header(header::CONTENT_LENGTH),
        Some(response.body.len().to_string().as_str()),
        "{label}: content length"
    );
}

/// An animated WebP rendition of `stored` at `size`: every frame, the same timing and loop,
/// each frame like Pillow's Lanczos resize of the stored frame.
fn assert_animated_rendition(
    response: &TestResponse,
    stored: &Stored,
    size: (u32, u32),
    label: &str,
) {
    assert_ok(response, "image/webp", label);
    assert!(is_animated_webp(&response.body), "{label}: not animated");
    let anim = read_animated_webp(&response.body);
    assert_eq!((anim.width, anim.height), size, "{label}: size");
    assert_eq!(anim.durations(), stored.anim.durations(), "{label}: delays");
    assert_eq!(
        anim.loop_count, stored.anim.loop_count,
        "{label}: loop count"
    );
    assert!(anim.alpha_flag, "{label}: alpha kept");
    assert!(anim.metadata_flags.is_empty(), "{label}: metadata");
    let pillow = pillow_frames(&stored.bytes, size);
    assert_eq!(
        pillow.frames.len(),
        anim.frames.len(),
        "{label}: Pillow's frame count"
    );
    let mut worst = 1.0f64;
    for (i, (frame, reference)) in anim.frames.iter().zip(&pillow.frames).enumerate() {
        let score = identify(&frame.canvas, &pillow.frames, i, GREY, SSIM_MIN)
            .unwrap_or_else(|e| panic!("{label}: frame {i}: {e}"));
        worst = worst.min(score);
        let alpha = alpha_diff(&frame.canvas, reference);
        assert!(
            alpha < 8.0,
            "{label}: frame {i} alpha differs by {alpha:.2}"
        );
    }
    eprintln!("{label}: lowest frame SSIM {worst:.4}");
}

/// A still rendition: the first frame, as Pillow resizes it.
fn assert_first_frame(
    response: &TestResponse,
    stored: &Stored,
    format: &str,
    size: (u32, u32),
    label: &str,
) {
    assert_ok(response, &format!("image/{format}"), label);
    assert!(!is_animated_webp(&response.body), "{label}: animated");
    let out = inspect(&response.body);
    assert_eq!(
        out.format,
        ImageFormat::from_extension(format).unwrap(),
        "{label}"
    );
    assert_eq!((out.width, out.height), size, "{label}: size");
    if format == "avif" {
        return;
    }
    let pillow = pillow_frames(&stored.bytes, size);
    let pixels = out.image().to_rgba8();
    // JPEG has no alpha: transparent areas come out white.
    let background = if format == "jpeg" { [255; 3] } else { GREY };
    let first = identify(&pixels, &pillow.frames, 0, background, SSIM_MIN)
        .unwrap_or_else(|e| panic!("{label}: not the first frame: {e}"));
    let other = pillow.frames.len() / 2;
    let wrong = identify(&pixels, &pillow.frames, other, background, SSIM_MIN);
    eprintln!("{label}: SSIM {first:.4} vs frame 0");
    assert!(
        wrong.is_err(),
        "{label}: passes as frame {other} too: {wrong:?}"
    );
}

async fn renditions(backend: Backend) {
    let served = Served::start(backend, &[]).await;
    let stored = served
        .upload_animated("image", "spinner.gif", corpus_image("rotating-squares.gif"))
        .await;
    let key = &stored.key;
    let label = |what: &str| format!("{what} ({backend:?})");

    // The identity answer: the stored file itself.
    let identity = served.get(&format!("/img/{key}")).await;
    assert_ok(&identity, "image/webp", &label("identity"));
    assert_eq!(
        identity.body.as_ref(),
        stored.bytes.as_slice(),
        "{}",
        label("identity")
    );

    let webp = served.get(&format!("/img/{key}?w=40&f=webp")).await;
    assert_animated_rendition(&webp, &stored, (40, 40), &label("w=40&f=webp"));
    let etag = webp.header(header::ETAG).expect("ETag").to_owned();
    let again = served
        .get_with(
            &format!("/img/{key}?w=40&f=webp"),
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::NOT_MODIFIED,
        "{}",
        label("revalidated")
    );

    // No `f`: the stored format, WebP, so animated too.
    let same_format = served.get(&format!("/img/{key}?w=40")).await;
    assert_animated_rendition(&same_format, &stored, (40, 40), &label("w=40"));
    let fitted = served.get(&format!("/img/{key}?w=60&h=30&fit=fill")).await;
    assert_animated_rendition(&fitted, &stored, (60, 30), &label("w=60&h=30&fit=fill"));

    assert_first_frame(
        &served.get(&format!("/img/{key}?w=40&f=jpeg")).await,
        &stored,
        "jpeg",
        (40, 40),
        &label("f=jpeg"),
    );
    assert_first_frame(
        &served.get(&format!("/img/{key}?w=40&f=png")).await,
        &stored,
        "png",
        (40, 40),
        &label("f=png"),
    );
    assert_first_frame(
        &served.get(&format!("/img/{key}?w=40&f=avif")).await,
        &stored,
        "avif",
        (40, 40),
        &label("f=avif"),
    );

    // f=auto: resolved from Accept by a canonical redirect, then served.
    let auto = format!("/img/{key}?w=40&f=auto");
    for (accept, format) in [
        (Some("image/webp,*/*"), "webp"),
        (Some("image/avif,image/webp,*/*"), "avif"),
        (Some("image/*,*/*;q=0.8"), "jpeg"),
        (None, "jpeg"),
    ] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let what = label(&format!("f=auto, Accept {accept:?}"));
        let moved = served.get_with(&auto, &headers).await;
        moved.assert_status(StatusCode::MOVED_PERMANENTLY, &what);
        let location = moved.header(header::LOCATION).expect("Location");
        assert!(
            location.ends_with(&format!("?w=40&f={format}")),
            "{what}: Location {location}"
        );
        let target = format!("/img/{key}?w=40&f={format}");
        let served_target = served.get_with(&target, &headers).await;
        if format == "webp" {
            assert_animated_rendition(&served_target, &stored, (40, 40), &what);
        } else {
            assert_first_frame(&served_target, &stored, format, (40, 40), &what);
        }
    }
}

#[tokio::test]
async fn renditions_on_disk() {
    renditions(Backend::Disk).await;
}

#[tokio::test]
async fn renditions_on_s3() {
    renditions(Backend::S3).await;
}

/// Without canonical redirects, `f=auto` answers directly, varying on `Accept`: animated for
/// WebP (and AVIF) clients, the first frame for the others.
#[tokio::test]
async fn auto_without_redirects_answers_by_accept() {
    let served = Served::start(Backend::Disk, &["--canonical-redirect", "false"]).await;
    let stored = served
        .upload_animated(
            "image",
            "spinner.webp",
            corpus_image("rotating-squares.webp"),
        )
        .await;
    let uri = format!("/img/{}?w=40&f=auto", stored.key);
    let webp = served.get_with(&uri, &[("accept", "image/webp,*/*")]).await;
    assert_animated_rendition(&webp, &stored, (40, 40), "f=auto, WebP accepted");
    assert_eq!(webp.header(header::VARY), Some("Accept"));
    // AVIF accepted: WebP stands in, animated, as for an AVIF over its size limit.
    let avif = served
        .get_with(&uri, &[("accept", "image/avif,image/webp,*/*")])
        .await;
    assert_animated_rendition(&avif, &stored, (40, 40), "f=auto, AVIF accepted");
    let jpeg = served.get(&uri).await;
    assert_first_frame(&jpeg, &stored, "jpeg", (40, 40), "f=auto, no Accept");
    assert_eq!(jpeg.header(header::VARY), Some("Accept"));
}

/// A source GIF stored as it is (not uploaded) renders animated too, as WebP.
#[tokio::test]
async fn a_stored_gif_renders_animated_as_webp() {
    let served = Served::start(Backend::Disk, &[]).await;
    let key = "images/2026/01/02/0123456789abcdef0123456789abcdef.gif";
    let source = corpus_image("rotating-squares.gif");
    served.app.put(key, source.clone()).await;
    let response = served.get(&format!("/img/{key}?w=40&f=webp")).await;
    assert_ok(&response, "image/webp", "stored GIF, f=webp");
    let anim = read_animated_webp(&response.body);
    assert_eq!((anim.width, anim.height), (40, 40));
    assert_eq!(anim.total_ms(), 900);
    let pillow = pillow_frames(&source, (40, 40));
    // Each output frame is the source frame shown at its start.
    let mut shown_from = 0u64;
    for (i, frame) in anim.frames.iter().enumerate() {
        let mut end = 0u64;
        let source_frame = pillow
            .durations_ms
            .iter()
            .position(|&d| {
                end += u64::from(d);
                end > shown_from
            })
            .expect("a source frame at that time");
        identify(&frame.canvas, &pillow.frames, source_frame, GREY, SSIM_MIN)
            .unwrap_or_else(|e| panic!("frame {i} (from {shown_from} ms): {e}"));
        shown_from += u64::from(frame.duration_ms);
    }
}
