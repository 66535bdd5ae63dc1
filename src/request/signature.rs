//! URL signatures for transform requests: `s` is the base64url (unpadded) HMAC-SHA256 of
//! `/img/{key}?{canonical query}` under one of the configured keys. Several keys may be
//! configured at once so a key can be rotated without breaking URLs already handed out.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{RequestError, TransformQuery};

type HmacSha256 = Hmac<Sha256>;

/// `/img/{key}?{canonical query}&s=…` for `key?query` (or `/img/key?query`), as `pixgate sign`
/// prints it. An `f=auto` URL stays `auto` so it can still be negotiated.
pub fn signed_url(
    key_path_and_query: &str,
    secret: &[u8],
    max_side: u32,
) -> Result<String, RequestError> {
    let without_route = key_path_and_query.trim_start_matches('/');
    let without_route = without_route.strip_prefix("img/").unwrap_or(without_route);
    let (key, raw_query) = without_route.split_once('?').unwrap_or((without_route, ""));
    let query = TransformQuery::parse(raw_query, None, max_side)?;
    let form = query.signing_form();
    let signature = sign(secret, &signed_message(key, &form));
    let separator = if form.is_empty() { "" } else { "&" };
    Ok(format!("/img/{key}?{form}{separator}s={signature}"))
}

/// The string a transform URL's signature covers.
pub fn signed_message(key: &str, canonical_query: &str) -> String {
    if canonical_query.is_empty() {
        format!("/img/{key}")
    } else {
        format!("/img/{key}?{canonical_query}")
    }
}

/// `s` for `message` under `secret`.
pub fn sign(secret: &[u8], message: &str) -> String {
    URL_SAFE_NO_PAD.encode(mac(secret, message).finalize().into_bytes())
}

/// Whether `signature` is valid for any of `messages` under any of `secrets`. Each comparison
/// is constant-time (`Mac::verify_slice`), so timing tells nothing about how close a guess was.
pub fn verify<K: AsRef<[u8]>>(secrets: &[K], messages: &[String], signature: &str) -> bool {
    let Ok(given) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    secrets.iter().any(|secret| {
        messages
            .iter()
            .any(|message| mac(secret.as_ref(), message).verify_slice(&given).is_ok())
    })
}

fn mac(secret: &[u8], message: &str) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(message.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let raw = URL_SAFE_NO_PAD
            .decode(sign(b"Jefe", "what do ya want for nothing?"))
            .unwrap();
        assert_eq!(hex::encode(raw), expected);
    }

    #[test]
    fn signed_urls_verify_and_keep_auto() {
        let secret = b"0123456789abcdef";
        let url = signed_url("/img/profile/a.jpg?h=5&w=4&f=auto", secret, 4096).unwrap();
        let (path, query) = url.split_once('?').unwrap();
        assert_eq!(path, "/img/profile/a.jpg");
        let (form, signature) = query.split_once("&s=").unwrap();
        assert_eq!(form, "w=4&h=5&f=auto");
        let resolved = TransformQuery::parse(query, Some("image/webp"), 4096).unwrap();
        let messages: Vec<String> = resolved
            .signed_forms()
            .iter()
            .map(|f| signed_message("profile/a.jpg", f))
            .collect();
        assert!(verify(&[secret.to_vec()], &messages, signature));
        let plain = signed_url("profile/a.jpg", secret, 4096).unwrap();
        assert!(plain.starts_with("/img/profile/a.jpg?s="));
    }

    #[test]
    fn any_configured_key_and_form_verifies() {
        let message = signed_message("profile/a.jpg", "w=10");
        let old = sign(b"old-key-0123456789", &message);
        let secrets = vec![
            b"new-key-0123456789".to_vec(),
            b"old-key-0123456789".to_vec(),
        ];
        assert!(verify(&secrets, std::slice::from_ref(&message), &old));
        assert!(!verify(&secrets[..1], std::slice::from_ref(&message), &old));
        assert!(!verify(
            &secrets,
            &[signed_message("profile/a.jpg", "w=11")],
            &old
        ));
        assert!(!verify(&secrets, &[message], "not base64!"));
        assert_eq!(signed_message("k.png", ""), "/img/k.png");
    }
}
