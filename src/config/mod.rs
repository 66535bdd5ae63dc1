//! Runtime configuration, parsed once at start from flags or their `PIXGATE_*` environment
//! equivalents. Each flag is parsed into its final type by clap ([`groups`], [`values`]); the
//! rules between flags are checked once, when [`ConfigArgs`] becomes a [`Config`]. So holding a
//! `Config` means holding a valid one, and nothing downstream re-parses a string.

mod auth;
mod direct;
mod groups;
mod values;

use std::ffi::OsString;

use clap::{Args, Parser};

pub use auth::{AuthArgs, AuthConfig};
pub use direct::{DirectArgs, DirectConfig};
pub use groups::{
    AnimatedProfile, HttpConfig, Limits, StorageArgs, StorageKind, TransformConfig, UploadConfig,
};
pub use values::{AllowedOrigins, BaseUrl, Prefix, SigningKey, SizeRule};

use crate::pipeline::{AnimationLimits, AnimationPolicy, OutputLimits, PixelLimits, Preset};
use crate::request::{FormLimits, UploadKind};
use crate::storage::Backend;

/// Every flag of `pixgate serve`, as clap parses them.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub http: HttpConfig,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub limits: Limits,
    #[command(flatten)]
    pub upload: UploadConfig,
    #[command(flatten)]
    pub transform: TransformConfig,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub direct: DirectArgs,
}

/// A configuration that can work: every value parsed, every rule between values checked.
#[derive(Debug, Clone)]
pub struct Config {
    http: HttpConfig,
    storage: Backend,
    limits: Limits,
    upload: UploadConfig,
    transform: TransformConfig,
    auth: AuthConfig,
    direct: DirectConfig,
}

