//! The PostgreSQL persistence layer: token encryption, the session store, token
//! storage (sign-in attempts, tokens, access-token cache, refresh lock), logins
//! and the sweeper. Each test has its own database; no sleeps.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_session::storage::{LoadError, SessionKey, SessionStore};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use logto_actix::postgres::{CryptoError, TokenCipher, sha256};
use logto_actix::postgres::{PgTokenStorage, refresh_lock_key};
use logto_client::{
    AccessToken, AccessTokenKey, CachedAccessToken, CodeVerifier, IdToken, RefreshToken,
    SignInSession, Storage, TokenSet,
};
use portal::infra::sweeper;
use portal::storage::logins;
use portal::storage::session_store::PgSessionStore;
use sqlx::PgPool;
use uuid::Uuid;

const KEY: &str = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
const OTHER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const ISS: &str = "https://logto.test/oidc";
const DAY: Duration = Duration::from_secs(24 * 3600);

fn cipher() -> Arc<TokenCipher> {
    Arc::new(TokenCipher::from_base64(KEY).unwrap())
}

fn binding() -> Vec<u8> {
    URL_SAFE_NO_PAD
        .encode(Uuid::new_v4().as_bytes())
        .into_bytes()
}

fn storage(pool: &PgPool, binding: &[u8], login_id: Uuid) -> PgTokenStorage {
    PgTokenStorage::new(pool.clone(), cipher(), binding.to_vec(), login_id, DAY)
}

/// A compact JWS-shaped ID token (storage never verifies it; the client did).
fn id_token(iss: &str, sub: &str, sid: Option<&str>) -> IdToken {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES384","typ":"JWT"}"#);
    let mut claims =
        serde_json::json!({"iss": iss, "sub": sub, "aud": "app", "exp": 4_000_000_000i64});
    if let Some(sid) = sid {
        claims["sid"] = sid.into();
    }
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signature = URL_SAFE_NO_PAD.encode(format!("idtoken-signature-{}", Uuid::new_v4()));
    IdToken::new(format!("{header}.{payload}.{signature}"))
}

fn tokens(sub: &str, sid: Option<&str>, refresh: &str) -> TokenSet {
    TokenSet {
        id_token: id_token(ISS, sub, sid),
        refresh_token: Some(RefreshToken::new(refresh)),
    }
}

fn access(token: &str) -> CachedAccessToken {
    CachedAccessToken {
        token: AccessToken::new(token),
        expires_at: 4_000_000_000,
        scope: "read:members".into(),
        obtained_at: 1_700_000_000,
    }
}

fn sign_in(state: &str) -> SignInSession {
    SignInSession {
        state: state.into(),
        nonce: format!("nonce-{state}"),
        code_verifier: CodeVerifier::new(format!("verifier-{state}")),
        redirect_uri: "http://127.0.0.1/callback".into(),
        created_at: 1_700_000_000,
        app_state: Some(serde_json::json!({"return_to": format!("/{state}")})),
    }
}

