//! `GET /api/v1/stats` (issue 16 item 3) on a fixture with answers computed by hand: five
//! messages over two days, four taken, two worked, three activities (one overdue now, one
//! closed after its due date); per day, per operator, CSV; managers only, organisations
//! isolated.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, spawn_app};

both_engines!(statistics_match_a_fixture_counted_by_hand);

const MIN: i64 = 60_000;
/// 2026-11-02T00:00:00Z.
const D: i64 = 1_793_577_600_000;
const DAY: i64 = 86_400_000;

async fn set_message(
    app: &TestApp,
    id: &str,
    received: i64,
    taken: Option<(i64, &str)>,
    worked: Option<(i64, &str)>,
) {
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "UPDATE messages SET received_at = $1, taken_at = $2, taken_by = $3, worked_at = $4, \
         worked_by = $5 WHERE id = $6"
    )
    .bind(received)
    .bind(taken.map(|t| t.0))
    .bind(taken.map(|t| t.1.to_owned()))
    .bind(worked.map(|t| t.0))
    .bind(worked.map(|t| t.1.to_owned()))
    .bind(id)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("update message");
}

async fn set_activity(app: &TestApp, id: &str, due: i64, closed: Option<i64>) {
    pecdesk_companion::with_pool!(app.store, |p| sqlx::query(
        "UPDATE activities SET created_at = $1, due_at = $2, closed_at = $3, status = $4 \
         WHERE id = $5"
    )
    .bind(D + 8 * 60 * MIN)
    .bind(due)
    .bind(closed)
    .bind(if closed.is_some() { "done" } else { "open" })
    .bind(id)
    .execute(p)
    .await
    .map(|_| ()))
    .expect("update activity");
}

fn group<'a>(body: &'a Value, key: &str) -> &'a Value {
    body["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("group {key} in {body}"))
}

