//! The flags, in groups by what they configure. Each group is a `clap` argument group flattened
//! into `pixgate serve` (and read from the environment under Lambda); every field is parsed into
//! its final type here. The `value_name` of each flag is its environment variable, so a bad
//! value is reported under the name the operator actually set.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use clap::{ArgAction, Args, ValueEnum};

use super::values::{
    AllowedOrigins, BaseUrl, Prefix, SigningKey, SizeRule, header_value, positive, seconds,
};

/// The HTTP edge: where the local server listens, who may call it, how long a request may take.
#[derive(Debug, Clone, Args)]
pub struct HttpConfig {
    /// Address the local server listens on.
    #[arg(
        long,
        env = "PIXGATE_ADDR",
        value_name = "PIXGATE_ADDR",
        default_value = "127.0.0.1:3000"
    )]
    pub addr: SocketAddr,

    /// Origins allowed by CORS: `*` or a comma-separated list of exact origins.
    #[arg(long, env = "PIXGATE_ALLOWED_ORIGINS", value_name = "PIXGATE_ALLOWED_ORIGINS", default_value = "*", value_parser = AllowedOrigins::parse)]
    pub allowed_origins: AllowedOrigins,

    /// Seconds a request may take, body upload included, before it is answered 408.
    #[arg(long = "request-timeout-secs", env = "PIXGATE_REQUEST_TIMEOUT_SECS", value_name = "PIXGATE_REQUEST_TIMEOUT_SECS", default_value = "60", value_parser = seconds)]
    pub request_timeout: Duration,

    /// Seconds a client has to send a request's head; also how long an idle keep-alive
    /// connection is kept. Slow or silent sockets are closed after it.
    #[arg(long = "header-read-timeout-secs", env = "PIXGATE_HEADER_READ_TIMEOUT_SECS", value_name = "PIXGATE_HEADER_READ_TIMEOUT_SECS", default_value = "10", value_parser = seconds)]
    pub header_read_timeout: Duration,

    /// Most connections the local server holds open; a connection over it is answered 503
    /// with `Retry-After` and closed. Lowered at start to fit the open-file limit.
    #[arg(long, env = "PIXGATE_MAX_CONNECTIONS", value_name = "PIXGATE_MAX_CONNECTIONS", default_value = "1024", value_parser = positive::<usize>)]
    pub max_connections: usize,

    /// Seconds a stopping server (SIGTERM, Ctrl-C) waits for requests in progress before it
    /// exits anyway.
    #[arg(long = "shutdown-timeout-secs", env = "PIXGATE_SHUTDOWN_TIMEOUT_SECS", value_name = "PIXGATE_SHUTDOWN_TIMEOUT_SECS", default_value = "20", value_parser = seconds)]
    pub shutdown_timeout: Duration,

    /// Under Lambda: answer through response streaming (for a Function URL with
    /// `InvokeMode: RESPONSE_STREAM`), so answers larger than 6 MB are not refused.
    #[arg(long, env = "PIXGATE_LAMBDA_STREAMING", value_name = "PIXGATE_LAMBDA_STREAMING", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub lambda_streaming: bool,

    /// Serve the upload page at `GET /` (its assets under `/ui/`). Under Lambda it is off unless
    /// this variable is set.
    #[arg(long, env = "PIXGATE_UI", value_name = "PIXGATE_UI", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub ui: bool,

    /// Give the operator's metrics out: at `GET /metrics` (Prometheus text) on the local
    /// server; under Lambda, as one CloudWatch EMF log line per request instead.
    #[arg(long, env = "PIXGATE_METRICS", value_name = "PIXGATE_METRICS", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub metrics: bool,

    /// Set by the Lambda entry, not a flag: the function whose EMF lines the metrics write.
    #[arg(skip)]
    pub emf_function: Option<String>,
}

/// `--animated-profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnimatedProfile {
    /// A still of the first frame.
    FirstFrame,
    /// An animated WebP.
    Keep,
}

/// Where uploaded objects are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageKind {
    /// Files under `--data-dir` (the embedded default; no AWS needed).
    Fs,
    /// An S3 bucket (or any S3-compatible server via `AWS_ENDPOINT_URL`).
    S3,
}

/// The storage backend, before the bucket rule is checked (see `Config`).
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
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

    /// Address S3 buckets by path (`endpoint/bucket/key`), as most S3-compatible servers need.
    #[arg(long, env = "PIXGATE_S3_FORCE_PATH_STYLE", value_name = "PIXGATE_S3_FORCE_PATH_STYLE", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub s3_force_path_style: bool,
}

