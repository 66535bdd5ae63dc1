//! The disk staging area's own presigned URLs: `{origin}/staging/{key}?…&signature=…`, an
//! HMAC-SHA256 over everything the PUT may do — the key, the upload and part or the exact
//! length, content type and file name of a single PUT, the expiry, and a random nonce that
//! makes every URL distinct, so a used one can be recognised and refused.

use std::time::{Duration, SystemTime};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::storage::staging::{PutRefusal, Signing, SinglePut, random_hex};

type HmacSha256 = Hmac<Sha256>;

/// What a verified URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `(upload id, part number)` for a part; `None` for a single PUT.
    pub part: Option<(String, u32)>,
    /// A single PUT's exact length.
    pub length: Option<u64>,
    /// A single PUT's content type.
    pub content_type: Option<String>,
    /// A single PUT's original file name.
    pub name: Option<String>,
    pub nonce: String,
}

pub fn sign_put(
    secret: &[u8],
    key: &str,
    put: &SinglePut,
    signing: Signing<'_>,
    now: SystemTime,
) -> String {
    let grant = Grant {
        part: None,
        length: Some(put.length),
        content_type: Some(put.content_type.clone()),
        name: put.original_name.clone(),
        nonce: random_hex(12),
    };
    url(secret, key, &grant, signing, now)
}

pub fn sign_part(
    secret: &[u8],
    key: &str,
    (upload_id, number): (&str, u32),
    signing: Signing<'_>,
    now: SystemTime,
) -> String {
    let grant = Grant {
        part: Some((upload_id.to_owned(), number)),
        length: None,
        content_type: None,
        name: None,
        nonce: random_hex(12),
    };
    url(secret, key, &grant, signing, now)
}

fn url(secret: &[u8], key: &str, grant: &Grant, signing: Signing<'_>, now: SystemTime) -> String {
    let expires = unix_secs(now + signing.ttl);
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some((upload_id, number)) = &grant.part {
        query.append_pair("uploadId", upload_id);
        query.append_pair("partNumber", &number.to_string());
    }
    if let Some(length) = grant.length {
        query.append_pair("length", &length.to_string());
    }
    if let Some(content_type) = &grant.content_type {
        query.append_pair("type", content_type);
    }
    if let Some(name) = &grant.name {
        query.append_pair("name", name);
    }
    query.append_pair("expires", &expires.to_string());
    query.append_pair("nonce", &grant.nonce);
    query.append_pair(
        "signature",
        &hex::encode(mac(secret, key, grant, expires).finalize().into_bytes()),
    );
    format!("{}/staging/{key}?{}", signing.origin, query.finish())
}

/// Checks `query` for a PUT to `key` at `now`: every signed field present once, the MAC right,
/// the expiry not passed.
pub fn verify(secret: &[u8], key: &str, query: &str, now: SystemTime) -> Result<Grant, PutRefusal> {
    let mut fields = Fields::default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match name.as_ref() {
            "uploadId" => &mut fields.upload_id,
            "partNumber" => &mut fields.part_number,
            "length" => &mut fields.length,
            "type" => &mut fields.content_type,
            "name" => &mut fields.name,
            "expires" => &mut fields.expires,
            "nonce" => &mut fields.nonce,
            "signature" => &mut fields.signature,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(PutRefusal::BadSignature);
        }
    }
    let (grant, expires, signature) = fields.into_grant().ok_or(PutRefusal::BadSignature)?;
    let signature = hex::decode(signature).map_err(|_| PutRefusal::BadSignature)?;
    mac(secret, key, &grant, expires)
        .verify_slice(&signature)
        .map_err(|_| PutRefusal::BadSignature)?;
    if unix_secs(now) >= expires {
        return Err(PutRefusal::Expired);
    }
    Ok(grant)
}

#[derive(Default)]
struct Fields {
    upload_id: Option<String>,
    part_number: Option<String>,
    length: Option<String>,
    content_type: Option<String>,
    name: Option<String>,
    expires: Option<String>,
    nonce: Option<String>,
    signature: Option<String>,
}

