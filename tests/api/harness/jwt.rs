//! Tokens for the auth tests: test-only keys from `tests/fixtures/auth` (made with openssl, see
//! the README there), tokens signed with them, and a JWKS server on 127.0.0.1 that counts how
//! often it is fetched.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://issuer.example.com/";
pub const AUDIENCE: &str = "pixgate-uploads";
pub const HS256_SECRET: &str = "a-test-only-hs256-secret-of-40-bytes-...";

/// The keys tokens are signed with.
#[derive(Debug, Clone, Copy)]
pub enum Signer {
    /// RS256, published in the JWKS as `rsa-1`.
    Rsa,
    /// RS256 with a key nobody published.
    OtherRsa,
    /// ES256 (P-256), published as `ec-1`.
    Ec,
    /// HS256 with [`HS256_SECRET`].
    Hs256,
}

impl Signer {
    fn key(self) -> (EncodingKey, Algorithm) {
        match self {
            Self::Rsa => (
                EncodingKey::from_rsa_der(&pem_der("rsa.pem")),
                Algorithm::RS256,
            ),
            Self::OtherRsa => (
                EncodingKey::from_rsa_der(&pem_der("rsa-other.pem")),
                Algorithm::RS256,
            ),
            Self::Ec => (
                EncodingKey::from_ec_der(&pem_der("ec.pem")),
                Algorithm::ES256,
            ),
            Self::Hs256 => (
                EncodingKey::from_secret(HS256_SECRET.as_bytes()).expect("HS256 key"),
                Algorithm::HS256,
            ),
        }
    }

    /// The public JWK of this key, under `kid`.
    pub fn jwk(self, kid: &str) -> Value {
        let (key, alg) = self.key();
        let mut jwk = Jwk::from_encoding_key(&key, alg).expect("public JWK");
        jwk.common.key_id = Some(kid.to_owned());
        serde_json::to_value(jwk).expect("JWK serialises")
    }

    /// A token with `claims`, naming `kid` in its header.
    pub fn sign(self, kid: Option<&str>, claims: &Value) -> String {
        let (key, alg) = self.key();
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &key).expect("token signs")
    }
}

/// The published JWKS: `rsa-1` and `ec-1`.
pub fn jwks() -> Value {
    json!({ "keys": [Signer::Rsa.jwk("rsa-1"), Signer::Ec.jwk("ec-1")] })
}

/// A token an HS256 verifier would accept if it took the RSA key's public modulus as its
/// secret: the alg-confusion attack on libraries that let the token choose the algorithm.
pub fn alg_confusion_token(claims: &Value) -> String {
    let jwk = Signer::Rsa.jwk("rsa-1");
    let public = jwk["n"].as_str().expect("RSA modulus").as_bytes().to_vec();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(&public).expect("HS256 key"),
    )
    .expect("token signs")
}

pub fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit")
}

/// Valid claims for `sub`: the right issuer and audience, expiring in five minutes.
pub fn claims(sub: &str) -> Value {
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now(), "exp": now() + 300 })
}

/// `claims(sub)` with `changes` merged over it.
pub fn claims_with(sub: &str, changes: Value) -> Value {
    let mut claims = claims(sub);
    if let (Some(claims), Some(changes)) = (claims.as_object_mut(), changes.as_object()) {
        claims.extend(changes.clone());
    }
    claims
}

/// The DER body of a PEM fixture.
fn pem_der(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/auth")
        .join(name);
    let pem = std::fs::read_to_string(&path).expect("key fixture");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM body is base64")
}

/// A JWKS document served over HTTP on 127.0.0.1, replaceable (key rotation) and counting
/// its fetches.
#[derive(Clone)]
pub struct JwksServer {
    addr: SocketAddr,
    document: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub async fn start(document: Value) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let server = Self {
            addr: listener.local_addr().expect("addr"),
            document: Arc::new(Mutex::new(document)),
            fetches: Arc::new(AtomicUsize::new(0)),
        };
        let app = Router::new()
            .route("/jwks.json", get(serve_jwks))
            .with_state(server.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        server
    }

    pub fn url(&self) -> String {
        format!("http://{}/jwks.json", self.addr)
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn publish(&self, document: Value) {
        *self.document.lock().expect("document lock") = document;
    }
}

async fn serve_jwks(State(server): State<JwksServer>) -> Json<Value> {
    server.fetches.fetch_add(1, Ordering::SeqCst);
    Json(server.document.lock().expect("document lock").clone())
}
