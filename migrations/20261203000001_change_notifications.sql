-- Changes to tenants and to cached access tokens are announced, so that each
-- portal instance can keep its own copy of both (crates/portal/src/local_cache.rs)
-- and drop it the moment another instance, the `portal tenants` command or a
-- hand-written statement changes the table. Notifications are sent at commit,
-- and repeats within a transaction are folded into one.

-- A notification with an empty payload on the channel named by the
-- trigger's argument: "anything may have changed".
CREATE FUNCTION portal_notify_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END $$;

-- Any change to tenants: instances reload the (small) table.
CREATE TRIGGER tenants_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION portal_notify_changed('portal_tenants');

-- A cached access token written or removed: the payload is its login's id
-- (deletions cascading from a login included; both logins if an update moves it).
CREATE FUNCTION portal_access_token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('portal_access_tokens', OLD.login_id::text);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('portal_access_tokens', NEW.login_id::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER access_token_changed
    AFTER INSERT OR UPDATE OR DELETE ON access_tokens
    FOR EACH ROW EXECUTE FUNCTION portal_access_token_changed();

-- Emptied at once: every login's tokens (the empty payload).
CREATE TRIGGER access_tokens_truncated
    AFTER TRUNCATE ON access_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION portal_notify_changed('portal_access_tokens');
