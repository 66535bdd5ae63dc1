//! The gate in front of the upload routes: reads the bearer token and the peer address off the
//! request, lets `auth::Gate` decide, and answers its refusal (401, 429, 503) as any other
//! error, so it gets the JSON body and, from the CORS layer outside, the CORS headers. It sits
//! on the routes it guards (a route layer), so a preflight, which routing answers without
//! running the route, never needs a token.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{AuthError, Gate};
use crate::error::ApiError;

/// For `POST /upload`: the token, then the rate limit.
pub async fn guard(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    pass(&gate, request, next, Pass::Upload).await
}

/// For the direct upload calls that start an upload (`s3/params`, `s3/multipart`): the token,
/// then the rate limit; refusals read the way Uppy reads them.
pub async fn guard_direct(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    pass(&gate, request, next, Pass::DirectStart).await
}

/// For the calls that carry on a direct upload (its part URLs, list, abort, complete): the
/// token only, so a file in thirteen parts counts once against the rate limit.
pub async fn guard_follow_up(
    State(gate): State<Arc<Gate>>,
    request: Request,
    next: Next,
) -> Response {
    pass(&gate, request, next, Pass::DirectFollowUp).await
}

/// Which checks a route takes, and how its refusals are worded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Upload,
    DirectStart,
    DirectFollowUp,
}

async fn pass(gate: &Gate, mut request: Request, next: Next, pass: Pass) -> Response {
    let peer = peer_address(&request);
    let token = bearer_token(request.headers());
    let admitted = if pass == Pass::DirectFollowUp {
        gate.identify(token, peer).await
    } else {
        gate.admit(token, peer).await
    };
    match admitted {
        Ok(client) => {
            // For handlers that want to know who uploads.
            request.extensions_mut().insert(client);
            next.run(request).await
        }
        Err(refusal) if pass == Pass::Upload => ApiError::from(refusal).into_response(),
        Err(refusal) => ApiError::from(refusal).response_for_uppy(),
    }
}

/// The address the connection came from (`pixgate serve` records it; Lambda does not).
fn peer_address(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// `Authorization: Bearer <token>` (the scheme in any case, RFC 9110 §11.1). `None` without
/// the header; an error when it holds anything else.
fn bearer_token(headers: &HeaderMap) -> Option<Result<&str, AuthError>> {
    let value = headers.get(AUTHORIZATION)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    Some(token.ok_or(AuthError::NotBearer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn token(value: &'static str) -> Option<Result<String, String>> {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
        bearer_token(&headers).map(|r| r.map(str::to_owned).map_err(|e| e.to_string()))
    }

    #[test]
    fn only_bearer_credentials_are_tokens() {
        assert_eq!(token("Bearer abc.def.ghi"), Some(Ok("abc.def.ghi".into())));
        assert_eq!(token("bearer  abc"), Some(Ok("abc".into())));
        assert!(matches!(token("Basic dXNlcjpwYXNz"), Some(Err(_))));
        assert!(matches!(token("Bearer "), Some(Err(_))));
        assert!(matches!(token("Bearer"), Some(Err(_))));
        assert_eq!(bearer_token(&HeaderMap::new()).map(|r| r.is_ok()), None);
    }
}
