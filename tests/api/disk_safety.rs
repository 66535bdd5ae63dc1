//! The disk backend against a data directory that is not what pixgate wrote: keys the file
//! system refuses, symlinks planted inside it, non-image files under the prefixes, temp files
//! left by cut-off writes. Reads answer 404, never 502 and never a file outside the directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::http::StatusCode;
use bytes::Bytes;
use pixgate::storage::{self, Backend, FsStore, NewObject, Store};

use crate::harness::disk::temp_files;
use crate::harness::{TestApp, corpus_image};

const DAY: &str = "profile/2026/01/01";

/// Asserts `uri` answers the JSON 404, as any missing object does.
async fn assert_not_found(app: &TestApp, uri: &str) {
    let response = app.get(uri).await;
    response.assert_status(StatusCode::NOT_FOUND, uri);
    assert_eq!(response.error_code(), "not_found", "{uri}");
}

#[tokio::test]
async fn keys_the_file_system_refuses_are_not_found_on_every_read() {
    let app = TestApp::new();
    // A path through a file: `{DAY}/x.jpg` is a file, so nothing can lie under it (ENOTDIR).
    app.put(&format!("{DAY}/x.jpg"), corpus_image("DSCN0010.jpg"))
        .await;
    let long_segment = "a".repeat(300);
    for key in [
        format!("{DAY}/{long_segment}.jpg"),
        format!("profile/{long_segment}/x.jpg"),
        format!("{DAY}/x.jpg/y.jpg"),
    ] {
        assert_not_found(&app, &format!("/files/{key}")).await;
        assert_not_found(&app, &format!("/img/{key}?w=100")).await;
        // A revalidation reads only the version.
        let revalidated = app
            .get_with(&format!("/img/{key}?w=100"), &[("if-none-match", "\"x\"")])
            .await;
        revalidated.assert_status(StatusCode::NOT_FOUND, &key);
    }
}

/// A JPEG outside the data directory, and a directory holding one.
fn outside_targets(outside: &Path) -> (PathBuf, PathBuf) {
    let file = outside.join("secret.jpg");
    std::fs::write(&file, corpus_image("DSCN0010.jpg")).unwrap();
    let dir = outside.join("dir");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.jpg"), corpus_image("DSCN0010.jpg")).unwrap();
    (file, dir)
}

#[tokio::test]
async fn symlinks_planted_in_the_data_directory_are_not_followed() {
    let app = TestApp::new();
    let outside = tempfile::tempdir().unwrap();
    let (file, dir) = outside_targets(outside.path());
    let day = app.data_dir().join(DAY);
    std::fs::create_dir_all(&day).unwrap();
    std::os::unix::fs::symlink(&file, day.join("link.jpg")).unwrap();
    std::os::unix::fs::symlink(&dir, day.join("linked-dir")).unwrap();
    for key in [format!("{DAY}/link.jpg"), format!("{DAY}/linked-dir/a.jpg")] {
        assert_not_found(&app, &format!("/files/{key}")).await;
        assert_not_found(&app, &format!("/img/{key}?w=100")).await;
    }
}

#[tokio::test]
async fn only_image_files_under_the_prefixes_are_served() {
    let app = TestApp::new();
    let day = app.data_dir().join(DAY);
    std::fs::create_dir_all(&day).unwrap();
    for name in ["notes.txt", "page.html", "script.js", "no-extension"] {
        std::fs::write(day.join(name), "<script>alert(1)</script>").unwrap();
        assert_not_found(&app, &format!("/files/{DAY}/{name}")).await;
    }
    app.put(&format!("{DAY}/real.jpg"), corpus_image("DSCN0010.jpg"))
        .await;
    let served = app.get(&format!("/files/{DAY}/real.jpg")).await;
    served.assert_status(StatusCode::OK, "a stored JPEG");
}

fn set_age(path: &Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

fn plant(path: &Path, age: Duration) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"partial").unwrap();
    set_age(path, age);
}

#[tokio::test]
async fn opening_the_disk_store_sweeps_stale_temp_files_and_nothing_else() {
    let root = tempfile::tempdir().unwrap();
    let day = root.path().join(DAY);
    let hour = Duration::from_secs(3600);
    let stale = [
        day.join(".abc.jpg.4242.7.tmp"),
        root.path()
            .join(".meta")
            .join(DAY)
            .join(".abc.jpg.json.4242.8.tmp"),
    ];
    let kept = [
        // A write in progress right now.
        day.join(".def.jpg.4242.9.tmp"),
        // Objects, however old, and files that are not our temps.
        day.join("abc.jpg"),
        day.join("notes.tmp"),
        day.join(".keep"),
        day.join(".x.jpg.pid.1.tmp"),
    ];
    for path in &stale {
        plant(path, hour);
    }
    plant(&kept[0], Duration::ZERO);
    for path in &kept[1..] {
        plant(path, hour);
    }
    let backend = Backend::Disk {
        root: root.path().to_owned(),
        bucket: "local".into(),
    };
    let config = pixgate::Config::from_args::<_, &str>([]).unwrap();
    let settings = pixgate::state::staging_settings(&config);
    let _store = storage::open(&backend, "http://127.0.0.1/files".into(), settings).await;
    // The sweep runs beside the server's start, not before it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stale.iter().any(|p| p.exists()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for path in &stale {
        assert!(!path.exists(), "stale temp kept: {}", path.display());
    }
    for path in &kept {
        assert!(path.exists(), "swept: {}", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_cut_off_mid_write_leaves_no_temp_file() {
    let root = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::new(root.path(), "local", "http://x/files"));
    let key = "images/2026/01/01/big.png";
    let bytes = Bytes::from(vec![7u8; 64 << 20]);
    let put = store.put(NewObject {
        key: key.into(),
        bytes: bytes.clone(),
        content_type: "image/png",
        original_name: None,
    });
    // As the request time limit or a client's disconnect does: the future is dropped mid-write.
    let cut = tokio::time::timeout(Duration::from_millis(5), put).await;
    assert!(
        cut.is_err(),
        "the write finished before it could be cut off"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !temp_files(root.path()).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(temp_files(root.path()), Vec::<PathBuf>::new());
    // Either the whole object was published, or nothing was.
    if let Some(stored) = store.get(key).await.unwrap() {
        assert_eq!(stored.bytes.len(), bytes.len());
    }
}
