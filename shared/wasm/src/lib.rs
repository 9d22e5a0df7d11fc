//! # pecdesk-wasm
//!
//! The WebAssembly facade of [`pecdesk_core`] for the Outlook and Thunderbird add-ins
//! (built by `scripts/build-wasm`, `wasm-bindgen --target web` and `--target nodejs`).
//! It only converts types at the JavaScript boundary: bytes and strings in, JSON text or
//! string arrays out. Every decision is the core's.
//!
//! Exports:
//! - [`inspect`]: the summary of `pecdesk inspect --json`, signature status included;
//! - [`allowed_actions`]: what a person may do now on an activity;
//! - [`reconcile`]: a sent message's acceptance and per-recipient delivery from receipts;
//! - [`original`], [`original_attachment`]: the original message (`postacert.eml`) to show,
//!   and the decoded bytes of its attachments;
//! - [`signed_document`], [`signed_document_content`]: a signed document (`.p7m`, CAdES):
//!   its signers and whether they are intact and qualified, and the document inside.
//!
//! Values cross the boundary as JSON text (no `serde-wasm-bindgen`): no extra dependency,
//! and the summary keeps the key order of `PEC.md` and `null` for absent fields exactly as
//! the CLI prints them. Errors become a thrown JavaScript `Error` whose message reads
//! "italiano / English".
//!
//! No clock is read here either: the core judges certificate validity at the message's
//! own date (`signingTime`, else `Date`), so no "now" has to be passed in.

use pecdesk_core::authz::{self, ActivityFacts, Person};
use pecdesk_core::reconcile::{self, ReceiptFacts, SentFacts};
use pecdesk_core::signature::{QualifiedCas, TrustAnchors, cades};
use pecdesk_core::{InspectOptions, Summary};
use wasm_bindgen::prelude::*;

/// Reads one raw message (RFC 5322 bytes, LF or CRLF) and returns its summary as JSON text,
/// the object `pecdesk inspect --json` prints (Italian `problems`).
///
/// `trust_anchors_pem` decides the signature check; whenever it is checked, the core's
/// built-in PEC provider list is used (as the CLI does), and `status` is `valid` only when
/// the signer is the envelope's accredited PEC provider (see `docs/trust.md`):
/// - `undefined` / `null`: not checked, `signature` is `null` (the CLI's `--no-signature`);
/// - an empty (or blank) string: checked against the built-in provider list only (the CLI
///   without options);
/// - a provider list (JSON text starting with `{`, format `pecdesk-pec-providers/1`, as
///   `pecdesk trust import` writes it): its providers are added (the CLI's `--providers`);
/// - a PEM bundle of CA certificates: added as anchors that complete chains but make no
///   one a provider (the CLI's `--ca-bundle`): a signer reaching only them is
///   `untrusted` / `not-a-pec-provider`.
///
/// Throws when the bundle or list is unreadable, as the CLI stops on a bad option.
/// A message is certified only when `signature.status` is `valid`.
#[wasm_bindgen]
pub fn inspect(bytes: &[u8], trust_anchors_pem: Option<String>) -> Result<String, JsError> {
    inspect_json(bytes, trust_anchors_pem.as_deref()).map_err(|message| JsError::new(&message))
}

/// The actions a person may take on an activity now, as the companion names them in
/// `allowed_actions` of the activity detail: target statuses (`in_progress`, `done`, ...)
/// then `send`. Decided by the core's authorization (`pecdesk_core::authz`), the same
/// function the companion asks.
///
/// `activity_json`: the core's `ActivityFacts` — `{"mailbox_id", "status", "flow",
/// "assignee_id", "team_id", "approver_id", "draft_version", "approved_draft_version",
/// "draft_authors", "approval_requested_by", "draft_sent"}` (`mailbox_id` and `status`
/// required, the others may be left out; from an activity detail of the API:
/// `draft_version` is the draft's `version` while it is not sent, `draft_sent` whether its
/// `sent_at` is set, `draft_authors` the detail's `draft_authors`, `approval_requested_by`
/// the `by.id` of the last `request` in `approvals`). Without the last three, the
/// segregation-of-duties refusals are not foreseen (the companion still makes them).
/// `person_json`: the core's `Person` — `{"user_id", "mailboxes": {"MAILBOX_ID":
/// ["MAIL_ACTIVITY_READER", ...]}, "teams": [...]}` (`user_id` required).
#[wasm_bindgen]
pub fn allowed_actions(activity_json: &str, person_json: &str) -> Result<Vec<String>, JsError> {
    allowed_actions_from_json(activity_json, person_json).map_err(|message| JsError::new(&message))
}

