-- Mail in (issue 13): mailbox connection settings, ingestion health and IMAP folder
-- state, and the message columns the ingestion pipeline needs.
-- Secrets (*_secret) are sealed with the master key (auth::secrets::MasterKey::seal,
-- context "mailbox:<id>:imap" / "mailbox:<id>:smtp"): never stored or returned in clear.

ALTER TABLE mailboxes ADD COLUMN imap_host TEXT;
ALTER TABLE mailboxes ADD COLUMN imap_port INTEGER;
-- 'tls' (implicit TLS, 993), 'starttls' or 'plain' (plain only towards loopback).
ALTER TABLE mailboxes ADD COLUMN imap_security TEXT;
ALTER TABLE mailboxes ADD COLUMN imap_user TEXT;
ALTER TABLE mailboxes ADD COLUMN imap_secret TEXT;
-- The folder holding what was sent from any mail client (NULL: found by SPECIAL-USE \Sent).
ALTER TABLE mailboxes ADD COLUMN imap_sent_folder TEXT;
ALTER TABLE mailboxes ADD COLUMN smtp_host TEXT;
ALTER TABLE mailboxes ADD COLUMN smtp_port INTEGER;
ALTER TABLE mailboxes ADD COLUMN smtp_security TEXT;
ALTER TABLE mailboxes ADD COLUMN smtp_user TEXT;
ALTER TABLE mailboxes ADD COLUMN smtp_secret TEXT;
-- When the (app) password the admin entered expires (ms), to warn before it does.
ALTER TABLE mailboxes ADD COLUMN app_password_expires_at BIGINT;
-- The box's size by contract (bytes), for servers without IMAP QUOTA.
ALTER TABLE mailboxes ADD COLUMN quota_bytes BIGINT;
-- Whether the companion polls this mailbox.
ALTER TABLE mailboxes ADD COLUMN ingest_enabled BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN updated_at BIGINT;

-- One row per mailbox the poller has tried: what an admin reads on the mailbox's health.
CREATE TABLE mailbox_health (
    mailbox_id TEXT PRIMARY KEY REFERENCES mailboxes(id),
    last_success_at BIGINT,
    last_error_at BIGINT,
    -- A stable code (auth, tls, connect, protocol, ...) and words an admin can act on.
    last_error_code TEXT,
    last_error TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    -- IMAP QUOTA (RFC 9208) as the server reported it, in KiB.
    quota_used_kb BIGINT,
    quota_total_kb BIGINT,
    quota_read_at BIGINT,
    -- Whether the server offered IDLE at the last connection.
    idle BOOLEAN,
    -- Which replica polls the mailbox now, until when (ms): one poller per mailbox.
    lease_owner TEXT,
    lease_until BIGINT
);

-- Where the poller stands in each IMAP folder it reads.
CREATE TABLE imap_folders (
    mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
    folder TEXT NOT NULL,
    uidvalidity BIGINT NOT NULL,
    -- Every UID up to this one is safely stored.
    last_uid BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, folder)
);

-- A PEC's identity in its mailbox (kind, identificativo and, for a delivery receipt, the
-- recipient): the same PEC arriving with a header more or less is one message.
ALTER TABLE messages ADD COLUMN pec_identity TEXT;
CREATE UNIQUE INDEX messages_pec_identity ON messages (mailbox_id, pec_identity);
-- Where the message came from ('imap:INBOX', 'imap:Sent', 'import', 'api', 'demo').
ALTER TABLE messages ADD COLUMN source TEXT;
-- When the steps after storage (receipt reconciliation, routing) completed; NULL = to do.
ALTER TABLE messages ADD COLUMN processed_at BIGINT;
CREATE INDEX messages_unprocessed ON messages (processed_at, org_id);

-- A byte-different copy of a stored PEC (same identity): kept beside it, never dropped.
CREATE TABLE message_variants (
    message_id TEXT NOT NULL REFERENCES messages(id),
    raw_sha256 TEXT NOT NULL REFERENCES raw_blobs(sha256),
    source TEXT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, raw_sha256)
);
CREATE INDEX message_variants_sha ON message_variants (raw_sha256);
