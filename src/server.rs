//! The local server: the router on a TCP listener, with the limits a public socket needs.
//!
//! axum's own `serve` has none of them, so the accept loop is here: a cap on open connections
//! (one over it is answered 503 and closed, so a flood of idle sockets cannot use up the
//! process's file descriptors and lock everyone out), a deadline for each request head (which
//! also closes idle keep-alive connections), and a bounded drain on SIGTERM or Ctrl-C.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::config::{Config, HttpConfig};
use crate::error::{ApiError, RETRY_AFTER_SECS};
use crate::http::app;
use crate::state::AppState;

/// hyper refuses (with an empty 431) heads with more header lines than this. It is above the
/// limit the router answers in JSON (`http::head_limits`), so that answer is what clients see.
const HYPER_MAX_HEADERS: usize = 200;

/// How long the accept loop pauses after an accept error (out of file descriptors, mostly):
/// retrying at once would spin a core while nothing can be accepted.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// How long a refused connection gets to take its 503.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

pub async fn run(config: Config) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let http = config.http().clone();
    let storage = format!("{:?}", config.storage());
    let state = AppState::from_config(config).await;
    let listener = TcpListener::bind(http.addr).await?;
    let max_connections = connection_cap(http.max_connections);
    tracing::info!(
        addr = %listener.local_addr()?,
        storage,
        max_connections,
        "pixgate listening"
    );
    serve(
        listener,
        app(state),
        &http,
        max_connections,
        shutdown_signal(),
    )
    .await;
    Ok(())
}

/// Accepts connections until `shutdown` completes, then lets the open ones finish for at most
/// `--shutdown-timeout-secs`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    http: &HttpConfig,
    max_connections: usize,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Arc::new(Semaphore::new(max_connections));
    let refusal = refusal();
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(http.header_read_timeout)
        .max_headers(HYPER_MAX_HEADERS)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed; pausing");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            tokio::spawn(refuse(stream, Arc::clone(&refusal)));
            continue;
        };
        let connection =
            builder.serve_connection(TokioIo::new(stream), service(router.clone(), peer));
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            let _permit: OwnedSemaphorePermit = permit;
            // Timeouts and clients going away end connections with an error: routine here.
            if let Err(error) = watched.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(
        open = graceful.count(),
        "shutting down: draining connections"
    );
    if tokio::time::timeout(http.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            after_secs = http.shutdown_timeout.as_secs(),
            "connections still open at the shutdown deadline; exiting anyway"
        );
    }
}

/// The router for one connection, with the peer's address where `ConnectInfo` finds it (an
/// anonymous client's rate limit counts against it).
fn service(
    router: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request.map(Body::new))
    })
}

/// The answer to a connection over the cap, in full: the one error mapping's status and body,
/// made once, since a flood of connections is exactly when it is sent most.
fn refusal() -> Arc<[u8]> {
    let error = ApiError::Overloaded("too many open connections");
    let body = error.body_bytes();
    let head = format!(
        "HTTP/1.1 {}\r\ncontent-type: application/json\r\nretry-after: {RETRY_AFTER_SECS}\r\n\
         cache-control: no-store\r\naccess-control-allow-origin: *\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n",
        error.status(),
        body.len()
    );
    [head.as_bytes(), &body].concat().into()
}

/// Writes the refusal without reading the request: the client learns the server is busy,
/// instead of waiting in the kernel's backlog.
async fn refuse(mut stream: TcpStream, refusal: Arc<[u8]>) {
    let write = async {
        stream.write_all(&refusal).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, write).await;
}

/// `wanted`, lowered if needed to what the open-file limit allows once it has been raised as far
/// as the hard limit lets it: each connection is a file descriptor, and the store, logs and
/// refused connections need some of their own.
fn connection_cap(wanted: usize) -> usize {
    const RESERVED_FDS: u64 = 64;
    let Some(open_files) = raise_open_file_limit() else {
        return wanted;
    };
    let fits = usize::try_from(open_files.saturating_sub(RESERVED_FDS).max(1)).unwrap_or(wanted);
    if fits < wanted {
        tracing::warn!(
            wanted,
            open_file_limit = open_files,
            using = fits,
            "PIXGATE_MAX_CONNECTIONS lowered to fit the open-file limit"
        );
    }
    wanted.min(fits)
}

/// Raises the soft open-file limit to the hard one (Linux starts processes at 1024); the limit
/// now in force, or `None` where it cannot be read.
#[cfg(unix)]
fn raise_open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by reference.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &raw mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raw const raised) == 0 {
                limit = raised;
            }
        }
    }
    Some(limit.rlim_cur)
}

#[cfg(not(unix))]
fn raise_open_file_limit() -> Option<u64> {
    None
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
