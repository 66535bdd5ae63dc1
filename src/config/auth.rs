//! Who may upload: the JWT and rate-limit flags (`AuthArgs`), and the rules between them,
//! checked once into an [`AuthConfig`] when the configuration is built. With none of these
//! flags, uploads are open and unlimited, as before they existed.

use std::num::NonZeroU32;
use std::time::Duration;

use clap::Args;

use super::values::seconds;
use super::{Config, ConfigError, conflict};
use crate::auth::keys::{JwksUrl, KeySet};
use crate::auth::{JwtSecret, JwtSettings, KeySource, RateLimit};

/// JWT bearer authentication and the rate limit of the upload routes.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// URL of the issuer's JWKS (RS256 and ES256 keys), fetched when first needed, cached, and
    /// refetched when a token names an unknown key.
    #[arg(long, env = "PIXGATE_JWT_JWKS_URL", value_name = "PIXGATE_JWT_JWKS_URL", value_parser = JwksUrl::parse)]
    pub jwt_jwks_url: Option<JwksUrl>,

    /// A JWKS file (RS256 and ES256 keys), read at start.
    #[arg(long, env = "PIXGATE_JWT_JWKS_FILE", value_name = "PIXGATE_JWT_JWKS_FILE", value_parser = KeySet::read_file)]
    pub jwt_jwks_file: Option<KeySet>,

    /// Shared secret for HS256 tokens (at least 32 bytes).
    #[arg(long, env = "PIXGATE_JWT_HS256_SECRET", value_name = "PIXGATE_JWT_HS256_SECRET", hide_env_values = true, value_parser = JwtSecret::parse)]
    pub jwt_hs256_secret: Option<JwtSecret>,

    /// The `iss` tokens must carry (required with a key source).
    #[arg(long, env = "PIXGATE_JWT_ISSUER", value_name = "PIXGATE_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// The `aud` values accepted, comma-separated; a token must carry one (required with a
    /// key source).
    #[arg(
        long,
        env = "PIXGATE_JWT_AUDIENCE",
        value_name = "PIXGATE_JWT_AUDIENCE",
        value_delimiter = ','
    )]
    pub jwt_audience: Vec<String>,

    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    #[arg(long = "jwt-leeway-secs", env = "PIXGATE_JWT_LEEWAY_SECS", value_name = "PIXGATE_JWT_LEEWAY_SECS", default_value = "60", value_parser = leeway)]
    pub jwt_leeway: Duration,

    /// Least seconds between two JWKS fetches caused by unknown `kid`s.
    #[arg(long = "jwt-jwks-refetch-secs", env = "PIXGATE_JWT_JWKS_REFETCH_SECS", value_name = "PIXGATE_JWT_JWKS_REFETCH_SECS", default_value = "30", value_parser = seconds)]
    pub jwt_jwks_refetch: Duration,

    /// Uploads per minute per client (the token's `sub`, else the client's address); 0: no
    /// limit. Only `pixgate serve` applies it (under Lambda, API Gateway throttles).
    #[arg(
        long,
        env = "PIXGATE_RATE_LIMIT_PER_MINUTE",
        value_name = "PIXGATE_RATE_LIMIT_PER_MINUTE",
        default_value_t = 0
    )]
    pub rate_limit_per_minute: u32,

    /// Uploads a client may make at once before the per-minute pace applies.
    #[arg(long, env = "PIXGATE_RATE_LIMIT_BURST", value_name = "PIXGATE_RATE_LIMIT_BURST", default_value = "10", value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: u32,
}

/// More skew than this would make `exp` meaningless.
const MAX_LEEWAY_SECS: u64 = 300;

fn leeway(raw: &str) -> Result<Duration, String> {
    let secs: u64 = raw
        .trim()
        .parse()
        .map_err(|_| format!("{raw:?} is not a whole number of seconds"))?;
    if secs > MAX_LEEWAY_SECS {
        return Err(format!("{secs} s is over the {MAX_LEEWAY_SECS} s allowed"));
    }
    Ok(Duration::from_secs(secs))
}

/// JWT authentication (off when `jwt` is `None`) and the rate limit (off when `None`).
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub jwt: Option<JwtSettings>,
    pub rate_limit: Option<RateLimit>,
}

impl AuthArgs {
    /// The rules between the flags: one key source at most, and with one, an issuer and an
    /// audience; an issuer or audience without a key source would look like auth is on.
    pub(super) fn check(self) -> Result<AuthConfig, ConfigError> {
        let rate_limit = NonZeroU32::new(self.rate_limit_per_minute).map(|per_minute| RateLimit {
            per_minute,
            // clap refuses 0.
            burst: NonZeroU32::new(self.rate_limit_burst).unwrap_or(NonZeroU32::MIN),
        });
        Ok(AuthConfig {
            jwt: self.jwt()?,
            rate_limit,
        })
    }

