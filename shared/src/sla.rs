//! SLA on the legal clock: due dates counted in Italian working days and office hours.
//!
//! Pure: every instant in and out is UTC epoch milliseconds and "now" is always a
//! parameter; the arithmetic happens in the office's local time.
//!
//! # Time zone
//! No time-zone database is bundled (it would weigh on the WebAssembly build). The office
//! zone is `Europe/Rome` written out by the EU rule (Directive 2000/84/EC, the rule Italy
//! follows since 1996): CET (UTC+1), and CEST (UTC+2) from the last Sunday of March at
//! 01:00 UTC to the last Sunday of October at 01:00 UTC. `UTC` is the only other zone. A
//! local time that does not exist (02:30 on the spring night) is read one hour later, as
//! clocks do; one that exists twice (02:30 on the autumn night) is the first (CEST).
//! Working time is real elapsed time: the autumn night's office hour that repeats counts
//! twice, the spring one that is skipped does not count.
//!
//! # Holidays
//! The national holidays of legge 27 maggio 1949 n. 260 as amended (table
//! [`NATIONAL_HOLIDAYS`], with the years each applies): 1 January, 6 January (restored by
//! DPR 28 dicembre 1985 n. 792, from 1986), Easter Monday (Gregorian Easter, anonymous
//! algorithm), 25 April, 1 May, 2 June (restored by legge 20 novembre 2000 n. 336, from
//! 2001), 15 August, 1 November, 8 December, 25 and 26 December, and 4 October, the festa
//! nazionale di San Francesco d'Assisi (legge 8 ottobre 2025 n. 151, GU n. 236 del 10
//! ottobre 2025, in force from 1 January 2026). The holidays legge 5 marzo 1977 n. 54
//! abolished are not modelled: years before 1978 are outside the table's aim. Each office
//! adds its patron saint's day ([`Calendar::patron`], e.g. Sant'Ambrogio, 7 December, in
//! Milano).
//!
//! # Counting
//! - A *working day* is a day with office hours that is neither a national holiday nor the
//!   patron day (Saturday and Sunday have no office hours by default).
//! - [`add_working_hours`]: the instant the given amount of office time has elapsed after
//!   the start. It ends inside a working day's office hours or exactly at the close of one
//!   (18:00, not 09:00 of the next day).
//! - [`add_working_days`]: the close of office hours of the N-th working day *after* the
//!   day of the start. The day of the start never counts, even when the PEC arrives at
//!   09:01 of a working day: the civil reading of terms, *dies a quo non computatur* (art.
//!   2963 c.c., art. 155 c.p.c.), with the term ending at the close of the office on its
//!   last day, never on a holiday (art. 155 c.p.c., fourth paragraph, extends it to the next
//!   working day; counting only working days does it by construction). `0` days: the close
//!   of the first working day whose office hours end after the start.
//! - [`working_ms_between`]: office time between two instants (negative when reversed).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MINUTES: u16 = 24 * 60;
/// Days looked ahead before a computation gives up (answers [`NEVER`]): far beyond a year
/// of working hours, the longest due offset the rules accept.
const HORIZON_DAYS: u32 = 366 * 12;
/// What a computation answers when the calendar never reaches the end.
pub const NEVER: i64 = i64::MAX;
/// Office time ranges a day, at most.
pub const MAX_RANGES_A_DAY: usize = 4;
/// The earliest and latest instants computed (1900-01-01 and 9999-12-31 UTC); inputs
/// outside are clamped, so no input panics or overflows.
const MIN_MS: i64 = -2_208_988_800_000;
const MAX_MS: i64 = 253_402_214_400_000;

// ---- time zone -------------------------------------------------------------------------

/// The office's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// `Europe/Rome` by the EU daylight-saving rule (see the module doc).
    #[default]
    EuropeRome,
    /// `UTC`.
    Utc,
}

impl Zone {
    /// `Europe/Rome` or `UTC` (case-insensitive); `None` for any other zone.
    pub fn parse(s: &str) -> Option<Zone> {
        match s.trim().to_ascii_lowercase().as_str() {
            "europe/rome" => Some(Zone::EuropeRome),
            "utc" | "etc/utc" => Some(Zone::Utc),
            _ => None,
        }
    }

