//! `pixgate migrate`: the old Lambda's bucket (`{type}/{Date.now()}_{name}` originals) into
//! pixgate's layout. Each old object goes through the upload use case
//! ([`crate::service::Uploads`]) with `serve`'s limits into the store `serve` would open, so
//! keys, stripping and refusals are an upload's; a JSON Lines mapping records each old key's
//! fate and makes reruns resume.
//!
//! Flow: `source` lists (`listing`: streamed, page by page) → at most `--jobs` objects go their
//! way (`object`) at once → one writer appends each outcome to the `mapping` and the `progress`.

mod args;
mod listing;
mod mapping;
mod object;
mod old_key;
mod progress;
mod retry;
mod source;
mod store;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use tokio::sync::mpsc;

pub use args::{MapRule, MigrateArgs, SourceSpec};
pub use mapping::{MIGRATED, MappingLine};
pub use progress::Summary;
pub use source::{Source, SourceObject};

use crate::config::{Config, ConfigError};
use crate::storage::{self, SharedStore};
use listing::{LISTED_AHEAD, Total};
use mapping::MappingWriter;
use object::Migration;
use progress::Progress;
use retry::Retry;

/// Exit code when some objects failed or the listing stopped early (0: nothing failed; 2: bad
/// usage or configuration, nothing done).
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

/// What to migrate, and how.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: Source,
    pub rules: Vec<MapRule>,
    pub mapping: PathBuf,
    /// Objects in flight at once.
    pub jobs: usize,
    pub retries: u32,
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("mapping file {}: {source}", path.display())]
    Mapping {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `pixgate migrate`: runs, prints the summary on stderr, and says how it went.
pub async fn run_cli(args: MigrateArgs) -> ExitCode {
    match run_args(args).await {
        Ok(summary) => {
            eprintln!("{summary}");
            if summary.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_FAILED)
            }
        }
        Err(e) => {
            eprintln!("pixgate migrate: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

async fn run_args(args: MigrateArgs) -> Result<Summary, MigrateError> {
    let config = Config::try_from(args.config)?;
    let store = open_destination(&config).await;
    let source = Source::open(
        &args.source,
        args.source_endpoint_url.as_deref(),
        args.source_force_path_style,
    )
    .await;
    let plan = Plan {
        source,
        rules: args.maps,
        mapping: args.mapping,
        jobs: usize::from(args.jobs),
        retries: args.retries,
        dry_run: args.dry_run,
    };
    run(plan, store, &config).await
}

/// The destination store, opened exactly as `serve` opens it (`AppState::from_config`), so
/// objects and their `fileUrl`s are what an upload would have made.
pub async fn open_destination(config: &Config) -> SharedStore {
    let files_url = format!("http://{}/files", config.http().addr);
    let settings = crate::state::staging_settings(config);
    let (store, _staging) = storage::open(config.storage(), files_url, settings).await;
    store
}

/// Migrates everything `plan` names into `store` (the destination, as `serve` opened it),
/// with `config`'s limits and prefixes.
pub async fn run(plan: Plan, store: SharedStore, config: &Config) -> Result<Summary, MigrateError> {
    let mapping_error = |source| MigrateError::Mapping {
        path: plan.mapping.clone(),
        source,
    };
    let done = mapping::finished_keys(&plan.mapping).map_err(mapping_error)?;
    let mut writer = if plan.dry_run {
        MappingWriter::stdout()
    } else {
        MappingWriter::append(&plan.mapping).map_err(mapping_error)?
    };
    let retry = Retry::new(plan.retries);
    let (source, rules) = (&plan.source, &plan.rules);
    let migration = Migration::new(source.clone(), store, config, retry.clone(), plan.dry_run);
    let migration = Arc::new(migration);
    let total = Total::default();
    let counting = tokio::spawn(listing::count(source.clone(), rules.clone(), total.clone()));
    let (sink, listed) = mpsc::channel(LISTED_AHEAD);
    let lister = tokio::spawn(listing::list(source.clone(), rules.clone(), sink));
    let mut progress = Progress::start();
    let mut summary = Summary::default();
    let outcomes = outcomes(listed, &done, &migration, plan.jobs);
    let result = record(outcomes, &mut writer, &mut summary, &mut progress, &total).await;
    counting.abort();
    progress.finish();
    result.map_err(mapping_error)?;
    summary.listing_error = match lister.await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    summary.retries = retry.count();
    summary.elapsed = progress.elapsed();
    Ok(summary)
}

/// What became of one listed object.
enum Outcome {
    /// Already in the mapping with a final outcome.
    Skipped,
    Done(MappingLine),
}

/// The listed objects, `jobs` at a time, as their outcomes end (in any order).
fn outcomes<'a>(
    listed: mpsc::Receiver<SourceObject>,
    done: &'a HashSet<String>,
    migration: &'a Arc<Migration>,
    jobs: usize,
) -> impl futures_util::Stream<Item = Outcome> + 'a {
    let objects = futures_util::stream::unfold(listed, |mut listed| async move {
        listed.recv().await.map(|object| (object, listed))
    });
    objects
        .map(move |object| {
            let skip = done.contains(&object.key);
            let migration = Arc::clone(migration);
            async move {
                if skip {
                    Outcome::Skipped
                } else {
                    Outcome::Done(migration.migrate(object).await)
                }
            }
        })
        .buffer_unordered(jobs)
}

/// Writes each outcome to the mapping and the counts, with a progress line every few seconds.
async fn record(
    outcomes: impl futures_util::Stream<Item = Outcome>,
    writer: &mut MappingWriter,
    summary: &mut Summary,
    progress: &mut Progress,
    total: &Total,
) -> std::io::Result<()> {
    let mut outcomes = std::pin::pin!(outcomes);
    let mut tick = tokio::time::interval(progress::REFRESH_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            outcome = outcomes.next() => match outcome {
                Some(Outcome::Skipped) => summary.skipped += 1,
                Some(Outcome::Done(line)) => {
                    writer.write(&line)?;
                    count_line(summary, line);
                }
                None => return Ok(()),
            },
            _ = tick.tick() => progress.line(summary, total.complete()),
        }
        progress.set_total(total.objects.load(Ordering::Relaxed));
        progress.update(summary);
    }
}

fn count_line(summary: &mut Summary, line: MappingLine) {
    summary.bytes_before += line.bytes_before.unwrap_or(0);
    summary.bytes_after += line.bytes_after.unwrap_or(0);
    if line.status == MIGRATED {
        summary.migrated += 1;
    } else {
        *summary.failed.entry(line.status).or_default() += 1;
    }
}