    fn jwt(self) -> Result<Option<JwtSettings>, ConfigError> {
        let mut sources = [
            self.jwt_jwks_url.map(KeySource::JwksUrl),
            self.jwt_jwks_file.map(KeySource::JwksFile),
            self.jwt_hs256_secret.map(KeySource::Secret),
        ]
        .into_iter()
        .flatten();
        let (keys, another) = (sources.next(), sources.next());
        if another.is_some() {
            return Err(conflict(
                "PIXGATE_JWT_JWKS_URL",
                "set one of PIXGATE_JWT_JWKS_URL, PIXGATE_JWT_JWKS_FILE and PIXGATE_JWT_HS256_SECRET",
            ));
        }
        let issuer = self.jwt_issuer.filter(|i| !i.trim().is_empty());
        let audiences: Vec<String> = self
            .jwt_audience
            .into_iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        let Some(keys) = keys else {
            if issuer.is_some() || !audiences.is_empty() {
                return Err(conflict(
                    "PIXGATE_JWT_ISSUER",
                    "an issuer or audience needs a key source: PIXGATE_JWT_JWKS_URL, PIXGATE_JWT_JWKS_FILE or PIXGATE_JWT_HS256_SECRET",
                ));
            }
            return Ok(None);
        };
        let issuer =
            issuer.ok_or_else(|| conflict("PIXGATE_JWT_ISSUER", "required with JWT keys"))?;
        if audiences.is_empty() {
            return Err(conflict("PIXGATE_JWT_AUDIENCE", "required with JWT keys"));
        }
        Ok(Some(JwtSettings {
            keys,
            issuer,
            audiences,
            leeway: self.jwt_leeway,
            refetch_interval: self.jwt_jwks_refetch,
        }))
    }
}

impl Config {
    /// JWT authentication and the rate limit of the upload routes.
    pub fn auth(&self) -> &AuthConfig {
        &self.auth
    }

    /// The same configuration without the in-process rate limit: under Lambda each instance
    /// serves one request at a time and instances come and go, so a count kept in one would
    /// limit nobody; API Gateway's throttling does that job there.
    pub fn without_rate_limit(mut self) -> Self {
        self.auth.rate_limit = None;
        self
    }

    /// The same configuration without the upload page.
    pub fn without_ui(mut self) -> Self {
        self.http.ui = false;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        Config::from_args(args)
    }

    #[test]
    fn without_flags_uploads_are_open_and_unlimited() {
        let config = parse(&[]).unwrap();
        assert!(config.auth().jwt.is_none());
        assert!(config.auth().rate_limit.is_none());
    }

    #[test]
    fn a_secret_with_issuer_and_audiences_turns_jwt_on() {
        let config = parse(&[
            "--jwt-hs256-secret",
            SECRET,
            "--jwt-issuer",
            "https://issuer.example.com/",
            "--jwt-audience",
            "pixgate, chat",
            "--jwt-leeway-secs",
            "10",
        ])
        .unwrap();
        let jwt = config.auth().jwt.as_ref().unwrap();
        assert!(matches!(jwt.keys, KeySource::Secret(_)));
        assert_eq!(jwt.issuer, "https://issuer.example.com/");
        assert_eq!(jwt.audiences, ["pixgate", "chat"]);
        assert_eq!(jwt.leeway, Duration::from_secs(10));
        assert_eq!(jwt.refetch_interval, Duration::from_secs(30));
    }

    #[test]
    fn the_rate_limit_is_per_minute_with_a_burst() {
        let config = parse(&["--rate-limit-per-minute", "30"]).unwrap();
        let limit = config.auth().rate_limit.unwrap();
        assert_eq!((limit.per_minute.get(), limit.burst.get()), (30, 10));
        assert!(config.without_rate_limit().auth().rate_limit.is_none());
    }

    #[test]
    fn bad_auth_settings_name_their_variable() {
        let jwks = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(jwks.path(), br#"{"keys": []}"#).unwrap();
        let jwks = jwks.path().to_str().unwrap();
        let with_keys = ["--jwt-issuer", "iss", "--jwt-audience", "aud"];
        let cases: &[(&[&str], &str)] = &[
            (&["--jwt-hs256-secret", "short"], "PIXGATE_JWT_HS256_SECRET"),
            (&["--jwt-hs256-secret", SECRET], "PIXGATE_JWT_ISSUER"),
            (
                &["--jwt-hs256-secret", SECRET, "--jwt-issuer", "iss"],
                "PIXGATE_JWT_AUDIENCE",
            ),
            (
                &[
                    "--jwt-hs256-secret",
                    SECRET,
                    "--jwt-issuer",
                    "iss",
                    "--jwt-audience",
                    " ",
                ],
                "PIXGATE_JWT_AUDIENCE",
            ),
            (&["--jwt-issuer", "iss"], "PIXGATE_JWT_ISSUER"),
            (&["--jwt-audience", "aud"], "PIXGATE_JWT_ISSUER"),
            (
                &[
                    "--jwt-hs256-secret",
                    SECRET,
                    "--jwt-jwks-url",
                    "https://issuer.example.com/jwks",
                    with_keys[0],
                    with_keys[1],
                    with_keys[2],
                    with_keys[3],
                ],
                "PIXGATE_JWT_HS256_SECRET",
            ),
            (
                &["--jwt-jwks-url", "issuer.example.com"],
                "PIXGATE_JWT_JWKS_URL",
            ),
            (
                &["--jwt-jwks-file", "/no/such/jwks.json"],
                "PIXGATE_JWT_JWKS_FILE",
            ),
            (&["--jwt-jwks-file", jwks], "PIXGATE_JWT_JWKS_FILE"),
            (&["--jwt-leeway-secs", "3600"], "PIXGATE_JWT_LEEWAY_SECS"),
            (
                &["--jwt-jwks-refetch-secs", "0"],
                "PIXGATE_JWT_JWKS_REFETCH_SECS",
            ),
            (&["--rate-limit-burst", "0"], "PIXGATE_RATE_LIMIT_BURST"),
            (
                &["--rate-limit-per-minute", "many"],
                "PIXGATE_RATE_LIMIT_PER_MINUTE",
            ),
        ];
        for (args, var) in cases {
            let message = parse(args).unwrap_err().to_string();
            assert!(message.contains(var), "{args:?}: {message}");
        }
    }
}
