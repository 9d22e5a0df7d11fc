-- Routing rules (issue 13, item 6) and the dispatcher queue.

-- An organisation's routing rules, evaluated in `position` order. `conditions` and
-- `actions` hold the JSON of pecdesk_core::rules (validated before they are written).
-- A deleted rule is kept (deleted_at) so the messages it routed still name it.
CREATE TABLE rules (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    stop BOOLEAN NOT NULL DEFAULT 1,
    conditions TEXT NOT NULL,
    actions TEXT NOT NULL,
    created_by TEXT REFERENCES users(id),
    created_at BIGINT NOT NULL,
    -- Who last saved the rule: the author of the activities it creates.
    updated_by TEXT REFERENCES users(id),
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX rules_org ON rules (org_id, position);

-- Routing of each incoming message: by a rule or by a Smistatore's hand.
-- rules_applied_at: the rules were evaluated (once, whatever they decided).
ALTER TABLE messages ADD COLUMN rules_applied_at BIGINT;
-- routed_at: the message left the dispatcher queue (a rule or a person routed it).
ALTER TABLE messages ADD COLUMN routed_at BIGINT;
ALTER TABLE messages ADD COLUMN routed_by_rule TEXT REFERENCES rules(id);
ALTER TABLE messages ADD COLUMN routed_by_user TEXT REFERENCES users(id);
ALTER TABLE messages ADD COLUMN routed_team_id TEXT REFERENCES teams(id);
ALTER TABLE messages ADD COLUMN routed_user_id TEXT REFERENCES users(id);
ALTER TABLE messages ADD COLUMN routed_activity_id TEXT REFERENCES activities(id);
-- The rules that matched and why (JSON list), for the message's detail.
ALTER TABLE messages ADD COLUMN routing_matched TEXT;
ALTER TABLE messages ADD COLUMN category TEXT;
-- JSON array of text.
ALTER TABLE messages ADD COLUMN tags TEXT;
-- Segnatura.xml and SdI data (pecdesk_core::protocol::Protocol, JSON); NULL: none found
-- or not read yet.
ALTER TABLE messages ADD COLUMN protocol TEXT;
CREATE INDEX messages_dispatch ON messages (org_id, routed_at, received_at);

-- Round-robin cursor: the member of a team assigned last by routing.
CREATE TABLE team_route_cursor (
    team_id TEXT PRIMARY KEY REFERENCES teams(id),
    last_user_id TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Messages stored before rules existed were never routed by one and nothing could have
-- matched them: marked evaluated, so an upgrade does not route old mail into new
-- activities (they stay where people left them; the untaken ones wait in the queue).
UPDATE messages SET rules_applied_at = received_at WHERE rules_applied_at IS NULL;
