-- Segregation of duties and the visible approval conversation (issue 12, items 1 and 2).
--
-- draft_edits: who wrote each version of an activity's draft. The drafts table keeps only
-- the last editor; the core refuses an approval by anyone who wrote or edited any version
-- (each carries the previous ones' text). Existing drafts keep their one known editor.
CREATE TABLE draft_edits (
    activity_id TEXT NOT NULL REFERENCES activities(id),
    version INTEGER NOT NULL,
    edited_by TEXT NOT NULL REFERENCES users(id),
    edited_at INTEGER NOT NULL,
    PRIMARY KEY (activity_id, version)
);
INSERT INTO draft_edits (activity_id, version, edited_by, edited_at)
    SELECT activity_id, version, updated_by, updated_at FROM drafts;

-- approvals now also records each request for approval (decision = 'request', decided_by
-- = who asked), so the detail shows the whole conversation and the core knows who asked.
-- activity_version: the activity's version the step produced, which orders the steps of
-- one activity (0 for steps recorded before this migration: they order by time).
ALTER TABLE approvals ADD COLUMN activity_version INTEGER NOT NULL DEFAULT 0;
