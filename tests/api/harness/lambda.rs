//! Lambda: the real event files under `events/`, a Function URL `GET` made from one, and the one
//! way tests invoke the app as the Lambda runtime does, buffered or streamed.

use bytes::Bytes;
use futures_util::StreamExt;
use lambda_http::request::LambdaRequest;
use lambda_http::{Context, LambdaEvent, StreamAdapter};
use serde_json::{Value, json};
use tower::{Service, ServiceExt};

use super::app::TestApp;
use super::response::TestResponse;

/// The event file `events/{name}`.
pub fn event(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A Function URL event for `GET {raw_path}?{raw_query}` with `headers`, shaped like
/// `events/function-url-upload.json`.
pub fn function_url_get(raw_path: &str, raw_query: &str, headers: Value) -> String {
    let mut event: Value = serde_json::from_str(&event("function-url-upload.json")).unwrap();
    let parameters: serde_json::Map<String, Value> = form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    event["rawPath"] = json!(raw_path);
    event["rawQueryString"] = json!(raw_query);
    event["queryStringParameters"] = Value::Object(parameters);
    event["headers"] = headers;
    event["requestContext"]["http"]["method"] = json!("GET");
    event["requestContext"]["http"]["path"] = json!(raw_path);
    event["requestContext"]["routeKey"] = json!("$default");
    event["isBase64Encoded"] = json!(false);
    event.as_object_mut().unwrap().remove("body");
    event.to_string()
}

/// An HTTP API (v2) event for `{method} {raw_path}?{raw_query}` with a JSON `body`, shaped like
/// `events/apigw-http-upload.json` (the route key is the API's, with its path parameters).
pub fn http_api_json(
    method: &str,
    route_key: &str,
    raw_path: &str,
    raw_query: &str,
    body: Option<&Value>,
) -> String {
    let mut event: Value = serde_json::from_str(&event("apigw-http-upload.json")).unwrap();
    let parameters: serde_json::Map<String, Value> = form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    event["routeKey"] = json!(route_key);
    event["rawPath"] = json!(raw_path);
    event["rawQueryString"] = json!(raw_query);
    event["queryStringParameters"] = Value::Object(parameters);
    event["headers"]["content-type"] = json!("application/json");
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(raw_path);
    event["requestContext"]["routeKey"] = json!(route_key);
    event["isBase64Encoded"] = json!(false);
    match body {
        Some(body) => event["body"] = json!(body.to_string()),
        None => {
            event.as_object_mut().unwrap().remove("body");
        }
    }
    event.to_string()
}

/// An HTTP API (v2) event for `POST /upload?{raw_query}` with `body` (base64-encoded, as API
/// Gateway sends binary bodies) of `content_type`, shaped like `events/apigw-http-upload.json`.
pub fn http_api_upload(raw_query: &str, content_type: &str, body: &[u8]) -> String {
    use base64::Engine;
    let mut event: Value = serde_json::from_str(&event("apigw-http-upload.json")).unwrap();
    let parameters: serde_json::Map<String, Value> = form_urlencoded::parse(raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    event["rawQueryString"] = json!(raw_query);
    event["queryStringParameters"] = Value::Object(parameters);
    event["headers"]["content-type"] = json!(content_type);
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    event["isBase64Encoded"] = json!(true);
    event.to_string()
}

/// Which `lambda_http` runtime serves the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `lambda_http::run`: the whole answer in one Lambda response.
    Buffered,
    /// `lambda_http::run_with_streaming_response` (Function URL, `InvokeMode: RESPONSE_STREAM`):
    /// status and headers in a prelude, then the body streamed.
    Streaming,
}

/// How the answer's body travels back to Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaBody {
    Empty,
    Text,
    /// Binary, which the runtime sends base64-encoded.
    Binary,
    Streamed,
}

/// What the Lambda runtime does with `event`: decode it, call the service `pixgate::lambda::run`
/// serves, and turn the answer into a Lambda answer; returned as a [`TestResponse`] with the
/// body's Lambda encoding.
pub async fn invoke(app: &TestApp, runtime: Runtime, event: &str) -> (TestResponse, LambdaBody) {
    let service = pixgate::lambda::service(app.state());
    match runtime {
        Runtime::Buffered => {
            let request = lambda_http::request::from_str(event).expect("event decodes");
            let response = service.oneshot(request).await.expect("infallible");
            let (parts, body) = lambda_http::IntoResponse::into_response(response)
                .await
                .into_parts();
            let (body, kind) = match body {
                lambda_http::Body::Empty => (Bytes::new(), LambdaBody::Empty),
                lambda_http::Body::Text(text) => (text.into(), LambdaBody::Text),
                lambda_http::Body::Binary(bytes) => (bytes.into(), LambdaBody::Binary),
                other => panic!("a Lambda body of an unknown kind: {other:?}"),
            };
            let response = TestResponse {
                status: parts.status,
                headers: parts.headers,
                body,
            };
            (response, kind)
        }
        Runtime::Streaming => {
            let payload: LambdaRequest = serde_json::from_str(event).expect("event decodes");
            let response = StreamAdapter::from(service)
                .call(LambdaEvent::new(payload, Context::default()))
                .await
                .expect("infallible");
            let mut body = Vec::new();
            let mut stream = response.stream;
            while let Some(chunk) = stream.next().await {
                body.extend_from_slice(&chunk.expect("body chunk"));
            }
            let response = TestResponse {
                status: response.metadata_prelude.status_code,
                headers: response.metadata_prelude.headers,
                body: body.into(),
            };
            (response, LambdaBody::Streamed)
        }
    }
}
