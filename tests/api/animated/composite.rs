//! Generated animations whose every frame is known: partial frames under each GIF disposal
//! mode, a transparent GIF, delays (zero among them) and loop counts, an APNG with dispose and
//! blend ops, and a GIF larger than the image box. Each on disk and on S3.

use super::{Served, assert_clear, assert_colour};
use crate::harness::Backend;
use crate::harness::animations::{
    ApngRegions, BLACK, BLUE, DisposalMethod, DisposalRegions, GREEN, GifFrame, LEFT_HALF, RED,
    RIGHT_HALF, Rect, Repeat, WHITE, YELLOW, apng_fixture, disposal_gif, gif,
    interlaced_and_local_palette_gif, solid_frames, transparent_gif,
};
use crate::harness::mean_abs_diff;
use crate::harness::similarity::{alpha_diff, flatten, identify, pillow_frames};

/// Partial frames composited on the logical screen, each disposal mode doing what it says.
async fn disposal_modes(backend: Backend) {
    let served = Served::start(backend, &[]).await;
    // Checked last, so that every mode's pixels are checked first.
    let mut missing_alpha_flag = None;
    for mode in [
        DisposalMethod::Keep,
        DisposalMethod::Background,
        DisposalMethod::Previous,
    ] {
        let label = format!("disposal {mode:?} ({backend:?})");
        let stored = served
            .upload_animated("image", "disposal.gif", disposal_gif(mode))
            .await;
        let anim = &stored.anim;
        assert_eq!((anim.width, anim.height), DisposalRegions::SIZE, "{label}");
        assert_eq!(anim.durations(), [100; 4], "{label}: delays");
        assert_eq!(anim.loop_count, 0, "{label}: NETSCAPE loop 0 is forever");
        let frame = |i: usize| &anim.frames[i].canvas;

        assert_colour(
            frame(0),
            Rect::new(0, 0, 96, 96),
            RED,
            &format!("{label}, frame 0"),
        );
        let f1 = format!("{label}, frame 1");
        assert_colour(frame(1), Rect::new(0, 0, 96, 24), WHITE, &f1);
        assert_colour(frame(1), Rect::new(0, 24, 96, 96), RED, &f1);
        // Frame 2 as shown is the same whatever happens to it afterwards.
        let f2 = format!("{label}, frame 2");
        assert_colour(frame(2), DisposalRegions::SQUARE_OVER_STRIP, GREEN, &f2);
        assert_colour(frame(2), DisposalRegions::SQUARE_OVER_RED, GREEN, &f2);
        assert_colour(frame(2), DisposalRegions::STRIP_ALONE, WHITE, &f2);
        assert_colour(frame(2), DisposalRegions::RED_ALONE, RED, &f2);
        // Frame 3: the disposal of frame 2 shows where its square was.
        let f3 = format!("{label}, frame 3");
        assert_colour(frame(3), DisposalRegions::BLUE_SQUARE, BLUE, &f3);
        assert_colour(frame(3), DisposalRegions::STRIP_ALONE, WHITE, &f3);
        assert_colour(frame(3), DisposalRegions::RED_ALONE, RED, &f3);
        match mode {
            DisposalMethod::Keep => {
                assert_colour(frame(3), DisposalRegions::SQUARE_OVER_STRIP, GREEN, &f3);
                assert_colour(frame(3), DisposalRegions::SQUARE_OVER_RED, GREEN, &f3);
            }
            DisposalMethod::Background => {
                assert_clear(frame(3), DisposalRegions::SQUARE_OVER_STRIP, &f3);
                assert_clear(frame(3), DisposalRegions::SQUARE_OVER_RED, &f3);
                if !anim.alpha_flag {
                    missing_alpha_flag = Some(format!("{f3}: {:?}", anim.describe()));
                }
            }
            DisposalMethod::Previous => {
                assert_colour(frame(3), DisposalRegions::SQUARE_OVER_STRIP, WHITE, &f3);
                assert_colour(frame(3), DisposalRegions::SQUARE_OVER_RED, RED, &f3);
            }
            DisposalMethod::Any => unreachable!(),
        }
        // The stored WebP (partial frames, blending, dispose to background) as a source: the
        // same animation comes back.
        let again = served
            .upload_animated("image", "disposal.webp", stored.bytes.clone())
            .await;
        assert_eq!(
            again.anim.durations(),
            anim.durations(),
            "{label}: re-uploaded"
        );
        assert_eq!(
            again.anim.loop_count, anim.loop_count,
            "{label}: re-uploaded"
        );
        for (i, (a, b)) in anim.frames.iter().zip(&again.anim.frames).enumerate() {
            let diff = mean_abs_diff(&flatten(&a.canvas, [128; 3]), &flatten(&b.canvas, [128; 3]));
            let alpha = alpha_diff(&a.canvas, &b.canvas);
            assert!(
                diff < 3.0 && alpha < 1.0,
                "{label}: frame {i} of the re-uploaded WebP differs by {diff:.2} (alpha {alpha:.2}); \
                 stored as {:?}, again as {:?}",
                anim.describe(),
                again.anim.describe()
            );
        }
    }
    assert_eq!(
        missing_alpha_flag, None,
        "cleared to transparent, so the VP8X alpha flag must be set"
    );
}

