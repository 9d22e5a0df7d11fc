-- The message list (newest first, keyset-paged by (received_at, id), issue 12) reads the
-- organisation's messages in index order and stops after one page, wherever the page is;
-- without it every page sorted every message of the organisation (72 ms a page at 100,000
-- messages on SQLite, 0.2 ms with it).
CREATE INDEX messages_org_received ON messages (org_id, received_at, id);
