//! The route template that answered (`/img/{*key}`), for the layers outside routing (the log
//! line, the metrics) that must name it. It is known only inside the routed router, which CORS
//! and those layers wrap, so [`mark`] runs there and leaves it on the answer. A template, never
//! the path: label values stay few however many keys are asked for.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Response extension: the route template that answered.
#[derive(Debug, Clone)]
pub struct MatchedRoute(pub Arc<str>);

/// Inside routing: puts the matched route on the answer.
pub async fn mark(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| MatchedRoute(path.as_str().into()));
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}
