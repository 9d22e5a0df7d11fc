-- Corporate SSO (OpenID Connect) and the companion's own tokens (PostgreSQL).
-- Timestamps: BIGINT milliseconds since the epoch (UTC), as in 0001.

-- One OpenID provider per organisation. The client secret is sealed with the master key
-- (AES-256-GCM, auth::secrets); list and map columns hold JSON.
CREATE TABLE idp_settings (
    org_id TEXT PRIMARY KEY REFERENCES orgs(id),
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret_sealed TEXT,
    scopes TEXT NOT NULL DEFAULT '[]',
    claim_mapping TEXT NOT NULL DEFAULT '{}',
    allowed_domains TEXT NOT NULL DEFAULT '[]',
    audiences TEXT NOT NULL DEFAULT '[]',
    updated_at BIGINT NOT NULL
);
CREATE INDEX idp_settings_issuer ON idp_settings(issuer);

-- Where each companion client (desk, thunderbird) may ask the provider to send the code.
CREATE TABLE auth_redirect_uris (
    org_id TEXT NOT NULL REFERENCES orgs(id),
    client TEXT NOT NULL,
    uri TEXT NOT NULL,
    PRIMARY KEY (org_id, client, uri)
);

-- Which provider subject is which user.
CREATE TABLE user_identities (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities(user_id);

-- Pending sign-ins, keyed by SHA-256 of `state`; one use, short-lived.
CREATE TABLE auth_sessions (
    state_hash TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    client TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier_sealed TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Keys signing companion access tokens (HS256), sealed with the master key. The newest
-- non-retired key signs; retired keys verify until their grace period ends.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    secret_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- A sign-in's chain of refresh tokens; revoking it (logout, reuse, disabled user) ends
-- the chain and every access token carrying its id (`sid`).
CREATE TABLE token_families (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    client TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX token_families_user ON token_families(user_id);

-- Refresh tokens, stored only as SHA-256.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES token_families(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
