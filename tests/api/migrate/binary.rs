//! The real binary against the in-process S3 server: killed mid-run and run again, it finishes
//! without redoing what its mapping holds (a cut last line included), and its exit codes say
//! how it went.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::bucket::{self, MAPS, OLD_BUCKET, old_objects};
use crate::harness::s3::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use crate::harness::s3_faults::Fault;

/// `pixgate migrate` from the old bucket into the harness's bucket, both on `server`, with
/// the environment an operator would set and nothing from this machine's AWS setup.
fn migrate(server: &S3Server, mapping: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pixgate"));
    // Empty, so the SDK neither reads this machine's nor warns (on stdout) of a missing one.
    let none = mapping.with_extension("empty-aws-config");
    std::fs::write(&none, "").unwrap();
    command
        .arg("migrate")
        .args(["--source", &format!("s3://{OLD_BUCKET}")])
        .args(["--source-endpoint-url", &server.endpoint])
        .args(["--source-force-path-style", "true"])
        .args(["--map", MAPS[0], "--map", MAPS[1]])
        .arg("--mapping")
        .arg(mapping)
        .args(extra)
        .env("PIXGATE_STORAGE", "s3")
        .env("PIXGATE_BUCKET", BUCKET)
        .env("PIXGATE_S3_FORCE_PATH_STYLE", "true")
        .env("AWS_ENDPOINT_URL", &server.endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &none)
        .env("AWS_SHARED_CREDENTIALS_FILE", &none)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null());
    command
}

/// Runs to the end on a blocking thread (the S3 server runs on this test's runtime).
async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("binary runs"))
        .await
        .unwrap()
}

/// The whole JSON lines of a mapping file, and how many lines were not JSON.
fn read_mapping(path: &Path) -> (Vec<Value>, usize) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut whole = Vec::new();
    let mut broken = 0;
    for line in text.lines() {
        match serde_json::from_str(line) {
            Ok(value) => whole.push(value),
            Err(_) => broken += 1,
        }
    }
    (whole, broken)
}

fn key(line: &Value) -> &str {
    line["oldKey"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_resumes_without_redoing_what_is_mapped() {
    let server = S3Server::start().await;
    bucket::fill(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.jsonl");
    // Every request slowed down, so the run is still going when it is killed.
    server
        .faults
        .always(Fault::Delay(Duration::from_millis(250)));
    let mut child = migrate(&server, &mapping, &["--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while read_mapping_lines(&mapping) < 2 {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    server.faults.clear();

    // Keep the first line whole and cut the second in half, as a kill mid-write would.
    let text = std::fs::read_to_string(&mapping).unwrap();
    let first_end = text.find('\n').unwrap() + 1;
    let second_len = text[first_end..].find('\n').unwrap();
    std::fs::write(&mapping, &text.as_bytes()[..first_end + second_len / 2]).unwrap();
    let (kept, _) = read_mapping(&mapping);
    assert_eq!(kept.len(), 1);
    let kept_key = key(&kept[0]).to_owned();

    let puts = server.faults.puts();
    let rerun = output(migrate(&server, &mapping, &["--jobs", "2"])).await;
    let stderr = String::from_utf8_lossy(&rerun.stderr);
    let (lines, broken) = read_mapping(&mapping);
    assert_eq!(broken, 1, "the cut line stays, alone");
    let redone = &lines[1..];
    assert!(
        redone.iter().all(|line| key(line) != kept_key),
        "{kept_key} redone"
    );
    let objects = old_objects();
    assert_eq!(lines.len(), objects.len(), "{lines:?}");
    for object in &objects {
        let line = lines.iter().find(|l| key(l) == object.key).expect("mapped");
        assert_eq!(line["status"], object.status, "{line}");
    }
    let migrated_now = redone.iter().filter(|l| l["status"] == "migrated").count();
    assert_eq!(
        server.faults.puts() - puts,
        migrated_now,
        "one write per object redone"
    );
    let failed_now = redone.len() - migrated_now;
    let expected_code = if failed_now > 0 { 1 } else { 0 };
    assert_eq!(rerun.status.code(), Some(expected_code), "{stderr}");
    assert!(stderr.contains("skipped 1"), "{stderr}");
    assert!(stderr.contains("objects/s"), "{stderr}");

    // Everything is mapped: a third run skips it all and exits 0.
    let third = output(migrate(&server, &mapping, &[])).await;
    let stderr = String::from_utf8_lossy(&third.stderr);
    assert_eq!(third.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("migrated 0, skipped 7, failed 0"),
        "{stderr}"
    );
}

/// Complete lines written so far.
fn read_mapping_lines(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| text.matches('\n').count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_the_dry_run_through_the_binary() {
    let server = S3Server::start().await;
    bucket::fill(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("mapping.jsonl");

    let dry = output(migrate(&server, &mapping, &["--dry-run"])).await;
    assert_eq!(dry.status.code(), Some(1), "two objects fail");
    let stdout = String::from_utf8_lossy(&dry.stdout);
    let statuses: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert_eq!(statuses.len(), 7, "{stdout}");
    assert!(!mapping.exists());
    assert_eq!(server.faults.puts(), 0);

    let bad_map = output(migrate(&server, &mapping, &["--map", "x/=video"])).await;
    assert_eq!(bad_map.status.code(), Some(2));
    let mut no_bucket = migrate(&server, &mapping, &[]);
    no_bucket.env_remove("PIXGATE_BUCKET");
    let no_bucket = output(no_bucket).await;
    assert_eq!(no_bucket.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_bucket.stderr).contains("PIXGATE_BUCKET"));
    assert!(!mapping.exists(), "refused before anything was written");

    let real = output(migrate(&server, &mapping, &[])).await;
    let stderr = String::from_utf8_lossy(&real.stderr);
    assert_eq!(real.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("migrated 5, skipped 0, failed 2"),
        "{stderr}"
    );
    assert!(stderr.contains("failed corrupt_image: 1"), "{stderr}");
    assert_eq!(server.faults.puts(), 5);
}
