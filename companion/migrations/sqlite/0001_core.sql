-- PecDesk core schema (SQLite). Timestamps: INTEGER milliseconds since the epoch (UTC).
CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    is_auditor BOOLEAN NOT NULL DEFAULT 0,
    disabled BOOLEAN NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE INDEX users_org ON users(org_id);

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    external BOOLEAN NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members(user_id);

CREATE TABLE mailboxes (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    address TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- One of the five policies granted to a user or a team on a mailbox.
CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
    user_id TEXT REFERENCES users(id),
    team_id TEXT REFERENCES teams(id),
    policy TEXT NOT NULL,
    CHECK ((user_id IS NULL) <> (team_id IS NULL))
);
CREATE INDEX grants_user ON grants(user_id);
CREATE INDEX grants_team ON grants(team_id);

-- Secrets the companion generates for itself (e.g. the access-token signing key).
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- Raw messages, stored once by SHA-256.
CREATE TABLE raw_blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    bytes BLOB NOT NULL
);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
    raw_sha256 TEXT NOT NULL REFERENCES raw_blobs(sha256),
    internet_message_id TEXT,
    identificativo TEXT,
    kind TEXT NOT NULL,
    direction TEXT NOT NULL,
    subject TEXT,
    sender TEXT,
    summary TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'new',
    taken_by TEXT REFERENCES users(id),
    taken_at INTEGER,
    trashed_at INTEGER,
    trashed_by TEXT REFERENCES users(id),
    received_at INTEGER NOT NULL,
    search_text TEXT NOT NULL,
    UNIQUE (mailbox_id, raw_sha256)
);
CREATE INDEX messages_mailbox ON messages(mailbox_id, received_at);
CREATE INDEX messages_msgid ON messages(org_id, internet_message_id);
CREATE INDEX messages_ident ON messages(org_id, identificativo);

CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    mailbox_id TEXT NOT NULL REFERENCES mailboxes(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    priority TEXT NOT NULL,
    due_at INTEGER,
    status TEXT NOT NULL,
    flow TEXT NOT NULL,
    assignee_id TEXT REFERENCES users(id),
    team_id TEXT REFERENCES teams(id),
    approver_id TEXT REFERENCES users(id),
    category TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL DEFAULT 1,
    approved_draft_version INTEGER,
    created_by TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    search_text TEXT NOT NULL
);
CREATE INDEX activities_assignee_due ON activities(assignee_id, status, due_at);
CREATE INDEX activities_mailbox_due ON activities(mailbox_id, status, due_at);
CREATE INDEX activities_team ON activities(team_id);
CREATE INDEX activities_approver ON activities(approver_id);

CREATE TABLE activity_messages (
    activity_id TEXT NOT NULL REFERENCES activities(id),
    message_id TEXT NOT NULL REFERENCES messages(id),
    PRIMARY KEY (activity_id, message_id)
);
CREATE INDEX activity_messages_message ON activity_messages(message_id);

CREATE TABLE comments (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    activity_id TEXT NOT NULL REFERENCES activities(id),
    author_id TEXT NOT NULL REFERENCES users(id),
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    edited_at INTEGER
);
CREATE INDEX comments_activity ON comments(activity_id, created_at);

-- Earlier texts of an edited comment.
CREATE TABLE comment_edits (
    comment_id TEXT NOT NULL REFERENCES comments(id),
    body TEXT NOT NULL,
    replaced_at INTEGER NOT NULL
);
CREATE INDEX comment_edits_comment ON comment_edits(comment_id);

CREATE TABLE drafts (
    activity_id TEXT PRIMARY KEY REFERENCES activities(id),
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    updated_by TEXT NOT NULL REFERENCES users(id),
    updated_at INTEGER NOT NULL,
    sent_at INTEGER
);

CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    activity_id TEXT NOT NULL REFERENCES activities(id),
    draft_version INTEGER NOT NULL,
    decision TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    decided_by TEXT NOT NULL REFERENCES users(id),
    decided_at INTEGER NOT NULL
);
CREATE INDEX approvals_activity ON approvals(activity_id);

-- Audit log: append-only, hash-chained; audit_head holds the chain's last entry.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    org_id TEXT,
    actor_id TEXT,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log(org_id, seq);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
