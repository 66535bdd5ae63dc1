//! What the protocol refuses, and how: keys not issued for the type, uploads that are not
//! there, parts and files over the limits, and (on disk, where pixgate signs the PUTs itself)
//! tampered, expired and reused URLs. S3 refuses its own bad URLs; that is checked too.

use serde_json::json;

use super::client::{Direct, encode, noisy_jpeg};
use crate::harness::{Backend, corpus_image};

async fn keys_are_bound_to_their_type(backend: Backend) {
    let direct = Direct::start(backend, &[]).await;
    let (upload_id, key) = direct.create("image", "a.jpg").await;
    let foreign = direct.sign("profile", &upload_id, &key, 1).await;
    assert_eq!(
        (foreign.status, foreign.code()),
        (400, "invalid_staging_key"),
        "{}",
        foreign.body
    );
    assert!(
        foreign.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let forged = format!("{}0", &key[..key.len() - 1]);
    let forged = if forged == key {
        format!("{}1", &key[..key.len() - 1])
    } else {
        forged
    };
    for bad in [
        forged.as_str(),
        "images/2026/01/01/x.jpg",
        "incoming/../images/x",
        "",
    ] {
        let answer = direct
            .post("image", &format!("complete?key={}", encode(bad)), None)
            .await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
    }
    // A real key with another upload's id.
    let (other_id, _) = direct.create("image", "b.jpg").await;
    let crossed = direct.sign("image", &other_id, &key, 1).await;
    assert_eq!(
        (crossed.status, crossed.code()),
        (404, "upload_not_found"),
        "{}",
        crossed.body
    );
    let unknown = direct.list("image", "no-such-upload", &key).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "upload_not_found"),
        "{}",
        unknown.body
    );
}

#[tokio::test]
async fn keys_are_bound_to_their_type_on_disk() {
    keys_are_bound_to_their_type(Backend::Disk).await;
}

#[tokio::test]
async fn keys_are_bound_to_their_type_on_s3() {
    keys_are_bound_to_their_type(Backend::S3).await;
}

#[tokio::test]
async fn sizes_and_part_numbers_are_bounded() {
    let direct = Direct::start(Backend::Disk, &["--direct-max-bytes", "10485760"]).await;
    let too_big = direct
        .get(
            "image",
            "s3/params?filename=a.jpg&type=image%2Fjpeg&size=10485761",
        )
        .await;
    assert_eq!(
        (too_big.status, too_big.code()),
        (413, "file_too_large"),
        "{}",
        too_big.body
    );
    let no_size = direct
        .get("image", "s3/params?filename=a.jpg&type=image%2Fjpeg")
        .await;
    assert_eq!((no_size.status, no_size.code()), (400, "invalid_param"));
    let declared = direct
        .post(
            "image",
            "s3/multipart",
            Some(
                json!({"filename": "a.jpg", "type": "image/jpeg", "metadata": {"size": 99999999}}),
            ),
        )
        .await;
    assert_eq!(declared.status, 413, "{}", declared.body);
    let (upload_id, key) = direct.create("image", "a.jpg").await;
    // 10 MiB in parts of at least 5 MiB: two parts.
    let third = direct.sign("image", &upload_id, &key, 3).await;
    assert_eq!(
        (third.status, third.code()),
        (413, "part_limit_exceeded"),
        "{}",
        third.body
    );
    let zero = direct.sign("image", &upload_id, &key, 0).await;
    assert_eq!(zero.status, 413, "{}", zero.body);
    let batch = direct
        .get(
            "image",
            &format!(
                "s3/multipart/{upload_id}/batch?key={}&partNumbers=1,2",
                encode(&key)
            ),
        )
        .await;
    let urls = batch.expect(200, "batch")["presignedUrls"].clone();
    assert!(urls["1"].is_string() && urls["2"].is_string(), "{urls}");
    // On disk the PUTs themselves are bounded: 6 MiB + 6 MiB is over 10 MiB.
    let six = vec![7u8; 6 << 20];
    let first = direct
        .put(urls["1"].as_str().unwrap(), &[], six.clone())
        .await;
    first.expect(200, "part 1");
    let second = direct.put(urls["2"].as_str().unwrap(), &[], six).await;
    assert_eq!(
        (second.status, second.code()),
        (413, "part_limit_exceeded"),
        "{}",
        second.body
    );
}