#[tokio::test]
async fn disposal_modes_on_disk() {
    disposal_modes(Backend::Disk).await;
}

#[tokio::test]
async fn disposal_modes_on_s3() {
    disposal_modes(Backend::S3).await;
}

/// A transparent index stays transparent, through a dispose to background.
async fn transparency(backend: Backend) {
    let served = Served::start(backend, &[]).await;
    let label = format!("transparent GIF ({backend:?})");
    let stored = served
        .upload_animated("image", "transparent.gif", transparent_gif())
        .await;
    let anim = &stored.anim;
    assert_eq!((anim.width, anim.height), (64, 64), "{label}");
    assert_eq!(anim.durations(), [200, 200], "{label}");
    let (f0, f1) = (&anim.frames[0].canvas, &anim.frames[1].canvas);
    assert_clear(f0, LEFT_HALF, &format!("{label}, frame 0"));
    assert_colour(f0, RIGHT_HALF, RED, &format!("{label}, frame 0"));
    assert_colour(f1, LEFT_HALF, GREEN, &format!("{label}, frame 1"));
    assert_clear(f1, RIGHT_HALF, &format!("{label}, frame 1"));
    // The VP8X alpha flag must say so: decoders that trust it (image-webp, the `image` crate's)
    // otherwise give RGB, with the transparent half black.
    let decoded = image::load_from_memory(&stored.bytes).expect("first frame decodes");
    assert!(
        anim.alpha_flag && decoded.color().has_alpha(),
        "{label}: VP8X alpha flag {}; the `image` crate decodes {:?}, pixel (0, 0) {:?}; frames {:?}",
        anim.alpha_flag,
        decoded.color(),
        decoded.to_rgba8().get_pixel(0, 0),
        anim.describe()
    );
}

#[tokio::test]
async fn transparency_on_disk() {
    transparency(Backend::Disk).await;
}

#[tokio::test]
async fn transparency_on_s3() {
    transparency(Backend::S3).await;
}

/// A GIF's timing and what the stored WebP must say.
struct Timing {
    name: &'static str,
    delays_cs: &'static [u16],
    repeat: Option<Repeat>,
    durations_ms: &'static [u32],
    loop_count: u16,
}

