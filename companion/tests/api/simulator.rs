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
use pecdesk_companion::simulate::{Account, Behaviour, ClockMode, EICAR, SimConfig, Simulator};
use pecdesk_core::pec::{InspectOptions, Inspection, PecKind, inspect};
use pecdesk_core::reconcile::{DeliveryState, ReceiptFacts, Reconciliation, reconcile, sent_facts};
use pecdesk_core::signature::{SignatureStatus, TrustAnchors};

use crate::both_engines;
use crate::helpers::{Engine, spawn_app};
use crate::scalar;

both_engines!(
    a_demo_companion_imports_the_simulators_receipts_as_certified,
    in_process_the_receipts_land_in_the_senders_companion_mailbox_as_they_are_written,
    serve_demo_points_the_demo_mailboxes_smtp_at_the_simulator_and_stores_their_receipts,
);

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
    let mut written = s.sim.written();
    let (id, sent) = submit(&s.sim, &Mail::default()).await;
    let mut events = Vec::new();
    while let Ok(w) = written.try_recv() {
        assert!(w.path.exists());
        events.push((w.address, w.kind));
    }
    assert_eq!(
        events,
        [
            (SENDER.to_owned(), "accettazione"),
            ("protocollo@pec.ente.test".to_owned(), "posta-certificata"),
            (SENDER.to_owned(), "avvenuta-consegna"),
        ]
    );

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

    // A zero delay is no delay, even on a clock that stands still.
    s.sim
        .set_behaviour("subito@pec.ente.test", Behaviour::Delay(Duration::ZERO));
    let quick = Mail {
        to: &["subito@pec.ente.test"],
        ..Mail::default()
    };
    let (_, quick_sent) = submit(&s.sim, &quick).await;
    assert_eq!(
        kinds(&files(&s.root, "subito@pec.ente.test")),
        [PecKind::PostaCertificata]
    );
    assert_eq!(
        state_of(
            &reconcile_box(&quick_sent, &files(&s.root, SENDER)),
            "subito@pec.ente.test"
        ),
        DeliveryState::Delivered
    );

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

/// The one notice in the sender's box after a refused submission, and what it says.
fn refused(s: &Sim) -> pecdesk_core::pec::Summary {
    let sender_box = files(&s.root, SENDER);
    assert_eq!(kinds(&sender_box), [PecKind::NonAccettazione]);
    let summary = look(&sender_box[0], &anchors(&s.sim)).summary;
    assert_eq!(
        summary.signature.as_ref().unwrap().status,
        SignatureStatus::Valid
    );
    summary
}