    /// The IANA name.
    pub fn as_str(self) -> &'static str {
        match self {
            Zone::EuropeRome => "Europe/Rome",
            Zone::Utc => "UTC",
        }
    }

    /// Minutes east of UTC in force at `utc_ms`.
    pub fn offset_minutes_at(self, utc_ms: i64) -> i64 {
        match self {
            Zone::Utc => 0,
            Zone::EuropeRome if eu_summer_time(utc_ms) => 120,
            Zone::EuropeRome => 60,
        }
    }

    /// The local wall-clock time of `utc_ms`.
    pub fn local(self, utc_ms: i64) -> NaiveDateTime {
        let ms = clamp(utc_ms);
        naive(ms.saturating_add(self.offset_minutes_at(ms) * MINUTE_MS))
    }

    /// The UTC instant of a local wall-clock time (a time skipped in spring is read one
    /// hour later; one repeated in autumn is the first).
    pub fn to_utc(self, local: NaiveDateTime) -> i64 {
        let wall = local.and_utc().timestamp_millis();
        match self {
            Zone::Utc => wall,
            Zone::EuropeRome => {
                let summer = wall - 120 * MINUTE_MS;
                let winter = wall - 60 * MINUTE_MS;
                if eu_summer_time(summer) {
                    summer
                } else {
                    // Standard time, or the skipped hour read with the offset before the
                    // change (02:30 -> 01:30 UTC = 03:30 CEST).
                    winter
                }
            }
        }
    }
}

/// Whether EU summer time is in force at `utc_ms`: from the last Sunday of March 01:00 UTC
/// to the last Sunday of October 01:00 UTC.
fn eu_summer_time(utc_ms: i64) -> bool {
    let year = naive(clamp(utc_ms)).year();
    let at_one = |month| {
        last_sunday(year, month)
            .and_time(NaiveTime::MIN)
            .and_utc()
            .timestamp_millis()
            + HOUR_MS
    };
    (at_one(3)..at_one(10)).contains(&utc_ms)
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    // The 31st exists in March and October.
    let last = NaiveDate::from_ymd_opt(year, month, 31).unwrap_or(NaiveDate::MIN);
    let back = last.weekday().num_days_from_sunday();
    last - chrono::Days::new(u64::from(back))
}

fn clamp(ms: i64) -> i64 {
    ms.clamp(MIN_MS, MAX_MS)
}

fn naive(ms: i64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(clamp(ms))
        .map(|d| d.naive_utc())
        .unwrap_or_default()
}

// ---- holidays --------------------------------------------------------------------------

/// When a holiday falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolidayDate {
    /// The same day every year.
    Fixed {
        /// 1–12.
        month: u32,
        /// 1–31.
        day: u32,
    },
    /// The Monday after Gregorian Easter (Lunedì dell'Angelo).
    EasterMonday,
}

/// A national holiday and the years it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    /// The Italian name.
    pub name: &'static str,
    /// When.
    pub date: HolidayDate,
    /// First year it applies.
    pub from_year: i32,
    /// Last year it applies (`None`: still in force).
    pub until_year: Option<i32>,
}

const fn fixed(name: &'static str, month: u32, day: u32, from_year: i32) -> Holiday {
    Holiday {
        name,
        date: HolidayDate::Fixed { month, day },
        from_year,
        until_year: None,
    }
}

/// Italian national holidays (legge 260/1949 as amended; see the module doc).
pub const NATIONAL_HOLIDAYS: &[Holiday] = &[
    fixed("Capodanno", 1, 1, 1949),
    fixed("Epifania", 1, 6, 1986),
    Holiday {
        name: "Lunedì dell'Angelo",
        date: HolidayDate::EasterMonday,
        from_year: 1949,
        until_year: None,
    },
    fixed("Festa della Liberazione", 4, 25, 1949),
    fixed("Festa del Lavoro", 5, 1, 1949),
    fixed("Festa della Repubblica", 6, 2, 2001),
    fixed("Ferragosto", 8, 15, 1949),
    fixed("San Francesco d'Assisi, patrono d'Italia", 10, 4, 2026),
    fixed("Ognissanti", 11, 1, 1949),
    fixed("Immacolata Concezione", 12, 8, 1949),
    fixed("Natale", 12, 25, 1949),
    fixed("Santo Stefano", 12, 26, 1949),
];

