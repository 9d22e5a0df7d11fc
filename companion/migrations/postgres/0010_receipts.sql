-- Receipt reconciliation (issue 13): each receipt's certified facts and the sent message it
-- certifies (pecdesk_core::reconcile decides; companion/src/domain/reconcile.rs writes).
-- Per-recipient delivery state is not stored: it is computed on read from these links by
-- the core's reconcile(), the same function the add-ins run, so there is no second copy
-- to keep in step when receipts arrive late or out of order.

CREATE TABLE receipt_links (
    -- The receipt (a message of a receipt kind).
    receipt_id TEXT PRIMARY KEY REFERENCES messages(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
    kind TEXT NOT NULL,
    identificativo TEXT,
    -- The receipt's own X-Riferimento-Message-ID / daticert msgid (no angle brackets).
    original_message_id TEXT,
    -- The Message-ID of the sent message it certifies: its own original_message_id, else
    -- borrowed from a receipt of the same submission (same identificativo, the accettazione
    -- first). NULL: nothing tells yet. Receipts waiting for their sent message are grouped
    -- by this key.
    match_key TEXT,
    -- The sent message, once stored; NULL while it is not known.
    sent_id TEXT REFERENCES messages(id),
    -- daticert consegna, lower case.
    recipient TEXT,
    receipt_type TEXT,
    error TEXT,
    -- daticert errore-esteso.
    error_detail TEXT,
    virus BOOLEAN NOT NULL DEFAULT false,
    -- daticert data (ISO 8601 with offset) and the same instant in ms.
    issued_at TEXT,
    issued_ms BIGINT,
    created_at BIGINT NOT NULL,
    linked_at BIGINT
);
CREATE INDEX receipt_links_sent ON receipt_links (sent_id);
CREATE INDEX receipt_links_key ON receipt_links (org_id, match_key);
CREATE INDEX receipt_links_ident ON receipt_links (org_id, identificativo);

-- A sent message's recipients, read once from its headers (To, Cc).
CREATE TABLE sent_messages (
    message_id TEXT PRIMARY KEY REFERENCES messages(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    -- pecdesk_core::reconcile::SentFacts as JSON: {"message_id", "to": [...], "cc": [...]}.
    facts TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
