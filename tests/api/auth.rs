//! JWT bearer authentication of the upload routes: without a valid token an upload is a JSON
//! 401 with CORS headers and a bearer challenge; RS256 and ES256 tokens are checked against a
//! JWKS (served over HTTP, or read from a file) and HS256 ones against a secret; the transform,
//! the files and preflights stay public.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::harness::jwt::{
    AUDIENCE, HS256_SECRET, ISSUER, JwksServer, Signer, alg_confusion_token, claims, claims_with,
    jwks, now,
};
use crate::harness::{Multipart, TestApp, TestResponse, config_with, encode_png};
use crate::openapi::assert_upload_answer_matches_spec;

fn png() -> Vec<u8> {
    encode_png(image::RgbImage::from_pixel(
        32,
        24,
        image::Rgb([200, 40, 40]),
    ))
}

/// `POST /upload?type=profile` with one small PNG, from a browser origin, with `token`.
fn upload(token: Option<&str>) -> Request<Body> {
    let mut request = Multipart::new()
        .file("a.png", "image/png", png())
        .request("/upload?type=profile");
    let headers = request.headers_mut();
    headers.insert(header::ORIGIN, "https://chat.example.com".parse().unwrap());
    if let Some(token) = token {
        let value = format!("Bearer {token}").parse().expect("header value");
        headers.insert(header::AUTHORIZATION, value);
    }
    request
}