#[tokio::test]
async fn bcc_too_many_recipients_too_large_and_a_virus_are_not_accepted_and_not_delivered() {
    // Bcc: an SMTP recipient that neither To nor Cc names.
    let s = start_with(|_| {}).await;
    let (id, sent, result) =
        submit_extra(&s.sim, &Mail::default(), &["nascosto@pec.ente.test"]).await;
    assert!(result.expect("answered").is_positive());
    let summary = refused(&s);
    assert_eq!(summary.error.as_deref(), Some("altro"));
    assert_eq!(summary.original_message_id.as_deref(), Some(id.as_str()));
    let r = reconcile_box(&sent, &files(&s.root, SENDER));
    assert_eq!(r.accepted, Some(false));
    assert!(files(&s.root, "protocollo@pec.ente.test").is_empty());
    assert!(files(&s.root, "nascosto@pec.ente.test").is_empty());
    let subs = s.sim.submissions();
    assert_eq!(
        (subs[0].accepted, subs[0].reason.as_deref()),
        (false, Some("bcc"))
    );

    // Too many recipients.
    let s = start_with(|c| c.limits.max_recipients = 2).await;
    let mail = Mail {
        to: &["a@pec.ente.test", "b@pec.ente.test", "c@pec.ente.test"],
        ..Mail::default()
    };
    let _ = submit(&s.sim, &mail).await;
    refused(&s);
    assert!(files(&s.root, "a@pec.ente.test").is_empty());
    assert_eq!(
        s.sim.submissions()[0].reason.as_deref(),
        Some("too-many-recipients")
    );

    // Too large.
    let s = start_with(|c| c.limits.max_bytes = 4096).await;
    let mail = Mail {
        attachments: vec![FilePart {
            name: "grande.bin".into(),
            content_type: "application/octet-stream".into(),
            content: vec![7u8; 8192],
        }],
        ..Mail::default()
    };
    let (id, sent) = submit(&s.sim, &mail).await;
    let summary = refused(&s);
    // The notice still names the message it refuses: the outbox matches it.
    assert_eq!(summary.original_message_id.as_deref(), Some(id.as_str()));
    assert_eq!(summary.subject.as_deref(), Some("Comunicazione di prova"));
    assert_eq!(
        reconcile_box(&sent, &files(&s.root, SENDER)).accepted,
        Some(false)
    );
    assert_eq!(s.sim.submissions()[0].reason.as_deref(), Some("too-large"));
    assert!(files(&s.root, "protocollo@pec.ente.test").is_empty());

    // The EICAR test string in an attachment (base64 on the wire).
    let s = start_with(|_| {}).await;
    let mail = Mail {
        attachments: vec![FilePart {
            name: "eicar.com".into(),
            content_type: "application/octet-stream".into(),
            content: EICAR.as_bytes().to_vec(),
        }],
        ..Mail::default()
    };
    let (_, sent) = submit(&s.sim, &mail).await;
    let summary = refused(&s);
    assert_eq!(summary.error.as_deref(), Some("virus"));
    let raw = String::from_utf8_lossy(&files(&s.root, SENDER)[0]).into_owned();
    assert!(raw.contains("X-VerificaSicurezza: errore"));
    assert!(raw.contains("AVVISO DI NON ACCETTAZIONE PER VIRUS: "));
    let r = reconcile_box(&sent, &files(&s.root, SENDER));
    assert_eq!(r.accepted, Some(false));
    assert_eq!(s.sim.submissions()[0].reason.as_deref(), Some("virus"));
    assert!(files(&s.root, "protocollo@pec.ente.test").is_empty());
}

#[tokio::test]
async fn wrong_passwords_unknown_users_and_unauthenticated_senders_are_refused() {
    let s = start_with(|_| {}).await;
    let envelope = Envelope::new(
        Some(SENDER.parse().unwrap()),
        vec!["protocollo@pec.ente.test".parse().unwrap()],
    )
    .unwrap();
    let raw = b"From: <ufficio@pec.mittente.test>\r\nTo: <protocollo@pec.ente.test>\r\nSubject: x\r\n\r\nx\r\n";
    for mechanism in [Mechanism::Plain, Mechanism::Login] {
        for (user, password) in [(SENDER, "sbagliata"), ("altro@pec.mittente.test", PASSWORD)] {
            let err = transport(&s.sim, user, password, mechanism)
                .send_raw(&envelope, raw)
                .await
                .expect_err("refused");
            assert!(err.is_permanent(), "{err}");
            assert!(err.to_string().contains("535"), "{err}");
        }
        // The right password through the same mechanism works.
        let ok = transport(&s.sim, SENDER, PASSWORD, mechanism)
            .send_raw(&envelope, raw)
            .await
            .expect("accepted");
        assert!(ok.is_positive());
    }
    // Without AUTH: 530; with another account's sender address: 553.
    let anonymous = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(s.sim.smtp_addr().port())
        .build();
    let err = anonymous
        .send_raw(&envelope, raw)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("530"), "{err}");
    let spoofed = Envelope::new(
        Some("altro@pec.mittente.test".parse().unwrap()),
        vec!["protocollo@pec.ente.test".parse().unwrap()],
    )
    .unwrap();
    let err = transport(&s.sim, SENDER, PASSWORD, Mechanism::Plain)
        .send_raw(&spoofed, raw)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("553"), "{err}");
    assert_eq!(
        s.sim.submissions().len(),
        2,
        "only the authenticated ones count"
    );
}

