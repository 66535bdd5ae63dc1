//! Object keys: `{prefix}/{yyyy}/{mm}/{dd}/{hash}.{ext}`, where the hash is the first 128 bits
//! of the SHA-256 of the stored bytes. Different content never shares a key, a retry the same
//! day lands on the same key, and no client text ever reaches a key.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Hex digits of SHA-256 kept in a key: 32 digits = 128 bits.
const HASH_HEX_LEN: usize = 32;

pub fn content_key(prefix: &str, now: DateTime<Utc>, bytes: &[u8], extension: &str) -> String {
    let hash = content_hash(bytes);
    format!("{prefix}/{}/{hash}.{extension}", now.format("%Y/%m/%d"))
}

/// The hash a key holds for `bytes`: the first 128 bits of their SHA-256, in hex.
fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    hex::encode(&digest[..HASH_HEX_LEN / 2])
}

/// The content hash `key` names (the `{hash}` of `…/{hash}.{ext}`), when it is shaped like one;
/// keys not made by [`content_key`] name none.
fn named_hash(key: &str) -> Option<&str> {
    let file = key.rsplit('/').next()?;
    let (stem, _) = file.split_once('.')?;
    let is_hash = stem.len() == HASH_HEX_LEN && stem.bytes().all(|b| b.is_ascii_hexdigit());
    is_hash.then_some(stem)
}

/// Whether `bytes` are the content `key` names: `None` when the key names no hash.
pub fn names_content(key: &str, bytes: &[u8]) -> Option<bool> {
    let hash = named_hash(key)?;
    Some(content_hash(bytes).eq_ignore_ascii_case(hash))
}

/// The content type of an image key, from its extension; `None` for anything else, which
/// pixgate never stores and so never serves.
pub fn content_type_of(key: &str) -> Option<&'static str> {
    let file = key.rsplit('/').next()?;
    match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("jpg" | "jpeg") => Some("image/jpeg"),
        Some("png") => Some("image/png"),
        Some("webp") => Some("image/webp"),
        Some("avif") => Some("image/avif"),
        Some("gif") => Some("image/gif"),
        _ => None,
    }
}

/// Whether a key requested by a client can be looked up without escaping the store: relative,
/// no empty, `.` or `..` segments, no backslashes or control characters.
pub fn is_safe_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 1024
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && !segment.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_hold_prefix_date_and_content_hash() {
        let day = Utc.with_ymd_and_hms(2026, 3, 7, 23, 59, 0).unwrap();
        let key = content_key("profile", day, b"abc", "jpg");
        // SHA-256("abc") starts ba7816bf8f01cfea414140de5dae2223.
        assert_eq!(
            key,
            "profile/2026/03/07/ba7816bf8f01cfea414140de5dae2223.jpg"
        );
        assert_ne!(content_key("profile", day, b"abd", "jpg"), key);
    }

    #[test]
    fn keys_made_from_content_name_that_content_only() {
        let day = Utc.with_ymd_and_hms(2026, 3, 7, 0, 0, 0).unwrap();
        let key = content_key("images", day, b"whole object", "png");
        assert_eq!(names_content(&key, b"whole object"), Some(true));
        assert_eq!(names_content(&key, b"whole obj"), Some(false));
        assert_eq!(names_content(&key, b""), Some(false));
        assert_eq!(
            names_content(&key.to_uppercase(), b"whole object"),
            Some(true)
        );
        for key in ["images/x.png", "images/2026/01/01/abc.jpg", "images/noext"] {
            assert_eq!(names_content(key, b"anything"), None, "{key}");
        }
    }

    #[test]
    fn only_image_extensions_have_a_content_type() {
        for (key, expected) in [
            ("profile/2026/01/01/a.jpg", Some("image/jpeg")),
            ("profile/a.jpeg", Some("image/jpeg")),
            ("images/a.png", Some("image/png")),
            ("images/a.webp", Some("image/webp")),
            ("images/a.avif", Some("image/avif")),
            ("images/a.gif", Some("image/gif")),
            ("images/a.txt", None),
            ("images/a.html", None),
            ("images/a.jpg.html", None),
            ("images/noext", None),
            ("images.jpg/noext", None),
            ("images/a.JPG", None),
        ] {
            assert_eq!(content_type_of(key), expected, "{key}");
        }
    }

    #[test]
    fn unsafe_keys_are_refused() {
        for key in ["images/2026/01/01/a.jpg", "profile/x.png"] {
            assert!(is_safe_key(key), "{key}");
        }
        for key in [
            "",
            "../etc/passwd",
            "images/../x",
            "images//x",
            "/abs",
            "a\\b",
            "images/.meta/x",
            "a\nb",
        ] {
            assert!(!is_safe_key(key), "{key:?}");
        }
    }
}
