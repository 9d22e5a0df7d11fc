//! Slow and hostile clients (issue 12 item 7): a half-sent request head is cut off, a
//! trickled body gets a 408, and over the connection cap a real client still gets in once
//! the slow ones time out.

use std::time::{Duration, Instant};

use pecdesk_companion::server::HttpLimits;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both_engines;
use crate::helpers::{Engine, Opts, TestApp, spawn_app_with};

both_engines!(
    a_half_sent_request_head_is_closed_after_the_header_timeout,
    a_trickled_body_gets_408_after_the_request_timeout,
    over_the_connection_cap_a_client_waits_for_a_free_slot_not_forever,
);

async fn app_with(engine: Engine, limits: HttpLimits) -> TestApp {
    spawn_app_with(
        engine,
        Opts {
            http: Some(limits),
            ..Opts::default()
        },
    )
    .await
}

/// Opens a connection and sends part of a request head, never the blank line.
async fn slowloris(app: &TestApp) -> TcpStream {
    let mut s = TcpStream::connect(app.addr).await.expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1")
        .await
        .expect("write");
    s
}

/// Reads until the server closes the connection; returns what it sent and how long it took.
async fn until_closed(s: &mut TcpStream, bound: Duration) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let read = tokio::time::timeout(bound, s.read_to_end(&mut got)).await;
    assert!(
        read.is_ok(),
        "the server still held the connection after {bound:?}"
    );
    (got, start.elapsed())
}

async fn a_half_sent_request_head_is_closed_after_the_header_timeout(engine: Engine) {
    let app = app_with(
        engine,
        HttpLimits {
            header_read_timeout_secs: 1,
            ..HttpLimits::default()
        },
    )
    .await;
    let mut s = slowloris(&app).await;
    let (_, took) = until_closed(&mut s, Duration::from_secs(10)).await;
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
    // An idle keep-alive connection is closed the same way.
    let mut idle = TcpStream::connect(app.addr).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let (got, _) = until_closed(&mut idle, Duration::from_secs(10)).await;
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

async fn a_trickled_body_gets_408_after_the_request_timeout(engine: Engine) {
    let app = app_with(
        engine,
        HttpLimits {
            request_timeout_secs: 1,
            ..HttpLimits::default()
        },
    )
    .await;
    let mut s = TcpStream::connect(app.addr).await.expect("connect");
    // The head is whole, the body promised never comes.
    s.write_all(
        b"POST /api/v1/auth/dev-login HTTP/1.1\r\nHost: localhost\r\n\
          Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
    )
    .await
    .expect("write");
    let start = Instant::now();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("answered within 10 s")
        .expect("read");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(start.elapsed() >= Duration::from_millis(900));
}

async fn over_the_connection_cap_a_client_waits_for_a_free_slot_not_forever(engine: Engine) {
    let app = app_with(
        engine,
        HttpLimits {
            header_read_timeout_secs: 2,
            max_connections: 2,
            ..HttpLimits::default()
        },
    )
    .await;
    let _a = slowloris(&app).await;
    let _b = slowloris(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Both slots are held: a real client waits, and gets in once the header timeout frees one.
    let start = Instant::now();
    let health = tokio::time::timeout(Duration::from_secs(10), reqwest::get(app.url("/healthz")))
        .await
        .expect("served within 10 s")
        .expect("request");
    assert_eq!(health.status(), StatusCode::OK);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(1000),
        "the cap did not hold: served after {waited:?}"
    );
}
