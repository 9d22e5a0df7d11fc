//! The PEC provider simulator (`pecdesk_companion::simulate`) through a real SMTP client
//! (lettre): what lands in which Maildir, how `inspect` classifies it, whether its signature
//! verifies against the simulator CA only, and what reconciliation makes of the receipts.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::TimeZone as _;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use pecdesk_companion::outbox::compose::{FilePart, Outgoing, ReceiptType, compose};
use pecdesk_companion::simulate::{Account, Behaviour, ClockMode, SimConfig, Simulator};
use pecdesk_core::pec::{InspectOptions, Inspection, PecKind, inspect};
use pecdesk_core::reconcile::{DeliveryState, ReceiptFacts, Reconciliation, reconcile, sent_facts};
use pecdesk_core::signature::{SignatureStatus, TrustAnchors};

const SENDER: &str = "ufficio@pec.mittente.test";
const PASSWORD: &str = "segreta";

struct Sim {
    sim: Simulator,
    root: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

fn start_time() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
}

fn config(root: &Path) -> SimConfig {
    SimConfig {
        accounts: vec![Account {
            address: SENDER.into(),
            password: PASSWORD.into(),
        }],
        mail_root: root.to_path_buf(),
        clock: ClockMode::Manual {
            start: start_time(),
        },
        ..SimConfig::default()
    }
}

async fn start_with(f: impl FnOnce(&mut SimConfig)) -> Sim {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = config(dir.path());
    f(&mut cfg);
    let sim = Simulator::start(cfg).await.expect("simulator starts");
    Sim {
        sim,
        root: dir.path().to_path_buf(),
        _dir: Some(dir),
    }
}

fn transport(
    sim: &Simulator,
    user: &str,
    password: &str,
    mechanism: Mechanism,
) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(sim.smtp_addr().ip().to_string())
        .port(sim.smtp_addr().port())
        .credentials(Credentials::new(user.into(), password.into()))
        .authentication(vec![mechanism])
        .timeout(Some(Duration::from_secs(20)))
        .build()
}

/// One message as the outbox composes it.
struct Mail<'a> {
    to: &'a [&'a str],
    cc: &'a [&'a str],
    subject: &'a str,
    receipt: ReceiptType,
    attachments: Vec<FilePart>,
    body: &'a str,
}

impl Default for Mail<'_> {
    fn default() -> Self {
        Self {
            to: &["protocollo@pec.ente.test"],
            cc: &[],
            subject: "Comunicazione di prova",
            receipt: ReceiptType::Completa,
            attachments: Vec::new(),
            body: "Buongiorno, si trasmette quanto richiesto.",
        }
    }
}

/// Composes and submits `mail` from SENDER; returns (Message-ID, raw, SMTP result).
async fn submit_extra(
    sim: &Simulator,
    mail: &Mail<'_>,
    extra_rcpt: &[&str],
) -> (
    String,
    Vec<u8>,
    Result<lettre::transport::smtp::response::Response, lettre::transport::smtp::Error>,
) {
    let to: Vec<String> = mail.to.iter().map(|s| s.to_string()).collect();
    let cc: Vec<String> = mail.cc.iter().map(|s| s.to_string()).collect();
    let out = Outgoing {
        from: SENDER,
        to: &to,
        cc: &cc,
        subject: mail.subject,
        body: mail.body,
        attachments: &mail.attachments,
        in_reply_to: None,
        references: &[],
        receipt: mail.receipt,
    };
    let id = pecdesk_companion::outbox::compose::new_message_id(SENDER);
    let raw = compose(&out, &id).expect("compose");
    let mut rcpts: Vec<lettre::Address> = out
        .recipients()
        .iter()
        .map(|a| a.parse().expect("address"))
        .collect();
    rcpts.extend(
        extra_rcpt
            .iter()
            .map(|a| a.parse::<lettre::Address>().expect("address")),
    );
    let envelope = Envelope::new(Some(SENDER.parse().unwrap()), rcpts).expect("envelope");
    let result = transport(sim, SENDER, PASSWORD, Mechanism::Plain)
        .send_raw(&envelope, &raw)
        .await;
    (id, raw, result)
}

