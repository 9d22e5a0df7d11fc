//! The table of cases is written from the calendar (not from this module): Easter Mondays
//! 21 Apr 2025, 6 Apr 2026, 29 Mar 2027; DST nights 29 Mar 2026 and 25 Oct 2026 (and 28
//! Mar 2027); 4 Oct 2026 a Sunday, 4 Oct 2027 a Monday; 7-8 Dec 2026 Monday-Tuesday. The
//! expected instants are RFC 3339 with the offset in force, read by chrono, so the zone
//! arithmetic under test is not used to write them.

use super::*;
use proptest::prelude::*;

fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("{rfc3339}: {e}"))
        .timestamp_millis()
}

fn show(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339())
        .unwrap_or_else(|| ms.to_string())
}

fn settings(json: serde_json::Value) -> Calendar {
    serde_json::from_value::<SlaSettings>(json)
        .unwrap()
        .calendar()
        .unwrap()
}

/// Monday to Friday 09:00-13:00 and 14:00-18:00, Europe/Rome.
fn split() -> Calendar {
    let day = serde_json::json!(["09:00-13:00", "14:00-18:00"]);
    settings(serde_json::json!({"office_hours":
        {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day}}))
}

/// Milano: the default hours and Sant'Ambrogio (7 December).
fn milano() -> Calendar {
    settings(serde_json::json!({"patron_day": {"month": 12, "day": 7}}))
}

/// Every day, all day (a 24/7 desk): only holidays stop the clock.
fn always() -> Calendar {
    let day = serde_json::json!(["00:00-24:00"]);
    settings(
        serde_json::json!({"office_hours": {"mon": day, "tue": day, "wed": day,
        "thu": day, "fri": day, "sat": day, "sun": day}}),
    )
}

/// Only Sunday 01:00-04:00 (to watch the DST nights).
fn sunday_night() -> Calendar {
    settings(serde_json::json!({"office_hours": {"sun": ["01:00-04:00"]}}))
}

enum Add {
    Hours(u32),
    Days(u32),
}

struct Case {
    what: &'static str,
    cal: fn() -> Calendar,
    start: &'static str,
    add: Add,
    due: &'static str,
}

