//! The mapping file: one JSON object per old key, appended and flushed as each object ends, so
//! the chat app can rewrite its URLs and a rerun knows what is done. A run killed mid-write
//! leaves at most one partial last line; reading skips it, and appending starts on a new line.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::service::StoredImage;

/// `status` of an object that was stored.
pub const MIGRATED: &str = "migrated";

/// One line: an old key and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MappingLine {
    pub old_key: String,
    /// [`MIGRATED`], or the API's error code (`corrupt_image`, `storage_unavailable`, …).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// The old object's size (absent when it could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_before: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_after: Option<u64>,
    /// Why it failed, for a person; `status` is the code to act on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl MappingLine {
    /// The line of an object not yet read: its key and listed size.
    pub fn listed(old_key: String, size: u64) -> Self {
        Self {
            old_key,
            status: String::new(),
            new_key: None,
            file_url: None,
            width: None,
            height: None,
            bytes_before: Some(size),
            bytes_after: None,
            error: None,
        }
    }

    pub fn failed(self, code: ErrorCode, why: String) -> Self {
        Self {
            status: code.as_str().to_owned(),
            error: Some(why),
            ..self
        }
    }

    pub fn stored(self, stored: &StoredImage, file_url: String) -> Self {
        Self {
            status: MIGRATED.to_owned(),
            new_key: Some(stored.key.clone()),
            file_url: Some(file_url),
            width: Some(stored.width),
            height: Some(stored.height),
            bytes_after: Some(stored.size as u64),
            ..self
        }
    }

    /// Whether a rerun leaves this key alone: it was stored, or refused for what it is (a 4xx
    /// code: the same bytes would be refused again). Server-side codes (storage down or full,
    /// internal errors) and unknown ones are tried again.
    pub fn is_final(&self) -> bool {
        if self.status == MIGRATED {
            return true;
        }
        ErrorCode::ALL
            .iter()
            .find(|code| code.as_str() == self.status)
            .is_some_and(|code| code.status().is_client_error())
    }
}

/// The old keys a mapping file holds with a final outcome; no file is an empty mapping.
pub fn finished_keys(path: &Path) -> io::Result<HashSet<String>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(e),
    };
    finished_in(BufReader::new(file))
}

fn finished_in(reader: impl BufRead) -> io::Result<HashSet<String>> {
    let mut done = HashSet::new();
    for line in reader.split(b'\n') {
        // A partial line (a killed run's last) is not JSON and names nothing done.
        let Ok(line) = serde_json::from_slice::<MappingLine>(&line?) else {
            continue;
        };
        if line.is_final() {
            done.insert(line.old_key);
        } else {
            done.remove(&line.old_key);
        }
    }
    Ok(done)
}

/// Where lines go: the mapping file, or stdout on a dry run.
pub struct MappingWriter {
    out: Box<dyn Write + Send>,
}

impl MappingWriter {
    /// Appends to `path`, creating it; a partial last line is closed first so the next line
    /// stands alone.
    pub fn append(path: &Path) -> io::Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)?;
        if !ends_with_newline(&mut file)? {
            file.write_all(b"\n")?;
        }
        Ok(Self {
            out: Box::new(file),
        })
    }

    pub fn stdout() -> Self {
        Self {
            out: Box::new(io::stdout()),
        }
    }

    /// Writes one line whole and flushes it (one `write` of the line, so a kill cuts at most
    /// this line).
    pub fn write(&mut self, line: &MappingLine) -> io::Result<()> {
        let mut text = serde_json::to_vec(line).map_err(io::Error::other)?;
        text.push(b'\n');
        self.out.write_all(&text)?;
        self.out.flush()
    }
}

/// Whether the file is empty or its last byte is a newline.
fn ends_with_newline(file: &mut File) -> io::Result<bool> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(old_key: &str, status: &str) -> String {
        let line = MappingLine {
            status: status.into(),
            ..MappingLine::listed(old_key.into(), 1)
        };
        serde_json::to_string(&line).unwrap()
    }

    #[test]
    fn final_outcomes_are_done_and_transient_ones_are_not() {
        let text = [
            line("a", "migrated"),
            line("b", "corrupt_image"),
            line("c", "storage_unavailable"),
            line("d", "insufficient_storage"),
            line("e", "something_new"),
            line("f", "file_too_large"),
            // A transient failure, then success on a later run.
            line("c2", "storage_unavailable"),
            line("c2", "migrated"),
        ]
        .join("\n");
        let done = finished_in(text.as_bytes()).unwrap();
        let mut done: Vec<_> = done.into_iter().collect();
        done.sort();
        assert_eq!(done, ["a", "b", "c2", "f"]);
    }

    #[test]
    fn a_partial_last_line_is_ignored() {
        let whole = line("a", "migrated");
        let cut = line("b", "migrated");
        let text = format!("{whole}\n{}", &cut[..cut.len() / 2]);
        let done = finished_in(text.as_bytes()).unwrap();
        assert_eq!(done.len(), 1);
        assert!(done.contains("a"));
    }

    #[test]
    fn appending_after_a_partial_line_starts_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mapping.jsonl");
        let cut = line("b", "migrated");
        std::fs::write(&path, format!("{}\n{}", line("a", "migrated"), &cut[..10])).unwrap();
        let mut writer = MappingWriter::append(&path).unwrap();
        let parsed: MappingLine = serde_json::from_str(&cut).unwrap();
        writer.write(&parsed).unwrap();
        drop(writer);
        let done = finished_keys(&path).unwrap();
        assert!(done.contains("a") && done.contains("b"), "{done:?}");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with('\n'));
        assert!(
            finished_keys(&dir.path().join("absent"))
                .unwrap()
                .is_empty()
        );
    }
}
