//! The protocol as clients use it, on both backends: a 48 MP photo in 5 MiB parts, a resume, an
//! abort, a single PUT, and what is left staged afterwards (nothing).

use serde_json::Value;

use super::client::{Direct, encode, photo_48mp};
use crate::harness::{Backend, corpus_image, inspect};

const PART: usize = 5 << 20;

fn parts_of(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.chunks(PART).collect()
}

/// The answer is the `/upload` item plus `location`, and the stored object is what it says.
async fn check_stored(direct: &Direct, item: &Value, prefix: &str, max_side: u32) {
    let key = item["key"].as_str().expect("key");
    assert!(key.starts_with(&format!("{prefix}/")), "{item}");
    assert_eq!(item["location"], item["fileUrl"], "{item}");
    assert_eq!(item["contentType"], "image/jpeg");
    let stored = direct.app.get(&format!("/files/{key}")).await;
    assert_eq!(stored.status, 200, "{key}");
    let image = inspect(&stored.body);
    assert_eq!(
        (u64::from(image.width), u64::from(image.height)),
        (
            item["width"].as_u64().unwrap(),
            item["height"].as_u64().unwrap()
        )
    );
    assert!(image.width.max(image.height) <= max_side, "{item}");
    assert_eq!(item["size"].as_u64().unwrap(), stored.body.len() as u64);
}

async fn a_48_mp_photo_in_5_mib_parts(backend: Backend) {
    let direct = Direct::start(backend, &[]).await;
    let photo = photo_48mp();
    let parts = parts_of(photo);
    assert!(parts.len() >= 3, "the photo is {} bytes", photo.len());
    let (upload_id, key) = direct.create("image", "IMG_0001.jpg").await;
    assert!(key.starts_with("incoming/"), "{key}");
    let mut etags = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let number = index as u32 + 1;
        let etag = direct
            .upload_part("image", (&upload_id, &key), number, part)
            .await;
        etags.push((number, etag));
    }
    // Two completes at once: one processes, the other is told so.
    let (first, second) = tokio::join!(
        direct.complete("image", (&upload_id, &key), &etags),
        direct.complete("image", (&upload_id, &key), &etags)
    );
    let (done, other) = if first.status == 200 {
        (first, second)
    } else {
        (second, first)
    };
    let item = done.expect(200, "complete").clone();
    assert_eq!(other.status, 409, "{}", other.body);
    assert_eq!(other.code(), "upload_in_progress");
    let top = format!(
        "upload_in_progress: {}",
        other.body["error"]["message"].as_str().unwrap()
    );
    assert_eq!(other.body["message"], top.as_str());
    check_stored(&direct, &item, "images", 1920).await;
    assert_eq!(item["originalName"], "IMG_0001.jpg");
    assert!(!direct.staged(&key).await, "nothing stays staged");
    // Completed is gone: a late retry is told so.
    let late = direct.complete("image", (&upload_id, &key), &etags).await;
    assert_eq!(
        (late.status, late.code()),
        (404, "upload_not_found"),
        "{}",
        late.body
    );
}

#[tokio::test]
async fn a_48_mp_photo_in_5_mib_parts_on_disk() {
    a_48_mp_photo_in_5_mib_parts(Backend::Disk).await;
}

#[tokio::test]
async fn a_48_mp_photo_in_5_mib_parts_on_s3() {
    a_48_mp_photo_in_5_mib_parts(Backend::S3).await;
}

