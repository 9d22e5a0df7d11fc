-- Mail out (issue 14): the outbox every send goes through (replies, campaign messages),
-- the mailbox's sending limits, and mass sends (campaigns) with their recipients and files.
--
-- A send is an outbox row written in the same transaction as the action that asks for it;
-- a worker delivers it over the mailbox's SMTP settings (companion/src/outbox/). Our
-- Message-ID is the idempotency key: a row whose attempt began but did not conclude (a
-- crash between the provider's acceptance and our commit) is sent again only when neither
-- the provider's accettazione nor a copy in Sent shows that it went out.

-- Sending limits per mailbox (NULL: the configured default, see `[outbox]`).
-- Messages per minute (InfoCert Legalmail: 6; 0: no throttle).
ALTER TABLE mailboxes ADD COLUMN send_per_minute INTEGER;
-- Recipients per message (Aruba, Legalmail: 500).
ALTER TABLE mailboxes ADD COLUMN send_max_recipients INTEGER;
-- Bytes per message, shared among its recipients (Aruba: 100 MB).
ALTER TABLE mailboxes ADD COLUMN send_max_bytes BIGINT;

CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
    name TEXT NOT NULL,
    -- Templates with {{placeholder}} fields of the recipients' CSV.
    subject_template TEXT NOT NULL,
    body_template TEXT NOT NULL,
    -- running | paused | cancelled | done
    state TEXT NOT NULL,
    -- Activities made from the campaign: none | campaign (one for the whole campaign) |
    -- failures (one per failed recipient).
    activities TEXT NOT NULL DEFAULT 'none',
    -- The campaign's own activity (activities = campaign).
    activity_id TEXT REFERENCES activities(id),
    recipients_total INTEGER NOT NULL,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX campaigns_org ON campaigns (org_id, created_at);

-- Attachments of a campaign: common (to every recipient) or named by recipients' rows.
CREATE TABLE campaign_files (
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    -- Sent to every recipient.
    common BOOLEAN NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    PRIMARY KEY (campaign_id, name)
);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
    -- Our Message-ID, without angle brackets: the idempotency key of the send.
    message_id TEXT NOT NULL UNIQUE,
    -- What asked for the send: reply (activity_id) | campaign (campaign_id).
    origin TEXT NOT NULL,
    activity_id TEXT REFERENCES activities(id),
    -- The draft version that went out (replies: the approved one in the approval flow).
    draft_version BIGINT,
    campaign_id TEXT REFERENCES campaigns(id),
    -- SMTP envelope: MAIL FROM and every RCPT TO (JSON array: To and Cc; PEC has no Bcc).
    envelope_from TEXT NOT NULL,
    recipients TEXT NOT NULL,
    -- The message exactly as it is submitted.
    raw BLOB NOT NULL,
    size BIGINT NOT NULL,
    -- queued | held (campaign paused) | sending (an attempt began) | sent | failed | cancelled
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    -- The earliest next attempt (ms): backoff after a transient failure.
    not_before BIGINT NOT NULL,
    -- Which worker holds the row, until when (ms): one sender per row across replicas.
    claimed_by TEXT,
    claimed_until BIGINT,
    -- When the last attempt began (ms): set and committed before talking SMTP.
    attempt_started_at BIGINT,
    -- The provider's last SMTP reply, and the error in words a user can act on.
    smtp_reply TEXT,
    last_error TEXT,
    sent_at BIGINT,
    -- The sent copy stored among the mailbox's messages (direction out), which receipts
    -- reconcile with.
    stored_message_id TEXT REFERENCES messages(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, not_before);
CREATE INDEX outbox_mailbox_started ON outbox (mailbox_id, attempt_started_at);
CREATE INDEX outbox_activity ON outbox (activity_id);
CREATE INDEX outbox_campaign ON outbox (campaign_id, state);

-- One row per recipient of a campaign (one message each, never Bcc). The status shown
-- (queued, sent, accepted, delivered, warned, failed) is read from the outbox row and the
-- receipts of its stored copy, not stored twice.
CREATE TABLE campaign_recipients (
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    -- The CSV row (1 = the first recipient).
    row_no INTEGER NOT NULL,
    address TEXT NOT NULL,
    -- The row's placeholder values (JSON object) and its own attachments (JSON array).
    fields TEXT NOT NULL,
    attachments TEXT NOT NULL,
    outbox_id TEXT REFERENCES outbox(id),
    -- The activity opened for this recipient's failure (activities = failures).
    activity_id TEXT REFERENCES activities(id),
    PRIMARY KEY (campaign_id, row_no)
);
CREATE INDEX campaign_recipients_outbox ON campaign_recipients (outbox_id);
