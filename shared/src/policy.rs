//! Mailbox policies, roles and the permission model (see `DESIGN.md`).