/// What one request may cost: files, bytes, pixels, and image jobs at once.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Most file parts in one request.
    #[arg(long, env = "PIXGATE_MAX_FILES", value_name = "PIXGATE_MAX_FILES", default_value = "10", value_parser = positive::<usize>)]
    pub max_files: usize,

    /// Most bytes in one file part.
    #[arg(long, env = "PIXGATE_MAX_FILE_BYTES", value_name = "PIXGATE_MAX_FILE_BYTES", default_value = "10485760", value_parser = positive::<u64>)]
    pub max_file_bytes: u64,

    /// Most bytes in one request body (at least `--max-file-bytes`).
    #[arg(long, env = "PIXGATE_MAX_REQUEST_BYTES", value_name = "PIXGATE_MAX_REQUEST_BYTES", default_value = "52428800", value_parser = positive::<u64>)]
    pub max_request_bytes: u64,

    /// Most pixels (width × height) decoded from one input: its declared size, or for a
    /// baseline JPEG the DCT-scaled size its preset or transform needs (see
    /// `--max-declared-pixels`).
    #[arg(long, env = "PIXGATE_MAX_PIXELS", value_name = "PIXGATE_MAX_PIXELS", default_value = "50000000", value_parser = positive::<u64>)]
    pub max_pixels: u64,

    /// Most pixels an input may declare (at least `--max-pixels`): a baseline JPEG over
    /// `--max-pixels` is taken when its DCT-scaled decode is under it (108 and 200 MP phone
    /// photos); other inputs are held to `--max-pixels`.
    #[arg(long, env = "PIXGATE_MAX_DECLARED_PIXELS", value_name = "PIXGATE_MAX_DECLARED_PIXELS", default_value = "250000000", value_parser = positive::<u64>)]
    pub max_declared_pixels: u64,

    /// Longest side an input may declare, in pixels.
    #[arg(long, env = "PIXGATE_MAX_SIDE", value_name = "PIXGATE_MAX_SIDE", default_value = "16384", value_parser = positive::<u32>)]
    pub max_side: u32,

    /// Most frames in an animated GIF, WebP or APNG (checked from its container, before
    /// decoding).
    #[arg(long, env = "PIXGATE_MAX_FRAMES", value_name = "PIXGATE_MAX_FRAMES", default_value = "1000", value_parser = positive::<u64>)]
    pub max_frames: u64,

    /// Most pixels decoded across an animation's frames: canvas width × height × frames.
    #[arg(long, env = "PIXGATE_MAX_ANIMATION_PIXELS", value_name = "PIXGATE_MAX_ANIMATION_PIXELS", default_value = "200000000", value_parser = positive::<u64>)]
    pub max_animation_pixels: u64,

    /// Longest total duration of an animation, in seconds.
    #[arg(long, env = "PIXGATE_MAX_ANIMATION_SECS", value_name = "PIXGATE_MAX_ANIMATION_SECS", default_value = "300", value_parser = positive::<u64>)]
    pub max_animation_secs: u64,

    /// Most bytes of upload bodies held in memory at once, across all requests (at least
    /// `--max-request-bytes`). An upload that would go over it is answered 503 with
    /// `Retry-After` before its body is read.
    #[arg(long, env = "PIXGATE_UPLOAD_MEMORY_BYTES", value_name = "PIXGATE_UPLOAD_MEMORY_BYTES", default_value = "268435456", value_parser = positive::<u64>)]
    pub upload_memory_bytes: u64,

    /// Renders that may wait for a free worker; one more is answered 503 with `Retry-After`.
    #[arg(
        long,
        env = "PIXGATE_RENDER_QUEUE",
        value_name = "PIXGATE_RENDER_QUEUE",
        default_value_t = 32
    )]
    pub render_queue: usize,

    /// Image jobs run at once; 0 means one per CPU core.
    #[arg(
        long,
        env = "PIXGATE_WORKERS",
        value_name = "PIXGATE_WORKERS",
        default_value_t = 0
    )]
    pub workers: usize,
}

/// Where uploads go and how their URLs are made.
#[derive(Debug, Clone, Args)]
pub struct UploadConfig {
    /// Key prefix for `type=profile` uploads.
    #[arg(long, env = "PIXGATE_PROFILE_PREFIX", value_name = "PIXGATE_PROFILE_PREFIX", default_value = "profile", value_parser = Prefix::parse)]
    pub profile_prefix: Prefix,

    /// Key prefix for `type=image` uploads (different from the profile prefix).
    #[arg(long, env = "PIXGATE_IMAGE_PREFIX", value_name = "PIXGATE_IMAGE_PREFIX", default_value = "images", value_parser = Prefix::parse)]
    pub image_prefix: Prefix,

