-- Audit log: one hash chain per organisation plus one for system actions (issue 11), so
-- writers of different organisations lock different head rows and each organisation's
-- chain verifies and exports on its own. Catalogue and chain format: docs/audit.md.
--
-- SQL cannot hash, so this migration only moves the entries to the new layout: each entry
-- gets its chain (the organisation id, or 'system' for entries of no organisation) and a
-- per-chain seq numbered in the old order; the old seq, prev_hash and hash are kept as
-- evidence in legacy_*. The companion then rebuilds the hashes once at start
-- (store::audit::rebuild_chains, in one transaction): it verifies the old global chain
-- first and refuses if it does not verify, rebuilds every chain, verifies each, and clears
-- the pending mark in audit_rebuild.
CREATE TABLE audit_log_v5 (
    chain TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    org_id TEXT,
    actor_id TEXT,
    action TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    legacy_seq BIGINT,
    legacy_prev_hash TEXT,
    legacy_hash TEXT,
    CONSTRAINT audit_log_chain_seq PRIMARY KEY (chain, seq)
);
INSERT INTO audit_log_v5 (chain, seq, at, org_id, actor_id, action, object_type, object_id,
    details, prev_hash, hash, legacy_seq, legacy_prev_hash, legacy_hash)
SELECT COALESCE(org_id, 'system'),
    ROW_NUMBER() OVER (PARTITION BY COALESCE(org_id, 'system') ORDER BY seq),
    at, org_id, actor_id, action, object_type, object_id, details,
    prev_hash, hash, seq, prev_hash, hash
FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_v5 RENAME TO audit_log;
CREATE UNIQUE INDEX audit_log_legacy_seq ON audit_log(legacy_seq);

-- One head per chain, created on demand by the first write of the chain.
CREATE TABLE audit_heads (
    chain TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

-- The old global head stays, frozen, as the end of the old chain's evidence.
ALTER TABLE audit_head RENAME TO audit_legacy_head;

-- The rebuild mark: pending until the companion has rebuilt and verified every chain.
CREATE TABLE audit_rebuild (
    id BIGINT PRIMARY KEY,
    pending BOOLEAN NOT NULL,
    legacy_entries BIGINT,
    finished_at BIGINT
);
INSERT INTO audit_rebuild (id, pending) VALUES (1, true);
