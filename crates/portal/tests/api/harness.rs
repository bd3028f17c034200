//! The test harness hands every test a real, migrated PostgreSQL.

use sqlx::{Connection, PgConnection};

fn database_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL is set by `cargo xtask test` (or by you)")
}

#[tokio::test]
async fn the_harness_database_is_migrated_and_writable() {
    let mut conn = PgConnection::connect(&database_url()).await.unwrap();

    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let expected: Vec<i64> = portal::MIGRATOR.iter().map(|m| m.version).collect();
    assert!(!expected.is_empty());
    assert_eq!(applied, expected, "every migration is applied, in order");

    // Write and read back inside a transaction that is rolled back, so the
    // test leaves nothing behind and can run beside any other.
    let mut tx = conn.begin().await.unwrap();
    let slug = format!("harness-{}", uuid::Uuid::new_v4().simple());
    sqlx::query("INSERT INTO tenants (slug, display_name, organization_id) VALUES ($1, $2, $3)")
        .bind(&slug)
        .bind("Harness Inc.")
        .bind("org-harness")
        .execute(&mut *tx)
        .await
        .unwrap();
    let (name, org): (String, String) =
        sqlx::query_as("SELECT display_name, organization_id FROM tenants WHERE slug = $1")
            .bind(&slug)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(
        (name.as_str(), org.as_str()),
        ("Harness Inc.", "org-harness")
    );
    tx.rollback().await.unwrap();
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_fresh_test_database_rejects_a_bad_tenant_slug(pool: sqlx::PgPool) {
    let err = sqlx::query(
        "INSERT INTO tenants (slug, display_name, organization_id) VALUES ('Bad Slug!', 'x', 'y')",
    )
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("check constraint"), "{err}");
}
