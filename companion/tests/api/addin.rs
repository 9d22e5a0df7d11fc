//! The add-ins' files (issue 15): the pane, the wasm and the Outlook pages as static files
//! with their types and headers, the filled manifest, `config.json`, the Thunderbird
//! extension built on the fly, 503 when something is not built, no way out of the folders.
//! The files are the test's own (temp folders), not the real `addin/`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::both_engines;
use crate::helpers::{Engine, Opts, TestApp, assert_envelope, spawn_app_configured};

both_engines!(
    pane_wasm_and_outlook_files_are_served_with_their_types_and_headers,
    paths_outside_the_addin_folders_are_refused,
    the_outlook_manifest_is_filled_with_the_public_url,
    config_json_names_the_companion_and_dev_login,
    the_xpi_is_a_zip_with_the_documented_layout_and_follows_changes,
    missing_wasm_or_manifests_answer_503_saying_what_to_run,
    outlook_is_a_sign_in_client,
);

const PUBLIC_URL: &str = "https://pecdesk.esempio.test";
const WASM_BYTES: &[u8] = b"\0asm\x01\0\0\0";
const SECRET: &str = "segreto-fuori-dalla-cartella";

/// A project folder of the test's own: `addin/`, `manifests/`, the wasm, and a file beside
/// them that must never be served.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = Self { dir };
        for (path, text) in [
            (
                "addin/pane/index.html",
                "<!doctype html><title>PecDesk</title><script type=module src=app.js></script>",
            ),
            ("addin/pane/app.js", "import './core.js';"),
            ("addin/pane/core.js", "export const x = 1;"),
            ("addin/pane/style.css", "body { margin: 0 }"),
            (
                "addin/pane/hosts/office.js",
                "export async function createHost() {}",
            ),
            ("addin/pane/.swp", "editor junk"),
            (
                "addin/outlook/commands.html",
                "<!doctype html><title>c</title>",
            ),
            (
                "addin/outlook/signin-done.html",
                "<!doctype html><title>s</title>",
            ),
            ("addin/webext/background.js", "browser.runtime;"),
            (
                "manifests/outlook.xml",
                "<OfficeApp><SourceLocation DefaultValue=\"{{PUBLIC_URL}}/addin/?host=outlook\"/>\
                 <AppDomain>{{PUBLIC_URL}}</AppDomain></OfficeApp>",
            ),
            (
                "manifests/thunderbird.json",
                "{\"manifest_version\": 3, \"name\": \"PecDesk\", \"host_permissions\": [\"{{PUBLIC_URL}}/*\"]}",
            ),
            ("wasm/pecdesk_wasm.js", "export default function init() {}"),
            ("secret.txt", SECRET),
        ] {
            files.write(path, text.as_bytes());
        }
        files.write("wasm/pecdesk_wasm_bg.wasm", WASM_BYTES);
        files
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write");
    }

    fn configure(&self) -> impl FnOnce(&mut pecdesk_companion::Settings) + use<> {
        let root = self.dir.path().to_path_buf();
        move |s| {
            s.public_url = Some(PUBLIC_URL.to_owned());
            s.addin.dir = root.join("addin");
            s.addin.manifests_dir = root.join("manifests");
            s.addin.wasm_dir = root.join("wasm");
        }
    }
}

async fn spawn_with(engine: Engine, files: &Files) -> TestApp {
    spawn_app_configured(engine, Opts::default(), files.configure()).await
}

/// GET without a token: status, headers, bytes.
async fn fetch(app: &TestApp, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let resp = app.client.get(app.url(path)).send().await.expect("request");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("body").to_vec();
    (status, headers, bytes)
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

async fn pane_wasm_and_outlook_files_are_served_with_their_types_and_headers(engine: Engine) {
    let files = Files::new();
    let app = spawn_with(engine, &files).await;
    for (path, ctype, file) in [
        (
            "/addin/",
            "text/html; charset=utf-8",
            "addin/pane/index.html",
        ),
        (
            "/addin/index.html",
            "text/html; charset=utf-8",
            "addin/pane/index.html",
        ),
        (
            "/addin/app.js",
            "text/javascript; charset=utf-8",
            "addin/pane/app.js",
        ),
        (
            "/addin/style.css",
            "text/css; charset=utf-8",
            "addin/pane/style.css",
        ),
        (
            "/addin/hosts/office.js",
            "text/javascript; charset=utf-8",
            "addin/pane/hosts/office.js",
        ),
        (
            "/addin/wasm/pecdesk_wasm_bg.wasm",
            "application/wasm",
            "wasm/pecdesk_wasm_bg.wasm",
        ),
        (
            "/addin/wasm/pecdesk_wasm.js",
            "text/javascript; charset=utf-8",
            "wasm/pecdesk_wasm.js",
        ),
        (
            "/addin/outlook/signin-done.html",
            "text/html; charset=utf-8",
            "addin/outlook/signin-done.html",
        ),
    ] {
        let (status, h, body) = fetch(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&h, "content-type"), ctype, "{path}");
        assert_eq!(
            body,
            std::fs::read(files.path(file)).expect("file"),
            "{path}"
        );
        assert_eq!(header(&h, "cache-control"), "no-cache", "{path}");
        assert_eq!(header(&h, "x-content-type-options"), "nosniff", "{path}");
        // Outlook frames the pane: no X-Frame-Options, ever.
        assert!(h.get("x-frame-options").is_none(), "{path}");
        if ctype.starts_with("text/html") {
            assert_eq!(
                header(&h, "content-security-policy"),
                "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' \
                 https://appsforoffice.microsoft.com; style-src 'self'; img-src 'self' data: \
                 blob:; frame-src 'self' blob:; connect-src 'self'; object-src 'none'; \
                 base-uri 'none'",
                "{path}"
            );
        } else {
            assert!(h.get("content-security-policy").is_none(), "{path}");
        }
    }
    // The query is the page's (host detection), not part of the file name.
    let (status, _, _) = fetch(&app, "/addin/?host=outlook").await;
    assert_eq!(status, StatusCode::OK);
    // `/addin` leads to `/addin/` (reqwest follows the redirect).
    let (status, _, body) = fetch(&app, "/addin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("<title>PecDesk</title>"));
    // A missing file: 404 in the envelope. A folder: 404 (no listing, no redirect).
    for path in ["/addin/nope.js", "/addin/hosts", "/addin/wasm/nope.wasm"] {
        let a = app.send(Method::GET, path, None, None).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_envelope(&a, "not_found");
    }
    // Only GET (and HEAD).
    let a = app.send(Method::POST, "/addin/app.js", None, None).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    let head = app
        .client
        .head(app.url("/addin/wasm/pecdesk_wasm_bg.wasm"))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(head.headers(), "content-type"), "application/wasm");
}