/// A sent message's acceptance and per-recipient delivery state from the receipts the
/// caller holds (the core's `reconcile::reconcile_matching`: receipts of other messages are
/// ignored, a receipt without `original_message_id` borrows the one of an accettazione with
/// the same `identificativo`; any order gives the same answer).
///
/// `input_json`: `{"sent": {"message_id", "to": [...], "cc": [...]}, "receipts": [...]}`,
/// each receipt the summary of [`inspect`] with an `id` added (any string the caller uses
/// to name it) and optionally `error_detail` (daticert `errore-esteso`) and `virus`.
/// Returns JSON text `{"accepted": true|false|null, "acceptance": {"accepted",
/// "receipt_id", "at", "error", "reason"}|null, "delivery": [{"recipient", "field":
/// "to"|"cc"|null, "state": "pending"|"delivered"|"failed"|"warned"|"virus",
/// "receipt_type", "error", "reason", "receipt_id", "at"}]}` — the companion's `accepted`,
/// `acceptance` and `delivery` of a sent message's detail.
#[wasm_bindgen]
pub fn reconcile(input_json: &str) -> Result<String, JsError> {
    reconcile_json(input_json).map_err(|message| JsError::new(&message))
}

/// The original message to show for a raw message, as JSON text: its `postacert.eml`
/// when it is a PEC carrying one, else the message itself (`source` says which):
/// `{"source": "postacert"|"message", "from", "from_name", "to": [...], "cc": [...],
/// "subject", "date" (RFC 3339), "text", "html", "attachments": [{"index", "name",
/// "content_type", "size", "signed"}]}`. `html` is the body as written: sanitise it before
/// showing it. `signed` marks a signed document (`.p7m`): open it with
/// [`signed_document`]. Throws when the bytes are no e-mail message.
#[wasm_bindgen]
pub fn original(bytes: &[u8]) -> Result<String, JsError> {
    original_json(bytes).map_err(|message| JsError::new(&message))
}

/// The decoded bytes of attachment `index` (as listed by [`original`]). Throws when there
/// is no such attachment.
#[wasm_bindgen]
pub fn original_attachment(bytes: &[u8], index: u32) -> Result<Vec<u8>, JsError> {
    original_attachment_bytes(bytes, index).map_err(|message| JsError::new(&message))
}

/// Opens a signed document (`.p7m`: DER, base64 or PEM; nested `.p7m.p7m` up to 3 levels)
/// and checks its signers; JSON text `{"name", "content_type", "size", "signers":
/// [{"common_name", "organization", "serial_number", "issuer", "signing_time",
/// "integrity": "ok"|"broken"|"unsupported", "trust": "qualified"|"not-qualified"|
/// "not-checked", "reason", "level", "qualified_ca"}], "status": "valid"|"integrity-only"|
/// "invalid", "problems": [...]}` (Italian `reason` and `problems`).
///
/// `qualified_json`: the list of qualified CAs (`pecdesk-qualified-cas/1`, as the companion
/// serves it at `/addin/trust/qualified.json`); `undefined`/`null`: trust not checked, the
/// status is never `valid`. `name`: the attachment's file name (`atto.pdf.p7m`), which
/// gives `name` (`atto.pdf`) and the content type; may be left out.
/// Throws when the file is no signed document, holds no content (a detached signature),
/// or the list is unreadable.
#[wasm_bindgen]
pub fn signed_document(
    bytes: &[u8],
    qualified_json: Option<String>,
    name: Option<String>,
) -> Result<String, JsError> {
    signed_document_json(bytes, qualified_json.as_deref(), name.as_deref())
        .map_err(|message| JsError::new(&message))
}

/// The document inside a signed file (every level opened), without checking signatures.
#[wasm_bindgen]
pub fn signed_document_content(bytes: &[u8]) -> Result<Vec<u8>, JsError> {
    cades::signed_document_content(bytes).map_err(|e| JsError::new(&e.bilingual()))
}