#[tokio::test]
async fn the_throttle_answers_451_past_the_limit_until_a_minute_has_passed() {
    let s = start_with(|c| c.limits.per_minute = Some(6)).await;
    for _ in 0..6 {
        submit(&s.sim, &Mail::default()).await;
    }
    let (_, _, result) = submit_extra(&s.sim, &Mail::default(), &[]).await;
    let err = result.expect_err("throttled");
    assert!(err.is_transient(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("4.7.1") && text.contains("al minuto"),
        "{text}"
    );
    let subs = s.sim.submissions();
    assert_eq!(subs.iter().filter(|s| s.accepted).count(), 6);
    assert_eq!(subs.last().unwrap().reason.as_deref(), Some("throttled"));
    s.sim.advance(Duration::from_secs(59)).await;
    let (_, _, result) = submit_extra(&s.sim, &Mail::default(), &[]).await;
    assert!(result.is_err(), "still within the minute");
    s.sim.advance(Duration::from_secs(1)).await;
    submit(&s.sim, &Mail::default()).await;
    assert_eq!(s.sim.submissions().iter().filter(|s| s.accepted).count(), 7);
}

#[tokio::test]
async fn completa_breve_and_sintetica_receipts_have_their_shapes() {
    let s = start_with(|_| {}).await;
    let pdf = b"%PDF-1.4 atto firmato".to_vec();
    let attachment = FilePart {
        name: "atto.pdf".into(),
        content_type: "application/pdf".into(),
        content: pdf.clone(),
    };
    let trusted = anchors(&s.sim);
    let mut shapes = Vec::new();
    for receipt in [
        ReceiptType::Completa,
        ReceiptType::Breve,
        ReceiptType::Sintetica,
    ] {
        let mail = Mail {
            cc: &["copia@pec.ente.test"],
            receipt,
            attachments: vec![attachment.clone()],
            ..Mail::default()
        };
        let before = files(&s.root, SENDER).len();
        let (_, sent) = submit(&s.sim, &mail).await;
        let new: Vec<Vec<u8>> = files(&s.root, SENDER).split_off(before);
        let deliveries: Vec<Inspection> = new
            .iter()
            .map(|r| look(r, &trusted))
            .filter(|i| i.summary.kind == PecKind::AvvenutaConsegna)
            .collect();
        assert_eq!(deliveries.len(), 2);
        for d in &deliveries {
            assert_eq!(
                d.summary.signature.as_ref().unwrap().status,
                SignatureStatus::Valid
            );
        }
        let to = deliveries
            .iter()
            .find(|d| d.summary.recipient.as_deref() == Some("protocollo@pec.ente.test"))
            .unwrap();
        let cc = deliveries
            .iter()
            .find(|d| d.summary.recipient.as_deref() == Some("copia@pec.ente.test"))
            .unwrap();
        assert_eq!(cc.summary.receipt_type.as_deref(), Some("sintetica"));
        assert!(!cc.summary.has_original);
        assert_eq!(to.summary.receipt_type.as_deref(), Some(receipt.as_str()));
        let attachments = to.original.as_ref().map(|o| o.attachments.clone());
        shapes.push((to.summary.has_original, attachments));
        let r = reconcile_box(&sent, &new);
        assert_eq!(
            state_of(&r, "protocollo@pec.ente.test"),
            DeliveryState::Delivered
        );
        assert_eq!(
            state_of(&r, "copia@pec.ente.test"),
            DeliveryState::Delivered
        );
    }
    // completa: the original with the attachment as sent.
    let (has, atts) = &shapes[0];
    assert!(*has);
    let atts = atts.as_ref().unwrap();
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0].name.as_deref(), Some("atto.pdf"));
    assert_eq!(atts[0].size, pdf.len());
    // breve: the original with `atto.pdf.hash` holding the SHA-1 of the attachment.
    let (has, atts) = &shapes[1];
    assert!(*has);
    let atts = atts.as_ref().unwrap();
    assert_eq!(atts.len(), 1);
    assert_eq!(atts[0].name.as_deref(), Some("atto.pdf.hash"));
    use sha1::Digest as _;
    let want = hex::encode(sha1::Sha1::digest(&pdf));
    assert_eq!(atts[0].sha1_placeholder.as_deref(), Some(want.as_str()));
    // sintetica: no original at all.
    assert_eq!(shapes[2], (false, None));
    // The envelope always carries the whole message.
    for raw in files(&s.root, "protocollo@pec.ente.test") {
        let i = look(&raw, &trusted);
        assert_eq!(i.summary.kind, PecKind::PostaCertificata);
        assert_eq!(
            i.original.unwrap().attachments[0].name.as_deref(),
            Some("atto.pdf")
        );
    }
}

