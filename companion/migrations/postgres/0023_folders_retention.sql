-- Folders, categories and tags; retention per mailbox and the audited purge (issue 16,
-- item 4).

-- The companion-side archive folder of a message ("Contratti/2026"); NULL: none.
-- `category` and `tags` exist since 0012 (set by rules, and now by hand).
ALTER TABLE messages ADD COLUMN folder TEXT;
CREATE INDEX messages_mailbox_folder ON messages (mailbox_id, folder);

-- A purged message is a tombstone: the row stays (id, hashes, kind, dates,
-- identificativo) with when and by whom it was purged; its raw bytes are cleared.
ALTER TABLE messages ADD COLUMN purged_at BIGINT;
ALTER TABLE messages ADD COLUMN purged_by TEXT REFERENCES users(id);

-- Raw bytes cleared by a purge: the row keeps its sha256 and size (what the audit entry
-- names), `bytes` becomes empty and `purged_at` says why.
ALTER TABLE raw_blobs ADD COLUMN purged_at BIGINT;
-- Whether any other message still holds the bytes, asked per hash by the purge.
CREATE INDEX messages_raw_sha ON messages (raw_sha256);

-- Retention of a mailbox's messages in days from receipt; NULL: kept forever (nothing of
-- the mailbox may be purged).
ALTER TABLE mailboxes ADD COLUMN retention_days BIGINT;