/// [`original`] without the JavaScript types (native tests call it).
pub fn original_json(bytes: &[u8]) -> Result<String, String> {
    let view = pecdesk_core::pec::original_view(bytes)
        .ok_or_else(|| "il file non è un messaggio di posta / not an e-mail message".to_owned())?;
    serde_json::to_string(&view)
        .map_err(|e| format!("messaggio non serializzabile / message not serialisable: {e}"))
}

/// [`original_attachment`] without the JavaScript types (native tests call it).
pub fn original_attachment_bytes(bytes: &[u8], index: u32) -> Result<Vec<u8>, String> {
    usize::try_from(index)
        .ok()
        .and_then(|index| pecdesk_core::pec::original_attachment(bytes, index))
        .ok_or_else(|| format!("allegato {index} assente / no attachment {index} in the message"))
}

/// [`signed_document`] without the JavaScript types (native tests call it).
pub fn signed_document_json(
    bytes: &[u8],
    qualified_json: Option<&str>,
    name: Option<&str>,
) -> Result<String, String> {
    let qualified = qualified_json
        .map(|json| QualifiedCas::from_json(json.as_bytes()))
        .transpose()?;
    let document =
        cades::read_signed_document(bytes, name, qualified.as_ref()).map_err(|e| e.bilingual())?;
    serde_json::to_string(&document)
        .map_err(|e| format!("esito non serializzabile / result not serialisable: {e}"))
}

/// [`reconcile`] without the JavaScript types (native tests call it).
pub fn reconcile_json(input_json: &str) -> Result<String, String> {
    /// `{"sent": SentFacts, "receipts": [ReceiptFacts] | null}`, read as serde would read
    /// it with `#[derive(Deserialize)]` (`receipts` with `#[serde(default)]`).
    #[derive(Default)]
    struct Input {
        sent: SentFacts,
        receipts: Option<Vec<ReceiptFacts>>,
    }
    pecdesk_core::from_json_struct!(Input, "struct Input", Input::default(), {
        sent: "sent" = true,
        receipts: "receipts" = false,
    });
    let input: Input = from_json(input_json).map_err(|e| {
        format!("dati di riconciliazione non validi / invalid reconciliation input: {e}")
    })?;
    let out = reconcile::reconcile_matching(&input.sent, &input.receipts.unwrap_or_default());
    serde_json::to_string(&out)
        .map_err(|e| format!("esito non serializzabile / result not serialisable: {e}"))
}

/// JSON text into `T`, through the core's own reader (`pecdesk_core::json`), which accepts
/// and refuses what `serde_json` does with the same messages but links none of its
/// per-type deserializers or float formatting into the add-ins' module.
fn from_json<T: pecdesk_core::json::FromJson>(json: &str) -> Result<T, pecdesk_core::json::Error> {
    pecdesk_core::json::from_slice(json.as_bytes())
}

pub fn inspect_json(bytes: &[u8], trust_anchors_pem: Option<&str>) -> Result<String, String> {
    let signature = match trust_anchors_pem {
        None => None,
        Some(text) => {
            let mut trust = TrustAnchors::builtin();
            if text.trim_start().starts_with('{') {
                trust
                    .add_provider_list(text.as_bytes(), None)
                    .map_err(|e| {
                        format!("elenco dei gestori non valido / invalid provider list: {e}")
                    })?;
            } else if !text.trim().is_empty() {
                let bundle = TrustAnchors::from_pem(text.as_bytes()).map_err(|e| {
                    format!("certificati delle CA non validi / invalid trust anchors: {e}")
                })?;
                trust.certificates.extend(bundle.certificates);
            }
            Some(trust)
        }
    };
    let summary: Summary = pecdesk_core::inspect(bytes, &InspectOptions { signature }).summary;
    serde_json::to_string(&summary)
        .map_err(|e| format!("riepilogo non serializzabile / summary not serialisable: {e}"))
}

