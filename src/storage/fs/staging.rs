//! The disk backend's staging area, for `pixgate serve` without AWS. A staged key
//! `{incoming}/{id}` is a directory under the data directory holding what S3 would hold for it:
//! `meta.json` (the multipart upload id, content type and file name), the parts
//! (`part-{n}-{etag}`), and the whole `object` once it is put or completed. Clients write there
//! through URLs pointing back at this server, signed here ([`signed_url`]), each usable once (a
//! marker per used URL is kept under `.staging-used/`); each write is streamed to a temp file on
//! a blocking thread, synced and renamed like any object. Directories untouched for the staging
//! TTL are swept.

mod signed_url;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::FsStore;
use super::read::{is_missing, read_plain_file};
use super::write::{TempFile, create_dirs, sync_dir};
use crate::storage::is_safe_key;
use crate::storage::staging::{
    MAX_URL_TTL, MIN_PART_BYTES, PartInfo, PutRefusal, SignedPut, Signing, SinglePut, StagedObject,
    Staging, StagingError, bare_etag, random_hex,
};

pub use signed_url::Grant;

const META: &str = "meta.json";
/// Markers of used URLs, under the data directory; no key reaches it (a key segment never
/// starts with a dot). A marker outlives its URL by the longest URL TTL, then is swept.
const USED_DIR: &str = ".staging-used";
const OBJECT: &str = "object";

#[derive(Debug)]
pub struct FsStaging {
    root: PathBuf,
    key: Vec<u8>,
    max_bytes: u64,
}

/// What `meta.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    /// The multipart upload in progress; `None` for a single PUT or once completed.
    upload_id: Option<String>,
    content_type: Option<String>,
    original_name: Option<String>,
}

impl FsStaging {
    /// Staging under `root` (the data directory), URLs signed with `key`, at most `max_bytes`
    /// staged per key.
    pub fn new(root: impl Into<PathBuf>, key: &[u8], max_bytes: u64) -> Self {
        Self {
            root: root.into(),
            key: key.to_vec(),
            max_bytes,
        }
    }

    /// Checks the signature in a staging URL's `query` for a PUT to `key`, at `now`.
    pub fn verify(&self, key: &str, query: &str, now: SystemTime) -> Result<Grant, PutRefusal> {
        signed_url::verify(&self.key, key, query, now)
    }

    /// Stores the body of a PUT that `grant` allows to `key`; returns the ETag (quoted). A body
    /// cut short, too long or unreadable leaves nothing behind.
    pub async fn receive<S, E>(
        &self,
        key: &str,
        grant: Grant,
        content_type: Option<&str>,
        content_length: Option<u64>,
        body: S,
    ) -> Result<String, StagingError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
        E: std::fmt::Display,
    {
        let dir = self.dir(key)?;
        let budget = self
            .budget(&dir, &grant, content_type, content_length)
            .await?;
        let (sender, receiver) = mpsc::channel::<Option<Bytes>>(8);
        let target = Target {
            root: self.root.clone(),
            relative: Self::relative(key)?.to_path_buf(),
            dir,
            grant,
            budget,
        };
        let writer = tokio::task::spawn_blocking(move || target.write(receiver));
        let streamed = stream_into(body, &sender).await;
        drop(sender);
        let written = writer
            .await
            .map_err(|join| StagingError::from(io::Error::other(join)))?;
        streamed?;
        written
    }

    /// How many bytes this PUT may write: the signed length of a single PUT; for a part, what
    /// the other parts leave of the per-upload limit. Refuses before a byte is read when the
    /// declared length does not fit.
    async fn budget(
        &self,
        dir: &Path,
        grant: &Grant,
        content_type: Option<&str>,
        content_length: Option<u64>,
    ) -> Result<Budget, StagingError> {
        let Some((upload_id, number)) = grant.part.clone() else {
            let expected = grant.length.unwrap_or(0);
            if grant.content_type.as_deref() != content_type {
                return Err(PutRefusal::WrongContentType {
                    expected: grant.content_type.clone().unwrap_or_default(),
                }
                .into());
            }
            if content_length.is_some_and(|length| length != expected) {
                return Err(PutRefusal::WrongLength { expected }.into());
            }
            return Ok(Budget::Exact(expected));
        };
        let (dir, max) = (dir.to_path_buf(), self.max_bytes);
        let others = blocking(move || {
            let meta = read_meta(&dir)?;
            if meta.and_then(|m| m.upload_id).as_deref() != Some(upload_id.as_str()) {
                return Ok(None);
            }
            let parts = list_part_files(&dir)?;
            Ok(Some(
                parts
                    .iter()
                    .filter(|(info, _)| info.number != number)
                    .map(|(info, _)| info.size)
                    .sum::<u64>(),
            ))
        })
        .await?
        .ok_or(StagingError::NoSuchUpload)?;
        let left = max.saturating_sub(others);
        if content_length.is_some_and(|length| length > left) {
            return Err(PutRefusal::TooLarge { max }.into());
        }
        Ok(Budget::AtMost { left, max })
    }