/// GIF delays in centiseconds become exact milliseconds, zero stays zero; the NETSCAPE loop
/// count is kept (0 forever, 3 three times) and a GIF without one plays once. Comments are
/// dropped.
async fn delays_and_loops(backend: Backend) {
    let served = Served::start(backend, &[]).await;
    let cases: [Timing; 4] = [
        Timing {
            name: "zero delay, forever",
            delays_cs: &[10, 0, 25],
            repeat: Some(Repeat::Infinite),
            durations_ms: &[100, 0, 250],
            loop_count: 0,
        },
        Timing {
            name: "three times",
            delays_cs: &[7, 7, 7],
            repeat: Some(Repeat::Finite(3)),
            durations_ms: &[70, 70, 70],
            loop_count: 3,
        },
        Timing {
            name: "no loop block",
            delays_cs: &[5, 5],
            repeat: None,
            durations_ms: &[50, 50],
            loop_count: 1,
        },
        Timing {
            name: "long and short delays, once",
            delays_cs: &[150, 1, 999],
            repeat: Some(Repeat::Finite(1)),
            durations_ms: &[1500, 10, 9990],
            loop_count: 1,
        },
    ];
    const COMMENT: &str = "pixgate-test-comment: GPS 52.3676N 4.9041E";
    let colours = [RED, GREEN, BLUE];
    for case in cases {
        let (expected_ms, expected_loop) = (case.durations_ms, case.loop_count);
        let label = format!("{} ({backend:?})", case.name);
        let frames = solid_frames(32, 24, case.delays_cs.len(), case.delays_cs);
        let bytes = gif(32, 24, case.repeat, Some(COMMENT), &frames);
        let stored = served.upload_animated("image", "timing.gif", bytes).await;
        let anim = &stored.anim;
        assert_eq!(anim.durations(), expected_ms, "{label}: per-frame delays");
        assert_eq!(anim.loop_count, expected_loop, "{label}: loop count");
        assert_eq!(
            stored.item["durationMs"].as_u64(),
            Some(expected_ms.iter().map(|&d| u64::from(d)).sum()),
            "{label}: durationMs"
        );
        assert_eq!((anim.width, anim.height), (32, 24), "{label}");
        for (i, frame) in anim.frames.iter().enumerate() {
            assert_colour(
                &frame.canvas,
                Rect::new(0, 0, 32, 24),
                colours[i % colours.len()],
                &format!("{label}, frame {i}"),
            );
        }
        assert!(
            !stored
                .bytes
                .windows(COMMENT.len())
                .any(|w| w == COMMENT.as_bytes()),
            "{label}: the GIF comment reached the stored file"
        );
        assert!(
            !anim.any_transparency(),
            "{label}: opaque source, opaque frames"
        );
    }
}

#[tokio::test]
async fn delays_and_loops_on_disk() {
    delays_and_loops(Backend::Disk).await;
}

#[tokio::test]
async fn delays_and_loops_on_s3() {
    delays_and_loops(Backend::S3).await;
}

/// Interlaced rows put back in order, and a frame's local colour table used for that frame.
#[tokio::test]
async fn interlacing_and_local_colour_tables() {
    let served = Served::start(Backend::Disk, &[]).await;
    let stored = served
        .upload_animated("image", "features.gif", interlaced_and_local_palette_gif())
        .await;
    let anim = &stored.anim;
    assert_eq!(anim.durations(), [100, 100]);
    let (f0, f1) = (&anim.frames[0].canvas, &anim.frames[1].canvas);
    assert_colour(
        f0,
        Rect::new(0, 0, 24, 24),
        RED,
        "interlaced frame, top left",
    );
    assert_colour(
        f0,
        Rect::new(24, 0, 48, 24),
        GREEN,
        "interlaced frame, top right",
    );
    assert_colour(
        f0,
        Rect::new(0, 24, 24, 48),
        BLUE,
        "interlaced frame, bottom left",
    );
    assert_colour(
        f0,
        Rect::new(24, 24, 48, 48),
        WHITE,
        "interlaced frame, bottom right",
    );
    assert_colour(f1, LEFT_HALF_48, YELLOW, "local colour table, left");
    assert_colour(f1, RIGHT_HALF_48, BLACK, "local colour table, right");
}

const LEFT_HALF_48: Rect = Rect::new(0, 0, 24, 48);
const RIGHT_HALF_48: Rect = Rect::new(24, 0, 48, 48);

