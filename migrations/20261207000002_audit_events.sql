-- Organization self-service: every admin action (and every acceptance of an
-- invitation), who, what, on whom, when and how it ended, shown newest first
-- to the organization's admins at /t/{slug}/audit. Rows are kept: an audit
-- trail is not swept.
CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    organization_id TEXT NOT NULL,
    -- The acting user's `sub`, and their name as the ID token gave it.
    actor_sub TEXT NOT NULL,
    actor_name TEXT,
    -- invite, revoke_invitation, set_roles, remove_member, accept_invitation
    action TEXT NOT NULL,
    -- A user id, or an invitee's email address.
    target TEXT NOT NULL,
    -- What was asked (roles by name, an invitation id).
    detail JSONB NOT NULL DEFAULT '{}',
    -- ok, refused (a rule said no), failed (Logto did not do it)
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    reason TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_by_organization ON audit_events (organization_id, id DESC);
