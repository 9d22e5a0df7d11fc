//! The simulator's clock: the system's, a manual one moved by [`super::Simulator::advance`],
//! or a scaled one (demos: `factor` simulated seconds per real second). Every mode also
//! takes the offset `advance` adds, so a demo can jump ahead too.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeZone as _, Utc};

/// How the simulator tells time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMode {
    /// The system clock.
    System,
    /// Stands still at `start` until [`super::Simulator::advance`] moves it (tests).
    Manual {
        /// The simulated time at start.
        start: DateTime<Utc>,
    },
    /// Runs `factor` times faster than real time from the start (3600: an hour a second).
    Scaled {
        /// Simulated seconds per real second.
        factor: u32,
    },
}

#[derive(Debug)]
pub(crate) struct Clock {
    mode: ClockMode,
    started_real: Instant,
    started_at: DateTime<Utc>,
    offset: Mutex<chrono::Duration>,
}

impl Clock {
    pub(crate) fn new(mode: ClockMode) -> Self {
        let started_at = match mode {
            ClockMode::Manual { start } => start,
            ClockMode::System | ClockMode::Scaled { .. } => Utc::now(),
        };
        Self {
            mode,
            started_real: Instant::now(),
            started_at,
            offset: Mutex::new(chrono::Duration::zero()),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        let base = match self.mode {
            ClockMode::System => Utc::now(),
            ClockMode::Manual { start } => start,
            ClockMode::Scaled { factor } => {
                let real = self.started_real.elapsed();
                let scaled = real.saturating_mul(factor.max(1));
                self.started_at + to_chrono(scaled)
            }
        };
        base + *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *offset += to_chrono(by);
    }

    /// Real time to wait for `simulated` to pass (None: never by itself, manual clock).
    pub(crate) fn real_wait(&self, simulated: Duration) -> Option<Duration> {
        match self.mode {
            ClockMode::System => Some(simulated),
            ClockMode::Manual { .. } => None,
            ClockMode::Scaled { factor } => Some(simulated / factor.max(1)),
        }
    }
}

/// A std duration as chrono's (saturating at about 292 years).
pub(crate) fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Italian civil time (CET, CEST from the last Sunday of March to the last Sunday of
/// October at 01:00 UTC), as the providers write daticert's `data zona`.
pub(crate) fn italian(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    use chrono::Datelike as _;
    let year = at.year();
    let summer = match (last_sunday_1am(year, 3), last_sunday_1am(year, 10)) {
        (Some(from), Some(to)) => at >= from && at < to,
        _ => false,
    };
    let offset = if summer { CEST } else { CET };
    at.with_timezone(&offset)
}

const CET: FixedOffset = match FixedOffset::east_opt(3600) {
    Some(o) => o,
    None => panic!("CET"),
};
const CEST: FixedOffset = match FixedOffset::east_opt(7200) {
    Some(o) => o,
    None => panic!("CEST"),
};

fn last_sunday_1am(year: i32, month: u32) -> Option<DateTime<Utc>> {
    use chrono::{Datelike as _, NaiveDate, Weekday};
    let last = NaiveDate::from_ymd_opt(year, month, 31)?;
    let back = last.weekday().num_days_from_sunday();
    let sunday = last - chrono::Duration::days(i64::from(back));
    debug_assert_eq!(sunday.weekday(), Weekday::Sun);
    Some(Utc.from_utc_datetime(&sunday.and_hms_opt(1, 0, 0)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn italian_time_switches_on_the_last_sundays_of_march_and_october() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            italian(t("2026-03-29T00:59:59Z"))
                .offset()
                .local_minus_utc(),
            3600
        );
        assert_eq!(
            italian(t("2026-03-29T01:00:00Z"))
                .offset()
                .local_minus_utc(),
            7200
        );
        assert_eq!(
            italian(t("2026-10-25T00:59:59Z"))
                .offset()
                .local_minus_utc(),
            7200
        );
        assert_eq!(
            italian(t("2026-10-25T01:00:00Z"))
                .offset()
                .local_minus_utc(),
            3600
        );
        assert_eq!(
            italian(t("2026-11-30T12:00:00Z"))
                .offset()
                .local_minus_utc(),
            3600
        );
    }

    #[test]
    fn a_manual_clock_stands_still_until_advanced() {
        let start = Utc.with_ymd_and_hms(2026, 5, 4, 8, 0, 0).unwrap();
        let clock = Clock::new(ClockMode::Manual { start });
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(3600));
        assert_eq!(clock.now(), start + chrono::Duration::hours(1));
    }
}
