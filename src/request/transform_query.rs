//! The query of `GET /img/{key}`: parsed, validated and reduced to its canonical form, the one
//! spelling of each rendition that caches key on. `docs/canonical-form.md` is the specification
//! and `tests/fixtures/canonical.json` the vectors this module and the CloudFront Function
//! (`cloudfront/canonicalize.js`) must both satisfy.

use std::fmt::Write as _;

use super::RequestError;
use crate::pipeline::{DEFAULT_QUALITY, Fit, OutputFormat as Format, RenderSpec, TargetBox};

/// `f=auto` can pick these; a signature made for `auto` covers them.
fn is_auto_choice(format: Format) -> bool {
    format.is_lossy()
}

/// A transform request in canonical form: every field holds its effective value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformQuery {
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Only meaningful when both sides are given; `Inside` otherwise.
    pub fit: Fit,
    pub enlarge: bool,
    /// `None` keeps the source's format.
    pub format: Option<Format>,
    pub quality: u8,
    /// `s=`, when given.
    pub signature: Option<String>,
    /// `f=auto` was asked for, so the answer depends on `Accept`.
    pub auto_format: bool,
}

/// What was given for each parameter before defaults are applied.
#[derive(Default)]
struct Given {
    width: Option<u32>,
    height: Option<u32>,
    fit: Option<Fit>,
    enlarge: Option<bool>,
    format: Option<RequestedFormat>,
    quality: Option<u8>,
    signature: Option<String>,
}

#[derive(Clone, Copy)]
enum RequestedFormat {
    Concrete(Format),
    Auto,
}

impl TransformQuery {
    /// Parses a raw query (without `?`); `accept` resolves `f=auto`. Sides above `max_side`
    /// are refused.
    pub fn parse(raw: &str, accept: Option<&str>, max_side: u32) -> Result<Self, RequestError> {
        let mut given = Given::default();
        for (name, value) in form_urlencoded::parse(raw.as_bytes()) {
            let name = name.to_lowercase();
            given.set(&name, &value, max_side)?;
        }
        Ok(given.resolve(accept))
    }

    /// The canonical query without the signature: what caches key on and what is signed.
    pub fn canonical(&self) -> String {
        self.canonical_with_format(self.format.map(Format::name))
    }

    /// The canonical query, signature last: the URL a non-canonical request is sent to.
    pub fn canonical_with_signature(&self) -> String {
        let mut query = self.canonical();
        if let Some(signature) = &self.signature {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str("s=");
            query.push_str(signature);
        }
        query
    }

    /// Queries a valid signature may have been made for: the canonical one and, when the
    /// format is one `f=auto` can pick, the same query with `f=auto` (the edge resolves
    /// `auto` after the URL was signed).
    pub fn signed_forms(&self) -> Vec<String> {
        let mut forms = vec![self.canonical()];
        if self.format.is_some_and(is_auto_choice) {
            forms.push(self.canonical_with_format(Some("auto")));
        }
        forms
    }

    /// The query a signature for this URL is made over: `f=auto` is signed as `auto`.
    pub fn signing_form(&self) -> String {
        if self.auto_format {
            self.canonical_with_format(Some("auto"))
        } else {
            self.canonical()
        }
    }

    /// `w`×`h` with 0 for an absent side, as `--allowed-sizes` lists them.
    pub fn size(&self) -> (u32, u32) {
        (self.width.unwrap_or(0), self.height.unwrap_or(0))
    }

    /// What the pipeline needs to render this query.
    pub fn render_spec(&self, avif_speed: u8) -> RenderSpec {
        RenderSpec {
            target: TargetBox {
                width: self.width,
                height: self.height,
                fit: self.fit,
                enlarge: self.enlarge,
            },
            format: self.format,
            quality: self.quality,
            avif_speed,
            auto_format: self.auto_format,
        }
    }

    fn canonical_with_format(&self, format: Option<&str>) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(w) = self.width {
            pairs.push(("w", w.to_string()));
        }
        if let Some(h) = self.height {
            pairs.push(("h", h.to_string()));
        }
        let both_sides = self.width.is_some() && self.height.is_some();
        if both_sides && self.fit != Fit::Cover {
            pairs.push(("fit", self.fit.name().to_owned()));
        }
        if self.enlarge && (self.width.is_some() || self.height.is_some()) {
            pairs.push(("enlarge", "1".to_owned()));
        }
        if let Some(format) = format {
            pairs.push(("f", format.to_owned()));
        }
        if self.quality != DEFAULT_QUALITY && self.format != Some(Format::Png) {
            pairs.push(("q", self.quality.to_string()));
        }
        let mut query = String::new();
        for (name, value) in pairs {
            if !query.is_empty() {
                query.push('&');
            }
            let _ = write!(query, "{name}={value}");
        }
        query
    }
}