async fn submit(sim: &Simulator, mail: &Mail<'_>) -> (String, Vec<u8>) {
    let (id, raw, result) = submit_extra(sim, mail, &[]).await;
    let response = result.expect("the simulator accepts the submission");
    assert!(response.is_positive(), "{response:?}");
    (id, raw)
}

/// The files in `address`'s `new/`, oldest first.
fn files(root: &Path, address: &str) -> Vec<Vec<u8>> {
    let dir = root.join(address).join("Maildir").join("new");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut names: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
    names.sort_by_key(|p| {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        // `secs.Mmicros...Qseq...`: the sequence number orders files written in one second.
        name.split('Q')
            .nth(1)
            .and_then(|r| r.split('.').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    });
    names
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect()
}

fn anchors(sim: &Simulator) -> TrustAnchors {
    let mut a = TrustAnchors::builtin();
    a.providers.push(sim.trust_provider().expect("provider"));
    a
}

fn look(raw: &[u8], anchors: &TrustAnchors) -> Inspection {
    inspect(
        raw,
        &InspectOptions {
            signature: Some(anchors.clone()),
        },
    )
}

fn kinds(raws: &[Vec<u8>]) -> Vec<PecKind> {
    raws.iter()
        .map(|r| inspect(r, &InspectOptions::default()).summary.kind)
        .collect()
}

fn reconcile_box(sent: &[u8], receipts: &[Vec<u8>]) -> Reconciliation {
    let facts: Vec<ReceiptFacts> = receipts
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            ReceiptFacts::from_inspection(&i.to_string(), &inspect(r, &InspectOptions::default()))
        })
        .collect();
    reconcile(&sent_facts(sent), &facts)
}

fn state_of(r: &Reconciliation, who: &str) -> DeliveryState {
    r.delivery
        .iter()
        .find(|d| d.recipient.eq_ignore_ascii_case(who))
        .unwrap_or_else(|| panic!("{who} not in {r:?}"))
        .state
}

