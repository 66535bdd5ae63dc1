//! Counting the S3 SDK's retries: it retries throttling and server errors inside one call, out
//! of pixgate's sight, so an interceptor on the client counts every attempt after the first.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::client::retries::RequestAttempts;

/// `client` with an interceptor adding each retry to `retries` (same settings otherwise).
pub(super) fn counting(client: &Client, retries: Arc<AtomicU64>) -> Client {
    let config = client
        .config()
        .to_builder()
        .interceptor(RetryCounter(retries))
        .build();
    Client::from_conf(config)
}

#[derive(Debug)]
struct RetryCounter(Arc<AtomicU64>);

impl Intercept for RetryCounter {
    fn name(&self) -> &'static str {
        "pixgate retry counter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        // The orchestrator numbers attempts from 1 before this hook runs.
        if cfg
            .load::<RequestAttempts>()
            .is_some_and(|a| a.attempts() > 1)
        {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}
