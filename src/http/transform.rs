//! `GET`/`HEAD /img/{key}?w&h&fit&enlarge&f&q&s`: a stored image rendered on request, made for
//! a CDN in front. Checks run cheapest first (key, query, signature, size), a non-canonical
//! query is redirected to its canonical form so caches hold one object per rendition, and a
//! strong ETag answers revalidations without fetching or decoding anything.

use axum::extract::{Path, RawQuery, State};
use axum::http::header::{
    ACCEPT, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, IF_NONE_MATCH, LOCATION, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use headers::ETag;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use sha2::{Digest, Sha256};

use super::{not_modified, with_etag};
use crate::config::TransformConfig;
use crate::error::ApiError;
use crate::request::{RequestError, TransformQuery, signature};
use crate::state::AppState;
use crate::storage::is_safe_key;

/// Bump when the same query would render different bytes (new encoder settings, a fixed
/// resize), so caches holding the old bytes see a new ETag.
const RENDERER_VERSION: &str = "1";

/// Refusals are cached briefly: a CDN absorbs a burst of bad URLs, and a fixed object or
/// configuration shows through within a minute.
const ERROR_CACHE_CONTROL: &str = "public, max-age=60";

pub async fn transform(
    State(state): State<AppState>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    match respond(&state, key, query.as_deref().unwrap_or(""), &headers).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

async fn respond(
    state: &AppState,
    key: String,
    raw_query: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let settings = state.config.transform();
    if !is_safe_key(&key) || !settings.serves(&key) {
        return Err(ApiError::NotFound);
    }
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let query = TransformQuery::parse(raw_query, accept, settings.max_side)?;
    check_signature(settings, &key, &query)?;
    check_size(settings, &query)?;
    let canonical = query.canonical_with_signature();
    if settings.canonical_redirect && raw_query != canonical {
        return Ok(redirect(&key, &canonical, &query, settings));
    }
    let canonical_query = query.canonical();
    // A revalidation is answered from the source's version alone (a HEAD on S3); a first
    // fetch skips that round trip and takes the version from the object it renders.
    let mut response = if headers.contains_key(IF_NONE_MATCH) {
        let version = state.renders.source_version(&key).await?;
        let etag = rendition_etag(&key, &version, &canonical_query);
        if not_modified(headers, &etag) {
            with_etag(StatusCode::NOT_MODIFIED.into_response(), &etag)
        } else {
            render(state, key, &canonical_query, &query).await?
        }
    } else {
        render(state, key, &canonical_query, &query).await?
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, settings.cache_control.clone());
    if query.auto_format {
        headers.insert(VARY, HeaderValue::from_static("Accept"));
    }
    Ok(response)
}

async fn render(
    state: &AppState,
    key: String,
    canonical_query: &str,
    query: &TransformQuery,
) -> Result<Response, ApiError> {
    let etag_key = key.clone();
    let spec = query.render_spec(state.config.transform().avif_speed);
    let rendered = state.renders.render(key, canonical_query, spec).await?;
    let etag = rendition_etag(&etag_key, &rendered.source_version, canonical_query);
    let rendition = &rendered.rendition;
    Ok(with_etag(
        rendition_response(rendition.bytes.clone(), rendition.content_type),
        &etag,
    ))
}

fn check_signature(
    settings: &TransformConfig,
    key: &str,
    query: &TransformQuery,
) -> Result<(), RequestError> {
    if !settings.signs() {
        return Ok(());
    }
    let signature = query
        .signature
        .as_deref()
        .ok_or(RequestError::BadSignature)?;
    let messages: Vec<String> = query
        .signed_forms()
        .iter()
        .map(|form| signature::signed_message(key, form))
        .collect();
    if signature::verify(&settings.signing_keys, &messages, signature) {
        Ok(())
    } else {
        Err(RequestError::BadSignature)
    }
}

fn check_size(settings: &TransformConfig, query: &TransformQuery) -> Result<(), RequestError> {
    let (width, height) = query.size();
    if settings.allows_size(width, height) {
        Ok(())
    } else {
        Err(RequestError::SizeNotAllowed { width, height })
    }
}

/// Relative to the request's own URL (`./{last segment}?{query}`), so the redirect keeps
/// whatever stage or path prefix a gateway or CDN put in front of `/img`.
fn redirect(
    key: &str,
    canonical: &str,
    query: &TransformQuery,
    settings: &TransformConfig,
) -> Response {
    // Characters that would end or change a path segment in a URL.
    const SEGMENT: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');
    let last_segment = key.rsplit('/').next().unwrap_or(key);
    let mut location = format!("./{}", utf8_percent_encode(last_segment, SEGMENT));
    if !canonical.is_empty() {
        location.push('?');
        location.push_str(canonical);
    }
    let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(LOCATION, value);
    }
    headers.insert(CACHE_CONTROL, settings.cache_control.clone());
    if query.auto_format {
        headers.insert(VARY, HeaderValue::from_static("Accept"));
    }
    response
}

/// Strong: the same source version and canonical query always render the same bytes.
fn rendition_etag(key: &str, version: &str, canonical: &str) -> ETag {
    let digest = Sha256::new()
        .chain_update(RENDERER_VERSION)
        .chain_update([0])
        .chain_update(key)
        .chain_update([0])
        .chain_update(version)
        .chain_update([0])
        .chain_update(canonical)
        .finalize();
    super::strong_etag(&hex::encode(&digest[..16])).expect("hex digits make an entity tag")
}

fn rendition_response(bytes: bytes::Bytes, content_type: &'static str) -> Response {
    let length = bytes.len();
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Set explicitly so HEAD, whose body is dropped, still tells the size.
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn error_response(error: &ApiError) -> Response {
    let mut response = error.response_for(None);
    let cache = if error.status().is_server_error() {
        "no-store"
    } else {
        ERROR_CACHE_CONTROL
    };
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_changes_with_source_version_and_query() {
        let base = rendition_etag("profile/a.jpg", "v1", "w=10");
        assert_eq!(base, rendition_etag("profile/a.jpg", "v1", "w=10"));
        assert_ne!(base, rendition_etag("profile/a.jpg", "v2", "w=10"));
        assert_ne!(base, rendition_etag("profile/a.jpg", "v1", "w=11"));
        assert_ne!(base, rendition_etag("profile/b.jpg", "v1", "w=10"));
    }
}
