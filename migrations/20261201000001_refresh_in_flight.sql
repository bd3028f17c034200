-- Set (and committed) just before a login's refresh token is sent to the
-- identity provider; cleared in the same commit that stores the answer, or
-- when the refresh fails while the portal is alive. A refresh that finds it
-- still set knows an earlier one died mid-flight and that the refresh token
-- may already be spent: the login ends instead of presenting it again.
ALTER TABLE logins ADD COLUMN refresh_started_at TIMESTAMPTZ;
