//! `/api/v1/campaigns`: mass sends (see [`crate::domain::campaigns`]).
