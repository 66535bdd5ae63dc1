//! The client's file name, kept only as a label (`originalName`, Content-Disposition metadata).
//! It never reaches a storage key, but it is still cleaned so it cannot carry paths, control
//! characters or invisible text into headers, logs or the pages that show it.

const MAX_CHARS: usize = 255;

/// The last path segment of what the client sent, without control, bidi or invisible format
/// characters, at most 255 characters; `None` when nothing usable remains.
pub fn original_name(raw: &str) -> Option<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let clean: String = base
        .chars()
        .filter(|&c| !is_hidden_or_control(c))
        .take(MAX_CHARS)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        return None;
    }
    Some(clean.to_owned())
}

/// Characters a name shown to people must not carry. Control characters break headers and log
/// lines. Bidi controls reorder what is displayed: `invoice\u{202E}gpj.exe` shows as
/// `invoiceexe.jpg`. The invisible ones (zero-width space, word joiner, BOM, soft hyphen, Hangul
/// fillers, tag characters) make two names that look the same differ, or smuggle hidden text.
/// Kept: ZWNJ and ZWJ (U+200C, U+200D), which Persian, Indic scripts and emoji sequences need,
/// and the variation selectors, which only choose a glyph's style.
fn is_hidden_or_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Bidi: ALM, LRM, RLM, LRE..RLO, LRI..PDI.
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            // Line and paragraph separators: line breaks to logs and JavaScript.
            | '\u{2028}' | '\u{2029}'
            // Invisible format characters and fillers.
            | '\u{00AD}' | '\u{180E}' | '\u{200B}' | '\u{2060}'..='\u{2064}'
            | '\u{206A}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
            | '\u{E0000}'..='\u{E007F}'
        )
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
    fn bidi_controls_and_invisible_characters_are_removed() {
        let cases = [
            // Right-to-left override: would display as "invoiceexe.jpg".
            ("invoice\u{202E}gpj.exe", Some("invoicegpj.exe")),
            (
                "a\u{202A}b\u{202B}c\u{202C}d\u{202D}e.png",
                Some("abcde.png"),
            ),
            ("\u{2066}x\u{2067}y\u{2068}z\u{2069}.png", Some("xyz.png")),
            ("\u{200E}l\u{200F}r\u{061C}.jpg", Some("lr.jpg")),
            (
                "zero\u{200B}width\u{FEFF}\u{2060}.jpg",
                Some("zerowidth.jpg"),
            ),
            ("line\u{2028}para\u{2029}.jpg", Some("linepara.jpg")),
            ("soft\u{00AD}hyphen\u{3164}.jpg", Some("softhyphen.jpg")),
            ("tag\u{E0041}\u{E0042}.jpg", Some("tag.jpg")),
            // Nothing but invisible characters around a dot-dot is still no name.
            ("\u{202E}..\u{200B}", None),
            ("\u{202E}\u{2066}", None),
            // Joiners and variation selectors carry meaning in real names.
            ("می\u{200C}خواهم.jpg", Some("می\u{200C}خواهم.jpg")),
            ("👩\u{200D}💻\u{FE0F}.png", Some("👩\u{200D}💻\u{FE0F}.png")),
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