const CASES: &[Case] = &[
    Case {
        what: "Friday before Easter 2026, 2 working days: Easter Monday skipped",
        cal: Calendar::default,
        start: "2026-04-03T10:00:00+02:00",
        add: Add::Days(2),
        due: "2026-04-08T18:00:00+02:00",
    },
    Case {
        what: "PEC delivered Friday 17:55, 1 working hour: 5 minutes, then Tuesday after Easter",
        cal: Calendar::default,
        start: "2026-04-03T17:55:00+02:00",
        add: Add::Hours(1),
        due: "2026-04-07T09:55:00+02:00",
    },
    Case {
        what: "Saturday delivery, 2 working hours",
        cal: Calendar::default,
        start: "2026-04-04T11:00:00+02:00",
        add: Add::Hours(2),
        due: "2026-04-07T11:00:00+02:00",
    },
    Case {
        what: "Saturday delivery, 1 working day: the first working day after it",
        cal: Calendar::default,
        start: "2026-04-04T11:00:00+02:00",
        add: Add::Days(1),
        due: "2026-04-07T18:00:00+02:00",
    },
    Case {
        what: "Easter Monday 21 Apr 2025",
        cal: Calendar::default,
        start: "2025-04-17T12:00:00+02:00",
        add: Add::Days(2),
        due: "2025-04-22T18:00:00+02:00",
    },
    Case {
        what: "25 Apr 2025 a Friday: the bridge to Monday",
        cal: Calendar::default,
        start: "2025-04-24T16:00:00+02:00",
        add: Add::Hours(4),
        due: "2025-04-28T11:00:00+02:00",
    },
    Case {
        what: "Easter Monday 29 Mar 2027, the day after the spring DST change",
        cal: Calendar::default,
        start: "2027-03-26T17:00:00+01:00",
        add: Add::Hours(2),
        due: "2027-03-30T10:00:00+02:00",
    },
    Case {
        what: "office hours follow the local clock over the spring change (29 Mar 2026)",
        cal: Calendar::default,
        start: "2026-03-27T17:00:00+01:00",
        add: Add::Hours(2),
        due: "2026-03-30T10:00:00+02:00",
    },
    Case {
        what: "the spring night is one hour short (24/7 desk)",
        cal: always,
        start: "2026-03-28T23:00:00+01:00",
        add: Add::Hours(4),
        due: "2026-03-29T04:00:00+02:00",
    },
    Case {
        what: "office hours follow the local clock over the autumn change (25 Oct 2026)",
        cal: Calendar::default,
        start: "2026-10-23T17:00:00+02:00",
        add: Add::Hours(2),
        due: "2026-10-26T10:00:00+01:00",
    },
    Case {
        what: "the autumn night is one hour long (24/7 desk): the second 02:00",
        cal: always,
        start: "2026-10-24T23:00:00+02:00",
        add: Add::Hours(4),
        due: "2026-10-25T02:00:00+01:00",
    },
    Case {
        what: "Sunday 01:00-04:00 on the autumn night lasts four hours",
        cal: sunday_night,
        start: "2026-10-25T01:00:00+02:00",
        add: Add::Hours(4),
        due: "2026-10-25T04:00:00+01:00",
    },
    Case {
        what: "Sunday 01:00-04:00 on the spring night lasts two hours",
        cal: sunday_night,
        start: "2026-03-29T01:00:00+01:00",
        add: Add::Hours(3),
        due: "2026-04-05T02:00:00+02:00",
    },
    Case {
        what: "Milano: Sant'Ambrogio (Mon 7 Dec 2026) next to the Immacolata (Tue 8 Dec)",
        cal: milano,
        start: "2026-12-04T10:00:00+01:00",
        add: Add::Days(1),
        due: "2026-12-09T18:00:00+01:00",
    },
    Case {
        what: "without a patron day, Monday 7 Dec 2026 is a working day",
        cal: Calendar::default,
        start: "2026-12-04T10:00:00+01:00",
        add: Add::Days(1),
        due: "2026-12-07T18:00:00+01:00",
    },
    Case {
        what: "4 Oct 2026 is a Sunday: nothing changes",
        cal: Calendar::default,
        start: "2026-10-02T12:00:00+02:00",
        add: Add::Days(1),
        due: "2026-10-05T18:00:00+02:00",
    },
    Case {
        what: "4 Oct 2027 is a Monday and a national holiday (legge 151/2025)",
        cal: Calendar::default,
        start: "2027-10-01T12:00:00+02:00",
        add: Add::Days(1),
        due: "2027-10-05T18:00:00+02:00",
    },
    Case {
        what: "New Year across years: 1 Jan 2026",
        cal: Calendar::default,
        start: "2025-12-31T17:00:00+01:00",
        add: Add::Hours(3),
        due: "2026-01-02T11:00:00+01:00",
    },
    Case {
        what: "New Year and Epiphany: 3 working days from 31 Dec 2025",
        cal: Calendar::default,
        start: "2025-12-31T17:00:00+01:00",
        add: Add::Days(3),
        due: "2026-01-07T18:00:00+01:00",
    },
    Case {
        what: "Christmas 2026: Fri 25 and Sat 26 Dec",
        cal: Calendar::default,
        start: "2026-12-24T09:30:00+01:00",
        add: Add::Days(1),
        due: "2026-12-28T18:00:00+01:00",
    },
    Case {
        what: "Ferragosto 2025 a Friday",
        cal: Calendar::default,
        start: "2025-08-14T15:00:00+02:00",
        add: Add::Days(1),
        due: "2025-08-18T18:00:00+02:00",
    },
    Case {
        what: "midnight in New York is 06:00 in Rome: the office day has not begun",
        cal: Calendar::default,
        start: "2026-04-03T00:00:00-04:00",
        add: Add::Hours(1),
        due: "2026-04-03T10:00:00+02:00",
    },
    Case {
        what: "midnight of Saturday in Tokyo is Friday 17:00 in Rome: Rome's day counts",
        cal: Calendar::default,
        start: "2026-04-04T00:00:00+09:00",
        add: Add::Hours(2),
        due: "2026-04-07T10:00:00+02:00",
    },
    Case {
        what: "midnight of Saturday in Tokyo, 1 working day: Friday in Rome is the start day",
        cal: Calendar::default,
        start: "2026-04-04T00:00:00+09:00",
        add: Add::Days(1),
        due: "2026-04-07T18:00:00+02:00",
    },
    Case {
        what: "the lunch break does not count",
        cal: split,
        start: "2026-04-13T12:30:00+02:00",
        add: Add::Hours(1),
        due: "2026-04-13T14:30:00+02:00",
    },
    Case {
        what: "the close of a day, not the opening of the next",
        cal: split,
        start: "2026-04-13T14:00:00+02:00",
        add: Add::Hours(4),
        due: "2026-04-13T18:00:00+02:00",
    },
    Case {
        what: "0 days after closing time: the close of the next working day",
        cal: Calendar::default,
        start: "2026-04-03T19:00:00+02:00",
        add: Add::Days(0),
        due: "2026-04-07T18:00:00+02:00",
    },
    Case {
        what: "0 days during office hours: today's close",
        cal: Calendar::default,
        start: "2026-04-03T10:00:00+02:00",
        add: Add::Days(0),
        due: "2026-04-03T18:00:00+02:00",
    },
    Case {
        what: "0 hours: the start itself",
        cal: Calendar::default,
        start: "2026-04-04T11:00:00+02:00",
        add: Add::Hours(0),
        due: "2026-04-04T11:00:00+02:00",
    },
    Case {
        what: "UTC office: Festa della Repubblica (Tue 2 Jun 2026)",
        cal: || settings(serde_json::json!({"time_zone": "UTC"})),
        start: "2026-06-01T17:00:00Z",
        add: Add::Hours(2),
        due: "2026-06-03T10:00:00Z",
    },
];

