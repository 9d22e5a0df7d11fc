//! Events, made from the audit log: the log is their only source (nothing in the domain
//! code emits anything). Each entry of an organisation's chain that means something to an
//! integration becomes an event whose id is `<organisation id>:<seq>`, stable across
//! replicas and restarts, so receivers de-duplicate by it. The one entry that means two
//! things (an activity created already assigned) gives a second event `<org>:<seq>:assigned`.
//!
//! Payloads carry ids only (no subject, address or body): a receiver reads the rest through
//! the authorised API.

use serde::Serialize;
use serde_json::{Value, json};

use crate::store::ms_to_rfc3339;
use crate::store::webhooks::SourceRow;

/// Declares [`EventType`] with its public names, in one table.
macro_rules! event_types {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// The public event types (stable names; docs/API.md lists what each means).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
        pub enum EventType {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl EventType {
            /// Every type a subscription may ask for.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            /// The public name (`message.received`, ...).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)*
                }
            }

            /// Parses a public name.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|t| t.as_str() == s)
            }
        }
    };
}

event_types! {
    /// A PEC (or a plain message) arrived in a mailbox (`message.import` of an incoming
    /// message that is not a receipt).
    MessageReceived => "message.received",
    /// A message was routed, by a rule or by a Smistatore (`message.route`).
    MessageRouted => "message.routed",
    /// An activity was created (`activity.create`).
    ActivityCreated => "activity.created",
    /// An activity got an assignee or a team: created with one, or either edited
    /// (`activity.create` / `activity.update`).
    ActivityAssigned => "activity.assigned",
    /// An activity was closed: done, sent, or cancelled (`activity.transition` or
    /// `activity.send` to `done` / `cancelled`).
    ActivityClosed => "activity.closed",
    /// Approval of a draft was requested (`activity.approval_request`).
    ApprovalRequested => "approval.requested",
    /// The approver decided (`activity.approval`; `data.decision` says which).
    ApprovalDecided => "approval.decided",
    /// The provider refused or could not deliver a sent PEC: a non-accettazione, an
    /// errore-consegna or a preavviso-errore-consegna was imported (`message.import` of
    /// that receipt kind).
    ReceiptFailed => "receipt.failed",
    /// An alarm fired (`alarm.fire`).
    AlarmFired => "alarm.fired",
}

/// Receipt kinds that tell a send failed.
pub const FAILED_RECEIPT_KINDS: [&str; 3] = [
    "non-accettazione",
    "errore-consegna",
    "preavviso-errore-consegna",
];

/// Kinds that are messages, not receipts (`posta-certificata`, `anomalia`, a plain one).
const MESSAGE_KINDS: [&str; 3] = ["posta-certificata", "anomalia", "not-pec"];

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EventObject {
    /// `message`, `activity`, or what the audit entry names (an alarm's object).
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// The generic payload of a webhook delivery (the body of a `generic` subscription; Slack
/// and Teams bodies are made from it). Ids only.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// `<organisation id>:<seq>` (`...:assigned` for the second event of one entry), or
    /// `test:<uuid>` for a test send: the same event always has the same id, so a receiver
    /// de-duplicates by it (also sent as `X-PecDesk-Delivery`).
    pub id: String,
    /// The event type (also sent as `X-PecDesk-Event`); `webhook.test` for a test send.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the change was recorded (RFC 3339, UTC).
    pub occurred_at: String,
    /// The organisation.
    pub org_id: String,
    /// What it is about.
    pub object: EventObject,
    /// Ids and names of states only, per type (docs/API.md).
    #[schema(value_type = Object)]
    pub data: Value,
}