#[tokio::test]
async fn a_delivered_pec_gives_acceptance_envelope_and_delivery_all_certified_by_the_simulator_ca()
{
    let s = start_with(|_| {}).await;
    let (id, sent) = submit(&s.sim, &Mail::default()).await;

    let sender_box = files(&s.root, SENDER);
    assert_eq!(
        kinds(&sender_box),
        [PecKind::Accettazione, PecKind::AvvenutaConsegna]
    );
    let inbox = files(&s.root, "protocollo@pec.ente.test");
    assert_eq!(kinds(&inbox), [PecKind::PostaCertificata]);

    let trusted = anchors(&s.sim);
    let builtin = TrustAnchors::builtin();
    let mut identificativi = Vec::new();
    for raw in sender_box.iter().chain(&inbox) {
        let i = look(raw, &trusted);
        let sig = i.summary.signature.clone().expect("checked");
        assert_eq!(sig.status, SignatureStatus::Valid, "{sig:?}");
        assert!(i.summary.problems.is_empty(), "{:?}", i.summary.problems);
        assert_eq!(i.summary.original_message_id.as_deref(), Some(id.as_str()));
        assert_eq!(i.summary.sender.as_deref(), Some(SENDER));
        assert_eq!(
            i.summary.provider.as_deref(),
            Some("Simulatore PEC PecDesk")
        );
        assert_eq!(i.summary.subject.as_deref(), Some("Comunicazione di prova"));
        assert!(
            i.summary
                .identificativo
                .as_deref()
                .unwrap()
                .ends_with("@sim.pec.test")
        );
        identificativi.push(i.summary.identificativo.clone());
        // Without the simulator's CA nothing it wrote is certified.
        let untrusted = look(raw, &builtin).summary.signature.expect("checked");
        assert_eq!(
            untrusted.status,
            SignatureStatus::Untrusted,
            "{untrusted:?}"
        );
    }
    identificativi.dedup();
    assert_eq!(identificativi.len(), 1, "one identificativo per submission");

    // The envelope: Per conto di, the original inside with the PEC id as its Message-ID.
    let envelope = look(&inbox[0], &trusted);
    assert!(envelope.summary.has_original);
    let original = envelope.original.expect("postacert.eml");
    assert_eq!(original.message_id, identificativi[0]);
    assert_eq!(
        original.riferimento_message_id.as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        original.text_body.as_deref().map(str::trim),
        Some(Mail::default().body)
    );
    let head = String::from_utf8_lossy(&inbox[0]);
    assert!(
        head.contains(&format!(
            "From: \"Per conto di: {SENDER}\" <posta-certificata@sim.pec.test>"
        )),
        "{head}"
    );
    assert!(head.contains(&format!("Reply-To: {SENDER}")));

    let delivery = look(&sender_box[1], &trusted).summary;
    assert_eq!(
        delivery.recipient.as_deref(),
        Some("protocollo@pec.ente.test")
    );
    assert_eq!(delivery.receipt_type.as_deref(), Some("completa"));
    assert!(delivery.has_original);

    let r = reconcile_box(&sent, &sender_box);
    assert_eq!(r.accepted, Some(true));
    assert_eq!(
        state_of(&r, "protocollo@pec.ente.test"),
        DeliveryState::Delivered
    );

    let subs = s.sim.submissions();
    assert_eq!(subs.len(), 1);
    assert!(subs[0].accepted);
    assert_eq!(subs[0].message_id.as_deref(), Some(id.as_str()));
    assert_eq!(subs[0].recipients, ["protocollo@pec.ente.test"]);
    assert_eq!(subs[0].identificativo, identificativi[0]);
    assert_eq!(subs[0].at, start_time());
    s.sim.stop().await;
}

#[tokio::test]
async fn per_recipient_failures_and_delays_reconcile_to_the_right_states() {
    let s = start_with(|c| {
        c.behaviours
            .insert("inesistente@pec.ente.test".into(), Behaviour::Unknown);
        c.behaviours
            .insert("piena@pec.ente.test".into(), Behaviour::FullBox);
    })
    .await;
    s.sim.set_behaviour(
        "LENTA@pec.ente.test",
        Behaviour::Delay(Duration::from_secs(1800)),
    );
    let mail = Mail {
        to: &[
            "ok@pec.ente.test",
            "inesistente@pec.ente.test",
            "piena@pec.ente.test",
        ],
        cc: &["lenta@pec.ente.test"],
        ..Mail::default()
    };
    let (_, sent) = submit(&s.sim, &mail).await;
    let sender_box = files(&s.root, SENDER);
    let r = reconcile_box(&sent, &sender_box);
    assert_eq!(r.accepted, Some(true));
    assert_eq!(state_of(&r, "ok@pec.ente.test"), DeliveryState::Delivered);
    assert_eq!(
        state_of(&r, "inesistente@pec.ente.test"),
        DeliveryState::Failed
    );
    assert_eq!(state_of(&r, "piena@pec.ente.test"), DeliveryState::Failed);
    assert_eq!(state_of(&r, "lenta@pec.ente.test"), DeliveryState::Pending);
    let reasons: Vec<String> = r.delivery.iter().filter_map(|d| d.reason.clone()).collect();
    assert!(
        reasons
            .iter()
            .any(|t| t.contains("5.1.1 - casella inesistente")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|t| t.contains("5.2.2 - casella piena")),
        "{reasons:?}"
    );
    let trusted = anchors(&s.sim);
    for raw in &sender_box {
        let sig = look(raw, &trusted).summary.signature.expect("checked");
        assert_eq!(sig.status, SignatureStatus::Valid);
    }
    let errors: Vec<Option<String>> = sender_box
        .iter()
        .map(|r| inspect(r, &InspectOptions::default()).summary)
        .filter(|s| s.kind == PecKind::ErroreConsegna)
        .map(|s| s.error)
        .collect();
    assert!(errors.contains(&Some("no-dest".into())), "{errors:?}");
    assert!(files(&s.root, "inesistente@pec.ente.test").is_empty());
    assert!(files(&s.root, "lenta@pec.ente.test").is_empty());

    s.sim.advance(Duration::from_secs(1799)).await;
    assert!(
        files(&s.root, "lenta@pec.ente.test").is_empty(),
        "not before its delay"
    );
    s.sim.advance(Duration::from_secs(1)).await;
    assert_eq!(
        kinds(&files(&s.root, "lenta@pec.ente.test")),
        [PecKind::PostaCertificata]
    );
    let sender_box = files(&s.root, SENDER);
    let r = reconcile_box(&sent, &sender_box);
    assert_eq!(
        state_of(&r, "lenta@pec.ente.test"),
        DeliveryState::Delivered
    );
    let late = look(sender_box.last().unwrap(), &trusted).summary;
    // A Cc recipient's delivery receipt is sintetica, certified at the delayed time.
    assert_eq!(late.receipt_type.as_deref(), Some("sintetica"));
    assert!(!late.has_original);
    assert_eq!(late.issued_at.as_deref(), Some("2026-11-30T10:30:00+01:00"));
    assert_eq!(late.signature.unwrap().status, SignatureStatus::Valid);
}

