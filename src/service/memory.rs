//! The memory budget of upload bodies: a request takes its share (its `Content-Length`, or the
//! largest body allowed when it does not say) before its body is read, and gives it back when
//! it is answered. Without it, memory grows with the number of concurrent uploads: forty 48 MiB
//! uploads held 2.2 GiB.
//!
//! When the last share comes back, free heap memory is handed back to the kernel, so a burst
//! does not leave the process at its peak size for good.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ServiceError;

/// The budget is counted in KiB so that any body size fits a semaphore's `u32` permit count.
const UNIT: u64 = 1024;

/// Trimming walks every heap; once per this at most, however many requests end.
const TRIM_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct UploadMemory {
    shared: Arc<Shared>,
}

struct Shared {
    permits: Arc<Semaphore>,
    units: u64,
    last_trim: Mutex<Option<Instant>>,
    trims: AtomicU64,
}

/// One request's share of the budget, given back when dropped.
pub struct MemoryShare {
    permit: Option<OwnedSemaphorePermit>,
    shared: Arc<Shared>,
}

impl UploadMemory {
    pub fn new(bytes: u64) -> Self {
        let units = bytes.div_ceil(UNIT);
        Self {
            shared: Arc::new(Shared {
                permits: Arc::new(Semaphore::new(
                    usize::try_from(units).unwrap_or(usize::MAX >> 4),
                )),
                units,
                last_trim: Mutex::new(None),
                trims: AtomicU64::new(0),
            }),
        }
    }

    /// A share of `bytes`, or `Busy` at once when the budget has not that much left: the
    /// client is told to retry rather than left waiting with its body half sent.
    pub fn reserve(&self, bytes: u64) -> Result<MemoryShare, ServiceError> {
        let units = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX);
        let permit = Arc::clone(&self.shared.permits)
            .try_acquire_many_owned(units)
            .map_err(|_| ServiceError::Busy("upload memory in use"))?;
        Ok(MemoryShare {
            permit: Some(permit),
            shared: Arc::clone(&self.shared),
        })
    }

    /// Bytes not reserved now.
    pub fn available(&self) -> u64 {
        self.shared.permits.available_permits() as u64 * UNIT
    }

    /// How many times memory has been handed back to the kernel.
    pub fn trims(&self) -> u64 {
        self.shared.trims.load(Ordering::Relaxed)
    }
}

impl Drop for MemoryShare {
    fn drop(&mut self) {
        drop(self.permit.take());
        let idle = self.shared.permits.available_permits() as u64 == self.shared.units;
        if idle && self.shared.trim_due() {
            let shared = Arc::clone(&self.shared);
            // Trimming takes milliseconds: off the async threads. Outside a runtime (never in
            // the server) there is nothing to trim for.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn_blocking(move || {
                    release_free_heap();
                    shared.trims.fetch_add(1, Ordering::Relaxed);
                });
            }
        }
    }
}

impl Shared {
    fn trim_due(&self) -> bool {
        let mut last = self
            .last_trim
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < TRIM_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// Hands free heap pages back to the kernel. `main` tunes glibc to keep freed image buffers
/// for the next request (they are reused at once under load); once no upload is in flight
/// there is no next request to reuse them soon, and they are worth more to the machine.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_free_heap() {
    // SAFETY: malloc_trim only returns free memory to the kernel; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_heap() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shares_are_refused_past_the_budget_and_given_back_on_drop() {
        let memory = UploadMemory::new(10 * 1024 * 1024);
        let first = memory.reserve(6 * 1024 * 1024).unwrap();
        assert!(matches!(
            memory.reserve(5 * 1024 * 1024),
            Err(ServiceError::Busy(_))
        ));
        let second = memory.reserve(4 * 1024 * 1024).unwrap();
        assert_eq!(memory.available(), 0);
        drop(first);
        drop(second);
        assert_eq!(memory.available(), 10 * 1024 * 1024);
        // The last share back starts a trim.
        for _ in 0..200 {
            if memory.trims() == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(memory.trims(), 1);
    }

    #[test]
    fn a_size_past_any_budget_is_refused_not_wrapped() {
        let memory = UploadMemory::new(1024 * 1024);
        assert!(memory.reserve(u64::MAX).is_err());
    }
}