impl Fields {
    fn into_grant(self) -> Option<(Grant, u64, String)> {
        let part = match (self.upload_id, self.part_number) {
            (Some(id), Some(number)) => Some((id, number.parse().ok()?)),
            (None, None) => None,
            _ => return None,
        };
        let length = self.length.map(|l| l.parse()).transpose().ok()?;
        // A single PUT is signed for a length and a type; a part for neither.
        if part.is_some() == (length.is_some() || self.content_type.is_some()) {
            return None;
        }
        let grant = Grant {
            part,
            length,
            content_type: self.content_type,
            name: self.name,
            nonce: self.nonce?,
        };
        Some((grant, self.expires?.parse().ok()?, self.signature?))
    }
}

/// The MAC of every field, each length-prefixed so no two grants sign the same text.
fn mac(secret: &[u8], key: &str, grant: &Grant, expires: u64) -> HmacSha256 {
    // HMAC takes a key of any length.
    #[allow(clippy::expect_used)]
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    let (upload_id, number) = match &grant.part {
        Some((id, number)) => (id.as_str(), number.to_string()),
        None => ("", String::new()),
    };
    let fields = [
        "pixgate-staging-put",
        key,
        upload_id,
        &number,
        &grant.length.map(|l| l.to_string()).unwrap_or_default(),
        grant.content_type.as_deref().unwrap_or(""),
        grant.name.as_deref().unwrap_or(""),
        &expires.to_string(),
        &grant.nonce,
    ];
    for field in fields {
        mac.update(format!("{}:", field.len()).as_bytes());
        mac.update(field.as_bytes());
    }
    mac
}

fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const KEY: &str = "incoming/abc";

    fn signing() -> Signing<'static> {
        Signing {
            ttl: Duration::from_secs(900),
            origin: "http://127.0.0.1:1",
        }
    }

    fn query_of(url: &str) -> &str {
        url.split_once('?').map_or("", |(_, q)| q)
    }

    fn single() -> SinglePut {
        SinglePut {
            content_type: "image/jpeg".into(),
            length: 1234,
            original_name: Some("a b&c.jpg".into()),
        }
    }

    #[test]
    fn a_signed_put_verifies_with_what_it_was_signed_for() {
        let now = SystemTime::now();
        let url = sign_put(SECRET, KEY, &single(), signing(), now);
        assert!(url.starts_with("http://127.0.0.1:1/staging/incoming/abc?"));
        let grant = verify(SECRET, KEY, query_of(&url), now).unwrap();
        assert_eq!(grant.length, Some(1234));
        assert_eq!(grant.content_type.as_deref(), Some("image/jpeg"));
        assert_eq!(grant.name.as_deref(), Some("a b&c.jpg"));
        assert_eq!(grant.part, None);
    }

    #[test]
    fn another_key_secret_length_or_part_breaks_the_signature() {
        let now = SystemTime::now();
        let url = sign_part(SECRET, KEY, ("up1", 2), signing(), now);
        let query = query_of(&url);
        assert!(verify(SECRET, KEY, query, now).is_ok());
        let refused = |key: &str, secret: &[u8], query: &str| {
            matches!(
                verify(secret, key, query, now),
                Err(PutRefusal::BadSignature)
            )
        };
        assert!(refused("incoming/abd", SECRET, query));
        assert!(refused(KEY, b"another secret of 32 bytes......", query));
        assert!(refused(
            KEY,
            SECRET,
            &query.replace("partNumber=2", "partNumber=3")
        ));
        assert!(refused(
            KEY,
            SECRET,
            &query.replace("uploadId=up1", "uploadId=up2")
        ));
        assert!(refused(KEY, SECRET, &format!("{query}&partNumber=2")));
        let put = sign_put(SECRET, KEY, &single(), signing(), now);
        assert!(refused(
            KEY,
            SECRET,
            &query_of(&put).replace("length=1234", "length=1235")
        ));
        assert!(refused(KEY, SECRET, "expires=1&nonce=a"));
    }

    #[test]
    fn an_expired_url_is_refused_as_expired() {
        let then = SystemTime::now();
        let url = sign_part(SECRET, KEY, ("up1", 1), signing(), then);
        let later = then + Duration::from_secs(901);
        assert!(matches!(
            verify(SECRET, KEY, query_of(&url), later),
            Err(PutRefusal::Expired)
        ));
    }

    #[test]
    fn every_url_is_distinct() {
        let now = SystemTime::now();
        let a = sign_part(SECRET, KEY, ("up1", 1), signing(), now);
        let b = sign_part(SECRET, KEY, ("up1", 1), signing(), now);
        assert_ne!(a, b);
    }
}
