//! Statistics (`GET /api/v1/stats`): per day, operator, mailbox or team, over the mailboxes
//! the caller manages (core: `Operation::ReadStats`), from the messages and activities
//! tables:
//!
//! - `received`: incoming PEC and mail (not receipts) received in the range;
//! - `taken`, `worked`: messages taken in charge / set worked in the range;
//! - `take_median_s`, `take_p90_s`: seconds from receipt to taking in charge, of the
//!   messages taken in the range; `close_median_s`, `close_p90_s`: from receipt to worked,
//!   of the messages worked in the range (nearest-rank percentiles: the median of an even
//!   count is the lower middle value);
//! - `open`, `overdue_now`: activities open now (workload), and those past their due date;
//! - `overdue` (per day): activities past their due date and still open at the end of the
//!   day (UTC).
//!
//! Groups: by day (UTC date of each event), by operator (routed-to user for received, who
//! took / worked, the assignee for activities), by mailbox, by team (routed-to team, the
//! activity's team). `-` is the group of events with nobody (or no team).

use std::collections::BTreeMap;

use pecdesk_core::authz::{Operation, Person};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::store::stats::{self as store_stats, Event};
use crate::store::{Store, users};

/// How the statistics are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// UTC date of each event.
    Day,
    /// The user.
    Operator,
    /// The mailbox.
    Mailbox,
    /// The team.
    Team,
}

/// One group's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatsRow {
    /// The group: a date (`2026-11-02`), a user, mailbox or team id, `-` for none, `totale`
    /// for the total.
    pub key: String,
    /// The user's or team's name, the mailbox's address (none for days).
    pub label: Option<String>,
    /// Messages received.
    pub received: u64,
    /// Messages taken in charge.
    pub taken: u64,
    /// Messages set worked.
    pub worked: u64,
    /// Median seconds from receipt to taking in charge.
    pub take_median_s: Option<i64>,
    /// 90th percentile of the same.
    pub take_p90_s: Option<i64>,
    /// Median seconds from receipt to worked.
    pub close_median_s: Option<i64>,
    /// 90th percentile of the same.
    pub close_p90_s: Option<i64>,
    /// Activities open now (workload); none when grouped by day.
    pub open: Option<u64>,
    /// Activities open now past their due date; none when grouped by day.
    pub overdue_now: Option<u64>,
    /// Activities overdue at the end of the day (grouped by day only).
    pub overdue: Option<u64>,
}

/// Overdue activities at the end of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OverdueDay {
    /// The date (UTC).
    pub day: String,
    /// Activities past their due date and open at the end of it.
    pub overdue: u64,
}

/// The statistics.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Range start (ms, inclusive).
    pub from: i64,
    /// Range end (ms, exclusive).
    pub to: i64,
    /// The grouping.
    pub group_by: GroupBy,
    /// The mailboxes counted.
    pub mailboxes: Vec<String>,
    /// One row per group, sorted by key.
    pub groups: Vec<StatsRow>,
    /// Everything together.
    pub total: StatsRow,
    /// Overdue activities at the end of each day of the range (up to now).
    pub overdue_by_day: Vec<OverdueDay>,
}

/// Most days of a range.
pub const MAX_DAYS: i64 = 400;
const DAY_MS: i64 = 86_400_000;

/// The UTC date of an instant (ms).
pub fn day_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Nearest-rank percentile `p` (0..=100) of sorted values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (u64::from(p) * n as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank.min(n) - 1).copied()
}

#[derive(Default)]
struct Acc {
    received: u64,
    taken: u64,
    worked: u64,
    take: Vec<i64>,
    close: Vec<i64>,
    open: u64,
    overdue_now: u64,
}

impl Acc {
    fn row(mut self, key: String, label: Option<String>, by_day: bool) -> StatsRow {
        self.take.sort_unstable();
        self.close.sort_unstable();
        let secs = |v: Option<i64>| v.map(|ms| ms / 1000);
        StatsRow {
            key,
            label,
            received: self.received,
            taken: self.taken,
            worked: self.worked,
            take_median_s: secs(percentile(&self.take, 50)),
            take_p90_s: secs(percentile(&self.take, 90)),
            close_median_s: secs(percentile(&self.close, 50)),
            close_p90_s: secs(percentile(&self.close, 90)),
            open: (!by_day).then_some(self.open),
            overdue_now: (!by_day).then_some(self.overdue_now),
            overdue: None,
        }
    }
}

/// The mailboxes of the statistics: `mailbox` (404 when not of the organisation or not
/// visible, 403 when not managed) or every mailbox the caller manages (403 when none).
async fn mailboxes(
    store: &Store,
    who: &Principal,
    person: &Person,
    mailbox: Option<&str>,
) -> Result<Vec<String>> {
    if let Some(mb) = mailbox {
        if !users::mailbox_in_org(store, &who.org_id, mb).await? {
            return Err(Error::NotFound);
        }
        authorize(person, Operation::ReadStats { mailbox_id: mb })?;
        return Ok(vec![mb.to_owned()]);
    }
    let managed: Vec<String> = person
        .mailboxes
        .keys()
        .filter(|mb| authorize(person, Operation::ReadStats { mailbox_id: mb }).is_ok())
        .cloned()
        .collect();
    if managed.is_empty() {
        return Err(Error::Forbidden(
            "le statistiche sono per i responsabili delle caselle: serve MAIL_ACCOUNT_MANAGER o MAIL_ACTIVITY_MANAGER su almeno una casella / \
             statistics are for mailbox managers: MAIL_ACCOUNT_MANAGER or MAIL_ACTIVITY_MANAGER on at least one mailbox is needed"
                .to_owned(),
        ));
    }
    Ok(managed)
}