/// Gregorian Easter Sunday of `year` (the anonymous algorithm: Meeus/Jones/Butcher).
pub fn easter_sunday(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// The national holiday on `date`, if any.
pub fn national_holiday(date: NaiveDate) -> Option<&'static Holiday> {
    let year = date.year();
    NATIONAL_HOLIDAYS.iter().find(|h| {
        year >= h.from_year
            && h.until_year.is_none_or(|u| year <= u)
            && match h.date {
                HolidayDate::Fixed { month, day } => date.month() == month && date.day() == day,
                HolidayDate::EasterMonday => {
                    easter_sunday(year).and_then(|e| e.succ_opt()) == Some(date)
                }
            }
    })
}

// ---- the calendar ----------------------------------------------------------------------

/// A day of the year (the patron saint's day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthDay {
    /// 1–12.
    pub month: u32,
    /// 1–31 (29 February counts in leap years only).
    pub day: u32,
}

/// Office hours on one day: minutes after local midnight, `start < end <= 1440`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Opening.
    pub start: u16,
    /// Closing.
    pub end: u16,
}

/// An office's working calendar: time zone, office hours per weekday, patron saint's day.
/// Built by [`Calendar::new`] or [`SlaSettings::calendar`], which check it has office hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    zone: Zone,
    /// Monday first.
    week: [Vec<Span>; 7],
    patron: Option<MonthDay>,
}

impl Default for Calendar {
    /// Monday to Friday 09:00–18:00, `Europe/Rome`, no patron day.
    fn default() -> Self {
        let day = vec![Span {
            start: 9 * 60,
            end: 18 * 60,
        }];
        Calendar {
            zone: Zone::EuropeRome,
            week: [
                day.clone(),
                day.clone(),
                day.clone(),
                day.clone(),
                day,
                Vec::new(),
                Vec::new(),
            ],
            patron: None,
        }
    }
}

impl Calendar {
    /// A calendar; office hours of each weekday (Monday first) sorted, not overlapping,
    /// within the day, at most [`MAX_RANGES_A_DAY`], and at least one in the week.
    pub fn new(
        zone: Zone,
        week: [Vec<Span>; 7],
        patron: Option<MonthDay>,
    ) -> Result<Self, SlaError> {
        let mut week = week;
        for (i, day) in week.iter_mut().enumerate() {
            let at = format!("office_hours.{}", DAY_KEYS[i]);
            if day.len() > MAX_RANGES_A_DAY {
                return Err(SlaError::new(
                    &at,
                    &format!("al massimo {MAX_RANGES_A_DAY} fasce orarie al giorno"),
                    &format!("at most {MAX_RANGES_A_DAY} ranges a day"),
                ));
            }
            day.sort_by_key(|s| s.start);
            for s in day.iter() {
                if s.start >= s.end || s.end > DAY_MINUTES {
                    return Err(SlaError::new(
                        &at,
                        "ogni fascia va da un orario a uno successivo, entro le 24:00",
                        "each range runs from a time to a later one, by 24:00",
                    ));
                }
            }
            if day.windows(2).any(|w| w[0].end > w[1].start) {
                return Err(SlaError::new(
                    &at,
                    "le fasce orarie si sovrappongono",
                    "the ranges overlap",
                ));
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(SlaError::new(
                "office_hours",
                "indicare almeno una fascia oraria nella settimana",
                "give at least one range in the week",
            ));
        }
        if let Some(p) = patron
            && NaiveDate::from_ymd_opt(2024, p.month, p.day).is_none()
        {
            return Err(SlaError::new(
                "patron_day",
                "giorno del patrono inesistente (mese 1–12, giorno del mese)",
                "no such patron day (month 1–12, a day of that month)",
            ));
        }
        Ok(Calendar { zone, week, patron })
    }

    /// The time zone.
    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// The patron saint's day.
    pub fn patron(&self) -> Option<MonthDay> {
        self.patron
    }

    /// Office hours of a weekday.
    pub fn hours(&self, weekday: Weekday) -> &[Span] {
        &self.week[weekday.num_days_from_monday() as usize]
    }

    /// Whether `date` (local) is a working day: office hours, no national holiday, not
    /// the patron day.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        !self.hours(date.weekday()).is_empty()
            && national_holiday(date).is_none()
            && self
                .patron
                .is_none_or(|p| (date.month(), date.day()) != (p.month, p.day))
    }

