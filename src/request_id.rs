//! Request ids: the one name a request goes by in its answer (`x-request-id`, `error.requestId`)
//! and on every log line written while it is served. Under Lambda it is the id API Gateway (or
//! the Function URL) gave the event, so pixgate's lines meet the platform's; elsewhere it is
//! generated.
//!
//! The id of the request being served is held in a task-local for as long as the request runs,
//! so the one place that builds error bodies can name it without every handler passing it down.

use std::fmt;
use std::sync::Arc;

/// The answer header that carries the id.
pub const HEADER: &str = "x-request-id";

/// The longest id taken from an event; API Gateway's are 36 characters.
const MAX_LEN: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

tokio::task_local! {
    static CURRENT: RequestId;
}

impl RequestId {
    /// 128 random bits in hex: unique without coordination between instances.
    pub fn generate() -> Self {
        let mut bits = [0u8; 16];
        // Without the OS's randomness nothing else here works either (keys, signing secrets).
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut bits).expect("the OS random generator failed");
        Self(hex::encode(bits).into())
    }

    /// An id given by the platform, when it is one that can go in a header and a log line
    /// as it is (visible ASCII, not too long).
    pub fn from_platform(id: &str) -> Option<Self> {
        let usable = !id.is_empty()
            && id.len() <= MAX_LEN
            && id.bytes().all(|b| b.is_ascii_graphic() && b != b'"');
        usable.then(|| Self(id.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Runs `future` as the request this id names: [`current`] gives the id inside it.
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of the request this task is serving; `None` outside a request (a connection refused
/// before its request was read, background sweeps).
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_distinct_hex() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn platform_ids_must_fit_a_header_and_a_log_line() {
        let id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef";
        assert_eq!(RequestId::from_platform(id).unwrap().as_str(), id);
        assert!(RequestId::from_platform("").is_none());
        assert!(RequestId::from_platform("a b").is_none());
        assert!(RequestId::from_platform("a\nb").is_none());
        assert!(RequestId::from_platform("a\"b").is_none());
        assert!(RequestId::from_platform(&"x".repeat(129)).is_none());
    }

    #[tokio::test]
    async fn the_current_id_is_the_scope_s() {
        assert_eq!(current(), None);
        let id = RequestId::generate();
        let seen = id.clone().scope(async { current() }).await;
        assert_eq!(seen, Some(id));
        assert_eq!(current(), None);
    }
}
