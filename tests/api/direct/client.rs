//! A plain client of the direct upload protocol, as an Android app or a script would write
//! it: JSON calls to `/direct/{type}`, PUTs to whatever URLs they return.

use std::sync::OnceLock;

use image::{ImageEncoder, RgbImage};
use serde_json::{Value, json};

use crate::harness::{Backend, TestApp, config_with};

/// One answer: status, the `ETag` header, and the body as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub etag: Option<String>,
    pub body: Value,
}

impl Answer {
    async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("body");
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Self { status, etag, body }
    }

    /// `error.code` of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    pub fn expect(&self, status: u16, label: &str) -> &Value {
        assert_eq!(self.status, status, "{label}: {}", self.body);
        &self.body
    }

    pub fn str(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {}", self.body))
            .to_owned()
    }
}

/// An app served on a real socket, and a client of its `/direct/{type}` endpoint.
pub struct Direct {
    pub app: TestApp,
    pub base: String,
    http: reqwest::Client,
}

impl Direct {
    pub async fn start(backend: Backend, args: &[&str]) -> Self {
        let app = TestApp::on(backend, config_with(args)).await;
        let addr = app.spawn().await;
        Self {
            app,
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, kind: &str, path: &str) -> String {
        format!("{}/direct/{kind}/{path}", self.base)
    }

    pub async fn get(&self, kind: &str, path: &str) -> Answer {
        Answer::read(
            self.http
                .get(self.url(kind, path))
                .send()
                .await
                .expect("GET"),
        )
        .await
    }

    pub async fn post(&self, kind: &str, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.http.post(self.url(kind, path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        Answer::read(request.send().await.expect("POST")).await
    }

    pub async fn delete(&self, kind: &str, path: &str) -> Answer {
        Answer::read(
            self.http
                .delete(self.url(kind, path))
                .send()
                .await
                .expect("DELETE"),
        )
        .await
    }

    /// A PUT of `bytes` to a signed URL with the given headers.
    pub async fn put(&self, url: &str, headers: &[(String, String)], bytes: Vec<u8>) -> Answer {
        let mut request = self.http.put(url).body(bytes);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        Answer::read(request.send().await.expect("PUT")).await
    }

    /// `POST s3/multipart`: `(uploadId, key)`.
    pub async fn create(&self, kind: &str, filename: &str) -> (String, String) {
        let created = self
            .post(
                kind,
                "s3/multipart",
                Some(json!({"filename": filename, "type": "image/jpeg", "metadata": {}})),
            )
            .await;
        created.expect(200, "create");
        (created.str("uploadId"), created.str("key"))
    }

    /// The signed URL of one part.
    pub async fn sign(&self, kind: &str, upload_id: &str, key: &str, number: u32) -> Answer {
        self.get(
            kind,
            &format!("s3/multipart/{upload_id}/{number}?key={}", encode(key)),
        )
        .await
    }

    /// Signs and PUTs part `number`; returns its ETag.
    pub async fn upload_part(
        &self,
        kind: &str,
        (upload_id, key): (&str, &str),
        number: u32,
        bytes: &[u8],
    ) -> String {
        let signed = self.sign(kind, upload_id, key, number).await;
        signed.expect(200, "sign part");
        let put = self.put(&signed.str("url"), &[], bytes.to_vec()).await;
        put.expect(200, "part PUT");
        put.etag.expect("the part PUT answers an ETag")
    }

    pub async fn list(&self, kind: &str, upload_id: &str, key: &str) -> Answer {
        self.get(
            kind,
            &format!("s3/multipart/{upload_id}?key={}", encode(key)),
        )
        .await
    }

    pub async fn complete(
        &self,
        kind: &str,
        (upload_id, key): (&str, &str),
        parts: &[(u32, String)],
    ) -> Answer {
        let parts: Vec<Value> = parts
            .iter()
            .map(|(number, etag)| json!({"PartNumber": number, "ETag": etag}))
            .collect();
        self.post(
            kind,
            &format!("s3/multipart/{upload_id}/complete?key={}", encode(key)),
            Some(json!({ "parts": parts })),
        )
        .await
    }

    /// `GET s3/params` for `bytes`, the PUT it allows, then `POST complete`.
    pub async fn single_put(
        &self,
        kind: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> (String, Answer) {
        let key = self.stage(kind, name, content_type, bytes).await;
        let completed = self
            .post(kind, &format!("complete?key={}", encode(&key)), None)
            .await;
        (key, completed)
    }

    /// `GET s3/params` and the PUT it allows; returns the staging key.
    pub async fn stage(
        &self,
        kind: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> String {
        let query = format!(
            "s3/params?filename={}&type={}&size={}",
            encode(name),
            encode(content_type),
            bytes.len()
        );
        let params = self.get(kind, &query).await;
        params.expect(200, "params");
        assert_eq!(params.body["method"], "PUT");
        let headers: Vec<(String, String)> = params.body["headers"]
            .as_object()
            .expect("headers")
            .iter()
            .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
            .collect();
        self.put(&params.str("url"), &headers, bytes)
            .await
            .expect(200, "single PUT");
        params.str("key")
    }

    /// Whether anything is left staged at `key`.
    pub async fn staged(&self, key: &str) -> bool {
        match self.app.backend() {
            Backend::Disk => self.app.data_dir().join(key).exists(),
            Backend::S3 => self.app.s3_server().object(key).await.is_some(),
        }
    }
}

pub fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A 48 MP (8064×6048) JPEG as a phone makes it, over 10 MiB: a gradient with sensor-like
/// noise, made once per test run.
pub fn photo_48mp() -> &'static [u8] {
    static PHOTO: OnceLock<Vec<u8>> = OnceLock::new();
    PHOTO.get_or_init(|| noisy_jpeg(8064, 6048, 90))
}

pub fn noisy_jpeg(width: u32, height: u32, quality: u8) -> Vec<u8> {
    let mut state: u32 = 0x9E37_79B9;
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = (state & 31) as u8;
            pixels.push(((x * 200 / width) as u8).wrapping_add(noise));
            pixels.push(((y * 200 / height) as u8).wrapping_add(noise / 2));
            pixels.push(120u8.wrapping_add(noise));
        }
    }
    let image = RgbImage::from_raw(width, height, pixels).expect("buffer fits");
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
        .write_image(
            image.as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )
        .expect("JPEG encodes");
    jpeg
}