    /// A staged key as a path relative to the data directory; refuses a key that could leave it.
    fn relative(key: &str) -> Result<&Path, StagingError> {
        if !is_safe_key(key) {
            return Err(crate::storage::StoreError::InvalidKey.into());
        }
        Ok(Path::new(key))
    }

    /// The directory of a staged key.
    fn dir(&self, key: &str) -> Result<PathBuf, StagingError> {
        Ok(self.root.join(Self::relative(key)?))
    }

    /// Removes staged directories under `incoming` untouched for `ttl`, and markers of URLs
    /// that have expired; returns how many staged directories went.
    pub fn sweep(&self, incoming: &str, ttl: Duration, now: SystemTime) -> usize {
        if let Ok(markers) = std::fs::read_dir(self.root.join(USED_DIR)) {
            for marker in markers.filter_map(Result::ok) {
                let modified = marker.metadata().and_then(|m| m.modified());
                if modified.is_ok_and(|t| is_older(t, now, MAX_URL_TTL)) {
                    let _ = std::fs::remove_file(marker.path());
                }
            }
        }
        let Ok(entries) = std::fs::read_dir(self.root.join(incoming)) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
            .filter(|entry| last_touched(&entry.path()).is_some_and(|t| is_older(t, now, ttl)))
            .filter(|entry| std::fs::remove_dir_all(entry.path()).is_ok())
            .count()
    }

    /// Sweeps `incoming` now and then every `min(ttl, 10 min)`, on a background task.
    pub fn start_sweeping(self: &std::sync::Arc<Self>, incoming: String, ttl: Duration) {
        let staging = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(ttl.min(super::sweep::SWEEP_EVERY));
            loop {
                every.tick().await;
                let (staging, incoming) = (std::sync::Arc::clone(&staging), incoming.clone());
                let swept = tokio::task::spawn_blocking(move || {
                    staging.sweep(&incoming, ttl, SystemTime::now())
                })
                .await;
                if let Ok(removed @ 1..) = swept {
                    tracing::info!(removed, "removed stale staged uploads");
                }
            }
        });
    }
}

/// The most a PUT may write.
#[derive(Debug, Clone, Copy)]
enum Budget {
    /// A single PUT: exactly this many bytes.
    Exact(u64),
    /// A part: at most `left`, of the upload's `max`.
    AtMost { left: u64, max: u64 },
}

/// One PUT's write, run whole on a blocking thread.
struct Target {
    root: PathBuf,
    /// The key's directory, relative to `root` and as a whole path.
    relative: PathBuf,
    dir: PathBuf,
    grant: Grant,
    budget: Budget,
}

impl Target {
    /// Writes what arrives on `chunks` to a temp file until the end-of-body marker (`None`);
    /// a closed channel without it means the body broke off, and nothing is published.
    fn write(self, mut chunks: mpsc::Receiver<Option<Bytes>>) -> Result<String, StagingError> {
        if used_marker(&self.root, &self.grant.nonce).exists() {
            return Err(PutRefusal::Reused.into());
        }
        create_dirs(&self.root, &self.relative)?;
        let temp = TempFile::create(&self.dir, "upload")?;
        let mut hasher = Sha256::new();
        let mut written: u64 = 0;
        loop {
            match chunks.blocking_recv() {
                Some(Some(chunk)) => {
                    written += chunk.len() as u64;
                    self.check_budget(written, false)?;
                    hasher.update(&chunk);
                    (&temp.file).write_all(&chunk)?;
                }
                Some(None) => break,
                None => return Err(PutRefusal::BodyRead("the body broke off".into()).into()),
            }
        }
        self.check_budget(written, true)?;
        temp.file.sync_all()?;
        let etag = hex::encode(&hasher.finalize()[..16]);
        self.publish(temp, &etag)?;
        Ok(format!("\"{etag}\""))
    }

