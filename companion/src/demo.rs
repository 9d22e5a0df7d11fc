//! `--demo`: seeds, once, the demo organisations, mailboxes, teams, users and grants,
//! and imports the synthetic PEC messages shipped in `companion/demo/`.

use std::sync::Arc;

use pecdesk_core::policy::{Policy, Role};
use pecdesk_core::signature::TrustAnchors;

use crate::store::audit::{Action, Chain};
use crate::store::{Store, WriteTx, audit, new_id, now_ms};
use crate::with_tx;

/// Name of the demo organisation (its presence means "already seeded").
pub const DEMO_ORG: &str = "Studio Demo";
/// The second organisation, to show nothing crosses organisations.
pub const OTHER_ORG: &str = "Altra Srl";
/// The protocol mailbox of the demo.
pub const PROTOCOLLO: &str = "protocollo@pec.demo.test";
/// The legal mailbox of the demo.
pub const LEGALE: &str = "legale@pec.demo.test";
/// The mailbox of the other organisation.
pub const ALTRA_PEC: &str = "pec@pec.altra.test";

/// Synthetic messages imported into protocollo (file name, raw bytes).
pub const MESSAGES: &[(&str, &[u8])] = &[
    (
        "01-posta-certificata-comune.eml",
        include_bytes!("../demo/01-posta-certificata-comune.eml"),
    ),
    (
        "02-posta-certificata-fornitore.eml",
        include_bytes!("../demo/02-posta-certificata-fornitore.eml"),
    ),
    (
        "03-accettazione.eml",
        include_bytes!("../demo/03-accettazione.eml"),
    ),
    (
        "04-avvenuta-consegna.eml",
        include_bytes!("../demo/04-avvenuta-consegna.eml"),
    ),
    (
        "05-errore-consegna.eml",
        include_bytes!("../demo/05-errore-consegna.eml"),
    ),
];

/// What to grant, by mailbox.
enum Grant<'a> {
    Role(&'a str, Role),
    Policies(&'a str, &'a [Policy]),
}

async fn insert_org(tx: &mut WriteTx, id: &str, name: &str) -> sqlx::Result<String> {
    let id = id.to_owned();
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)"
    )
    .bind(&id)
    .bind(name)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(id)
}

async fn insert_mailbox(
    tx: &mut WriteTx,
    org: &str,
    address: &str,
    name: &str,
) -> sqlx::Result<String> {
    let id = new_id();
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO mailboxes (id, org_id, address, name, created_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(&id)
    .bind(org)
    .bind(address)
    .bind(name)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(id)
}

async fn insert_team(
    tx: &mut WriteTx,
    org: &str,
    name: &str,
    external: bool,
) -> sqlx::Result<String> {
    let id = new_id();
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO teams (id, org_id, name, external, created_at) VALUES ($1, $2, $3, $4, $5)"
    )
    .bind(&id)
    .bind(org)
    .bind(name)
    .bind(external)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(id)
}

/// Inserts a user; returns the id.
pub async fn insert_user(
    tx: &mut WriteTx,
    org: &str,
    email: &str,
    name: &str,
    is_admin: bool,
) -> sqlx::Result<String> {
    let id = new_id();
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO users (id, org_id, email, name, is_admin, is_auditor, disabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7)"
    )
    .bind(&id)
    .bind(org)
    .bind(email)
    .bind(name)
    .bind(is_admin)
    .bind(false)
    .bind(now_ms())
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(id)
}

async fn add_member(tx: &mut WriteTx, team: &str, user: &str) -> sqlx::Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)"
    )
    .bind(team)
    .bind(user)
    .execute(&mut *c)
    .await
    .map(|_| ()))
}

