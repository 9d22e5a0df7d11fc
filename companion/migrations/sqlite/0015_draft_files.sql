-- Files of a reply draft (issue 14): the draft names its attachments; their bytes are
-- uploaded here (PUT /api/v1/activities/{id}/draft/attachments/{name}) and read when the
-- draft is sent (composed into the outbox row, which keeps the bytes as submitted).
CREATE TABLE draft_files (
    activity_id TEXT NOT NULL REFERENCES activities(id),
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    uploaded_by TEXT NOT NULL REFERENCES users(id),
    uploaded_at BIGINT NOT NULL,
    PRIMARY KEY (activity_id, name)
);