/// An APNG's frames with their ops, delays (num/den) and play count; its text chunk dropped.
async fn apng(backend: Backend) {
    const COMMENT: &str = "pixgate-test-apng-comment";
    let served = Served::start(backend, &[]).await;
    let label = format!("APNG ({backend:?})");
    let stored = served
        .upload_animated("image", "anim.png", apng_fixture(Some(COMMENT)))
        .await;
    let anim = &stored.anim;
    assert_eq!((anim.width, anim.height), ApngRegions::SIZE, "{label}");
    assert_eq!(anim.durations(), ApngRegions::DELAYS_MS, "{label}: delays");
    assert_eq!(
        u32::from(anim.loop_count),
        ApngRegions::PLAYS,
        "{label}: num_plays"
    );
    assert!(anim.alpha_flag, "{label}: alpha");
    let frame = |i: usize| &anim.frames[i].canvas;
    let at = |i: usize| format!("{label}, frame {i}");

    assert_colour(frame(0), Rect::new(0, 0, 64, 64), RED, &at(0));

    assert_colour(frame(1), ApngRegions::SQUARE_LEFT, GREEN, &at(1));
    assert_colour(frame(1), ApngRegions::SQUARE_RIGHT, RED, &at(1));
    assert_colour(frame(1), ApngRegions::CORNER, RED, &at(1));

    assert_colour(frame(2), ApngRegions::CORNER, BLUE, &at(2));
    assert_clear(frame(2), ApngRegions::SQUARE_LEFT, &at(2));
    assert_clear(frame(2), ApngRegions::SQUARE_RIGHT, &at(2));
    assert_colour(frame(2), ApngRegions::RED_ALONE, RED, &at(2));

    assert_colour(frame(3), ApngRegions::CORNER, RED, &at(3));
    assert_clear(frame(3), ApngRegions::SQUARE_LEFT, &at(3));
    assert_clear(frame(3), ApngRegions::SQUARE_RIGHT, &at(3));
    assert_colour(frame(3), ApngRegions::LAST_SQUARE, WHITE, &at(3));
    assert_colour(frame(3), ApngRegions::RED_ALONE, RED, &at(3));

    assert!(
        !stored
            .bytes
            .windows(COMMENT.len())
            .any(|w| w == COMMENT.as_bytes()),
        "{label}: the tEXt chunk reached the stored file"
    );
}

#[tokio::test]
async fn apng_on_disk() {
    apng(Backend::Disk).await;
}

#[tokio::test]
async fn apng_on_s3() {
    apng(Backend::S3).await;
}

/// The big fixture: 2400×1200, two frames of halves (red | blue, then yellow | green).
fn big_gif() -> Vec<u8> {
    let halves = |left: [u8; 3], right: [u8; 3]| {
        GifFrame::painted(
            0,
            0,
            2400,
            1200,
            move |x, _| if x < 1200 { left } else { right },
        )
        .delay(50)
    };
    gif(
        2400,
        1200,
        Some(Repeat::Infinite),
        None,
        &[halves(RED, BLUE), halves(YELLOW, GREEN)],
    )
}

/// Larger than the image box: every frame resized to fit 1920×1080 (1920×960), frame 0 like
/// Pillow's Lanczos resize of the source's frame 0 and unlike its frame 1.
#[tokio::test]
async fn a_large_animation_is_resized_into_the_image_box() {
    let served = Served::start(Backend::Disk, &[]).await;
    let source = big_gif();
    let stored = served
        .upload_animated("image", "big.gif", source.clone())
        .await;
    let anim = &stored.anim;
    assert_eq!(
        (anim.width, anim.height),
        (1920, 960),
        "resized, aspect kept"
    );
    assert_eq!(anim.durations(), [500, 500]);
    let (w, h) = (anim.width, anim.height);
    let left = Rect::new(0, 0, w / 2, h).inset(16);
    let right = Rect::new(w / 2, 0, w, h).inset(16);
    assert_colour(&anim.frames[0].canvas, left, RED, "frame 0");
    assert_colour(&anim.frames[0].canvas, right, BLUE, "frame 0");
    assert_colour(&anim.frames[1].canvas, left, YELLOW, "frame 1");
    assert_colour(&anim.frames[1].canvas, right, GREEN, "frame 1");

    let pillow = pillow_frames(&source, (w, h));
    let floor = super::corpus::SSIM_MIN;
    for i in 0..2 {
        let score = identify(&anim.frames[i].canvas, &pillow.frames, i, [128; 3], floor)
            .unwrap_or_else(|e| panic!("big GIF frame {i}: {e}"));
        eprintln!("big GIF frame {i}: SSIM {score:.4} against Pillow's");
    }
    let wrong = identify(&anim.frames[0].canvas, &pillow.frames, 1, [128; 3], floor);
    assert!(wrong.is_err(), "frame 0 passes as frame 1: {wrong:?}");
}

/// A portrait animation fits the tall box (1080×1920).
#[tokio::test]
async fn a_portrait_animation_fits_the_tall_box() {
    let served = Served::start(Backend::Disk, &[]).await;
    let frames = solid_frames(600, 2000, 2, &[10]);
    let stored = served
        .upload_animated("image", "tall.gif", gif(600, 2000, None, None, &frames))
        .await;
    assert_eq!((stored.anim.width, stored.anim.height), (576, 1920));
    assert_eq!(stored.anim.loop_count, 1);
}

