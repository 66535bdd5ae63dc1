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
        Ok(())
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
        ];
        for (args, var) in cases {
            let err = parse(args).validate().unwrap_err();
            assert_eq!(err.var, *var, "{args:?}");
        }
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
