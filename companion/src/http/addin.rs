//! The add-ins' files, served without sign-in (they hold no data; every call they make to
//! the API is authenticated): the task pane at `/addin/`, the WebAssembly core at
//! `/addin/wasm/`, the Outlook pages at `/addin/outlook/`, the Outlook manifest filled with
//! the public URL at `/addin/manifest.xml`, `/addin/config.json`, and the Thunderbird
//! extension built on the fly at `/webext/pecdesk.xpi`. Layout: `addin/README.md`.
//!
//! Files are read from the folders of [`AddinSettings`](crate::config::AddinSettings)
//! through tower-http's `ServeDir`, which refuses `..` and absolute paths. A folder or
//! manifest that is missing answers 503 saying what to run, not a bare 404.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Serialize;
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

use crate::error::{Error, Result};
use crate::state::AppState;

/// The Content-Security-Policy of every HTML page of the add-ins: scripts only from the
/// companion (plus Office.js, which Outlook requires from Microsoft's CDN) and the
/// WebAssembly compiler, no inline script or style, no plugins. No `frame-ancestors` and no
/// `X-Frame-Options`: Outlook (web and desktop) shows the pane in a frame of its own origin.
pub const PANE_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' \
    https://appsforoffice.microsoft.com; style-src 'self'; img-src 'self' data: blob:; \
    frame-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'";

/// What `./scripts/build-wasm` writes first and the pane loads first.
const WASM_ENTRY: &str = "pecdesk_wasm.js";

/// Routes of this module (no authentication).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/addin", get(|| async { Redirect::permanent("/addin/") }))
        .route("/addin/", get(get_addin_file))
        .route("/addin/{*path}", get(get_addin_file))
        .route("/webext/pecdesk.xpi", get(get_xpi))
}

/// `/addin/config.json`: what the pane reads before anything else.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AddinConfig {
    /// The companion's public URL (no trailing `/`).
    pub companion: String,
    /// Whether dev login answers (`--demo` or `dev_mode`; loopback clients only).
    pub dev_login: bool,
    /// The default language of the pane.
    pub lang: &'static str,
}

impl AddinConfig {
    fn of(state: &AppState) -> Self {
        Self {
            companion: state.settings().public_url(),
            dev_login: state.settings().dev_login_enabled(),
            lang: "it",
        }
    }
}

/// One file of the add-ins: `config.json`, `manifest.xml`, or a static file of the pane,
/// the wasm or the Outlook pages.
pub async fn get_addin_file(State(state): State<AppState>, req: Request) -> Result<Response> {
    // The still percent-encoded path: ServeDir decodes it once and checks every component.
    let path = req
        .uri()
        .path()
        .strip_prefix("/addin/")
        .unwrap_or_default()
        .to_owned();
    let resp = match path.as_str() {
        "config.json" => axum::Json(AddinConfig::of(&state)).into_response(),
        "manifest.xml" => outlook_manifest(&state).await?,
        _ => static_file(&state, &path, req).await?,
    };
    Ok(with_static_headers(resp, PANE_CSP))
}

/// The folder a path of `/addin/` is read from, and the path inside it.
fn locate<'a>(state: &AppState, path: &'a str) -> (Source, PathBuf, &'a str) {
    let a = &state.settings().addin;
    if let Some(rest) = path.strip_prefix("wasm/") {
        (Source::Wasm, a.wasm_dir.clone(), rest)
    } else if let Some(rest) = path.strip_prefix("outlook/") {
        (Source::Outlook, a.dir.join("outlook"), rest)
    } else {
        (Source::Pane, a.dir.join("pane"), path)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Pane,
    Outlook,
    Wasm,
}

async fn static_file(state: &AppState, path: &str, req: Request) -> Result<Response> {
    let (source, root, rest) = locate(state, path);
    ensure_present(source, &root).await?;
    serve_file(&root, rest, req).await
}

/// The file `rest` of the folder `root` (`index.html` for a folder), through `ServeDir`
/// (which refuses `..` and absolute paths); 404 in the API's envelope when missing. Shared
/// with the desk ([`super::desk`]).
pub(crate) async fn serve_file(root: &Path, rest: &str, req: Request) -> Result<Response> {
    let rest = if rest.is_empty() || rest.ends_with('/') {
        format!("{rest}index.html")
    } else {
        rest.to_owned()
    };
    let (mut parts, body) = req.into_parts();
    // Only the path inside the folder; the query (`?host=outlook`) is the page's business.
    parts.uri = Uri::try_from(format!("/{rest}")).map_err(|_| Error::NotFound)?;
    let resp = ServeDir::new(root)
        // A folder without `/` would be redirected to a path without the `/addin` prefix.
        .append_index_html_on_directories(false)
        .oneshot(Request::from_parts(parts, body))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("serving an add-in file: {e}")))?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Err(Error::NotFound);
    }
    Ok(resp.map(Body::new))
}

