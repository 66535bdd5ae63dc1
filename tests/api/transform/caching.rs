//! Cache headers and revalidation: Content-Length, Cache-Control, strong ETags, 304 without
//! reading the source, HEAD, and a configurable rendition cache policy.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use super::{IMMUTABLE, PHOTO, assert_error, assert_image, photo_app};
use crate::harness::{TestApp, corpus_image};

#[tokio::test]
async fn renditions_carry_length_cache_and_a_strong_etag_that_revalidates() {
    let app = TestApp::new();
    // Through the real upload route this time.
    let uploaded = app
        .upload_file(
            "type=image",
            "photo.jpg",
            "image/jpeg",
            corpus_image("DSCN0010.jpg"),
        )
        .await;
    assert_eq!(uploaded.status, StatusCode::OK);
    let key = uploaded.key(0);
    let uri = format!("/img/{key}?w=200");
    let served = app.get(&uri).await;
    let etag = assert_image(&served, "jpeg", (200, 150), &uri);
    assert_eq!(
        served.header(header::CONTENT_LENGTH),
        Some(served.body.len().to_string().as_str())
    );
    assert_eq!(served.header(header::CACHE_CONTROL), Some(IMMUTABLE));
    assert_eq!(served.header("x-content-type-options"), Some("nosniff"));
    assert!(
        etag.len() > 2 && etag.starts_with('"') && etag.ends_with('"'),
        "strong, quoted: {etag}"
    );
    assert_eq!(
        app.get(&uri).await.header(header::ETAG),
        Some(etag.as_str())
    );

    // Revalidation: 304, no body, no fetch of the source.
    for tag in [etag.clone(), format!("W/{etag}"), format!("\"x\", {etag}")] {
        app.forget_reads();
        let revalidated = app.get_with(&uri, &[("if-none-match", &tag)]).await;
        assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED, "{tag}");
        assert!(revalidated.body.is_empty());
        assert_eq!(revalidated.header(header::ETAG), Some(etag.as_str()));
        assert_eq!(revalidated.header(header::CACHE_CONTROL), Some(IMMUTABLE));
        assert!(
            !app.reads().iter().any(|r| r.starts_with("get ")),
            "a 304 fetched the source: {:?}",
            app.reads()
        );
    }
    let stale = app.get_with(&uri, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(stale.status, StatusCode::OK);

    // Every rendition has its own tag.
    let others = [
        format!("/img/{key}?w=201"),
        format!("/img/{key}?w=200&f=webp"),
        format!("/img/{key}?w=200&q=50"),
        format!("/img/{key}"),
    ];
    let mut tags = vec![etag.clone()];
    for other in &others {
        let response = app.get(other).await;
        assert_eq!(response.status, StatusCode::OK, "{other}");
        tags.push(response.header(header::ETAG).unwrap().to_owned());
    }
    let mut unique = tags.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), tags.len(), "{tags:?}");

    // HEAD: the same headers, no body.
    let head = app
        .send(Request::head(&uri).body(Body::empty()).unwrap())
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CACHE_CONTROL,
        header::ETAG,
    ] {
        assert_eq!(head.header(&name), served.header(&name), "HEAD {name}");
    }
}

#[tokio::test]
async fn cache_control_is_configurable_for_renditions_not_errors() {
    let custom = "public, max-age=600, s-maxage=86400";
    let app = photo_app(&["--transform-cache-control", custom]).await;
    let served = app.get(&format!("/img/{PHOTO}?w=50")).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.header(header::CACHE_CONTROL), Some(custom));
    let moved = app.get(&format!("/img/{PHOTO}?W=50")).await;
    assert_eq!(moved.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(moved.header(header::CACHE_CONTROL), Some(custom));
    let etag = served.header(header::ETAG).unwrap();
    let revalidated = app
        .get_with(&format!("/img/{PHOTO}?w=50"), &[("if-none-match", etag)])
        .await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    assert_eq!(revalidated.header(header::CACHE_CONTROL), Some(custom));
    let refused = app.get(&format!("/img/{PHOTO}?w=0")).await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "invalid_param", "w=0");
}
