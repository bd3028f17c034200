//! The `audit_events` table: organization self-service's trail of admin
//! actions, and the per-organization lock those actions take.

use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use time::OffsetDateTime;

/// An action to record.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// The organization acted on.
    pub organization_id: &'a str,
    /// Who acted (`sub`).
    pub actor_sub: &'a str,
    /// Their name, if the ID token gave one.
    pub actor_name: Option<&'a str>,
    /// `invite`, `revoke_invitation`, `set_roles`, `remove_member`, `accept_invitation`.
    pub action: &'a str,
    /// A user id, or an invitee's email address.
    pub target: &'a str,
    /// What was asked.
    pub detail: serde_json::Value,
    /// `ok`, `refused` or `failed`.
    pub outcome: &'a str,
    /// Why it was refused or failed.
    pub reason: Option<&'a str>,
}

/// A recorded action.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Event {
    /// Increasing id (the pagination cursor).
    pub id: i64,
    /// Who acted (`sub`).
    pub actor_sub: String,
    /// Their name.
    pub actor_name: Option<String>,
    /// What they did.
    pub action: String,
    /// On whom.
    pub target: String,
    /// What was asked.
    pub detail: serde_json::Value,
    /// How it ended.
    pub outcome: String,
    /// Why it was refused or failed.
    pub reason: Option<String>,
    /// When.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: OffsetDateTime,
}

fn rfc3339<S: serde::Serializer>(at: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    let text = at
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(serde::ser::Error::custom)?;
    s.serialize_str(&text)
}

/// Records an action.
pub async fn record(pool: &PgPool, e: &NewEvent<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events \
         (organization_id, actor_sub, actor_name, action, target, detail, outcome, reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.organization_id)
    .bind(e.actor_sub)
    .bind(e.actor_name)
    .bind(e.action)
    .bind(e.target)
    .bind(&e.detail)
    .bind(e.outcome)
    .bind(e.reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// Up to `limit` events of an organization, newest first, older than the
/// event `before` when given.
pub async fn page(
    pool: &PgPool,
    organization_id: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Event>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, actor_sub, actor_name, action, target, detail, outcome, reason, created_at \
         FROM audit_events WHERE organization_id = $1 AND ($2::bigint IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(organization_id)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Held while an organization's members change: the "last admin" rule is
/// checked and applied under it, on every instance. Ends with the
/// transaction (dropped or [`OrganizationLock::release`]d).
pub struct OrganizationLock(Transaction<'static, Postgres>);

/// Waits for the lock of `organization_id`.
pub async fn lock_organization(
    pool: &PgPool,
    organization_id: &str,
) -> Result<OrganizationLock, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('portal:organization:' || $1, 0))")
        .bind(organization_id)
        .execute(&mut *tx)
        .await?;
    Ok(OrganizationLock(tx))
}

impl OrganizationLock {
    /// Lets the next change of this organization go ahead.
    pub async fn release(self) -> Result<(), sqlx::Error> {
        self.0.commit().await
    }
}
