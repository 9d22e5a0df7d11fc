//! The HTTP/1.1 accept loop, with the limits a slow or hostile client meets.
//!
//! `axum::serve` takes no limits, so the companion runs hyper itself:
//! - **connection cap**: at most [`HttpLimits::max_connections`] connections are served at
//!   once; beyond it new connections wait in the kernel's accept queue until one closes;
//! - **header-read timeout**: a connection that does not send a whole request head within
//!   [`HttpLimits::header_read_timeout_secs`] is closed — this also closes idle keep-alive
//!   connections, so half-sent requests (slowloris) cannot hold a slot for long;
//! - **request timeout**: reading the body and answering must finish within
//!   [`HttpLimits::request_timeout_secs`], or the client gets a 408 (see [`timeout`]).
//!
//! On shutdown the loop stops accepting, asks every open connection to finish its current
//! request, and waits for them.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt as _;

use crate::error::Error;

/// Limits of the HTTP server (`[http]` in `pecdesk.toml`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpLimits {
    /// Seconds a client has to send a request's head (and the longest a keep-alive
    /// connection stays idle).
    pub header_read_timeout_secs: u64,
    /// Seconds to read the body and answer (408 beyond).
    pub request_timeout_secs: u64,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Bytes of message bodies being imported at once (a larger total waits): bounds the
    /// memory of concurrent imports. At least one largest message is always admitted.
    pub import_memory_budget: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 15,
            request_timeout_secs: 120,
            max_connections: 1024,
            import_memory_budget: 32 * 1024 * 1024,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains open connections.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.header_read_timeout_secs.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // A slot first: over the cap, connections stay in the kernel's queue.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let svc = app.clone().map_request(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            req
        });
        let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
            let svc = svc.clone();
            async move { Ok::<_, Infallible>(svc.oneshot(req).await.into_response()) }
        });
        let conn = http.serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Errors here are the client's (reset, header timeout): nothing to answer.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Middleware: the whole request (body included) must be answered within the configured
/// time, or the client gets a 408 and the work is dropped.
pub async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => Error::RequestTimeout.into_response(),
    }
}