/// Computes the statistics of `[from, to)` (ms) at `now` (ms).
#[allow(clippy::too_many_arguments)]
pub async fn compute(
    store: &Store,
    who: &Principal,
    person: &Person,
    from: i64,
    to: i64,
    group_by: GroupBy,
    mailbox: Option<&str>,
    now: i64,
) -> Result<Stats> {
    if from >= to {
        return Err(Error::Invalid(
            "from deve precedere to / from must come before to".to_owned(),
        ));
    }
    if (to - from) / DAY_MS > MAX_DAYS {
        return Err(Error::Invalid(format!(
            "intervallo troppo lungo: al più {MAX_DAYS} giorni / range too long: at most {MAX_DAYS} days"
        )));
    }
    let mailboxes = mailboxes(store, who, person, mailbox).await?;
    let by_day = group_by == GroupBy::Day;
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    let mut total = Acc::default();
    let key = |id: Option<&String>| id.cloned().unwrap_or_else(|| "-".to_owned());

    let key_of = |event: Event| -> Option<&'static str> {
        match group_by {
            GroupBy::Day => None,
            GroupBy::Mailbox => Some("mailbox_id"),
            GroupBy::Team => Some("routed_team_id"),
            GroupBy::Operator => Some(match event {
                Event::Received => "routed_user_id",
                Event::Taken => "taken_by",
                Event::Worked => "worked_by",
            }),
        }
    };
    let group_key = |k: Option<String>, at: i64| {
        if by_day {
            day_of(at)
        } else {
            k.unwrap_or_else(|| "-".to_owned())
        }
    };
    for (k, d, n) in store_stats::count(
        store,
        &mailboxes,
        Event::Received,
        key_of(Event::Received),
        by_day,
        from,
        to,
    )
    .await?
    {
        let n = u64::try_from(n).unwrap_or_default();
        groups.entry(group_key(k, d * DAY_MS)).or_default().received += n;
        total.received += n;
    }
    for event in [Event::Taken, Event::Worked] {
        for (k, at, received_at) in
            store_stats::timings(store, &mailboxes, event, key_of(event), from, to).await?
        {
            let g = groups.entry(group_key(k, at)).or_default();
            for acc in [&mut *g, &mut total] {
                if event == Event::Taken {
                    acc.taken += 1;
                    acc.take.push(at - received_at);
                } else {
                    acc.worked += 1;
                    acc.close.push(at - received_at);
                }
            }
        }
    }

    let activities = store_stats::activities(store, &mailboxes, from, to).await?;
    for a in activities.iter().filter(|a| a.closed_at.is_none()) {
        let overdue = a.due_at.is_some_and(|d| d < now);
        if !by_day {
            let k = match group_by {
                GroupBy::Mailbox => a.mailbox_id.clone(),
                GroupBy::Team => key(a.team_id.as_ref()),
                _ => key(a.assignee_id.as_ref()),
            };
            let g = groups.entry(k).or_default();
            g.open += 1;
            g.overdue_now += u64::from(overdue);
        }
        total.open += 1;
        total.overdue_now += u64::from(overdue);
    }
    let mut overdue_by_day = Vec::new();
    let mut day_start = from - from.rem_euclid(DAY_MS);
    while day_start < to && day_start <= now {
        let end = (day_start + DAY_MS).min(now);
        let overdue = activities
            .iter()
            .filter(|a| {
                a.due_at.is_some_and(|d| d < end)
                    && a.created_at < end
                    && a.closed_at.is_none_or(|c| c >= end)
            })
            .count() as u64;
        overdue_by_day.push(OverdueDay {
            day: day_of(day_start),
            overdue,
        });
        day_start += DAY_MS;
    }

    let names: BTreeMap<String, String> = if by_day {
        BTreeMap::new()
    } else {
        store_stats::names(store, &who.org_id)
            .await?
            .into_iter()
            .collect()
    };
    let mut rows: Vec<StatsRow> = groups
        .into_iter()
        .map(|(k, acc)| {
            let label = names.get(&k).cloned();
            acc.row(k, label, by_day)
        })
        .collect();
    if by_day {
        for r in &mut rows {
            r.overdue = overdue_by_day
                .iter()
                .find(|d| d.day == r.key)
                .map(|d| d.overdue);
        }
    }
    Ok(Stats {
        from,
        to,
        group_by,
        mailboxes,
        groups: rows,
        total: total.row("totale".to_owned(), None, false),
        overdue_by_day,
    })
}

/// The statistics as CSV: one line per group and the total.
pub fn to_csv(s: &Stats) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| Error::Internal(e.into());
    w.write_record([
        "gruppo_group",
        "etichetta_label",
        "ricevuti_received",
        "presi_in_carico_taken",
        "lavorati_worked",
        "presa_in_carico_mediana_s_take_median_s",
        "presa_in_carico_p90_s_take_p90_s",
        "chiusura_mediana_s_close_median_s",
        "chiusura_p90_s_close_p90_s",
        "aperte_open",
        "scadute_ora_overdue_now",
        "scadute_a_fine_giorno_overdue",
    ])
    .map_err(err)?;
    let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    let optu = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in s.groups.iter().chain(std::iter::once(&s.total)) {
        w.write_record([
            r.key.clone(),
            r.label.clone().unwrap_or_default(),
            r.received.to_string(),
            r.taken.to_string(),
            r.worked.to_string(),
            opt(r.take_median_s),
            opt(r.take_p90_s),
            opt(r.close_median_s),
            opt(r.close_p90_s),
            optu(r.open),
            optu(r.overdue_now),
            optu(r.overdue),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(anyhow::anyhow!("csv: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[3, 8], 50), Some(3));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(day_of(0), "1970-01-01");
    }
}
