//! POST /upload: request-level refusals, per-file limits, partial success, keys and names, and
//! clients that stream or stall.

mod keys;
mod limits;
mod refusals;
mod slow_clients;

use crate::harness::corpus_image;

/// The JPEG most upload tests send.
fn photo() -> Vec<u8> {
    corpus_image("Landscape_1.jpg")
}
