//! SLA on the legal clock (issue 16): each mailbox's working calendar and the due dates
//! counted on it (the arithmetic is `pecdesk_core::sla`).
//!
//! A rule's `due_in_hours` / `due_in_days` count from the certified time the PEC was
//! delivered, not from when the companion read it or someone opened it: the daticert
//! `data` of the transport envelope (the time the provider certified, signed with the
//! message). A message without a readable daticert (an ordinary e-mail in the box) counts
//! from its receipt by the companion; which one was used is recorded as the `due_basis` in
//! the activity's `activity.create` audit entry.

use chrono::DateTime;
use pecdesk_core::authz::Operation;
use pecdesk_core::sla::{self, Calendar, SlaSettings};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::store::{Store, grants, mailboxes, ms_to_rfc3339, users};

/// A certified time later than the receipt by more than this is not believed (a clock
/// that is off, or a forged date): the receipt counts instead.
const CERTIFIED_SKEW_MS: i64 = 15 * 60_000;

/// Where a due date was counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DueBasis {
    /// The certified delivery time (daticert `data`).
    Certified,
    /// The time the companion received the message (no usable daticert).
    Received,
}

impl DueBasis {
    /// The word in audit details.
    pub fn as_str(self) -> &'static str {
        match self {
            DueBasis::Certified => "certified",
            DueBasis::Received => "received",
        }
    }
}

/// The certified time of an inspected message (daticert `data`), in ms.
pub fn certified_at(summary: &pecdesk_core::Summary) -> Option<i64> {
    let at = summary.issued_at.as_deref()?;
    DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// The instant a due date counts from: the certified time when there is one that is not
/// after the receipt (beyond [`CERTIFIED_SKEW_MS`]), else the receipt.
pub fn due_from(certified: Option<i64>, received_at: i64) -> (i64, DueBasis) {
    match certified {
        Some(at) if at <= received_at.saturating_add(CERTIFIED_SKEW_MS) => {
            (at, DueBasis::Certified)
        }
        _ => (received_at, DueBasis::Received),
    }
}

/// The calendar of stored settings (`None`: the default). Stored settings were checked on
/// their way in; ones that no longer read are logged and the default counts.
pub fn calendar_of_stored(mailbox_id: &str, stored: Option<&str>) -> Calendar {
    let Some(json) = stored else {
        return Calendar::default();
    };
    match serde_json::from_str::<SlaSettings>(json).map(|s| s.calendar()) {
        Ok(Ok(cal)) => cal,
        _ => {
            tracing::warn!(mailbox.id = %mailbox_id, "stored SLA calendar does not read: the default counts");
            Calendar::default()
        }
    }
}

/// A mailbox's calendar.
pub async fn calendar(store: &Store, mailbox_id: &str) -> Result<Calendar> {
    let stored = mailboxes::sla_calendar(store, mailbox_id).await?;
    Ok(calendar_of_stored(mailbox_id, stored.as_deref()))
}

/// Checks settings from a request; answers the calendar and its JSON in normal form.
pub fn check_settings(s: &SlaSettings) -> Result<(Calendar, String)> {
    let cal = s
        .calendar()
        .map_err(|e| Error::invalid(format!("`sla.{}`: {} / {}", e.field, e.it, e.en)))?;
    let json = serde_json::to_string(&cal.settings()).map_err(|e| Error::Internal(e.into()))?;
    Ok((cal, json))
}

/// Query of `GET /api/v1/mailboxes/{id}/sla/due`: from when, and how many working hours or
/// working days.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct DueQuery {
    /// RFC 3339 (e.g. the message's certified time, `2026-04-03T17:55:00+02:00`).
    pub from: String,
    /// Working hours (0..=8784).
    pub hours: Option<u32>,
    /// Working days (0..=366).
    pub days: Option<u32>,
}

