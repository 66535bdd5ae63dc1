//! Single-flight: identical concurrent requests share one computation. When a CDN's cache is
//! cold, many viewers ask for the same rendition at once; resizing it once per key instead of
//! once per request keeps a burst from becoming N identical decodes.
//!
//! The work runs in its own task, so it finishes (and its entry is removed) even when every
//! caller that was waiting for it has gone away.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

type Outcome<V, E> = Result<Arc<V>, Arc<E>>;
type Flight<V, E> = Shared<BoxFuture<'static, Outcome<V, E>>>;

pub struct SingleFlight<V, E> {
    in_flight: Mutex<HashMap<String, Flight<V, E>>>,
    started: AtomicU64,
}

impl<V, E> Default for SingleFlight<V, E> {
    fn default() -> Self {
        Self {
            in_flight: Mutex::new(HashMap::new()),
            started: AtomicU64::new(0),
        }
    }
}

impl<V, E> SingleFlight<V, E>
where
    V: Send + Sync + 'static,
    E: From<tokio::task::JoinError> + Send + Sync + 'static,
{
    /// The outcome of `work` for `key`: started now if no identical call is in flight,
    /// otherwise the one already running, shared.
    pub async fn run<F>(self: &Arc<Self>, key: String, work: F) -> Outcome<V, E>
    where
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        let flight = {
            let mut in_flight = self.lock();
            match in_flight.get(&key) {
                Some(flight) => flight.clone(),
                None => {
                    let flight = self.start(key.clone(), work);
                    in_flight.insert(key, flight.clone());
                    flight
                }
            }
        };
        flight.await
    }

    /// How many computations have been started: calls minus the ones that shared one.
    pub fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    fn start<F>(self: &Arc<Self>, key: String, work: F) -> Flight<V, E>
    where
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        self.started.fetch_add(1, Ordering::Relaxed);
        let this = Arc::clone(self);
        let task = tokio::spawn(async move {
            let outcome = work.await;
            this.lock().remove(&key);
            outcome
        });
        async move {
            match task.await {
                Ok(Ok(value)) => Ok(Arc::new(value)),
                Ok(Err(error)) => Err(Arc::new(error)),
                Err(join_error) => Err(Arc::new(E::from(join_error))),
            }
        }
        .boxed()
        .shared()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Flight<V, E>>> {
        // The map is only ever inserted into and removed from; a panic elsewhere cannot leave
        // it half-updated, so a poisoned lock is still safe to use.
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    #[derive(Debug)]
    struct Failed;

    impl From<tokio::task::JoinError> for Failed {
        fn from(_: tokio::task::JoinError) -> Self {
            Failed
        }
    }

    #[tokio::test]
    async fn identical_calls_share_one_computation_and_others_do_not() {
        let flights = Arc::new(SingleFlight::<u32, Failed>::default());
        // No computation can finish until the gate opens.
        let gate = Arc::new(Semaphore::new(0));
        let call = |key: &str, value: u32| {
            let (flights, gate) = (Arc::clone(&flights), Arc::clone(&gate));
            let key = key.to_owned();
            tokio::spawn(async move {
                flights
                    .run(key, async move {
                        let _permit = gate.acquire().await;
                        Ok(value)
                    })
                    .await
            })
        };
        let first = call("a", 1);
        let second = call("a", 2);
        let other = call("b", 3);
        // Wait until both callers of "a" hold the flight (map entry + 2 callers) and "b" runs.
        let joined = |flights: &SingleFlight<u32, Failed>| {
            let in_flight = flights.lock();
            in_flight.get("a").and_then(Shared::strong_count) == Some(3)
                && in_flight.contains_key("b")
        };
        while !joined(&flights) {
            tokio::task::yield_now().await;
        }
        gate.add_permits(3);
        let first = first.await.unwrap().unwrap();
        let second = second.await.unwrap().unwrap();
        assert_eq!(
            (*first, *second),
            (1, 1),
            "the second call shares the first's result"
        );
        assert_eq!(*other.await.unwrap().unwrap(), 3);
        assert_eq!(flights.started(), 2);
        assert!(flights.lock().is_empty(), "finished flights are removed");
        let again = flights.run("a".into(), async { Ok(4) }).await.unwrap();
        assert_eq!(*again, 4, "a later call computes afresh");
    }
}
