//! Signed URLs (every configured key verifies, checked before the canonical redirect, `f=auto`
//! signed as auto) and the allowed-sizes list.

use axum::http::{StatusCode, header};
use pixgate::request::signature::{sign, signed_message, signed_url};

use super::{PHOTO, assert_error, assert_image, assert_redirect, photo_app};
use crate::harness::{TestResponse, corpus_image};

const KEY_A: &str = "first-signing-key-0123456789";
const KEY_B: &str = "second-signing-key-0123456789";

fn signed(key: &str, secret: &str, canonical: &str) -> String {
    let s = sign(secret.as_bytes(), &signed_message(key, canonical));
    if canonical.is_empty() {
        format!("/img/{key}?s={s}")
    } else {
        format!("/img/{key}?{canonical}&s={s}")
    }
}

#[tokio::test]
async fn signed_urls_are_required_and_verified_against_every_key() {
    let app = photo_app(&["--signing-key", KEY_A, "--signing-key", KEY_B]).await;
    let forbidden = |label: &str, response: &TestResponse| {
        assert_error(response, StatusCode::FORBIDDEN, "bad_signature", label);
    };
    forbidden("no s", &app.get(&format!("/img/{PHOTO}?w=50")).await);
    forbidden("no s, no query", &app.get(&format!("/img/{PHOTO}")).await);
    let wrong = sign(b"not-a-configured-key-000", &signed_message(PHOTO, "w=50"));
    forbidden(
        "unknown key",
        &app.get(&format!("/img/{PHOTO}?w=50&s={wrong}")).await,
    );
    forbidden(
        "garbage s",
        &app.get(&format!("/img/{PHOTO}?w=50&s=AAAA")).await,
    );
    // Both keys verify (rotation).
    for secret in [KEY_A, KEY_B] {
        let uri = signed(PHOTO, secret, "w=50");
        assert_image(&app.get(&uri).await, "jpeg", (50, 38), &uri);
    }
    // A valid signature for other parameters or another key is refused.
    let good_for_50 = sign(KEY_A.as_bytes(), &signed_message(PHOTO, "w=50"));
    forbidden(
        "other params",
        &app.get(&format!("/img/{PHOTO}?w=51&s={good_for_50}")).await,
    );
    app.put("images/other.jpg", corpus_image("DSCN0010.jpg"))
        .await;
    forbidden(
        "other key",
        &app.get(&format!("/img/images/other.jpg?w=50&s={good_for_50}"))
            .await,
    );
    // The signature is checked before the canonical redirect: a bad one is never redirected,
    // a good one keeps `s` (last) in the canonical URL.
    forbidden(
        "non-canonical, bad s",
        &app.get(&format!("/img/{PHOTO}?s=AAAA&w=50")).await,
    );
    let uri = format!("/img/{PHOTO}?s={good_for_50}&W=050");
    assert_redirect(
        &app.get(&uri).await,
        &uri,
        &format!("/img/{PHOTO}?w=50&s={good_for_50}"),
    );
    // No parameters: the signature covers `/img/{key}` alone.
    let bare = signed_url(PHOTO, KEY_B.as_bytes(), 4096).unwrap();
    assert_eq!(bare, signed(PHOTO, KEY_B, ""));
    let original = app.get(&bare).await;
    assert_eq!(original.status, StatusCode::OK);
    assert_eq!(
        original.body.as_ref(),
        corpus_image("DSCN0010.jpg").as_slice()
    );

    // f=auto: signed as auto, still valid once auto is resolved (redirect, then followed).
    let auto = signed_url(
        &format!("/img/{PHOTO}?h=38&w=50&f=auto"),
        KEY_A.as_bytes(),
        4096,
    )
    .unwrap();
    assert!(auto.contains("?w=50&h=38&f=auto&s="), "{auto}");
    let auto_s = auto.rsplit_once("s=").unwrap().1;
    let moved = app.get_with(&auto, &[("accept", "image/webp")]).await;
    let target = assert_redirect(
        &moved,
        &auto,
        &format!("/img/{PHOTO}?w=50&h=38&f=webp&s={auto_s}"),
    );
    assert_eq!(moved.header(header::VARY), Some("Accept"));
    assert_image(&app.get(&target).await, "webp", (50, 38), &target);
    // ... but not for a format auto never picks, nor for other sizes.
    forbidden(
        "auto signature used for png",
        &app.get(&format!("/img/{PHOTO}?w=50&h=38&f=png&s={auto_s}"))
            .await,
    );
    forbidden(
        "auto signature used for another size",
        &app.get(&format!("/img/{PHOTO}?w=51&h=38&f=webp&s={auto_s}"))
            .await,
    );

    // Keys may also be given comma-separated (PIXGATE_SIGNING_KEYS=a,b).
    let app = photo_app(&["--signing-key", &format!("{KEY_A},{KEY_B}")]).await;
    let uri = signed(PHOTO, KEY_B, "w=50");
    assert_image(
        &app.get(&uri).await,
        "jpeg",
        (50, 38),
        "comma-separated keys",
    );
}

#[tokio::test]
async fn only_allowed_sizes_are_rendered() {
    let app = photo_app(&["--allowed-sizes", "200x200,400x0"]).await;
    let ok = [
        ("w=200&h=200", (200, 200)),
        ("w=400", (400, 300)),
        ("w=200&h=200&f=webp", (200, 200)),
    ];
    for (query, size) in ok {
        let uri = format!("/img/{PHOTO}?{query}");
        let format = if query.contains("webp") {
            "webp"
        } else {
            "jpeg"
        };
        assert_image(&app.get(&uri).await, format, size, &uri);
    }
    // Allowed but not canonical: still redirected.
    let uri = format!("/img/{PHOTO}?h=200&w=200");
    assert_redirect(
        &app.get(&uri).await,
        &uri,
        &format!("/img/{PHOTO}?w=200&h=200"),
    );
    for query in ["w=300", "h=400", "w=200", "w=400&h=300", "", "h=300&w=300"] {
        let uri = if query.is_empty() {
            format!("/img/{PHOTO}")
        } else {
            format!("/img/{PHOTO}?{query}")
        };
        assert_error(
            &app.get(&uri).await,
            StatusCode::BAD_REQUEST,
            "size_not_allowed",
            &uri,
        );
    }
}
