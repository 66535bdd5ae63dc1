//! What the operator sees while it runs and at the end: an `indicatif` bar on a terminal, a
//! plain line every few seconds otherwise, and the [`Summary`].

use std::collections::BTreeMap;
use std::fmt;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain progress line is written when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// How often the run looks at its progress: the bar's total and counts move at least this often
/// even while every object in flight is still being processed.
pub const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The counts of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub migrated: u64,
    /// Already in the mapping with a final outcome: not read again.
    pub skipped: u64,
    /// Failed objects by error code.
    pub failed: BTreeMap<String, u64>,
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Storage retries (source reads and destination writes).
    pub retries: u64,
    /// Why listing stopped early, when it did: objects after that point were not seen.
    pub listing_error: Option<String>,
    pub elapsed: Duration,
}

impl Summary {
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    /// Objects read and processed (stored or refused), skipped ones not counted.
    pub fn processed(&self) -> u64 {
        self.migrated + self.failed_total()
    }

    pub fn objects_per_sec(&self) -> f64 {
        per_sec(self.processed(), self.elapsed)
    }

    /// Nothing failed and the whole source was seen.
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.listing_error.is_none()
    }
}

fn per_sec(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "migrated {}, skipped {}, failed {}, storage retries {}",
            self.migrated,
            self.skipped,
            self.failed_total(),
            self.retries
        )?;
        for (code, count) in &self.failed {
            writeln!(f, "  failed {code}: {count}")?;
        }
        writeln!(
            f,
            "bytes {:.1} MiB before, {:.1} MiB after",
            mib(self.bytes_before),
            mib(self.bytes_after)
        )?;
        write!(
            f,
            "elapsed {:.1} s, {:.2} objects/s",
            self.elapsed.as_secs_f64(),
            self.objects_per_sec()
        )?;
        if let Some(error) = &self.listing_error {
            write!(f, "\nlisting stopped early: {error}")?;
        }
        Ok(())
    }
}

/// Progress on stderr: a bar on a terminal, else a line every [`LINE_EVERY`].
pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    pub fn start() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{bar:30} {pos}/{len} objects {per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The source holds `total` objects so far (a counting listing runs alongside).
    pub fn set_total(&self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    /// Redraws the bar after an object ended.
    pub fn update(&self, summary: &Summary) {
        if let Some(bar) = &self.bar {
            bar.set_position(summary.processed() + summary.skipped);
            bar.set_message(format!(
                "{:.1} MiB read, {} failed",
                mib(summary.bytes_before),
                summary.failed_total()
            ));
        }
    }

    /// The periodic line, when there is no bar and the last one is [`LINE_EVERY`] old.
    pub fn line(&mut self, summary: &Summary, total: Option<u64>) {
        if self.bar.is_some() || self.last_line.elapsed() < LINE_EVERY {
            return;
        }
        self.last_line = Instant::now();
        let elapsed = self.elapsed();
        let done = summary.processed() + summary.skipped;
        let rate = per_sec(summary.processed(), elapsed);
        let of = total.map_or(String::new(), |total| format!("/{total}"));
        eprintln!(
            "pixgate migrate: {done}{of} objects ({} skipped), {:.1} MiB read, {rate:.2} objects/s, {} failed, {:.0} s",
            summary.skipped,
            mib(summary.bytes_before),
            summary.failed_total(),
            elapsed.as_secs_f64()
        );
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_counts_and_reads_clearly() {
        let mut summary = Summary {
            migrated: 6,
            skipped: 2,
            bytes_before: 3 * 1024 * 1024,
            bytes_after: 1024 * 1024,
            elapsed: Duration::from_secs(4),
            ..Summary::default()
        };
        assert!(summary.is_clean());
        summary.failed.insert("corrupt_image".into(), 1);
        summary.failed.insert("unsupported_format".into(), 1);
        assert!(!summary.is_clean());
        assert_eq!(summary.processed(), 8);
        assert!((summary.objects_per_sec() - 2.0).abs() < 1e-9);
        let text = summary.to_string();
        assert!(text.contains("migrated 6, skipped 2, failed 2"), "{text}");
        assert!(text.contains("failed corrupt_image: 1"), "{text}");
        assert!(text.contains("3.0 MiB before, 1.0 MiB after"), "{text}");
        assert!(text.contains("2.00 objects/s"), "{text}");
    }
}
