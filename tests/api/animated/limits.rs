//! The animation limits: frames (`--max-frames`), canvas pixels × frames
//! (`--max-animation-pixels`) and total duration (`--max-animation-secs`). Over one, the file
//! is 422 `image_too_large` with a message naming the flag, and the usual CORS headers; at the
//! limit it is taken. The bombs are refused from their containers, before a frame is decoded.

use axum::http::{StatusCode, header};

use super::Served;
use crate::harness::animations::{
    GifFrame, RED, Repeat, apng_declaring, apng_fixture, gif, many_frames_gif, solid_frames,
};
use crate::harness::{Backend, TestResponse, corpus_image};

/// 422 `image_too_large`, the message naming `flag`, with CORS.
fn assert_refused(response: &TestResponse, flag: &str, label: &str) {
    response.assert_status(StatusCode::UNPROCESSABLE_ENTITY, label);
    assert_eq!(response.error_code(), "image_too_large", "{label}");
    let message = response.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains(flag),
        "{label}: the message does not name {flag}: {message:?}"
    );
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("*"),
        "{label}: CORS"
    );
}

/// 100,000 one-pixel frames: refused by `--max-frames` (1000 by default), as an image, as an
/// animated profile and as a first-frame one; and an APNG whose `acTL` declares as many.
async fn too_many_frames(backend: Backend) {
    let bomb = many_frames_gif(100_000);
    assert!(bomb.len() < 4 << 20, "the bomb is {} bytes", bomb.len());
    let served = Served::start(backend, &["--animated-profile", "keep"]).await;
    for query_type in ["image", "profile"] {
        let label = format!("100,000 frames as {query_type} ({backend:?})");
        let response = served
            .upload(&format!("type={query_type}"), "frames.gif", bomb.clone())
            .await;
        assert_refused(&response, "--max-frames", &label);
    }
    // The limits describe the input: the default first-frame profile refuses it too.
    let defaults = Served::start(backend, &[]).await;
    let response = defaults.upload("type=profile", "frames.gif", bomb).await;
    assert_refused(
        &response,
        "--max-frames",
        &format!("100,000 frames as a first-frame profile ({backend:?})"),
    );
    let declared = apng_declaring(apng_fixture(None), 100_000);
    let response = served.upload("type=image", "frames.png", declared).await;
    assert_refused(
        &response,
        "--max-frames",
        &format!("APNG declaring 100,000 frames ({backend:?})"),
    );
}

#[tokio::test]
async fn a_hundred_thousand_frames_are_refused_on_disk() {
    too_many_frames(Backend::Disk).await;
}

#[tokio::test]
async fn a_hundred_thousand_frames_are_refused_on_s3() {
    too_many_frames(Backend::S3).await;
}

#[tokio::test]
async fn max_frames_is_a_limit_not_a_target() {
    let served = Served::start(Backend::Disk, &["--max-frames", "3"]).await;
    let frames = |n: usize| gif(16, 16, None, None, &solid_frames(16, 16, n, &[10]));
    assert_refused(
        &served.upload("type=image", "four.gif", frames(4)).await,
        "--max-frames",
        "4 frames over --max-frames 3",
    );
    let stored = served
        .upload_animated("image", "three.gif", frames(3))
        .await;
    assert_eq!(stored.anim.frames.len(), 3);
}

#[tokio::test]
async fn canvas_pixels_times_frames_over_the_limit_are_refused() {
    // 100×100 canvas: 100 frames are 1,000,000 pixels in all, the limit; 101 are over.
    let served = Served::start(Backend::Disk, &["--max-animation-pixels", "1000000"]).await;
    let frames = |n: usize| {
        gif(
            100,
            100,
            Some(Repeat::Infinite),
            None,
            &solid_frames(100, 100, n, &[2]),
        )
    };
    assert_refused(
        &served.upload("type=image", "pixels.gif", frames(101)).await,
        "--max-animation-pixels",
        "101 frames of 100x100",
    );
    let stored = served
        .upload_animated("image", "pixels.gif", frames(100))
        .await;
    assert_eq!(stored.anim.total_ms(), 2000);
    // Small frames on a large canvas count the canvas: 1000×1000 with two 1×1 frames.
    let sparse = gif(
        1000,
        1000,
        None,
        None,
        &[
            GifFrame::solid(0, 0, 1, 1, RED),
            GifFrame::solid(1, 1, 1, 1, RED),
        ],
    );
    assert_refused(
        &served.upload("type=image", "sparse.gif", sparse).await,
        "--max-animation-pixels",
        "two frames on a 1000x1000 canvas",
    );
}

