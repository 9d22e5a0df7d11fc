//! Keyset paging of the message and activity lists: following `next_cursor` with a small
//! page returns every row exactly once, in the list's order, for every sort (ties on the
//! sort key included); rows arriving meanwhile do not shift the pages; a malformed cursor,
//! or one of another sort, is a 422.

use std::cmp::Reverse;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, assert_envelope, spawn_app};

both_engines!(
    paging_activities_returns_every_row_once_in_order_for_every_sort,
    paging_messages_returns_every_row_once_and_ignores_newer_arrivals,
    a_malformed_cursor_or_one_of_another_sort_is_422,
);

/// The ids of every page of `path`, following `next_cursor` with pages of `limit`.
async fn page_ids(app: &TestApp, token: &str, path: &str, limit: usize) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..200 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let a = app.get(token, &url).await;
        assert_eq!(a.status, StatusCode::OK, "{url}: {:?}", a.body);
        let items = a.body["items"].as_array().expect("items");
        assert!(items.len() <= limit);
        ids.extend(
            items
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_owned()),
        );
        match a.body["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(items.len(), limit, "a page before the last is full");
                cursor = Some(c.to_owned());
            }
            None => return ids,
        }
    }
    panic!("{path}: more than 200 pages");
}

async fn exec(app: &TestApp, sql: &str, args: &[Value]) {
    pecdesk_companion::with_pool!(app.store, |p| {
        let mut q = sqlx::query(sql);
        for a in args {
            q = match a {
                Value::Null => q.bind(None::<i64>),
                Value::Number(n) => q.bind(n.as_i64().expect("i64")),
                Value::String(s) => q.bind(s.clone()),
                other => panic!("bind {other:?}"),
            };
        }
        q.execute(p).await.map(|_| ())
    })
    .expect("exec");
}

async fn paging_activities_returns_every_row_once_in_order_for_every_sort(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let ass = app.login("assegnatario@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let assignee = app.user_id("assegnatario@demo.test").await;

    // 13 activities; their keys are then set so that most of them tie: three due dates
    // (one shared by six) and no date for four; two creation and two update times.
    let mut rows: Vec<(String, Option<i64>, i64, i64)> = Vec::new();
    for i in 0..13_i64 {
        let (id, _) = app
            .create_activity(
                &resp,
                json!({"mailbox_id": protocollo, "title": format!("Pagina {i}"),
                       "message_ids": [], "assignee_id": assignee}),
            )
            .await;
        let due = match i % 4 {
            0 => None,
            1 => Some(1_900_000_000_000),
            2 => Some(1_800_000_000_000 + (i % 3)),
            _ => Some(1_900_000_000_000),
        };
        let created = 1_700_000_000_000 + (i % 2);
        let updated = 1_700_000_500_000 - (i % 2);
        exec(
            &app,
            "UPDATE activities SET due_at = $1, created_at = $2, updated_at = $3 WHERE id = $4",
            &[json!(due), json!(created), json!(updated), json!(id)],
        )
        .await;
        rows.push((id, due, created, updated));
    }

    // The order each sort promises: the key, then the id, both in the sort's direction;
    // no due date last either way.
    type Row = (String, Option<i64>, i64, i64);
    let expect = |key: &dyn Fn(&Row) -> i64, desc: bool| -> Vec<String> {
        let mut v = rows.clone();
        if desc {
            v.sort_by_key(|r| Reverse((key(r), r.0.clone())));
        } else {
            v.sort_by_key(|r| (key(r), r.0.clone()));
        }
        v.into_iter().map(|r| r.0).collect()
    };
    let sorts: [(&str, Vec<String>); 6] = [
        ("due_at", expect(&|r| r.1.unwrap_or(i64::MAX), false)),
        ("-due_at", expect(&|r| r.1.unwrap_or(-i64::MAX), true)),
        ("created_at", expect(&|r| r.2, false)),
        ("-created_at", expect(&|r| r.2, true)),
        ("updated_at", expect(&|r| r.3, false)),
        ("-updated_at", expect(&|r| r.3, true)),
    ];
    for (sort, want) in &sorts {
        for (who, base) in [
            (&ass, "/api/v1/activities?assignee=me".to_owned()),
            (&resp, format!("/api/v1/activities?mailbox={protocollo}")),
        ] {
            for limit in [1, 3, 5] {
                let got = page_ids(&app, who, &format!("{base}&sort={sort}"), limit).await;
                assert_eq!(&got, want, "sort {sort}, limit {limit}, {base}");
            }
        }
    }
    // Filters still apply across pages.
    let undated: Vec<String> = sorts[0].1.iter().rev().take(4).rev().cloned().collect();
    let got = page_ids(
        &app,
        &ass,
        "/api/v1/activities?assignee=me&sort=due_at&due_before=2030-01-01",
        2,
    )
    .await;
    assert_eq!(got.len(), 13 - 4 - 6, "{got:?}"); // the 1.8e12 ones only
    assert!(got.iter().all(|id| !undated.contains(id)));
}

async fn paging_messages_returns_every_row_once_and_ignores_newer_arrivals(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    for i in 0..7 {
        app.import_fresh(&resp, &protocollo, &format!("pagine-{i}"))
            .await;
    }
    // Ties on the import time: every message of the mailbox in one of three instants.
    let ids: Vec<String> = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT id FROM messages WHERE mailbox_id = $1 AND trashed_at IS NULL"
    )
    .bind(&protocollo)
    .fetch_all(p)
    .await)
    .expect("ids");
    assert!(ids.len() >= 10, "demo messages and ours: {}", ids.len());
    let mut want: Vec<(i64, String)> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let at = 1_700_000_000_000 + i64::try_from(i % 3).expect("small");
        exec(
            &app,
            "UPDATE messages SET received_at = $1 WHERE id = $2",
            &[json!(at), json!(id)],
        )
        .await;
        want.push((at, id.clone()));
    }
    want.sort_by_key(|w| Reverse(w.clone()));
    let want: Vec<String> = want.into_iter().map(|w| w.1).collect();
    let path = format!("/api/v1/messages?mailbox={protocollo}");
    for limit in [1, 2, 4] {
        assert_eq!(
            page_ids(&app, &resp, &path, limit).await,
            want,
            "limit {limit}"
        );
    }

    // A message arriving while a client pages (newest, so first in the order) does not
    // push a row already shown onto the next page.
    let first = app.get(&resp, &format!("{path}&limit=3")).await;
    let shown: Vec<String> = first.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect();
    let cursor = first.body["next_cursor"].as_str().expect("more").to_owned();
    app.import_fresh(&resp, &protocollo, "arrivato-dopo").await;
    let second = app
        .get(&resp, &format!("{path}&limit=3&cursor={cursor}"))
        .await;
    let next: Vec<String> = second.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(next, want[3..6].to_vec(), "shown first: {shown:?}");
}