/// Answer of `GET /api/v1/mailboxes/{id}/sla/due`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DueResponse {
    /// The start, as read.
    pub from: String,
    /// The due date (UTC, RFC 3339).
    pub due_at: String,
    /// The due date in the office's time, with its offset (`2026-04-08T18:00:00+02:00`).
    pub due_at_local: String,
    /// Working hours between `from` and `due_at`.
    pub working_hours: f64,
    /// Whether `from` falls in office hours.
    pub from_is_working_time: bool,
    /// The calendar counted on.
    #[schema(value_type = Object)]
    pub calendar: SlaSettings,
}

/// The due date `hours` working hours or `days` working days after `from` on the mailbox's
/// calendar, for any reader of the mailbox (`SeeMailbox`; another organisation's mailbox
/// is missing: 404).
pub async fn due(
    store: &Store,
    who: &Principal,
    mailbox_id: &str,
    q: &DueQuery,
) -> Result<DueResponse> {
    if !users::mailbox_in_org(store, &who.org_id, mailbox_id).await? {
        return Err(Error::NotFound);
    }
    let person = grants::person(store, who).await?;
    authorize(&person, Operation::SeeMailbox { mailbox_id })?;
    let from = DateTime::parse_from_rfc3339(q.from.trim())
        .map_err(|_| {
            Error::invalid(
                "`from`: data e ora RFC 3339, ad esempio 2026-04-03T17:55:00+02:00 / `from`: an \
                 RFC 3339 date and time, e.g. 2026-04-03T17:55:00+02:00",
            )
        })?
        .timestamp_millis();
    let limit = pecdesk_core::rules::limits::DUE_HOURS;
    let cal = calendar(store, mailbox_id).await?;
    let due = match (q.hours, q.days) {
        (Some(h), None) if h <= limit => sla::add_working_hours(from, h, &cal),
        (None, Some(d)) if d <= limit / 24 => sla::add_working_days(from, d, &cal),
        _ => {
            let days = limit / 24;
            return Err(Error::invalid(format!(
                "indicare `hours` (0–{limit}) oppure `days` (0–{days}), non entrambi / give \
                 `hours` (0–{limit}) or `days` (0–{days}), not both"
            )));
        }
    };
    if due == sla::NEVER {
        return Err(Error::invalid(
            "scadenza fuori dal calendario / due date beyond the calendar",
        ));
    }
    let offset = cal.zone().offset_minutes_at(due);
    let local = chrono::FixedOffset::east_opt(i32::try_from(offset * 60).unwrap_or(0))
        .and_then(|o| DateTime::from_timestamp_millis(due).map(|d| d.with_timezone(&o)))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
        .unwrap_or_else(|| ms_to_rfc3339(due));
    Ok(DueResponse {
        from: ms_to_rfc3339(from),
        due_at: ms_to_rfc3339(due),
        due_at_local: local,
        working_hours: sla::working_ms_between(from, due, &cal) as f64 / 3_600_000.0,
        from_is_working_time: sla::is_working_time(from, &cal),
        calendar: cal.settings(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_certified_time_counts_unless_it_is_after_the_receipt() {
        let received = 1_775_228_400_000;
        assert_eq!(
            due_from(Some(received - 60_000), received),
            (received - 60_000, DueBasis::Certified)
        );
        assert_eq!(
            due_from(Some(received + 60_000), received),
            (received + 60_000, DueBasis::Certified),
            "a clock a minute off is believed"
        );
        assert_eq!(
            due_from(Some(received + 86_400_000), received),
            (received, DueBasis::Received)
        );
        assert_eq!(due_from(None, received), (received, DueBasis::Received));
    }

    #[test]
    fn stored_settings_that_do_not_read_give_the_default() {
        assert_eq!(calendar_of_stored("m", Some("{")), Calendar::default());
        assert_eq!(calendar_of_stored("m", None), Calendar::default());
        let milano = r#"{"patron_day": {"month": 12, "day": 7}}"#;
        assert!(calendar_of_stored("m", Some(milano)).patron().is_some());
    }
}
