-- The change notifications of sessions, logins and access tokens, fired
-- per row instead of per statement, and only where a copy can exist.
--
-- A statement-level trigger with transition tables costs PostgreSQL about
-- as much as the single-row statement it follows, and an
-- `INSERT … ON CONFLICT DO UPDATE` fires the UPDATE one even when it only
-- inserts: every sign-in paid for it (docs/performance.md). Row-level
-- triggers fire only for rows changed or deleted, and the login trigger's
-- condition is checked without calling a function. A statement touching
-- many rows (the sweeper) now announces each key: the listener drops them
-- one by one, as it did a list. An empty payload still means "any row"
-- (TRUNCATE).

DROP TRIGGER sessions_updated ON sessions;
DROP TRIGGER sessions_deleted ON sessions;
DROP TRIGGER logins_updated ON logins;
DROP TRIGGER logins_deleted ON logins;
DROP FUNCTION portal_sessions_changed();
DROP FUNCTION portal_logins_changed();
DROP FUNCTION portal_notify_keys(text, text);

-- A session updated or deleted: the hex SHA-256 of its key.
CREATE FUNCTION portal_session_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portal_sessions', encode(OLD.key_hash, 'hex'));
    RETURN NULL;
END $$;
CREATE TRIGGER sessions_changed
    AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION portal_session_changed();

-- A login deleted, or changed in anything but a later `last_seen_at`: its
-- id. The idle-timeout bookkeeping (`last_seen_at` moving forward, written
-- behind in batches) announces nothing: a copy only ever thinks a login
-- older than it is, and asks PostgreSQL then. `last_seen_at` moving back
-- (by hand) is announced like any change.
CREATE FUNCTION portal_login_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portal_logins', OLD.id::text);
    RETURN NULL;
END $$;
CREATE TRIGGER logins_deleted
    AFTER DELETE ON logins
    FOR EACH ROW EXECUTE FUNCTION portal_login_changed();
CREATE TRIGGER logins_updated
    AFTER UPDATE ON logins
    FOR EACH ROW
    WHEN (NEW.last_seen_at < OLD.last_seen_at
          OR to_jsonb(NEW) - 'last_seen_at' IS DISTINCT FROM to_jsonb(OLD) - 'last_seen_at')
    EXECUTE FUNCTION portal_login_changed();

-- Access tokens: an inserted token is not announced. No instance keeps the
-- absence of a token (a miss is read from PostgreSQL), so no copy can be
-- stale; an upsert over an existing token fires the UPDATE trigger.
DROP TRIGGER access_token_changed ON access_tokens;
CREATE TRIGGER access_token_changed
    AFTER UPDATE OR DELETE ON access_tokens
    FOR EACH ROW EXECUTE FUNCTION portal_access_token_changed();