#[tokio::test]
async fn a_real_dovecot_serves_the_delivered_envelope_over_imap() {
    let recipient = "protocollo@pec.ente.test";
    let dovecot = crate::dovecot::Dovecot::start(&[(recipient, "imap-secret")]);
    let sim = Simulator::start(SimConfig {
        mail_root: dovecot.home(),
        owner: Some(dovecot.owner()),
        ..config(&dovecot.home())
    })
    .await
    .expect("simulator");
    let (id, _) = submit(&sim, &Mail::default()).await;
    let on_disk = files(&dovecot.home(), recipient);
    assert_eq!(on_disk.len(), 1);

    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", dovecot.port))
        .await
        .expect("connect");
    let mut client = async_imap::Client::new(tcp);
    client
        .read_response()
        .await
        .expect("greeting")
        .expect("greeting");
    let mut session = client
        .login(recipient, "imap-secret")
        .await
        .map_err(|(e, _)| e)
        .expect("login");
    let mailbox = session.select("INBOX").await.expect("select");
    assert_eq!(mailbox.exists, 1);
    use futures_util::TryStreamExt as _;
    let fetched: Vec<_> = session
        .fetch("1", "BODY.PEEK[]")
        .await
        .expect("fetch")
        .try_collect()
        .await
        .expect("fetched");
    let body = fetched[0].body().expect("body").to_vec();
    assert_eq!(body, on_disk[0], "Dovecot serves the file as written");
    let i = look(&body, &anchors(&sim));
    assert_eq!(i.summary.kind, PecKind::PostaCertificata);
    assert_eq!(i.summary.original_message_id.as_deref(), Some(id.as_str()));
    assert_eq!(i.summary.signature.unwrap().status, SignatureStatus::Valid);
    session.logout().await.expect("logout");
    sim.stop().await;
}

#[tokio::test]
async fn the_companion_trusts_the_simulator_in_demo_mode_only() {
    let s = start_with(|_| {}).await;
    submit(&s.sim, &Mail::default()).await;
    let receipt = files(&s.root, SENDER).remove(0);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = pecdesk_companion::Settings::for_data_dir(dir.path());
    let normal = pecdesk_companion::trust::load(&settings).expect("trust");
    let report = pecdesk_core::signature::verify(&receipt, &normal);
    assert_eq!(report.status, SignatureStatus::Untrusted, "{report:?}");
    settings.demo = true;
    let demo = pecdesk_companion::trust::load(&settings).expect("trust");
    let report = pecdesk_core::signature::verify(&receipt, &demo);
    assert_eq!(report.status, SignatureStatus::Valid, "{report:?}");
    assert_eq!(
        report.provider.as_deref(),
        Some("Simulatore PEC PecDesk (solo test / test only)")
    );
}

async fn a_demo_companion_imports_the_simulators_receipts_as_certified(engine: Engine) {
    let s = start_with(|_| {}).await;
    let (id, _) = submit(&s.sim, &Mail::default()).await;
    let app = spawn_app(engine).await;
    let token = app.login("responsabile@demo.test").await;
    let mailbox = app.mailbox_id("legale@pec.demo.test").await;
    for raw in files(&s.root, SENDER) {
        let a = app
            .post_raw(
                &token,
                &format!("/api/v1/messages/import?mailbox={mailbox}"),
                raw,
            )
            .await;
        assert_eq!(a.status, reqwest::StatusCode::CREATED, "{:?}", a.body);
        let got = app
            .get(
                &token,
                &format!("/api/v1/messages/{}", a.body["id"].as_str().expect("id")),
            )
            .await;
        let summary = &got.body["summary"];
        assert_eq!(summary["signature"]["status"], "valid", "{summary}");
        assert_eq!(summary["original_message_id"], id.as_str());
    }
}

