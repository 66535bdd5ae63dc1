//! Runtime configuration: one typed struct, read once at start from flags or their `PIXGATE_*`
//! environment equivalents, and validated before anything is served.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// Where uploaded objects are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageKind {
    /// Files under `--data-dir` (the embedded default; no AWS needed).
    Fs,
    /// An S3 bucket (or any S3-compatible server via `AWS_ENDPOINT_URL`).
    S3,
}

/// Every setting pixgate reads. The `value_name` of each flag is its environment variable, so a
/// bad value is reported under the name the operator actually set.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address the local server listens on.
    #[arg(
        long,
        env = "PIXGATE_ADDR",
        value_name = "PIXGATE_ADDR",
        default_value = "127.0.0.1:3000"
    )]
    pub addr: SocketAddr,

    /// Storage backend.
    #[arg(
        long,
        env = "PIXGATE_STORAGE",
        value_name = "PIXGATE_STORAGE",
        value_enum,
        default_value = "fs"
    )]
    pub storage: StorageKind,

    /// Directory for the disk backend.
    #[arg(
        long,
        env = "PIXGATE_DATA_DIR",
        value_name = "PIXGATE_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,

    /// Bucket name: required for S3; only a label in answers for the disk backend.
    #[arg(long, env = "PIXGATE_BUCKET", value_name = "PIXGATE_BUCKET")]
    pub bucket: Option<String>,

    /// Base of the `fileUrl` in answers (e.g. a CloudFront domain), without a trailing slash.
    #[arg(
        long,
        env = "PIXGATE_PUBLIC_BASE_URL",
        value_name = "PIXGATE_PUBLIC_BASE_URL"
    )]
    pub public_base_url: Option<String>,

    /// Origins allowed by CORS: `*` or a comma-separated list of exact origins.
    #[arg(
        long,
        env = "PIXGATE_ALLOWED_ORIGINS",
        value_name = "PIXGATE_ALLOWED_ORIGINS",
        default_value = "*"
    )]
    pub allowed_origins: String,

    /// Most file parts in one request.
    #[arg(
        long,
        env = "PIXGATE_MAX_FILES",
        value_name = "PIXGATE_MAX_FILES",
        default_value_t = 10
    )]
    pub max_files: usize,

    /// Most bytes in one file part.
    #[arg(long, env = "PIXGATE_MAX_FILE_BYTES", value_name = "PIXGATE_MAX_FILE_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_file_bytes: u64,

    /// Most bytes in one request body.
    #[arg(long, env = "PIXGATE_MAX_REQUEST_BYTES", value_name = "PIXGATE_MAX_REQUEST_BYTES", default_value_t = 50 * 1024 * 1024)]
    pub max_request_bytes: u64,

    /// Most pixels (width × height) an input may declare.
    #[arg(
        long,
        env = "PIXGATE_MAX_PIXELS",
        value_name = "PIXGATE_MAX_PIXELS",
        default_value_t = 50_000_000
    )]
    pub max_pixels: u64,

    /// Longest side an input may declare, in pixels.
    #[arg(
        long,
        env = "PIXGATE_MAX_SIDE",
        value_name = "PIXGATE_MAX_SIDE",
        default_value_t = 16384
    )]
    pub max_side: u32,

    /// Key prefix for `type=profile` uploads.
    #[arg(
        long,
        env = "PIXGATE_PROFILE_PREFIX",
        value_name = "PIXGATE_PROFILE_PREFIX",
        default_value = "profile"
    )]
    pub profile_prefix: String,

    /// Key prefix for `type=image` uploads.
    #[arg(
        long,
        env = "PIXGATE_IMAGE_PREFIX",
        value_name = "PIXGATE_IMAGE_PREFIX",
        default_value = "images"
    )]
    pub image_prefix: String,

    /// Address S3 buckets by path (`endpoint/bucket/key`), as most S3-compatible servers need.
    #[arg(long, env = "PIXGATE_S3_FORCE_PATH_STYLE", value_name = "PIXGATE_S3_FORCE_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub s3_force_path_style: bool,

    /// Seconds a request may take, body upload included, before it is answered 408.
    #[arg(
        long,
        env = "PIXGATE_REQUEST_TIMEOUT_SECS",
        value_name = "PIXGATE_REQUEST_TIMEOUT_SECS",
        default_value_t = 60
    )]
    pub request_timeout_secs: u64,

    /// Key prefixes `GET /img/{key}` may read, comma-separated [default: the two upload
    /// prefixes]. Nothing outside them is ever read.
    #[arg(
        long,
        env = "PIXGATE_TRANSFORM_PREFIXES",
        value_name = "PIXGATE_TRANSFORM_PREFIXES"
    )]
    pub transform_prefixes: Option<String>,

    /// Largest `w` or `h` a transform may ask for.
    #[arg(
        long,
        env = "PIXGATE_TRANSFORM_MAX_SIDE",
        value_name = "PIXGATE_TRANSFORM_MAX_SIDE",
        default_value_t = 4096
    )]
    pub transform_max_side: u32,

    /// `Cache-Control` of successful transform answers.
    #[arg(
        long,
        env = "PIXGATE_TRANSFORM_CACHE_CONTROL",
        value_name = "PIXGATE_TRANSFORM_CACHE_CONTROL",
        default_value = "public, max-age=31536000, immutable"
    )]
    pub transform_cache_control: String,

    /// Answer a non-canonical transform query with 301 to its canonical form.
    #[arg(long, env = "PIXGATE_CANONICAL_REDIRECT", value_name = "PIXGATE_CANONICAL_REDIRECT", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub canonical_redirect: bool,

    /// Secret for transform URL signatures (repeat, or comma-separate in the variable, to
    /// rotate keys). With none, transform URLs are not signed.
    #[arg(
        long = "signing-key",
        env = "PIXGATE_SIGNING_KEYS",
        value_name = "PIXGATE_SIGNING_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub signing_keys: Vec<String>,

    /// The only `WxH` sizes transforms may ask for, e.g. `200x200,400x0` (0: side not given;
    /// `0x0` allows the original size). Unset: any size.
    #[arg(
        long,
        env = "PIXGATE_ALLOWED_SIZES",
        value_name = "PIXGATE_ALLOWED_SIZES"
    )]
    pub allowed_sizes: Option<String>,

    /// AVIF encoder speed, 1 (smallest files, slow) to 10 (fastest). 10 is the request-path
    /// choice: a 1440×1080 AVIF takes about 0.7 s at 10 against 3.3 s at 8, for 9% more bytes.
    #[arg(
        long,
        env = "PIXGATE_AVIF_SPEED",
        value_name = "PIXGATE_AVIF_SPEED",
        default_value_t = 10,
        value_parser = clap::value_parser!(u8).range(1..=10)
    )]
    pub avif_speed: u8,

    /// Build `fileUrl` from the request's `X-Forwarded-Host` when present (set by the
    /// CloudFront Function in front of `/upload`); only enable behind a proxy that sets it.
    #[arg(long, env = "PIXGATE_TRUST_FORWARDED_HOST", value_name = "PIXGATE_TRUST_FORWARDED_HOST", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub trust_forwarded_host: bool,

    /// Under Lambda: answer through response streaming (for a Function URL with
    /// `InvokeMode: RESPONSE_STREAM`), so answers larger than 6 MB are not refused.
    #[arg(long, env = "PIXGATE_LAMBDA_STREAMING", value_name = "PIXGATE_LAMBDA_STREAMING", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub lambda_streaming: bool,

    /// Image jobs run at once; 0 means one per CPU core.
    #[arg(
        long,
        env = "PIXGATE_WORKERS",
        value_name = "PIXGATE_WORKERS",
        default_value_t = 0
    )]
    pub workers: usize,
}

