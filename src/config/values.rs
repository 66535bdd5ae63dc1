//! Typed configuration values and the parsers clap runs on them, so a bad value is refused
//! at start with its variable's name, and a value that parsed is one the code can use as is.

use std::time::Duration;

use axum::http::HeaderValue;

/// A key prefix: non-empty segments of `[A-Za-z0-9_-]` joined by `/`. Prefixes become the
/// first segments of every key, so they may hold only what is safe in a URL and a file path,
/// and never climb out of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let prefix = raw.trim().trim_end_matches('/');
        let safe_chars = prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'));
        let safe_segments = prefix
            .split('/')
            .all(|s| !s.is_empty() && !s.starts_with('.'));
        if prefix.is_empty() || !safe_chars || !safe_segments {
            return Err(format!(
                "{raw:?} must be non-empty segments of [A-Za-z0-9_-] joined by /"
            ));
        }
        Ok(Self(prefix.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `key` lies under this prefix (`{prefix}/…`).
    pub fn holds(&self, key: &str) -> bool {
        key.strip_prefix(self.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// The base of `fileUrl`: an http(s) URL without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (raw.starts_with("http://") || raw.starts_with("https://"))
            && !raw.ends_with('/')
            && !raw.contains(char::is_whitespace);
        if !ok {
            return Err(format!(
                "{raw:?} must be an http(s) URL without a trailing slash"
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The CORS origins policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    Any,
    List(Vec<String>),
}

impl AllowedOrigins {
    /// `*` alone means any origin; otherwise a comma-separated list of exact origins.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw == "*" {
            return Ok(Self::Any);
        }
        let origins: Vec<String> = raw
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if origins.is_empty() {
            return Err("empty: use * or a list of origins".to_owned());
        }
        if let Some(bad) = origins
            .iter()
            .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(format!(
                "{bad:?} is not an origin like https://chat.example.com"
            ));
        }
        Ok(Self::List(origins))
    }
}

/// HMAC-SHA256 keys shorter than this are guessable; 32 random bytes is the usual advice.
const MIN_SIGNING_KEY_LEN: usize = 16;

/// A secret for transform URL signatures, long enough not to be guessed.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl SigningKey {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() < MIN_SIGNING_KEY_LEN {
            return Err(format!(
                "a key of {} bytes is too short: use at least {MIN_SIGNING_KEY_LEN} random bytes",
                raw.len()
            ));
        }
        Ok(Self(raw.as_bytes().to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for SigningKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Never prints the secret.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

/// One allowed transform size: `w` and `h`, 0 for a side not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRule {
    pub width: u32,
    pub height: u32,
}

impl SizeRule {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let entry = raw.trim();
        let problem = || format!("{entry:?} is not WxH (e.g. 200x200,400x0)");
        let (w, h) = entry.split_once(['x', 'X']).ok_or_else(problem)?;
        let side = |s: &str| s.parse::<u32>().map_err(|_| problem());
        Ok(Self {
            width: side(w)?,
            height: side(h)?,
        })
    }
}

/// A count or size that must be at least 1.
pub fn positive<T>(raw: &str) -> Result<T, String>
where
    T: std::str::FromStr + Default + PartialEq,
    T::Err: std::fmt::Display,
{
    let value: T = raw.trim().parse().map_err(|e| format!("{e}"))?;
    if value == T::default() {
        return Err("must be greater than 0".to_owned());
    }
    Ok(value)
}

/// Whole seconds, at least one.
pub fn seconds(raw: &str) -> Result<Duration, String> {
    positive::<u64>(raw).map(Duration::from_secs)
}

/// A value that can be sent as a header as it is.
pub fn header_value(raw: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(raw).map_err(|_| "is not a valid header value".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_trimmed_and_checked() {
        assert_eq!(Prefix::parse("images/").unwrap().as_str(), "images");
        for bad in ["", "../up", "a//b", ".hidden", "a b"] {
            assert!(Prefix::parse(bad).is_err(), "{bad:?}");
        }
        let prefix = Prefix::parse("profile").unwrap();
        assert!(prefix.holds("profile/2026/a.jpg"));
        assert!(!prefix.holds("profiles/a.jpg"));
        assert!(!prefix.holds("profile"));
    }

    #[test]
    fn origin_list_is_trimmed() {
        assert_eq!(AllowedOrigins::parse(" * "), Ok(AllowedOrigins::Any));
        assert_eq!(
            AllowedOrigins::parse("https://a.example, https://b.example/"),
            Ok(AllowedOrigins::List(vec![
                "https://a.example".into(),
                "https://b.example".into()
            ]))
        );
        assert!(AllowedOrigins::parse(" , ").is_err());
        assert!(AllowedOrigins::parse("chat.example.com").is_err());
    }

    #[test]
    fn sizes_signing_keys_and_counts_parse() {
        assert_eq!(
            SizeRule::parse(" 400x0"),
            Ok(SizeRule {
                width: 400,
                height: 0
            })
        );
        assert!(SizeRule::parse("200x").is_err());
        assert!(SigningKey::parse("short").is_err());
        assert!(SigningKey::parse("0123456789abcdef").is_ok());
        assert_eq!(positive::<u64>("3"), Ok(3));
        assert!(positive::<u64>("0").is_err());
        assert!(positive::<usize>("ten").is_err());
        assert_eq!(seconds("60"), Ok(Duration::from_secs(60)));
    }
}
