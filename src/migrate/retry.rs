//! Trying again after a transient storage error: a bounded number of times, waiting twice as
//! long each time, and counted, so the summary says how bumpy the run was.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The first wait; then 2×, 4×, … up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Retry {
    /// Tries after the first.
    retries: u32,
    count: Arc<AtomicU64>,
}

impl Retry {
    pub fn new(retries: u32) -> Self {
        Self {
            retries,
            count: Arc::default(),
        }
    }

    /// Retries made so far, by every clone of this policy.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Runs `op` until it succeeds, fails with an error `transient` does not accept, or has
    /// been retried as often as allowed.
    pub async fn run<T, E, Fut>(
        &self,
        transient: impl Fn(&E) -> bool,
        mut op: impl FnMut() -> Fut,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(e) if attempt < self.retries && transient(&e) => {
                    tokio::time::sleep(delay(attempt)).await;
                    attempt += 1;
                    self.count.fetch_add(1, Ordering::Relaxed);
                }
                outcome => return outcome,
            }
        }
    }
}

fn delay(attempt: u32) -> Duration {
    FIRST_DELAY
        .saturating_mul(1 << attempt.min(16))
        .min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_a_cap() {
        assert_eq!(delay(0), Duration::from_millis(200));
        assert_eq!(delay(1), Duration::from_millis(400));
        assert_eq!(delay(3), Duration::from_millis(1600));
        assert_eq!(delay(40), MAX_DELAY);
    }

    #[tokio::test]
    async fn only_transient_errors_are_retried_and_only_so_often() {
        let retry = Retry::new(2);
        let mut calls = 0;
        let outcome: Result<(), &str> = retry
            .run(
                |e: &&str| *e == "busy",
                || {
                    calls += 1;
                    async { Err("busy") }
                },
            )
            .await;
        assert_eq!((outcome, calls, retry.count()), (Err("busy"), 3, 2));
        let mut calls = 0;
        let outcome: Result<(), &str> = retry
            .run(
                |e: &&str| *e == "busy",
                || {
                    calls += 1;
                    async { Err("broken") }
                },
            )
            .await;
        assert_eq!((outcome, calls, retry.count()), (Err("broken"), 1, 2));
    }
}
