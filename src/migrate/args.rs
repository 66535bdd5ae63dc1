//! `pixgate migrate`'s flags: the destination and limits are `pixgate serve`'s own groups
//! (flattened, so the same flags and `PIXGATE_*` variables), plus where to read from, which
//! preset each old prefix gets, the mapping file and how hard to try.

use std::path::PathBuf;

use clap::Args;

use crate::config::ConfigArgs;
use crate::request::UploadKind;

/// Every flag of `pixgate migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// What to read: `s3://bucket[/root]` or a local folder laid out like the bucket.
    #[arg(long)]
    pub source: SourceSpec,

    /// Endpoint of an S3-compatible source (the destination's is `AWS_ENDPOINT_URL`).
    #[arg(long)]
    pub source_endpoint_url: Option<String>,

    /// Address the source bucket by path (`endpoint/bucket/key`), as most S3-compatible
    /// servers need.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub source_force_path_style: bool,

    /// `PREFIX=TYPE`: objects under `PREFIX` (below the source root) are migrated as uploads
    /// of `TYPE` (`profile` or `image`). Repeat; only mapped prefixes are read.
    #[arg(long = "map", value_name = "PREFIX=TYPE", required = true, value_parser = MapRule::parse)]
    pub maps: Vec<MapRule>,

    /// The JSON Lines mapping file: appended to, and read first to skip what it holds.
    #[arg(long)]
    pub mapping: PathBuf,

    /// Objects in flight at once (read, processed, stored).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,

    /// Tries after the first for a transient storage error (source read or destination write).
    #[arg(long, default_value_t = 4)]
    pub retries: u32,

    /// Read and process everything, store nothing: mapping lines go to stdout, not the file.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Where the old objects are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A bucket, and the key prefix its mapped prefixes are under (empty or ending in `/`).
    S3 {
        bucket: String,
        root: String,
    },
    Folder(PathBuf),
}

impl std::str::FromStr for SourceSpec {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let Some(rest) = raw.strip_prefix("s3://") else {
            return Ok(Self::Folder(PathBuf::from(raw)));
        };
        let (bucket, root) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{raw:?} names no bucket"));
        }
        let root = root.trim_end_matches('/');
        Ok(Self::S3 {
            bucket: bucket.to_owned(),
            root: if root.is_empty() {
                String::new()
            } else {
                format!("{root}/")
            },
        })
    }
}

/// `--map PREFIX=TYPE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRule {
    /// The old key prefix, ending in `/`.
    pub prefix: String,
    pub kind: UploadKind,
}

impl MapRule {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (prefix, kind) = raw
            .split_once('=')
            .ok_or_else(|| format!("{raw:?} is not PREFIX=TYPE"))?;
        let kind = UploadKind::from_segment(kind.trim())
            .map_err(|_| format!("{raw:?}: TYPE must be `profile` or `image`"))?;
        let prefix = prefix.trim().trim_matches('/');
        if prefix.is_empty() {
            return Err(format!("{raw:?} has an empty PREFIX"));
        }
        Ok(Self {
            prefix: format!("{prefix}/"),
            kind,
        })
    }
}

/// The rule whose prefix `key` (relative to the source root) lies under; the longest wins.
pub fn rule_for<'a>(rules: &'a [MapRule], key: &str) -> Option<&'a MapRule> {
    rules
        .iter()
        .filter(|rule| key.starts_with(&rule.prefix))
        .max_by_key(|rule| rule.prefix.len())
}

/// The rules to list, each prefix once: a prefix given twice is listed for its last rule, the
/// one [`rule_for`] picks.
pub fn distinct(rules: &[MapRule]) -> impl Iterator<Item = &MapRule> {
    rules.iter().enumerate().filter_map(|(i, rule)| {
        let later = rules[i + 1..].iter().any(|r| r.prefix == rule.prefix);
        (!later).then_some(rule)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse() {
        let parse = |raw: &str| raw.parse::<SourceSpec>();
        assert_eq!(
            parse("s3://old-bucket"),
            Ok(SourceSpec::S3 {
                bucket: "old-bucket".into(),
                root: String::new()
            })
        );
        assert_eq!(
            parse("s3://old/uploads/v1/"),
            Ok(SourceSpec::S3 {
                bucket: "old".into(),
                root: "uploads/v1/".into()
            })
        );
        assert!(parse("s3:///x").is_err());
        assert_eq!(
            parse("./dump"),
            Ok(SourceSpec::Folder(PathBuf::from("./dump")))
        );
    }

    #[test]
    fn map_rules_parse_and_match_the_longest_prefix() {
        let rules = vec![
            MapRule::parse("images/=image").unwrap(),
            MapRule::parse("images/avatars=profile").unwrap(),
            MapRule::parse(" profile = profile").unwrap(),
        ];
        assert_eq!(rules[2].prefix, "profile/");
        let kind = |key| rule_for(&rules, key).map(|rule| rule.kind);
        assert_eq!(kind("images/1_a.jpg"), Some(UploadKind::Image));
        assert_eq!(kind("images/avatars/1_a.jpg"), Some(UploadKind::Profile));
        assert_eq!(kind("profile/1_a.jpg"), Some(UploadKind::Profile));
        assert_eq!(kind("profiles/1_a.jpg"), None);
        assert_eq!(kind("other/1_a.jpg"), None);
        let twice = [
            MapRule::parse("images=image").unwrap(),
            MapRule::parse("images/=profile").unwrap(),
        ];
        let listed: Vec<_> = distinct(&twice).collect();
        assert_eq!(listed, [&twice[1]]);
        assert_eq!(rule_for(&twice, "images/1_a.jpg"), Some(&twice[1]));
        for bad in ["images", "images/=video", "=image", "/=image"] {
            assert!(MapRule::parse(bad).is_err(), "{bad}");
        }
    }
}
