-- When the grant behind a login was last checked with the identity provider:
-- at sign-in, by every refresh grant that succeeds, and by a re-validation
-- the identity provider could not answer (the next try then waits one
-- interval). A login whose check is older than PORTAL_SESSION_REVALIDATE is
-- checked again (a refresh grant) on its next request. Existing logins count
-- as checked now.
ALTER TABLE logins ADD COLUMN checked_at TIMESTAMPTZ NOT NULL DEFAULT now();
