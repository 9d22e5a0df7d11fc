//! The text of an instant as ISO 8601 / RFC 3339 (`2018-11-13T16:39:27+01:00`), written by
//! hand: chrono's `format` (strftime items, parsed at run time) was about 14 KB of the
//! add-ins' WebAssembly module for this one layout. The output is chrono's, character for
//! character (a test compares them).

use std::fmt::Write as _;

use chrono::{Datelike as _, Timelike as _};

/// `date_time` as chrono's `%Y-%m-%dT%H:%M:%S%:z` writes it, or, with `zulu`, as its
/// `to_rfc3339_opts(SecondsFormat::Secs, true)` does (`Z` for a zero offset).
pub(crate) fn format(date_time: &chrono::DateTime<chrono::FixedOffset>, zulu: bool) -> String {
    let local = date_time.naive_local();
    let mut out = String::with_capacity(25);
    let year = local.year();
    // Four digits; outside 0..=9999 a sign and at least four digits (ISO 8601 expanded).
    let _ = if (0..=9999).contains(&year) {
        write!(out, "{year:04}")
    } else {
        write!(out, "{year:+05}")
    };
    let _ = write!(
        out,
        "-{:02}-{:02}T{:02}:{:02}:{:02}",
        local.month(),
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    );
    let offset = date_time.offset().local_minus_utc();
    if zulu && offset == 0 {
        out.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        // chrono rounds an offset with seconds to the nearest minute.
        let minutes = (offset.abs() + 30) / 60;
        let _ = write!(out, "{sign}{:02}:{:02}", minutes / 60, minutes % 60);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::{FixedOffset, NaiveDate, SecondsFormat, TimeZone as _};

    use super::*;

    #[test]
    fn writes_what_chrono_writes() {
        let offsets = [
            0, 3600, -3600, 19_800, -34_200, 86_399, -86_399, 45, 29, 31, -90,
        ];
        let years = [
            -10_000, -1, 0, 18, 999, 1000, 1970, 2018, 2024, 9999, 10_000, 262_000,
        ];
        for year in years {
            for (month, day) in [(1, 1), (2, 29), (2, 28), (12, 31), (6, 15)] {
                let Some(date) = NaiveDate::from_ymd_opt(year, month, day) else {
                    continue;
                };
                for (h, m, s) in [(0, 0, 0), (23, 59, 59), (9, 5, 7)] {
                    let naive = date.and_hms_opt(h, m, s).unwrap();
                    for offset in offsets {
                        let tz = FixedOffset::east_opt(offset).unwrap();
                        let Some(at) = tz.from_local_datetime(&naive).single() else {
                            continue;
                        };
                        assert_eq!(
                            format(&at, false),
                            at.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
                            "{naive} {offset}"
                        );
                        assert_eq!(
                            format(&at, true),
                            at.to_rfc3339_opts(SecondsFormat::Secs, true),
                            "{naive} {offset}"
                        );
                    }
                }
            }
        }
        for seconds in [i64::from(i32::MIN), -1, 0, 1_700_000_000, 253_402_300_799] {
            let at = chrono::DateTime::from_timestamp(seconds, 0)
                .unwrap()
                .fixed_offset();
            assert_eq!(
                format(&at, true),
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            );
        }
    }
}