/// A configuration value that cannot work, named by its environment variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn invalid(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

/// The CORS origins policy, parsed from `--allowed-origins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    Any,
    List(Vec<String>),
}

impl Config {
    /// Checks the values clap cannot check alone; called once at start.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.storage == StorageKind::S3 && self.bucket.as_deref().is_none_or(str::is_empty) {
            return Err(invalid(
                "PIXGATE_BUCKET",
                "required when PIXGATE_STORAGE=s3",
            ));
        }
        if let Some(url) = &self.public_base_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && !url.ends_with('/')
                && !url.contains(char::is_whitespace);
            if !ok {
                return Err(invalid(
                    "PIXGATE_PUBLIC_BASE_URL",
                    format!("{url:?} must be an http(s) URL without a trailing slash"),
                ));
            }
        }
        self.allowed_origins()?;
        check_positive("PIXGATE_MAX_FILES", self.max_files as u64)?;
        check_positive("PIXGATE_MAX_FILE_BYTES", self.max_file_bytes)?;
        check_positive("PIXGATE_MAX_PIXELS", self.max_pixels)?;
        check_positive("PIXGATE_MAX_SIDE", u64::from(self.max_side))?;
        check_positive("PIXGATE_REQUEST_TIMEOUT_SECS", self.request_timeout_secs)?;
        if self.max_request_bytes < self.max_file_bytes {
            return Err(invalid(
                "PIXGATE_MAX_REQUEST_BYTES",
                "must be at least PIXGATE_MAX_FILE_BYTES",
            ));
        }
        check_prefix("PIXGATE_PROFILE_PREFIX", &self.profile_prefix)?;
        check_prefix("PIXGATE_IMAGE_PREFIX", &self.image_prefix)?;
        if self.profile_prefix == self.image_prefix {
            return Err(invalid(
                "PIXGATE_IMAGE_PREFIX",
                "must differ from PIXGATE_PROFILE_PREFIX",
            ));
        }
        for prefix in self.transform_prefixes() {
            check_prefix("PIXGATE_TRANSFORM_PREFIXES", &prefix)?;
        }
        check_positive(
            "PIXGATE_TRANSFORM_MAX_SIDE",
            u64::from(self.transform_max_side),
        )?;
        self.transform_cache_control()?;
        if let Some(short) = self
            .signing_keys
            .iter()
            .find(|k| k.len() < MIN_SIGNING_KEY_LEN)
        {
            return Err(invalid(
                "PIXGATE_SIGNING_KEYS",
                format!(
                    "a key of {} bytes is too short: use at least {MIN_SIGNING_KEY_LEN} random bytes",
                    short.len()
                ),
            ));
        }
        self.allowed_sizes()?;
        Ok(())
    }

    /// Prefixes the transform route reads; the upload prefixes unless configured.
    pub fn transform_prefixes(&self) -> Vec<String> {
        match &self.transform_prefixes {
            Some(list) => list
                .split(',')
                .map(|p| p.trim().trim_end_matches('/').to_owned())
                .collect(),
            None => vec![self.profile_prefix.clone(), self.image_prefix.clone()],
        }
    }

    /// `--transform-cache-control` as the header value it becomes.
    pub fn transform_cache_control(&self) -> Result<axum::http::HeaderValue, ConfigError> {
        axum::http::HeaderValue::from_str(&self.transform_cache_control).map_err(|_| {
            invalid(
                "PIXGATE_TRANSFORM_CACHE_CONTROL",
                "is not a valid header value",
            )
        })
    }

    /// `--allowed-sizes` as `(w, h)` pairs, 0 for an absent side; `None` when any size goes.
    pub fn allowed_sizes(&self) -> Result<Option<Vec<(u32, u32)>>, ConfigError> {
        let Some(raw) = &self.allowed_sizes else {
            return Ok(None);
        };
        let problem = |entry: &str| {
            invalid(
                "PIXGATE_ALLOWED_SIZES",
                format!(
                    "{entry:?} is not WxH with sides 0 to {} (e.g. 200x200,400x0)",
                    self.transform_max_side
                ),
            )
        };
        raw.split(',')
            .map(str::trim)
            .map(|entry| {
                let (w, h) = entry.split_once(['x', 'X']).ok_or_else(|| problem(entry))?;
                let side = |s: &str| {
                    s.parse::<u32>()
                        .ok()
                        .filter(|&v| v <= self.transform_max_side)
                        .ok_or_else(|| problem(entry))
                };
                Ok((side(w)?, side(h)?))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The CORS policy; `*` alone means any origin.
    pub fn allowed_origins(&self) -> Result<AllowedOrigins, ConfigError> {
        let raw = self.allowed_origins.trim();
        if raw == "*" {
            return Ok(AllowedOrigins::Any);
        }
        let origins: Vec<String> = raw
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if origins.is_empty() {
            return Err(invalid(
                "PIXGATE_ALLOWED_ORIGINS",
                "empty: use * or a list of origins",
            ));
        }
        if let Some(bad) = origins
            .iter()
            .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(invalid(
                "PIXGATE_ALLOWED_ORIGINS",
                format!("{bad:?} is not an origin like https://chat.example.com"),
            ));
        }
        Ok(AllowedOrigins::List(origins))
    }

    /// How many image jobs may run at once.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

/// HMAC-SHA256 keys shorter than this are guessable; 32 random bytes is the usual advice.
const MIN_SIGNING_KEY_LEN: usize = 16;

fn check_positive(var: &'static str, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(invalid(var, "must be greater than 0"));
    }
    Ok(())
}

/// Prefixes become the first segments of every key, so they may hold only what is safe in a
/// URL and a file path, and never climb out of the store.
fn check_prefix(var: &'static str, prefix: &str) -> Result<(), ConfigError> {
    let safe_chars = prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'));
    let safe_segments = prefix
        .split('/')
        .all(|s| !s.is_empty() && !s.starts_with('.'));
    if prefix.is_empty() || !safe_chars || !safe_segments {
        return Err(invalid(
            var,
            format!("{prefix:?} must be non-empty segments of [A-Za-z0-9_-] joined by /"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    fn parse(args: &[&str]) -> Config {
        let mut argv = vec!["pixgate"];
        argv.extend_from_slice(args);
        Cli::parse_from(argv).config
    }

    #[test]
    fn defaults_are_valid_and_local() {
        let config = parse(&[]);
        assert!(config.validate().is_ok());
        assert_eq!(config.storage, StorageKind::Fs);
        assert_eq!(config.max_files, 10);
        assert_eq!(config.max_file_bytes, 10 * 1024 * 1024);
        assert_eq!(config.allowed_origins().ok(), Some(AllowedOrigins::Any));
    }

    #[test]
    fn s3_without_bucket_names_the_bucket_variable() {
        let err = parse(&["--storage", "s3"]).validate().unwrap_err();
        assert_eq!(err.var, "PIXGATE_BUCKET");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--public-base-url", "cdn.example.com"],
                "PIXGATE_PUBLIC_BASE_URL",
            ),
            (
                &["--public-base-url", "https://cdn.example.com/"],
                "PIXGATE_PUBLIC_BASE_URL",
            ),
            (
                &["--allowed-origins", "chat.example.com"],
                "PIXGATE_ALLOWED_ORIGINS",
            ),
            (&["--allowed-origins", " , "], "PIXGATE_ALLOWED_ORIGINS"),
            (&["--max-files", "0"], "PIXGATE_MAX_FILES"),
            (&["--max-request-bytes", "10"], "PIXGATE_MAX_REQUEST_BYTES"),
            (&["--profile-prefix", "../up"], "PIXGATE_PROFILE_PREFIX"),
            (&["--image-prefix", "a//b"], "PIXGATE_IMAGE_PREFIX"),
            (&["--image-prefix", "profile"], "PIXGATE_IMAGE_PREFIX"),
            (
                &["--transform-prefixes", "a,../b"],
                "PIXGATE_TRANSFORM_PREFIXES",
            ),
            (&["--transform-max-side", "0"], "PIXGATE_TRANSFORM_MAX_SIDE"),
            (&["--signing-key", "short"], "PIXGATE_SIGNING_KEYS"),
            (&["--allowed-sizes", "200x"], "PIXGATE_ALLOWED_SIZES"),
            (&["--allowed-sizes", "5000x1"], "PIXGATE_ALLOWED_SIZES"),
        ];
        for (args, var) in cases {
            let err = parse(args).validate().unwrap_err();
            assert_eq!(err.var, *var, "{args:?}");
        }
    }

    #[test]
    fn transform_settings_parse() {
        let config = parse(&[
            "--allowed-sizes",
            "200x200, 400x0",
            "--signing-key",
            "0123456789abcdef,fedcba9876543210",
            "--signing-key",
            "another-key-of-16b",
        ]);
        assert_eq!(
            config.allowed_sizes().unwrap(),
            Some(vec![(200, 200), (400, 0)])
        );
        assert_eq!(config.signing_keys.len(), 3);
        assert_eq!(config.transform_prefixes(), vec!["profile", "images"]);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn origin_list_is_trimmed() {
        let config = parse(&["--allowed-origins", "https://a.example, https://b.example/"]);
        assert_eq!(
            config.allowed_origins().ok(),
            Some(AllowedOrigins::List(vec![
                "https://a.example".into(),
                "https://b.example".into()
            ]))
        );
    }
}