#[tokio::test]
async fn no_answer_gives_the_preavviso_after_12_hours_and_the_failure_after_24() {
    let s = start_with(|c| {
        c.behaviours
            .insert("muta@pec.ente.test".into(), Behaviour::NoAnswer);
    })
    .await;
    let mail = Mail {
        to: &["muta@pec.ente.test"],
        ..Mail::default()
    };
    let (_, sent) = submit(&s.sim, &mail).await;
    assert_eq!(kinds(&files(&s.root, SENDER)), [PecKind::Accettazione]);
    assert_eq!(s.sim.pending(), 2);

    s.sim.advance(Duration::from_secs(12 * 3600 - 1)).await;
    assert_eq!(kinds(&files(&s.root, SENDER)), [PecKind::Accettazione]);
    s.sim.advance(Duration::from_secs(1)).await;
    let sender_box = files(&s.root, SENDER);
    assert_eq!(
        kinds(&sender_box),
        [PecKind::Accettazione, PecKind::PreavvisoErroreConsegna]
    );
    assert_eq!(
        state_of(&reconcile_box(&sent, &sender_box), "muta@pec.ente.test"),
        DeliveryState::Warned
    );

    s.sim.advance(Duration::from_secs(12 * 3600 - 1)).await;
    assert_eq!(
        files(&s.root, SENDER).len(),
        2,
        "no final failure before 24 h"
    );
    s.sim.advance(Duration::from_secs(1)).await;
    let sender_box = files(&s.root, SENDER);
    assert_eq!(
        kinds(&sender_box),
        [
            PecKind::Accettazione,
            PecKind::PreavvisoErroreConsegna,
            PecKind::ErroreConsegna
        ]
    );
    let r = reconcile_box(&sent, &sender_box);
    assert_eq!(state_of(&r, "muta@pec.ente.test"), DeliveryState::Failed);
    let trusted = anchors(&s.sim);
    for raw in &sender_box {
        let summary = look(raw, &trusted).summary;
        assert_eq!(summary.signature.unwrap().status, SignatureStatus::Valid);
    }
    let last = look(&sender_box[2], &trusted).summary;
    assert_eq!(last.issued_at.as_deref(), Some("2026-12-01T10:00:00+01:00"));
    assert!(files(&s.root, "muta@pec.ente.test").is_empty());
    assert_eq!(s.sim.pending(), 0);
}
