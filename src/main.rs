//! The `pixgate` binary: `pixgate serve` runs the local server; started by AWS Lambda
//! (`AWS_LAMBDA_RUNTIME_API` set) it serves the same router as a Lambda function, configured
//! from the `PIXGATE_*` environment.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pixgate::config::{Config, ConfigArgs, SigningKey};
use pixgate::logging::{self, LogFormat};

#[derive(Parser)]
#[command(
    name = "pixgate",
    version,
    about = "Image upload gateway: resize, strip and store images from chat apps"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as `text` or `json` (one object per line); `json` by default under Lambda.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "PIXGATE_LOG_FORMAT",
        value_name = "PIXGATE_LOG_FORMAT"
    )]
    log_format: Option<LogFormat>,
}

// Parsed once at start; boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the local server (files on disk by default, no AWS needed).
    Serve(ConfigArgs),
    /// Time pipeline operations on this thread (what `scripts/bench` runs); prints JSON lines.
    Bench(BenchArgs),
    /// Print a signed transform URL, e.g. `pixgate sign 'profile/2026/01/02/ab.jpg?w=200&h=150'`.
    Sign(SignArgs),
    /// Move the old Lambda's bucket into pixgate's layout, writing a JSON Lines mapping.
    Migrate(pixgate::migrate::MigrateArgs),
}

#[derive(clap::Args)]
struct BenchArgs {
    /// The image to process (read once, kept in memory).
    #[arg(long)]
    input: std::path::PathBuf,
    /// Operations: `profile`, `image`, `jpeg-decode-1/8`, `placeholder` (the upload's
    /// placeholder step alone, on what `image` stores), or `transform:QUERY` (e.g.
    /// `transform:w=1920&h=1080&fit=inside&f=webp`). Repeat for several.
    #[arg(long = "op", required = true)]
    ops: Vec<String>,
    /// Timed iterations per op.
    #[arg(long, default_value_t = 20)]
    iterations: usize,
    /// Untimed iterations first.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// rav1e speed for `f=avif` transforms, as `serve --avif-speed`.
    #[arg(long, default_value_t = pixgate::pipeline::DEFAULT_AVIF_SPEED, value_parser = clap::value_parser!(u8).range(1..=10))]
    avif_speed: u8,
    /// Write each op's last output here, as `{dir}/{op with / : & = replaced by _}`.
    #[arg(long)]
    save_dir: Option<std::path::PathBuf>,
}

#[derive(clap::Args)]
struct SignArgs {
    /// The object key and transform query (a leading `/img/` is accepted).
    key_path_and_query: String,
    /// The secret to sign with (the first of the configured keys: the newest one).
    #[arg(
        long = "signing-key",
        env = "PIXGATE_SIGNING_KEYS",
        value_name = "PIXGATE_SIGNING_KEYS",
        value_delimiter = ',',
        hide_env_values = true,
        required = true,
        value_parser = SigningKey::parse
    )]
    signing_keys: Vec<SigningKey>,
    /// Largest side, as the server checks it.
    #[arg(
        long,
        env = "PIXGATE_TRANSFORM_MAX_SIDE",
        value_name = "PIXGATE_TRANSFORM_MAX_SIDE",
        default_value_t = 4096,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    transform_max_side: u32,
    /// Put before the printed path, e.g. `https://d111.cloudfront.net`.
    #[arg(long)]
    base_url: Option<String>,
}

/// Lambda passes no arguments: the configuration comes from the environment alone.
#[derive(Parser)]
struct LambdaCli {
    #[command(flatten)]
    config: ConfigArgs,
    #[arg(long, value_enum, env = "PIXGATE_LOG_FORMAT")]
    log_format: Option<LogFormat>,
}

/// Image buffers are megabytes and live for one request. glibc hands blocks that size back to
/// the kernel on free, so the next request page-faults them in again, zeroed: 14% of a 12 MP →
/// 1440×1080 upload (`pixgate bench`, the same op with and without these settings). Blocks
/// up to 32 MiB now come from the heap and up to 64 MiB of freed memory stays mapped, in one
/// arena per core; so a request reuses the pages the one before it touched, and peak RSS still
/// follows the concurrency (under the bench's load, with these settings as GLIBC_TUNABLES
/// first: 18/33/26/59 MiB for profile/image at c=1/4, against 17/31/27/79 with the defaults).
/// mimalloc was tried instead: no faster in the server, and 3-4× the RSS.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let arenas = i32::try_from(cores).unwrap_or(i32::MAX);
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

/// How long a stopping process waits for image jobs still running after the drain.
const BLOCKING_JOBS_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

fn main() -> ExitCode {
    tune_allocator();
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&e),
    };
    let result = if in_lambda {
        let cli = LambdaCli::parse_from(["pixgate"]);
        logging::init(cli.log_format.unwrap_or(LogFormat::default_for(true)), true);
        Config::try_from(cli.config)
            .map_err(Into::into)
            .and_then(|config| runtime.block_on(pixgate::lambda::run(config)))
    } else {
        let cli = Cli::parse();
        logging::init(
            cli.log_format.unwrap_or(LogFormat::default_for(false)),
            false,
        );
        match cli.command {
            Command::Serve(args) => Config::try_from(args)
                .map_err(Into::into)
                .and_then(|config| runtime.block_on(pixgate::server::run(config))),
            Command::Sign(args) => sign(&args),
            Command::Bench(args) => bench(&args),
            Command::Migrate(args) => {
                let code = runtime.block_on(pixgate::migrate::run_cli(args));
                runtime.shutdown_timeout(BLOCKING_JOBS_GRACE);
                return code;
            }
        }
    };
    // Image jobs run on blocking threads that cannot be interrupted mid-step; the server has
    // drained already, so do not let a last one hold the exit.
    runtime.shutdown_timeout(BLOCKING_JOBS_GRACE);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&*e),
    }
}

fn bench(args: &BenchArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let input = bytes::Bytes::from(std::fs::read(&args.input)?);
    for name in &args.ops {
        let op = pixgate::bench::Op::parse(name)?;
        let save_to = args
            .save_dir
            .as_ref()
            .map(|dir| dir.join(name.replace(['/', ':', '&', '='], "_")));
        let timing = pixgate::bench::run(
            name,
            &op,
            &input,
            args.warmup,
            args.iterations,
            args.avif_speed,
            save_to.as_deref(),
        )?;
        println!("{}", serde_json::to_string(&timing)?);
    }
    Ok(())
}

fn sign(args: &SignArgs) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let secret = args.signing_keys.first().ok_or("no signing key given")?;
    let url = pixgate::request::signature::signed_url(
        &args.key_path_and_query,
        secret.as_bytes(),
        args.transform_max_side,
    )?;
    println!("{}{url}", args.base_url.as_deref().unwrap_or(""));
    Ok(())
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("pixgate: {error}");
    ExitCode::from(2)
}