    fn check_budget(&self, written: u64, at_end: bool) -> Result<(), PutRefusal> {
        match self.budget {
            Budget::Exact(expected) if written > expected || at_end && written != expected => {
                Err(PutRefusal::WrongLength { expected })
            }
            Budget::AtMost { left, max } if written > left => Err(PutRefusal::TooLarge { max }),
            _ => Ok(()),
        }
    }

    /// Renames the temp file into place (replacing an earlier copy of the same part), records
    /// the URL as used, and writes the metadata of a single PUT, all made durable.
    fn publish(&self, temp: TempFile, etag: &str) -> Result<(), StagingError> {
        match &self.grant.part {
            Some((_, number)) => {
                let replaced = list_part_files(&self.dir)?
                    .into_iter()
                    .filter(|(info, _)| info.number == *number);
                temp.publish(&self.dir.join(part_name(*number, etag)))?;
                for (info, path) in replaced {
                    if bare_etag(&info.etag) != etag {
                        remove_if_present(&path)?;
                    }
                }
            }
            None => {
                let meta = Meta {
                    upload_id: None,
                    content_type: self.grant.content_type.clone(),
                    original_name: self.grant.name.clone(),
                };
                write_meta(&self.dir, &meta)?;
                temp.publish(&self.dir.join(OBJECT))?;
            }
        }
        sync_dir(&self.dir)?;
        let used = create_dirs(&self.root, Path::new(USED_DIR))?;
        std::fs::File::create(used_marker(&self.root, &self.grant.nonce))?;
        sync_dir(&used)?;
        Ok(())
    }
}

/// Sends the body's chunks to the writer, then the end marker. A body error or a writer that
/// stopped (it refused the body) ends the stream early, without the marker.
async fn stream_into<S, E>(
    mut body: S,
    sender: &mpsc::Sender<Option<Bytes>>,
) -> Result<(), StagingError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| PutRefusal::BodyRead(e.to_string()))?;
        if sender.send(Some(chunk)).await.is_err() {
            // The writer has stopped; its own error is the answer.
            return Ok(());
        }
    }
    let _ = sender.send(None).await;
    Ok(())
}

/// The marker of a used URL: outside the staged key's directory, so it outlives a complete or
/// an abort and a used URL cannot stage the key again.
fn used_marker(root: &Path, nonce: &str) -> PathBuf {
    root.join(USED_DIR).join(nonce)
}

fn part_name(number: u32, etag: &str) -> String {
    format!("part-{number:05}-{etag}")
}

/// The part files of a staged directory, by number (one per number; when a replacement is
/// racing its predecessor, the newer file wins).
fn list_part_files(dir: &Path) -> io::Result<Vec<(PartInfo, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if is_missing(&e) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut parts: Vec<(PartInfo, PathBuf, SystemTime)> = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((number, etag)) = parse_part_name(&name) else {
            continue;
        };
        let metadata = entry.metadata()?;
        let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let info = PartInfo {
            number,
            size: metadata.len(),
            etag: format!("\"{etag}\""),
        };
        match parts.iter_mut().find(|(p, ..)| p.number == number) {
            Some(slot) if slot.2 < modified => *slot = (info, entry.path(), modified),
            Some(_) => {}
            None => parts.push((info, entry.path(), modified)),
        }
    }
    parts.sort_by_key(|(info, ..)| info.number);
    Ok(parts
        .into_iter()
        .map(|(info, path, _)| (info, path))
        .collect())
}

fn parse_part_name(name: &str) -> Option<(u32, &str)> {
    let rest = name.strip_prefix("part-")?;
    let (number, etag) = rest.split_once('-')?;
    let number = number.parse().ok()?;
    let is_etag = !etag.is_empty() && etag.bytes().all(|b| b.is_ascii_hexdigit());
    is_etag.then_some((number, etag))
}

