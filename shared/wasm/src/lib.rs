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

use pecdesk_core::activity::{self, Action, Actor, Context, Flow, Status};
use pecdesk_core::signature::TrustAnchors;
use pecdesk_core::{InspectOptions, Summary};
use serde::Deserialize;
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
/// then `send`.
///
/// `activity_json`: `{"status", "flow", "has_draft", "has_approver", "draft_approved"}`;
/// `person_json`: `{"can_work", "is_manager", "is_approver"}`. Every field is required
/// (a misspelt one throws rather than silently denying); other fields are ignored.
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

/// The facts about an activity that [`allowed_actions`] reads.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct ActivityFacts {
    /// Current status, wire name (`open`, `in_progress`, ...).
    pub status: Status,
    /// `standard` or `approval`.
    pub flow: Flow,
    /// A draft exists.
    pub has_draft: bool,
    /// An approver is designated.
    pub has_approver: bool,
    /// The current draft version is the approved one.
    pub draft_approved: bool,
}

/// Who is asking, as far as the activity flow cares.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PersonFacts {
    /// May work on the activity (mailbox writer, assignee or team member).
    pub can_work: bool,
    /// Manages activities on the mailbox.
    pub is_manager: bool,
    /// Is the activity's designated approver.
    pub is_approver: bool,
}

/// [`allowed_actions`] without the JavaScript types (native tests call it).
pub fn allowed_actions_from_json(
    activity_json: &str,
    person_json: &str,
) -> Result<Vec<String>, String> {
    let activity: ActivityFacts = serde_json::from_str(activity_json)
        .map_err(|e| format!("attività non valida / invalid activity: {e}"))?;
    let person: PersonFacts = serde_json::from_str(person_json)
        .map_err(|e| format!("persona non valida / invalid person: {e}"))?;
    Ok(actions_for(&activity, &person))
}

/// The one call into the core's authorization. Kept alone so that it can be re-pointed
/// when the core's authorization API changes; the wire names are the companion's
/// (`domain/activities.rs`, `detail`).
pub fn actions_for(activity: &ActivityFacts, person: &PersonFacts) -> Vec<String> {
    let ctx = Context {
        flow: activity.flow,
        actor: Actor {
            can_work: person.can_work,
            is_manager: person.is_manager,
            is_approver: person.is_approver,
        },
        has_draft: activity.has_draft,
        has_approver: activity.has_approver,
        draft_approved: activity.draft_approved,
    };
    activity::allowed_actions(activity.status, &ctx)
        .into_iter()
        .map(|action| match action {
            Action::Transition(status) => status.as_str().to_owned(),
            Action::Send => "send".to_owned(),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const WORKER: &str = r#"{"can_work": true, "is_manager": false, "is_approver": false}"#;

    #[test]
    fn allowed_actions_use_the_companions_wire_names() {
        let activity = r#"{"status": "approved", "flow": "approval", "has_draft": true,
            "has_approver": true, "draft_approved": true}"#;
        assert_eq!(
            allowed_actions_from_json(activity, WORKER).unwrap(),
            ["in_progress", "done", "send"]
        );
    }

    #[test]
    fn a_missing_field_is_refused_rather_than_read_as_false() {
        let activity = r#"{"status": "open", "flow": "standard", "has_approver": false,
            "draft_approved": false}"#;
        let err = allowed_actions_from_json(activity, WORKER).unwrap_err();
        assert!(err.contains("has_draft"), "{err}");
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
