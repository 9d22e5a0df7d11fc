//! `--demo`: seeds, once, the demo organisations, mailboxes, teams, users and grants,
//! and imports the synthetic PEC messages shipped in `companion/demo/`.

use std::sync::Arc;

use pecdesk_core::ids::EmailAddress;
use pecdesk_core::policy::{Policy, Role};
use pecdesk_core::signature::TrustAnchors;

use crate::auth::secrets::MasterKey;
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

/// Mail in (`serve --demo` only, after the story): the Sent folder's copies of the two PECs
/// the demo receipts certify, so they end reconciled per recipient, and three incoming PECs
/// for the two demo rules and the dispatcher queue (an SdI notification, a Comune's request
/// with its `Segnatura.xml`, a citizen's request no rule routes).
pub const MAIL_IN: &[(&str, &[u8], bool)] = &[
    (
        "06-inviato-atti.eml",
        include_bytes!("../demo/06-inviato-atti.eml"),
        true,
    ),
    (
        "07-inviato-diffida.eml",
        include_bytes!("../demo/07-inviato-diffida.eml"),
        true,
    ),
    (
        "08-sdi-notifica-scarto.eml",
        include_bytes!("../demo/08-sdi-notifica-scarto.eml"),
        false,
    ),
    (
        "09-segnatura-comune.eml",
        include_bytes!("../demo/09-segnatura-comune.eml"),
        false,
    ),
    (
        "10-cliente-richiesta.eml",
        include_bytes!("../demo/10-cliente-richiesta.eml"),
        false,
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
        // The administrator writes the routing rules: reading Protocollo lets the rules'
        // preview show the messages a rule would have matched.
        (
            "admin@demo.test",
            "Andrea Admin",
            true,
            vec![Grant::Policies(&protocollo, &[Policy::MailAccountReader])],
        ),
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

/// The work in progress `serve --demo` shows in its first five minutes, written through the
/// same use cases a user's requests go through (so the core decides every step): an
/// activity awaiting approval with its conversation (a request, changes asked, a second
/// request), and a team's activity with a comment. Runs once, right after [`seed`]; the
/// tests' demo (`seed` alone) stays without activities.
pub async fn seed_story(store: &Store) -> anyhow::Result<()> {
    use crate::domain::activities::{
        DraftRequest, approval, comments, create::CreateActivityRequest, create::create,
        draft::put_draft, flow,
    };
    use pecdesk_core::activity::{Decision, Flow, Priority, Status};

    let (rita, rita_p) = demo_user(store, "responsabile@demo.test").await?;
    let (aldo, aldo_p) = demo_user(store, "assegnatario@demo.test").await?;
    let (paolo, paolo_p) = demo_user(store, "approvatore@demo.test").await?;
    let (sara, sara_p) = demo_user(store, "smistatore@demo.test").await?;
    let boxes = users::mailboxes_of_org(store, &rita.org_id).await?;
    let protocollo = boxes
        .iter()
        .find(|m| m.address == PROTOCOLLO)
        .ok_or_else(|| anyhow::anyhow!("demo mailbox missing"))?
        .id
        .clone();
    let ufficio = users::teams_of_user(store, &aldo.user_id)
        .await?
        .into_iter()
        .find(|t| t.name == "Ufficio Legale")
        .ok_or_else(|| anyhow::anyhow!("demo team missing"))?
        .id;
    let messages = crate::store::messages::ids_by_mailbox(store, &protocollo).await?;
    let first = |n: usize| messages.get(n).cloned().into_iter().collect::<Vec<_>>();
    let in_days = |d: i64| (chrono::Utc::now() + chrono::Duration::days(d)).to_rfc3339();

    // 1. The Comune's request: Aldo answers, Paolo approves (two people).
    let reply = create(
        store,
        &rita,
        &rita_p,
        &CreateActivityRequest {
            mailbox_id: protocollo.clone(),
            title: "Rispondere alla richiesta di documenti del Comune".into(),
            description: Some("Inviare la delibera firmata entro la scadenza indicata.".into()),
            message_ids: first(0),
            assignee_id: Some(aldo.user_id.clone()),
            team_id: None,
            due_at: Some(in_days(3)),
            priority: Some(Priority::High),
            flow: Some(Flow::Approval),
            approver_id: Some(paolo.user_id.clone()),
            category: Some("Enti pubblici".into()),
            tags: vec!["comune".into()],
        },
    )
    .await?;
    let mut draft = DraftRequest {
        to: vec!["protocollo@pec.comune.demo.test".into()],
        cc: Vec::new(),
        subject: "Re: Richiesta documenti".into(),
        body: "Gentili signori,\nin risposta alla Vostra richiesta inviamo quanto richiesto.\n\
               Cordiali saluti"
            .into(),
        attachments: Vec::new(),
    };
    let ask = |note: &'static str, draft: DraftRequest| {
        let (aldo, aldo_p, id) = (&aldo, &aldo_p, reply.id.clone());
        async move {
            // Back to work (from open, or from changes requested), the draft, the request.
            let work = flow::Move {
                via: flow::Via::Transition(Status::InProgress),
                version: None,
                note: None,
            };
            flow::move_to(store, aldo, aldo_p, &id, work).await?;
            put_draft(store, aldo, aldo_p, &id, &draft).await?;
            approval::request(store, aldo, aldo_p, &id, note, None).await?;
            anyhow::Ok(())
        }
    };
    ask("Bozza pronta, puoi controllarla?", draft.clone()).await?;
    approval::decide(
        store,
        &paolo,
        &paolo_p,
        &reply.id,
        Decision::RequestChanges,
        "Manca l'allegato: la delibera firmata.",
        None,
    )
    .await?;
    draft.attachments = vec!["delibera-firmata.pdf".into()];
    ask("Aggiunta la delibera firmata.", draft).await?;

    // 2. The supplier's invoice: Sara routes it to the legal team, Rita comments.
    let check = create(
        store,
        &sara,
        &sara_p,
        &CreateActivityRequest {
            mailbox_id: protocollo,
            title: "Verificare la fattura del fornitore".into(),
            description: None,
            message_ids: first(1),
            assignee_id: None,
            team_id: Some(ufficio),
            due_at: Some(in_days(7)),
            priority: Some(Priority::Normal),
            flow: None,
            approver_id: None,
            category: Some("Fornitori".into()),
            tags: Vec::new(),
        },
    )
    .await?;
    comments::add_comment(
        store,
        &rita,
        &rita_p,
        &check.id,
        "Controllare il DURC prima di approvare il pagamento.",
    )
    .await?;
    Ok(())
}

/// The archive policy of the demo's Protocollo in `serve --demo` (days).
pub const DEMO_EXPUNGE_AFTER_DAYS: i64 = 90;

/// The SLA calendar of the demo's Protocollo (`serve --demo` only; the tests' demo keeps
/// the default): a Milano office, Monday to Thursday 09:00-13:00 and 14:00-18:00, Friday
/// 09:00-13:00, Sant'Ambrogio (7 December) as its patron day; and its archive policy:
/// stored messages older than [`DEMO_EXPUNGE_AFTER_DAYS`] leave the provider's box (the
/// demo polls no server, so nothing is expunged: the policy shows on the administration
/// page). Written as the administrator's change, with its audit entry.
async fn seed_calendar(store: &Store, org: &str, admin: &str, mailbox: &str) -> anyhow::Result<()> {
    let day = serde_json::json!(["09:00-13:00", "14:00-18:00"]);
    let settings: pecdesk_core::sla::SlaSettings = serde_json::from_value(serde_json::json!({
        "time_zone": "Europe/Rome",
        "office_hours": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": ["09:00-13:00"]},
        "patron_day": {"month": 12, "day": 7}
    }))?;
    let (_, json) = crate::domain::sla::check_settings(&settings)?;
    let mut tx = store.begin_write(Chain::Org(org)).await?;
    crate::store::mailboxes::set_sla_calendar(&mut tx, mailbox, Some(&json)).await?;
    crate::store::archive::set_policy(&mut tx, mailbox, Some(DEMO_EXPUNGE_AFTER_DAYS)).await?;
    tx.audit(audit::Entry {
        org_id: Some(org),
        actor_id: Some(admin),
        action: Action::MailboxUpdate,
        object_type: "mailbox",
        object_id: mailbox,
        details: serde_json::json!({
            "fields": ["sla", "archive.expunge_after_days"],
            "secrets_changed": [],
            "archive_expunge_after_days": DEMO_EXPUNGE_AFTER_DAYS,
        }),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Titles of the two activities [`seed_alarms`] writes.
pub const ALARM_SOON: &str = "Trasmettere il verbale alla Prefettura";
/// See [`ALARM_SOON`].
pub const ALARM_LATE: &str = "Riscontrare il sollecito dell'INPS";

/// A demo user as the API sees them after sign-in: the principal and their grants.
async fn demo_user(
    store: &Store,
    email: &str,
) -> anyhow::Result<(crate::auth::Principal, pecdesk_core::authz::Person)> {
    let addr = EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let u = users::user_by_email(store, &addr)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo user {email} missing"))?;
    let principal = crate::auth::Principal {
        user_id: u.id,
        org_id: u.org_id,
        email: u.email,
        name: u.name,
        is_admin: u.is_admin,
        is_auditor: u.is_auditor,
    };
    let person = grants::person(store, &principal).await?;
    Ok((principal, person))
}

/// SLA alarms for `serve --demo` (after [`seed_story`]): an activity of Aldo's due in three
/// minutes (its "due tomorrow" alarm fires at the first pass, "overdue" three minutes on)
/// and one of the legal team two days overdue (escalated to the Responsabile at once). The
/// demo has no SMTP server: the e-mails are kept as "not sent", visible in
/// `GET /api/v1/alarms`.
pub async fn seed_alarms(store: &Store, now: i64) -> anyhow::Result<()> {
    use crate::domain::activities::create::{CreateActivityRequest, create};
    use pecdesk_core::activity::Priority;

    let (principal, person) = demo_user(store, "responsabile@demo.test").await?;
    let aldo = users::user_by_email(store, &EmailAddress::parse("assegnatario@demo.test")?)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo user missing"))?;
    let protocollo = users::mailboxes_of_org(store, &principal.org_id)
        .await?
        .into_iter()
        .find(|m| m.address == PROTOCOLLO)
        .ok_or_else(|| anyhow::anyhow!("demo mailbox missing"))?
        .id;
    let team = users::teams_of_user(store, &aldo.id)
        .await?
        .into_iter()
        .find(|t| t.name == "Ufficio Legale")
        .ok_or_else(|| anyhow::anyhow!("demo team missing"))?
        .id;
    let at = |ms: i64| crate::store::ms_to_rfc3339(ms);
    for (title, assignee, team, due) in [
        (
            ALARM_SOON,
            Some(aldo.id.clone()),
            None,
            at(now + 3 * 60_000),
        ),
        (ALARM_LATE, None, Some(team), at(now - 2 * 86_400_000)),
    ] {
        create(
            store,
            &principal,
            &person,
            &CreateActivityRequest {
                mailbox_id: protocollo.clone(),
                title: title.into(),
                description: None,
                message_ids: Vec::new(),
                assignee_id: assignee,
                team_id: team,
                due_at: Some(due),
                priority: Some(Priority::High),
                flow: None,
                approver_id: None,
                category: None,
                tags: Vec::new(),
            },
        )
        .await?;
    }
    Ok(())
}

/// Mail in for `serve --demo` (after [`seed_story`]): the administrator writes three routing
/// rules (the third confined to Protocollo, for its Responsabile to fix), then the Sent folder's copies and three incoming PECs ([`MAIL_IN`]) go through the
/// one ingestion path and the steps after it, as an IMAP poll would: the sent messages end
/// reconciled with the demo receipts, the SdI notification and the Comune's protocol reach
/// their people by rule, the citizen's request waits in the dispatcher queue.
pub async fn seed_mail_in(store: &Store, trust: &Arc<TrustAnchors>) -> anyhow::Result<()> {
    use crate::ingest::{Direction, Incoming, ingest_batch, process_pending};

    let email = |e: &str| EmailAddress::parse(e).map_err(|e| anyhow::anyhow!("{e}"));
    let admin = users::user_by_email(store, &email("admin@demo.test")?)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo admin missing"))?;
    let aldo = users::user_by_email(store, &email("assegnatario@demo.test")?)
        .await?
        .ok_or_else(|| anyhow::anyhow!("demo user missing"))?;
    let org = admin.org_id.clone();
    let ufficio = users::teams_of_user(store, &aldo.id)
        .await?
        .into_iter()
        .find(|t| t.name == "Ufficio Legale")
        .ok_or_else(|| anyhow::anyhow!("demo team missing"))?
        .id;
    let protocollo = users::mailboxes_of_org(store, &org)
        .await?
        .into_iter()
        .find(|m| m.address == PROTOCOLLO)
        .ok_or_else(|| anyhow::anyhow!("demo mailbox missing"))?
        .id;
    let rules = [
        serde_json::json!({
            "name": "Notifiche del Sistema di Interscambio (fatture)",
            "conditions": [
                {"field": "sender", "match": "glob", "value": "sdi*@pec.fatturapa.it"}
            ],
            "actions": {
                "route": {"user_id": aldo.id},
                "activity": {"title": "Verificare la notifica SdI", "priority": "high",
                             "due_in_days": 2},
                "category": "Fatturazione",
                "tags": ["sdi"]
            }
        }),
        serde_json::json!({
            "name": "Protocollo in arrivo da pubbliche amministrazioni (Segnatura)",
            "conditions": [
                {"field": "segnatura.aoo_code", "match": "exists"}
            ],
            "actions": {
                "route": {"team_id": ufficio, "assign": "round_robin"},
                "activity": {"title": "Protocollo in arrivo da una PA", "due_in_days": 10},
                "category": "Protocollo"
            }
        }),
        // Confined to Protocollo, so its Responsabile (Rita) may fix it herself: the typo
        // in "solecito" makes it match nothing until she does (the preview shows it).
        serde_json::json!({
            "name": "Solleciti di pagamento al Protocollo",
            "stop": false,
            "conditions": [
                {"field": "mailbox", "match": "is", "value": PROTOCOLLO},
                {"field": "subject", "match": "contains", "value": "solecito"}
            ],
            "actions": {
                "route": {"team_id": ufficio},
                "category": "Solleciti"
            }
        }),
    ];
    for rule in rules {
        let spec = serde_json::from_value(rule)?;
        crate::domain::rules::create(store, &org, Some(&admin.id), &spec).await?;
    }
    seed_calendar(store, &org, &admin.id, &protocollo).await?;
    let batch = MAIL_IN
        .iter()
        .map(|(_file, raw, sent)| Incoming {
            raw: raw.to_vec(),
            source: if *sent { "imap:Sent" } else { "imap:INBOX" }.to_owned(),
            direction: Some(if *sent { Direction::Out } else { Direction::In }),
        })
        .collect();
    for r in ingest_batch(store, trust, None, &org, &protocollo, batch).await? {
        r?;
    }
    process_pending(store).await?;
    seed_folders(store, &org, &admin.id, &protocollo).await?;
    tracing::info!("demo mail in seeded: sent messages reconciled, three rules, a queue");
    Ok(())
}

/// `serve --demo`: Protocollo keeps its messages ten years (3650 days, the usual term for
/// commercial documents), set by the administrator; Rita files a few messages in folders
/// with a category and tags, so the mailbox page shows its folders from the start.
async fn seed_folders(
    store: &Store,
    org: &str,
    admin: &str,
    protocollo: &str,
) -> anyhow::Result<()> {
    use crate::domain::messages::{ClassifyRequest, classify};
    let actor = crate::domain::admin::Actor {
        org_id: org,
        user_id: Some(admin),
    };
    crate::domain::retention::set_retention(store, actor, protocollo, Some(3650)).await?;
    let (principal, person) = demo_user(store, "responsabile@demo.test").await?;
    // Incoming PECs only, oldest first (receipts are filed under what they certify).
    let mut ids = Vec::new();
    for id in crate::store::messages::ids_by_mailbox(store, protocollo).await? {
        let row = crate::store::messages::get(store, org, &id).await?;
        if row.is_some_and(|r| r.kind == "posta-certificata" && r.direction == "in") {
            ids.push(id);
        }
    }
    let plan: [(usize, &str, Option<&str>, &[&str]); 3] = [
        (
            0,
            "Pratiche edilizie/2026",
            Some("Enti pubblici"),
            &["comune"],
        ),
        (1, "Fornitori/2026", Some("Fornitori"), &["pagamenti"]),
        (2, "Fornitori/2026", None, &["pagamenti", "urgente"]),
    ];
    for (n, folder, category, tags) in plan {
        let Some(id) = ids.get(n) else { continue };
        let req = ClassifyRequest {
            folder: Some(Some(folder.to_owned())),
            category: category.map(|c| Some(c.to_owned())),
            tags: Some(tags.iter().map(|t| (*t).to_owned()).collect()),
        };
        classify(store, &principal, &person, id, &req).await?;
    }
    Ok(())
}

/// `serve --demo`: an example webhook subscription of the demo organisation, disabled
/// (its target is a loopback port nobody listens on), so the desk's webhook page and its
/// delivery log have something to show; an administrator points it at a real receiver,
/// presses "test" and enables it.
pub async fn seed_webhook(store: &Store, master: &MasterKey) -> anyhow::Result<()> {
    use crate::domain::webhooks::{CreateWebhook, Format, NewWebhook, create_in};

    let admin = users::user_by_email(
        store,
        &EmailAddress::parse("admin@demo.test").map_err(|e| anyhow::anyhow!("{e}"))?,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("demo admin missing"))?;
    let req = CreateWebhook {
        url: "http://127.0.0.1:9/pecdesk-webhook".into(),
        events: [
            "message.received",
            "activity.assigned",
            "activity.closed",
            "receipt.failed",
            "alarm.fired",
        ]
        .map(str::to_owned)
        .to_vec(),
        format: Some(Format::Generic),
        enabled: Some(false),
        description: Some("Esempio: protocollo informatico / Example: records system".into()),
    };
    let mut tx = store.begin_write(Chain::Org(&admin.org_id)).await?;
    let n = NewWebhook {
        org_id: &admin.org_id,
        actor: Some(&admin.id),
        req: &req,
    };
    create_in(&mut tx, master, &n).await?;
    tx.commit().await?;
    Ok(())
}
