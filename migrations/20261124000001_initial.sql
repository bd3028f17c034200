-- The portal's data model (see README "Data"). Every token column is
-- AES-256-GCM ciphertext under PORTAL_TOKEN_KEY; session keys are stored only
-- as SHA-256 hashes.

-- Tenants: a tenant is a Logto organization with a URL slug.
CREATE TABLE tenants (
    slug             TEXT PRIMARY KEY CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,62})$'),
    display_name     TEXT NOT NULL,
    organization_id  TEXT NOT NULL,
    sso_connector_id TEXT,
    login_hint       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- actix-session rows. `Session::renew()` replaces the row at sign-in, so
-- nothing else references it.
CREATE TABLE sessions (
    key_hash   BYTEA PRIMARY KEY,
    state      JSONB NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- One row per signed-in browser: the truth of "signed in". Its id lives in
-- the session state; deleting the row signs that browser out everywhere.
CREATE TABLE logins (
    id            UUID PRIMARY KEY,
    issuer        TEXT NOT NULL,
    user_sub      TEXT NOT NULL,
    logto_sid     TEXT,
    id_token      BYTEA NOT NULL,
    refresh_token BYTEA,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX logins_sub ON logins (issuer, user_sub);
CREATE INDEX logins_sid ON logins (issuer, logto_sid);
CREATE INDEX logins_expires_at ON logins (expires_at);

-- Cached access tokens of a login, one per audience (a resource indicator,
-- an organization, or both).
CREATE TABLE access_tokens (
    login_id   UUID NOT NULL REFERENCES logins (id) ON DELETE CASCADE,
    audience   TEXT NOT NULL,
    token      BYTEA NOT NULL,
    scopes     TEXT NOT NULL DEFAULT '',
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (login_id, audience)
);

-- One row per started sign-in, keyed by the hash of its `state`, so sign-ins
-- started in several tabs never overwrite each other. `browser_hash` binds
-- the attempt to the browser that started it (login CSRF). Deleted on use.
CREATE TABLE sign_in_attempts (
    state_hash   BYTEA PRIMARY KEY,
    browser_hash BYTEA NOT NULL,
    payload      BYTEA NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sign_in_attempts_expires_at ON sign_in_attempts (expires_at);

-- Back-channel logout tokens already processed (jti replay protection).
CREATE TABLE seen_logout_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