/// A signed-in login for `sub`, created through token storage.
async fn login(pool: &PgPool, sub: &str, sid: Option<&str>) -> Uuid {
    let id = Uuid::new_v4();
    storage(pool, &binding(), id)
        .save_tokens(&tokens(sub, sid, &format!("rt-{id}")))
        .await
        .unwrap();
    id
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every row of every table as text (bytea shows as hex), plus the raw bytes
/// of every bytea column.
async fn dump(pool: &PgPool) -> Vec<u8> {
    let mut out = Vec::new();
    for table in [
        "sessions",
        "logins",
        "access_tokens",
        "sign_in_attempts",
        "seen_logout_tokens",
    ] {
        let sql = format!("SELECT t::text FROM {table} t");
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap();
        for r in rows {
            out.extend_from_slice(r.as_bytes());
            out.push(b'\n');
        }
    }
    for sql in [
        "SELECT key_hash FROM sessions",
        "SELECT id_token FROM logins",
        "SELECT coalesce(refresh_token, '') FROM logins",
        "SELECT token FROM access_tokens",
        "SELECT payload FROM sign_in_attempts",
        "SELECT state_hash FROM sign_in_attempts",
        "SELECT browser_hash FROM sign_in_attempts",
    ] {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(sql).fetch_all(pool).await.unwrap();
        for r in rows {
            out.extend_from_slice(&r);
            out.push(b'\n');
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn assert_absent(haystack: &[u8], secret: &str) {
    for needle in [
        secret.as_bytes().to_vec(),
        hex(secret.as_bytes()).into_bytes(),
    ] {
        assert!(
            !haystack
                .windows(needle.len())
                .any(|w| w == needle.as_slice()),
            "a secret appears in the database"
        );
    }
}

// ---------------------------------------------------------------- crypto

#[test]
fn cipher_round_trips_and_rejects_wrong_key_tampering_and_swapped_aad() {
    let c = TokenCipher::from_base64(KEY).unwrap();
    let sealed = c.encrypt(b"refresh-token-value", b"logins:1:refresh_token");
    assert_eq!(
        c.decrypt(&sealed, b"logins:1:refresh_token").unwrap(),
        b"refresh-token-value"
    );
    assert!(!sealed.windows(7).any(|w| w == b"refresh"));

    let other = TokenCipher::from_base64(OTHER_KEY).unwrap();
    assert_eq!(
        other
            .decrypt(&sealed, b"logins:1:refresh_token")
            .unwrap_err(),
        CryptoError::Decrypt
    );

    for i in [0, 12, sealed.len() - 1] {
        let mut tampered = sealed.clone();
        tampered[i] ^= 1;
        assert_eq!(
            c.decrypt(&tampered, b"logins:1:refresh_token").unwrap_err(),
            CryptoError::Decrypt
        );
    }
    assert_eq!(
        c.decrypt(&sealed, b"logins:2:refresh_token").unwrap_err(),
        CryptoError::Decrypt
    );
    assert_eq!(
        c.decrypt(&sealed, b"logins:1:id_token").unwrap_err(),
        CryptoError::Decrypt
    );
    assert_eq!(
        c.decrypt(&sealed[..10], b"x").unwrap_err(),
        CryptoError::Truncated
    );
}

#[test]
fn cipher_keys_must_be_32_bytes_of_base64_and_debug_is_redacted() {
    let url_safe = URL_SAFE_NO_PAD.encode([0xfbu8; 32]);
    assert!(TokenCipher::from_base64(&url_safe).is_ok());
    assert!(matches!(
        TokenCipher::from_base64("short"),
        Err(CryptoError::KeyLength(_)) | Err(CryptoError::KeyNotBase64)
    ));
    assert_eq!(
        TokenCipher::from_base64(&URL_SAFE_NO_PAD.encode([1u8; 31])).unwrap_err(),
        CryptoError::KeyLength(31)
    );
    assert_eq!(
        TokenCipher::from_base64("%%%").unwrap_err(),
        CryptoError::KeyNotBase64
    );
    let c = TokenCipher::from_base64(KEY).unwrap();
    assert_eq!(format!("{c:?}"), "TokenCipher([redacted])");
    assert_eq!(sha256(b"abc").len(), 32);
}

// --------------------------------------------------------- session store

fn state(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn key(s: &str) -> SessionKey {
    SessionKey::try_from(s.to_owned()).unwrap()
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn session_store_saves_loads_updates_and_deletes(pool: PgPool) {
    let store = PgSessionStore::new(pool.clone());
    let ttl = actix_web::cookie::time::Duration::minutes(30);
    let k = store
        .save(state(&[(logto_actix::LOGIN_ID_KEY, "\"abc\"")]), &ttl)
        .await
        .unwrap();
    let raw: String = k.as_ref().to_owned();
    // 256 bits, URL-safe base64.
    assert_eq!(URL_SAFE_NO_PAD.decode(&raw).unwrap().len(), 32);
    assert_eq!(
        store.load(&key(&raw)).await.unwrap(),
        Some(state(&[(logto_actix::LOGIN_ID_KEY, "\"abc\"")]))
    );

    let same = store
        .update(key(&raw), state(&[("a", "1"), ("b", "2")]), &ttl)
        .await
        .unwrap();
    assert_eq!(same.as_ref(), raw, "a live session keeps its key");
    assert_eq!(
        store.load(&key(&raw)).await.unwrap(),
        Some(state(&[("a", "1"), ("b", "2")]))
    );

    store
        .update_ttl(&key(&raw), &actix_web::cookie::time::Duration::hours(2))
        .await
        .unwrap();
    let left: f64 =
        sqlx::query_scalar("SELECT extract(epoch FROM expires_at - now())::float8 FROM sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(left > 3600.0 && left <= 7200.0, "{left}");

    assert!(store.load(&key("unknown-key")).await.unwrap().is_none());
    store.delete(&key(&raw)).await.unwrap();
    assert!(store.load(&key(&raw)).await.unwrap().is_none());
    assert_eq!(count(&pool, "sessions").await, 0);
}

/// The caching layer in front of the session store: a session read or
/// written once is served from memory while changes are heard, and a
/// change made elsewhere (here: by hand) drops it within the
/// notification's delay. While nothing is heard, every load reads the table.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_caching_session_store_serves_from_memory_and_hears_changes(pool: PgPool) {
    use portal::storage::caching::CachingSessionStore;
    use portal::storage::local_cache::{self, LocalCache};

    let cache = Arc::new(LocalCache::new(16));
    let store = CachingSessionStore::new(PgSessionStore::new(pool.clone()), Arc::clone(&cache));
    let ttl = actix_web::cookie::time::Duration::minutes(30);

    // Deaf: the table answers.
    let k = store.save(state(&[("a", "1")]), &ttl).await.unwrap();
    sqlx::query("DELETE FROM sessions")
        .execute(&pool)
        .await
        .unwrap();
    assert!(store.load(&k).await.unwrap().is_none());

    let listener = local_cache::spawn(pool.clone(), pool.clone(), Arc::clone(&cache));
    crate::support::eventually("the listener to hear", Duration::from_secs(30), || async {
        cache.is_hearing().then_some(())
    })
    .await;
    let k = store.save(state(&[("a", "2")]), &ttl).await.unwrap();
    let read = store.load(&k).await.unwrap();
    assert_eq!(read, Some(state(&[("a", "2")])));
    // Another instance's change: heard, dropped, read again.
    sqlx::query("UPDATE sessions SET state = '{\"a\": \"3\"}'::jsonb")
        .execute(&pool)
        .await
        .unwrap();
    crate::support::eventually(
        "the change to be heard",
        Duration::from_secs(30),
        || async { (store.load(&k).await.unwrap() == Some(state(&[("a", "3")]))).then_some(()) },
    )
    .await;
    sqlx::query("DELETE FROM sessions")
        .execute(&pool)
        .await
        .unwrap();
    crate::support::eventually(
        "the delete to be heard",
        Duration::from_secs(30),
        || async { store.load(&k).await.unwrap().is_none().then_some(()) },
    )
    .await;
    // Changed here: dropped at once.
    let k = store.save(state(&[("a", "4")]), &ttl).await.unwrap();
    assert!(store.load(&k).await.unwrap().is_some());
    store.delete(&k).await.unwrap();
    assert!(store.load(&k).await.unwrap().is_none());
    listener.abort();
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn session_store_keeps_only_a_hash_of_distinct_random_keys(pool: PgPool) {
    let store = PgSessionStore::new(pool.clone());
    let ttl = actix_web::cookie::time::Duration::minutes(5);
    let mut keys = std::collections::HashSet::new();
    for _ in 0..20 {
        let k = store.save(state(&[("x", "y")]), &ttl).await.unwrap();
        assert!(keys.insert(String::from(k)), "duplicate session key");
    }
    let db = dump(&pool).await;
    for k in &keys {
        assert_absent(&db, k);
        let stored: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sessions WHERE key_hash = $1)")
                .bind(sha256(k.as_bytes()))
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(stored);
    }
    // What the table holds is not a working cookie.
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT key_hash FROM sessions")
        .fetch_all(&pool)
        .await
        .unwrap();
    for h in hashes {
        assert!(
            store
                .load(&key(&URL_SAFE_NO_PAD.encode(&h)))
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.load(&key(&hex(&h))).await.unwrap().is_none());
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn an_expired_session_is_not_loaded_and_its_update_gets_a_new_key(pool: PgPool) {
    let store = PgSessionStore::new(pool.clone());
    let ttl = actix_web::cookie::time::Duration::minutes(5);
    let old = String::from(store.save(state(&[("a", "1")]), &ttl).await.unwrap());
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(store.load(&key(&old)).await.unwrap().is_none());
    // Extending an expired session does not revive it.
    store.update_ttl(&key(&old), &ttl).await.unwrap();
    assert!(store.load(&key(&old)).await.unwrap().is_none());

    let new = String::from(
        store
            .update(key(&old), state(&[("a", "2")]), &ttl)
            .await
            .unwrap(),
    );
    assert_ne!(new, old);
    assert_eq!(
        store.load(&key(&new)).await.unwrap(),
        Some(state(&[("a", "2")]))
    );
    assert!(store.load(&key(&old)).await.unwrap().is_none());

    // Updating a key the server never issued also gets a fresh key.
    let forged = String::from(
        store
            .update(key("attacker-chosen"), state(&[]), &ttl)
            .await
            .unwrap(),
    );
    assert_ne!(forged, "attacker-chosen");
}

/// A stored state that is not an object of strings is a deserialization
/// error (actix-session then starts an empty session), never an outage:
/// with or without the caching layer in front.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_malformed_stored_state_is_a_deserialization_error(pool: PgPool) {
    use portal::storage::caching::CachingSessionStore;
    async fn check(store: &impl SessionStore, pool: &PgPool) {
        let ttl = actix_web::cookie::time::Duration::minutes(30);
        let k = store.save(state(&[("a", "1")]), &ttl).await.unwrap();
        for bad in [r#"{"a": 1}"#, "[1, 2]", r#""text""#] {
            sqlx::query("UPDATE sessions SET state = $1::jsonb")
                .bind(bad)
                .execute(pool)
                .await
                .unwrap();
            let loaded = store.load(&k).await;
            assert!(
                matches!(loaded, Err(LoadError::Deserialization(_))),
                "{bad}: {loaded:?}"
            );
        }
        store.delete(&k).await.unwrap();
    }
    let plain = PgSessionStore::new(pool.clone());
    check(&plain, &pool).await;
    check(&CachingSessionStore::new(plain, Arc::default()), &pool).await;
}

#[tokio::test]
async fn session_store_reports_an_unreachable_database_as_other() {
    // Nothing listens on port 1.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect_lazy("postgres://postgres@127.0.0.1:1/none")
        .unwrap();
    let store = PgSessionStore::new(pool);
    let ttl = actix_web::cookie::time::Duration::minutes(5);
    assert!(matches!(
        store.load(&key("k")).await,
        Err(LoadError::Other(_))
    ));
    assert!(matches!(
        store.save(state(&[]), &ttl).await,
        Err(actix_session::storage::SaveError::Other(_))
    ));
    assert!(matches!(
        store.update(key("k"), state(&[]), &ttl).await,
        Err(actix_session::storage::UpdateError::Other(_))
    ));
    assert!(store.delete(&key("k")).await.is_err());
}

// ---------------------------------------------------------- token storage

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn tokens_round_trip_and_are_never_stored_in_clear(pool: PgPool) {
    let id = Uuid::new_v4();
    let s = storage(&pool, &binding(), id);
    assert!(s.load_tokens().await.unwrap().is_none());
    assert_eq!(s.session_key(), Some(id.to_string()));

    let set = tokens("alice", Some("sid-1"), "refresh-token-SECRET-1");
    s.save_tokens(&set).await.unwrap();
    let back = s.load_tokens().await.unwrap().unwrap();
    assert_eq!(back.id_token.secret(), set.id_token.secret());
    assert_eq!(
        back.refresh_token.unwrap().secret(),
        "refresh-token-SECRET-1"
    );

    let org = AccessTokenKey::organization("org-1");
    let api = AccessTokenKey::organization_resource("https://api.test".parse().unwrap(), "org-1");
    s.set_access_token(&org, &access("access-token-SECRET-org"))
        .await
        .unwrap();
    s.set_access_token(&api, &access("access-token-SECRET-api"))
        .await
        .unwrap();
    let got = s.get_access_token(&org).await.unwrap().unwrap();
    assert_eq!(got.token.secret(), "access-token-SECRET-org");
    assert_eq!(
        (got.expires_at, got.scope.as_str(), got.obtained_at),
        (4_000_000_000, "read:members", 1_700_000_000)
    );
    assert_eq!(
        s.get_access_token(&api)
            .await
            .unwrap()
            .unwrap()
            .token
            .secret(),
        "access-token-SECRET-api"
    );
    assert!(
        s.get_access_token(&AccessTokenKey::userinfo())
            .await
            .unwrap()
            .is_none()
    );

    let record = logins::find(&pool, id).await.unwrap().unwrap();
    assert_eq!(
        (record.issuer.as_str(), record.user_sub.as_str()),
        (ISS, "alice")
    );
    assert_eq!(record.logto_sid.as_deref(), Some("sid-1"));
    let ttl = (record.expires_at - record.created_at).whole_seconds();
    assert!(
        (DAY.as_secs() as i64 - ttl).abs() <= 1,
        "absolute lifetime set at creation: {ttl}"
    );
    assert_eq!(
        logins::id_token(&pool, &cipher(), id)
            .await
            .unwrap()
            .as_deref(),
        Some(set.id_token.secret())
    );

    let db = dump(&pool).await;
    for secret in [
        set.id_token.secret(),
        "refresh-token-SECRET-1",
        "access-token-SECRET-org",
        "access-token-SECRET-api",
    ] {
        assert_absent(&db, secret);
    }
    // Not even the ID token's signature part.
    assert_absent(&db, set.id_token.secret().rsplit('.').next().unwrap());

    // The same key from another process opens them; another key does not.
    let other = PgTokenStorage::new(
        pool.clone(),
        Arc::new(TokenCipher::from_base64(OTHER_KEY).unwrap()),
        binding(),
        id,
        DAY,
    );
    assert!(other.load_tokens().await.is_err());
    assert!(
        other.get_access_token(&org).await.unwrap().is_none(),
        "undecryptable cache entry = miss"
    );

    s.remove_access_token(&org).await.unwrap();
    assert!(s.get_access_token(&org).await.unwrap().is_none());
    assert!(s.get_access_token(&api).await.unwrap().is_some());
    s.clear_access_tokens().await.unwrap();
    assert_eq!(count(&pool, "access_tokens").await, 0);
    assert!(
        s.load_tokens().await.unwrap().is_some(),
        "ID and refresh tokens stay"
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn ciphertexts_swapped_between_rows_do_not_open(pool: PgPool) {
    let a = login(&pool, "alice", None).await;
    let b = login(&pool, "bob", None).await;
    let key = AccessTokenKey::resource("https://api.test".parse().unwrap());
    storage(&pool, &binding(), a)
        .set_access_token(&key, &access("at-alice"))
        .await
        .unwrap();
    storage(&pool, &binding(), b)
        .set_access_token(&key, &access("at-bob"))
        .await
        .unwrap();
    // Bob's row gets Alice's ciphertexts.
    sqlx::query(
        "UPDATE logins SET refresh_token = (SELECT refresh_token FROM logins WHERE id = $1) WHERE id = $2",
    )
    .bind(a)
    .bind(b)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE access_tokens SET token = (SELECT token FROM access_tokens WHERE login_id = $1) WHERE login_id = $2",
    )
    .bind(a)
    .bind(b)
    .execute(&pool)
    .await
    .unwrap();
    assert!(storage(&pool, &binding(), b).load_tokens().await.is_err());
    assert!(
        storage(&pool, &binding(), b)
            .get_access_token(&key)
            .await
            .unwrap()
            .is_none()
    );
    // A column swapped within one row fails too.
    sqlx::query("UPDATE logins SET id_token = refresh_token WHERE id = $1")
        .bind(a)
        .execute(&pool)
        .await
        .unwrap();
    assert!(storage(&pool, &binding(), a).load_tokens().await.is_err());
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn save_tokens_replaces_tokens_keeps_the_deadline_and_drops_cached_access_tokens(
    pool: PgPool,
) {
    let id = login(&pool, "alice", Some("sid-1")).await;
    let s = storage(&pool, &binding(), id);
    s.set_access_token(&AccessTokenKey::userinfo(), &access("at"))
        .await
        .unwrap();
    sqlx::query("UPDATE logins SET expires_at = now() + interval '1 hour' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    s.save_tokens(&tokens("alice", Some("sid-2"), "rt-new"))
        .await
        .unwrap();
    let t = s.load_tokens().await.unwrap().unwrap();
    assert_eq!(t.refresh_token.unwrap().secret(), "rt-new");
    let r = logins::find(&pool, id).await.unwrap().unwrap();
    assert_eq!(r.logto_sid.as_deref(), Some("sid-2"));
    let left = (r.expires_at - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!(
        left <= 3600,
        "an existing login keeps its absolute deadline: {left}"
    );
    assert_eq!(count(&pool, "access_tokens").await, 0);
    // A token set without a refresh token is stored as such.
    s.save_tokens(&TokenSet {
        id_token: id_token(ISS, "alice", None),
        refresh_token: None,
    })
    .await
    .unwrap();
    assert!(
        s.load_tokens()
            .await
            .unwrap()
            .unwrap()
            .refresh_token
            .is_none()
    );
    // An expired login serves no tokens.
    sqlx::query("UPDATE logins SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(s.load_tokens().await.unwrap().is_none());
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn an_access_token_for_a_login_that_is_gone_is_not_cached(pool: PgPool) {
    let s = storage(&pool, &binding(), Uuid::new_v4());
    s.set_access_token(&AccessTokenKey::userinfo(), &access("at"))
        .await
        .unwrap();
    assert_eq!(count(&pool, "access_tokens").await, 0);
}

// -------------------------------------------------------- sign-in attempts

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn two_tabs_sign_ins_both_work_and_are_single_use(pool: PgPool) {
    let browser = binding();
    let s = storage(&pool, &browser, Uuid::new_v4());
    s.save_sign_in_session(&sign_in("tab-one-state"))
        .await
        .unwrap();
    s.save_sign_in_session(&sign_in("tab-two-state"))
        .await
        .unwrap();
    assert_eq!(count(&pool, "sign_in_attempts").await, 2);
    let db = dump(&pool).await;
    for secret in [
        "tab-one-state",
        "verifier-tab-one-state",
        "nonce-tab-two-state",
        "/tab-two-state",
    ] {
        assert_absent(&db, secret);
    }

    // Another request of the same browser (a new storage value) finishes them, in either order.
    let later = storage(&pool, &browser, Uuid::new_v4());
    let two = later
        .take_sign_in_session("tab-two-state")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(two.code_verifier.secret(), "verifier-tab-two-state");
    assert_eq!(two.app_state.unwrap()["return_to"], "/tab-two-state");
    let one = later
        .take_sign_in_session("tab-one-state")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (one.state.as_str(), one.nonce.as_str()),
        ("tab-one-state", "nonce-tab-one-state")
    );

    assert!(
        later
            .take_sign_in_session("tab-one-state")
            .await
            .unwrap()
            .is_none(),
        "single use"
    );
    assert!(
        later
            .take_sign_in_session("tab-two-state")
            .await
            .unwrap()
            .is_none(),
        "single use"
    );
    assert!(
        later
            .take_sign_in_session("never-started")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(count(&pool, "sign_in_attempts").await, 0);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn another_browser_can_neither_take_nor_burn_a_sign_in(pool: PgPool) {
    let victim = binding();
    storage(&pool, &victim, Uuid::new_v4())
        .save_sign_in_session(&sign_in("victim-state"))
        .await
        .unwrap();
    let attacker = storage(&pool, &binding(), Uuid::new_v4());
    assert!(
        attacker
            .take_sign_in_session("victim-state")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        count(&pool, "sign_in_attempts").await,
        1,
        "the victim's attempt survives"
    );
    // A browser without a usable binding gets nothing either.
    let unbound = storage(&pool, b"", Uuid::new_v4());
    assert!(
        unbound
            .take_sign_in_session("victim-state")
            .await
            .unwrap()
            .is_none()
    );
    assert!(unbound.save_sign_in_session(&sign_in("x")).await.is_err());
    assert!(
        storage(&pool, &victim, Uuid::new_v4())
            .take_sign_in_session("victim-state")
            .await
            .unwrap()
            .is_some()
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn an_expired_sign_in_is_not_returned(pool: PgPool) {
    let browser = binding();
    let s = storage(&pool, &browser, Uuid::new_v4());
    s.save_sign_in_session(&sign_in("old-state")).await.unwrap();
    let left: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM expires_at - now())::float8 FROM sign_in_attempts",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(left > 590.0 && left <= 600.0, "ten minutes: {left}");
    sqlx::query("UPDATE sign_in_attempts SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(s.take_sign_in_session("old-state").await.unwrap().is_none());
}

// ------------------------------------------------------------ refresh lock

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn concurrent_refreshes_of_one_login_serialize(pool: PgPool) {
    let id = login(&pool, "alice", None).await;
    let key = AccessTokenKey::resource("https://api.test".parse().unwrap());
    let first = storage(&pool, &binding(), id);
    let mut guard = first.lock_for_refresh().await.unwrap();
    let before = guard.load_tokens().await.unwrap().unwrap();
    assert_eq!(
        before.refresh_token.as_ref().unwrap().secret(),
        format!("rt-{id}")
    );

    let (acquired_tx, mut acquired) = tokio::sync::oneshot::channel();
    let second = storage(&pool, &binding(), id);
    let waiter = tokio::spawn(async move {
        let mut g = second.lock_for_refresh().await.unwrap();
        let _ = acquired_tx.send(());
        let tokens = g.load_tokens().await.unwrap().unwrap();
        let cached = g.get_access_token(&key).await.unwrap();
        (
            tokens.refresh_token.unwrap().secret().to_owned(),
            cached.map(|c| c.token.secret().to_owned()),
        )
    });
    // Bounded wait as the assertion: the second refresh is held back.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut acquired)
            .await
            .is_err()
    );

    let rotated = TokenSet {
        id_token: before.id_token.clone(),
        refresh_token: Some(RefreshToken::new("rt-rotated")),
    };
    guard
        .commit(
            &rotated,
            &AccessTokenKey::resource("https://api.test".parse().unwrap()),
            &access("at-fresh"),
        )
        .await
        .unwrap();
    let (rt, at) = waiter.await.unwrap();
    assert_eq!(
        rt, "rt-rotated",
        "the second sees the first's committed refresh token"
    );
    assert_eq!(at.as_deref(), Some("at-fresh"));
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_refresh_lock_is_held_in_postgres_against_other_instances(pool: PgPool) {
    let id = login(&pool, "alice", None).await;
    // "Instance B" (a raw transaction) holds the lock and rotates the token.
    let mut other = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(refresh_lock_key(id))
        .execute(&mut *other)
        .await
        .unwrap();
    let (acquired_tx, mut acquired) = tokio::sync::oneshot::channel();
    let s = storage(&pool, &binding(), id);
    let waiter = tokio::spawn(async move {
        let mut g = s.lock_for_refresh().await.unwrap();
        let _ = acquired_tx.send(());
        g.load_tokens()
            .await
            .unwrap()
            .unwrap()
            .refresh_token
            .unwrap()
            .secret()
            .to_owned()
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut acquired)
            .await
            .is_err()
    );
    let sealed = cipher().encrypt(
        b"rt-from-b",
        format!("logins:{id}:refresh_token").as_bytes(),
    );
    sqlx::query("UPDATE logins SET refresh_token = $2 WHERE id = $1")
        .bind(id)
        .bind(sealed)
        .execute(&mut *other)
        .await
        .unwrap();
    other.commit().await.unwrap();
    assert_eq!(waiter.await.unwrap(), "rt-from-b");

    // And the guard holds it against "instance B".
    let s = storage(&pool, &binding(), id);
    let guard = s.lock_for_refresh().await.unwrap();
    let mut probe = pool.begin().await.unwrap();
    let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(refresh_lock_key(id))
        .fetch_one(&mut *probe)
        .await
        .unwrap();
    assert!(!free);
    probe.rollback().await.unwrap();
    drop(guard);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn dropping_the_guard_rolls_back_and_releases_the_lock(pool: PgPool) {
    let id = login(&pool, "alice", None).await;
    let s = storage(&pool, &binding(), id);
    let key = AccessTokenKey::organization("org-1");
    {
        let mut g = s.lock_for_refresh().await.unwrap();
        assert!(g.load_tokens().await.unwrap().is_some());
        assert!(g.get_access_token(&key).await.unwrap().is_none());
    }
    // The lock is free again (within the lock timeout, or this fails).
    let g = tokio::time::timeout(Duration::from_secs(10), s.lock_for_refresh())
        .await
        .unwrap()
        .unwrap();
    drop(g);
    // Nothing changed.
    let t = s.load_tokens().await.unwrap().unwrap();
    assert_eq!(t.refresh_token.unwrap().secret(), format!("rt-{id}"));
    assert_eq!(count(&pool, "access_tokens").await, 0);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_refresh_of_a_login_that_ended_meanwhile_stores_nothing(pool: PgPool) {
    let id = login(&pool, "alice", None).await;
    let s = storage(&pool, &binding(), id);
    let mut g = s.lock_for_refresh().await.unwrap();
    let t = g.load_tokens().await.unwrap().unwrap();
    // Sign-out elsewhere does not wait for the refresh.
    assert!(
        tokio::time::timeout(Duration::from_secs(10), logins::delete(&pool, id))
            .await
            .unwrap()
            .unwrap()
    );
    g.commit(&t, &AccessTokenKey::userinfo(), &access("at"))
        .await
        .unwrap();
    assert_eq!(count(&pool, "logins").await, 0);
    assert_eq!(count(&pool, "access_tokens").await, 0);
    // A guard on a login that is gone sees no tokens.
    let mut g = s.lock_for_refresh().await.unwrap();
    assert!(g.load_tokens().await.unwrap().is_none());
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn touch_does_not_wait_for_a_running_refresh(pool: PgPool) {
    let id = login(&pool, "alice", None).await;
    let s = storage(&pool, &binding(), id);
    let _g = s.lock_for_refresh().await.unwrap();
    let touched = tokio::time::timeout(Duration::from_secs(10), logins::touch(&pool, id, DAY))
        .await
        .unwrap()
        .unwrap();
    assert!(touched.is_some());
    s.set_access_token(&AccessTokenKey::userinfo(), &access("at"))
        .await
        .unwrap();
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn clear_deletes_the_login_and_cascades_to_access_tokens(pool: PgPool) {
    let keep = login(&pool, "bob", None).await;
    storage(&pool, &binding(), keep)
        .set_access_token(&AccessTokenKey::userinfo(), &access("b"))
        .await
        .unwrap();
    for via_guard in [false, true] {
        let id = login(&pool, "alice", None).await;
        let s = storage(&pool, &binding(), id);
        s.set_access_token(&AccessTokenKey::userinfo(), &access("a1"))
            .await
            .unwrap();
        s.set_access_token(&AccessTokenKey::organization("o"), &access("a2"))
            .await
            .unwrap();
        if via_guard {
            s.lock_for_refresh().await.unwrap().clear().await.unwrap();
        } else {
            s.clear().await.unwrap();
        }
        assert!(s.load_tokens().await.unwrap().is_none());
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM access_tokens WHERE login_id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(left, 0);
    }
    assert_eq!(count(&pool, "logins").await, 1);
    assert_eq!(
        count(&pool, "access_tokens").await,
        1,
        "other logins untouched"
    );
}

// ------------------------------------------------------------------ logins

/// `last_seen_at` is rewritten only once it is older than
/// `idle_timeout / LAST_SEEN_RESOLUTION` (10 s of 600 s here): most requests
/// only read the login row.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn touch_writes_last_seen_only_past_its_resolution(pool: PgPool) {
    let idle = Duration::from_secs(600);
    assert_eq!(logins::LAST_SEEN_RESOLUTION, 60);
    let id = login(&pool, "alice", None).await;
    let last_seen = || async {
        sqlx::query_scalar::<_, time::OffsetDateTime>("SELECT last_seen_at FROM logins")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    for (age_s, written) in [(0, false), (9, false), (11, true)] {
        sqlx::query("UPDATE logins SET last_seen_at = now() - make_interval(secs => $1)")
            .bind(f64::from(age_s))
            .execute(&pool)
            .await
            .unwrap();
        let before = last_seen().await;
        let record = logins::touch(&pool, id, idle).await.unwrap().unwrap();
        let after = last_seen().await;
        assert_eq!(after != before, written, "last seen {age_s} s ago");
        assert_eq!(record.last_seen_at, after, "the record says what is stored");
    }
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn touch_bumps_last_seen_and_ends_idle_or_expired_logins(pool: PgPool) {
    let idle = Duration::from_secs(5);
    let id = login(&pool, "alice", None).await;
    sqlx::query("UPDATE logins SET last_seen_at = now() - interval '3 seconds'")
        .execute(&pool)
        .await
        .unwrap();
    let r = logins::touch(&pool, id, idle).await.unwrap().unwrap();
    assert_eq!((r.id, r.user_sub.as_str()), (id, "alice"));
    let age: f64 =
        sqlx::query_scalar("SELECT extract(epoch FROM now() - last_seen_at)::float8 FROM logins")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(age < 2.0, "last_seen_at bumped: {age}");

    // Idle beyond the timeout: gone, and the row with it.
    sqlx::query("UPDATE logins SET last_seen_at = now() - interval '6 seconds'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(logins::touch(&pool, id, idle).await.unwrap().is_none());
    assert_eq!(count(&pool, "logins").await, 0);

    // Past the absolute deadline despite activity.
    let id = login(&pool, "alice", None).await;
    sqlx::query("UPDATE logins SET expires_at = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(logins::touch(&pool, id, idle).await.unwrap().is_none());
    assert_eq!(count(&pool, "logins").await, 0);

    // Unknown.
    assert!(
        logins::touch(&pool, Uuid::new_v4(), idle)
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn back_channel_deletes_touch_only_matching_rows(pool: PgPool) {
    let a1 = login(&pool, "alice", Some("sid-1")).await;
    let a2 = login(&pool, "alice", Some("sid-2")).await;
    let b = login(&pool, "bob", Some("sid-3")).await;
    // Same sid and sub at another issuer.
    let foreign = Uuid::new_v4();
    PgTokenStorage::new(pool.clone(), cipher(), binding(), foreign, DAY)
        .save_tokens(&TokenSet {
            id_token: id_token("https://other.test/oidc", "alice", Some("sid-1")),
            refresh_token: None,
        })
        .await
        .unwrap();
    assert_eq!(logins::count_for_sub(&pool, ISS, "alice").await.unwrap(), 2);

    assert_eq!(
        logins::delete_by_sid(&pool, ISS, "sid-unknown")
            .await
            .unwrap(),
        0
    );
    assert_eq!(logins::delete_by_sid(&pool, ISS, "sid-1").await.unwrap(), 1);
    assert!(logins::find(&pool, a1).await.unwrap().is_none());
    for survivor in [a2, b, foreign] {
        assert!(logins::find(&pool, survivor).await.unwrap().is_some());
    }
    assert_eq!(logins::delete_by_sub(&pool, ISS, "alice").await.unwrap(), 1);
    assert!(logins::find(&pool, a2).await.unwrap().is_none());
    assert!(logins::find(&pool, b).await.unwrap().is_some());
    assert!(logins::find(&pool, foreign).await.unwrap().is_some());
    assert_eq!(logins::count_for_sub(&pool, ISS, "alice").await.unwrap(), 0);
    assert_eq!(logins::count_for_sub(&pool, ISS, "bob").await.unwrap(), 1);

    assert!(logins::delete(&pool, b).await.unwrap());
    assert!(!logins::delete(&pool, b).await.unwrap());
    assert!(
        logins::id_token(&pool, &cipher(), b)
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_logout_jti_is_remembered_once(pool: PgPool) {
    let exp = time::OffsetDateTime::now_utc() + time::Duration::minutes(2);
    assert!(
        logins::remember_logout_jti(&pool, "jti-1", exp)
            .await
            .unwrap()
    );
    assert!(
        !logins::remember_logout_jti(&pool, "jti-1", exp)
            .await
            .unwrap()
    );
    assert!(
        logins::remember_logout_jti(&pool, "jti-2", exp)
            .await
            .unwrap()
    );
}

// ----------------------------------------------------------------- sweeper

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_sweeper_deletes_only_expired_rows(pool: PgPool) {
    let idle = Duration::from_secs(60);
    let store = PgSessionStore::new(pool.clone());
    let ttl = actix_web::cookie::time::Duration::minutes(5);
    let live_session = store.save(state(&[("a", "1")]), &ttl).await.unwrap();
    let dead_session = store.save(state(&[("a", "2")]), &ttl).await.unwrap();
    sqlx::query("UPDATE sessions SET expires_at = now() - interval '1 second' WHERE key_hash = $1")
        .bind(sha256(dead_session.as_ref().as_bytes()))
        .execute(&pool)
        .await
        .unwrap();

    let browser = binding();
    let s = storage(&pool, &browser, Uuid::new_v4());
    s.save_sign_in_session(&sign_in("live")).await.unwrap();
    s.save_sign_in_session(&sign_in("dead")).await.unwrap();
    sqlx::query("UPDATE sign_in_attempts SET expires_at = now() - interval '1 second' WHERE state_hash = $1")
        .bind(sha256(b"dead"))
        .execute(&pool)
        .await
        .unwrap();

    let past = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let future = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    assert!(
        logins::remember_logout_jti(&pool, "old", past)
            .await
            .unwrap()
    );
    assert!(
        logins::remember_logout_jti(&pool, "new", future)
            .await
            .unwrap()
    );

    let live = login(&pool, "alice", None).await;
    let expired = login(&pool, "bob", None).await;
    let idle_login = login(&pool, "carol", None).await;
    sqlx::query("UPDATE logins SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(expired)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE logins SET last_seen_at = now() - interval '61 seconds' WHERE id = $1")
        .bind(idle_login)
        .execute(&pool)
        .await
        .unwrap();
    let live_storage = storage(&pool, &binding(), live);
    live_storage
        .set_access_token(&AccessTokenKey::userinfo(), &access("fresh"))
        .await
        .unwrap();
    let mut stale = access("stale");
    stale.expires_at = 1_000;
    live_storage
        .set_access_token(&AccessTokenKey::organization("o"), &stale)
        .await
        .unwrap();
    storage(&pool, &binding(), idle_login)
        .set_access_token(&AccessTokenKey::userinfo(), &access("x"))
        .await
        .unwrap();

    let stats = sweeper::sweep_once(&pool, idle).await.unwrap();
    assert_eq!(
        stats,
        sweeper::SweepStats {
            sessions: 1,
            sign_in_attempts: 1,
            seen_logout_tokens: 1,
            logins: 2,
            access_tokens: 1
        }
    );
    assert!(store.load(&live_session).await.unwrap().is_some());
    assert!(s.take_sign_in_session("live").await.unwrap().is_some());
    assert!(
        !logins::remember_logout_jti(&pool, "new", future)
            .await
            .unwrap(),
        "unexpired jti kept"
    );
    assert!(logins::find(&pool, live).await.unwrap().is_some());
    assert!(
        live_storage
            .get_access_token(&AccessTokenKey::userinfo())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(count(&pool, "logins").await, 1);
    assert_eq!(count(&pool, "access_tokens").await, 1);

    assert_eq!(sweeper::sweep_once(&pool, idle).await.unwrap().total(), 0);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_spawned_sweeper_runs_and_can_be_stopped(pool: PgPool) {
    sqlx::query("INSERT INTO seen_logout_tokens (jti, expires_at) VALUES ('old', now() - interval '1 second')")
        .execute(&pool)
        .await
        .unwrap();
    let handle = sweeper::spawn(
        pool.clone(),
        Duration::from_secs(3600),
        Duration::from_secs(60),
    );
    // The first sweep runs at once; poll for its effect (bounded).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while count(&pool, "seen_logout_tokens").await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweeper did not run"
        );
        tokio::task::yield_now().await;
    }
    handle.abort();
    assert!(handle.await.unwrap_err().is_cancelled());
}

/// `max_access_token_age`: a cached token obtained longer ago than the bound
/// is a miss (the client fetches a new one); a younger one is served. The
/// bound holds under the refresh lock too.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn cached_access_tokens_older_than_the_bound_are_not_served(pool: PgPool) {
    let id = login(&pool, "alice", None).await;
    let binding = binding();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (old, young) = (
        AccessTokenKey::organization("org-old"),
        AccessTokenKey::organization("org-young"),
    );
    let s = storage(&pool, &binding, id);
    for (key, obtained_at) in [(&old, now - 400), (&young, now - 100)] {
        let token = CachedAccessToken {
            obtained_at,
            ..access("at")
        };
        s.set_access_token(key, &token).await.unwrap();
    }
    let unbounded = storage(&pool, &binding, id);
    assert!(unbounded.get_access_token(&old).await.unwrap().is_some());
    let bounded = storage(&pool, &binding, id).max_access_token_age(Duration::from_secs(300));
    assert!(bounded.get_access_token(&old).await.unwrap().is_none());
    assert!(bounded.get_access_token(&young).await.unwrap().is_some());
    let mut guard = bounded.lock_for_refresh().await.unwrap();
    assert!(guard.get_access_token(&old).await.unwrap().is_none());
    assert!(guard.get_access_token(&young).await.unwrap().is_some());
}

// ------------------------------------------------- logto-actix's migration

/// `(table, column, type, nullable, default)` of the three tables of
/// logto-actix's store in `schema`, and their indexes (`(table, name,
/// definition without the schema)`).
async fn store_schema(
    conn: &mut sqlx::PgConnection,
    schema: &str,
) -> (
    Vec<(String, String, String, String, Option<String>)>,
    Vec<(String, String, String)>,
) {
    let columns = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, \
                column_default::text \
         FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name IN ('logins', 'access_tokens', 'sign_in_attempts') \
         ORDER BY table_name, ordinal_position",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let indexes: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT tablename::text, indexname::text, indexdef FROM pg_indexes \
         WHERE schemaname = $1 AND tablename IN ('logins', 'access_tokens', 'sign_in_attempts') \
         ORDER BY tablename, indexname",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let indexes = indexes
        .into_iter()
        .map(|(t, n, def)| (t, n, def.replace(&format!("{schema}."), "")))
        .collect();
    (columns, indexes)
}

/// The tables `logto_actix::postgres::MIGRATOR` creates for applications are
/// the ones the portal's migration history leaves (columns, types,
/// nullability, defaults, indexes and keys), so the two cannot drift.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn logto_actix_migration_matches_the_portal_schema(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let portal = store_schema(&mut conn, "public").await;
    assert_eq!(
        portal.0.iter().filter(|c| c.0 == "logins").count(),
        11,
        "{:?}",
        portal.0
    );
    // logto-actix's migrations in a schema of their own (their history too).
    sqlx::query("CREATE SCHEMA logto_actix_only")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("SET search_path TO logto_actix_only")
        .execute(&mut *conn)
        .await
        .unwrap();
    logto_actix::postgres::MIGRATOR
        .run(&mut *conn)
        .await
        .unwrap();
    let actix = store_schema(&mut conn, "logto_actix_only").await;
    assert_eq!(actix.0, portal.0, "columns");
    assert_eq!(actix.1, portal.1, "indexes");
    let foreign_keys = |schema: &'static str| {
        sqlx::query_scalar::<_, String>(
            "SELECT c.conname::text || ' ' || pg_get_constraintdef(c.oid) FROM pg_constraint c \
             JOIN pg_namespace n ON n.oid = c.connamespace \
             WHERE n.nspname = $1 AND c.contype IN ('f', 'p') \
               AND c.conrelid::regclass::text LIKE ANY (ARRAY['%logins', '%access_tokens', '%sign_in_attempts']) \
             ORDER BY 1",
        )
        .bind(schema)
    };
    // Tables outside the search path come schema-qualified.
    let unqualified = |keys: Vec<String>| -> Vec<String> {
        keys.into_iter()
            .map(|k| k.replace("public.", "").replace("logto_actix_only.", ""))
            .collect()
    };
    let portal_keys = unqualified(foreign_keys("public").fetch_all(&mut *conn).await.unwrap());
    let actix_keys = unqualified(
        foreign_keys("logto_actix_only")
            .fetch_all(&mut *conn)
            .await
            .unwrap(),
    );
    assert_eq!(portal_keys.len(), 4, "{portal_keys:?}");
    assert_eq!(actix_keys, portal_keys, "keys");
}