#[tokio::test]
async fn a_scaled_clock_writes_a_delayed_delivery_by_itself() {
    // 100,000 simulated seconds per real second: a one-hour delay takes 36 ms.
    let s = start_with(|c| {
        c.clock = ClockMode::Scaled { factor: 100_000 };
        c.behaviours.insert(
            "lenta@pec.ente.test".into(),
            Behaviour::Delay(Duration::from_secs(3600)),
        );
    })
    .await;
    let mail = Mail {
        to: &["lenta@pec.ente.test"],
        ..Mail::default()
    };
    submit(&s.sim, &mail).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // The envelope, then its delivery receipt, written by the simulator's own ticker.
    while files(&s.root, "lenta@pec.ente.test").is_empty() || files(&s.root, SENDER).len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the delayed envelope never came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        kinds(&files(&s.root, SENDER)),
        [PecKind::Accettazione, PecKind::AvvenutaConsegna]
    );
    assert!(s.sim.now() > start_time());
}

/// A raw SMTP conversation: sends each line, returns the server's reply lines.
async fn converse(addr: std::net::SocketAddr, steps: &[&[u8]]) -> Vec<String> {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    let mut replies = vec![
        lines
            .next_line()
            .await
            .expect("greeting")
            .expect("greeting"),
    ];
    for step in steps {
        write.write_all(step).await.expect("write");
        // Read one whole reply (continuation lines have a '-' after the code).
        loop {
            let Some(line) = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
                .await
                .expect("the server answers")
                .expect("read")
            else {
                return replies;
            };
            let last = line.as_bytes().get(3) != Some(&b'-');
            replies.push(line);
            if last {
                break;
            }
        }
    }
    replies
}

#[tokio::test]
async fn bad_input_gets_smtp_errors_and_never_stops_the_server() {
    use base64::Engine as _;
    let s = start_with(|_| {}).await;
    let addr = s.sim.smtp_addr();
    let auth = format!(
        "AUTH PLAIN {}\r\n",
        base64::engine::general_purpose::STANDARD.encode(format!("\0{SENDER}\0{PASSWORD}"))
    );
    let long = format!("NOOP {}\r\n", "x".repeat(100_000));
    let replies = converse(
        addr,
        &[
            b"EHLO client\r\n",
            b"MAIL FROM:<ufficio@pec.mittente.test>\r\n",
            b"\xff\xfe\x00garbage\r\n",
            long.as_bytes(),
            b"AUTH CRAM-MD5\r\n",
            b"AUTH PLAIN !!!notbase64\r\n",
            auth.as_bytes(),
            b"RCPT TO:<a@pec.ente.test>\r\n",
            b"MAIL FROM:<ufficio@pec.mittente.test>\r\n",
            b"RCPT TO:<../../etc/passwd>\r\n",
            b"RCPT TO:<a/b@pec.ente.test>\r\n",
            b"DATA\r\n",
            b"RCPT TO:<protocollo@pec.ente.test>\r\n",
            b"RSET\r\n",
            b"NOOP\r\n",
            b"QUIT\r\n",
        ],
    )
    .await;
    let codes: Vec<&str> = replies.iter().map(|l| &l[..3]).collect();
    assert_eq!(
        codes,
        [
            "220", "250", "250", "250", "250", "250", // greeting, EHLO (5 lines)
            "530", "502", "500", "504", "535", "235", "503", "250", "501", "501", "554", "250",
            "250", "250", "221"
        ],
        "{replies:#?}"
    );
    assert!(replies.iter().any(|l| l.contains("AUTH PLAIN LOGIN")));
    assert!(replies.iter().any(|l| l.contains("8BITMIME")));
    // A client that leaves in the middle of DATA certifies nothing.
    let partial = converse(
        addr,
        &[
            auth.as_bytes(),
            b"MAIL FROM:<ufficio@pec.mittente.test>\r\n",
            b"RCPT TO:<protocollo@pec.ente.test>\r\n",
            b"DATA\r\n",
        ],
    )
    .await;
    assert_eq!(partial.last().map(|l| &l[..3]), Some("354"));
    // Dot-stuffing: a body line starting with a dot arrives with one dot.
    let replies = converse(
        addr,
        &[
            auth.as_bytes(),
            b"MAIL FROM:<ufficio@pec.mittente.test>\r\n",
            b"RCPT TO:<protocollo@pec.ente.test>\r\n",
            b"DATA\r\n",
            b"From: <ufficio@pec.mittente.test>\r\nTo: <protocollo@pec.ente.test>\r\n\
Subject: punti\r\nMessage-ID: <punti@pec.mittente.test>\r\n\r\n..riga con un punto\r\n.\r\n",
            b"QUIT\r\n",
        ],
    )
    .await;
    assert!(
        replies.iter().any(|l| l.starts_with("250 2.0.0")),
        "{replies:#?}"
    );
    let envelope = look(
        &files(&s.root, "protocollo@pec.ente.test")[0],
        &anchors(&s.sim),
    );
    let body = envelope
        .original
        .expect("original")
        .text_body
        .expect("text");
    assert!(body.starts_with(".riga con un punto"), "{body:?}");
    assert_eq!(
        s.sim.submissions().len(),
        1,
        "the interrupted DATA counts for nothing"
    );
    // The server still answers after all this.
    submit(&s.sim, &Mail::default()).await;
}

