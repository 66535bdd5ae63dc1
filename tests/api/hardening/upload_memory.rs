//! The upload memory budget: an upload that would take more than what is left is answered 503
//! before its body is read, and the share comes back when an upload ends, however it ends.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bytes::Bytes;
use tower::ServiceExt;

use crate::harness::{BOUNDARY, Multipart, TestApp, TestResponse, config_with, encode_png};

#[tokio::test]
async fn uploads_past_the_memory_budget_are_refused_until_it_comes_back() {
    let mib = "1048576";
    let app = TestApp::with_config(config_with(&[
        "--max-file-bytes",
        mib,
        "--max-request-bytes",
        mib,
        "--upload-memory-bytes",
        mib,
        "--direct-max-bytes",
        mib,
    ]));
    // A body of unknown length takes the largest share: the whole budget here. It stalls.
    let (sender, chunks) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    sender
        .send(Ok(Bytes::from(format!("--{BOUNDARY}\r\n"))))
        .await
        .unwrap();
    let stalled = {
        let router = app.router();
        let body = Body::from_stream(tokio_stream_from(chunks));
        let request = Request::post("/upload?type=profile")
            .header(header::CONTENT_TYPE, Multipart::content_type())
            .body(body)
            .unwrap();
        tokio::spawn(
            async move { TestResponse::read(router.oneshot(request).await.unwrap()).await },
        )
    };
    for _ in 0..500 {
        if app.upload_memory_available() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        app.upload_memory_available(),
        0,
        "the stalled upload holds the budget"
    );

    let small = encode_png(image::RgbImage::new(32, 32));
    let refused = app
        .upload_file("type=profile", "a.png", "image/png", small.clone())
        .await;
    refused.assert_status(StatusCode::SERVICE_UNAVAILABLE, "over the budget");
    assert_eq!(refused.error_code(), "overloaded");
    assert!(refused.header("retry-after").is_some());

    drop(sender); // the stalled client goes away
    let ended = stalled.await.unwrap();
    assert!(ended.status.is_client_error(), "{}", ended.status);
    assert_eq!(
        app.upload_memory_available(),
        1 << 20,
        "its share came back"
    );
    app.upload_file("type=profile", "a.png", "image/png", small)
        .await
        .assert_status(StatusCode::OK, "room again");
}

fn tokio_stream_from(
    mut chunks: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| chunks.poll_recv(cx))
}
