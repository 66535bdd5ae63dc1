//! The shared corpus's contract: the `expected` grammar of its manifests, the box each upload
//! type must fit in, and the checks every accepted item must pass once stored.

use axum::http::{StatusCode, header};
use serde_json::Value;

use super::app::TestApp;
use super::images::{Inspected, inspect, metadata_blocks};

/// The shape an accepted image must have after orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upright {
    Landscape,
    Portrait,
    Square,
}

impl Upright {
    pub fn parse(expected: &str) -> Option<Self> {
        let value = expected.split("upright=").nth(1)?;
        let word: String = value
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        match word.as_str() {
            "landscape" => Some(Self::Landscape),
            "portrait" => Some(Self::Portrait),
            "square" => Some(Self::Square),
            _ => None,
        }
    }

    pub fn of(width: u32, height: u32) -> Self {
        match width.cmp(&height) {
            std::cmp::Ordering::Greater => Self::Landscape,
            std::cmp::Ordering::Less => Self::Portrait,
            std::cmp::Ordering::Equal => Self::Square,
        }
    }
}

/// The contract's `expected` grammar: an accept, a reject with one or more allowed
/// status/reason pairs, or either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    pub may_accept: bool,
    pub rejections: Vec<(u16, String)>,
    pub upright: Option<Upright>,
}

impl Expectation {
    pub fn parse(expected: &str) -> Self {
        let head = expected.split(';').next().unwrap_or_default();
        let head = head.strip_prefix("optional:").unwrap_or(head).trim();
        let may_accept = head.starts_with("accept");
        let mut rejections = Vec::new();
        let words: Vec<&str> = head.split_whitespace().collect();
        for window in words.windows(3) {
            if (window[0] == "reject" || window[0] == "or")
                && let Ok(status) = window[1].parse::<u16>()
            {
                rejections.push((status, window[2].to_owned()));
            }
        }
        Self {
            may_accept,
            rejections,
            upright: Upright::parse(expected),
        }
    }
}

/// The box an upload type must fit in, given the upright output shape.
pub fn fits_preset(query_type: &str, width: u32, height: u32) -> bool {
    match query_type {
        "profile" => width <= 200 && height <= 200,
        _ if width >= height => width <= 1920 && height <= 1080,
        _ => width <= 1080 && height <= 1920,
    }
}

/// Checks one accepted item against the stored object and the contract; returns the decoded
/// image for further checks.
pub async fn check_stored_item(
    app: &TestApp,
    item: &Value,
    query_type: &str,
    upright: Option<Upright>,
    label: &str,
) -> Inspected {
    let key = item["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{label}: no key in {item}"));
    let prefix = if query_type == "profile" {
        "profile/"
    } else {
        "images/"
    };
    assert!(
        key.starts_with(prefix),
        "{label}: key {key} outside {prefix}"
    );
    assert!(!key.contains(".."), "{label}: key {key}");
    let stored = app.get(&format!("/files/{key}")).await;
    assert_eq!(stored.status, StatusCode::OK, "{label}: GET /files/{key}");
    let out = inspect(&stored.body);
    assert_eq!(
        item["width"].as_u64(),
        Some(u64::from(out.width)),
        "{label}: width"
    );
    assert_eq!(
        item["height"].as_u64(),
        Some(u64::from(out.height)),
        "{label}: height"
    );
    assert_eq!(
        item["size"].as_u64(),
        Some(stored.body.len() as u64),
        "{label}: size"
    );
    assert_eq!(
        stored.header(header::CONTENT_TYPE),
        item["contentType"].as_str(),
        "{label}: content type"
    );
    assert!(out.width >= 1 && out.height >= 1, "{label}: empty side");
    assert!(
        fits_preset(query_type, out.width, out.height),
        "{label}: {}x{} outside the {query_type} box",
        out.width,
        out.height
    );
    if let Some(upright) = upright {
        assert_eq!(
            Upright::of(out.width, out.height),
            upright,
            "{label}: {}x{} not {upright:?}",
            out.width,
            out.height
        );
    }
    let leftovers = metadata_blocks(&stored.body);
    assert!(
        leftovers.is_empty(),
        "{label}: metadata left in output: {leftovers:?}"
    );
    out
}
