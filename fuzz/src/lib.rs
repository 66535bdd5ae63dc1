//! What the fuzz targets share: the fixed settings they drive pixgate with and the way an input
//! is cut into a query and an `Accept` header. The targets themselves are in `fuzz_targets/`.

use pixgate::pipeline::{AnimationLimits, PixelLimits};
use pixgate::request::FormLimits;

/// The boundary every multipart input is read with (the seeds are rewritten to it): a fixed
/// one lets the fuzzer spend its time on the body, not on matching a header.
pub const BOUNDARY: &str = "pixgate-fuzz-boundary";

/// Small form limits, so that every limit can be reached by inputs of a few kilobytes.
pub const FORM_LIMITS: FormLimits = FormLimits {
    max_files: 3,
    max_file_bytes: 4096,
    max_request_bytes: 16384,
};

/// Small pixel limits keep each run fast (one decode of at most 0.3 MP, which still takes the
/// 600x450 EXIF-orientation photos of the shared corpus) while every check,
/// decoder and path stays reachable; the limits are the same code whatever their values. A JPEG
/// may declare ten times that when its DCT-scaled decode fits, so the scaled path is fuzzed too.
pub const PIXEL_LIMITS: PixelLimits = PixelLimits {
    max_pixels: 300_000,
    max_declared_pixels: 3_000_000,
    max_side: 4096,
    // Small enough that one input cannot take the fuzzer's time: 50 frames of the largest canvas.
    animation: AnimationLimits {
        max_frames: 50,
        max_pixels: 15_000_000,
        max_duration_ms: 300_000,
    },
};

/// The largest side the canonical-form targets accept, as the CloudFront Function hardcodes it.
pub const MAX_SIDE: u32 = 4096;

/// An input as a query and an optional `Accept` header, split at the first NUL byte; `None`
/// when it is not UTF-8 (a request's query and header values reach pixgate as `&str`).
pub fn query_and_accept(data: &[u8]) -> Option<(&str, Option<&str>)> {
    let text = std::str::from_utf8(data).ok()?;
    Some(match text.split_once('\0') {
        Some((query, accept)) => (query, Some(accept)),
        None => (text, None),
    })
}

/// What a cleaned file name must never contain, written apart from pixgate's own list so the
/// target checks the sanitiser instead of repeating it: control characters and the Unicode
/// bidi controls (issue 10, item 9).
pub fn is_unsafe_in_name(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}