/// Sends `target` as the request line as is (an HTTP client would normalise `..` and
/// `%2e%2e` away); returns the status and the whole answer.
pub(crate) async fn raw_get(app: &TestApp, target: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    s.write_all(
        format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

async fn paths_outside_the_addin_folders_are_refused(engine: Engine) {
    let files = Files::new();
    let app = spawn_with(engine, &files).await;
    // The raw request works for a real file, so a refusal below is the path's.
    let (status, text) = raw_get(&app, "/addin/app.js").await;
    assert_eq!(status, 200, "{text}");
    let abs = files.path("secret.txt");
    let abs = abs.to_string_lossy();
    for target in [
        "/addin/../secret.txt",
        "/addin/../../secret.txt",
        "/addin/%2e%2e/secret.txt",
        "/addin/%2E%2E/%2e%2e/secret.txt",
        "/addin/..%2fsecret.txt",
        "/addin/..%2f..%2fsecret.txt",
        "/addin/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/addin/..%5csecret.txt",
        "/addin/wasm/../../secret.txt",
        "/addin/wasm/%2e%2e/secret.txt",
        "/addin/outlook/%2e%2e/%2e%2e/secret.txt",
        "/addin/hosts/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        &format!("/addin/{abs}"),
        &format!("/addin//{abs}"),
        &format!("/addin/{}", abs.replace('/', "%2f")),
        "/addin/%00secret.txt",
    ] {
        let (status, text) = raw_get(&app, target).await;
        assert!(
            [400, 404, 422].contains(&status),
            "{target} answered {status}: {text}"
        );
        assert!(!text.contains(SECRET), "{target} leaked the file: {text}");
    }
}

async fn the_outlook_manifest_is_filled_with_the_public_url(engine: Engine) {
    let files = Files::new();
    let app = spawn_with(engine, &files).await;
    let (status, h, body) = fetch(&app, "/addin/manifest.xml").await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&h, "content-type").starts_with("application/xml"));
    let text = String::from_utf8(body).expect("utf-8");
    assert_eq!(
        text,
        format!(
            "<OfficeApp><SourceLocation DefaultValue=\"{PUBLIC_URL}/addin/?host=outlook\"/>\
             <AppDomain>{PUBLIC_URL}</AppDomain></OfficeApp>"
        )
    );
    assert!(!text.contains("{{"));
}

async fn config_json_names_the_companion_and_dev_login(engine: Engine) {
    let files = Files::new();
    let app = spawn_with(engine, &files).await;
    let a = app
        .send(Method::GET, "/addin/config.json", None, None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.body,
        json!({"companion": PUBLIC_URL, "dev_login": true, "lang": "it"})
    );
    assert_eq!(header(&a.headers, "cache-control"), "no-cache");
    // Without demo or dev mode, and without public_url: dev login off, the listen address.
    let files2 = Files::new();
    let configure = files2.configure();
    let plain = spawn_app_configured(
        engine,
        Opts {
            demo: false,
            ..Opts::default()
        },
        |s| {
            configure(s);
            s.public_url = None;
        },
    )
    .await;
    let a = plain
        .send(Method::GET, "/addin/config.json", None, None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["dev_login"], false);
    // `for_data_dir` listens on port 0: the URL names the configured listen address.
    assert_eq!(a.body["companion"], "http://127.0.0.1:0");
}

fn zip_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a ZIP");
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).expect("entry");
            let mut b = Vec::new();
            f.read_to_end(&mut b).expect("read entry");
            (f.name().expect("entry name").into_owned(), b)
        })
        .collect()
}

