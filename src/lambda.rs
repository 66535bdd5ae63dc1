//! The AWS Lambda entry: the same router behind `lambda_http`, which decodes API Gateway
//! (REST v1, HTTP API v2) and Function URL events, base64 bodies included. With
//! `PIXGATE_LAMBDA_STREAMING` the answers are streamed (Function URL `RESPONSE_STREAM`), which
//! lifts the 6 MB limit on buffered answers for large renditions.

use axum::Router;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use tower::ServiceBuilder;
use tower::util::MapRequest;

use crate::config::Config;
use crate::http::app;
use crate::request_id::RequestId;
use crate::state::AppState;

pub async fn run(config: Config) -> Result<(), lambda_http::Error> {
    let streaming = config.http().lambda_streaming;
    if config.auth().rate_limit.is_some() {
        tracing::warn!(
            "PIXGATE_RATE_LIMIT_PER_MINUTE is ignored under Lambda: API Gateway throttles there"
        );
    }
    if config.direct().key_generated {
        tracing::warn!(
            "PIXGATE_DIRECT_SIGNING_KEY is not set: each instance signs staging keys with its own \
             key, so a direct upload started on one instance is refused by another"
        );
    }
    let mut config = config.without_rate_limit();
    // The page is for people trying pixgate; a deployed API serves it only when asked to.
    if std::env::var_os("PIXGATE_UI").is_none() {
        config = config.without_ui();
    }
    // Nothing scrapes a Lambda: its metrics go out as EMF lines on stdout.
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "pixgate".into());
    config = config.with_emf_metrics(function);
    let service = service(AppState::from_config(config).await);
    if streaming {
        lambda_http::run_with_streaming_response(service).await
    } else {
        lambda_http::run(service).await
    }
}

/// The router as the Lambda runtime calls it, buffered or streamed.
pub fn service(state: AppState) -> MapRequest<Router, fn(Request) -> Request> {
    ServiceBuilder::new()
        .map_request(from_event as fn(Request) -> Request)
        .service(app(state))
}

/// What the router needs from the event beyond the HTTP request: the path API Gateway routed
/// on, and the id the platform gave the request.
fn from_event(request: Request) -> Request {
    with_request_id(route_path(request))
}

/// Names the request as the platform does: API Gateway's (or the Function URL's) request id,
/// which its access logs and the client's `apigw-requestid` also carry; else the invocation's.
fn with_request_id(mut request: Request) -> Request {
    let from_gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        _ => None,
    };
    let id = from_gateway
        .or_else(|| request.lambda_context_ref().map(|c| c.request_id.clone()))
        .and_then(|id| RequestId::from_platform(&id));
    if let Some(id) = id {
        request.extensions_mut().insert(id);
    }
    request
}

/// REST API events put the stage in the path (`/prod/upload`), which no route matches; the
/// path API Gateway routed on, without the stage, is kept by `lambda_http` as the raw path.
/// Routing on it makes every event shape reach the same routes, whatever the stage is called.
pub fn route_path(mut request: Request) -> Request {
    let raw_path = request.raw_http_path();
    if raw_path.is_empty() || raw_path == request.uri().path() {
        return request;
    }
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{raw_path}?{query}"),
        None => raw_path.to_owned(),
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(value) = path_and_query.parse() {
        parts.path_and_query = Some(value);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}