async fn an_upload_resumes_from_its_listed_parts(backend: Backend) {
    let direct = Direct::start(backend, &[]).await;
    let photo = photo_48mp();
    let parts = parts_of(photo);
    let (upload_id, key) = direct.create("image", "resume.jpg").await;
    for number in [1, 2] {
        direct
            .upload_part(
                "image",
                (&upload_id, &key),
                number,
                parts[number as usize - 1],
            )
            .await;
    }
    // The client lost its state: it asks what is there.
    let listed = direct.list("image", &upload_id, &key).await;
    let listed = listed
        .expect(200, "list")
        .as_array()
        .expect("array")
        .clone();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let mut etags: Vec<(u32, String)> = Vec::new();
    for (index, part) in listed.iter().enumerate() {
        assert_eq!(part["PartNumber"], index as u64 + 1);
        assert_eq!(part["Size"], PART as u64);
        etags.push((
            index as u32 + 1,
            part["ETag"].as_str().expect("ETag").to_owned(),
        ));
    }
    for number in 3..=parts.len() as u32 {
        let etag = direct
            .upload_part(
                "image",
                (&upload_id, &key),
                number,
                parts[number as usize - 1],
            )
            .await;
        etags.push((number, etag));
    }
    let done = direct.complete("image", (&upload_id, &key), &etags).await;
    let item = done.expect(200, "complete after resume").clone();
    check_stored(&direct, &item, "images", 1920).await;
    assert!(!direct.staged(&key).await);
}

#[tokio::test]
async fn an_upload_resumes_from_its_listed_parts_on_disk() {
    an_upload_resumes_from_its_listed_parts(Backend::Disk).await;
}

#[tokio::test]
async fn an_upload_resumes_from_its_listed_parts_on_s3() {
    an_upload_resumes_from_its_listed_parts(Backend::S3).await;
}

async fn an_aborted_upload_is_gone(backend: Backend) {
    let direct = Direct::start(backend, &[]).await;
    let (upload_id, key) = direct.create("profile", "a.jpg").await;
    let photo = corpus_image("DSCN0010.jpg");
    direct
        .upload_part("profile", (&upload_id, &key), 1, &photo)
        .await;
    let path = format!("s3/multipart/{upload_id}?key={}", encode(&key));
    let aborted = direct.delete("profile", &path).await;
    assert_eq!(aborted.expect(200, "abort"), &serde_json::json!({}));
    for answer in [
        direct.list("profile", &upload_id, &key).await,
        direct.sign("profile", &upload_id, &key, 2).await,
        direct.delete("profile", &path).await,
    ] {
        assert_eq!(
            (answer.status, answer.code()),
            (404, "upload_not_found"),
            "{}",
            answer.body
        );
    }
    assert!(!direct.staged(&key).await);
}

#[tokio::test]
async fn an_aborted_upload_is_gone_on_disk() {
    an_aborted_upload_is_gone(Backend::Disk).await;
}

#[tokio::test]
async fn an_aborted_upload_is_gone_on_s3() {
    an_aborted_upload_is_gone(Backend::S3).await;
}

async fn a_single_put_then_complete(backend: Backend) {
    let direct = Direct::start(backend, &[]).await;
    let photo = corpus_image("DSCN0010.jpg");
    let (key, completed) = direct
        .single_put("profile", "me.jpg", "image/jpeg", photo)
        .await;
    let item = completed.expect(200, "complete").clone();
    check_stored(&direct, &item, "profile", 200).await;
    assert_eq!(item["originalName"], "me.jpg");
    assert!(!direct.staged(&key).await);
}

#[tokio::test]
async fn a_single_put_then_complete_on_disk() {
    a_single_put_then_complete(Backend::Disk).await;
}

#[tokio::test]
async fn a_single_put_then_complete_on_s3() {
    a_single_put_then_complete(Backend::S3).await;
}

async fn a_staged_text_file_is_refused_and_removed(backend: Backend) {
    let direct = Direct::start(backend, &[]).await;
    let (key, completed) = direct
        .single_put(
            "image",
            "notes.txt",
            "text/plain",
            b"not a picture".to_vec(),
        )
        .await;
    assert_eq!(
        (completed.status, completed.code()),
        (415, "unsupported_format"),
        "{}",
        completed.body
    );
    assert!(!direct.staged(&key).await, "a refused file is not kept");
    let again = direct
        .post("image", &format!("complete?key={}", encode(&key)), None)
        .await;
    assert_eq!((again.status, again.code()), (404, "upload_not_found"));
}

#[tokio::test]
async fn a_staged_text_file_is_refused_and_removed_on_disk() {
    a_staged_text_file_is_refused_and_removed(Backend::Disk).await;
}

#[tokio::test]
async fn a_staged_text_file_is_refused_and_removed_on_s3() {
    a_staged_text_file_is_refused_and_removed(Backend::S3).await;
}
