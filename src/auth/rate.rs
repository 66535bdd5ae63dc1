//! The upload rate limit: a token bucket per client (GCRA: one "theoretical arrival time" per
//! key), in a table with a hard cap. Written here rather than taken from `governor` because
//! governor's keyed store can only be trimmed by age (`retain_recent`) and offers no way to
//! refuse a new key when full, so a flood of distinct addresses could grow it without bound
//! between trims; here the table never holds more than [`MAX_CLIENTS`] keys.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most clients tracked at once (each entry is a key and an instant: a few MiB at most).
pub const MAX_CLIENTS: usize = 100_000;

/// Who a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Client {
    /// The `sub` of a verified token.
    Subject(String),
    /// An anonymous client's address; IPv6 by its /64, which one host usually holds whole.
    Address(IpAddr),
    /// No identity and no address (a transport that gives none): one shared bucket.
    Unknown,
}

impl Client {
    pub fn from_peer(peer: Option<IpAddr>) -> Self {
        match peer {
            Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let prefix = u128::from(v6) & (u128::MAX << 64);
                Self::Address(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
            Some(IpAddr::V6(v6)) => Self::Address(IpAddr::V6(v6).to_canonical()),
            Some(v4) => Self::Address(v4),
            None => Self::Unknown,
        }
    }
}

/// Requests per minute and how many may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: NonZeroU32,
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// The time one request's token takes to come back.
    fn interval(self) -> Duration {
        Duration::from_secs(60) / self.per_minute.get()
    }
}

struct Table {
    /// Per client: when its bucket will be full again (GCRA's theoretical arrival time).
    full_at: HashMap<Client, Instant>,
    /// When a sweep of a full table could next free an entry.
    next_sweep: Instant,
}

pub struct RateLimiter {
    interval: Duration,
    /// How far ahead of now a client's `full_at` may be and still be let in.
    tolerance: Duration,
    capacity: usize,
    table: Mutex<Table>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self::with_capacity(limit, MAX_CLIENTS)
    }

    fn with_capacity(limit: RateLimit, capacity: usize) -> Self {
        let interval = limit.interval();
        Self {
            interval,
            tolerance: interval * (limit.burst.get() - 1),
            capacity,
            table: Mutex::new(Table {
                full_at: HashMap::new(),
                next_sweep: Instant::now(),
            }),
        }
    }

    /// Lets one request of `client` in, or says how long until it would be.
    pub fn check(&self, client: &Client) -> Result<(), Duration> {
        self.check_at(client, Instant::now())
    }

    fn check_at(&self, client: &Client, now: Instant) -> Result<(), Duration> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let known = table.full_at.get(client).copied();
        if known.is_none() && table.full_at.len() >= self.capacity {
            table.make_room(now, self.capacity)?;
        }
        let start = known.map_or(now, |at| at.max(now));
        let ahead = start - now;
        if ahead > self.tolerance {
            return Err(ahead - self.tolerance);
        }
        table.full_at.insert(client.clone(), start + self.interval);
        Ok(())
    }
}

impl Table {
    /// Drops the clients whose buckets are full again (as good as never seen). When that frees
    /// nothing, the new client is refused until the first bucket will be full, and the table is
    /// not swept again before then (so a flood costs one sweep per expiry, not one per request).
    fn make_room(&mut self, now: Instant, capacity: usize) -> Result<(), Duration> {
        if now >= self.next_sweep {
            self.full_at.retain(|_, full_at| *full_at > now);
            self.next_sweep = self.full_at.values().min().copied().unwrap_or(now);
            if self.full_at.len() < self.full_at.capacity() / 4 {
                self.full_at.shrink_to_fit();
            }
        }
        if self.full_at.len() < capacity {
            return Ok(());
        }
        Err(self.next_sweep.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, burst: u32, capacity: usize) -> RateLimiter {
        let limit = RateLimit {
            per_minute: NonZeroU32::new(per_minute).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        };
        RateLimiter::with_capacity(limit, capacity)
    }

    fn subject(name: &str) -> Client {
        Client::Subject(name.to_owned())
    }

    #[test]
    fn a_burst_is_let_in_then_one_request_per_interval() {
        // 6 per minute: one token every 10 s, 3 at once.
        let limiter = limiter(6, 3, 10);
        let t0 = Instant::now();
        let alice = subject("alice");
        for _ in 0..3 {
            assert_eq!(limiter.check_at(&alice, t0), Ok(()));
        }
        assert_eq!(limiter.check_at(&alice, t0), Err(Duration::from_secs(10)));
        let t4 = t0 + Duration::from_secs(4);
        assert_eq!(limiter.check_at(&alice, t4), Err(Duration::from_secs(6)));
        let t10 = t0 + Duration::from_secs(10);
        assert_eq!(limiter.check_at(&alice, t10), Ok(()));
        assert!(limiter.check_at(&alice, t10).is_err());
    }

    #[test]
    fn each_client_has_its_own_bucket() {
        let limiter = limiter(60, 1, 10);
        let t0 = Instant::now();
        assert!(limiter.check_at(&subject("alice"), t0).is_ok());
        assert!(limiter.check_at(&subject("alice"), t0).is_err());
        assert!(limiter.check_at(&subject("bob"), t0).is_ok());
        assert!(limiter.check_at(&Client::Unknown, t0).is_ok());
    }

    #[test]
    fn a_full_table_refuses_new_clients_until_a_bucket_refills() {
        // One token per second, burst 1, room for two clients.
        let limiter = limiter(60, 1, 2);
        let t0 = Instant::now();
        assert!(limiter.check_at(&subject("a"), t0).is_ok());
        assert!(limiter.check_at(&subject("b"), t0).is_ok());
        assert_eq!(
            limiter.check_at(&subject("c"), t0),
            Err(Duration::from_secs(1))
        );
        // Known clients are still served by their own buckets.
        let later = t0 + Duration::from_secs(1);
        assert!(limiter.check_at(&subject("a"), later).is_ok());
        // b's bucket is full again at t0 + 1 s: it is dropped to make room for c.
        assert!(limiter.check_at(&subject("c"), later).is_ok());
        let table = limiter.table.lock().unwrap();
        assert_eq!(table.full_at.len(), 2);
        assert!(!table.full_at.contains_key(&subject("b")));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(Client::from_peer(Some(a)), Client::from_peer(Some(b)));
        assert_ne!(Client::from_peer(Some(a)), Client::from_peer(Some(other)));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(Client::from_peer(Some(mapped)), Client::from_peer(Some(v4)));
        assert_eq!(Client::from_peer(None), Client::Unknown);
    }
}
