-- The companion's token keys live in `signing_keys` (0002_auth, sealed with the master key);
-- the first skeleton's `server_keys` table was never used after that.
DROP TABLE IF EXISTS server_keys;
