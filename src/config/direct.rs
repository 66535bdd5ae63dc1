//! Direct uploads: the flags of the staging area (`DirectArgs`) and the rules that tie them to
//! the rest, checked once into a [`DirectConfig`].

use std::time::Duration;

use clap::Args;

use super::values::{Prefix, SigningKey, seconds};
use super::{ConfigError, Limits, TransformConfig, UploadConfig, conflict};
use crate::storage::random_hex;
use crate::storage::staging::MAX_URL_TTL;

/// S3's largest single PUT.
const MAX_DIRECT_BYTES: u64 = 5 << 30;

#[derive(Debug, Clone, Args)]
pub struct DirectArgs {
    /// Prefix of staging keys, where clients put direct uploads before they are processed.
    /// Never served; must not overlap the upload or transform prefixes.
    #[arg(long, env = "PIXGATE_INCOMING_PREFIX", value_name = "PIXGATE_INCOMING_PREFIX", default_value = "incoming", value_parser = Prefix::parse)]
    pub incoming_prefix: Prefix,

    /// Most bytes one direct upload may stage (declared size, parts and the staged object).
    #[arg(long, env = "PIXGATE_DIRECT_MAX_BYTES", value_name = "PIXGATE_DIRECT_MAX_BYTES", default_value = "67108864", value_parser = super::values::positive::<u64>)]
    pub direct_max_bytes: u64,

    /// How long a signed URL of a direct upload stays valid, in seconds (at most 3600).
    #[arg(long = "direct-url-ttl-secs", env = "PIXGATE_DIRECT_URL_TTL_SECS", value_name = "PIXGATE_DIRECT_URL_TTL_SECS", default_value = "900", value_parser = seconds)]
    pub direct_url_ttl: Duration,

    /// Disk backend: a staged upload untouched for this long is swept, in seconds (S3: the
    /// bucket's lifecycle rule does it).
    #[arg(long = "direct-staging-ttl-secs", env = "PIXGATE_DIRECT_STAGING_TTL_SECS", value_name = "PIXGATE_DIRECT_STAGING_TTL_SECS", default_value = "86400", value_parser = seconds)]
    pub direct_staging_ttl: Duration,

    /// Signs staging keys (and the disk backend's staging URLs): at least 16 bytes, the same
    /// on every instance. Without it, one is generated at start, and what was issued before a
    /// restart is no longer accepted.
    #[arg(long, env = "PIXGATE_DIRECT_SIGNING_KEY", value_name = "PIXGATE_DIRECT_SIGNING_KEY", hide_env_values = true, value_parser = SigningKey::parse)]
    pub direct_signing_key: Option<SigningKey>,
}

/// The staging area's settings, checked.
#[derive(Debug, Clone)]
pub struct DirectConfig {
    pub incoming_prefix: Prefix,
    pub max_bytes: u64,
    pub url_ttl: Duration,
    pub staging_ttl: Duration,
    pub signing_key: SigningKey,
    /// Whether the key was generated at start (it then dies with the process).
    pub key_generated: bool,
}

impl DirectArgs {
    pub(super) fn check(
        self,
        limits: &Limits,
        upload: &UploadConfig,
        transform: &TransformConfig,
    ) -> Result<DirectConfig, ConfigError> {
        let incoming = &self.incoming_prefix;
        let overlaps = |other: &Prefix| {
            other == incoming || other.holds(incoming.as_str()) || incoming.holds(other.as_str())
        };
        let served = [&upload.profile_prefix, &upload.image_prefix]
            .into_iter()
            .chain(transform.prefixes());
        if served.into_iter().any(overlaps) {
            return Err(conflict(
                "PIXGATE_INCOMING_PREFIX",
                "must not overlap the upload or transform prefixes: staged files are never served",
            ));
        }
        if self.direct_url_ttl > MAX_URL_TTL {
            return Err(conflict(
                "PIXGATE_DIRECT_URL_TTL_SECS",
                "must be at most 3600: the credentials that sign S3 URLs may not live longer",
            ));
        }
        if self.direct_max_bytes > MAX_DIRECT_BYTES.min(limits.upload_memory_bytes) {
            return Err(conflict(
                "PIXGATE_DIRECT_MAX_BYTES",
                "must be at most PIXGATE_UPLOAD_MEMORY_BYTES (a staged file is read into memory \
                 to be processed) and 5 GiB (S3's largest PUT)",
            ));
        }
        let (signing_key, key_generated) = match self.direct_signing_key {
            Some(key) => (key, false),
            None => (
                SigningKey::parse(&random_hex(32))
                    .map_err(|e| conflict("PIXGATE_DIRECT_SIGNING_KEY", e))?,
                true,
            ),
        };
        Ok(DirectConfig {
            incoming_prefix: self.incoming_prefix,
            max_bytes: self.direct_max_bytes,
            url_ttl: self.direct_url_ttl,
            staging_ttl: self.direct_staging_ttl,
            signing_key,
            key_generated,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(args: &[&str]) -> Result<Config, String> {
        Config::from_args(args).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_generate_a_key_and_bound_urls_and_size() {
        let config = parse(&[]).unwrap();
        let direct = config.direct();
        assert_eq!(direct.incoming_prefix.as_str(), "incoming");
        assert_eq!(direct.max_bytes, 64 << 20);
        assert_eq!(direct.url_ttl.as_secs(), 900);
        assert!(direct.key_generated);
        assert!(direct.signing_key.as_bytes().len() >= 32);
        let other = parse(&[]).unwrap();
        assert_ne!(other.direct().signing_key, direct.signing_key);
    }

    #[test]
    fn the_incoming_prefix_may_not_overlap_a_served_one() {
        for prefix in ["images", "images/in", "profile", "a"] {
            let args = [
                "--incoming-prefix",
                prefix,
                "--transform-prefixes",
                "a/b,images",
            ];
            let error = parse(&args).unwrap_err();
            assert!(
                error.contains("PIXGATE_INCOMING_PREFIX"),
                "{prefix}: {error}"
            );
        }
        assert!(parse(&["--incoming-prefix", "staging/in"]).is_ok());
    }

    #[test]
    fn url_ttl_and_size_have_ceilings() {
        let error = parse(&["--direct-url-ttl-secs", "3601"]).unwrap_err();
        assert!(error.contains("PIXGATE_DIRECT_URL_TTL_SECS"), "{error}");
        let error = parse(&["--direct-max-bytes", "300000000"]).unwrap_err();
        assert!(error.contains("PIXGATE_DIRECT_MAX_BYTES"), "{error}");
        let key = "0123456789abcdef0123";
        let config = parse(&["--direct-signing-key", key]).unwrap();
        assert!(!config.direct().key_generated);
    }
}
