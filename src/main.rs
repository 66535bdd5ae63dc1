//! The `pixgate` binary: `pixgate serve` runs the local server; started by AWS Lambda
//! (`AWS_LAMBDA_RUNTIME_API` set) it serves the same router as a Lambda function, configured
//! from the `PIXGATE_*` environment.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pixgate::Config;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "pixgate",
    version,
    about = "Image upload gateway: resize, strip and store images from chat apps"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local server (files on disk by default, no AWS needed).
    Serve(Config),
}

/// Lambda passes no arguments: the configuration comes from the environment alone.
#[derive(Parser)]
struct LambdaCli {
    #[command(flatten)]
    config: Config,
}

fn main() -> ExitCode {
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    init_tracing(in_lambda);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&e),
    };
    let result = if in_lambda {
        let config = LambdaCli::parse_from(["pixgate"]).config;
        runtime.block_on(pixgate::lambda::run(config))
    } else {
        match Cli::parse().command {
            Command::Serve(config) => runtime.block_on(pixgate::server::run(config)),
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&*e),
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("pixgate: {error}");
    ExitCode::from(2)
}

fn init_tracing(in_lambda: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info"));
    // CloudWatch shows escape codes verbatim and stamps its own time.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(!in_lambda);
    if in_lambda {
        builder.without_time().init();
    } else {
        builder.init();
    }
}