    /// What a `type=profile` upload makes of an animated image: `first-frame` (a still, as most
    /// clients draw avatars) or `keep` (an animated WebP inside 200×200). `type=image` always
    /// keeps the animation.
    #[arg(
        long,
        env = "PIXGATE_ANIMATED_PROFILE",
        value_name = "PIXGATE_ANIMATED_PROFILE",
        value_enum,
        default_value = "first-frame"
    )]
    pub animated_profile: AnimatedProfile,

    /// Base of the `fileUrl` in answers (e.g. a CloudFront domain), without a trailing slash.
    #[arg(long, env = "PIXGATE_PUBLIC_BASE_URL", value_name = "PIXGATE_PUBLIC_BASE_URL", value_parser = BaseUrl::parse)]
    pub public_base_url: Option<BaseUrl>,

    /// Build `fileUrl` from the request's `X-Forwarded-Host` when present (set by the
    /// CloudFront Function in front of `/upload`); only enable behind a proxy that sets it.
    #[arg(long, env = "PIXGATE_TRUST_FORWARDED_HOST", value_name = "PIXGATE_TRUST_FORWARDED_HOST", default_value_t = false, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub trust_forwarded_host: bool,
}

/// `GET /img/{key}`: what it may read, how large, how answers are cached, and who may ask.
#[derive(Debug, Clone, Args)]
pub struct TransformConfig {
    /// Key prefixes `GET /img/{key}` may read, comma-separated [default: the two upload
    /// prefixes]. Nothing outside them is ever read.
    #[arg(long = "transform-prefixes", env = "PIXGATE_TRANSFORM_PREFIXES", value_name = "PIXGATE_TRANSFORM_PREFIXES", value_delimiter = ',', value_parser = Prefix::parse)]
    pub prefixes: Option<Vec<Prefix>>,

    /// Largest `w` or `h` a transform may ask for.
    #[arg(id = "transform_max_side", long = "transform-max-side", env = "PIXGATE_TRANSFORM_MAX_SIDE", value_name = "PIXGATE_TRANSFORM_MAX_SIDE", default_value = "4096", value_parser = positive::<u32>)]
    pub max_side: u32,

    /// Most pixels (width × height) a rendition may have.
    #[arg(id = "transform_max_pixels", long = "transform-max-pixels", env = "PIXGATE_TRANSFORM_MAX_PIXELS", value_name = "PIXGATE_TRANSFORM_MAX_PIXELS", default_value = "16777216", value_parser = positive::<u64>)]
    pub max_pixels: u64,

    /// Most pixels an AVIF rendition may have: AVIF costs ~10× WebP's CPU per pixel. Over it,
    /// `f=auto` answers WebP instead and `f=avif` is refused (422).
    #[arg(long = "transform-max-avif-pixels", env = "PIXGATE_TRANSFORM_MAX_AVIF_PIXELS", value_name = "PIXGATE_TRANSFORM_MAX_AVIF_PIXELS", default_value = "4194304", value_parser = positive::<u64>)]
    pub max_avif_pixels: u64,

    /// `Cache-Control` of successful transform answers.
    #[arg(long = "transform-cache-control", env = "PIXGATE_TRANSFORM_CACHE_CONTROL", value_name = "PIXGATE_TRANSFORM_CACHE_CONTROL", default_value = "public, max-age=31536000, immutable", value_parser = header_value)]
    pub cache_control: HeaderValue,

    /// Answer a non-canonical transform query with 301 to its canonical form.
    #[arg(long, env = "PIXGATE_CANONICAL_REDIRECT", value_name = "PIXGATE_CANONICAL_REDIRECT", default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub canonical_redirect: bool,

    /// Secret for transform URL signatures (repeat, or comma-separate in the variable, to
    /// rotate keys). With none, transform URLs are not signed.
    #[arg(long = "signing-key", env = "PIXGATE_SIGNING_KEYS", value_name = "PIXGATE_SIGNING_KEYS", value_delimiter = ',', hide_env_values = true, value_parser = SigningKey::parse)]
    pub signing_keys: Vec<SigningKey>,

    /// The only `WxH` sizes transforms may ask for, e.g. `200x200,400x0` (0: side not given;
    /// `0x0` allows the original size). Unset: any size.
    #[arg(long, env = "PIXGATE_ALLOWED_SIZES", value_name = "PIXGATE_ALLOWED_SIZES", value_delimiter = ',', value_parser = SizeRule::parse)]
    pub allowed_sizes: Option<Vec<SizeRule>>,

    /// AVIF encoder speed: rav1e's preset, 1 (smallest files, slow) to 10 (fastest), with loop
    /// restoration kept on. 9 keeps the bytes near libaom's at equal SSIM for a fraction of its
    /// time (BENCHMARKS.md, "Transform").
    #[arg(long, env = "PIXGATE_AVIF_SPEED", value_name = "PIXGATE_AVIF_SPEED", default_value_t = crate::pipeline::DEFAULT_AVIF_SPEED, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub avif_speed: u8,
}
