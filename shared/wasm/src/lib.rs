//! # pecdesk-wasm
//!
//! The WebAssembly facade of [`pecdesk_core`] for the Outlook and Thunderbird add-ins
//! (built by `scripts/build-wasm`, `wasm-bindgen --target web` and `--target nodejs`).
//! It only converts types at the JavaScript boundary: bytes and strings in, JSON text or
//! string arrays out. Every decision is the core's.
//!
//! Exports:
//! - [`inspect`]: the summary of `pecdesk inspect --json`, signature status included;
//! - [`allowed_actions`]: what a person may do now on an activity.
//!
//! Values cross the boundary as JSON text (no `serde-wasm-bindgen`): no extra dependency,
//! and the summary keeps the key order of `PEC.md` and `null` for absent fields exactly as
//! the CLI prints them. Errors become a thrown JavaScript `Error` whose message reads
//! "italiano / English".
//!
//! No clock is read here either: the core judges certificate validity at the message's
//! own date (`signingTime`, else `Date`), so no "now" has to be passed in.

use pecdesk_core::authz::{self, ActivityFacts, Person};
use pecdesk_core::signature::TrustAnchors;
use pecdesk_core::{InspectOptions, Summary};
use wasm_bindgen::prelude::*;

/// Reads one raw message (RFC 5322 bytes, LF or CRLF) and returns its summary as JSON text,
/// the object `pecdesk inspect --json` prints (Italian `problems`).
///
/// `trust_anchors_pem` decides the signature check:
/// - `undefined` / `null`: not checked, `signature` is `null` (the CLI's `--no-signature`);
/// - a PEM bundle of the PEC providers' CA certificates: checked against them; `status` is
///   `valid` only when a configured anchor vouches for the signer (throws when the bundle
///   holds no readable certificate, as the CLI stops on a bad `--ca-bundle`);
/// - an empty (or blank) string: checked against no anchor (the CLI without `--ca-bundle`),
///   so a correct signature is at best `untrusted`.
///
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

/// [`inspect`] without the JavaScript types (native tests call it).
pub fn inspect_json(bytes: &[u8], trust_anchors_pem: Option<&str>) -> Result<String, String> {
    let signature = match trust_anchors_pem {
        None => None,
        Some(pem) if pem.trim().is_empty() => Some(TrustAnchors::default()),
        Some(pem) => Some(TrustAnchors::from_pem(pem.as_bytes()).map_err(|e| {
            format!("certificati delle CA non validi / invalid trust anchors: {e}")
        })?),
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
    let activity: ActivityFacts = serde_json::from_str(activity_json)
        .map_err(|e| format!("attività non valida / invalid activity: {e}"))?;
    let person: Person = serde_json::from_str(person_json)
        .map_err(|e| format!("persona non valida / invalid person: {e}"))?;
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
    }
}
