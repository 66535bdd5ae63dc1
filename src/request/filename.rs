//! The client's file name, kept only as a label (`originalName`, Content-Disposition metadata).
//! It never reaches a storage key, but it is still cleaned so it cannot carry paths or control
//! characters into headers or logs.

const MAX_CHARS: usize = 255;

/// The last path segment of what the client sent, without control characters, at most 255
/// characters; `None` when nothing usable remains.
pub fn original_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_CHARS)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        return None;
    }
    Some(clean.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_only_their_last_segment_without_controls() {
        let cases = [
            ("photo.jpg", Some("photo.jpg")),
            ("../../../etc/passwd.jpg", Some("passwd.jpg")),
            ("C:\\Users\\me\\cat.png", Some("cat.png")),
            ("프로필 사진.jpg", Some("프로필 사진.jpg")),
            ("a\r\nb.jpg", Some("ab.jpg")),
            ("dir/", None),
            ("..", None),
            ("", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(original_name(raw).as_deref(), expected, "{raw:?}");
        }
    }

    #[test]
    fn long_names_are_cut_at_255_characters() {
        let long = "é".repeat(400);
        assert_eq!(original_name(&long).map(|n| n.chars().count()), Some(255));
    }
}
