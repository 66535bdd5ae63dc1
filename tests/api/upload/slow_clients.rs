//! Clients over a real socket that stream the body after the headers, or stall mid-body.

use crate::harness::{BOUNDARY, Multipart, TestApp, config_with};

/// Clients such as Postman and browsers send the headers, then stream the body. An answer
/// decided from the headers alone must still reach them: the server reads the body before
/// answering instead of closing the socket under the client's writes.
#[tokio::test]
async fn early_refusals_reach_clients_that_stream_the_body_after_the_headers() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::new();
    let addr = app.spawn().await;
    let body = Multipart::new()
        .file("a.jpg", "image/jpeg", vec![0x55; 3 << 20])
        .body();
    let cases = [
        ("type=avatar", Multipart::content_type(), "invalid_type"),
        (
            "type=profile",
            "application/octet-stream".to_owned(),
            "unsupported_media_type",
        ),
        (
            "type=profile",
            "multipart/form-data; boundary=not-the-one".to_owned(),
            "malformed_multipart",
        ),
    ];
    for (query, content_type, code) in cases {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /upload?{query} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        for chunk in body.chunks(64 * 1024) {
            stream
                .write_all(chunk)
                .await
                .unwrap_or_else(|e| panic!("{code}: body write failed: {e}"));
        }
        let mut answer = vec![0; 4096];
        let n = stream.read(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]);
        assert!(
            answer.contains(&format!("\"code\":\"{code}\"")),
            "{code}: {answer}"
        );
    }
}

#[tokio::test]
async fn a_client_that_stalls_mid_body_gets_408_instead_of_holding_the_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::with_config(config_with(&["--request-timeout-secs", "1"]));
    let addr = app.spawn().await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /upload?type=profile HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {}\r\nContent-Length: 100000\r\n\r\n--{BOUNDARY}\r\n",
        Multipart::content_type()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("answered well before the client gives up")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
}