impl Given {
    fn set(&mut self, name: &str, value: &str, max_side: u32) -> Result<(), RequestError> {
        let bad = |why: &str| invalid(name, why);
        if value.is_empty() {
            return Err(bad("has no value"));
        }
        let lower = value.to_ascii_lowercase();
        match name {
            "w" => {
                let side = number(value, max_side).ok_or_else(|| bad(&side_rule(max_side)))?;
                set_once(&mut self.width, side, name)
            }
            "h" => {
                let side = number(value, max_side).ok_or_else(|| bad(&side_rule(max_side)))?;
                set_once(&mut self.height, side, name)
            }
            "q" => {
                let quality = number(value, 100).ok_or_else(|| bad("must be 1 to 100"))?;
                // `number` bounded it to 100.
                set_once(&mut self.quality, quality as u8, name)
            }
            "f" => {
                let format = match lower.as_str() {
                    "jpeg" | "jpg" => RequestedFormat::Concrete(Format::Jpeg),
                    "png" => RequestedFormat::Concrete(Format::Png),
                    "webp" => RequestedFormat::Concrete(Format::Webp),
                    "avif" => RequestedFormat::Concrete(Format::Avif),
                    "auto" => RequestedFormat::Auto,
                    _ => return Err(bad("must be jpeg, png, webp, avif or auto")),
                };
                set_once(&mut self.format, format, name)
            }
            "fit" => {
                let fit = Fit::parse(&lower)
                    .ok_or_else(|| bad("must be cover, contain, fill, inside or outside"))?;
                set_once(&mut self.fit, fit, name)
            }
            "enlarge" => {
                let enlarge = match lower.as_str() {
                    "1" | "true" => true,
                    "0" | "false" => false,
                    _ => return Err(bad("must be 1, true, 0 or false")),
                };
                set_once(&mut self.enlarge, enlarge, name)
            }
            "s" => {
                let base64url = value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !base64url {
                    return Err(bad("must be base64url without padding"));
                }
                set_once(&mut self.signature, value.to_owned(), name)
            }
            _ => Err(invalid(
                name,
                "is not a parameter (use w, h, fit, enlarge, f, q, s)",
            )),
        }
    }

    fn resolve(self, accept: Option<&str>) -> TransformQuery {
        let both_sides = self.width.is_some() && self.height.is_some();
        let (format, auto_format) = match self.format {
            Some(RequestedFormat::Concrete(format)) => (Some(format), false),
            Some(RequestedFormat::Auto) => (Some(negotiate(accept)), true),
            None => (None, false),
        };
        TransformQuery {
            width: self.width,
            height: self.height,
            fit: match self.fit {
                Some(fit) if both_sides => fit,
                _ if both_sides => Fit::Cover,
                _ => Fit::Inside,
            },
            enlarge: self.enlarge.unwrap_or(false),
            format,
            quality: self.quality.unwrap_or(DEFAULT_QUALITY),
            signature: self.signature,
            auto_format,
        }
    }
}

fn invalid(param: &str, problem: &str) -> RequestError {
    RequestError::InvalidParam {
        param: param.to_owned(),
        problem: problem.to_owned(),
    }
}

fn side_rule(max_side: u32) -> String {
    format!("must be 1 to {max_side}")
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), RequestError> {
    if slot.is_some() {
        return Err(invalid(name, "is given more than once"));
    }
    *slot = Some(value);
    Ok(())
}

/// ASCII digits with any leading zeros, 1..=max.
fn number(value: &str, max: u32) -> Option<u32> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = value.trim_start_matches('0');
    // More digits than any u32 bound has would overflow; they are out of range anyway.
    if digits.is_empty() || digits.len() > 10 {
        return None;
    }
    let number: u64 = digits.parse().ok()?;
    (number <= u64::from(max)).then_some(number as u32)
}

/// `f=auto`: AVIF, then WebP, then JPEG, by what `Accept` names explicitly with q > 0.
pub fn negotiate(accept: Option<&str>) -> Format {
    let accepts = |wanted: &str| {
        accept.is_some_and(|header| {
            header.split(',').any(|range| {
                let mut parts = range.split(';');
                let media_type = trim(parts.next().unwrap_or(""));
                media_type.eq_ignore_ascii_case(wanted) && quality_of(parts) > 0.0
            })
        })
    };
    if accepts("image/avif") {
        Format::Avif
    } else if accepts("image/webp") {
        Format::Webp
    } else {
        Format::Jpeg
    }
}

/// The `q` parameter of one media range; 1 when absent, 0 when unreadable. Read as an f64, as
/// the CloudFront Function's `parseFloat` reads it: an f32 would round `q=1e-50` down to 0 and
/// the two would choose different formats (found by the `canonical_diff` fuzz target).
fn quality_of<'a>(params: impl Iterator<Item = &'a str>) -> f64 {
    for param in params {
        if let Some((name, value)) = param.split_once('=')
            && trim(name).eq_ignore_ascii_case("q")
        {
            return trim(value).parse().unwrap_or(0.0);
        }
    }
    1.0
}

