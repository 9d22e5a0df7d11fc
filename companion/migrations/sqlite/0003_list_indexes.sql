-- "My activities" and team queues page by due date with undated activities last. Index the
-- exact ORDER BY key (COALESCE(due_at, max)) so a page of 50 is read in index order instead
-- of sorting every matching row; status rides along to filter without touching the table.
DROP INDEX IF EXISTS activities_assignee_due;
DROP INDEX IF EXISTS activities_mailbox_due;
CREATE INDEX activities_assignee_due
    ON activities (assignee_id, (COALESCE(due_at, 9223372036854775807)), id, status);
CREATE INDEX activities_mailbox_due
    ON activities (mailbox_id, (COALESCE(due_at, 9223372036854775807)), id, status);
