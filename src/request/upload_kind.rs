//! `?type=profile|image`: which preset an upload gets and which prefix it is stored under.

use crate::pipeline::Preset;

use super::RequestError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    Profile,
    Image,
}

impl UploadKind {
    /// Reads `type` from a raw query string; anything but exactly one known value is refused.
    pub fn from_query(query: Option<&str>) -> Result<Self, RequestError> {
        let mut kinds = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .filter(|(name, _)| name == "type")
            .map(|(_, value)| value);
        let kind = match kinds.next().as_deref() {
            Some("profile") => Self::Profile,
            Some("image") => Self::Image,
            _ => return Err(RequestError::InvalidType),
        };
        if kinds.next().is_some() {
            return Err(RequestError::InvalidType);
        }
        Ok(kind)
    }

    /// The `{type}` path segment of the direct upload routes.
    pub fn from_segment(segment: &str) -> Result<Self, RequestError> {
        match segment {
            "profile" => Ok(Self::Profile),
            "image" => Ok(Self::Image),
            _ => Err(RequestError::InvalidType),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Profile => "profile",
            Self::Image => "image",
        }
    }

    pub fn preset(self) -> Preset {
        match self {
            Self::Profile => Preset::Profile,
            Self::Image => Preset::Image,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_is_read_from_the_query() {
        let cases = [
            (Some("type=profile"), Some(UploadKind::Profile)),
            (Some("type=image"), Some(UploadKind::Image)),
            (Some("x=1&type=image"), Some(UploadKind::Image)),
            (None, None),
            (Some(""), None),
            (Some("type="), None),
            (Some("type=Profile"), None),
            (Some("type=images"), None),
            (Some("type=profile&type=image"), None),
        ];
        for (query, expected) in cases {
            assert_eq!(UploadKind::from_query(query).ok(), expected, "{query:?}");
        }
    }
}
