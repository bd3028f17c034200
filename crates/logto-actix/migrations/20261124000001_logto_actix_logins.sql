-- logto-actix's PostgreSQL storage (`logto_actix::postgres`): the tables as
-- the portal's migrations leave them (a test there keeps them equal). Every
-- token column is AES-256-GCM ciphertext bound to its row and column.

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
    expires_at    TIMESTAMPTZ NOT NULL,
    -- Set (and committed) just before the refresh token is sent to the
    -- identity provider; cleared in the commit that stores the answer, or
    -- when the refresh fails while the process is alive. A refresh that
    -- still finds it ends the login: the refresh token may be spent.
    refresh_started_at TIMESTAMPTZ,
    -- When the grant was last checked with the identity provider (sign-in,
    -- refresh grants, a re-validation the identity provider could not answer).
    checked_at    TIMESTAMPTZ NOT NULL DEFAULT now()
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
