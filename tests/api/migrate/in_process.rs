//! The migration in process, from the old bucket on the in-process S3 server into a disk and
//! an S3 destination opened as `serve` opens them: what is stored, what the mapping says, what
//! a rerun skips, what a dry run keeps (nothing), retries and size refusals.

use std::path::Path;

use chrono::Utc;
use pixgate::Config;
use pixgate::migrate::{self, MapRule, Plan, Source, Summary};
use pixgate::storage::content_disposition;
use serde_json::Value;

use super::bucket::{
    self, DUPLICATE, GPS_PHOTO, MAPS, OLD_BUCKET, PROFILE, UNICODE, UNMAPPED, UNSTAMPED,
    faulted_client, listing, mapping_lines, old_objects,
};
use crate::harness::s3::{BUCKET, S3Server, SECRET_KEY};
use crate::harness::s3_faults::Fault;
use crate::harness::{config_with, corpus_image, inspect, metadata_blocks};

fn plan(source: Source, mapping: &Path) -> Plan {
    Plan {
        source,
        rules: MAPS.iter().map(|m| MapRule::parse(m).unwrap()).collect(),
        mapping: mapping.to_owned(),
        jobs: 2,
        retries: 3,
        dry_run: false,
    }
}

fn old_source(server: &S3Server) -> Source {
    Source::S3 {
        client: faulted_client(server),
        bucket: OLD_BUCKET.to_owned(),
        root: String::new(),
    }
}

/// The S3 destination: the harness's bucket on the same server, through the fault layer.
fn s3_config(server: &S3Server) -> (Config, pixgate::storage::SharedStore) {
    let config = config_with(&["--storage", "s3", "--bucket", BUCKET]);
    (config, std::sync::Arc::new(server.store(SECRET_KEY)))
}

async fn run(plan: Plan, store: pixgate::storage::SharedStore, config: &Config) -> Summary {
    migrate::run(plan, store, config)
        .await
        .expect("migration runs")
}

/// Checks every line against the old object it maps and the stored object it names, read
/// back with `stored`.
async fn check_mapping<F, Fut>(mapping: &Path, base_url: &str, stored: F)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Vec<u8>>,
{
    let lines = mapping_lines(mapping);
    let objects = old_objects();
    assert_eq!(lines.len(), objects.len(), "one line per mapped object");
    assert!(
        !lines.contains_key(UNMAPPED),
        "unmapped prefixes are not read"
    );
    for object in &objects {
        let line = &lines[object.key];
        assert_eq!(line["status"], object.status, "{}: {line}", object.key);
        assert_eq!(line["bytesBefore"], object.bytes.len(), "{}", object.key);
        if object.status != "migrated" {
            assert!(line.get("newKey").is_none(), "{line}");
            assert!(line["error"].as_str().is_some_and(|e| !e.is_empty()));
            continue;
        }
        let key = line["newKey"].as_str().expect("newKey").to_owned();
        assert_eq!(line["fileUrl"], format!("{base_url}/{key}"));
        let bytes = stored(key.clone()).await;
        assert_eq!(line["bytesAfter"], bytes.len(), "{key}");
        let image = inspect(&bytes);
        assert_eq!(
            (line["width"].as_u64(), line["height"].as_u64()),
            (Some(u64::from(image.width)), Some(u64::from(image.height))),
            "{key}"
        );
        assert!(metadata_blocks(&bytes).is_empty(), "{key} keeps metadata");
    }
    check_keys(&lines);
}

/// Dates from the old keys' `Date.now()` (or the object's LastModified), presets by prefix,
/// the same bytes to the same content key.
fn check_keys(lines: &std::collections::BTreeMap<String, Value>) {
    let new_key = |old: &str| lines[old]["newKey"].as_str().unwrap().to_owned();
    assert!(new_key(GPS_PHOTO).starts_with("images/2026/01/01/"));
    assert!(new_key(PROFILE).starts_with("profile/2023/11/14/"));
    let today = Utc::now().format("profile/%Y/%m/%d/").to_string();
    assert!(
        new_key(UNSTAMPED).starts_with(&today),
        "{}",
        new_key(UNSTAMPED)
    );
    assert_eq!(new_key(UNICODE), new_key(DUPLICATE));
    assert!(
        lines[PROFILE]["width"].as_u64().unwrap() <= 200,
        "profile preset"
    );
    assert_eq!(lines[GPS_PHOTO]["width"], 640, "image preset keeps 640x480");
}

