//! Bootstrapping a machine-to-machine application in a freshly seeded Logto
//! by writing to Logto's own database — only on explicit request
//! (`--bootstrap-m2m`), for a Logto without a console to create one in.
//!
//! Three rows in tenant `default`: the application (`MachineToMachine`), its
//! secret in `application_secrets`, and its link in `applications_roles` to
//! the role Logto seeds for Management API access. The application is found
//! again by its name, so a rerun reuses it. Concurrent runs are serialized
//! by a transaction-scoped advisory lock.

use rand::Rng as _;
use sqlx::{Connection as _, PgConnection};

use super::ProvisionError;
use crate::management::M2mCredentials;

/// The name of the application `portal logto provision --bootstrap-m2m` makes.
pub const BOOTSTRAP_APP_NAME: &str = "Portal provisioning (bootstrap)";

/// The role Logto seeds for Management API access.
const MANAGEMENT_ROLE: &str = "Logto Management API access";

/// Logto's id alphabet.
const ID_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A random string over [`ID_ALPHABET`], from the operating system's CSPRNG.
fn random_id(len: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| char::from(ID_ALPHABET[rng.gen_range(0..ID_ALPHABET.len())]))
        .collect()
}

/// Whether the run made the application or found the one made before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrapped {
    /// Inserted now.
    Created,
    /// Found by name, reused.
    Reused,
}

fn db(e: sqlx::Error) -> ProvisionError {
    ProvisionError::LogtoDatabase(e)
}

/// Ensures a machine-to-machine application named `name` with Management API
/// access in the Logto database at `logto_database_url`, and returns its
/// credentials. `portal logto provision` passes [`BOOTSTRAP_APP_NAME`].
pub async fn bootstrap_m2m(
    logto_database_url: &str,
    name: &str,
) -> Result<(M2mCredentials, Bootstrapped), ProvisionError> {
    let mut conn = PgConnection::connect(logto_database_url)
        .await
        .map_err(db)?;
    let mut tx = conn.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('portal-bootstrap-m2m:' || $1))")
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(db)?;

    let found: Option<(String, String)> = sqlx::query_as(
        "SELECT a.id, s.value FROM applications a
           JOIN application_secrets s ON s.application_id = a.id AND s.tenant_id = a.tenant_id
          WHERE a.tenant_id = 'default' AND a.type = 'MachineToMachine' AND a.name = $1
            AND (s.expires_at IS NULL OR s.expires_at > now())
          ORDER BY a.created_at, s.created_at LIMIT 1",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    if let Some((id, secret)) = found {
        tx.commit().await.map_err(db)?;
        tracing::info!(app_id = %id, "reusing the bootstrapped M2M application");
        return Ok((M2mCredentials::new(id, secret), Bootstrapped::Reused));
    }

    let role: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM roles WHERE tenant_id = 'default' AND name = $1 AND type = 'MachineToMachine'",
    )
    .bind(MANAGEMENT_ROLE)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    let Some((role_id,)) = role else {
        return Err(ProvisionError::Bootstrap(format!(
            "no role {MANAGEMENT_ROLE:?} in tenant \"default\": not a seeded Logto database"
        )));
    };

    let id = random_id(21);
    let secret = random_id(32);
    sqlx::query(
        "INSERT INTO applications (tenant_id, id, name, secret, description, type, oidc_client_metadata)
         VALUES ('default', $1, $2, $3, $4, 'MachineToMachine',
                 '{\"redirectUris\":[],\"postLogoutRedirectUris\":[]}'::jsonb)",
    )
    .bind(&id)
    .bind(name)
    .bind(&secret)
    .bind("Made by `portal logto provision --bootstrap-m2m`: Management API access for provisioning.")
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO application_secrets (tenant_id, application_id, name, value)
         VALUES ('default', $1, 'bootstrap', $2)",
    )
    .bind(&id)
    .bind(&secret)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO applications_roles (tenant_id, id, application_id, role_id)
         VALUES ('default', $1, $2, $3)",
    )
    .bind(random_id(21))
    .bind(&id)
    .bind(&role_id)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    tracing::info!(app_id = %id, "bootstrapped an M2M application in Logto's database");
    Ok((M2mCredentials::new(id, secret), Bootstrapped::Created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_logto_shaped_and_differ() {
        let a = random_id(21);
        assert_eq!(a.len(), 21);
        assert!(a.bytes().all(|b| ID_ALPHABET.contains(&b)));
        assert_ne!(a, random_id(21));
    }
}