async fn statistics_match_a_fixture_counted_by_hand(engine: Engine) {
    let app = spawn_app(engine).await;
    let rita = app.login("responsabile@demo.test").await;
    let rita_id = app.user_id("responsabile@demo.test").await;
    let sara_id = app.user_id("smistatore@demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let t0 = D + 8 * 60 * MIN;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            app.import_fresh(&rita, &legale, &format!("stats-{n}"))
                .await,
        );
    }
    // Take in charge after 10, 20, 30, 40 minutes; worked after 60 and 180 minutes.
    set_message(
        &app,
        &ids[0],
        t0,
        Some((t0 + 10 * MIN, &rita_id)),
        Some((t0 + 60 * MIN, &rita_id)),
    )
    .await;
    let t = t0 + 60 * MIN;
    set_message(&app, &ids[1], t, Some((t + 20 * MIN, &sara_id)), None).await;
    let t = t0 + 120 * MIN;
    set_message(
        &app,
        &ids[2],
        t,
        Some((t + 30 * MIN, &rita_id)),
        Some((t + 180 * MIN, &rita_id)),
    )
    .await;
    let t = D + DAY + 9 * 60 * MIN;
    set_message(&app, &ids[3], t, Some((t + 40 * MIN, &sara_id)), None).await;
    set_message(&app, &ids[4], D + DAY + 10 * 60 * MIN, None, None).await;
    // a1 open, due on day 2 at noon (overdue now and at the end of day 2); a2 open, due in
    // 2099; a3 due on day 1 at noon, closed on day 2 at 06:00 (overdue at the end of day 1).
    let mut acts = Vec::new();
    for title in ["a1", "a2", "a3"] {
        let (id, _) = app
            .create_activity(
                &rita,
                json!({"mailbox_id": legale, "title": title, "assignee_id": rita_id}),
            )
            .await;
        acts.push(id);
    }
    set_activity(&app, &acts[0], D + DAY + 12 * 60 * MIN, None).await;
    set_activity(&app, &acts[1], 4_070_908_800_000, None).await;
    set_activity(
        &app,
        &acts[2],
        D + 12 * 60 * MIN,
        Some(D + DAY + 6 * 60 * MIN),
    )
    .await;

    let q = format!("from=2026-11-02&to=2026-11-03&mailbox={legale}");
    let by_day = app
        .get(&rita, &format!("/api/v1/stats?{q}&group_by=day"))
        .await;
    assert_eq!(by_day.status, StatusCode::OK, "{:?}", by_day.body);
    let b = &by_day.body;
    let d1 = group(b, "2026-11-02");
    assert_eq!(
        (
            d1["received"].as_u64(),
            d1["taken"].as_u64(),
            d1["worked"].as_u64()
        ),
        (Some(3), Some(3), Some(2)),
        "{b}"
    );
    assert_eq!(d1["overdue"], 1, "{b}");
    let d2 = group(b, "2026-11-03");
    assert_eq!(
        (
            d2["received"].as_u64(),
            d2["taken"].as_u64(),
            d2["worked"].as_u64()
        ),
        (Some(2), Some(1), Some(0)),
        "{b}"
    );
    assert_eq!(d2["overdue"], 1, "{b}");
    let total = &b["total"];
    assert_eq!(total["received"], 5);
    assert_eq!(total["taken"], 4);
    assert_eq!(total["worked"], 2);
    // Takes 10, 20, 30, 40 min: median (nearest rank 2) 20 min, p90 (rank 4) 40 min.
    assert_eq!(total["take_median_s"], 1200, "{b}");
    assert_eq!(total["take_p90_s"], 2400, "{b}");
    // Closes 60, 180 min: median (rank 1) 60 min, p90 (rank 2) 180 min.
    assert_eq!(total["close_median_s"], 3600, "{b}");
    assert_eq!(total["close_p90_s"], 10800, "{b}");
    assert_eq!(total["open"], 2, "{b}");
    assert_eq!(total["overdue_now"], 1, "{b}");
    assert_eq!(
        b["overdue_by_day"],
        json!([{"day": "2026-11-02", "overdue": 1}, {"day": "2026-11-03", "overdue": 1}])
    );

    let by_op = app
        .get(&rita, &format!("/api/v1/stats?{q}&group_by=operator"))
        .await;
    assert_eq!(by_op.status, StatusCode::OK, "{:?}", by_op.body);
    let b = &by_op.body;
    let r = group(b, &rita_id);
    assert_eq!(r["label"], "Rita Responsabile");
    assert_eq!(
        (r["taken"].as_u64(), r["worked"].as_u64()),
        (Some(2), Some(2)),
        "{b}"
    );
    assert_eq!(
        (r["take_median_s"].as_i64(), r["take_p90_s"].as_i64()),
        (Some(600), Some(1800)),
        "{b}"
    );
    assert_eq!(
        (r["open"].as_u64(), r["overdue_now"].as_u64()),
        (Some(2), Some(1)),
        "{b}"
    );
    let s = group(b, &sara_id);
    assert_eq!(
        (
            s["taken"].as_u64(),
            s["take_median_s"].as_i64(),
            s["take_p90_s"].as_i64()
        ),
        (Some(2), Some(1200), Some(2400)),
        "{b}"
    );
    assert_eq!(group(b, "-")["received"], 5, "nobody was routed these: {b}");

    let by_mb = app
        .get(
            &rita,
            "/api/v1/stats?from=2026-11-02&to=2026-11-03&group_by=mailbox",
        )
        .await;
    assert_eq!(by_mb.status, StatusCode::OK, "{:?}", by_mb.body);
    assert_eq!(group(&by_mb.body, &legale)["label"], "legale@pec.demo.test");

    // CSV, by parameter or by Accept.
    for (path, accept) in [
        (format!("/api/v1/stats?{q}&format=csv"), "*/*"),
        (format!("/api/v1/stats?{q}"), "text/csv"),
    ] {
        let resp = app
            .client
            .get(app.url(&path))
            .bearer_auth(&rita)
            .header("accept", accept)
            .send()
            .await
            .expect("csv");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let text = resp.text().await.expect("text");
        assert!(text.starts_with("gruppo_group,"), "{text}");
        assert!(text.contains("\n2026-11-02,,3,3,2,"), "{text}");
        assert!(
            text.contains("\ntotale,,5,4,2,1200,2400,3600,10800,2,1,"),
            "{text}"
        );
    }

    // Managers only; another organisation's mailbox, or one without any policy, is missing.
    let aldo = app.login("assegnatario@demo.test").await;
    assert_eq!(
        app.get(&aldo, "/api/v1/stats?from=2026-11-02&to=2026-11-03")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&aldo, &format!("/api/v1/stats?{q}")).await.status,
        StatusCode::NOT_FOUND
    );
    let admin = app.login("admin@demo.test").await;
    assert_eq!(
        app.get(&admin, &format!("/api/v1/stats?{q}")).await.status,
        StatusCode::NOT_FOUND
    );
    let altro = app.login("altro@altra.test").await;
    assert_eq!(
        app.get(&altro, &format!("/api/v1/stats?{q}")).await.status,
        StatusCode::NOT_FOUND
    );
    let other = app
        .get(&altro, "/api/v1/stats?from=2026-11-02&to=2026-11-03")
        .await;
    assert_eq!(other.status, StatusCode::OK, "{:?}", other.body);
    assert_eq!(
        other.body["total"]["received"], 0,
        "organisations are isolated"
    );
    assert_eq!(
        app.get(&rita, "/api/v1/stats?from=2026-11-03&to=2026-11-01")
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
