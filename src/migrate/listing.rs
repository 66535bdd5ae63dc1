//! The listing side of a run: every mapped prefix listed into a bounded channel (one page
//! ahead of the workers), and a second listing alongside that only counts, so the progress has a
//! total without the keys being held.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::args::{MapRule, distinct};
use super::source::{Source, SourceError, SourceObject};

/// Objects listed ahead of the workers: one S3 page.
pub const LISTED_AHEAD: usize = 1000;

/// Lists every mapped prefix into `sink`, one after the other.
pub async fn list(
    source: Source,
    rules: Vec<MapRule>,
    sink: mpsc::Sender<SourceObject>,
) -> Result<(), SourceError> {
    for rule in distinct(&rules) {
        source.list(&rules, rule, &sink).await?;
    }
    Ok(())
}

/// How many objects the source holds, counted by a second listing alongside the real one, so
/// the progress has a total (and an ETA) without holding the keys.
#[derive(Debug, Clone, Default)]
pub struct Total {
    pub objects: Arc<AtomicU64>,
    counted: Arc<AtomicBool>,
}

impl Total {
    pub fn complete(&self) -> Option<u64> {
        self.counted
            .load(Ordering::Relaxed)
            .then(|| self.objects.load(Ordering::Relaxed))
    }
}

/// Counts into `total`, marked complete once the whole listing went through.
pub async fn count(source: Source, rules: Vec<MapRule>, total: Total) {
    let (sink, mut listed) = mpsc::channel(LISTED_AHEAD);
    let counter = async {
        while listed.recv().await.is_some() {
            total.objects.fetch_add(1, Ordering::Relaxed);
        }
    };
    let (listing, ()) = tokio::join!(list(source, rules, sink), counter);
    total.counted.store(listing.is_ok(), Ordering::Relaxed);
}
