//! Durable, verified writes of the disk backend. One write runs whole on one blocking thread
//! with `std::fs`, every step checked: a temp file beside the destination, `write_all`,
//! `sync_all`, rename, then `fsync` of the directory so the rename itself survives a crash.
//! Running it whole matters twice: tokio's `File` finishes writes on a background task whose
//! errors `sync_all` did not surface (a full disk published short files), and a request cut off
//! mid-write drops its future, but the blocking thread still renames or removes its temp file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::read::read_plain_file;
use super::sidecar_is_valid;
use super::sweep::temp_name;
use crate::storage::key::names_content;

/// One object to store, with everything the blocking thread needs.
pub struct Job {
    pub root: PathBuf,
    pub key: String,
    /// The sidecar, relative to `root`.
    pub sidecar_path: PathBuf,
    pub sidecar: Vec<u8>,
    pub bytes: bytes::Bytes,
}

impl Job {
    /// Stores the object unless a whole one is already at the key; heals a short or corrupt
    /// object and an empty or corrupt sidecar.
    pub fn run(&self) -> io::Result<()> {
        let object_path = Path::new(&self.key);
        if self.holds_whole_object(object_path)? {
            if !self.holds_valid_sidecar()? {
                self.write(&self.sidecar_path, &self.sidecar)?;
            }
            return Ok(());
        }
        // The sidecar goes first, so an object is never visible without its metadata.
        self.write(&self.sidecar_path, &self.sidecar)?;
        self.write(object_path, &self.bytes)
    }

    /// Whether the file at the key is whole: the size of these bytes and, for a content key,
    /// the content its name says. A symlink or anything else than a plain file is not.
    fn holds_whole_object(&self, relative: &Path) -> io::Result<bool> {
        let Some((existing, _)) = read_plain_file(&self.root, relative)? else {
            return Ok(false);
        };
        // A key not made from content (written by hand or by a test) names no hash: the size
        // is all there is to check.
        Ok(existing.len() == self.bytes.len()
            && names_content(&self.key, &existing).unwrap_or(true))
    }

    fn holds_valid_sidecar(&self) -> io::Result<bool> {
        let sidecar = read_plain_file(&self.root, &self.sidecar_path)?;
        Ok(sidecar.is_some_and(|(raw, _)| sidecar_is_valid(&raw)))
    }

    /// Writes `bytes` at `root/relative` atomically and durably.
    fn write(&self, relative: &Path, bytes: &[u8]) -> io::Result<()> {
        let (Some(parent), Some(name)) = (relative.parent(), relative.file_name()) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no file name"));
        };
        let dir = create_dirs(&self.root, parent)?;
        let destination = dir.join(name);
        let temp = TempFile::create(&dir, &name.to_string_lossy())?;
        temp.fill(bytes)?;
        temp.publish(&destination)?;
        sync_dir(&dir)
    }
}

/// Creates `root/relative` and any missing directory on the way, each made durable in its
/// parent, refusing to go through a symlink (writes stay under the root as reads do).
pub(super) fn create_dirs(root: &Path, relative: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(root)?;
    let mut dir = root.to_path_buf();
    for component in relative.components() {
        let parent = dir.clone();
        dir.push(component);
        match std::fs::symlink_metadata(&dir) {
            Ok(metadata) if metadata.file_type().is_dir() => continue,
            Ok(_) => return Err(not_a_directory(&dir)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // Another writer may have made it first: what counts is that it is a directory now.
        if let Err(e) = std::fs::create_dir(&dir)
            && e.kind() != io::ErrorKind::AlreadyExists
        {
            return Err(e);
        }
        if !std::fs::symlink_metadata(&dir)?.file_type().is_dir() {
            return Err(not_a_directory(&dir));
        }
        sync_dir(&parent)?;
    }
    Ok(dir)
}

fn not_a_directory(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} is not a directory (a file or a symlink in the data directory)",
        path.display()
    ))
}

/// Makes the entries of `dir` (a rename, a new file or directory) durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A temp file that is removed unless it was published: whatever step fails, and however the
/// request ended, none is left behind (short of the process dying; the sweep handles that).
pub(super) struct TempFile {
    path: PathBuf,
    pub(super) file: File,
    published: bool,
}

impl TempFile {
    pub(super) fn create(dir: &Path, name: &str) -> io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let path = dir.join(temp_name(name, COUNTER.fetch_add(1, Ordering::Relaxed)));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)?;
        Ok(Self {
            path,
            file,
            published: false,
        })
    }

    /// Writes all of `bytes` and syncs them: an error here (ENOSPC, EIO) is the write's.
    pub(super) fn fill(&self, bytes: &[u8]) -> io::Result<()> {
        let mut file = &self.file;
        file.write_all(bytes)?;
        self.file.sync_all()
    }

    pub(super) fn publish(mut self, destination: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, destination)?;
        self.published = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::key::content_key;

    fn job(root: &Path, bytes: &'static [u8]) -> Job {
        let day = chrono::DateTime::UNIX_EPOCH;
        let key = content_key("images", day, bytes, "jpg");
        Job {
            root: root.to_owned(),
            sidecar_path: Path::new(".meta").join(format!("{key}.json")),
            key,
            sidecar: b"{}".to_vec(),
            bytes: bytes::Bytes::from_static(bytes),
        }
    }

    fn plant(path: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn a_short_or_corrupt_object_and_an_empty_sidecar_are_healed() {
        for planted in [&b"whole"[..], b"", b"whole object, but not it"] {
            let dir = tempfile::tempdir().unwrap();
            let job = job(dir.path(), b"whole object");
            plant(&dir.path().join(&job.key), planted);
            plant(&dir.path().join(&job.sidecar_path), b"");
            job.run().unwrap();
            let stored = std::fs::read(dir.path().join(&job.key)).unwrap();
            assert_eq!(stored, b"whole object", "over {planted:?}");
            let sidecar = std::fs::read(dir.path().join(&job.sidecar_path)).unwrap();
            assert_eq!(sidecar, b"{}");
        }
    }

    #[test]
    fn a_whole_object_is_kept_and_its_file_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let job = job(dir.path(), b"whole object");
        job.run().unwrap();
        let path = dir.path().join(&job.key);
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        job.run().unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );
    }

    #[test]
    fn writes_do_not_go_through_a_symlink_in_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("images")).unwrap();
        assert!(job(&root, b"x").run().is_err());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }
}