async fn in_process_the_receipts_land_in_the_senders_companion_mailbox_as_they_are_written(
    engine: Engine,
) {
    const DEMO_BOX: &str = "protocollo@pec.demo.test";
    let app = spawn_app(engine).await;
    let mailbox = app.mailbox_id(DEMO_BOX).await;
    let org: String = scalar!(app, "SELECT org_id FROM mailboxes WHERE id = $1", &mailbox);
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Simulator::start(SimConfig {
        accounts: vec![Account {
            address: DEMO_BOX.into(),
            password: PASSWORD.into(),
        }],
        mail_root: dir.path().to_path_buf(),
        behaviours: [("inesistente@pec.ente.test".to_owned(), Behaviour::Unknown)].into(),
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let mut settings = pecdesk_companion::Settings::for_data_dir(dir.path());
    settings.demo = true;
    let trust = pecdesk_companion::trust::load(&settings).expect("trust");
    let routes = [(
        DEMO_BOX.to_owned(),
        pecdesk_companion::simulate::inprocess::Route {
            org_id: org.clone(),
            mailbox_id: mailbox.clone(),
        },
    )]
    .into();
    let importer =
        pecdesk_companion::simulate::inprocess::import_into(&sim, app.store.clone(), trust, routes);

    let raw = b"From: <protocollo@pec.demo.test>\r\nTo: <ufficio@pec.ente.test>, \
<inesistente@pec.ente.test>\r\nSubject: Risposta\r\nMessage-ID: <inproc-1@pec.demo.test>\r\n\r\nTesto.\r\n";
    let envelope = Envelope::new(
        Some(DEMO_BOX.parse().unwrap()),
        vec![
            "ufficio@pec.ente.test".parse().unwrap(),
            "inesistente@pec.ente.test".parse().unwrap(),
        ],
    )
    .unwrap();
    transport(&sim, DEMO_BOX, PASSWORD, Mechanism::Login)
        .send_raw(&envelope, raw)
        .await
        .expect("accepted");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = scalar!(
            app,
            "SELECT COUNT(*) FROM messages WHERE mailbox_id = $1 AND source = 'simulator'",
            &mailbox
        );
        if n == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} of 3 receipts stored"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mut kinds: Vec<String> = pecdesk_companion::with_pool!(app.store, |p| sqlx::query_scalar(
        "SELECT kind FROM messages WHERE mailbox_id = $1 AND source = 'simulator' ORDER BY kind"
    )
    .bind(&mailbox)
    .fetch_all(p)
    .await)
    .expect("kinds");
    kinds.sort();
    assert_eq!(
        kinds,
        ["accettazione", "avvenuta-consegna", "errore-consegna"]
    );
    // The recipient's box is not the companion's: its envelope stays in the Maildir only.
    assert_eq!(files(dir.path(), "ufficio@pec.ente.test").len(), 1);
    let token = app.login("responsabile@demo.test").await;
    let listed = app
        .get(&token, &format!("/api/v1/messages?mailbox={mailbox}"))
        .await;
    let items = listed.body["items"].as_array().expect("items");
    let from_sim: Vec<&serde_json::Value> = items
        .iter()
        .filter(|m| m["summary"]["original_message_id"] == "inproc-1@pec.demo.test")
        .collect();
    assert_eq!(from_sim.len(), 3, "{}", listed.body);
    for m in from_sim {
        assert_eq!(m["summary"]["signature"]["status"], "valid", "{m}");
    }
    sim.stop().await;
    tokio::time::timeout(Duration::from_secs(10), importer)
        .await
        .expect("the importer ends with the simulator")
        .expect("importer");
}

