//! Checking one bearer token: its header names a key and an algorithm, the key must verify
//! that algorithm, and the claims must hold: `iss` and `aud` as configured, `exp` not past and
//! `nbf` not ahead, each within the configured clock skew.

use std::time::Duration;

use jsonwebtoken::{Validation, decode, decode_header};
use serde::Deserialize;

use super::AuthError;
use super::keys::{KeySet, KeySource, VerifyingKey};
use super::remote::RemoteKeys;

/// Tokens longer than this are refused before any parsing: real ones are a few hundred bytes.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What a token must satisfy, as configured.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub keys: KeySource,
    pub issuer: String,
    pub audiences: Vec<String>,
    /// Allowed clock difference for `exp` and `nbf`.
    pub leeway: Duration,
    /// Least time between two JWKS fetches for an unknown `kid`.
    pub refetch_interval: Duration,
}

/// The claims the gateway reads (the others were checked by `jsonwebtoken`, or are ignored).
#[derive(Debug, Deserialize)]
pub struct Claims {
    /// The identity the rate limit counts against.
    pub sub: Option<String>,
}

/// Where the verifier finds keys (built once; the remote cache is boxed, being large).
enum Keys {
    Fixed(KeySet),
    Remote(Box<RemoteKeys>),
}

pub struct Verifier {
    keys: Keys,
    validation: Validation,
}

impl Verifier {
    pub fn new(settings: &JwtSettings) -> Self {
        let keys = match &settings.keys {
            KeySource::JwksFile(set) => Keys::Fixed(set.clone()),
            KeySource::Secret(secret) => Keys::Fixed(KeySet::from_secret(secret)),
            KeySource::JwksUrl(url) => {
                let remote = RemoteKeys::new(url.uri().clone(), settings.refetch_interval);
                Keys::Remote(Box::new(remote))
            }
        };
        Self {
            keys,
            validation: validation(settings),
        }
    }

    /// The token's claims, if it is signed by a known key and its claims hold.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::InvalidToken(
                jsonwebtoken::errors::ErrorKind::InvalidToken.into(),
            ));
        }
        let header = decode_header(token).map_err(AuthError::InvalidToken)?;
        let key = match &self.keys {
            Keys::Fixed(set) => set.find(header.kid.as_deref()).cloned(),
            Keys::Remote(remote) => remote.find(header.kid.as_deref()).await?,
        };
        let key = key.ok_or(AuthError::UnknownKey)?;
        check(token, &key, &self.validation)
    }
}

/// Verifies `token` with `key`, accepting only the key's own algorithm.
fn check(token: &str, key: &VerifyingKey, base: &Validation) -> Result<Claims, AuthError> {
    let mut validation = base.clone();
    validation.algorithms = vec![key.alg];
    decode::<Claims>(token, &key.key, &validation)
        .map(|data| data.claims)
        .map_err(AuthError::InvalidToken)
}

fn validation(settings: &JwtSettings) -> Validation {
    let mut validation = Validation::default();
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&settings.audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = settings.leeway.as_secs();
    validation
}
