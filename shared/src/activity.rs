//! The activity state machine: standard flow and approval flow (see `DESIGN.md`).
