//! Object keys: `{prefix}/{yyyy}/{mm}/{dd}/{hash}.{ext}`, where the hash is the first 128 bits
//! of the SHA-256 of the stored bytes. Different content never shares a key, a retry the same
//! day lands on the same key, and no client text ever reaches a key.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Hex digits of SHA-256 kept in a key: 32 digits = 128 bits.
const HASH_HEX_LEN: usize = 32;

pub fn content_key(prefix: &str, now: DateTime<Utc>, bytes: &[u8], extension: &str) -> String {
    let digest = Sha256::digest(bytes);
    let hash = hex::encode(&digest[..HASH_HEX_LEN / 2]);
    format!("{prefix}/{}/{hash}.{extension}", now.format("%Y/%m/%d"))
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
