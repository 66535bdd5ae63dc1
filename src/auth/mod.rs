//! Who may upload: bearer JWTs checked against the configured keys ([`token`], [`keys`],
//! [`remote`]) and a rate limit per identity or per client address ([`rate`]). Both are off
//! unless configured; [`Gate`] is what the HTTP edge holds when either is on. Nothing here sees
//! a request (only the JWKS fetch speaks HTTP, as a client): the edge hands over the bearer
//! token and the peer address, and gets back a [`Client`] or an [`AuthError`].

pub mod keys;
pub mod rate;
mod remote;
pub mod token;

use std::net::IpAddr;
use std::time::Duration;

pub use keys::{JwtSecret, KeySource};
pub use rate::{Client, RateLimit, RateLimiter};
pub use remote::FetchError;
pub use token::{JwtSettings, Verifier};

/// Why a request may not upload.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("a bearer token is required")]
    MissingToken,
    #[error("the Authorization header is not a bearer token")]
    NotBearer,
    #[error("the bearer token is not valid")]
    InvalidToken(#[source] jsonwebtoken::errors::Error),
    #[error("the bearer token is signed by an unknown key")]
    UnknownKey,
    /// The keys could not be fetched and none are cached: the operator's problem, not the
    /// client's, so it is not answered 401.
    #[error("the token signing keys are unavailable")]
    KeysUnavailable(#[source] FetchError, Duration),
    #[error("too many uploads, retry in {} s", retry_after_secs(*.0))]
    RateLimited(Duration),
}

impl AuthError {
    /// Whether the client presented a token that was refused (RFC 6750 `invalid_token`), as
    /// against presenting none.
    pub fn is_invalid_token(&self) -> bool {
        matches!(
            self,
            Self::NotBearer | Self::InvalidToken(_) | Self::UnknownKey
        )
    }

    /// How long the client should wait before trying again, when waiting helps.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited(wait) => Some(*wait),
            Self::KeysUnavailable(_, retry) => Some(*retry),
            _ => None,
        }
    }
}

/// Whole seconds for `Retry-After`: rounded up, at least 1 (0 would invite an instant retry).
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// The checks in front of the upload routes: the token (when JWT auth is on), then the rate
/// limit (when on) on the identity the token proved, or on the client's address.
pub struct Gate {
    verifier: Option<Verifier>,
    limiter: Option<RateLimiter>,
}

impl Gate {
    /// `None` when neither check is configured, so the routes stay exactly as without auth.
    pub fn new(jwt: Option<&JwtSettings>, rate_limit: Option<RateLimit>) -> Option<Self> {
        let gate = Self {
            verifier: jwt.map(Verifier::new),
            limiter: rate_limit.map(RateLimiter::new),
        };
        (gate.verifier.is_some() || gate.limiter.is_some()).then_some(gate)
    }

    /// Who is asking, if they may: `token` is the bearer token (`None`: no `Authorization`
    /// header; `Some(Err)`: one that is not a bearer token), `peer` the address the request
    /// came from, when known.
    pub async fn admit(
        &self,
        token: Option<Result<&str, AuthError>>,
        peer: Option<IpAddr>,
    ) -> Result<Client, AuthError> {
        let client = self.identify(token, peer).await?;
        if let Some(limiter) = &self.limiter {
            limiter.check(&client).map_err(AuthError::RateLimited)?;
        }
        Ok(client)
    }

    /// Who is asking, if they may, without counting the request against the rate limit: for
    /// the calls that carry on an upload already admitted (a direct upload's part URLs, its
    /// complete), so one file counts once however many parts it has.
    pub async fn identify(
        &self,
        token: Option<Result<&str, AuthError>>,
        peer: Option<IpAddr>,
    ) -> Result<Client, AuthError> {
        Ok(match &self.verifier {
            Some(verifier) => {
                let token = token.ok_or(AuthError::MissingToken)??;
                match verifier.verify(token).await?.sub {
                    Some(subject) => Client::Subject(subject),
                    None => Client::from_peer(peer),
                }
            }
            None => Client::from_peer(peer),
        })
    }
}
