//! `type=profile`: by default an animation becomes a still of its first frame (today's path);
//! `--animated-profile keep` keeps it animated, inside 200×200.

use super::{Served, assert_colour};
use crate::harness::animations::{BLUE, GREEN, RED, Rect, Repeat, gif, solid_frames};
use crate::harness::similarity::{identify, pillow_frames};
use crate::harness::{Backend, corpus_image, inspect};

/// 400×300, three frames of 0.3 s (red, green, blue), played three times.
fn three_colours() -> Vec<u8> {
    gif(
        400,
        300,
        Some(Repeat::Finite(3)),
        None,
        &solid_frames(400, 300, 3, &[30]),
    )
}

#[tokio::test]
async fn by_default_a_profile_is_the_first_frame() {
    let served = Served::start(Backend::Disk, &[]).await;

    let (item, stored) = served
        .upload_still("profile", "three.gif", three_colours())
        .await;
    let out = inspect(&stored);
    assert_eq!((out.width, out.height), (200, 150), "{item}");
    assert_colour(
        &out.image().to_rgba8(),
        Rect::new(0, 0, 200, 150),
        RED,
        "frame 0, not another",
    );

    // The corpus spinner: transparent, so a PNG; frame 0 as Pillow composites it.
    let source = corpus_image("rotating-squares.gif");
    let (item, stored) = served
        .upload_still("profile", "spinner.gif", source.clone())
        .await;
    assert_eq!(item["contentType"], "image/png");
    let still = inspect(&stored).image().to_rgba8();
    assert_eq!(still.dimensions(), (80, 80));
    let pillow = pillow_frames(&source, (80, 80));
    let floor = super::corpus::SSIM_MIN;
    let score = identify(&still, &pillow.frames, 0, [128; 3], floor)
        .unwrap_or_else(|e| panic!("the profile still is not frame 0: {e}"));
    eprintln!("profile still: SSIM {score:.4} vs frame 0");
    let wrong = identify(&still, &pillow.frames, 4, [128; 3], floor);
    assert!(wrong.is_err(), "the still passes as frame 4: {wrong:?}");
}

#[tokio::test]
async fn first_frame_is_also_what_the_flag_says_explicitly() {
    let served = Served::start(Backend::Disk, &["--animated-profile", "first-frame"]).await;
    served
        .upload_still("profile", "three.gif", three_colours())
        .await;
}

async fn keep(backend: Backend) {
    let served = Served::start(backend, &["--animated-profile", "keep"]).await;
    let label = format!("keep ({backend:?})");
    let stored = served
        .upload_animated("profile", "three.gif", three_colours())
        .await;
    let anim = &stored.anim;
    assert_eq!(
        (anim.width, anim.height),
        (200, 150),
        "{label}: inside 200x200"
    );
    assert_eq!(anim.durations(), [300, 300, 300], "{label}");
    assert_eq!(anim.loop_count, 3, "{label}");
    for (i, colour) in [RED, GREEN, BLUE].into_iter().enumerate() {
        assert_colour(
            &anim.frames[i].canvas,
            Rect::new(0, 0, 200, 150),
            colour,
            &format!("{label}, frame {i}"),
        );
    }
    // Small animations stay their size.
    let spinner = served
        .upload_animated(
            "profile",
            "spinner.webp",
            corpus_image("rotating-squares.webp"),
        )
        .await;
    assert_eq!(
        (spinner.anim.width, spinner.anim.height),
        (80, 80),
        "{label}"
    );
    assert_eq!(spinner.anim.total_ms(), 900, "{label}");
    // Images are not affected by the profile flag.
    served
        .upload_animated("image", "three.gif", three_colours())
        .await;
}

#[tokio::test]
async fn keep_gives_an_animated_profile_on_disk() {
    keep(Backend::Disk).await;
}

#[tokio::test]
async fn keep_gives_an_animated_profile_on_s3() {
    keep(Backend::S3).await;
}

#[test]
fn the_profile_flag_takes_keep_or_first_frame_only() {
    for value in ["keep", "first-frame"] {
        assert!(
            pixgate::Config::from_args(["--animated-profile", value]).is_ok(),
            "{value}"
        );
    }
    for value in ["", "animated", "first_frame", "KEEP!"] {
        assert!(
            pixgate::Config::from_args(["--animated-profile", value]).is_err(),
            "{value:?} accepted"
        );
    }
}
