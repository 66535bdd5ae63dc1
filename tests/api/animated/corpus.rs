//! The corpus's animations (`rotating-squares.gif`, 30 frames; `rotating-squares.webp`, 9)
//! uploaded as images on disk and on S3: an animated WebP that shows, at every moment of the
//! first play, what Pillow shows of the source then (frames may be merged where the source
//! repeats itself, so the timeline is compared, not the frame lists). And the stills in an
//! animation's clothes, which keep today's path.

use super::Served;
use crate::harness::animations::{GifFrame, RED, Repeat, gif, one_frame_apng};
use crate::harness::similarity::{alpha_diff, identify, pillow_frames};
use crate::harness::webp_anim::keep_frames;
use crate::harness::{Backend, corpus_image};

/// Least SSIM (luma, over mid grey) of an output frame against Pillow's reference of the same
/// source frame at the same size. Measured: 1.0000 for the lossless uploads of the corpus
/// spinner, 0.986 and up for its lossy 40 px renditions; a wrong frame of that spinner scores
/// 0.965 (0.855 at 40 px), so frames are also told apart by comparison
/// ([`identify`](crate::harness::similarity::identify)).
pub const SSIM_MIN: f64 = 0.95;

/// Where transparent pixels go when frames are compared as luma.
const GREY: [u8; 3] = [128; 3];

/// For each corpus animation: (file, a source frame that differs from frame 0).
const ANIMATIONS: [(&str, usize); 2] = [("rotating-squares.gif", 4), ("rotating-squares.webp", 5)];

async fn corpus_animations(backend: Backend) {
    let served = Served::start(backend, &[]).await;
    for (name, other_frame) in ANIMATIONS {
        let label = format!("{name} ({backend:?})");
        let source = corpus_image(name);
        let stored = served.upload_animated("image", name, source.clone()).await;
        let anim = &stored.anim;
        assert_eq!(
            (anim.width, anim.height),
            (80, 80),
            "{label}: never enlarged"
        );
        let pillow = pillow_frames(&source, (80, 80));
        let source_total: u64 = pillow.durations_ms.iter().map(|&d| u64::from(d)).sum();
        assert_eq!(
            anim.total_ms(),
            source_total,
            "{label}: total duration {:?}",
            anim.durations()
        );
        assert_eq!(
            Some(u32::from(anim.loop_count)),
            pillow.loop_count,
            "{label}: loop count"
        );
        assert!(
            anim.frames.len() <= pillow.frames.len(),
            "{label}: {} frames out of {}",
            anim.frames.len(),
            pillow.frames.len()
        );
        assert!(
            anim.alpha_flag,
            "{label}: the source is transparent in places"
        );
        // Where no two neighbouring source frames are alike, every frame is kept with its delay.
        if pillow.frames.windows(2).all(|pair| pair[0] != pair[1]) {
            assert_eq!(
                anim.durations(),
                pillow.durations_ms,
                "{label}: per-frame delays"
            );
        }

        // The timeline: at each source frame's start, the output shows that frame.
        let mut start = 0u64;
        let mut worst = 1.0f64;
        for (i, duration) in pillow.durations_ms.iter().enumerate() {
            let shown = anim
                .shown_at(start)
                .unwrap_or_else(|| panic!("{label}: nothing shown at {start} ms"));
            let score = identify(&shown.canvas, &pillow.frames, i, GREY, SSIM_MIN)
                .unwrap_or_else(|e| panic!("{label}: at {start} ms (source frame {i}): {e}"));
            worst = worst.min(score);
            let alpha = alpha_diff(&shown.canvas, &pillow.frames[i]);
            assert!(
                alpha < 4.0,
                "{label}: at {start} ms (source frame {i}) alpha differs by {alpha:.2} on average"
            );
            start += u64::from(*duration);
        }
        eprintln!(
            "{label}: {} frames stored {:?}; lowest SSIM {worst:.4}",
            anim.frames.len(),
            anim.describe()
        );
        // The same check fails a wrong frame.
        let wrong = identify(
            &anim.frames[0].canvas,
            &pillow.frames,
            other_frame,
            GREY,
            SSIM_MIN,
        );
        assert!(
            wrong.is_err(),
            "{label}: output frame 0 passes as source frame {other_frame}: {wrong:?}"
        );
    }
}

#[tokio::test]
async fn corpus_animations_on_disk() {
    corpus_animations(Backend::Disk).await;
}

#[tokio::test]
async fn corpus_animations_on_s3() {
    corpus_animations(Backend::S3).await;
}

/// One frame is a still, whatever the container: today's path (JPEG or PNG, `animated: false`).
#[tokio::test]
async fn single_frame_files_take_the_still_path() {
    let served = Served::start(Backend::Disk, &[]).await;
    let one_frame_gif = gif(
        40,
        30,
        Some(Repeat::Infinite),
        None,
        &[GifFrame::solid(0, 0, 40, 30, RED)],
    );
    let one_frame_webp = keep_frames(&corpus_image("rotating-squares.webp"), 1);
    let cases = [
        (
            "Crash_test.gif",
            corpus_image("Crash_test.gif"),
            "image/jpeg",
        ),
        ("4.webp", corpus_image("4.webp"), "image/jpeg"),
        ("one-frame-loop.gif", one_frame_gif, "image/jpeg"),
        ("one-frame-anim.webp", one_frame_webp, "image/png"),
        ("one-frame.apng", one_frame_apng(), "image/jpeg"),
    ];
    for (name, bytes, content_type) in cases {
        for query_type in ["image", "profile"] {
            let (item, _) = served.upload_still(query_type, name, bytes.clone()).await;
            assert_eq!(item["contentType"], content_type, "{name} ({query_type})");
        }
    }
}