    /// The office hours of local `date` as UTC `[start, end)` ranges (empty on a day that
    /// is not a working day).
    fn intervals(&self, date: NaiveDate) -> impl Iterator<Item = (i64, i64)> + '_ {
        let working = self.is_working_day(date);
        let spans = if working {
            self.hours(date.weekday())
        } else {
            &[]
        };
        spans.iter().filter_map(move |s| {
            let at = |minutes: u16| {
                let midnight = date.and_time(NaiveTime::MIN);
                self.zone
                    .to_utc(midnight + chrono::Duration::minutes(i64::from(minutes)))
            };
            let (start, end) = (at(s.start), at(s.end));
            (end > start).then_some((start, end))
        })
    }

    /// The close of office hours of local `date` (`None` when it is not a working day).
    fn close_of(&self, date: NaiveDate) -> Option<i64> {
        self.intervals(date).map(|(_, end)| end).last()
    }

    /// The local date of `utc_ms`.
    fn date_of(&self, utc_ms: i64) -> NaiveDate {
        self.zone.local(utc_ms).date()
    }
}

/// Whether `utc_ms` falls inside office hours of a working day.
pub fn is_working_time(utc_ms: i64, cal: &Calendar) -> bool {
    cal.intervals(cal.date_of(utc_ms))
        .any(|(s, e)| (s..e).contains(&utc_ms))
}

/// The instant `hours` of office time have elapsed after `start_ms` (see the module doc);
/// `start_ms` itself for 0 hours.
pub fn add_working_hours(start_ms: i64, hours: u32, cal: &Calendar) -> i64 {
    add_working_ms(start_ms, i64::from(hours) * HOUR_MS, cal)
}

/// The instant `ms` of office time have elapsed after `start_ms`.
pub fn add_working_ms(start_ms: i64, ms: i64, cal: &Calendar) -> i64 {
    let start = clamp(start_ms);
    if ms <= 0 {
        return start;
    }
    let mut left = ms;
    let mut date = cal.date_of(start);
    for _ in 0..HORIZON_DAYS {
        for (s, e) in cal.intervals(date) {
            if e <= start {
                continue;
            }
            let from = s.max(start);
            if left <= e - from {
                return from + left;
            }
            left -= e - from;
        }
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    NEVER
}

/// The close of office hours of the `days`-th working day after the day of `start_ms`
/// (the day of the start never counts; see the module doc).
pub fn add_working_days(start_ms: i64, days: u32, cal: &Calendar) -> i64 {
    let start = clamp(start_ms);
    let mut date = cal.date_of(start);
    if days == 0 {
        for _ in 0..HORIZON_DAYS {
            if let Some(close) = cal.close_of(date)
                && close > start
            {
                return close;
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        return NEVER;
    }
    let mut counted = 0;
    for _ in 0..HORIZON_DAYS {
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
        if let Some(close) = cal.close_of(date) {
            counted += 1;
            if counted == days {
                return close;
            }
        }
    }
    NEVER
}

/// Office time between `a_ms` and `b_ms`, in ms (negative when `b_ms` is before `a_ms`).
pub fn working_ms_between(a_ms: i64, b_ms: i64, cal: &Calendar) -> i64 {
    let (a, b) = (clamp(a_ms), clamp(b_ms));
    if b < a {
        return -working_ms_between(b, a, cal);
    }
    let mut total = 0;
    let (mut date, last) = (cal.date_of(a), cal.date_of(b));
    while date <= last {
        for (s, e) in cal.intervals(date) {
            let (s, e) = (s.max(a), e.min(b));
            if e > s {
                total += e - s;
            }
        }
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    total
}

// ---- settings --------------------------------------------------------------------------

/// A calendar that does not read, with where and why (Italian and English).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaError {
    /// Where (`office_hours.mon`).
    pub field: String,
    /// Italian.
    pub it: String,
    /// English.
    pub en: String,
}

impl SlaError {
    fn new(field: &str, it: &str, en: &str) -> Self {
        Self {
            field: field.to_owned(),
            it: it.to_owned(),
            en: en.to_owned(),
        }
    }
}

impl std::fmt::Display for SlaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {} / {}", self.field, self.it, self.en)
    }
}

impl std::error::Error for SlaError {}

const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Office hours per weekday as text: `["09:00-13:00", "14:00-18:00"]`; a day left out has
/// none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct OfficeHours {
    #[serde(default)]
    pub mon: Vec<String>,
    #[serde(default)]
    pub tue: Vec<String>,
    #[serde(default)]
    pub wed: Vec<String>,
    #[serde(default)]
    pub thu: Vec<String>,
    #[serde(default)]
    pub fri: Vec<String>,
    #[serde(default)]
    pub sat: Vec<String>,
    #[serde(default)]
    pub sun: Vec<String>,
}

