-- SLA and mailbox alarms (issue 16): each alarm fires exactly once across replicas.
--
-- The claim is the INSERT of the alarm: the unique key (kind, object, stage, occurrence)
-- lets one replica win (ON CONFLICT DO NOTHING tells the others they lost). The winner
-- writes, in the same transaction, the alarm's recipients, one e-mail delivery row per
-- recipient and the audit entry alarm.fire. Deliveries are then claimed row by row (FOR
-- UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer) and marked sent once the SMTP
-- server took them: never sent again after that.

CREATE TABLE alarms (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    -- The mailbox the object belongs to (supervisors of it see the alarm).
    mailbox_id TEXT REFERENCES mailboxes(id),
    -- activity_due | pec_unconfirmed | quota | app_password | ingest_failing
    kind TEXT NOT NULL,
    -- before | overdue | escalation (activity_due); warning (the others)
    stage TEXT NOT NULL,
    -- activity | outbox | mailbox
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    -- What makes a new occurrence of the same alarm: the activity's due date (a moved due
    -- date alarms again), the password's expiry, the last success before the failures, the
    -- week of a quota projection; 0 where there is one per object.
    occurrence BIGINT NOT NULL,
    -- When the condition began to hold (ms) and when the alarm was claimed.
    due_at BIGINT NOT NULL,
    fired_at BIGINT NOT NULL,
    -- open | acked
    state TEXT NOT NULL DEFAULT 'open',
    acked_by TEXT REFERENCES users(id),
    acked_at BIGINT,
    UNIQUE (kind, object_type, object_id, stage, occurrence)
);
CREATE INDEX alarms_org ON alarms (org_id, fired_at, id);
CREATE INDEX alarms_mailbox ON alarms (mailbox_id, fired_at);

-- Who an alarm is for (user ids; addresses are read from users when sending).
CREATE TABLE alarm_recipients (
    alarm_id TEXT NOT NULL REFERENCES alarms(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (alarm_id, user_id)
);
CREATE INDEX alarm_recipients_user ON alarm_recipients (user_id, alarm_id);

-- One e-mail per recipient of an alarm.
CREATE TABLE alarm_deliveries (
    id TEXT PRIMARY KEY,
    alarm_id TEXT NOT NULL REFERENCES alarms(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    -- queued | sending | sent | failed | unsent (no SMTP configured: kept, not lost)
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    not_before BIGINT NOT NULL,
    -- Which replica sends it, until when (ms).
    claimed_by TEXT,
    claimed_until BIGINT,
    smtp_reply TEXT,
    last_error TEXT,
    sent_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (alarm_id, user_id)
);
CREATE INDEX alarm_deliveries_due ON alarm_deliveries (state, not_before);

-- Quota readings as the IMAP poller left them in mailbox_health, one per reading: the
-- rate between the oldest and the newest of the last days projects when the box is full.
CREATE TABLE quota_readings (
    mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
    read_at BIGINT NOT NULL,
    used_kb BIGINT NOT NULL,
    total_kb BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, read_at)
);
