//! The old Lambda's bucket, generated: `{type}/{Date.now()}_{name}` keys with spaces and
//! unicode, the same bytes under two keys, a non-image, a corrupt JPEG, a GPS-tagged photo, a
//! key without a timestamp, and an unmapped prefix that must not be touched.

use std::collections::BTreeMap;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;

use crate::harness::corpus_image;
use crate::harness::s3::{ACCESS_KEY, S3Server, SECRET_KEY};

/// The bucket the old objects are in (pixgate's destination is the harness's own bucket).
pub const OLD_BUCKET: &str = "old-lambda";

/// The `--map` flags every test uses.
pub const MAPS: [&str; 2] = ["images/=image", "profile/=profile"];

/// One old object and the status its migration must end with.
pub struct OldObject {
    pub key: &'static str,
    pub bytes: Vec<u8>,
    pub status: &'static str,
}

pub const GPS_PHOTO: &str = "images/1767225600000_my holiday photo.jpg";
pub const UNICODE: &str = "images/1767225660000_사진 😀.png";
pub const DUPLICATE: &str = "images/1767225700000_copy of 사진.png";
pub const PROFILE: &str = "profile/1700000000000_me.jpg";
pub const UNSTAMPED: &str = "profile/avatar.png";
pub const UNMAPPED: &str = "other/1767225600000_elsewhere.jpg";

/// The objects under the mapped prefixes.
pub fn old_objects() -> Vec<OldObject> {
    let object = |key, name: &str, status| OldObject {
        key,
        bytes: corpus_image(name),
        status,
    };
    vec![
        object(GPS_PHOTO, "DSCN0010.jpg", "migrated"),
        object(UNICODE, "with-alpha.png", "migrated"),
        object(DUPLICATE, "with-alpha.png", "migrated"),
        object(
            "images/1767225800000_notes.jpg",
            "not-an-image.jpg",
            "unsupported_format",
        ),
        object(
            "images/1767225900000_broken photo.jpg",
            "corrupt-header.jpg",
            "corrupt_image",
        ),
        object(PROFILE, "Landscape_1.jpg", "migrated"),
        object(UNSTAMPED, "swiss.png", "migrated"),
    ]
}

/// Fills [`OLD_BUCKET`] on `server` with [`old_objects`], one object outside the mapped
/// prefixes and a "folder" marker.
pub async fn fill(server: &S3Server) {
    let admin = server.client(SECRET_KEY);
    admin
        .create_bucket()
        .bucket(OLD_BUCKET)
        .send()
        .await
        .expect("old bucket created");
    let unmapped = OldObject {
        key: UNMAPPED,
        bytes: corpus_image("Landscape_2.jpg"),
        status: "",
    };
    // What the S3 console makes for a "folder": not a file, never migrated.
    let folder = OldObject {
        key: "images/",
        bytes: Vec::new(),
        status: "",
    };
    for object in old_objects().into_iter().chain([unmapped, folder]) {
        admin
            .put_object()
            .bucket(OLD_BUCKET)
            .key(object.key)
            .body(ByteStream::from(object.bytes))
            .send()
            .await
            .expect("old object stored");
    }
}

/// Writes [`old_objects`] and the unmapped one as files under `root`, at their keys.
pub fn fill_folder(root: &std::path::Path) {
    let unmapped = (UNMAPPED, corpus_image("Landscape_2.jpg"));
    let objects = old_objects().into_iter().map(|o| (o.key, o.bytes));
    for (key, bytes) in objects.chain([unmapped]) {
        let path = root.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// Every key of `bucket` with its ETag and size: compared before and after to show the
/// source is untouched.
pub async fn listing(server: &S3Server, bucket: &str) -> BTreeMap<String, (String, i64)> {
    let admin = server.client(SECRET_KEY);
    let page = admin
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .expect("listed");
    page.contents()
        .iter()
        .map(|o| {
            (
                o.key().unwrap_or_default().to_owned(),
                (
                    o.e_tag().unwrap_or_default().to_owned(),
                    o.size().unwrap_or_default(),
                ),
            )
        })
        .collect()
}

/// A client of `server` through its fault layer, so the test sees every request it makes.
pub fn faulted_client(server: &S3Server) -> Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(&server.endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .force_path_style(true)
        .build();
    Client::from_conf(config)
}

/// The mapping file's lines, by old key (a key mapped twice fails the test).
pub fn mapping_lines(path: &std::path::Path) -> BTreeMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(path).expect("mapping file");
    let mut lines = BTreeMap::new();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).expect("whole JSON line");
        let key = value["oldKey"].as_str().expect("oldKey").to_owned();
        assert!(lines.insert(key.clone(), value).is_none(), "{key} twice");
    }
    lines
}
