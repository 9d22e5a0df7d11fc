-- Presence (issue 15): who has a message or an activity open in the add-ins' pane right
-- now ("viewing") or is writing a reply to it ("replying"), so two colleagues do not answer
-- the same PEC twice. Ephemeral: a row counts for 60 s after its last PUT (clients repeat
-- every 20 s); expired rows are deleted by later PUTs. No audit entry.
CREATE TABLE presence (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    object_kind TEXT NOT NULL CHECK (object_kind IN ('message', 'activity')),
    object_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    state TEXT NOT NULL CHECK (state IN ('viewing', 'replying')),
    since_ms BIGINT NOT NULL,
    seen_ms BIGINT NOT NULL,
    PRIMARY KEY (org_id, object_kind, object_id, user_id)
);
CREATE INDEX presence_seen ON presence(seen_ms);