#[test]
fn the_table_of_calendar_cases_holds() {
    let mut failures = Vec::new();
    for c in CASES {
        let cal = (c.cal)();
        let start = ms(c.start);
        let got = match c.add {
            Add::Hours(h) => add_working_hours(start, h, &cal),
            Add::Days(d) => add_working_days(start, d, &cal),
        };
        if got != ms(c.due) {
            failures.push(format!("{}: expected {}, got {}", c.what, c.due, show(got)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(CASES.len() >= 25);
}

#[test]
fn easter_sundays_from_the_calendar() {
    for (year, month, day) in [
        (2024, 3, 31),
        (2025, 4, 20),
        (2026, 4, 5),
        (2027, 3, 28),
        (2038, 4, 25),
        (2285, 3, 22),
    ] {
        assert_eq!(
            easter_sunday(year),
            NaiveDate::from_ymd_opt(year, month, day),
            "{year}"
        );
    }
}

#[test]
fn national_holidays_by_year() {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    let name = |date| national_holiday(date).map(|h| h.name);
    assert_eq!(name(d(2025, 4, 21)), Some("Lunedì dell'Angelo"));
    assert_eq!(name(d(2026, 4, 6)), Some("Lunedì dell'Angelo"));
    assert_eq!(name(d(2027, 3, 29)), Some("Lunedì dell'Angelo"));
    assert_eq!(
        name(d(2026, 4, 5)),
        None,
        "Easter Sunday is a Sunday, not a listed day"
    );
    assert_eq!(name(d(2025, 10, 4)), None, "4 October only from 2026");
    assert!(name(d(2026, 10, 4)).is_some_and(|n| n.contains("Francesco")));
    assert!(name(d(2027, 10, 4)).is_some());
    assert_eq!(name(d(2000, 6, 2)), None, "2 June only from 2001");
    assert!(name(d(2001, 6, 2)).is_some());
    assert_eq!(name(d(1985, 1, 6)), None, "Epiphany only from 1986");
    for (m, day) in [
        (1, 1),
        (1, 6),
        (4, 25),
        (5, 1),
        (6, 2),
        (8, 15),
        (11, 1),
        (12, 8),
        (12, 25),
        (12, 26),
    ] {
        assert!(name(d(2026, m, day)).is_some(), "{m}-{day}");
    }
    assert_eq!(
        name(d(2026, 3, 19)),
        None,
        "San Giuseppe was abolished in 1977"
    );
    let cal = Calendar::default();
    assert!(
        cal.is_working_day(d(2024, 10, 4)),
        "Friday 4 Oct 2024 was a working day"
    );
    assert!(!cal.is_working_day(d(2027, 10, 4)));
}

#[test]
fn working_time_is_inside_office_hours_of_working_days() {
    let cal = split();
    assert!(
        !is_working_time(ms("2026-04-06T10:00:00+02:00"), &cal),
        "Easter Monday"
    );
    assert!(is_working_time(ms("2026-04-07T09:00:00+02:00"), &cal));
    assert!(is_working_time(ms("2026-04-07T12:59:59.999+02:00"), &cal));
    assert!(
        !is_working_time(ms("2026-04-07T13:30:00+02:00"), &cal),
        "lunch"
    );
    assert!(
        !is_working_time(ms("2026-04-07T18:00:00+02:00"), &cal),
        "closed at 18:00"
    );
    assert!(
        !is_working_time(ms("2026-04-04T10:00:00+02:00"), &cal),
        "Saturday"
    );
    assert!(is_working_time(
        ms("2026-12-07T10:00:00+01:00"),
        &Calendar::default()
    ));
    assert!(
        !is_working_time(ms("2026-12-07T10:00:00+01:00"), &milano()),
        "Sant'Ambrogio"
    );
}

#[test]
fn working_time_between_two_instants() {
    let cal = Calendar::default();
    let (fri, tue) = (
        ms("2026-04-03T17:00:00+02:00"),
        ms("2026-04-07T10:00:00+02:00"),
    );
    assert_eq!(working_ms_between(fri, tue, &cal), 2 * HOUR_MS);
    assert_eq!(working_ms_between(tue, fri, &cal), -2 * HOUR_MS);
    let always = always();
    let day = |a, b| working_ms_between(ms(a), ms(b), &always);
    assert_eq!(
        day("2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00"),
        23 * HOUR_MS
    );
    assert_eq!(
        day("2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00"),
        25 * HOUR_MS
    );
    assert_eq!(
        day("2026-04-06T00:00:00+02:00", "2026-04-07T00:00:00+02:00"),
        0,
        "Easter Monday stops even a 24/7 desk"
    );
}

#[test]
fn the_zone_follows_the_eu_rule() {
    let z = Zone::EuropeRome;
    assert_eq!(z.offset_minutes_at(ms("2026-03-29T00:59:59Z")), 60);
    assert_eq!(z.offset_minutes_at(ms("2026-03-29T01:00:00Z")), 120);
    assert_eq!(z.offset_minutes_at(ms("2026-10-25T00:59:59Z")), 120);
    assert_eq!(z.offset_minutes_at(ms("2026-10-25T01:00:00Z")), 60);
    let local = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
    assert_eq!(
        z.to_utc(local("2026-03-29 02:30")),
        ms("2026-03-29T03:30:00+02:00"),
        "the skipped half hour is read an hour later"
    );
    assert_eq!(
        z.to_utc(local("2026-10-25 02:30")),
        ms("2026-10-25T02:30:00+02:00"),
        "the repeated half hour is the first"
    );
    assert_eq!(Zone::parse("europe/rome"), Some(z));
    assert_eq!(Zone::parse("America/New_York"), None);
}

#[test]
fn settings_round_trip_in_normal_form() {
    let s: SlaSettings = serde_json::from_value(serde_json::json!({
        "office_hours": {"mon": ["14:00-18:00", "9:00-13:00"], "sat": ["09:00-12:00"]},
        "patron_day": {"month": 12, "day": 7}
    }))
    .unwrap();
    let cal = s.calendar().unwrap();
    let back = cal.settings();
    assert_eq!(back.time_zone, "Europe/Rome");
    assert_eq!(back.office_hours.mon, ["09:00-13:00", "14:00-18:00"]);
    assert_eq!(back.office_hours.sat, ["09:00-12:00"]);
    assert!(back.office_hours.tue.is_empty());
    assert_eq!(back.calendar().unwrap(), cal);
    assert_eq!(
        SlaSettings::default().office_hours.fri,
        ["09:00-18:00"],
        "the default is Monday to Friday 09:00-18:00"
    );
    assert_eq!(
        SlaSettings::default().calendar().unwrap(),
        Calendar::default()
    );
}

#[test]
fn bad_settings_say_where_and_why() {
    let err = |json: serde_json::Value| {
        serde_json::from_value::<SlaSettings>(json)
            .unwrap()
            .calendar()
            .unwrap_err()
    };
    let e = err(serde_json::json!({"time_zone": "America/New_York"}));
    assert_eq!(e.field, "time_zone");
    assert!(e.to_string().contains("fuso orario") && e.to_string().contains("time zone"));
    assert_eq!(
        err(serde_json::json!({"office_hours": {"mon": ["9-13"]}})).field,
        "office_hours.mon"
    );
    assert_eq!(
        err(serde_json::json!({"office_hours": {"tue": ["13:00-09:00"]}})).field,
        "office_hours.tue"
    );
    assert!(
        err(serde_json::json!({"office_hours": {"wed": ["09:00-13:00", "12:00-18:00"]}}))
            .it
            .contains("sovrappongono")
    );
    assert_eq!(
        err(serde_json::json!({"office_hours": {}})).field,
        "office_hours"
    );
    assert_eq!(
        err(serde_json::json!({"patron_day": {"month": 2, "day": 30}})).field,
        "patron_day"
    );
    assert_eq!(
        err(serde_json::json!({"office_hours": {"mon": ["25:00-26:00"]}})).field,
        "office_hours.mon"
    );
}

#[test]
fn extreme_inputs_do_not_panic() {
    let cal = Calendar::default();
    for start in [i64::MIN, -1, 0, i64::MAX] {
        let _ = add_working_hours(start, u32::MAX, &cal);
        let _ = add_working_days(start, u32::MAX, &cal);
        let _ = working_ms_between(start, 0, &cal);
        let _ = is_working_time(start, &cal);
    }
    assert_eq!(add_working_days(0, u32::MAX, &cal), NEVER);
}

fn calendars() -> impl Strategy<Value = Calendar> {
    prop_oneof![
        Just(Calendar::default()),
        Just(split()),
        Just(milano()),
        Just(sunday_night()),
    ]
}

/// 2024-01-01 to 2028-12-31.
fn instants() -> impl Strategy<Value = i64> {
    1_704_067_200_000i64..1_861_920_000_000i64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_due_date_never_falls_in_closed_time(cal in calendars(), start in instants(), hours in 1u32..300) {
        let due = add_working_hours(start, hours, &cal);
        prop_assert!(is_working_time(due - 1, &cal), "{} + {hours} h = {}", show(start), show(due));
        prop_assert_eq!(working_ms_between(start, due, &cal), i64::from(hours) * HOUR_MS);
    }

    #[test]
    fn more_hours_never_end_earlier(cal in calendars(), start in instants(), hours in 0u32..300) {
        prop_assert!(add_working_hours(start, hours, &cal) < add_working_hours(start, hours + 1, &cal));
    }

    #[test]
    fn working_days_end_at_a_close(cal in calendars(), start in instants(), days in 0u32..60) {
        let due = add_working_days(start, days, &cal);
        prop_assert!(due > start);
        prop_assert!(is_working_time(due - 1, &cal) && !is_working_time(due, &cal));
        // 0 days after closing time is the next working day's close, as 1 day is.
        let next = add_working_days(start, days + 1, &cal);
        let ordered = if days == 0 { due <= next } else { due < next };
        prop_assert!(ordered, "{} days {days}: {} then {}", show(start), show(due), show(next));
    }
}
