//! `--demo`: seeds, once, the demo organisations, mailboxes, teams, users and grants,
//! and imports the synthetic PEC messages shipped in `companion/demo/`.

use std::sync::Arc;

use pecdesk_core::ids::EmailAddress;
use pecdesk_core::policy::{Policy, Role};
use pecdesk_core::signature::TrustAnchors;

use crate::store::audit::{Action, Chain};
use crate::store::{Store, WriteTx, audit, grants, new_id, users};

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

async fn insert_user(
    tx: &mut WriteTx,
    org: &str,
    email: &str,
    name: &str,
    is_admin: bool,
) -> anyhow::Result<String> {
    let id = new_id();
    let email = EmailAddress::parse(email)?;
    users::insert_user(
        tx,
        &users::NewUser {
            id: &id,
            org_id: org,
            email: &email,
            name,
            is_admin,
            // The demo administrator also reads the audit log.
            is_auditor: is_admin,
        },
    )
    .await?;
    Ok(id)
}

/// Seeds the demo unless it is already there; returns whether it seeded now.
pub async fn seed(store: &Store, trust: &Arc<TrustAnchors>) -> anyhow::Result<bool> {
    // The demo organisation's id comes first: its seed entry opens that organisation's chain.
    let org = new_id();
    let mut tx = store.begin_write(Chain::Org(&org)).await?;
    if users::org_id_by_name(&mut tx, DEMO_ORG).await?.is_some() {
        return Ok(false);
    }
    users::insert_org(&mut tx, &org, DEMO_ORG).await?;
    let protocollo = users::insert_mailbox(&mut tx, &org, PROTOCOLLO, "Protocollo").await?;
    let legale = users::insert_mailbox(&mut tx, &org, LEGALE, "Legale").await?;
    let ufficio = users::insert_team(&mut tx, &org, "Ufficio Legale", false).await?;
    let esterno_team = users::insert_team(&mut tx, &org, "Studio Esterno", true).await?;

    let people: [(&str, &str, bool, Vec<Grant>); 6] = [
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
        // The approval story takes two people: Aldo writes the draft and asks, Paolo
        // approves what he did not write (the core refuses an approval by an author or by
        // the requester). Paolo is in no team, so an activity assigned to Aldo or to a team
        // may name him approver; Rita can be named instead when Paolo touched the draft.
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
    for (email, name, admin, held) in people {
        let id = insert_user(&mut tx, &org, email, name, admin).await?;
        for g in held {
            match g {
                Grant::Role(mb, role) => {
                    grants::grant_user(&mut tx, &org, mb, &id, role.policies()).await?
                }
                Grant::Policies(mb, ps) => grants::grant_user(&mut tx, &org, mb, &id, ps).await?,
            }
        }
        if email == "esterno@demo.test" {
            grants::add_member(&mut tx, &esterno_team, &id).await?;
        }
        if email == "responsabile@demo.test" || email == "assegnatario@demo.test" {
            grants::add_member(&mut tx, &ufficio, &id).await?;
        }
    }

    let altra = new_id();
    users::insert_org(&mut tx, &altra, OTHER_ORG).await?;
    let altra_mb = users::insert_mailbox(&mut tx, &altra, ALTRA_PEC, "PEC").await?;
    let altro = insert_user(&mut tx, &altra, "altro@altra.test", "Alberto Altro", false).await?;
    grants::grant_user(
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