fn with_keys(keys: &[&str]) -> TestApp {
    let mut args = keys.to_vec();
    args.extend(["--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE]);
    TestApp::with_config(config_with(&args))
}

async fn jwks_app() -> (TestApp, JwksServer) {
    let server = JwksServer::start(jwks()).await;
    let app = with_keys(&["--jwt-jwks-url", &server.url()]);
    (app, server)
}

fn assert_unauthorized(response: &TestResponse, label: &str, challenge: &str) {
    response.assert_status(StatusCode::UNAUTHORIZED, label);
    assert_eq!(response.error_code(), "unauthorized", "{label}");
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("*"),
        "{label}"
    );
    let expose = response
        .header(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        .unwrap_or_default();
    assert!(expose.contains("www-authenticate"), "{label}: {expose}");
    let www = response
        .header(header::WWW_AUTHENTICATE)
        .unwrap_or_default();
    assert!(
        www.starts_with("Bearer ") && www.contains(challenge),
        "{label}: {www}"
    );
    assert_upload_answer_matches_spec(response, label);
}

#[tokio::test]
async fn an_upload_without_a_token_is_a_json_401_with_cors_and_a_bearer_challenge() {
    let (app, _server) = jwks_app().await;
    let response = app.send(upload(None)).await;
    assert_unauthorized(&response, "no token", "realm=");
    assert!(
        !response
            .header(header::WWW_AUTHENTICATE)
            .unwrap()
            .contains("error=")
    );
    let basic = app
        .send({
            let mut request = upload(None);
            let value = "Basic dXNlcjpwYXNz".parse().unwrap();
            request.headers_mut().insert(header::AUTHORIZATION, value);
            request
        })
        .await;
    assert_unauthorized(&basic, "basic credentials", r#"error="invalid_token""#);
}

#[tokio::test]
async fn tokens_that_should_not_pass_are_refused() {
    let (app, _server) = jwks_app().await;
    let alice = claims("alice");
    let cases: Vec<(&str, String)> = vec![
        (
            "signed by an unpublished key",
            Signer::OtherRsa.sign(Some("rsa-1"), &alice),
        ),
        ("unknown kid", Signer::Rsa.sign(Some("rsa-9"), &alice)),
        (
            "no kid with two published keys",
            Signer::Rsa.sign(None, &alice),
        ),
        (
            "wrong issuer",
            Signer::Rsa.sign(
                Some("rsa-1"),
                &claims_with("alice", json!({"iss": "https://evil.example/"})),
            ),
        ),
        (
            "wrong audience",
            Signer::Rsa.sign(
                Some("rsa-1"),
                &claims_with("alice", json!({"aud": "someone-else"})),
            ),
        ),
        (
            "no audience",
            Signer::Rsa.sign(
                Some("rsa-1"),
                &json!({"iss": ISSUER, "sub": "alice", "exp": now() + 300}),
            ),
        ),
        (
            "expired beyond the 60 s skew",
            Signer::Rsa.sign(
                Some("rsa-1"),
                &claims_with("alice", json!({"exp": now() - 120})),
            ),
        ),
        (
            "not valid before a time beyond the skew",
            Signer::Ec.sign(
                Some("ec-1"),
                &claims_with("alice", json!({"nbf": now() + 120})),
            ),
        ),
        (
            "no exp",
            Signer::Rsa.sign(Some("rsa-1"), &json!({"iss": ISSUER, "aud": AUDIENCE})),
        ),
        (
            "HS256 with the RSA public key as secret",
            alg_confusion_token(&alice),
        ),
        (
            "ES256 header on an RSA kid",
            Signer::Ec.sign(Some("rsa-1"), &alice),
        ),
        (
            "HS256 token against a JWKS",
            Signer::Hs256.sign(None, &alice),
        ),
        ("not a JWT", "not.a.jwt".to_owned()),
        ("tampered payload", {
            let token = Signer::Rsa.sign(Some("rsa-1"), &alice);
            let other = Signer::Rsa.sign(Some("rsa-1"), &claims("mallory"));
            let mut parts: Vec<&str> = token.split('.').collect();
            parts[1] = other.split('.').nth(1).unwrap();
            parts.join(".")
        }),
    ];
    for (label, token) in cases {
        let response = app.send(upload(Some(&token))).await;
        assert_unauthorized(&response, label, r#"error="invalid_token""#);
    }
    assert_eq!(stored_files(app.data_dir()), 0, "nothing was stored");
}

async fn assert_stored(app: &TestApp, token: &str, label: &str) {
    let response = app.send(upload(Some(token))).await;
    response.assert_status(StatusCode::OK, label);
    assert!(response.key(0).starts_with("profile/"), "{label}");
    assert_upload_answer_matches_spec(&response, label);
}

#[tokio::test]
async fn rs256_and_es256_tokens_from_a_jwks_url_upload() {
    let (app, server) = jwks_app().await;
    assert_stored(
        &app,
        &Signer::Rsa.sign(Some("rsa-1"), &claims("alice")),
        "RS256",
    )
    .await;
    assert_stored(
        &app,
        &Signer::Ec.sign(Some("ec-1"), &claims("bob")),
        "ES256",
    )
    .await;
    // Expired, but within the skew.
    let late = claims_with("carol", json!({"exp": now() - 30}));
    assert_stored(&app, &Signer::Rsa.sign(Some("rsa-1"), &late), "within skew").await;
    assert_eq!(server.fetches(), 1, "the JWKS is fetched once and cached");
}

#[tokio::test]
async fn a_jwks_file_and_an_hs256_secret_work_too() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), jwks().to_string()).unwrap();
    let app = with_keys(&["--jwt-jwks-file", file.path().to_str().unwrap()]);
    assert_stored(
        &app,
        &Signer::Ec.sign(Some("ec-1"), &claims("alice")),
        "ES256 file",
    )
    .await;

    let app = with_keys(&["--jwt-hs256-secret", HS256_SECRET]);
    assert_stored(&app, &Signer::Hs256.sign(None, &claims("alice")), "HS256").await;
    let named = Signer::Hs256.sign(Some("v1"), &claims("bob"));
    assert_stored(&app, &named, "HS256 naming a kid").await;
    let rs = Signer::Rsa.sign(Some("rsa-1"), &claims("alice"));
    let response = app.send(upload(Some(&rs))).await;
    assert_unauthorized(&response, "RS256 against a secret", "invalid_token");
}

#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_interval() {
    let server = JwksServer::start(jwks()).await;
    let app = with_keys(&[
        "--jwt-jwks-url",
        &server.url(),
        "--jwt-jwks-refetch-secs",
        "1",
    ]);
    assert_stored(
        &app,
        &Signer::Rsa.sign(Some("rsa-1"), &claims("a")),
        "first",
    )
    .await;
    assert_eq!(server.fetches(), 1);
    // A flood of made-up kids right after a fetch costs the issuer nothing.
    for i in 0..5 {
        let token = Signer::Rsa.sign(Some(&format!("made-up-{i}")), &claims("a"));
        assert_eq!(
            app.send(upload(Some(&token))).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(server.fetches(), 1);
    // The issuer rotates in a new key: once the interval has passed it is fetched and accepted.
    let mut rotated = jwks();
    rotated["keys"]
        .as_array_mut()
        .unwrap()
        .push(Signer::OtherRsa.jwk("rsa-2"));
    server.publish(rotated);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let token = Signer::OtherRsa.sign(Some("rsa-2"), &claims("a"));
    assert_stored(&app, &token, "rotated key").await;
    assert_eq!(server.fetches(), 2);
}

#[tokio::test]
async fn an_unreachable_jwks_is_a_503_not_a_401() {
    // A port that was free a moment ago: nothing listens there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    let app = with_keys(&["--jwt-jwks-url", &url]);
    let token = Signer::Rsa.sign(Some("rsa-1"), &claims("alice"));
    let response = app.send(upload(Some(&token))).await;
    response.assert_status(StatusCode::SERVICE_UNAVAILABLE, "unreachable JWKS");
    assert_eq!(response.error_code(), "auth_unavailable");
    assert_eq!(response.header(header::RETRY_AFTER), Some("30"));
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("*")
    );
    assert_upload_answer_matches_spec(&response, "unreachable JWKS");
}

#[tokio::test]
async fn transforms_files_health_and_preflights_need_no_token() {
    let (app, _server) = jwks_app().await;
    let token = Signer::Rsa.sign(Some("rsa-1"), &claims("alice"));
    let stored = app.send(upload(Some(&token))).await;
    stored.assert_status(StatusCode::OK, "upload");
    let key = stored.key(0);
    let public = [
        format!("/img/{key}?w=16&f=png"),
        format!("/files/{key}"),
        "/healthz".to_owned(),
    ];
    for uri in public {
        app.get(&uri).await.assert_status(StatusCode::OK, &uri);
    }
    let preflight = Request::options("/upload?type=profile")
        .header(header::ORIGIN, "https://chat.example.com")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .body(Body::empty())
        .unwrap();
    let response = app.send(preflight).await;
    response.assert_status(StatusCode::NO_CONTENT, "preflight");
    assert_eq!(
        response.header(header::ACCESS_CONTROL_ALLOW_HEADERS),
        Some("authorization")
    );
    // A wrong method on the guarded route is still a 405, not a 401.
    let get = app.get("/upload?type=profile").await;
    get.assert_status(StatusCode::METHOD_NOT_ALLOWED, "GET /upload");
}

#[tokio::test]
async fn without_auth_flags_uploads_stay_open() {
    let app = TestApp::new();
    let response = app.send(upload(None)).await;
    response.assert_status(StatusCode::OK, "open upload");
    assert!(response.header(header::WWW_AUTHENTICATE).is_none());
}

/// How many files the disk store holds.
fn stored_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| match entry.file_type() {
                    Ok(kind) if kind.is_dir() => stored_files(&entry.path()),
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}