async fn serve_demo_points_the_demo_mailboxes_smtp_at_the_simulator_and_stores_their_receipts(
    engine: Engine,
) {
    use pecdesk_companion::store::mailboxes::{self, Protocol, Security};
    use secrecy::ExposeSecret as _;
    let app = spawn_app(engine).await;
    let mut settings = pecdesk_companion::Settings::for_data_dir(app.data_dir());
    settings.demo = true;
    let state = pecdesk_companion::AppState::new(settings, app.store.clone())
        .await
        .expect("state");
    let (sim, importer) = pecdesk_companion::simulate::inprocess::start_for_demo(&state)
        .await
        .expect("demo simulator");
    let mailbox = app.mailbox_id("legale@pec.demo.test").await;
    // What the outbox reads: the mailbox's SMTP settings, the password opened.
    let ep = mailboxes::endpoint(
        &app.store,
        state.tokens().master(),
        &mailbox,
        Protocol::Smtp,
    )
    .await
    .expect("endpoint")
    .expect("SMTP settings set");
    assert_eq!(ep.port, sim.smtp_addr().port());
    assert_eq!(ep.security, Security::Plain);
    assert_eq!(ep.user, "legale@pec.demo.test");
    let smtp = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ep.host.clone())
        .port(ep.port)
        .credentials(Credentials::new(
            ep.user.clone(),
            ep.secret.expose_secret().to_owned(),
        ))
        .build();
    let raw = b"From: <legale@pec.demo.test>\r\nTo: <ufficio@pec.esempio.test>, \
<muta@pec.esempio.test>\r\nSubject: Diffida\r\nMessage-ID: <demo-sim-1@pec.demo.test>\r\n\r\nTesto.\r\n";
    let envelope = Envelope::new(
        Some("legale@pec.demo.test".parse().unwrap()),
        vec![
            "ufficio@pec.esempio.test".parse().unwrap(),
            "muta@pec.esempio.test".parse().unwrap(),
        ],
    )
    .unwrap();
    smtp.send_raw(&envelope, raw).await.expect("accepted");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = scalar!(
            app,
            "SELECT COUNT(*) FROM messages WHERE mailbox_id = $1 AND source = 'simulator'",
            &mailbox
        );
        if n == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} of 2 receipts stored"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // muta@ does not answer: only its preavviso (after 5 demo minutes) is still to come.
    assert_eq!(sim.pending(), 2);
    sim.stop().await;
    tokio::time::timeout(Duration::from_secs(10), importer)
        .await
        .expect("the importer ends with the simulator")
        .expect("importer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_each_get_their_own_identificativo_and_receipts() {
    let s = start_with(|_| {}).await;
    let sim = &s.sim;
    let sends = (0..20).map(|i| async move {
        let to = format!("dest{i}@pec.ente.test");
        let to = [to.as_str()];
        let mail = Mail {
            to: &to,
            ..Mail::default()
        };
        submit(sim, &mail).await.0
    });
    let ids = futures_util::future::join_all(sends).await;
    let subs = s.sim.submissions();
    assert_eq!(subs.len(), 20);
    let mut pec_ids: Vec<String> = subs
        .iter()
        .filter_map(|s| s.identificativo.clone())
        .collect();
    pec_ids.sort();
    pec_ids.dedup();
    assert_eq!(pec_ids.len(), 20, "one identificativo per submission");
    let sender_box = files(&s.root, SENDER);
    assert_eq!(sender_box.len(), 40);
    for id in ids {
        let mine: Vec<Vec<u8>> = sender_box
            .iter()
            .filter(|r| {
                inspect(r, &InspectOptions::default())
                    .summary
                    .original_message_id
                    .as_deref()
                    == Some(id.as_str())
            })
            .cloned()
            .collect();
        assert_eq!(
            kinds(&mine).len(),
            2,
            "an accettazione and a consegna for each message"
        );
    }
}
