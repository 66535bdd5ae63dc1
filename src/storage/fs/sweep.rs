//! Temp files of the disk backend: how they are named, and the sweep that removes the ones a
//! write left behind (a process killed mid-write; older versions also left one whenever a
//! request was cut off). Only names of our own pattern are ever removed: `.{name}.{pid}.{n}.tmp`
//! starts with a dot, which no valid key segment does, so no object can look like a temp file.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// A temp file untouched for this long belongs to no live write. A write fills its temp file in
/// one go, syncs and renames it within the request's time limit (60 s by default); a write cut
/// off by that limit still finishes on its blocking thread in about the time a disk takes to
/// write and sync the object. Ten minutes is far past both, and a temp file's modification time
/// moves with every write, so even a slow disk keeps a live temp file young.
pub const STALE_AFTER: Duration = Duration::from_secs(10 * 60);

/// How often the sweep runs after the one at start: temp files are rare (a killed process), so
/// once per staleness period keeps none older than twice that.
pub const SWEEP_EVERY: Duration = STALE_AFTER;

/// The temp file name for a write of the file `name` by this process.
pub fn temp_name(name: &str, unique: u64) -> String {
    format!(".{name}.{}.{unique}.tmp", std::process::id())
}

/// Whether `name` is of our temp file pattern: `.{name}.{digits}.{digits}.tmp`.
pub fn is_temp_name(name: &str) -> bool {
    let Some(inner) = name
        .strip_prefix('.')
        .and_then(|rest| rest.strip_suffix(".tmp"))
    else {
        return false;
    };
    let mut fields = inner.rsplitn(3, '.');
    let is_number = |field: Option<&str>| {
        field.is_some_and(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    };
    is_number(fields.next())
        && is_number(fields.next())
        && fields.next().is_some_and(|file| !file.is_empty())
}

/// Whether a temp file last modified at `modified` is stale at `now`. A time in the future (a
/// clock stepped back) is not stale: keeping a file is always safe, removing a live one is not.
pub fn is_stale(modified: SystemTime, now: SystemTime) -> bool {
    now.duration_since(modified)
        .is_ok_and(|age| age >= STALE_AFTER)
}

/// Removes every stale temp file under `root`, without following symlinks; returns how many.
/// A directory or file that cannot be read is skipped: the next sweep tries again.
pub fn sweep(root: &Path, now: SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        // The entry's own type: a symlink is neither a directory to enter nor a file to remove.
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if file_type.is_dir() {
            removed += sweep(&path, now);
        } else if file_type.is_file()
            && is_temp_name(&entry.file_name().to_string_lossy())
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| is_stale(modified, now))
            && std::fs::remove_file(&path).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Sweeps `root` now and every [`SWEEP_EVERY`], on a background task of the current runtime.
pub fn start(root: std::path::PathBuf) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        loop {
            // The first tick is immediate: the sweep at start.
            every.tick().await;
            let dir = root.clone();
            match tokio::task::spawn_blocking(move || sweep(&dir, SystemTime::now())).await {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(removed, root = %root.display(), "removed stale temp files");
                }
                Err(error) => tracing::warn!(%error, "temp file sweep failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_temp_names_are_recognised_and_nothing_else() {
        let ours = temp_name("ab12.jpg", 7);
        assert!(is_temp_name(&ours), "{ours}");
        for name in [".abc.jpg.4242.7.tmp", ".abc.jpg.json.1.0.tmp", ".x.1.2.tmp"] {
            assert!(is_temp_name(name), "{name}");
        }
        for name in [
            "abc.jpg",
            "abc.jpg.4242.7.tmp",
            ".abc.jpg.4242.7",
            ".abc.jpg.pid.7.tmp",
            ".abc.jpg.4242.x.tmp",
            ".abc.jpg.4242..tmp",
            "..4242.7.tmp",
            ".4242.7.tmp",
            ".tmp",
            ".keep",
            "notes.tmp",
        ] {
            assert!(!is_temp_name(name), "{name}");
        }
    }

    #[test]
    fn temp_files_are_stale_after_ten_minutes_and_never_from_the_future() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for (age_secs, stale) in [
            (0, false),
            (60, false),
            (599, false),
            (600, true),
            (86_400, true),
        ] {
            let modified = now - Duration::from_secs(age_secs);
            assert_eq!(is_stale(modified, now), stale, "{age_secs} s old");
        }
        assert!(!is_stale(now + Duration::from_secs(3600), now));
    }
}
