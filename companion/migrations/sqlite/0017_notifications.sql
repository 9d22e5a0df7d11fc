-- Notifications (issue 15): a user mentioned in a comment ("@Nome Cognome" or
-- "@localpart" of the e-mail) who can read the activity is told, once per comment: the
-- unique key makes a later edit of the same comment notify only the newly mentioned.
-- Written in the comment's own transaction (with its audit entry).
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL CHECK (kind IN ('mention')),
    activity_id TEXT NOT NULL REFERENCES activities(id),
    comment_id TEXT NOT NULL REFERENCES comments(id),
    by_user_id TEXT NOT NULL REFERENCES users(id),
    excerpt TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at INTEGER,
    UNIQUE (comment_id, user_id, kind)
);
CREATE INDEX notifications_user ON notifications(user_id, created_at, id);
