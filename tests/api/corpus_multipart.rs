//! Every captured client request in the shared corpus, replayed byte for byte over a real
//! socket (only Host and Connection are rewritten), gets exactly its manifest's outcome.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Expectation, TestApp, TestResponse, check_stored_item, corpus_dir};
use crate::openapi::assert_upload_answer_matches_spec;

/// Status, headers (lower-cased names) and body of a raw HTTP/1.1 answer.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Sends raw request bytes and reads the answer until the server closes the connection.
pub async fn replay(addr: std::net::SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut raw))
        .await
        .expect("answer within a minute")
        .expect("read");
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> RawResponse {
    // Skip interim answers such as `100 Continue`.
    let mut rest = raw;
    loop {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("header end");
        let head = String::from_utf8_lossy(&rest[..end]).into_owned();
        let body = &rest[end + 4..];
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status");
        if status == 100 {
            rest = body;
            continue;
        }
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_vec()
        };
        return RawResponse {
            status,
            headers,
            body,
        };
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size");
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line_end]).trim(), 16)
            .expect("hex size");
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[line_end + 2..line_end + 2 + size]);
        body = &body[line_end + 4 + size..];
    }
}

/// The captured request with Host pointed at the test server and the connection closed after
/// the answer; everything else, body framing included, is as the client sent it.
fn retarget(capture: &[u8], addr: std::net::SocketAddr) -> Vec<u8> {
    let end = capture
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&capture[..end]);
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if i > 0 && (name == "host" || name == "connection") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
        if i == 0 {
            out.push_str(&format!("Host: {addr}\r\nConnection: close\r\n"));
        }
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&capture[end + 4..]);
    bytes
}

#[tokio::test]
async fn every_captured_client_request_gets_its_expected_outcome() {
    let app = TestApp::new();
    let addr = app.spawn().await;
    let dir = corpus_dir().join("multipart");
    let mut captures: Vec<_> = std::fs::read_dir(&dir)
        .expect("multipart dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "http"))
        .collect();
    captures.sort();
    assert!(captures.len() >= 20, "{} captures", captures.len());
    let mut failures = Vec::new();
    for capture in &captures {
        let sidecar: Value = serde_json::from_slice(
            &std::fs::read(capture.with_extension("json")).expect("sidecar"),
        )
        .expect("json");
        let expected = sidecar["expected"].as_str().expect("expected").to_owned();
        let query_type = sidecar["query"]["type"]
            .as_str()
            .unwrap_or("image")
            .to_owned();
        let label = format!(
            "{} (expected: {expected})",
            capture.file_name().unwrap().to_string_lossy()
        );
        let response = replay(
            addr,
            &retarget(&std::fs::read(capture).expect("capture"), addr),
        )
        .await;
        let test_response = TestResponse {
            status: StatusCode::from_u16(response.status).expect("status"),
            headers: response
                .headers
                .iter()
                .filter_map(|(n, v)| {
                    Some((n.parse::<axum::http::HeaderName>().ok()?, v.parse().ok()?))
                })
                .collect(),
            body: response.body.clone().into(),
        };
        assert_upload_answer_matches_spec(&test_response, &label);
        let expectation = Expectation::parse(&expected);
        if response.status == 200 && expectation.may_accept {
            let items = test_response.json();
            let items = items.as_array().expect("array");
            let sent_names: Vec<&str> = sidecar["parts"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p["filename"].as_str())
                .collect();
            assert_eq!(items.len(), sent_names.len(), "{label}: one item per file");
            for item in items {
                let out =
                    check_stored_item(&app, item, &query_type, expectation.upright, &label).await;
                let key = item["key"].as_str().unwrap();
                for name in &sent_names {
                    let stem = name.rsplit('/').next().unwrap().split('.').next().unwrap();
                    assert!(
                        !key.contains(stem) || stem.len() < 3,
                        "{label}: key {key} holds client text {stem:?}"
                    );
                }
                assert!(out.width > 0);
            }
        } else {
            let got = (response.status, test_response.error_code());
            if !expectation.rejections.contains(&got) {
                failures.push(format!(
                    "{label}: got {} {}",
                    got.0,
                    String::from_utf8_lossy(&response.body)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        captures.len(),
        failures.join("\n")
    );
}