fn read_meta(dir: &Path) -> io::Result<Option<Meta>> {
    match std::fs::read(dir.join(META)) {
        Ok(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(io::Error::other),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn write_meta(dir: &Path, meta: &Meta) -> io::Result<()> {
    let raw = serde_json::to_vec(meta).map_err(io::Error::other)?;
    let temp = TempFile::create(dir, META)?;
    temp.fill(&raw)?;
    temp.publish(&dir.join(META))
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if !is_missing(&e) => Err(e),
        _ => Ok(()),
    }
}

/// The newest modification time of `dir` and the files in it.
fn last_touched(dir: &Path) -> Option<SystemTime> {
    let own = std::fs::symlink_metadata(dir).ok()?.modified().ok()?;
    let files = std::fs::read_dir(dir).ok()?.filter_map(Result::ok);
    Some(
        files
            .filter_map(|entry| entry.metadata().ok()?.modified().ok())
            .fold(own, SystemTime::max),
    )
}

/// Whether `time` is at least `ttl` before `now` (a time in the future is not).
fn is_older(time: SystemTime, now: SystemTime, ttl: Duration) -> bool {
    now.duration_since(time).is_ok_and(|age| age >= ttl)
}

async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, StagingError> {
    Ok(FsStore::blocking(job).await?)
}

#[async_trait]
impl Staging for FsStaging {
    async fn sign_put(
        &self,
        key: &str,
        put: &SinglePut,
        signing: Signing<'_>,
    ) -> Result<SignedPut, StagingError> {
        self.dir(key)?;
        let url = signed_url::sign_put(&self.key, key, put, signing, SystemTime::now());
        Ok(SignedPut {
            url,
            headers: vec![("content-type".to_owned(), put.content_type.clone())],
        })
    }

    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        original_name: Option<&str>,
    ) -> Result<String, StagingError> {
        let relative = Self::relative(key)?.to_path_buf();
        let upload_id = random_hex(16);
        let meta = Meta {
            upload_id: Some(upload_id.clone()),
            content_type: Some(content_type.to_owned()),
            original_name: original_name.map(str::to_owned),
        };
        let root = self.root.clone();
        blocking(move || {
            let dir = create_dirs(&root, &relative)?;
            write_meta(&dir, &meta)?;
            sync_dir(&dir)
        })
        .await?;
        Ok(upload_id)
    }

    async fn sign_parts(
        &self,
        key: &str,
        upload_id: &str,
        numbers: &[u32],
        signing: Signing<'_>,
    ) -> Result<Vec<String>, StagingError> {
        self.check_upload(key, upload_id).await?;
        let now = SystemTime::now();
        Ok(numbers
            .iter()
            .map(|number| signed_url::sign_part(&self.key, key, (upload_id, *number), signing, now))
            .collect())
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<PartInfo>, StagingError> {
        let dir = self.check_upload(key, upload_id).await?;
        let parts = blocking(move || list_part_files(&dir)).await?;
        Ok(parts.into_iter().map(|(info, _)| info).collect())
    }

    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<(), StagingError> {
        let dir = self.check_upload(key, upload_id).await?;
        let named: Vec<(u32, String)> = parts
            .iter()
            .map(|(number, etag)| (*number, bare_etag(etag).to_owned()))
            .collect();
        blocking(move || Ok(join_parts(&dir, &named))).await?
    }

    async fn abort(&self, key: &str, upload_id: &str) -> Result<(), StagingError> {
        let dir = self.check_upload(key, upload_id).await?;
        blocking(move || remove_dir(&dir)).await
    }

    async fn staged_size(&self, key: &str) -> Result<Option<u64>, StagingError> {
        let (root, object) = (self.root.clone(), Self::relative(key)?.join(OBJECT));
        let metadata = blocking(move || super::read::plain_file_metadata(&root, &object)).await?;
        Ok(metadata.map(|m| m.len()))
    }

    async fn read(&self, key: &str) -> Result<Option<StagedObject>, StagingError> {
        let (root, dir) = (self.root.clone(), self.dir(key)?);
        let object = Self::relative(key)?.join(OBJECT);
        blocking(move || {
            let Some((bytes, _)) = read_plain_file(&root, &object)? else {
                return Ok(None);
            };
            let meta = read_meta(&dir)?.unwrap_or_default();
            Ok(Some(StagedObject {
                bytes: Bytes::from(bytes),
                original_name: meta.original_name,
            }))
        })
        .await
    }

    async fn remove(&self, key: &str) -> Result<(), StagingError> {
        let dir = self.dir(key)?;
        blocking(move || remove_dir(&dir)).await
    }
}

impl FsStaging {
    /// The directory of `key` when `upload_id` is its multipart upload in progress.
    async fn check_upload(&self, key: &str, upload_id: &str) -> Result<PathBuf, StagingError> {
        let dir = self.dir(key)?;
        let (probe, upload_id) = (dir.clone(), upload_id.to_owned());
        let current = blocking(move || Ok(read_meta(&probe)?.and_then(|m| m.upload_id))).await?;
        if current.as_deref() == Some(upload_id.as_str()) {
            Ok(dir)
        } else {
            Err(StagingError::NoSuchUpload)
        }
    }
}

/// Joins the named parts into `object` as S3 would: they must be the uploaded parts, in
/// ascending order, each but the last at least [`MIN_PART_BYTES`]. The parts are removed and
/// the upload closed once the object is durable.
fn join_parts(dir: &Path, named: &[(u32, String)]) -> Result<(), StagingError> {
    if named.is_empty() {
        return Err(StagingError::InvalidParts("no parts were named".into()));
    }
    if named.windows(2).any(|pair| pair[0].0 >= pair[1].0) {
        return Err(StagingError::InvalidParts(
            "parts must be listed in ascending order, each once".into(),
        ));
    }
    let uploaded = list_part_files(dir)?;
    let mut chosen = Vec::with_capacity(named.len());
    for (index, (number, etag)) in named.iter().enumerate() {
        let Some((info, path)) = uploaded
            .iter()
            .find(|(info, _)| info.number == *number && bare_etag(&info.etag) == etag)
        else {
            return Err(StagingError::InvalidParts(format!(
                "part {number} with ETag {etag} was not uploaded"
            )));
        };
        if index + 1 < named.len() && info.size < MIN_PART_BYTES {
            return Err(StagingError::InvalidParts(format!(
                "part {number} is {} bytes; every part but the last must be at least {MIN_PART_BYTES}",
                info.size
            )));
        }
        chosen.push(path.clone());
    }
    let temp = TempFile::create(dir, OBJECT)?;
    for path in &chosen {
        let mut part = std::fs::File::open(path)?;
        io::copy(&mut part, &mut &temp.file)?;
    }
    temp.file.sync_all()?;
    temp.publish(&dir.join(OBJECT))?;
    let mut meta = read_meta(dir)?.unwrap_or_default();
    meta.upload_id = None;
    write_meta(dir, &meta)?;
    for (_, path) in &uploaded {
        remove_if_present(path)?;
    }
    sync_dir(dir)?;
    Ok(())
}

fn remove_dir(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if !is_missing(&e) => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_round_trip_and_nothing_else_is_a_part() {
        assert_eq!(parse_part_name(&part_name(7, "ab12")), Some((7, "ab12")));
        assert_eq!(parse_part_name("part-00001-"), None);
        assert_eq!(parse_part_name("part-x-ab"), None);
        assert_eq!(parse_part_name("object"), None);
        assert_eq!(parse_part_name("meta.json"), None);
    }

    #[test]
    fn directories_untouched_for_the_ttl_are_swept_and_fresh_ones_kept() {
        let root = tempfile::tempdir().unwrap();
        let staging = FsStaging::new(root.path(), b"0123456789abcdef", 1 << 20);
        std::fs::create_dir_all(root.path().join("incoming/old")).unwrap();
        std::fs::create_dir_all(root.path().join("incoming/new")).unwrap();
        std::fs::write(root.path().join("incoming/new/object"), b"x").unwrap();
        let later = SystemTime::now() + Duration::from_secs(3600);
        assert_eq!(
            staging.sweep("incoming", Duration::from_secs(7200), later),
            0
        );
        assert_eq!(
            staging.sweep("incoming", Duration::from_secs(1800), later),
            2
        );
        assert!(!root.path().join("incoming/old").exists());
    }
}
