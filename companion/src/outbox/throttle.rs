//! The per-mailbox sending throttle: how many attempts may start now, given when the
//! attempts of the trailing minute started. Pure (time is a parameter), so the worker, the
//! tests and the benchmark run it on any clock.
//!
//! Providers count submissions per account per minute (InfoCert Legalmail: 6) and answer
//! `451` beyond; staying under the limit costs nothing, going over costs a retry with
//! backoff. The window is a sliding minute: an attempt started at `t` counts until
//! `t + 60 s`.

/// The length of the window, in milliseconds.
pub const WINDOW_MS: i64 = 60_000;

/// How many attempts may start at `now` under `per_minute` (`None` or `0`: no limit, the
/// answer is `usize::MAX`), given the start times of earlier attempts (any order; those
/// outside the trailing minute are ignored).
pub fn available(per_minute: Option<u32>, starts: &[i64], now: i64) -> usize {
    let Some(limit) = per_minute.filter(|l| *l > 0) else {
        return usize::MAX;
    };
    let in_window = starts
        .iter()
        .filter(|t| **t > now - WINDOW_MS && **t <= now)
        .count();
    usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(in_window)
}

/// When the next attempt may start (ms), `None` when one may start now.
pub fn next_slot(per_minute: Option<u32>, starts: &[i64], now: i64) -> Option<i64> {
    if available(per_minute, starts, now) > 0 {
        return None;
    }
    let limit = usize::try_from(per_minute.unwrap_or(0)).unwrap_or(usize::MAX);
    let mut window: Vec<i64> = starts
        .iter()
        .copied()
        .filter(|t| *t > now - WINDOW_MS && *t <= now)
        .collect();
    window.sort_unstable();
    // The slot frees when enough of the oldest starts leave the window.
    let must_leave = window.len() + 1 - limit;
    window.get(must_leave - 1).map(|t| t + WINDOW_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limit_means_no_throttle() {
        assert_eq!(available(None, &[1, 2, 3], 10), usize::MAX);
        assert_eq!(available(Some(0), &[1, 2, 3], 10), usize::MAX);
        assert_eq!(next_slot(Some(0), &[1, 2, 3], 10), None);
    }

    #[test]
    fn a_start_counts_for_one_minute_exactly() {
        let starts = [1_000];
        assert_eq!(available(Some(1), &starts, 1_000), 0);
        assert_eq!(available(Some(1), &starts, 60_999), 0);
        assert_eq!(next_slot(Some(1), &starts, 30_000), Some(61_000));
        assert_eq!(available(Some(1), &starts, 61_000), 1);
    }

    #[test]
    fn the_next_slot_is_when_the_oldest_needed_start_leaves() {
        let starts = [0, 10_000, 20_000];
        assert_eq!(available(Some(3), &starts, 30_000), 0);
        assert_eq!(next_slot(Some(3), &starts, 30_000), Some(60_000));
        assert_eq!(available(Some(2), &starts, 30_000), 0);
        // Two must leave for a limit of 2: the second oldest decides.
        assert_eq!(next_slot(Some(2), &starts, 30_000), Some(70_000));
    }

    /// A simulated clock: a worker ticking every second for ten minutes at 6/min, with
    /// more work than the limit allows, starts exactly 60 attempts and never more than 6
    /// in any trailing minute.
    #[test]
    fn six_a_minute_over_ten_minutes_on_a_simulated_clock() {
        let mut starts: Vec<i64> = Vec::new();
        let end = 10 * 60_000;
        let mut now = 0;
        while now < end {
            let n = available(Some(6), &starts, now).min(50);
            starts.extend(std::iter::repeat_n(now, n));
            now += 1_000;
        }
        assert_eq!(starts.len(), 60);
        for t in (0..end).step_by(500) {
            let in_window = starts.iter().filter(|s| **s > t - WINDOW_MS && **s <= t);
            assert!(
                in_window.count() <= 6,
                "more than 6 in the minute before {t}"
            );
        }
    }
}
