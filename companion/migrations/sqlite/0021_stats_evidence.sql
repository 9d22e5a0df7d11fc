-- Statistics and evidence packs (issue 16).
-- Messages taken in charge / worked in a range, per mailbox (GET /api/v1/stats).
CREATE INDEX messages_mailbox_taken ON messages (mailbox_id, taken_at);
CREATE INDEX messages_mailbox_worked ON messages (mailbox_id, worked_at);
-- When an activity was closed (done or cancelled); NULL while open. Activities closed
-- before this migration take their last update as the closing time.
ALTER TABLE activities ADD COLUMN closed_at BIGINT;
UPDATE activities SET closed_at = updated_at WHERE status IN ('done', 'cancelled');
CREATE INDEX activities_mailbox_closed ON activities (mailbox_id, closed_at);
-- The audit entries about given objects (evidence packs).
CREATE INDEX audit_log_object ON audit_log (chain, object_type, object_id);
