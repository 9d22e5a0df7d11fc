//! The limit of the load benchmark (`scripts/load`, docs/BENCHMARKS.md): an axum server
//! that answers the companion's routes with response bytes captured from a real
//! `pecdesk serve` and held in memory, so wrk measures what the machine does for axum,
//! hyper and the loopback alone. Each endpoint of the companion is reported as a ratio
//! to this server in the same sitting, because absolute figures on a shared machine
//! swing by 2× between runs.
//!
//! ```text
//! limit_server ADDR DIR [LIST]
//! ```
//!
//! `DIR` holds `NAME.headers` (as written by `curl -D`: status line, then `Name: value`
//! lines) and `NAME.body` for `list`, `detail`, `comment` and `transition`; `LIST`
//! (default `list`) names the pair answered to `GET /api/v1/activities`, e.g. `empty`.
//! Only loopback addresses are accepted: this is a benchmark fixture, not a service.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use axum::routing::{get, post};

/// Same allocator as the `pecdesk` binary, so the limit does not differ by allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One captured response: status, headers (minus those hyper writes itself), body.
#[derive(Debug)]
struct Canned {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Canned {
    fn load(dir: &Path, name: &str) -> anyhow::Result<Arc<Canned>> {
        let head = std::fs::read_to_string(dir.join(format!("{name}.headers")))
            .with_context(|| format!("{name}.headers"))?;
        let body = std::fs::read(dir.join(format!("{name}.body")))
            .with_context(|| format!("{name}.body"))?;
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u16>().ok())
            .with_context(|| format!("{name}.headers: no status line"))?;
        let mut headers = HeaderMap::new();
        for line in lines {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim().to_ascii_lowercase();
            // hyper writes these for every response; copying them would duplicate them.
            if matches!(
                k.as_str(),
                "date" | "content-length" | "connection" | "transfer-encoding"
            ) {
                continue;
            }
            headers.append(
                HeaderName::from_bytes(k.as_bytes())?,
                HeaderValue::from_str(v.trim())?,
            );
        }
        Ok(Arc::new(Canned {
            status: StatusCode::from_u16(status)?,
            headers,
            body: Bytes::from(body),
        }))
    }

    fn answer(&self) -> Response<Body> {
        let mut r = Response::new(Body::from(self.body.clone()));
        *r.status_mut() = self.status;
        *r.headers_mut() = self.headers.clone();
        r
    }
}

/// A route answering `c`; the request body is read, as the companion's JSON extractor does.
fn canned(c: Arc<Canned>) -> impl Fn(Bytes) -> std::future::Ready<Response<Body>> + Clone {
    move |_body: Bytes| std::future::ready(c.answer())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(dir)) = (args.next(), args.next()) else {
        bail!("usage: limit_server ADDR DIR [LIST]");
    };
    let list = args.next().unwrap_or_else(|| "list".to_owned());
    let addr: SocketAddr = addr.parse().context("ADDR")?;
    if !addr.ip().is_loopback() {
        bail!("limit_server listens on loopback only");
    }
    let dir = Path::new(&dir);
    let app = Router::new()
        .route("/api/v1/activities", get(canned(Canned::load(dir, &list)?)))
        .route(
            "/api/v1/activities/{id}",
            get(canned(Canned::load(dir, "detail")?)),
        )
        .route(
            "/api/v1/activities/{id}/comments",
            post(canned(Canned::load(dir, "comment")?)),
        )
        .route(
            "/api/v1/activities/{id}/transitions",
            post(canned(Canned::load(dir, "transition")?)),
        )
        .route("/readyz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // No graceful shutdown: the load script ends it with SIGTERM between runs.
    axum::serve(listener, app).await?;
    Ok(())
}
