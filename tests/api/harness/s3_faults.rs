//! A fault layer in front of the in-process S3 server, for the faults a real bucket has on a bad
//! day: throttling (503 `SlowDown`), a 500 `InternalError`, a slow answer, and a connection reset
//! after the write reached the store (the object is there, its answer is lost). Unarmed, it
//! passes everything through; it records every request it sees, so retries are counted, not
//! assumed.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::{Method, Request, Response, StatusCode};
use s3s::{Body, HttpError, HttpResponse};

/// What the layer does to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 `SlowDown`, without reaching the store.
    SlowDown,
    /// 500 `InternalError`, without reaching the store.
    InternalError,
    /// The store answers, and the answer is held back this long.
    Delay(Duration),
    /// The store does the work, then the connection is dropped before any answer.
    ResetAfterWrite,
}

/// One request the layer saw, and the fault it got.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub fault: Option<Fault>,
}

#[derive(Debug, Default)]
struct Plan {
    /// Faults for the next requests, one each.
    next: VecDeque<Fault>,
    /// A fault for every request while set.
    always: Option<Fault>,
    /// A fault for every request to the first object written once armed (`None` inside:
    /// armed, no object written yet).
    poisoned_key: Option<(Fault, Option<String>)>,
    seen: Vec<Seen>,
}

/// The shared switchboard of a [`FaultLayer`]; clones control the same layer.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<Plan>>);

impl Faults {
    /// The next `n` requests get `fault`.
    pub fn next(&self, n: usize, fault: Fault) {
        self.lock().next.extend(std::iter::repeat_n(fault, n));
    }

    /// Every request gets `fault` until [`Faults::clear`].
    pub fn always(&self, fault: Fault) {
        self.lock().always = Some(fault);
    }

    /// Every request to the first object PUT from now on gets `fault`; the others pass.
    pub fn poison_first_put(&self, fault: Fault) {
        self.lock().poisoned_key = Some((fault, None));
    }

    /// Disarms every fault; what was seen is kept.
    pub fn clear(&self) {
        let mut plan = self.lock();
        plan.next.clear();
        plan.always = None;
        plan.poisoned_key = None;
    }

    /// Every request so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// How many PUTs (object writes, retries included) the layer saw.
    pub fn puts(&self) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.method == Method::PUT)
            .count()
    }

    fn lock(&self) -> MutexGuard<'_, Plan> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides, and records, the fault of one request.
    fn take(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut plan = self.lock();
        let poisoned = match &mut plan.poisoned_key {
            Some((fault, key @ None)) if *method == Method::PUT => {
                *key = Some(path.to_owned());
                Some(*fault)
            }
            Some((fault, Some(key))) if key == path => Some(*fault),
            _ => None,
        };
        let fault = poisoned.or_else(|| plan.next.pop_front()).or(plan.always);
        plan.seen.push(Seen {
            method: method.clone(),
            path: path.to_owned(),
            fault,
        });
        fault
    }
}

/// The tower service in front of the S3 service.
#[derive(Clone)]
pub struct FaultLayer<S> {
    inner: S,
    faults: Faults,
}

impl<S> FaultLayer<S> {
    pub fn new(inner: S, faults: Faults) -> Self {
        Self { inner, faults }
    }
}

type Answer = Result<HttpResponse, HttpError>;

impl<S, B> tower::Service<Request<B>> for FaultLayer<S>
where
    S: tower::Service<Request<B>, Response = HttpResponse, Error = HttpError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = HttpResponse;
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Answer> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), HttpError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let fault = self.faults.take(request.method(), request.uri().path());
        // The clone is not ready yet; the one polled ready goes with this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            match fault {
                None => inner.call(request).await,
                Some(Fault::SlowDown) => Ok(s3_error(StatusCode::SERVICE_UNAVAILABLE, "SlowDown")),
                Some(Fault::InternalError) => {
                    Ok(s3_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError"))
                }
                Some(Fault::Delay(delay)) => {
                    let answer = inner.call(request).await;
                    tokio::time::sleep(delay).await;
                    answer
                }
                Some(Fault::ResetAfterWrite) => {
                    inner.call(request).await?;
                    // An error from the service makes hyper drop the connection unanswered.
                    Err(HttpError::new("fault layer: reset after the write".into()))
                }
            }
        })
    }
}

/// An S3 error answer, as a bucket gives it.
fn s3_error(status: StatusCode, code: &str) -> HttpResponse {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <Error><Code>{code}</Code><Message>injected by the fault layer</Message></Error>"
    );
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
