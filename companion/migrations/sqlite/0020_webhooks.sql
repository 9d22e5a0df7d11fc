-- Webhooks (issue 16, item 6): an organisation's subscriptions to events and their
-- deliveries. Events are read from the organisation's audit chain (`audit_log`, one
-- `(chain, seq)` per entry): `audit_cursor` is the last seq a subscription has turned into
-- deliveries. The unique key makes an event queued once per subscription even when two
-- replicas read the same entries. Secrets are sealed with the master key (context
-- `webhook:<id>`), never stored in clear. A deleted subscription is kept, marked
-- `deleted_at`, with its delivery log.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    url TEXT NOT NULL,
    format TEXT NOT NULL CHECK (format IN ('generic', 'teams', 'slack')),
    -- JSON array of event type names.
    events TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    description TEXT NOT NULL DEFAULT '',
    secret TEXT NOT NULL,
    audit_cursor INTEGER NOT NULL,
    created_by TEXT REFERENCES users(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE INDEX webhooks_org ON webhooks(org_id, created_at, id);

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    -- `<organisation id>:<seq>` (a second event of one entry: `...:<seq>:<suffix>`), or
    -- `test:<uuid>` for `POST /webhooks/{id}/test`.
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- The generic JSON payload (ids only); Slack and Teams bodies are made from it.
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    claimed_by TEXT,
    claimed_until INTEGER,
    last_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries(webhook_id, created_at, id);
