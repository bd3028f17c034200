-- Changes to sessions and logins are announced, so that each portal instance
-- can serve signed-in pages from its own copy of both
-- (crates/portal/src/storage/caching.rs) and drop an entry the moment
-- another instance, the `portal sessions` command or a hand-written
-- statement changes or deletes its row.
--
-- One notification per statement: the payload lists the rows' keys,
-- separated by commas; an empty payload means "any row may have changed"
-- (a statement touching too many rows for one payload, or a TRUNCATE).
-- Inserts are not announced: no instance has a copy of a row it never read.

-- Announces `keys` (comma-separated) on `channel`: nothing when there are
-- none, an empty payload ("any row") when they would not fit in one.
CREATE FUNCTION portal_notify_keys(channel text, keys text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF keys IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_notify(channel, CASE WHEN length(keys) > 7000 THEN '' ELSE keys END);
END $$;

-- Sessions updated or deleted: the hex SHA-256 of their keys.
CREATE FUNCTION portal_sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    SELECT string_agg(DISTINCT encode(key_hash, 'hex'), ',') INTO payload FROM old_rows;
    PERFORM portal_notify_keys('portal_sessions', payload);
    RETURN NULL;
END $$;
CREATE TRIGGER sessions_updated
    AFTER UPDATE ON sessions REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION portal_sessions_changed();
CREATE TRIGGER sessions_deleted
    AFTER DELETE ON sessions REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION portal_sessions_changed();
CREATE TRIGGER sessions_truncated
    AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION portal_notify_changed('portal_sessions');

-- Logins deleted, or changed in anything but a later `last_seen_at`: their
-- ids. The idle-timeout bookkeeping (`last_seen_at` moving forward) is
-- written behind, in batches, and announces nothing: an instance's copy
-- only ever thinks a login older than it is, and asks PostgreSQL then.
-- `last_seen_at` moving back (by hand) is announced like any change.
CREATE FUNCTION portal_logins_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT string_agg(o.id::text, ',') INTO payload FROM old_rows o;
    ELSE
        SELECT string_agg(o.id::text, ',') INTO payload
          FROM old_rows o LEFT JOIN new_rows n ON n.id = o.id
         WHERE n.id IS NULL
            OR n.last_seen_at < o.last_seen_at
            OR to_jsonb(n) - 'last_seen_at' IS DISTINCT FROM to_jsonb(o) - 'last_seen_at';
    END IF;
    PERFORM portal_notify_keys('portal_logins', payload);
    RETURN NULL;
END $$;
CREATE TRIGGER logins_updated
    AFTER UPDATE ON logins REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION portal_logins_changed();
CREATE TRIGGER logins_deleted
    AFTER DELETE ON logins REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION portal_logins_changed();
CREATE TRIGGER logins_truncated
    AFTER TRUNCATE ON logins
    FOR EACH STATEMENT EXECUTE FUNCTION portal_notify_changed('portal_logins');
