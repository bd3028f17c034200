-- The login a session names, beside its state (where actix-session keeps it
-- as JSON text), so that loading a session can join its login by key: the
-- session store writes both from the same state. Sessions saved before this
-- migration get theirs from the state.
ALTER TABLE sessions ADD COLUMN login_id UUID;
UPDATE sessions SET login_id = btrim(state->>'login_id', '"')::uuid
 WHERE state->>'login_id' ~ '^"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$';
