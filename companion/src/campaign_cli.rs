//! `pecdesk campaign`: mass sends from the command line (see [`crate::domain::campaigns`]).