/// 503 with what to do when a whole folder is missing (the companion started elsewhere than
/// the project's folder, or the wasm not built yet).
async fn ensure_present(source: Source, root: &Path) -> Result<()> {
    let probe = match source {
        Source::Wasm => root.join(WASM_ENTRY),
        Source::Pane | Source::Outlook => root.to_path_buf(),
    };
    if tokio::fs::metadata(&probe).await.is_ok() {
        return Ok(());
    }
    Err(missing(source, root))
}

fn missing(source: Source, root: &Path) -> Error {
    let root = root.display();
    Error::Unavailable(match source {
        Source::Wasm => format!(
            "il modulo WebAssembly dei componenti aggiuntivi non è compilato ({root}): esegui \
             ./scripts/build-wasm (o imposta addin.wasm_dir / PECDESK_ADDIN__WASM_DIR) / the \
             add-ins' WebAssembly is not built ({root}): run ./scripts/build-wasm (or set \
             addin.wasm_dir / PECDESK_ADDIN__WASM_DIR)"
        ),
        Source::Pane | Source::Outlook => format!(
            "i file dei componenti aggiuntivi non ci sono ({root}): avvia pecdesk dalla \
             cartella del progetto o imposta addin.dir (PECDESK_ADDIN__DIR) / the add-ins' \
             files are missing ({root}): start pecdesk from the project folder or set \
             addin.dir (PECDESK_ADDIN__DIR)"
        ),
    })
}

fn missing_manifest(path: &Path) -> Error {
    let path = path.display();
    Error::Unavailable(format!(
        "manifesto mancante ({path}): avvia pecdesk dalla cartella del progetto o imposta \
         addin.manifests_dir (PECDESK_ADDIN__MANIFESTS_DIR) / manifest missing ({path}): \
         start pecdesk from the project folder or set addin.manifests_dir \
         (PECDESK_ADDIN__MANIFESTS_DIR)"
    ))
}

/// `manifests/outlook.xml` with every `{{PUBLIC_URL}}` replaced by the public URL.
async fn outlook_manifest(state: &AppState) -> Result<Response> {
    let path = state.settings().addin.manifests_dir.join("outlook.xml");
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|_| missing_manifest(&path))?;
    let filled = fill_public_url(&text, &xml_escape(&state.settings().public_url()));
    Ok((
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        filled,
    )
        .into_response())
}

