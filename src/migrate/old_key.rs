//! What an old key tells: the old Lambda stored `{type}/{Date.now()}_{name}`, so the part
//! before the first `_` is the upload time in milliseconds and the rest the client's file name.

use chrono::{DateTime, Utc};

/// The upload time and original name read from an old key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldKey {
    /// The key's `Date.now()`, when it has one that is a plausible date.
    pub uploaded: Option<DateTime<Utc>>,
    /// The `{name}` part; the whole last segment when the key is not `{ms}_{name}`.
    pub name: Option<String>,
}

/// `Date.now()` values from 2001-09-09 (10¹² ms) up to 2286: thirteen digits. Anything else
/// before a `_` is part of a name, not a time.
const MS_DIGITS: usize = 13;

pub fn parse(key: &str) -> OldKey {
    let file = key.rsplit('/').next().unwrap_or(key);
    let stamped = file.split_once('_').and_then(|(stamp, name)| {
        let uploaded = timestamp(stamp)?;
        Some((uploaded, name))
    });
    match stamped {
        Some((uploaded, name)) => OldKey {
            uploaded: Some(uploaded),
            name: non_empty(name),
        },
        None => OldKey {
            uploaded: None,
            name: non_empty(file),
        },
    }
}

fn timestamp(stamp: &str) -> Option<DateTime<Utc>> {
    if stamp.len() != MS_DIGITS || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    DateTime::from_timestamp_millis(stamp.parse().ok()?)
}

fn non_empty(name: &str) -> Option<String> {
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_keys_give_their_time_and_name() {
        let old = parse("profile/1700000000123_my photo_2.jpg");
        assert_eq!(
            old.uploaded.map(|t| t.to_rfc3339()),
            Some("2023-11-14T22:13:20.123+00:00".to_owned())
        );
        assert_eq!(old.name.as_deref(), Some("my photo_2.jpg"));
        let unicode = parse("images/1767225600000_사진 😀.png");
        assert_eq!(
            unicode.uploaded.map(|t| t.date_naive().to_string()),
            Some("2026-01-01".to_owned())
        );
        assert_eq!(unicode.name.as_deref(), Some("사진 😀.png"));
    }

    #[test]
    fn other_keys_keep_their_file_name_and_no_time() {
        for (key, name) in [
            ("images/photo.jpg", Some("photo.jpg")),
            ("images/123_short.jpg", Some("123_short.jpg")),
            (
                "images/17000000001234_long.jpg",
                Some("17000000001234_long.jpg"),
            ),
            ("images/17000x0000123_x.jpg", Some("17000x0000123_x.jpg")),
            ("images/", None),
        ] {
            let old = parse(key);
            assert_eq!(old.uploaded, None, "{key}");
            assert_eq!(old.name.as_deref(), name, "{key}");
        }
        assert_eq!(parse("images/1700000000000_").name, None);
    }
}