/// Grants `policies` on `mailbox` to a user.
pub async fn grant(
    tx: &mut WriteTx,
    org: &str,
    mailbox: &str,
    user: &str,
    policies: &[Policy],
) -> sqlx::Result<()> {
    for p in policies {
        with_tx!(tx, |c| sqlx::query(
            "INSERT INTO grants (id, org_id, mailbox_id, user_id, team_id, policy) \
             VALUES ($1, $2, $3, $4, NULL, $5)"
        )
        .bind(new_id())
        .bind(org)
        .bind(mailbox)
        .bind(user)
        .bind(p.as_str())
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// Seeds the demo unless it is already there; returns whether it seeded now.
pub async fn seed(store: &Store, trust: &Arc<TrustAnchors>) -> anyhow::Result<bool> {
    // The demo organisation's id comes first: its seed entry opens that organisation's chain.
    let org = new_id();
    let mut tx = store.begin_write(Chain::Org(&org)).await?;
    let exists: Option<String> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM orgs WHERE name = $1"
    )
    .bind(DEMO_ORG)
    .fetch_optional(&mut *c)
    .await)?;
    if exists.is_some() {
        return Ok(false);
    }
    insert_org(&mut tx, &org, DEMO_ORG).await?;
    let protocollo = insert_mailbox(&mut tx, &org, PROTOCOLLO, "Protocollo").await?;
    let legale = insert_mailbox(&mut tx, &org, LEGALE, "Legale").await?;
    let ufficio = insert_team(&mut tx, &org, "Ufficio Legale", false).await?;
    let esterno_team = insert_team(&mut tx, &org, "Studio Esterno", true).await?;

    let users: [(&str, &str, bool, Vec<Grant>); 6] = [
        (
            "responsabile@demo.test",
            "Rita Responsabile",
            false,
            vec![
                Grant::Role(&protocollo, Role::Responsabile),
                Grant::Role(&legale, Role::Responsabile),
            ],
        ),
        (
            "assegnatario@demo.test",
            "Aldo Assegnatario",
            false,
            vec![Grant::Role(&protocollo, Role::Assegnatario)],
        ),
        (
            "smistatore@demo.test",
            "Sara Smistatrice",
            false,
            vec![
                Grant::Role(&protocollo, Role::Smistatore),
                Grant::Role(&legale, Role::Smistatore),
            ],
        ),
        (
            "approvatore@demo.test",
            "Paolo Approvatore",
            false,
            vec![Grant::Policies(
                &protocollo,
                &[Policy::MailActivityReader, Policy::MailActivityWriter],
            )],
        ),
        ("esterno@demo.test", "Elena Esterna", false, vec![]),
        ("admin@demo.test", "Andrea Admin", true, vec![]),
    ];
    for (email, name, admin, grants) in users {
        let id = insert_user(&mut tx, &org, email, name, admin).await?;
        for g in grants {
            match g {
                Grant::Role(mb, role) => grant(&mut tx, &org, mb, &id, role.policies()).await?,
                Grant::Policies(mb, ps) => grant(&mut tx, &org, mb, &id, ps).await?,
            }
        }
        if email == "esterno@demo.test" {
            add_member(&mut tx, &esterno_team, &id).await?;
        }
        if email == "responsabile@demo.test" || email == "assegnatario@demo.test" {
            add_member(&mut tx, &ufficio, &id).await?;
        }
    }

    let altra = insert_org(&mut tx, &new_id(), OTHER_ORG).await?;
    let altra_mb = insert_mailbox(&mut tx, &altra, ALTRA_PEC, "PEC").await?;
    let altro = insert_user(&mut tx, &altra, "altro@altra.test", "Alberto Altro", false).await?;
    grant(
        &mut tx,
        &altra,
        &altra_mb,
        &altro,
        Role::Responsabile.policies(),
    )
    .await?;

    tx.audit(audit::Entry {
        org_id: Some(&org),
        actor_id: None,
        action: Action::DemoSeed,
        object_type: "org",
        object_id: &org,
        details: serde_json::json!({"other_org": altra}),
    })
    .await?;
    tx.commit().await?;

    for (_name, raw) in MESSAGES {
        crate::domain::messages::import_raw(store, None, &org, &protocollo, raw.to_vec(), trust)
            .await?;
    }
    tracing::info!(org.id = %org, "demo seeded");
    Ok(true)
}