fn details(row: &SourceRow) -> Value {
    serde_json::from_str(&row.details).unwrap_or(Value::Null)
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The events of one audit entry of organisation `org_id` (none for most entries).
pub fn of_entry(org_id: &str, row: &SourceRow) -> Vec<Event> {
    let d = details(row);
    let base_id = format!("{org_id}:{}", row.seq);
    let mailbox = row.mailbox_id.clone();
    let mut out: Vec<(String, EventType, Value)> = Vec::new();
    match row.action.as_str() {
        "message.import" => {
            let kind = row.message_kind.as_deref().unwrap_or("");
            if FAILED_RECEIPT_KINDS.contains(&kind) {
                out.push((
                    base_id,
                    EventType::ReceiptFailed,
                    json!({"mailbox_id": mailbox, "kind": kind,
                           "sent_message_id": row.sent_message_id}),
                ));
            } else if MESSAGE_KINDS.contains(&kind)
                && row.message_direction.as_deref() == Some("in")
            {
                out.push((
                    base_id,
                    EventType::MessageReceived,
                    json!({"mailbox_id": mailbox, "kind": kind}),
                ));
            }
        }
        "message.route" => out.push((
            base_id,
            EventType::MessageRouted,
            json!({"mailbox_id": mailbox, "rule_id": d.get("rule_id"),
                   "team_id": d.get("team_id"), "user_id": d.get("user_id"),
                   "activity_id": d.get("activity_id")}),
        )),
        "activity.create" => {
            let assignee = d.get("assignee_id").cloned().unwrap_or(Value::Null);
            let team = d.get("team_id").cloned().unwrap_or(Value::Null);
            let assigned = !assignee.is_null() || !team.is_null();
            out.push((
                base_id.clone(),
                EventType::ActivityCreated,
                json!({"mailbox_id": mailbox, "message_ids": d.get("message_ids"),
                       "assignee_id": assignee, "team_id": team,
                       "rule_id": d.get("rule_id"), "campaign_id": d.get("campaign_id")}),
            ));
            if assigned {
                out.push((
                    format!("{base_id}:assigned"),
                    EventType::ActivityAssigned,
                    json!({"mailbox_id": mailbox, "assignee_id": assignee, "team_id": team}),
                ));
            }
        }
        "activity.update" => {
            let fields: Vec<&str> = d
                .get("fields")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if fields
                .iter()
                .any(|f| *f == "assignee_id" || *f == "team_id")
            {
                out.push((
                    base_id,
                    EventType::ActivityAssigned,
                    json!({"mailbox_id": mailbox, "fields": fields,
                           "assignee_id": row.assignee_id, "team_id": row.team_id}),
                ));
            }
        }
        "activity.transition" | "activity.send" => {
            if let Some(to @ ("done" | "cancelled")) = str_of(&d, "to") {
                out.push((
                    base_id,
                    EventType::ActivityClosed,
                    json!({"mailbox_id": mailbox, "from": str_of(&d, "from"), "to": to,
                           "sent": row.action == "activity.send",
                           "outbox_id": d.get("outbox_id")}),
                ));
            }
        }
        "activity.approval_request" => out.push((
            base_id,
            EventType::ApprovalRequested,
            json!({"mailbox_id": mailbox, "approver_id": row.approver_id,
                   "draft_version": d.get("draft_version")}),
        )),
        "activity.approval" => out.push((
            base_id,
            EventType::ApprovalDecided,
            json!({"mailbox_id": mailbox, "decision": str_of(&d, "to"),
                   "approver_id": row.approver_id,
                   "draft_version": d.get("draft_version")}),
        )),
        "alarm.fire" => out.push((base_id, EventType::AlarmFired, d.clone())),
        _ => {}
    }
    out.into_iter()
        .map(|(id, kind, data)| Event {
            id,
            kind: kind.as_str().to_owned(),
            occurred_at: ms_to_rfc3339(row.at),
            org_id: org_id.to_owned(),
            object: EventObject {
                kind: row.object_type.clone(),
                id: row.object_id.clone(),
            },
            data,
        })
        .collect()
}

/// The event of the live stream for one entry: the first webhook event it makes, else
/// `message.changed` / `activity.changed` for any other change of a message or activity
/// (taken, trashed, commented, edited ...), so a desk never shows stale work; else none.
pub fn stream_event(org_id: &str, row: &SourceRow) -> Option<(String, String, EventObject)> {
    if let Some(e) = of_entry(org_id, row).into_iter().next() {
        return Some((e.id, e.kind, e.object));
    }
    let d = details(row);
    let (kind, object_type, object_id) = match row.object_type.as_str() {
        "message" => ("message.changed", "message", row.object_id.clone()),
        "activity" => ("activity.changed", "activity", row.object_id.clone()),
        // A comment is a change of its activity.
        "comment" => (
            "activity.changed",
            "activity",
            str_of(&d, "activity_id")?.to_owned(),
        ),
        _ => return None,
    };
    Some((
        format!("{org_id}:{}", row.seq),
        kind.to_owned(),
        EventObject {
            kind: object_type.to_owned(),
            id: object_id,
        },
    ))
}

/// The seq an event id names (`<org>:<seq>` or `<org>:<seq>:<suffix>`), when it is one of
/// `org_id`'s.
pub fn seq_of(org_id: &str, event_id: &str) -> Option<i64> {
    let rest = event_id.strip_prefix(org_id)?.strip_prefix(':')?;
    rest.split(':').next()?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn row(action: &str, object_type: &str, details: Value) -> SourceRow {
        SourceRow {
            seq: 7,
            at: 0,
            action: action.into(),
            object_type: object_type.into(),
            object_id: "obj".into(),
            details: details.to_string(),
            message_kind: None,
            message_direction: None,
            mailbox_id: Some("mb".into()),
            assignee_id: None,
            team_id: None,
            approver_id: None,
            sent_message_id: None,
        }
    }

    fn types(r: &SourceRow) -> Vec<String> {
        of_entry("org", r).into_iter().map(|e| e.kind).collect()
    }

    #[test]
    fn imports_are_received_messages_or_failed_receipts_and_nothing_else() {
        let mut r = row("message.import", "message", json!({}));
        r.message_kind = Some("posta-certificata".into());
        r.message_direction = Some("in".into());
        assert_eq!(types(&r), ["message.received"]);
        r.message_direction = Some("out".into());
        assert!(
            types(&r).is_empty(),
            "a copy of a sent message is no arrival"
        );
        r.message_kind = Some("accettazione".into());
        r.message_direction = Some("in".into());
        assert!(types(&r).is_empty(), "a good receipt is no event");
        for k in FAILED_RECEIPT_KINDS {
            r.message_kind = Some(k.into());
            assert_eq!(types(&r), ["receipt.failed"], "{k}");
        }
    }

    #[test]
    fn an_activity_created_assigned_makes_two_events_with_distinct_ids() {
        let r = row(
            "activity.create",
            "activity",
            json!({"assignee_id": "u1", "team_id": null}),
        );
        let evs = of_entry("org", &r);
        let ids: Vec<&str> = evs.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["org:7", "org:7:assigned"]);
        assert_eq!(evs[1].kind, "activity.assigned");
        let unassigned = row("activity.create", "activity", json!({"assignee_id": null}));
        assert_eq!(types(&unassigned), ["activity.created"]);
    }

    #[test]
    fn only_closing_moves_and_assignee_edits_count() {
        let close = row("activity.transition", "activity", json!({"to": "done"}));
        assert_eq!(types(&close), ["activity.closed"]);
        let cancel = row(
            "activity.transition",
            "activity",
            json!({"to": "cancelled"}),
        );
        assert_eq!(types(&cancel), ["activity.closed"]);
        let start = row(
            "activity.transition",
            "activity",
            json!({"to": "in_progress"}),
        );
        assert!(types(&start).is_empty());
        let sent = row("activity.send", "activity", json!({"to": "done"}));
        assert_eq!(types(&sent), ["activity.closed"]);
        let title = row("activity.update", "activity", json!({"fields": ["title"]}));
        assert!(types(&title).is_empty());
        let team = row(
            "activity.update",
            "activity",
            json!({"fields": ["team_id"]}),
        );
        assert_eq!(types(&team), ["activity.assigned"]);
        assert_eq!(
            types(&row("alarm.fire", "activity", json!({"alarm_id": "a"}))),
            ["alarm.fired"]
        );
    }

    #[test]
    fn the_stream_tells_of_any_change_of_a_message_or_activity() {
        let take = row("message.take", "message", json!({"mailbox_id": "mb"}));
        let (id, kind, obj) = stream_event("org", &take).expect("event");
        assert_eq!((id.as_str(), kind.as_str()), ("org:7", "message.changed"));
        assert_eq!(obj.id, "obj");
        let comment = row("comment.create", "comment", json!({"activity_id": "a1"}));
        let (_, kind, obj) = stream_event("org", &comment).expect("event");
        assert_eq!((kind.as_str(), obj.id.as_str()), ("activity.changed", "a1"));
        assert!(stream_event("org", &row("rule.create", "rule", json!({}))).is_none());
    }

    #[test]
    fn event_ids_give_back_their_seq_only_for_their_organisation() {
        assert_eq!(seq_of("org", "org:12"), Some(12));
        assert_eq!(seq_of("org", "org:12:assigned"), Some(12));
        assert_eq!(seq_of("org", "other:12"), None);
        assert_eq!(seq_of("org", "org:x"), None);
    }
}
