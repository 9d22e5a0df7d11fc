-- Messages stored before migration 0008 have no `source`: the start-up backfill reads
-- exactly those (their PEC identity from the stored summary) and marks each 'legacy', so
-- after one pass this index is empty and later start-ups read nothing.
CREATE INDEX messages_without_source ON messages (id) WHERE source IS NULL;