#[tokio::test]
async fn a_staged_object_over_the_limit_is_refused_and_deleted_on_s3() {
    // S3 cannot bound a part's size in its URL: the staged object is checked before it is read.
    let direct = Direct::start(Backend::S3, &["--direct-max-bytes", "10485760"]).await;
    let (upload_id, key) = direct.create("image", "big.jpg").await;
    let six = vec![7u8; 6 << 20];
    let mut etags = Vec::new();
    for number in [1, 2] {
        etags.push((
            number,
            direct
                .upload_part("image", (&upload_id, &key), number, &six)
                .await,
        ));
    }
    let done = direct.complete("image", (&upload_id, &key), &etags).await;
    assert_eq!(
        (done.status, done.code()),
        (413, "staged_too_large"),
        "{}",
        done.body
    );
    assert!(!direct.staged(&key).await);
}

#[tokio::test]
async fn parts_that_do_not_complete_the_upload_are_refused() {
    for backend in [Backend::Disk, Backend::S3] {
        let direct = Direct::start(backend, &[]).await;
        let (upload_id, key) = direct.create("image", "a.jpg").await;
        let small = noisy_jpeg(64, 64, 80);
        let etag = direct
            .upload_part("image", (&upload_id, &key), 1, &small)
            .await;
        let second = direct
            .upload_part("image", (&upload_id, &key), 2, &small)
            .await;
        let wrong_etag = direct
            .complete("image", (&upload_id, &key), &[(1, "\"0000\"".to_owned())])
            .await;
        assert_eq!(
            (wrong_etag.status, wrong_etag.code()),
            (400, "invalid_parts"),
            "{backend:?}: {}",
            wrong_etag.body
        );
        // Every part but the last must be at least 5 MiB, as S3 has it.
        let too_small = direct
            .complete(
                "image",
                (&upload_id, &key),
                &[(1, etag.clone()), (2, second)],
            )
            .await;
        assert_eq!(
            (too_small.status, too_small.code()),
            (400, "invalid_parts"),
            "{backend:?}: {}",
            too_small.body
        );
        let done = direct
            .complete("image", (&upload_id, &key), &[(1, etag)])
            .await;
        done.expect(200, "the one small part completes");
    }
}

#[tokio::test]
async fn disk_urls_refuse_tampering_reuse_and_the_wrong_length() {
    let direct = Direct::start(Backend::Disk, &[]).await;
    let photo = corpus_image("DSCN0010.jpg");
    let params = direct
        .get(
            "profile",
            &format!(
                "s3/params?filename=a.jpg&type=image%2Fjpeg&size={}",
                photo.len()
            ),
        )
        .await;
    let url = params.str("url");
    let typed = [("content-type".to_owned(), "image/jpeg".to_owned())];
    let tampered = url.replace("a.jpg", "b.jpg");
    assert_ne!(tampered, url);
    let answer = direct.put(&tampered, &typed, photo.clone()).await;
    assert_eq!(
        (answer.status, answer.code()),
        (403, "bad_signature"),
        "{}",
        answer.body
    );
    let short = direct.put(&url, &typed, photo[..100].to_vec()).await;
    assert_eq!(
        (short.status, short.code()),
        (403, "bad_signature"),
        "{}",
        short.body
    );
    let untyped = direct.put(&url, &[], photo.clone()).await;
    assert_eq!(untyped.status, 403, "{}", untyped.body);
    direct
        .put(&url, &typed, photo.clone())
        .await
        .expect(200, "the PUT as signed");
    let reused = direct.put(&url, &typed, photo.clone()).await;
    assert_eq!(
        (reused.status, reused.code()),
        (403, "url_reused"),
        "{}",
        reused.body
    );
    // Completed and removed, the key cannot be staged again with the same URL.
    let key = params.str("key");
    let done = direct
        .post("profile", &format!("complete?key={}", encode(&key)), None)
        .await;
    done.expect(200, "complete");
    let replay = direct.put(&url, &typed, photo).await;
    assert_eq!(
        (replay.status, replay.code()),
        (403, "url_reused"),
        "{}",
        replay.body
    );
    assert!(
        !direct.staged(&key).await,
        "a refused PUT leaves nothing staged"
    );
}