#[tokio::test]
async fn the_old_bucket_migrates_into_s3_and_the_source_is_untouched() {
    let server = S3Server::start().await;
    bucket::fill(&server).await;
    let before = listing(&server, OLD_BUCKET).await;
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.jsonl");
    let (config, store) = s3_config(&server);
    let summary = run(plan(old_source(&server), &mapping), store, &config).await;

    assert_eq!(summary.migrated, 5, "{summary}");
    assert_eq!(summary.failed_total(), 2, "{summary}");
    assert_eq!(summary.failed["unsupported_format"], 1);
    assert_eq!(summary.failed["corrupt_image"], 1);
    assert!(!summary.is_clean());
    let base_url = format!("{}/{BUCKET}", server.endpoint);
    let server = &server;
    check_mapping(&mapping, &base_url, |key| async move {
        server.object(&key).await.expect("stored").to_vec()
    })
    .await;
    assert_eq!(listing(server, OLD_BUCKET).await, before, "source changed");

    // The GPS photo had EXIF (APP1) going in; the stored copy has none (checked above too).
    assert!(metadata_blocks(&corpus_image("DSCN0010.jpg")).contains(&"marker E1".to_owned()));
    let lines = mapping_lines(&mapping);
    let head = server
        .client(SECRET_KEY)
        .head_object()
        .bucket(BUCKET)
        .key(lines[UNICODE]["newKey"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    // The first of the two keys with these bytes may have been written first; either name is
    // the old key's `{name}`.
    let disposition = head.content_disposition().unwrap_or_default().to_owned();
    assert!(
        [
            content_disposition("사진 😀.png"),
            content_disposition("copy of 사진.png")
        ]
        .contains(&disposition),
        "{disposition}"
    );
}

#[tokio::test]
async fn the_old_bucket_migrates_onto_disk_as_serve_would_store_it() {
    let server = S3Server::start().await;
    bucket::fill(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mapping = dir.path().join("mapping.jsonl");
    let config = config_with(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--public-base-url",
        "https://cdn.example.com",
    ]);
    let store = migrate::open_destination(&config).await;
    let summary = run(plan(old_source(&server), &mapping), store, &config).await;
    assert_eq!(
        (summary.migrated, summary.failed_total()),
        (5, 2),
        "{summary}"
    );
    check_mapping(&mapping, "https://cdn.example.com", |key| {
        let path = data.join(&key);
        async move { std::fs::read(path).expect("stored on disk") }
    })
    .await;
}

#[tokio::test]
async fn a_folder_laid_out_like_the_bucket_migrates_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    bucket::fill_folder(&old);
    let data = dir.path().join("data");
    let mapping = dir.path().join("mapping.jsonl");
    let config = config_with(&["--data-dir", data.to_str().unwrap()]);
    let store = migrate::open_destination(&config).await;
    let summary = run(plan(Source::Folder(old), &mapping), store, &config).await;
    assert_eq!(
        (summary.migrated, summary.failed_total()),
        (5, 2),
        "{summary}"
    );
    check_mapping(&mapping, "http://127.0.0.1:3000/files", |key| {
        let path = data.join(&key);
        async move { std::fs::read(path).expect("stored on disk") }
    })
    .await;
}

#[tokio::test]
async fn a_rerun_skips_what_the_mapping_holds_and_retries_transient_failures() {
    let server = S3Server::start().await;
    bucket::fill(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.jsonl");
    let (config, store) = s3_config(&server);
    run(plan(old_source(&server), &mapping), store.clone(), &config).await;
    let puts = server.faults.puts();
    assert_eq!(puts, 5, "one write per migrated object");

    let again = run(plan(old_source(&server), &mapping), store.clone(), &config).await;
    assert_eq!((again.skipped, again.processed()), (7, 0), "{again}");
    assert!(again.is_clean());
    assert_eq!(server.faults.puts(), puts, "nothing written again");
    assert_eq!(mapping_lines(&mapping).len(), 7);

    // A transient failure recorded for one key (as a run with storage down would): the next
    // run redoes that key alone, and a partial last line is ignored.
    let failed = format!(
        "{{\"oldKey\":\"{PROFILE}\",\"status\":\"storage_unavailable\",\"bytesBefore\":1}}\n{{\"oldKey\":\"images/1767"
    );
    let mut text = std::fs::read_to_string(&mapping).unwrap();
    text.push_str(&failed);
    std::fs::write(&mapping, text).unwrap();
    let third = run(plan(old_source(&server), &mapping), store, &config).await;
    assert_eq!((third.skipped, third.migrated), (6, 1), "{third}");
    assert_eq!(server.faults.puts(), puts + 1);
    let last = std::fs::read_to_string(&mapping).unwrap();
    let last: Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["oldKey"].as_str(), last["status"].as_str()),
        (Some(PROFILE), Some("migrated"))
    );
}

