-- Mail in (issue 13), presa in carico: who set a message "worked" and when (by hand, the
-- CertDoc LAVORATO, or automatically when the last of its activities closed).
ALTER TABLE messages ADD COLUMN worked_by TEXT REFERENCES users(id);
ALTER TABLE messages ADD COLUMN worked_at BIGINT;