async fn expired_urls_are_refused(backend: Backend) {
    let direct = Direct::start(backend, &["--direct-url-ttl-secs", "1"]).await;
    let (upload_id, key) = direct.create("image", "a.jpg").await;
    let signed = direct.sign("image", &upload_id, &key, 1).await;
    let url = signed.str("url");
    // URLs expire on whole seconds: two of them are always past a one-second TTL.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let late = direct.put(&url, &[], noisy_jpeg(64, 64, 80)).await;
    assert_eq!(late.status, 403, "{backend:?}: {}", late.body);
    if matches!(backend, Backend::Disk) {
        assert_eq!(late.code(), "url_expired");
    }
}

#[tokio::test]
async fn expired_urls_are_refused_on_disk() {
    expired_urls_are_refused(Backend::Disk).await;
}

#[tokio::test]
async fn expired_urls_are_refused_on_s3() {
    expired_urls_are_refused(Backend::S3).await;
}

#[tokio::test]
async fn s3_refuses_a_tampered_url_and_a_length_other_than_signed() {
    let direct = Direct::start(Backend::S3, &[]).await;
    let photo = corpus_image("DSCN0010.jpg");
    let params = direct
        .get(
            "image",
            &format!(
                "s3/params?filename=a.jpg&type=image%2Fjpeg&size={}",
                photo.len()
            ),
        )
        .await;
    let url = params.str("url");
    let headers: Vec<(String, String)> = params.body["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect();
    assert!(
        headers
            .iter()
            .any(|(name, _)| name == "x-amz-meta-original-name"),
        "{headers:?}"
    );
    let longer = direct
        .put(&url, &headers, [photo.as_slice(), b"x"].concat())
        .await;
    assert_eq!(
        longer.status, 403,
        "a length other than signed: {}",
        longer.body
    );
    let retyped: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| match name.as_str() {
            "content-type" => (name.clone(), "image/png".to_owned()),
            _ => (name.clone(), value.clone()),
        })
        .collect();
    let answer = direct.put(&url, &retyped, photo.clone()).await;
    assert_eq!(answer.status, 403, "another content type: {}", answer.body);
    // The same length of hex, one digit changed.
    let last = url.chars().last().expect("a signature");
    let tampered = format!(
        "{}{}",
        &url[..url.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    assert_eq!(
        direct.put(&tampered, &headers, photo.clone()).await.status,
        403
    );
    direct
        .put(&url, &headers, photo)
        .await
        .expect(200, "the PUT as signed");
}

#[tokio::test]
async fn preflights_and_answers_carry_cors_for_browsers() {
    let direct = Direct::start(
        Backend::Disk,
        &["--allowed-origins", "https://chat.example"],
    )
    .await;
    let http = reqwest::Client::new();
    for (method, path) in [
        ("POST", "/direct/image/s3/multipart"),
        ("PUT", "/staging/incoming/x"),
        ("DELETE", "/direct/image/s3/multipart/u"),
    ] {
        let preflight = http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", direct.base))
            .header("origin", "https://chat.example")
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "content-type")
            .send()
            .await
            .unwrap();
        assert_eq!(preflight.status(), 204, "{path}");
        let allowed = preflight.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap();
        assert!(allowed.contains(method), "{path}: {allowed}");
    }
    let answer = http
        .post(format!("{}/direct/image/s3/multipart", direct.base))
        .header("origin", "https://chat.example")
        .json(&json!({"filename": "a.jpg", "type": "image/jpeg"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let exposed = answer.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("etag"), "{exposed}");
}

#[tokio::test]
async fn the_upload_gate_covers_the_protocol_but_not_the_signed_puts() {
    use crate::harness::jwt::{AUDIENCE, HS256_SECRET, ISSUER};
    let args = [
        "--jwt-hs256-secret",
        HS256_SECRET,
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
    ];
    let direct = Direct::start(Backend::Disk, &args).await;
    let calls = [
        direct
            .get("image", "s3/params?filename=a.jpg&size=10")
            .await,
        direct
            .post("image", "s3/multipart", Some(json!({"filename": "a.jpg"})))
            .await,
        direct.get("image", "s3/multipart/u/1?key=k").await,
        direct.post("image", "complete?key=k", None).await,
    ];
    for answer in calls {
        // Uppy shows the top-level message of a refusal: code and message.
        let top = format!(
            "unauthorized: {}",
            answer.body["error"]["message"].as_str().unwrap()
        );
        assert_eq!(answer.body["message"], top.as_str(), "{}", answer.body);
        assert_eq!(
            (answer.status, answer.code()),
            (401, "unauthorized"),
            "{}",
            answer.body
        );
    }
    // A signed URL is its own permission: no token, and refused only for its signature.
    let put = direct
        .put(
            &format!("{}/staging/incoming/x?expires=1", direct.base),
            &[],
            vec![1],
        )
        .await;
    assert_eq!(
        (put.status, put.code()),
        (403, "bad_signature"),
        "{}",
        put.body
    );
}

#[tokio::test]
async fn staged_files_are_never_served() {
    let direct = Direct::start(Backend::Disk, &[]).await;
    let photo = corpus_image("DSCN0010.jpg");
    let key = direct.stage("image", "a.jpg", "image/jpeg", photo).await;
    assert!(direct.staged(&key).await);
    for path in [
        format!("/files/{key}/object"),
        format!("/files/{key}"),
        format!("/img/{key}/object?w=100"),
        format!("/img/{key}?w=100"),
    ] {
        let answer = direct.app.get(&path).await;
        assert_eq!(answer.status, 404, "{path}");
    }
}

#[tokio::test]
async fn a_file_counts_once_against_the_rate_limit_however_many_parts() {
    let args = ["--rate-limit-per-minute", "1", "--rate-limit-burst", "2"];
    let direct = Direct::start(Backend::Disk, &args).await;
    let (upload_id, key) = direct.create("image", "a.jpg").await;
    for number in 1..=5 {
        let signed = direct.sign("image", &upload_id, &key, number).await;
        signed.expect(200, "a part URL is not a new upload");
    }
    direct
        .list("image", &upload_id, &key)
        .await
        .expect(200, "list");
    direct.create("image", "b.jpg").await;
    let third = direct
        .post("image", "s3/multipart", Some(json!({"filename": "c.jpg"})))
        .await;
    assert_eq!(
        (third.status, third.code()),
        (429, "rate_limited"),
        "{}",
        third.body
    );
}

#[tokio::test]
async fn disk_urls_follow_the_trusted_forwarded_host_and_proto() {
    let direct = Direct::start(Backend::Disk, &["--trust-forwarded-host"]).await;
    let http = reqwest::Client::new();
    let params = |headers: &'static [(&'static str, &'static str)]| {
        let mut request = http.get(format!(
            "{}/direct/image/s3/params?filename=a.jpg&type=image%2Fjpeg&size=10",
            direct.base
        ));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        async move {
            let answer: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            answer["url"].as_str().unwrap().to_owned()
        }
    };
    let proxied = params(&[("x-forwarded-host", "up.example.com")]).await;
    assert!(
        proxied.starts_with("https://up.example.com/staging/incoming/"),
        "{proxied}"
    );
    let plain = params(&[
        ("x-forwarded-host", "up.example.com"),
        ("x-forwarded-proto", "http"),
    ])
    .await;
    assert!(
        plain.starts_with("http://up.example.com/staging/"),
        "{plain}"
    );
    let invalid = params(&[("x-forwarded-host", "evil.example/path")]).await;
    assert!(
        invalid.starts_with(&format!("{}/staging/", direct.base)),
        "{invalid}"
    );
}