/// `text` with every `{{PUBLIC_URL}}` replaced by `url`.
pub fn fill_public_url(text: &str, url: &str) -> String {
    text.replace("{{PUBLIC_URL}}", url)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Headers of every add-in (and desk) file: revalidate each time (a new version must show
/// at the next opening of the pane), no MIME sniffing, a charset on text, and `csp` on HTML.
pub(crate) fn with_static_headers(mut resp: Response, csp: &'static str) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let ct = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let with_charset = match ct.as_str() {
        "text/html" => Some("text/html; charset=utf-8"),
        "text/javascript" | "application/javascript" => Some("text/javascript; charset=utf-8"),
        "text/css" => Some("text/css; charset=utf-8"),
        "text/plain" => Some("text/plain; charset=utf-8"),
        _ => None,
    };
    if let Some(v) = with_charset {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
    }
    if ct.starts_with("text/html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    resp
}

/// The Thunderbird extension, built in memory from the add-ins' folders (layout in
/// `addin/README.md`), rebuilt only when a file changed.
pub async fn get_xpi(State(state): State<AppState>) -> Result<Response> {
    let bytes = xpi_bytes(&state).await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-xpinstall"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"pecdesk.xpi\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok((headers, bytes).into_response())
}

/// The last extension built, keyed by the list of its inputs (names, sizes, times) and
/// its `config.json`.
#[derive(Debug, Default)]
pub struct XpiCache {
    last: Mutex<Option<(u64, Bytes)>>,
}

async fn xpi_bytes(state: &AppState) -> Result<Bytes> {
    let addin = state.settings().addin.clone();
    let config = serde_json::to_vec_pretty(&AddinConfig::of(state))
        .map_err(|e| Error::Internal(e.into()))?;
    let public_url = state.settings().public_url();
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        let inputs = xpi_inputs(&addin)?;
        let key = fingerprint(&inputs, &config, &public_url);
        let cache = st.xpi_cache();
        if let Some((k, bytes)) = cache.last.lock().map_err(poisoned)?.as_ref()
            && *k == key
        {
            return Ok(bytes.clone());
        }
        let bytes = Bytes::from(build_xpi(&inputs, &config, &public_url)?);
        *cache.last.lock().map_err(poisoned)? = Some((key, bytes.clone()));
        tracing::info!(bytes = bytes.len(), "thunderbird extension built");
        Ok(bytes)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
}

fn poisoned<T>(_: T) -> Error {
    Error::Internal(anyhow::anyhow!("xpi cache lock poisoned"))
}

/// One file of the extension: its name in the ZIP and where it is read from.
#[derive(Debug)]
struct XpiInput {
    name: String,
    path: PathBuf,
    size: u64,
    modified: Option<std::time::SystemTime>,
}

/// Every file of the extension, in a stable order; 503 when a folder or the manifest is
/// missing.
fn xpi_inputs(a: &crate::config::AddinSettings) -> Result<Vec<XpiInput>> {
    let manifest = a.manifests_dir.join("thunderbird.json");
    let meta = std::fs::metadata(&manifest).map_err(|_| missing_manifest(&manifest))?;
    let mut out = vec![XpiInput {
        name: "manifest.json".into(),
        path: manifest,
        size: meta.len(),
        modified: meta.modified().ok(),
    }];
    let webext = a.dir.join("webext");
    let pane = a.dir.join("pane");
    for (root, source) in [(&webext, Source::Pane), (&pane, Source::Pane)] {
        if !root.is_dir() {
            return Err(missing(source, root));
        }
    }
    if !a.wasm_dir.join(WASM_ENTRY).is_file() {
        return Err(missing(Source::Wasm, &a.wasm_dir));
    }
    walk(&webext, "", &mut out)?;
    walk(&pane, "pane/", &mut out)?;
    walk(&a.wasm_dir, "pane/wasm/", &mut out)?;
    Ok(out)
}

/// Regular files under `dir`, sorted, named `prefix` + their relative path. Dot files and
/// symbolic links are left out (nothing outside the folders gets in).
fn walk(dir: &Path, prefix: &str, out: &mut Vec<XpiInput>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::Internal(anyhow::anyhow!("reading {}: {e}", dir.display())))?
        .filter_map(std::result::Result::ok)
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        if meta.is_dir() {
            walk(&e.path(), &format!("{prefix}{name}/"), out)?;
        } else if meta.is_file() {
            out.push(XpiInput {
                name: format!("{prefix}{name}"),
                path: e.path(),
                size: meta.len(),
                modified: meta.modified().ok(),
            });
        }
    }
    Ok(())
}

fn fingerprint(inputs: &[XpiInput], config: &[u8], public_url: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for i in inputs {
        (&i.name, &i.path, i.size, i.modified).hash(&mut h);
    }
    config.hash(&mut h);
    public_url.hash(&mut h);
    h.finish()
}

/// The ZIP itself. Fixed timestamps: the same inputs give the same bytes.
fn build_xpi(inputs: &[XpiInput], config: &[u8], public_url: &str) -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let zip_err = |e: zip::result::ZipError| Error::Internal(anyhow::anyhow!("xpi: {e}"));
    let io_err = |e: std::io::Error| Error::Internal(anyhow::anyhow!("xpi: {e}"));
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in inputs {
        let mut bytes = std::fs::read(&i.path).map_err(io_err)?;
        if i.name == "manifest.json" {
            // The manifest may name the companion (host permissions).
            let text = String::from_utf8(bytes).map_err(|_| {
                Error::Unavailable(
                    "manifests/thunderbird.json non è UTF-8 / is not UTF-8".to_owned(),
                )
            })?;
            bytes = fill_public_url(&text, public_url).into_bytes();
        }
        w.start_file(i.name.as_str(), opts).map_err(zip_err)?;
        w.write_all(&bytes).map_err(io_err)?;
    }
    w.start_file("config.json", opts).map_err(zip_err)?;
    w.write_all(config).map_err(io_err)?;
    Ok(w.finish().map_err(zip_err)?.into_inner())
}
