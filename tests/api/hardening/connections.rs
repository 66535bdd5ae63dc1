//! The local server's accept loop over real sockets: the connection cap, the head deadline
//! (which also sheds idle keep-alive connections), a bounded shutdown, and JSON answers for
//! oversized heads.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{TestApp, config_with};

/// Reads until the server closes the connection (or `limit` passes), returning what came.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&answer).into_owned())
}

async fn get(addr: SocketAddr, target: &str, extra_headers: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://chat.example\r\n{extra_headers}Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("answered within 10 s")
}

/// The issue-10 lockout: sockets that send nothing held every slot. Now the connections past
/// the cap are told 503 at once, and the silent ones are closed at the head deadline, after
/// which the server answers again.
#[tokio::test]
async fn silent_sockets_are_capped_and_shed_at_the_head_deadline() {
    let app = TestApp::with_config(config_with(&[
        "--max-connections",
        "4",
        "--header-read-timeout-secs",
        "1",
    ]));
    let addr = app.spawn().await;
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    // Let the server accept all four before the fifth arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let over = get(addr, "/healthz", "").await;
    assert!(over.starts_with("HTTP/1.1 503"), "{over}");
    assert!(
        over.to_ascii_lowercase().contains("retry-after: "),
        "{over}"
    );
    assert!(over.contains(r#""code":"overloaded""#), "{over}");

    for stream in &mut silent {
        let closed = read_until_closed(stream, Duration::from_secs(5)).await;
        assert!(closed.is_some(), "a silent socket was closed by the server");
    }
    let after = get(addr, "/healthz", "").await;
    assert!(after.starts_with("HTTP/1.1 200"), "{after}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_head_deadline() {
    let app = TestApp::with_config(config_with(&["--header-read-timeout-secs", "1"]));
    let addr = app.spawn().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let everything = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server closed the idle connection");
    assert!(everything.starts_with("HTTP/1.1 200"), "{everything}");
}

/// One unfinished request head kept a SIGTERM'd server from ever exiting.
#[tokio::test]
async fn shutdown_is_bounded_by_the_drain_timeout_even_with_an_unfinished_head() {
    let config = config_with(&["--shutdown-timeout-secs", "1"]);
    let http = config.http().clone();
    let app = TestApp::with_config(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = app.router();
    let server = tokio::spawn(async move {
        pixgate::server::serve(listener, router, &http, 16, async {
            let _ = stopped.await;
        })
        .await;
    });
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /heal").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    // The head deadline is 10 s by default; the drain is 1 s. Either way the server ends, and
    // well before the default deadline.
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server exits within the drain timeout")
        .unwrap();
}

/// Oversized heads were answered by hyper with an empty 431 and no CORS headers.
#[tokio::test]
async fn oversized_heads_get_json_answers_with_cors() {
    let app = TestApp::new();
    let addr = app.spawn().await;
    let many: String = (0..150).map(|i| format!("X-Filler-{i}: {i}\r\n")).collect();
    let answer = get(addr, "/img/images/a.jpg?w=10", &many).await;
    assert_json_refusal(&answer, 431, "headers_too_large");

    let long = format!("/img/images/{}.jpg?w=10", "a".repeat(9000));
    let answer = get(addr, &long, "").await;
    assert_json_refusal(&answer, 414, "uri_too_long");
}

/// A raw HTTP answer with `status`, the JSON error `code` and the CORS headers.
fn assert_json_refusal(answer: &str, status: u16, code: &str) {
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status}")),
        "{answer}"
    );
    assert!(answer.contains(&format!(r#""code":"{code}""#)), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{answer}"
    );
}
