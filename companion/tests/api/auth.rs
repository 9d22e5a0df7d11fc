//! Sign-in: dev login (loopback, demo mode), bearer checks, disabled users.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_engines;
use crate::helpers::{Engine, Opts, assert_envelope, spawn_app, spawn_app_with};

both_engines!(
    dev_login_on_loopback_in_demo_mode_gives_a_working_token,
    dev_login_is_forbidden_without_demo_or_dev_mode,
    dev_login_is_forbidden_from_a_non_loopback_address,
    requests_without_a_valid_token_get_401_with_www_authenticate,
    a_disabled_user_loses_access_at_once,
);

async fn dev_login_on_loopback_in_demo_mode_gives_a_working_token(engine: Engine) {
    let app = spawn_app(engine).await;
    let token = app.login("responsabile@demo.test").await;
    let me = app.get(&token, "/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["user"]["email"], "responsabile@demo.test");
    let unknown = app
        .send(
            Method::POST,
            "/api/v1/auth/dev-login",
            None,
            Some(json!({"email": "nessuno@demo.test"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

async fn dev_login_is_forbidden_without_demo_or_dev_mode(engine: Engine) {
    let app = spawn_app_with(
        engine,
        Opts {
            demo: false,
            ..Opts::default()
        },
    )
    .await;
    let a = app
        .send(
            Method::POST,
            "/api/v1/auth/dev-login",
            None,
            Some(json!({"email": "responsabile@demo.test"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_envelope(&a, "forbidden");
}

/// The machine's own non-loopback address (no packet is sent: UDP connect only picks a route).
fn non_loopback_ip() -> std::net::IpAddr {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp");
    s.connect("192.0.2.1:9")
        .expect("route for a non-loopback address");
    let ip = s.local_addr().expect("local").ip();
    assert!(
        !ip.is_loopback(),
        "need a non-loopback interface for this test"
    );
    ip
}

async fn dev_login_is_forbidden_from_a_non_loopback_address(engine: Engine) {
    let app = spawn_app_with(
        engine,
        Opts {
            listen_any: true,
            ..Opts::default()
        },
    )
    .await;
    let url = format!(
        "http://{}:{}/api/v1/auth/dev-login",
        non_loopback_ip(),
        app.addr.port()
    );
    let resp = app
        .client
        .post(url)
        .json(&json!({"email": "responsabile@demo.test"}))
        .send()
        .await
        .expect("request");
    let a = crate::helpers::into_answer(resp).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
    assert_envelope(&a, "forbidden");
}

async fn requests_without_a_valid_token_get_401_with_www_authenticate(engine: Engine) {
    let app = spawn_app(engine).await;
    for token in [
        None,
        Some("not-a-jwt"),
        Some("eyJhbGciOiJIUzI1NiJ9.e30.AAAA"),
    ] {
        let a = app.send(Method::GET, "/api/v1/me", token, None).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            a.headers
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap_or("")),
            Some("Bearer")
        );
        assert_envelope(&a, "unauthorized");
    }
}

async fn a_disabled_user_loses_access_at_once(engine: Engine) {
    let app = spawn_app(engine).await;
    let token = app.login("assegnatario@demo.test").await;
    assert_eq!(app.get(&token, "/api/v1/me").await.status, StatusCode::OK);
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "UPDATE users SET disabled = $1 WHERE email = $2"
    )
    .bind(true)
    .bind("assegnatario@demo.test")
    .execute(p)
    .await
    .map(|_| ()))
    .expect("disable");
    let a = app.get(&token, "/api/v1/me").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}