#[tokio::test]
async fn a_dry_run_processes_everything_and_stores_nothing() {
    let server = S3Server::start().await;
    bucket::fill(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.jsonl");
    let (config, store) = s3_config(&server);
    let dry = Plan {
        dry_run: true,
        ..plan(old_source(&server), &mapping)
    };
    let summary = run(dry, store, &config).await;
    assert_eq!(
        (summary.migrated, summary.failed_total()),
        (5, 2),
        "{summary}"
    );
    assert_eq!(server.faults.puts(), 0, "a dry run writes nothing");
    assert!(!mapping.exists(), "a dry run writes no mapping file");
    assert!(listing(&server, BUCKET).await.is_empty());
}

#[tokio::test]
async fn transient_write_errors_are_retried_and_counted() {
    let server = S3Server::start().await;
    bucket::fill(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.jsonl");
    let (config, store) = s3_config(&server);
    // The source is read past the fault layer, so the faults land on the first writes: more
    // 500s than the SDK's own three attempts absorb.
    let source = Source::S3 {
        client: server.client(SECRET_KEY),
        bucket: OLD_BUCKET.to_owned(),
        root: String::new(),
    };
    server.faults.next(4, Fault::InternalError);
    let one_at_a_time = Plan {
        jobs: 1,
        ..plan(source, &mapping)
    };
    let summary = run(one_at_a_time, store, &config).await;
    assert_eq!(
        (summary.migrated, summary.failed_total()),
        (5, 2),
        "{summary}"
    );
    assert!(summary.retries >= 1, "{summary}");
}

#[tokio::test]
async fn objects_over_the_size_limit_are_refused_without_being_read() {
    let server = S3Server::start().await;
    bucket::fill(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.jsonl");
    let config = config_with(&[
        "--storage",
        "s3",
        "--bucket",
        BUCKET,
        "--max-file-bytes",
        "100000",
    ]);
    let store = std::sync::Arc::new(server.store(SECRET_KEY));
    let summary = run(plan(old_source(&server), &mapping), store, &config).await;
    // DSCN0010.jpg (161713 bytes) and Landscape_1.jpg (139435) are over 100000.
    assert_eq!(summary.failed["file_too_large"], 2, "{summary}");
    let lines = mapping_lines(&mapping);
    assert_eq!(lines[GPS_PHOTO]["status"], "file_too_large");
    let gets: Vec<_> = server
        .faults
        .seen()
        .into_iter()
        .filter(|s| s.method == "GET" && s.path.contains("holiday"))
        .collect();
    assert!(gets.is_empty(), "the large object was fetched: {gets:?}");
    let seen = server.faults.seen();
    assert!(
        seen.iter()
            .any(|s| s.method == "GET" && s.path.contains("notes")),
        "the source's reads are seen: {seen:?}"
    );
}