impl OfficeHours {
    fn days(&self) -> [&Vec<String>; 7] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ]
    }
}

/// A mailbox's SLA calendar as stored and exchanged (JSON):
/// `{"time_zone": "Europe/Rome", "office_hours": {"mon": ["09:00-13:00", "14:00-18:00"],
/// ...}, "patron_day": {"month": 12, "day": 7}}`. Absent fields take the default calendar's
/// (Monday to Friday 09:00–18:00, `Europe/Rome`, no patron day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaSettings {
    /// `Europe/Rome` (default) or `UTC`.
    #[serde(default = "default_zone")]
    pub time_zone: String,
    /// Office hours per weekday (default: Monday to Friday 09:00–18:00).
    #[serde(default = "default_hours")]
    pub office_hours: OfficeHours,
    /// The patron saint's day, a holiday of the office.
    #[serde(default)]
    pub patron_day: Option<MonthDay>,
}

fn default_zone() -> String {
    Zone::EuropeRome.as_str().to_owned()
}

fn default_hours() -> OfficeHours {
    Calendar::default().settings().office_hours
}

impl Default for SlaSettings {
    fn default() -> Self {
        Calendar::default().settings()
    }
}

impl SlaSettings {
    /// The calendar these settings describe, or what is wrong with them.
    pub fn calendar(&self) -> Result<Calendar, SlaError> {
        let zone = Zone::parse(&self.time_zone).ok_or_else(|| {
            SlaError::new(
                "time_zone",
                "fuso orario non gestito: Europe/Rome oppure UTC",
                "time zone not supported: Europe/Rome or UTC",
            )
        })?;
        let mut week: [Vec<Span>; 7] = Default::default();
        for (i, ranges) in self.office_hours.days().iter().enumerate() {
            let at = format!("office_hours.{}", DAY_KEYS[i]);
            for r in ranges.iter() {
                week[i].push(parse_span(r).ok_or_else(|| {
                    SlaError::new(
                        &at,
                        "fascia oraria nella forma HH:MM-HH:MM, ad esempio 09:00-13:00",
                        "a range reads HH:MM-HH:MM, e.g. 09:00-13:00",
                    )
                })?);
            }
        }
        Calendar::new(zone, week, self.patron_day)
    }
}

impl Calendar {
    /// The settings of this calendar, in their normal form.
    pub fn settings(&self) -> SlaSettings {
        let text = |d: usize| self.week[d].iter().map(|s| format_span(*s)).collect();
        SlaSettings {
            time_zone: self.zone.as_str().to_owned(),
            office_hours: OfficeHours {
                mon: text(0),
                tue: text(1),
                wed: text(2),
                thu: text(3),
                fri: text(4),
                sat: text(5),
                sun: text(6),
            },
            patron_day: self.patron,
        }
    }
}

/// `HH:MM-HH:MM` (the end may be `24:00`).
fn parse_span(s: &str) -> Option<Span> {
    let (a, b) = s.trim().split_once('-')?;
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && h * 60 + m <= DAY_MINUTES).then_some(h * 60 + m)
    };
    Some(Span {
        start: minutes(a)?,
        end: minutes(b)?,
    })
}

fn format_span(s: Span) -> String {
    format!(
        "{:02}:{:02}-{:02}:{:02}",
        s.start / 60,
        s.start % 60,
        s.end / 60,
        s.end % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
