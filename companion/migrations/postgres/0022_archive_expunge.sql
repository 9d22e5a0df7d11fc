-- Archive and expunge (issue 16, item 4): messages kept by PecDesk beyond the provider's
-- box. A mailbox with a policy has its messages older than N days removed from the box
-- (UID EXPUNGE, RFC 4315) once their exact bytes are stored here; NULL: off.
ALTER TABLE mailboxes ADD COLUMN archive_expunge_after_days INTEGER;
-- When the message's bytes were expunged from the provider's box (the copy here stays).
ALTER TABLE messages ADD COLUMN archived_at BIGINT;
-- One row per message removed from the box: where it was, which bytes, when.
CREATE TABLE imap_expunged (
    mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
    folder TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    uid BIGINT NOT NULL,
    raw_sha256 TEXT NOT NULL REFERENCES raw_blobs(sha256),
    message_id TEXT NOT NULL REFERENCES messages(id),
    size BIGINT NOT NULL,
    expunged_at BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, folder, uidvalidity, uid)
);
CREATE INDEX imap_expunged_message ON imap_expunged (message_id);
-- The last archive run of the mailbox (what an admin reads beside its health), and why
-- expunging is unavailable when it is (NULL: available or never tried).
ALTER TABLE mailbox_health ADD COLUMN archive_run_at BIGINT;
ALTER TABLE mailbox_health ADD COLUMN archive_expunged BIGINT;
ALTER TABLE mailbox_health ADD COLUMN archive_bytes_freed BIGINT;
ALTER TABLE mailbox_health ADD COLUMN archive_unavailable TEXT;
