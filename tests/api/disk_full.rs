//! The disk backend on a full disk: a size-limited tmpfs (mounting needs root; the test says it
//! skipped otherwise). Every answer is a 200 for an object stored whole, or a 507 JSON error;
//! no temp file stays behind; once space is freed, a retry stores the object and heals a
//! truncated one found at its key.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use pixgate::storage::FsStore;
use sha2::{Digest, Sha256};

use crate::harness::disk::{Tmpfs, temp_files};
use crate::harness::{Multipart, TestApp, TestResponse, corpus_image, default_config};

/// Large photos, each a different key once processed.
const PHOTOS: &[&str] = &[
    "iphone_hdr_YES.jpg",
    "gain-map.jpg",
    "2569067123_aca715a2ee_o.jpg",
    "jolla.jpg",
    "canon_hdr_NO.jpg",
    "Channel_digital_image_CMYK_color.jpg",
    "DSCN0010.jpg",
    "Landscape_8.jpg",
    "Landscape_3.jpg",
];

async fn upload(app: &TestApp, photo: &str) -> TestResponse {
    let mut request = Multipart::new()
        .file(photo, "image/jpeg", corpus_image(photo))
        .request("/upload?type=image");
    request
        .headers_mut()
        .insert(header::ORIGIN, "https://chat.example.com".parse().unwrap());
    app.send(request).await
}

/// The first 128 bits of SHA-256, as keys name content.
fn content_hash(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..16])
}

/// Asserts the object at `key` under `root` is whole: the size answered and the key's hash.
fn assert_whole(root: &Path, key: &str, size: u64) {
    let bytes = std::fs::read(root.join(key)).unwrap_or_else(|e| panic!("{key}: {e}"));
    assert_eq!(bytes.len() as u64, size, "{key} is cut short");
    let stem = key.rsplit('/').next().and_then(|f| f.split('.').next());
    assert_eq!(stem, Some(content_hash(&bytes).as_str()), "{key} content");
    let sidecar = std::fs::read(root.join(".meta").join(format!("{key}.json"))).unwrap();
    serde_json::from_slice::<serde_json::Value>(&sidecar)
        .unwrap_or_else(|e| panic!("{key}: sidecar is not JSON ({e})"));
}

/// A 200 stored whole, or a 507 JSON error with CORS headers: never anything else.
fn check_answer(root: &Path, photo: &str, response: &TestResponse) -> bool {
    match response.status {
        StatusCode::OK => {
            let item = &response.json()[0];
            let key = item["key"].as_str().unwrap();
            assert_whole(root, key, item["size"].as_u64().unwrap());
            true
        }
        StatusCode::INSUFFICIENT_STORAGE => {
            assert_eq!(response.error_code(), "insufficient_storage", "{photo}");
            assert!(
                response
                    .header(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                    .is_some(),
                "{photo}: 507 without CORS headers"
            );
            false
        }
        _ => panic!("{photo}: answered {response:?}"),
    }
}

/// A file of `size` bytes taking room on the file system.
fn ballast(path: &Path, size: usize) {
    std::fs::write(path, vec![0u8; size]).unwrap();
}

/// Fills what is left of the file system at `path` with one file.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 4096];
    while file.write_all(&chunk).is_ok() {}
}

/// Removes every file under `dir` except `keep`.
fn remove_all_but(dir: &Path, keep: &[PathBuf]) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_all_but(&path, keep);
        } else if !keep.contains(&path) {
            std::fs::remove_file(&path).unwrap();
        }
    }
}

/// Where `photo` is stored (today's key) and its bytes, found on a scratch app.
async fn stored_bytes(photo: &str) -> (String, Vec<u8>) {
    let scratch = TestApp::new();
    let response = upload(&scratch, photo).await;
    response.assert_status(StatusCode::OK, photo);
    let key = response.key(0);
    let bytes = std::fs::read(scratch.data_dir().join(&key)).unwrap();
    (key, bytes)
}

#[tokio::test]
async fn a_full_disk_answers_507_never_a_truncated_200_and_a_retry_heals() {
    let tmpfs = match Tmpfs::mount("4m") {
        Ok(tmpfs) => tmpfs,
        Err(reason) => {
            println!("skipped: a_full_disk test needs a tmpfs ({reason})");
            return;
        }
    };
    let root = tmpfs.path();
    let store = FsStore::new(root, "local", "http://127.0.0.1/files");
    let app = TestApp::with_store(default_config(), Arc::new(store));

    // A truncated object and an empty sidecar at the key of the photo retried last, as an
    // earlier full disk left them.
    let (healed_photo, last) = ("DSCN0010.jpg", PHOTOS.len() - 1);
    let (key, bytes) = stored_bytes(healed_photo).await;
    std::fs::create_dir_all(root.join(&key).parent().unwrap()).unwrap();
    std::fs::write(root.join(&key), &bytes[..bytes.len() / 3]).unwrap();
    let sidecar = root.join(".meta").join(format!("{key}.json"));
    std::fs::create_dir_all(sidecar.parent().unwrap()).unwrap();
    std::fs::write(&sidecar, b"").unwrap();

    // Processed photos are 0.1 to 0.3 MB: a ballast leaves room for a few of them only.
    ballast(&root.join("ballast"), 3584 << 10);
    let mut refused = Vec::new();
    for photo in &PHOTOS[..last] {
        if !check_answer(root, photo, &upload(&app, photo).await) {
            refused.push(*photo);
        }
    }
    assert!(
        !refused.is_empty(),
        "4 MiB held every photo: the disk never filled"
    );
    // Whatever room is left is taken, so the last photo cannot fit either.
    fill(&root.join("filler"));
    let response = upload(&app, healed_photo).await;
    assert!(!check_answer(root, healed_photo, &response));
    assert_eq!(temp_files(root), Vec::<PathBuf>::new(), "temp files left");

    // Space is freed: everything but the truncated object and its sidecar goes.
    remove_all_but(root, &[root.join(&key), sidecar.clone()]);
    for photo in [healed_photo, refused[0]] {
        let response = upload(&app, photo).await;
        response.assert_status(StatusCode::OK, &format!("{photo} after freeing space"));
        check_answer(root, photo, &response);
    }
    assert_whole(root, &key, bytes.len() as u64);
    assert_eq!(temp_files(root), Vec::<PathBuf>::new(), "temp files left");
    let served = app
        .send(
            Request::get(format!("/files/{key}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    served.assert_status(StatusCode::OK, "healed object");
    assert_eq!(served.body.as_ref(), bytes.as_slice());
}
