//! The keys a token may be signed with, parsed once: RS256 and ES256 public keys from a JWKS
//! (a file read at start, or a document fetched from a URL), or one HS256 secret. Each key
//! carries the one algorithm it verifies, and a token must name that algorithm: a token
//! claiming HS256 is never checked against an RSA key's bytes (the classic alg confusion),
//! and a JWKS's symmetric (`oct`) keys are never used.

use std::fmt;
use std::path::Path;

use axum::http::Uri;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// HS256 secrets shorter than the hash (RFC 7518 §3.2) are refused.
const MIN_SECRET_LEN: usize = 32;

/// Where the verification keys come from (at most one source is configured).
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS document fetched from this URL, cached, refetched on an unknown `kid`.
    JwksUrl(JwksUrl),
    /// A JWKS document read at start.
    JwksFile(KeySet),
    /// One shared HS256 secret.
    Secret(JwtSecret),
}

/// The http(s) URL of a JWKS document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksUrl(Uri);

impl JwksUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let uri: Uri = raw
            .parse()
            .map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("https" | "http"));
        if !scheme_ok || uri.host().is_none() {
            return Err(format!("{raw:?} must be an http(s) URL"));
        }
        Ok(Self(uri))
    }

    pub fn uri(&self) -> &Uri {
        &self.0
    }
}

/// An HS256 secret, long enough not to be guessed. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() < MIN_SECRET_LEN {
            return Err(format!(
                "a secret of {} bytes is too short for HS256: use at least {MIN_SECRET_LEN} random bytes",
                raw.len()
            ));
        }
        Ok(Self(raw.as_bytes().to_vec()))
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(..)")
    }
}

/// One key and the one algorithm it verifies.
#[derive(Clone)]
pub struct VerifyingKey {
    pub kid: Option<String>,
    pub alg: Algorithm,
    pub key: DecodingKey,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}/{:?}", self.kid, self.alg)
    }
}

/// The keys tokens are checked against.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    /// A shared secret is the only key there is, whatever `kid` a token names.
    ignore_kid: bool,
}

/// Why a JWKS document gave no key.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("not a JWKS document: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no RS256 or ES256 (P-256) signing key in the JWKS")]
    NoUsableKey,
}

/// `{"keys": [...]}`, each key read on its own so that one kind this gateway does not use
/// (an encryption key, an Ed25519 key, a future `kty`) does not hide the others.
#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// The RS256 and ES256 signing keys of a JWKS document; the others are skipped.
    pub fn from_jwks_json(json: &[u8]) -> Result<Self, JwksError> {
        let raw: RawJwks = serde_json::from_slice(json)?;
        let keys: Vec<VerifyingKey> = raw
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
            .filter_map(|jwk| verifying_key(&jwk))
            .collect();
        if keys.is_empty() {
            return Err(JwksError::NoUsableKey);
        }
        Ok(Self {
            keys,
            ignore_kid: false,
        })
    }

    /// A JWKS file, for clap: the error names the file and what is wrong with it.
    pub fn read_file(path: &str) -> Result<Self, String> {
        let bytes = std::fs::read(Path::new(path)).map_err(|e| format!("{path}: {e}"))?;
        Self::from_jwks_json(&bytes).map_err(|e| format!("{path}: {e}"))
    }

    /// The one HS256 key of a shared secret.
    pub fn from_secret(secret: &JwtSecret) -> Self {
        // from_secret only fails on an empty secret, which JwtSecret::parse refuses.
        let keys = DecodingKey::from_secret(&secret.0)
            .map(|key| VerifyingKey {
                kid: None,
                alg: Algorithm::HS256,
                key,
            })
            .into_iter()
            .collect();
        Self {
            keys,
            ignore_kid: true,
        }
    }

    /// The key a token names by `kid`; without a `kid`, the only key there is.
    pub fn find(&self, kid: Option<&str>) -> Option<&VerifyingKey> {
        if self.ignore_kid {
            return self.keys.first();
        }
        match kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The key of a signing JWK this gateway accepts: RSA for RS256, P-256 for ES256.
fn verifying_key(jwk: &Jwk) -> Option<VerifyingKey> {
    let for_signing = matches!(
        jwk.common.public_key_use,
        None | Some(PublicKeyUse::Signature)
    );
    let declared = jwk.common.key_algorithm;
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) if matches!(declared, None | Some(KeyAlgorithm::RS256)) => {
            Algorithm::RS256
        }
        AlgorithmParameters::EllipticCurve(ec)
            if ec.curve == EllipticCurve::P256
                && matches!(declared, None | Some(KeyAlgorithm::ES256)) =>
        {
            Algorithm::ES256
        }
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    for_signing.then(|| VerifyingKey {
        kid: jwk.common.key_id.clone(),
        alg,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A 2048-bit RSA modulus; any will do, as these tests never verify a signature.
    const RSA_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn rsa(extra: serde_json::Value) -> serde_json::Value {
        let mut key = serde_json::json!({"kty": "RSA", "n": RSA_N, "e": "AQAB"});
        if let (Some(key), Some(extra)) = (key.as_object_mut(), extra.as_object()) {
            key.extend(extra.clone());
        }
        key
    }

    fn parse(keys: Vec<serde_json::Value>) -> Result<KeySet, JwksError> {
        KeySet::from_jwks_json(serde_json::json!({ "keys": keys }).to_string().as_bytes())
    }

    #[test]
    fn only_signing_keys_of_the_two_algorithms_are_kept() {
        let set = parse(vec![
            rsa(serde_json::json!({"kid": "a"})),
            rsa(serde_json::json!({"kid": "enc", "use": "enc"})),
            rsa(serde_json::json!({"kid": "ps", "alg": "PS256"})),
            serde_json::json!({"kty": "oct", "kid": "sym", "k": "c2VjcmV0"}),
            serde_json::json!({"kty": "OKP", "kid": "ed", "crv": "X448", "x": "AA"}),
        ])
        .unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.find(Some("a")).map(|k| k.alg), Some(Algorithm::RS256));
        assert!(set.find(Some("sym")).is_none());
        // One key: a token without a kid may use it.
        assert!(set.find(None).is_some());
    }

    #[test]
    fn a_jwks_without_usable_keys_is_refused() {
        let only_symmetric = vec![serde_json::json!({"kty": "oct", "k": "c2VjcmV0"})];
        assert!(matches!(parse(only_symmetric), Err(JwksError::NoUsableKey)));
        assert!(KeySet::from_jwks_json(b"{}").is_err());
    }

    #[test]
    fn with_several_keys_a_token_must_name_one() {
        let set = parse(vec![
            rsa(serde_json::json!({"kid": "a"})),
            rsa(serde_json::json!({"kid": "b"})),
        ])
        .unwrap();
        assert!(set.find(None).is_none());
        assert!(set.find(Some("b")).is_some());
        assert!(set.find(Some("c")).is_none());
    }

    #[test]
    fn urls_and_secrets_are_checked() {
        assert!(JwksUrl::parse("https://issuer.example.com/.well-known/jwks.json").is_ok());
        assert!(JwksUrl::parse("ftp://issuer.example.com/jwks").is_err());
        assert!(JwksUrl::parse("/jwks.json").is_err());
        assert!(JwtSecret::parse("short").is_err());
        let secret = JwtSecret::parse(&"k".repeat(32)).unwrap();
        assert_eq!(format!("{secret:?}"), "JwtSecret(..)");
        let set = KeySet::from_secret(&secret);
        assert_eq!(set.len(), 1);
        assert!(set.find(Some("any-kid")).is_some() && set.find(None).is_some());
    }
}
