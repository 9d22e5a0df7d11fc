-- SLA on the legal clock (issue 16): each mailbox's working calendar, the JSON of
-- pecdesk_core::sla::SlaSettings in its normal form ({"time_zone", "office_hours",
-- "patron_day"}). NULL: the default calendar (Monday to Friday 09:00-18:00, Europe/Rome,
-- no patron day). Rules' `due_in_hours` / `due_in_days` count on it from the certified
-- delivery time of the PEC.
ALTER TABLE mailboxes ADD COLUMN sla_calendar TEXT;