#[tokio::test]
async fn a_total_duration_over_the_limit_is_refused() {
    // Two frames of 655.35 s: 1310.7 s in all, over the default 300 s.
    let long = || gif(8, 8, None, None, &solid_frames(8, 8, 2, &[65535]));
    let served = Served::start(Backend::Disk, &[]).await;
    assert_refused(
        &served.upload("type=image", "long.gif", long()).await,
        "--max-animation-secs",
        "1310.7 s",
    );
    let served = Served::start(Backend::Disk, &["--max-animation-secs", "1400"]).await;
    let stored = served.upload_animated("image", "long.gif", long()).await;
    assert_eq!(stored.anim.durations(), [655_350, 655_350]);
}

/// A refusal from a listed origin carries that origin, as every error does.
#[tokio::test]
async fn refusals_carry_cors_for_a_listed_origin() {
    const ORIGIN: &str = "https://chat.example.com";
    let served = Served::start(
        Backend::Disk,
        &["--allowed-origins", ORIGIN, "--max-frames", "2"],
    )
    .await;
    let response = served
        .upload_with(
            "type=image",
            "three.gif",
            gif(8, 8, None, None, &solid_frames(8, 8, 3, &[10])),
            &[("origin", ORIGIN)],
        )
        .await;
    response.assert_status(StatusCode::UNPROCESSABLE_ENTITY, "listed origin");
    assert_eq!(response.error_code(), "image_too_large");
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(ORIGIN)
    );
    assert!(
        response
            .header(header::VARY)
            .is_some_and(|v| v.to_ascii_lowercase().contains("origin")),
        "Vary: {:?}",
        response.header(header::VARY)
    );
}

/// The transform reads sources with the upload's checks: a stored bomb is refused too.
#[tokio::test]
async fn a_stored_bomb_is_refused_by_the_transform() {
    let served = Served::start(Backend::Disk, &[]).await;
    let key = "images/2026/01/02/00000000000000000000000000000000.gif";
    served.app.put(key, many_frames_gif(100_000)).await;
    let response = served.get(&format!("/img/{key}?w=1&f=webp")).await;
    response.assert_status(StatusCode::UNPROCESSABLE_ENTITY, "stored bomb, f=webp");
    assert_eq!(response.error_code(), "image_too_large");
}

/// `--max-animation-pixels` holds for renditions too: frames × rendition pixels.
#[tokio::test]
async fn an_animated_rendition_over_the_pixel_limit_is_refused() {
    // The stored spinner: 80×80, 9 frames, 57,600 pixels in all.
    let served = Served::start(Backend::Disk, &["--max-animation-pixels", "100000"]).await;
    let stored = served
        .upload_animated(
            "image",
            "spinner.webp",
            corpus_image("rotating-squares.webp"),
        )
        .await;
    let frames = stored.anim.frames.len() as u64;
    assert!(80 * 80 * frames <= 100_000 && 200 * 200 * frames > 100_000);
    let small = served
        .get(&format!("/img/{}?w=100&enlarge=1&f=webp", stored.key))
        .await;
    small.assert_status(StatusCode::OK, "100 px: under the limit");
    let large = served
        .get(&format!("/img/{}?w=200&enlarge=1&f=webp", stored.key))
        .await;
    large.assert_status(StatusCode::UNPROCESSABLE_ENTITY, "200 px: over the limit");
    assert_eq!(large.error_code(), "image_too_large");
    // The first frame alone is no animation.
    let still = served
        .get(&format!("/img/{}?w=200&enlarge=1&f=png", stored.key))
        .await;
    still.assert_status(StatusCode::OK, "200 px PNG: one frame");
}

/// Bad values of the new settings stop the server, naming the variable (a server that starts
/// anyway is stopped and fails the test).
#[test]
fn bad_limit_values_stop_the_server_naming_the_variable() {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    for (name, value) in [
        ("PIXGATE_MAX_FRAMES", "many"),
        ("PIXGATE_MAX_ANIMATION_PIXELS", "-1"),
        ("PIXGATE_MAX_ANIMATION_SECS", "5m"),
        ("PIXGATE_ANIMATED_PROFILE", "sometimes"),
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pixgate"))
            .arg("serve")
            .env("PIXGATE_ADDR", "127.0.0.1:0")
            .env(
                "PIXGATE_DATA_DIR",
                std::env::temp_dir().join("pixgate-anim-config"),
            )
            .env(name, value)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary runs");
        let started = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > Duration::from_secs(20) {
                child.kill().expect("kill");
                child.wait().expect("reaped");
                panic!("{name}={value}: the server started anyway");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}={value} should fail");
        assert!(
            stderr.contains(name),
            "{name}={value}: stderr does not name it: {stderr}"
        );
    }
}