/// [`allowed_actions`] without the JavaScript types (native tests call it).
pub fn allowed_actions_from_json(
    activity_json: &str,
    person_json: &str,
) -> Result<Vec<String>, String> {
    let activity: ActivityFacts = from_json(activity_json)
        .map_err(|e| format!("attività non valida / invalid activity: {e}"))?;
    let person: Person =
        from_json(person_json).map_err(|e| format!("persona non valida / invalid person: {e}"))?;
    Ok(authz::allowed_actions(&person, &activity)
        .into_iter()
        .map(|a| authz::action_name(a).to_owned())
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const WORKER: &str = r#"{"user_id": "w", "mailboxes": {"mb": ["MAIL_ACTIVITY_READER", "MAIL_ACTIVITY_WRITER"]}}"#;

    #[test]
    fn allowed_actions_use_the_companions_wire_names() {
        let activity = r#"{"mailbox_id": "mb", "status": "approved", "flow": "approval",
            "approver_id": "a", "draft_version": 2, "approved_draft_version": 2}"#;
        assert_eq!(
            allowed_actions_from_json(activity, WORKER).unwrap(),
            ["in_progress", "done", "send"]
        );
    }

    #[test]
    fn facts_name_who_wrote_the_draft_and_who_asked_for_approval() {
        let approver = r#"{"user_id": "a"}"#;
        let waiting = |more: &str| {
            format!(
                r#"{{"mailbox_id": "mb", "status": "awaiting_approval", "flow": "approval",
                "approver_id": "a", "draft_version": 2 {more}}}"#
            )
        };
        assert_eq!(
            allowed_actions_from_json(&waiting(""), approver).unwrap(),
            ["in_progress", "approved", "changes_requested"]
        );
        assert_eq!(
            allowed_actions_from_json(&waiting(r#", "draft_authors": ["w", "a"]"#), approver)
                .unwrap(),
            ["in_progress", "changes_requested"]
        );
        assert_eq!(
            allowed_actions_from_json(&waiting(r#", "approval_requested_by": "a""#), approver)
                .unwrap(),
            ["in_progress"]
        );
    }

    #[test]
    fn reconcile_takes_summaries_with_ids_and_answers_per_recipient() {
        let input = serde_json::json!({
            "sent": {"message_id": "<c-1@client.test>", "to": ["a@pec.a.test"], "cc": ["b@pec.b.test"]},
            "receipts": [
                {"id": "r2", "kind": "avvenuta-consegna", "receipt_type": "sintetica",
                 "identificativo": "id-1", "original_message_id": null,
                 "recipient": "b@pec.b.test", "issued_at": "2026-11-16T11:20:05+01:00"},
                {"id": "r1", "kind": "accettazione", "identificativo": "id-1",
                 "original_message_id": "c-1@client.test", "issued_at": "2026-11-16T11:20:00+01:00"},
                {"id": "x", "kind": "avvenuta-consegna", "identificativo": "id-9",
                 "original_message_id": "other@client.test", "recipient": "a@pec.a.test"}
            ]
        });
        let out: serde_json::Value =
            serde_json::from_str(&reconcile_json(&input.to_string()).unwrap()).unwrap();
        assert_eq!(out["accepted"], true);
        assert_eq!(
            out["delivery"][0]["state"], "pending",
            "another message's receipt: {out}"
        );
        assert_eq!(out["delivery"][1]["state"], "delivered");
        assert_eq!(out["delivery"][1]["field"], "cc");
        assert_eq!(out["delivery"][1]["receipt_type"], "sintetica");
        // Receipts absent or null: nothing arrived yet.
        for receipts in ["", r#", "receipts": null"#] {
            let input = format!(
                r#"{{"sent": {{"message_id": "<c-1@client.test>", "to": ["a@pec.a.test"]}}{receipts}}}"#
            );
            let out: serde_json::Value =
                serde_json::from_str(&reconcile_json(&input).unwrap()).unwrap();
            assert!(out["accepted"].is_null(), "{out}");
            assert_eq!(out["delivery"][0]["state"], "pending", "{out}");
        }
        for bad in ["{}", "[1]", "{\"sent\": {}, \"receipts\": [{}]}"] {
            let err = reconcile_json(bad).unwrap_err();
            assert!(
                err.starts_with("dati di riconciliazione non validi"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_missing_required_field_is_refused() {
        let activity = r#"{"mailbox_id": "mb", "flow": "standard"}"#;
        let err = allowed_actions_from_json(activity, WORKER).unwrap_err();
        assert!(err.contains("status"), "{err}");
        let err = allowed_actions_from_json(r#"{"mailbox_id": "mb", "status": "open"}"#, "{}")
            .unwrap_err();
        assert!(err.contains("user_id"), "{err}");
    }

    #[test]
    fn inspect_checks_the_signature_only_when_a_bundle_is_given() {
        let raw = b"Subject: ciao\r\n\r\ncorpo\r\n";
        let unchecked: serde_json::Value =
            serde_json::from_str(&inspect_json(raw, None).unwrap()).unwrap();
        assert_eq!(unchecked["kind"], "not-pec");
        assert!(unchecked["signature"].is_null());
        let checked: serde_json::Value =
            serde_json::from_str(&inspect_json(raw, Some("")).unwrap()).unwrap();
        assert_eq!(checked["signature"]["status"], "missing");
        let err = inspect_json(raw, Some("no certificate here")).unwrap_err();
        assert!(err.starts_with("certificati delle CA non validi / invalid trust anchors"));
        let err = inspect_json(raw, Some("{\"format\": \"other\"}")).unwrap_err();
        assert!(err.starts_with("elenco dei gestori non valido / invalid provider list"));
    }

    const SIGNED: &[u8] = include_bytes!("../../tests/fixtures/signature/signed-lf.eml");
    const TEST_CA: &str = include_str!("../../tests/fixtures/signature/test-ca.pem");

    fn signature(raw: &[u8], trust: &str) -> serde_json::Value {
        let summary: serde_json::Value =
            serde_json::from_str(&inspect_json(raw, Some(trust)).unwrap()).unwrap();
        summary["signature"].clone()
    }

    #[test]
    fn a_pem_bundle_completes_chains_but_only_a_provider_list_makes_a_provider() {
        // The built-in list does not know the synthetic provider.
        assert_eq!(signature(SIGNED, "")["reason"], "no-trust-anchor");
        // Its CA as a PEM bundle: the chain holds, the signer is no PEC provider.
        let bundle = signature(SIGNED, TEST_CA);
        assert_eq!(bundle["status"], "untrusted");
        assert_eq!(bundle["reason"], "not-a-pec-provider");
        // A provider list naming it (PEM armour allowed inside the JSON string).
        let list = serde_json::json!({
            "format": "pecdesk-pec-providers/1",
            "providers": [{
                "name": "Gestore di Prova S.p.A.",
                "organisations": ["Gestore di Prova S.p.A."],
                "domains": ["pec.example.invalid"],
                "certificates": [TEST_CA],
            }],
        })
        .to_string();
        let valid = signature(SIGNED, &list);
        assert_eq!(valid["status"], "valid", "{valid}");
        assert_eq!(valid["provider"], "Gestore di Prova S.p.A.");
    }

    const P7M: &[u8] = include_bytes!("../../tests/fixtures/cades/documento.pdf.p7m");

    #[test]
    fn a_signed_document_is_never_valid_without_a_qualified_list() {
        let doc: serde_json::Value =
            serde_json::from_str(&signed_document_json(P7M, None, Some("atto.pdf.p7m")).unwrap())
                .unwrap();
        assert_eq!(doc["status"], "integrity-only");
        assert_eq!(doc["name"], "atto.pdf");
        assert_eq!(doc["signers"][0]["integrity"], "ok");
        assert_eq!(doc["signers"][0]["trust"], "not-checked");
        let err = signed_document_json(b"ciao", None, None).unwrap_err();
        assert!(err.contains(" / not a signed document"), "{err}");
        let err = signed_document_json(P7M, Some("{}"), None).unwrap_err();
        assert!(
            err.starts_with("elenco delle CA qualificate illeggibile"),
            "{err}"
        );
    }

    #[test]
    fn the_original_of_a_plain_message_is_the_message_itself() {
        let raw = b"From: A <a@b.test>\r\nSubject: ciao\r\n\r\ncorpo\r\n";
        let view: serde_json::Value = serde_json::from_str(&original_json(raw).unwrap()).unwrap();
        assert_eq!(view["source"], "message");
        assert_eq!(view["from_name"], "A");
        assert_eq!(view["text"], "corpo\r\n");
        assert_eq!(view["attachments"], serde_json::json!([]));
        let err = original_attachment_bytes(raw, 0).unwrap_err();
        assert!(
            err.starts_with("allegato 0 assente / no attachment 0"),
            "{err}"
        );
        assert!(original_json(b"").is_err());
    }
}