fn entry<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &entries
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} in the xpi"))
        .1
}

async fn the_xpi_is_a_zip_with_the_documented_layout_and_follows_changes(engine: Engine) {
    let files = Files::new();
    let app = spawn_with(engine, &files).await;
    let (status, h, body) = fetch(&app, "/webext/pecdesk.xpi").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&h, "content-type"), "application/x-xpinstall");
    let entries = zip_entries(&body);
    let mut names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "background.js",
            "config.json",
            "manifest.json",
            "pane/app.js",
            "pane/core.js",
            "pane/hosts/office.js",
            "pane/index.html",
            "pane/style.css",
            "pane/wasm/pecdesk_wasm.js",
            "pane/wasm/pecdesk_wasm_bg.wasm",
        ]
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(entry(&entries, "manifest.json")).expect("manifest JSON");
    assert_eq!(manifest["host_permissions"][0], format!("{PUBLIC_URL}/*"));
    let config: serde_json::Value =
        serde_json::from_slice(entry(&entries, "config.json")).expect("config JSON");
    assert_eq!(
        config,
        json!({"companion": PUBLIC_URL, "dev_login": true, "lang": "it"})
    );
    assert_eq!(
        entry(&entries, "pane/wasm/pecdesk_wasm_bg.wasm"),
        WASM_BYTES
    );
    assert_eq!(
        entry(&entries, "background.js"),
        std::fs::read(files.path("addin/webext/background.js")).expect("file")
    );
    // Built once, then the same bytes ...
    let (_, _, again) = fetch(&app, "/webext/pecdesk.xpi").await;
    assert_eq!(again, body);
    // ... until a file changes.
    files.write(
        "addin/pane/app.js",
        b"import './core.js'; // nuova versione",
    );
    let (_, _, changed) = fetch(&app, "/webext/pecdesk.xpi").await;
    assert_eq!(
        entry(&zip_entries(&changed), "pane/app.js"),
        b"import './core.js'; // nuova versione"
    );
}

async fn missing_wasm_or_manifests_answer_503_saying_what_to_run(engine: Engine) {
    let files = Files::new();
    let nowhere: &Path = Path::new("/nonexistent/pecdesk-test");
    let unavailable = |a: &crate::helpers::Answer, path: &str, needle: &str| {
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert_envelope(a, "unavailable");
        let msg = a.body["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(needle), "{path}: {msg}");
    };
    // The wasm not built.
    let configure = files.configure();
    let app = spawn_app_configured(engine, Opts::default(), |s| {
        configure(s);
        s.addin.wasm_dir = nowhere.join("wasm");
    })
    .await;
    for path in [
        "/addin/wasm/pecdesk_wasm.js",
        "/addin/wasm/pecdesk_wasm_bg.wasm",
        "/webext/pecdesk.xpi",
    ] {
        let a = app.send(Method::GET, path, None, None).await;
        unavailable(&a, path, "./scripts/build-wasm");
    }
    // The pane itself is still there.
    assert_eq!(fetch(&app, "/addin/app.js").await.0, StatusCode::OK);
    drop(app);
    // The manifests missing.
    let configure = files.configure();
    let app = spawn_app_configured(engine, Opts::default(), |s| {
        configure(s);
        s.addin.manifests_dir = nowhere.join("manifests");
    })
    .await;
    for path in ["/addin/manifest.xml", "/webext/pecdesk.xpi"] {
        let a = app.send(Method::GET, path, None, None).await;
        unavailable(&a, path, "addin.manifests_dir");
    }
    drop(app);
    // The pane's folder missing: 503 too, naming the setting.
    let app = spawn_app_configured(engine, Opts::default(), |s| {
        s.addin.dir = nowhere.join("addin");
    })
    .await;
    let a = app.send(Method::GET, "/addin/", None, None).await;
    unavailable(&a, "/addin/", "addin.dir");
}

async fn outlook_is_a_sign_in_client(engine: Engine) {
    let files = Files::new();
    let app = spawn_with(engine, &files).await;
    let admin = app.login("admin@demo.test").await;
    let done = format!("{PUBLIC_URL}/addin/outlook/signin-done.html");
    let put = app
        .put(
            &admin,
            "/api/v1/auth/idp",
            json!({
                "issuer": "https://idp.esempio.test", "client_id": "pecdesk",
                "redirect_uris": {"outlook": [done]}
            }),
        )
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{:?}", put.body);
    // An unknown client is refused before anything else ...
    let login = |client: &str, redirect: &str| {
        format!(
            "/api/v1/auth/login?org=Studio%20Demo&client={client}&redirect_uri={}",
            redirect.replace(':', "%3A").replace('/', "%2F")
        )
    };
    let a = app
        .send(Method::GET, &login("outlook-x", &done), None, None)
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("outlook"))
    );
    // ... `outlook` is known, and its redirect URI must be the registered one.
    let a = app
        .send(
            Method::GET,
            &login("outlook", "https://altrove.test/x"),
            None,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("redirect_uri")),
        "{:?}",
        a.body
    );
}
