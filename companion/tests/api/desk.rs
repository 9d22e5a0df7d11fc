//! The web desk's files (issue 16): `/` is the desk's `index.html` and `/desk/...` its own
//! files, without a token, with a CSP that forbids inline code and framing; nothing outside
//! the folder is served; a missing folder answers 503 saying what to do. The files are the
//! test's own (a temp folder), not the real `companion/desk/`.

use reqwest::StatusCode;

use crate::addin::raw_get;
use crate::both_engines;
use crate::helpers::{Engine, Opts, TestApp, assert_envelope, spawn_app_configured};

both_engines!(
    the_desk_is_served_at_the_root_with_its_headers,
    paths_outside_the_desk_folder_are_refused,
    a_missing_desk_folder_answers_503_saying_what_to_do,
);

const SECRET: &str = "segreto-fuori-dalla-scrivania";

/// `desk/` with an index and a script, and a secret beside it.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("desk/pages")).expect("mkdir");
    std::fs::write(
        dir.path().join("desk/index.html"),
        "<!doctype html><title>desk</title><script type=module src=/desk/desk.js></script>",
    )
    .expect("index");
    std::fs::write(dir.path().join("desk/desk.js"), "export {};\n").expect("js");
    std::fs::write(dir.path().join("desk/pages/mine.js"), "export {};\n").expect("page");
    std::fs::write(dir.path().join("secret.txt"), SECRET).expect("secret");
    dir
}

async fn spawn_with(engine: Engine, desk: std::path::PathBuf) -> TestApp {
    spawn_app_configured(engine, Opts::default(), move |s| s.desk.dir = desk).await
}

async fn the_desk_is_served_at_the_root_with_its_headers(engine: Engine) {
    let dir = folder();
    let app = spawn_with(engine, dir.path().join("desk")).await;
    let resp = app.client.get(app.url("/")).send().await.expect("get /");
    assert_eq!(resp.status(), StatusCode::OK);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    let csp = h["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(resp.text().await.expect("body").contains("/desk/desk.js"));

    for (path, ty) in [
        ("/desk/desk.js", "text/javascript; charset=utf-8"),
        ("/desk/pages/mine.js", "text/javascript; charset=utf-8"),
    ] {
        let resp = app.client.get(app.url(path)).send().await.expect("get");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        assert_eq!(resp.headers()["content-type"], ty, "{path}");
    }
    // No token needed, and a missing file is the API's 404 envelope.
    let missing = app
        .send(reqwest::Method::GET, "/desk/nope.js", None, None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_envelope(&missing, "not_found");
    // The API is still the API.
    let me = app
        .send(reqwest::Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

async fn paths_outside_the_desk_folder_are_refused(engine: Engine) {
    let dir = folder();
    let app = spawn_with(engine, dir.path().join("desk")).await;
    let (status, text) = raw_get(&app, "/desk/desk.js").await;
    assert_eq!(status, 200, "{text}");
    for target in [
        "/desk/../secret.txt",
        "/desk/%2e%2e/secret.txt",
        "/desk/..%2fsecret.txt",
        "/desk/pages/%2e%2e/%2e%2e/secret.txt",
        "/desk/..%5csecret.txt",
        "/desk/%00secret.txt",
    ] {
        let (status, text) = raw_get(&app, target).await;
        assert!(
            [400, 404, 422].contains(&status),
            "{target} answered {status}: {text}"
        );
        assert!(!text.contains(SECRET), "{target} leaked the file: {text}");
    }
}

async fn a_missing_desk_folder_answers_503_saying_what_to_do(engine: Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = spawn_with(engine, dir.path().join("no-desk")).await;
    for path in ["/", "/desk/desk.js"] {
        let a = app.send(reqwest::Method::GET, path, None, None).await;
        assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        let message = a.body["error"]["message"].as_str().expect("message");
        assert!(message.contains("PECDESK_DESK__DIR"), "{message}");
        assert!(
            message.starts_with("i file della scrivania non ci sono"),
            "{message}"
        );
    }
}