/// The fixtures are what their docs say, by Pillow's reading (Pillow clears a GIF's disposed
/// frame to its background only when that is transparent, so the background case is checked
/// here on the APNG); and the harness's WebP reader agrees with Pillow's on the corpus WebP.
#[test]
fn the_fixtures_and_the_webp_reader_agree_with_pillow() {
    for mode in [DisposalMethod::Keep, DisposalMethod::Previous] {
        let pillow = pillow_frames(&disposal_gif(mode), DisposalRegions::SIZE);
        assert_eq!(pillow.durations_ms, [100; 4]);
        let f3 = &pillow.frames[3];
        let label = format!("Pillow, disposal {mode:?}, frame 3");
        assert_colour(
            &pillow.frames[2],
            DisposalRegions::SQUARE_OVER_STRIP,
            GREEN,
            &label,
        );
        assert_colour(f3, DisposalRegions::BLUE_SQUARE, BLUE, &label);
        let (over_strip, over_red) = match mode {
            DisposalMethod::Keep => (GREEN, GREEN),
            _ => (WHITE, RED),
        };
        assert_colour(f3, DisposalRegions::SQUARE_OVER_STRIP, over_strip, &label);
        assert_colour(f3, DisposalRegions::SQUARE_OVER_RED, over_red, &label);
    }
    let pillow = pillow_frames(&interlaced_and_local_palette_gif(), (48, 48));
    assert_colour(
        &pillow.frames[0],
        Rect::new(0, 24, 24, 48),
        BLUE,
        "Pillow, interlaced",
    );
    assert_colour(
        &pillow.frames[0],
        Rect::new(24, 0, 48, 24),
        GREEN,
        "Pillow, interlaced",
    );
    assert_colour(
        &pillow.frames[1],
        LEFT_HALF_48,
        YELLOW,
        "Pillow, local table",
    );
    assert_colour(
        &pillow.frames[1],
        RIGHT_HALF_48,
        BLACK,
        "Pillow, local table",
    );
    let pillow = pillow_frames(&transparent_gif(), (64, 64));
    assert_clear(
        &pillow.frames[0],
        LEFT_HALF,
        "Pillow, transparent GIF, frame 0",
    );
    assert_colour(
        &pillow.frames[0],
        RIGHT_HALF,
        RED,
        "Pillow, transparent GIF, frame 0",
    );
    assert_colour(
        &pillow.frames[1],
        LEFT_HALF,
        GREEN,
        "Pillow, transparent GIF, frame 1",
    );

    let pillow = pillow_frames(&apng_fixture(None), ApngRegions::SIZE);
    assert_eq!(pillow.durations_ms, ApngRegions::DELAYS_MS);
    assert_colour(
        &pillow.frames[1],
        ApngRegions::SQUARE_RIGHT,
        RED,
        "Pillow APNG, frame 1",
    );
    assert_clear(
        &pillow.frames[2],
        ApngRegions::SQUARE_LEFT,
        "Pillow APNG, frame 2",
    );
    assert_colour(
        &pillow.frames[2],
        ApngRegions::CORNER,
        BLUE,
        "Pillow APNG, frame 2",
    );
    assert_colour(
        &pillow.frames[3],
        ApngRegions::CORNER,
        RED,
        "Pillow APNG, frame 3",
    );
    assert_clear(
        &pillow.frames[3],
        ApngRegions::SQUARE_RIGHT,
        "Pillow APNG, frame 3",
    );

    let webp = crate::harness::corpus_image("rotating-squares.webp");
    let ours = crate::harness::webp_anim::read_animated_webp(&webp);
    let pillow = pillow_frames(&webp, (ours.width, ours.height));
    assert_eq!(ours.durations(), pillow.durations_ms);
    assert_eq!(Some(u32::from(ours.loop_count)), pillow.loop_count);
    for (i, (frame, reference)) in ours.frames.iter().zip(&pillow.frames).enumerate() {
        let diff = mean_abs_diff(
            &flatten(&frame.canvas, [128; 3]),
            &flatten(reference, [128; 3]),
        );
        let alpha = alpha_diff(&frame.canvas, reference);
        assert!(
            diff < 1.0 && alpha < 1.0,
            "frame {i}: RGB differs by {diff:.2}, alpha by {alpha:.2}"
        );
    }
}