async fn a_malformed_cursor_or_one_of_another_sort_is_422(engine: Engine) {
    let app = spawn_app(engine).await;
    let resp = app.login("responsabile@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    for i in 0..3 {
        app.create_activity(
            &resp,
            json!({"mailbox_id": protocollo, "title": format!("Cursore {i}"), "message_ids": []}),
        )
        .await;
    }
    let acts = format!("/api/v1/activities?mailbox={protocollo}");
    let due_cursor = app
        .get(&resp, &format!("{acts}&sort=due_at&limit=1"))
        .await
        .body["next_cursor"]
        .as_str()
        .expect("more")
        .to_owned();
    let msg_cursor = app.get(&resp, "/api/v1/messages?limit=1").await.body["next_cursor"]
        .as_str()
        .expect("more")
        .to_owned();
    // The cursor works with its own sort.
    assert_eq!(
        app.get(
            &resp,
            &format!("{acts}&sort=due_at&limit=1&cursor={due_cursor}")
        )
        .await
        .status,
        StatusCode::OK
    );
    let bad = [
        format!("{acts}&cursor=50"),                      // an old offset cursor
        format!("{acts}&cursor=!!!"),                     // not base64url
        format!("{acts}&cursor=bm90LWEtY3Vyc29y"),        // base64url of "not-a-cursor"
        format!("{acts}&cursor=ZHVlX2F0OmFiYzpub3Rhbm8"), // "due_at:abc:notano": key not a number
        format!("{acts}&sort=-due_at&cursor={due_cursor}"), // another sort's cursor
        format!("{acts}&sort=created_at&cursor={due_cursor}"),
        format!("{acts}&cursor={msg_cursor}"), // a message cursor
        format!("/api/v1/messages?cursor={due_cursor}"), // an activity cursor
        format!("/api/v1/messages?cursor={}", "A".repeat(9000)),
    ];
    for url in bad {
        let a = app.get(&resp, &url).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {:?}",
            a.body
        );
        assert_envelope(&a, "invalid");
    }
}
