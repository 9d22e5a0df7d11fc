//! The web desk (issue 16): team leaders' and dispatchers' pages, served without sign-in
//! (they hold no data; every call they make to the API is authenticated). `/` is the desk's
//! `index.html`, `/desk/...` its own files (the folder of
//! [`DeskSettings`](crate::config::DeskSettings), `companion/desk/` by default); the modules
//! it shares with the task pane (API client, strings, DOM helpers, styles) come from
//! `/addin/`. Pages and sign-in: `docs/desk.md`.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use super::addin::{serve_file, with_static_headers};
use crate::error::{Error, Result};
use crate::state::AppState;

/// The Content-Security-Policy of the desk's pages: everything from the companion, no
/// inline script or style, no plugins, and never inside another site's frame.
pub const DESK_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// Routes of this module (no authentication).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(get_index))
        .route("/desk", get(|| async { Redirect::permanent("/") }))
        .route("/desk/", get(|| async { Redirect::permanent("/") }))
        .route("/desk/{*path}", get(get_desk_file))
}

/// `/`: the desk's `index.html`.
pub async fn get_index(State(state): State<AppState>, req: Request) -> Result<Response> {
    desk_file(&state, "index.html", req).await
}

/// `/desk/{path}`: one of the desk's files.
pub async fn get_desk_file(State(state): State<AppState>, req: Request) -> Result<Response> {
    // The still percent-encoded path: ServeDir decodes it once and checks every component.
    let path = req
        .uri()
        .path()
        .strip_prefix("/desk/")
        .unwrap_or_default()
        .to_owned();
    desk_file(&state, &path, req).await
}

async fn desk_file(state: &AppState, path: &str, req: Request) -> Result<Response> {
    let root = &state.settings().desk.dir;
    if tokio::fs::metadata(root.join("index.html")).await.is_err() {
        return Err(missing(root));
    }
    let resp = serve_file(root, path, req).await?;
    let mut resp = with_static_headers(resp, DESK_CSP);
    let h = resp.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(resp.into_response())
}

/// 503 saying what to do when the desk's folder is not where the settings say.
fn missing(root: &std::path::Path) -> Error {
    let root = root.display();
    Error::Unavailable(format!(
        "i file della scrivania non ci sono ({root}): avvia pecdesk dalla cartella del \
         progetto o imposta desk.dir (PECDESK_DESK__DIR) / the desk's files are missing \
         ({root}): start pecdesk from the project folder or set desk.dir (PECDESK_DESK__DIR)"
    ))
}