/// Trims what JavaScript's `String.prototype.trim` trims, so that the CloudFront Function and
/// the origin agree on every header: Unicode white space as Rust's `trim` has it, plus U+FEFF
/// and minus U+0085, the two places where the languages' definitions differ.
fn trim(text: &str) -> &str {
    text.trim_matches(|c: char| (c.is_whitespace() && c != '\u{85}') || c == '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(raw: &str) -> String {
        TransformQuery::parse(raw, None, 4096).unwrap().canonical()
    }

    fn refused(raw: &str) -> String {
        match TransformQuery::parse(raw, None, 4096) {
            Err(RequestError::InvalidParam { param, .. }) => param,
            other => panic!("{raw:?} gave {other:?}"),
        }
    }

    #[test]
    fn order_defaults_and_spelling_do_not_matter() {
        assert_eq!(canonical("h=150&w=200"), "w=200&h=150");
        assert_eq!(canonical("W=0200&h=150&q=80&fit=COVER"), "w=200&h=150");
        assert_eq!(canonical("f=JPG&w=10&q=50"), "w=10&f=jpeg&q=50");
        assert_eq!(canonical("w=10&fit=fill"), "w=10");
        assert_eq!(canonical("f=png&q=30"), "f=png");
        assert_eq!(canonical("enlarge=1"), "");
        assert_eq!(
            canonical("enlarge=true&h=5&fit=contain&w=4"),
            "w=4&h=5&fit=contain&enlarge=1"
        );
        assert_eq!(canonical(""), "");
    }

    #[test]
    fn bad_values_name_their_parameter() {
        assert_eq!(refused("w=0"), "w");
        assert_eq!(refused("w=4097"), "w");
        assert_eq!(refused("h=1e3"), "h");
        assert_eq!(refused("q=101"), "q");
        assert_eq!(refused("f=gif"), "f");
        assert_eq!(refused("fit=crop"), "fit");
        assert_eq!(refused("w=1&W=2"), "w");
        assert_eq!(refused("width=100"), "width");
        assert_eq!(refused("s=abc="), "s");
        assert_eq!(refused("w=99999999999999999999"), "w");
    }

    #[test]
    fn auto_format_follows_accept() {
        let resolve = |accept| {
            TransformQuery::parse("f=auto", accept, 4096)
                .unwrap()
                .canonical()
        };
        assert_eq!(resolve(Some("image/avif,image/webp,*/*")), "f=avif");
        assert_eq!(resolve(Some("image/avif;q=0, image/webp")), "f=webp");
        assert_eq!(resolve(Some("image/*,*/*;q=0.8")), "f=jpeg");
        assert_eq!(resolve(None), "f=jpeg");
    }

    /// Disagreements with the CloudFront Function that the differential fuzz target showed:
    /// a tiny but positive q, and the white space only one of the languages trims.
    #[test]
    fn accept_is_read_as_the_cloudfront_function_reads_it() {
        let resolve = |accept| {
            TransformQuery::parse("f=auto", Some(accept), 4096)
                .unwrap()
                .canonical()
        };
        assert_eq!(resolve("image/avif;q=1e-50"), "f=avif");
        assert_eq!(resolve("image/avif;q=1e-400"), "f=jpeg");
        assert_eq!(resolve("\u{FEFF}image/avif"), "f=avif");
        assert_eq!(resolve("image/webp;\u{FEFF}q\u{FEFF}=\u{FEFF}0"), "f=jpeg");
        assert_eq!(resolve("\u{85}image/avif"), "f=jpeg");
    }

    /// The vectors shared with the CloudFront Function (`cloudfront/canonicalize.test.js`).
    #[test]
    fn shared_vectors_hold() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/canonical.json")).unwrap();
        let max_side = fixture["max_side"].as_u64().unwrap() as u32;
        let cases = fixture["cases"].as_array().unwrap();
        assert!(cases.len() > 50);
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let raw = case["query"].as_str().unwrap();
            let accept = case["accept"].as_str();
            let result = TransformQuery::parse(raw, accept, max_side);
            if let Some(expected) = case.get("canonical") {
                let query = result.unwrap_or_else(|e| panic!("{name}: {raw:?} gave {e}"));
                assert_eq!(
                    query.canonical_with_signature(),
                    expected.as_str().unwrap(),
                    "{name}: {raw:?}"
                );
                assert_eq!(
                    query.auto_format,
                    case["vary"].as_bool().unwrap(),
                    "{name}: vary"
                );
            } else {
                let param = case["error"]["param"].as_str().unwrap();
                match result {
                    Err(RequestError::InvalidParam { param: got, .. }) => {
                        assert_eq!(got, param, "{name}: {raw:?}")
                    }
                    other => panic!("{name}: {raw:?} should fail on {param:?}, gave {other:?}"),
                }
            }
        }
    }

    #[test]
    fn signatures_cover_the_auto_spelling() {
        let query = TransformQuery::parse("f=auto&w=5&s=abc", Some("image/webp"), 4096).unwrap();
        assert_eq!(query.canonical_with_signature(), "w=5&f=webp&s=abc");
        assert_eq!(query.signed_forms(), vec!["w=5&f=webp", "w=5&f=auto"]);
        let png = TransformQuery::parse("f=png", None, 4096).unwrap();
        assert_eq!(png.signed_forms(), vec!["f=png"]);
    }
}