/// Why pixgate cannot start with the configuration it was given.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not parse; clap's message names the flag and its variable.
    #[error(transparent)]
    Parse(#[from] clap::Error),
    /// Values that parse but cannot work together, named by the variable to change.
    #[error("{var}: {problem}")]
    Conflict { var: &'static str, problem: String },
}

fn conflict(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Conflict {
        var,
        problem: problem.into(),
    }
}

impl TryFrom<ConfigArgs> for Config {
    type Error = ConfigError;

    fn try_from(args: ConfigArgs) -> Result<Self, ConfigError> {
        let ConfigArgs {
            http,
            storage,
            limits,
            upload,
            mut transform,
            auth,
            direct,
        } = args;
        if limits.max_request_bytes < limits.max_file_bytes {
            return Err(conflict(
                "PIXGATE_MAX_REQUEST_BYTES",
                "must be at least PIXGATE_MAX_FILE_BYTES",
            ));
        }
        if limits.upload_memory_bytes < limits.max_request_bytes {
            return Err(conflict(
                "PIXGATE_UPLOAD_MEMORY_BYTES",
                "must be at least PIXGATE_MAX_REQUEST_BYTES",
            ));
        }
        if limits.max_declared_pixels < limits.max_pixels {
            return Err(conflict(
                "PIXGATE_MAX_DECLARED_PIXELS",
                "must be at least PIXGATE_MAX_PIXELS",
            ));
        }
        if upload.profile_prefix == upload.image_prefix {
            return Err(conflict(
                "PIXGATE_IMAGE_PREFIX",
                "must differ from PIXGATE_PROFILE_PREFIX",
            ));
        }
        check_allowed_sizes(&transform)?;
        transform.prefixes.get_or_insert_with(|| {
            vec![upload.profile_prefix.clone(), upload.image_prefix.clone()]
        });
        let direct = direct.check(&limits, &upload, &transform)?;
        Ok(Self {
            direct,
            storage: backend(storage)?,
            http,
            limits,
            upload,
            transform,
            auth: auth.check()?,
        })
    }
}

fn backend(args: StorageArgs) -> Result<Backend, ConfigError> {
    let bucket = args.bucket.filter(|b| !b.is_empty());
    Ok(match args.storage {
        StorageKind::Fs => Backend::Disk {
            root: args.data_dir,
            bucket: bucket.unwrap_or_else(|| "local".to_owned()),
        },
        StorageKind::S3 => Backend::S3 {
            bucket: bucket
                .ok_or_else(|| conflict("PIXGATE_BUCKET", "required when PIXGATE_STORAGE=s3"))?,
            force_path_style: args.s3_force_path_style,
        },
    })
}

fn check_allowed_sizes(transform: &TransformConfig) -> Result<(), ConfigError> {
    let max = transform.max_side;
    let too_large = transform
        .allowed_sizes
        .iter()
        .flatten()
        .find(|size| size.width.max(size.height) > max);
    match too_large {
        Some(size) => Err(conflict(
            "PIXGATE_ALLOWED_SIZES",
            format!(
                "{}x{} has a side over PIXGATE_TRANSFORM_MAX_SIDE ({max})",
                size.width, size.height
            ),
        )),
        None => Ok(()),
    }
}

/// `pixgate serve`'s flags alone, for [`Config::from_args`].
#[derive(Parser)]
struct Standalone {
    #[command(flatten)]
    args: ConfigArgs,
}

impl Config {
    /// Parses flags (without the program name) and the `PIXGATE_*` environment, as `pixgate
    /// serve` does: for Lambda, tests and embedders.
    pub fn from_args<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let argv =
            std::iter::once(OsString::from("pixgate")).chain(args.into_iter().map(Into::into));
        Self::try_from(Standalone::try_parse_from(argv)?.args)
    }

    /// How large a rendition may be: the transform's own limits, and never more than an
    /// upload may declare.
    pub fn output_limits(&self) -> OutputLimits {
        let (transform, limits) = (&self.transform, &self.limits);
        let max_pixels = transform.max_pixels.min(limits.max_pixels);
        OutputLimits {
            max_side: transform.max_side.min(limits.max_side),
            max_pixels,
            max_avif_pixels: transform.max_avif_pixels.min(max_pixels),
        }
    }

    pub fn http(&self) -> &HttpConfig {
        &self.http
    }

    pub fn storage(&self) -> &Backend {
        &self.storage
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn upload(&self) -> &UploadConfig {
        &self.upload
    }

    pub fn transform(&self) -> &TransformConfig {
        &self.transform
    }

    pub fn direct(&self) -> &DirectConfig {
        &self.direct
    }

    /// The same configuration with its metrics written as EMF lines for the Lambda function
    /// `function` (when metrics are on), and no `GET /metrics`: nothing scrapes a Lambda.
    pub fn with_emf_metrics(mut self, function: String) -> Self {
        self.http.emf_function = Some(function);
        self
    }

    /// Whether `GET /metrics` is served.
    pub fn serves_metrics(&self) -> bool {
        self.http.metrics && self.http.emf_function.is_none()
    }
}

impl Limits {
    pub fn form(&self) -> FormLimits {
        FormLimits {
            max_files: self.max_files,
            max_file_bytes: self.max_file_bytes,
            max_request_bytes: self.max_request_bytes,
        }
    }

    pub fn pixels(&self) -> PixelLimits {
        PixelLimits {
            max_pixels: self.max_pixels,
            max_declared_pixels: self.max_declared_pixels,
            max_side: self.max_side,
            animation: AnimationLimits {
                max_frames: self.max_frames,
                max_pixels: self.max_animation_pixels,
                max_duration_ms: self.max_animation_secs.saturating_mul(1000),
            },
        }
    }

    /// How many image jobs may run at once.
    pub fn worker_count(&self) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        std::thread::available_parallelism().map_or(1, usize::from)
    }
}

impl UploadConfig {
    /// The prefix an upload of `kind` is stored under.
    /// What an upload with `preset` makes of an animated image.
    pub fn animation_policy(&self, preset: Preset) -> AnimationPolicy {
        match (preset, self.animated_profile) {
            (Preset::Profile, AnimatedProfile::FirstFrame) => AnimationPolicy::FirstFrame,
            _ => AnimationPolicy::Keep,
        }
    }

