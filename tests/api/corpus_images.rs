//! Every image of the shared corpus, as `profile` and as `image`, gets exactly its manifest's
//! expected outcome.

use axum::http::StatusCode;

use crate::harness::{Expectation, TestApp, check_stored_item, corpus_dir, corpus_image};
use crate::openapi::assert_upload_answer_matches_spec;

struct Row {
    file: String,
    expected: String,
}

fn manifest() -> Vec<Row> {
    let text = std::fs::read_to_string(corpus_dir().join("images/manifest.tsv")).expect("manifest");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect("column");
    let (file, expected) = (col("file"), col("expected"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            Row {
                file: cells[file].to_owned(),
                expected: cells[expected].to_owned(),
            }
        })
        .collect()
}

#[tokio::test]
async fn every_corpus_image_gets_its_expected_outcome_as_profile_and_as_image() {
    let app = TestApp::new();
    let rows = manifest();
    assert!(rows.len() >= 50, "manifest has {} rows", rows.len());
    let mut checked = 0;
    let mut failures = Vec::new();
    for row in &rows {
        let expectation = Expectation::parse(&row.expected);
        for query_type in ["profile", "image"] {
            let label = format!("{} as {query_type} (expected: {})", row.file, row.expected);
            let response = app
                .upload_file(
                    &format!("type={query_type}"),
                    &row.file,
                    "application/octet-stream",
                    corpus_image(&row.file),
                )
                .await;
            assert_upload_answer_matches_spec(&response, &label);
            if response.status == StatusCode::OK && expectation.may_accept {
                let items = response.json();
                check_stored_item(&app, &items[0], query_type, expectation.upright, &label).await;
            } else {
                let got = (response.status.as_u16(), response.error_code());
                if !expectation.rejections.contains(&got) {
                    failures.push(format!(
                        "{label}: got {} {}",
                        got.0,
                        String::from_utf8_lossy(&response.body)
                    ));
                }
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn gps_tagged_photos_lose_their_gps() {
    let app = TestApp::new();
    for file in ["DSCN0010.jpg", "iphone_hdr_YES.jpg"] {
        let original = corpus_image(file);
        assert!(
            original.windows(6).any(|w| w == b"Exif\0\0"),
            "{file} has EXIF to start with"
        );
        let response = app
            .upload_file("type=image", file, "image/jpeg", original)
            .await;
        assert_eq!(response.status, StatusCode::OK, "{file}");
        let key = response.key(0);
        let stored = app.get(&format!("/files/{key}")).await.body;
        assert!(
            !stored.windows(4).any(|w| w == b"Exif"),
            "{file}: EXIF survived"
        );
        assert!(
            !stored.windows(4).any(|w| w == b"GPS\0"),
            "{file}: GPS survived"
        );
    }
}
