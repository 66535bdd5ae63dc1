//! Where log lines go and in what shape. `text` is for people at a terminal; `json` is one
//! object per line for machines, shaped like Lambda's JSON log format (`timestamp`, `level`,
//! `message`, `requestId` at the top level, then each field of the line), so CloudWatch Logs
//! Insights and other log stores can filter on any field without parsing text.
//!
//! Which lines are written is `RUST_LOG`'s call (default `info`).

use std::io::IsTerminal;

use tracing::Dispatch;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::time::SystemTime;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `json` under Lambda, whose log pipeline expects it; `text` elsewhere.
    pub fn default_for(in_lambda: bool) -> Self {
        if in_lambda { Self::Json } else { Self::Text }
    }
}

/// Installs the process's logger; call once, before anything logs.
pub fn init(format: LogFormat, in_lambda: bool) {
    // Fails only if a logger is installed already, which then keeps logging.
    let _ = tracing::dispatcher::set_global_default(dispatch(format, in_lambda, std::io::stderr));
}

/// The logger `init` installs, writing to `writer` (tests capture it).
pub fn dispatch<W>(format: LogFormat, in_lambda: bool, writer: W) -> Dispatch
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    match format {
        LogFormat::Json => {
            let mut json = json_subscriber::JsonLayer::new(writer);
            json.with_timer("timestamp", SystemTime)
                .with_level("level")
                .with_target("target")
                .with_flattened_event()
                .with_top_level_flattened_span_list();
            let subscriber = tracing_subscriber::registry().with(filter).with(json);
            Dispatch::new(subscriber)
        }
        // CloudWatch shows escape codes verbatim and stamps its own time.
        LogFormat::Text if in_lambda => Dispatch::new(
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(writer)
                .with_ansi(false)
                .without_time()
                .finish(),
        ),
        LogFormat::Text => Dispatch::new(
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(writer)
                .with_ansi(std::io::stderr().is_terminal())
                .finish(),
        ),
    }
}
