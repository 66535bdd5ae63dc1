//! Single-flight: identical concurrent requests share one computation. When a CDN's cache is
//! cold, many viewers ask for the same rendition at once; resizing it once per key instead of
//! once per request keeps a burst from becoming N identical decodes.
//!
//! The computation lives as long as someone waits for it: when the last caller goes away
//! (its client disconnected, its request timed out), the computation is dropped, so work no
//! one will read stops instead of holding the CPU and memory. The map only holds weak
//! handles, so it never keeps a flight alive by itself.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared, WeakShared};

type Outcome<V, E> = Result<Arc<V>, Arc<E>>;
type Flight<V, E> = Shared<BoxFuture<'static, Outcome<V, E>>>;

pub struct SingleFlight<V, E> {
    in_flight: Mutex<HashMap<String, Entry<V, E>>>,
    started: AtomicU64,
}

/// A flight in the map: which one (a key can be flown again once a flight ends) and a handle
/// that does not keep it alive.
struct Entry<V, E> {
    id: u64,
    flight: WeakShared<BoxFuture<'static, Outcome<V, E>>>,
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
    E: Send + Sync + 'static,
{
    /// The outcome of `work` for `key`: started now if no identical call is in flight,
    /// otherwise the one already running, shared.
    pub async fn run<F>(self: &Arc<Self>, key: String, work: F) -> Outcome<V, E>
    where
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        let flight = {
            let mut in_flight = self.lock();
            match in_flight.get(&key).and_then(|entry| entry.flight.upgrade()) {
                Some(flight) => flight,
                None => {
                    let (entry, flight) = self.start(key.clone(), work);
                    in_flight.insert(key, entry);
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

    /// How many flights are in the map.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn start<F>(self: &Arc<Self>, key: String, work: F) -> (Entry<V, E>, Flight<V, E>)
    where
        F: Future<Output = Result<V, E>> + Send + 'static,
    {
        let id = self.started.fetch_add(1, Ordering::Relaxed);
        // Removes the entry when the flight ends, finished or dropped by its last caller.
        let leave = Leave {
            flights: Arc::downgrade(self),
            key,
            id,
        };
        let flight = async move {
            let _leave = leave;
            work.await.map(Arc::new).map_err(Arc::new)
        }
        .boxed()
        .shared();
        let weak = flight
            .downgrade()
            .expect("a flight that was never polled has not finished");
        (Entry { id, flight: weak }, flight)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry<V, E>>> {
        // The map is only ever inserted into and removed from; a panic elsewhere cannot leave
        // it half-updated, so a poisoned lock is still safe to use.
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Dropped with its flight's future: takes the flight's entry out of the map, unless a newer
/// flight for the same key has replaced it.
struct Leave<V, E> {
    flights: Weak<SingleFlight<V, E>>,
    key: String,
    id: u64,
}

impl<V, E> Drop for Leave<V, E> {
    fn drop(&mut self) {
        let Some(flights) = self.flights.upgrade() else {
            return;
        };
        // Never called with the lock held: a flight's future is dropped by its last caller or
        // by `Shared` once it is done, and neither happens inside `run`'s locked section.
        let mut in_flight = flights
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if in_flight
            .get(&self.key)
            .is_some_and(|entry| entry.id == self.id)
        {
            in_flight.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    #[derive(Debug)]
    struct Failed;

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
            // Two callers, plus the handle `upgrade` makes to count them.
            let callers = in_flight
                .get("a")
                .and_then(|entry| entry.flight.upgrade())
                .and_then(|flight| flight.strong_count());
            callers == Some(3) && in_flight.contains_key("b")
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

    /// Sets its flag when dropped: tells whether a computation was dropped or ran to the end.
    struct DropFlag(Arc<std::sync::atomic::AtomicBool>);

    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn a_computation_no_one_waits_for_is_dropped() {
        let flights = Arc::new(SingleFlight::<u32, Failed>::default());
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = DropFlag(Arc::clone(&dropped));
        let caller = {
            let flights = Arc::clone(&flights);
            tokio::spawn(async move {
                flights
                    .run("a".into(), async move {
                        let _flag = flag;
                        std::future::pending::<()>().await;
                        Ok(1)
                    })
                    .await
            })
        };
        while flights.len() == 0 {
            tokio::task::yield_now().await;
        }
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        assert!(
            dropped.load(Ordering::SeqCst),
            "the computation went with its last caller"
        );
        assert_eq!(flights.len(), 0, "and its entry with it");
        let again = flights.run("a".into(), async { Ok(2) }).await.unwrap();
        assert_eq!(*again, 2, "the key can be flown again");
    }
}