    pub fn prefix(&self, kind: UploadKind) -> &Prefix {
        match kind {
            UploadKind::Profile => &self.profile_prefix,
            UploadKind::Image => &self.image_prefix,
        }
    }

    /// Whether a key lies under one of the upload prefixes (the only objects `/files` serves).
    pub fn holds(&self, key: &str) -> bool {
        self.profile_prefix.holds(key) || self.image_prefix.holds(key)
    }
}

impl TransformConfig {
    /// The prefixes the transform route reads (the upload prefixes unless configured).
    pub fn prefixes(&self) -> &[Prefix] {
        self.prefixes.as_deref().unwrap_or_default()
    }

    /// Whether `key` lies under a prefix the transform route may read.
    pub fn serves(&self, key: &str) -> bool {
        self.prefixes().iter().any(|prefix| prefix.holds(key))
    }

    /// Whether transform URLs must carry a signature.
    pub fn signs(&self) -> bool {
        !self.signing_keys.is_empty()
    }

    /// Whether `width`×`height` (0: side not given) may be asked for.
    pub fn allows_size(&self, width: u32, height: u32) -> bool {
        self.allowed_sizes.as_ref().is_none_or(|sizes| {
            sizes
                .iter()
                .any(|size| (size.width, size.height) == (width, height))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        Config::from_args(args)
    }

    #[test]
    fn defaults_are_valid_and_local() {
        let config = parse(&[]).unwrap();
        assert!(matches!(config.storage(), Backend::Disk { bucket, .. } if bucket == "local"));
        assert_eq!(config.limits().max_files, 10);
        assert_eq!(config.limits().max_file_bytes, 10 * 1024 * 1024);
        assert_eq!(config.http().allowed_origins, AllowedOrigins::Any);
        assert_eq!(config.http().request_timeout.as_secs(), 60);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: &[(&[&str], &str)] = &[
            (&["--storage", "s3"], "PIXGATE_BUCKET"),
            (&["--storage", "s3", "--bucket", ""], "PIXGATE_BUCKET"),
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
            (
                &["--max-declared-pixels", "40000000"],
                "PIXGATE_MAX_DECLARED_PIXELS",
            ),
            (
                &["--request-timeout-secs", "0"],
                "PIXGATE_REQUEST_TIMEOUT_SECS",
            ),
            (&["--profile-prefix", "../up"], "PIXGATE_PROFILE_PREFIX"),
            (&["--image-prefix", "a//b"], "PIXGATE_IMAGE_PREFIX"),
            (&["--image-prefix", "profile"], "PIXGATE_IMAGE_PREFIX"),
            (
                &["--transform-prefixes", "a,../b"],
                "PIXGATE_TRANSFORM_PREFIXES",
            ),
            (&["--transform-max-side", "0"], "PIXGATE_TRANSFORM_MAX_SIDE"),
            (
                &["--transform-cache-control", "a\u{7f}b"],
                "PIXGATE_TRANSFORM_CACHE_CONTROL",
            ),
            (&["--signing-key", "short"], "PIXGATE_SIGNING_KEYS"),
            (&["--allowed-sizes", "200x"], "PIXGATE_ALLOWED_SIZES"),
            (&["--allowed-sizes", "5000x1"], "PIXGATE_ALLOWED_SIZES"),
        ];
        for (args, var) in cases {
            let message = parse(args).unwrap_err().to_string();
            assert!(message.contains(var), "{args:?}: {message}");
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
        ])
        .unwrap();
        let transform = config.transform();
        assert!(transform.allows_size(400, 0));
        assert!(!transform.allows_size(400, 400));
        assert_eq!(transform.signing_keys.len(), 3);
        let prefixes: Vec<&str> = transform.prefixes().iter().map(Prefix::as_str).collect();
        assert_eq!(prefixes, ["profile", "images"]);
        assert!(transform.serves("images/a.jpg") && !transform.serves("other/a.jpg"));
    }
}
