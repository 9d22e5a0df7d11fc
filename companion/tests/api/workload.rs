//! The team queues from the server: `GET /api/v1/activities?team=` (a team's, or `none`)
//! and `?assignee=none`, and `GET /api/v1/activities/workload`, which counts per team and
//! per person only the open activities the caller may read.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_engines;
use crate::helpers::{Engine, TestApp, spawn_app};

both_engines!(team_queues_list_and_count_only_what_the_caller_may_read,);

/// Ids of a list as `token`'s user reads it.
async fn ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let a = app
        .get(token, &format!("/api/v1/activities?limit=200&{query}"))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{query}: {:?}", a.body);
    let mut v: Vec<String> = a.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|x| x["id"].as_str().expect("id").to_owned())
        .collect();
    v.sort();
    v
}

fn team_of<'a>(w: &'a Value, team: Option<&str>) -> &'a Value {
    w["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .find(|t| t["team_id"].as_str() == team)
        .unwrap_or(&Value::Null)
}

fn person_of<'a>(w: &'a Value, user: Option<&str>) -> &'a Value {
    w["people"]
        .as_array()
        .expect("people")
        .iter()
        .find(|t| t["assignee_id"].as_str() == user)
        .unwrap_or(&Value::Null)
}

async fn team_queues_list_and_count_only_what_the_caller_may_read(engine: Engine) {
    let app = spawn_app(engine).await;
    let rita = app.login("responsabile@demo.test").await;
    let elena = app.login("esterno@demo.test").await;
    let protocollo = app.mailbox_id("protocollo@pec.demo.test").await;
    let legale = app.mailbox_id("legale@pec.demo.test").await;
    let ufficio = app.team_id("Ufficio Legale").await;
    let esterno = app.team_id("Studio Esterno").await;
    let aldo = app.user_id("assegnatario@demo.test").await;
    let elena_id = app.user_id("esterno@demo.test").await;

    let make = async |mailbox: &str, title: &str, team: Option<&str>, who: Option<&str>| {
        let mut body = json!({"mailbox_id": mailbox, "title": title});
        if let Some(t) = team {
            body["team_id"] = json!(t);
        }
        if let Some(u) = who {
            body["assignee_id"] = json!(u);
        }
        app.create_activity(&rita, body).await.0
    };
    let free_legale = make(&protocollo, "Libera", Some(&ufficio), None).await;
    let aldos = make(&protocollo, "Di Aldo", Some(&ufficio), Some(&aldo)).await;
    let legale_free = make(&legale, "Legale libera", Some(&ufficio), None).await;
    let external_free = make(&protocollo, "Esterna libera", Some(&esterno), None).await;
    let elenas = make(&protocollo, "Di Elena", Some(&esterno), Some(&elena_id)).await;
    let no_team = make(&protocollo, "Senza team", None, None).await;
    let closed = make(&protocollo, "Chiusa", Some(&ufficio), None).await;
    // Aldo's is overdue; one is cancelled (not counted); one is awaiting approval.
    for (sql, id) in [
        ("UPDATE activities SET due_at = 1000 WHERE id = $1", &aldos),
        (
            "UPDATE activities SET status = 'cancelled' WHERE id = $1",
            &closed,
        ),
        (
            "UPDATE activities SET status = 'awaiting_approval' WHERE id = $1",
            &elenas,
        ),
    ] {
        pecdesk_companion::with_pool!(app.store, |p| sqlx::query(sql)
            .bind(id)
            .execute(p)
            .await
            .map(|_| ()))
        .expect("update");
    }

    // The lists: a team's, no team's, nobody's.
    let open = "status=open,in_progress,awaiting_approval,approved,changes_requested";
    let mut want = vec![free_legale.clone(), aldos.clone(), legale_free.clone()];
    want.sort();
    assert_eq!(
        ids(&app, &rita, &format!("{open}&team={ufficio}")).await,
        want
    );
    assert_eq!(
        ids(&app, &rita, &format!("{open}&team=none")).await,
        [no_team]
    );
    let mut free = vec![free_legale.clone(), legale_free.clone()];
    free.sort();
    assert_eq!(
        ids(&app, &rita, &format!("{open}&team={ufficio}&assignee=none")).await,
        free
    );

    // Rita reads all of them: the counts say so.
    let w = app.get(&rita, "/api/v1/activities/workload").await;
    assert_eq!(w.status, StatusCode::OK, "{:?}", w.body);
    let u = team_of(&w.body, Some(&ufficio));
    assert_eq!(
        (&u["open"], &u["free"], &u["overdue"], &u["team_name"]),
        (&json!(3), &json!(2), &json!(1), &json!("Ufficio Legale"))
    );
    let e = team_of(&w.body, Some(&esterno));
    assert_eq!(
        (&e["open"], &e["free"], &e["awaiting_approval"]),
        (&json!(2), &json!(1), &json!(1))
    );
    assert_eq!(team_of(&w.body, None)["open"], 1);
    assert_eq!(
        w.body["teams"]
            .as_array()
            .expect("teams")
            .last()
            .expect("last")["team_id"],
        Value::Null
    );
    let a = person_of(&w.body, Some(&aldo));
    assert_eq!((&a["open"], &a["overdue"]), (&json!(1), &json!(1)));
    assert_eq!(
        w.body["people"][0]["assignee_id"],
        aldo.as_str(),
        "most overdue first"
    );
    assert_eq!(person_of(&w.body, None)["open"], 4);
    // Every list agrees with the counts.
    let all = ids(&app, &rita, open).await;
    let counted: i64 = w.body["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .map(|t| t["open"].as_i64().expect("open"))
        .sum();
    assert_eq!(counted, all.len() as i64);

    // Elena (external team, no mailbox grants) reads her team's work only: neither the
    // Ufficio Legale's nor the activities of no team are counted for her.
    let w = app.get(&elena, "/api/v1/activities/workload").await;
    assert_eq!(w.status, StatusCode::OK, "{:?}", w.body);
    assert_eq!(
        w.body["teams"].as_array().expect("teams").len(),
        1,
        "{:?}",
        w.body
    );
    let e = team_of(&w.body, Some(&esterno));
    assert_eq!((&e["open"], &e["free"]), (&json!(2), &json!(1)));
    assert!(person_of(&w.body, Some(&aldo)).is_null());
    let mut hers = vec![external_free.clone(), elenas.clone()];
    hers.sort();
    assert_eq!(ids(&app, &elena, open).await, hers);
    assert!(
        ids(&app, &elena, &format!("{open}&team={ufficio}"))
            .await
            .is_empty()
    );

    // Another organisation sees nothing of it.
    let altro = app.login("altro@altra.test").await;
    let w = app.get(&altro, "/api/v1/activities/workload").await;
    assert_eq!(w.status, StatusCode::OK);
    assert_eq!(w.body["teams"], json!([]));
    assert!(
        ids(&app, &altro, &format!("team={ufficio}"))
            .await
            .is_empty()
    );
}
