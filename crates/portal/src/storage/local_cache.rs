//! This instance's copy of four tables, current to within a notification's
//! delay: every tenant, the organization-token ciphertexts read lately, and
//! the sessions and logins of the browsers seen lately (served by the
//! decorators of [`crate::storage::caching`]).
//!
//! A signed-in page needs its session and its login; a tenant page also its
//! tenant and its login's organization token. All of them change rarely
//! compared with how often they are read: tenants when an operator edits
//! them, a login's tokens when they are fetched, refreshed or dropped, a
//! session or a login at sign-in, sign-out and timeouts. Triggers
//! (migrations `20261203000001_change_notifications.sql` and
//! `20261206000001_session_login_notifications.sql`) announce every change
//! with `NOTIFY`, whoever makes it, and [`spawn`]'s listener applies it here:
//! a change of tenants reloads the tenants, a change of a login's tokens drops
//! that login's tokens, a change of a session or a login drops it.
//!
//! The copy answers only while changes are heard. Until the listener has
//! connected, heard its own test notification and loaded the tenants, and
//! from the moment its connection fails until all of that has happened again,
//! every read goes to the database as before: notifications sent meanwhile
//! are lost, so a reconnection starts from an empty copy. After
//! 30 seconds without a notification the listener sends itself one again,
//! so a connection that died silently is noticed too. A ciphertext read
//! from the database is kept only if no token change was heard since the read
//! began ([`LocalCache::epoch`]), so a change that lands during the read is
//! never undone by it; the same holds for sessions and logins. Ciphertexts
//! stay encrypted here, as in the tables.
//!
//! Deadlines (a session's expiry, a login's absolute and idle timeouts) are
//! kept as this process's [`Instant`]s, derived from seconds the database
//! computed against its own clock: no wall-clock skew between the two
//! matters. The idle-timeout bookkeeping is written behind, in batches
//! ([`LocalCache::touch_login`], [`spawn_touches`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hashlink::LruCache;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgNotification};
use tokio::task::JoinHandle;
use uuid::Uuid;

use logto_actix::postgres::LoginRecord;

use crate::storage::tenants;
use crate::tenant::Tenant;

/// The channel of tenant changes (the payload says nothing).
pub const TENANTS_CHANNEL: &str = "portal_tenants";
/// The channel of access-token changes (the payload is the login's id;
/// empty: every login's).
pub const ACCESS_TOKENS_CHANNEL: &str = "portal_access_tokens";
/// The channel of session changes (the payload is the hex SHA-256 of a
/// key, or of several, comma separated; empty: every session's).
pub const SESSIONS_CHANNEL: &str = "portal_sessions";
/// The channel of login changes other than a later `last_seen_at` (the
/// payload is an id, or several, comma separated; empty: every login's).
pub const LOGINS_CHANNEL: &str = "portal_logins";
/// The channel of the listener's own test notifications (a nonce).
const HELLO_CHANNEL: &str = "portal_hello";
/// After this long without a notification, the listener checks that it
/// still hears its own.
const HEARTBEAT: Duration = Duration::from_secs(30);
/// Logins whose organization tokens are kept, by default: the users active
/// at once on one instance.
pub const DEFAULT_LOGINS: usize = 4096;
/// How long the listener waits to hear its own test notification. One that
/// is not heard (a transaction-pooling proxy between the portal and
/// PostgreSQL drops them) leaves the copy unused.
const HEARING_TEST_WAIT: Duration = Duration::from_secs(5);
/// The wait before connecting again after a failure, doubled after each
/// failure in a row up to [`RECONNECT_DELAY_MAX`].
const RECONNECT_DELAY: Duration = Duration::from_secs(1);
const RECONNECT_DELAY_MAX: Duration = Duration::from_secs(30);

/// A login's organization-token ciphertexts, by cache key.
type Sealed = Vec<(String, Vec<u8>)>;

/// The session state actix-session hands to a store.
pub type SessionState = HashMap<String, String>;

/// The SHA-256 of a session's key, as stored in `sessions.key_hash`.
pub type KeyHash = [u8; 32];

/// A session as read from (or written to) the database.
#[derive(Clone)]
struct CachedSession {
    state: SessionState,
    /// `sessions.expires_at`, on this process's clock (never later).
    expires: Instant,
}

/// A login as read from the database, with its deadlines on this process's
/// clock; see [`LocalCache::login`].
#[derive(Debug, Clone)]
pub struct CachedLogin {
    /// The row, without its tokens.
    pub record: LoginRecord,
    /// `logins.id_token` (ciphertext).
    pub id_token: Vec<u8>,
    /// `logins.refresh_token` (ciphertext).
    pub refresh_token: Option<Vec<u8>>,
    /// `logins.expires_at` (never later than the row's).
    pub expires: Instant,
    /// The last request known here (never later than the row's
    /// `last_seen_at`, but for touches not yet written behind).
    pub last_seen: Instant,
    /// `logins.checked_at` (never later than the row's).
    pub checked: Instant,
}

/// See the module documentation. Shared by the workers and the listener.
pub struct LocalCache {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Every tenant by slug; `None` while the copy is not known current.
    tenants: Option<HashMap<String, Tenant>>,
    /// Whether token changes are heard (the listener is connected).
    hearing: bool,
    /// Counts the token changes heard and the losses of the listener.
    epoch: u64,
    tokens: LruCache<Uuid, Sealed>,
    sessions: LruCache<KeyHash, CachedSession>,
    logins: LruCache<Uuid, CachedLogin>,
    /// Logins used since the last batch of `last_seen_at` writes, and when.
    touches: HashMap<Uuid, Instant>,
    /// The listener's backend (`pg_backend_pid()`), while it is heard.
    listener_pid: Option<i32>,
    /// Change notifications heard since start-up (`/metrics`).
    heard: u64,
}

impl std::fmt::Debug for LocalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCache").finish_non_exhaustive()
    }
}

impl Default for LocalCache {
    fn default() -> Self {
        Self::new(DEFAULT_LOGINS)
    }
}

impl LocalCache {
    /// An empty copy that keeps at most `logins` logins, their tokens, and
    /// as many sessions (at least one each). It answers nothing until [`spawn`]'s listener is heard.
    pub fn new(logins: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                tenants: None,
                hearing: false,
                epoch: 0,
                tokens: LruCache::new(logins.max(1)),
                sessions: LruCache::new(logins.max(1)),
                logins: LruCache::new(logins.max(1)),
                touches: HashMap::new(),
                listener_pid: None,
                heard: 0,
            }),
        }
    }

    /// A poisoned lock only means a thread panicked while holding it; every
    /// change below leaves the copy consistent at each step.
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenant `slug` from the copy: `Some(None)` when there is no such
    /// tenant, `None` when the copy cannot say (ask the database).
    pub fn tenant(&self, slug: &str) -> Option<Option<Tenant>> {
        let inner = self.inner();
        inner.tenants.as_ref().map(|all| all.get(slug).cloned())
    }

    /// Whether the copy answers for tenants.
    pub fn knows_tenants(&self) -> bool {
        self.inner().tenants.is_some()
    }

    /// The kept ciphertext of `login`'s access token under `cache_key`
    /// (`None`: ask the database).
    pub fn access_token(&self, login: Uuid, cache_key: &str) -> Option<Vec<u8>> {
        let mut inner = self.inner();
        if !inner.hearing {
            return None;
        }
        inner
            .tokens
            .get(&login)?
            .iter()
            .find(|(key, _)| key == cache_key)
            .map(|(_, sealed)| sealed.clone())
    }

    /// Take it before reading a token from the database, for
    /// [`LocalCache::keep_access_token`].
    pub fn epoch(&self) -> u64 {
        self.inner().epoch
    }

    /// Keeps `sealed`, the ciphertext of `login`'s token under `cache_key`
    /// as read from the database after [`LocalCache::epoch`] answered
    /// `epoch`. Dropped when a token change (or a loss of the listener) came
    /// since: the read may predate it.
    pub fn keep_access_token(&self, epoch: u64, login: Uuid, cache_key: &str, sealed: Vec<u8>) {
        let mut inner = self.inner();
        if !inner.hearing || inner.epoch != epoch {
            return;
        }
        let mut kept = inner.tokens.remove(&login).unwrap_or_default();
        kept.retain(|(key, _)| key != cache_key);
        kept.push((cache_key.to_owned(), sealed));
        inner.tokens.insert(login, kept);
    }

    /// A change of `login`'s tokens was heard, or made by this instance
    /// (`None`: of every login's): they are read from the database again.
    pub fn tokens_changed(&self, login: Option<Uuid>) {
        let mut inner = self.inner();
        inner.epoch += 1;
        match login {
            Some(id) => {
                inner.tokens.remove(&id);
            }
            None => inner.tokens.clear(),
        }
    }

    /// How many change notifications were heard since start-up.
    pub fn notifications_heard(&self) -> u64 {
        self.inner().heard
    }

    /// Whether changes are heard: only then does the copy answer anything.
    pub fn is_hearing(&self) -> bool {
        self.inner().hearing
    }

    /// The PostgreSQL backend of the listener's connection, while changes
    /// are heard (tests end it with `pg_terminate_backend`).
    pub fn listener_pid(&self) -> Option<i32> {
        let inner = self.inner();
        inner.listener_pid.filter(|_| inner.hearing)
    }

    /// The state of the session whose key hashes to `hash`, unless it has
    /// expired (`None`: ask the database).
    pub fn session(&self, hash: &KeyHash) -> Option<SessionState> {
        let mut inner = self.inner();
        if !inner.hearing {
            return None;
        }
        let kept = inner.sessions.get(hash)?;
        if Instant::now() < kept.expires {
            return Some(kept.state.clone());
        }
        inner.sessions.remove(hash);
        None
    }

    /// Keeps a session as read or written after [`LocalCache::epoch`]
    /// answered `epoch`, valid until `expires`.
    pub fn keep_session(&self, epoch: u64, hash: KeyHash, state: SessionState, expires: Instant) {
        let mut inner = self.inner();
        if !inner.hearing || inner.epoch != epoch {
            return;
        }
        inner
            .sessions
            .insert(hash, CachedSession { state, expires });
    }

    /// This instance is changing the session: drop it now, without waiting
    /// to hear of it.
    pub fn forget_session(&self, hash: &KeyHash) {
        let mut inner = self.inner();
        inner.epoch += 1;
        inner.sessions.remove(hash);
    }

    /// Changes of these sessions were heard (`None`: of any session).
    fn sessions_changed(&self, which: Option<Vec<KeyHash>>) {
        let mut inner = self.inner();
        inner.epoch += 1;
        match which {
            Some(hashes) => {
                for h in &hashes {
                    inner.sessions.remove(h);
                }
            }
            None => inner.sessions.clear(),
        }
    }

    /// The login `id` as kept, while changes are heard (`None`: ask the
    /// database). Whether it is still alive is the caller's to judge, from
    /// its deadlines.
    pub fn login(&self, id: Uuid) -> Option<CachedLogin> {
        let mut inner = self.inner();
        if !inner.hearing {
            return None;
        }
        inner.logins.get(&id).cloned()
    }

    /// Keeps a login as read after [`LocalCache::epoch`] answered `epoch`.
    pub fn keep_login(&self, epoch: u64, login: CachedLogin) {
        let mut inner = self.inner();
        if !inner.hearing || inner.epoch != epoch {
            return;
        }
        inner.logins.insert(login.record.id, login);
    }

    /// Drops the login `id` (this instance is changing or ending it, or its
    /// deadlines are in doubt): the database answers for it next.
    pub fn forget_login(&self, id: Uuid) {
        let mut inner = self.inner();
        inner.epoch += 1;
        inner.logins.remove(&id);
    }

    /// Forgets every kept login `ended` says was just ended here (a
    /// back-channel logout): at once, not when the notification comes back.
    pub fn forget_logins_where(&self, ended: impl Fn(&LoginRecord) -> bool) {
        let mut inner = self.inner();
        inner.epoch += 1;
        let gone: Vec<Uuid> = inner
            .logins
            .iter()
            .filter(|(_, login)| ended(&login.record))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            inner.logins.remove(&id);
            inner.tokens.remove(&id);
        }
    }

    /// Changes of these logins were heard (`None`: of any login).
    fn logins_changed(&self, which: Option<Vec<Uuid>>) {
        let mut inner = self.inner();
        inner.epoch += 1;
        match which {
            Some(ids) => {
                for id in &ids {
                    inner.logins.remove(id);
                }
            }
            None => inner.logins.clear(),
        }
    }

    /// Login `id` served a request `at`: its `last_seen_at` is written in
    /// the next batch ([`spawn_touches`]).
    pub fn touch_login(&self, id: Uuid, at: Instant) {
        let mut inner = self.inner();
        if let Some(login) = inner.logins.get_mut(&id) {
            login.last_seen = login.last_seen.max(at);
        }
        let last = inner.touches.entry(id).or_insert(at);
        *last = (*last).max(at);
    }

    /// The logins touched since the last call, and when.
    pub fn take_touches(&self) -> Vec<(Uuid, Instant)> {
        self.inner().touches.drain().collect()
    }

    /// Changes are heard from now on: the tokens start empty, and the
    /// tenants are loaded next.
    fn hearing(&self) {
        self.start_over(true);
    }

    /// Changes are no longer heard: nothing is answered from the copy.
    fn deaf(&self) {
        self.start_over(false);
    }

    /// An empty copy; any read from the database under way is void.
    fn start_over(&self, hearing: bool) {
        let mut inner = self.inner();
        inner.epoch += 1;
        inner.hearing = hearing;
        inner.tokens.clear();
        inner.sessions.clear();
        inner.logins.clear();
        inner.tenants = None;
        inner.listener_pid = None;
    }

    fn set_listener_pid(&self, pid: i32) {
        self.inner().listener_pid = Some(pid);
    }

    /// A change of tenants was heard: the database answers until they are
    /// loaded again.
    fn tenants_changed(&self) {
        self.inner().tenants = None;
    }

    /// The tenants, as just read (after the listener began to listen).
    fn tenants_loaded(&self, all: Vec<Tenant>) {
        let mut inner = self.inner();
        if inner.hearing {
            inner.tenants = Some(all.into_iter().map(|t| (t.slug.clone(), t)).collect());
        }
    }
}

/// The seam logto-actix's token storage fills and invalidates.
impl logto_actix::postgres::AccessTokenCache for LocalCache {
    fn epoch(&self) -> u64 {
        LocalCache::epoch(self)
    }

    fn keep(&self, epoch: u64, login_id: Uuid, cache_key: &str, sealed: Vec<u8>) {
        self.keep_access_token(epoch, login_id, cache_key, sealed);
    }

    fn get(&self, login_id: Uuid, cache_key: &str) -> Option<Vec<u8>> {
        self.access_token(login_id, cache_key)
    }

    /// The storage writes the login's tokens: its kept row goes too (its ID
    /// and refresh tokens change with them).
    fn forget(&self, login_id: Uuid) {
        self.tokens_changed(Some(login_id));
        self.forget_login(login_id);
    }
}

/// Keeps `cache` current while `pool` is open: listens on both channels
/// through a connection of `pool` (keep one for it), reads the tenants
/// through `reads`, and connects again after a failure. Stops when `pool` is
/// closed.
pub fn spawn(pool: PgPool, reads: PgPool, cache: Arc<LocalCache>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let _deaf = DeafOnDrop(Arc::clone(&cache));
        let mut delay = RECONNECT_DELAY;
        let mut warned = false;
        while !pool.is_closed() {
            let mut heard = false;
            let result = listen(&pool, &reads, &cache, &mut heard).await;
            cache.deaf();
            if pool.is_closed() {
                break;
            }
            if heard {
                (delay, warned) = (RECONNECT_DELAY, false);
            }
            // Said once per outage, not at every attempt.
            if !warned {
                warned = true;
                match &result {
                    Ok(()) => tracing::warn!(
                        "change notifications lost: reading tenants and tokens from PostgreSQL until they are heard again"
                    ),
                    Err(e) => tracing::warn!(
                        error = %e,
                        "change notifications not heard: reading tenants and tokens from PostgreSQL until they are"
                    ),
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(RECONNECT_DELAY_MAX);
        }
    })
}

/// One connection's life: `Ok` when it was lost; `heard` tells whether it
/// was ever heard.
async fn listen(
    pool: &PgPool,
    reads: &PgPool,
    cache: &LocalCache,
    heard: &mut bool,
) -> anyhow::Result<()> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection must end this function at once (and the copy with
    // it), not be replaced behind its back while notifications are lost.
    listener.eager_reconnect(false);
    // Asked before listening: the connection's last statement stays a LISTEN.
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut listener)
        .await?;
    listener
        .listen_all([
            TENANTS_CHANNEL,
            ACCESS_TOKENS_CHANNEL,
            SESSIONS_CHANNEL,
            LOGINS_CHANNEL,
            HELLO_CHANNEL,
        ])
        .await?;
    // Hear a notification of our own before trusting the channel.
    if !hear_ourselves(&mut listener, reads, None).await? {
        return Ok(());
    }
    *heard = true;
    cache.hearing();
    cache.set_listener_pid(pid);
    cache.tenants_loaded(tenants::list(reads).await?);
    tracing::info!("hearing changes to tenants and tokens: tenant pages read them from memory");
    loop {
        match tokio::time::timeout(HEARTBEAT, listener.try_recv()).await {
            Ok(received) => match received? {
                Some(n) => apply(cache, reads, &n).await?,
                None => return Ok(()),
            },
            // Silence: a connection that died without a word (a dropped
            // idle flow, a crashed host) looks the same, so ask.
            Err(_) => {
                if !hear_ourselves(&mut listener, reads, Some(cache)).await? {
                    return Ok(());
                }
            }
        }
    }
}

/// Applies a change heard on `n`'s channel.
async fn apply(cache: &LocalCache, reads: &PgPool, n: &PgNotification) -> anyhow::Result<()> {
    match n.channel() {
        TENANTS_CHANNEL => {
            cache.tenants_changed();
            cache.tenants_loaded(tenants::list(reads).await?);
        }
        ACCESS_TOKENS_CHANNEL => cache.tokens_changed(n.payload().parse().ok()),
        SESSIONS_CHANNEL => cache.sessions_changed(parse_list(n.payload(), parse_key_hash)),
        LOGINS_CHANNEL => cache.logins_changed(parse_list(n.payload(), |s| s.parse().ok())),
        _ => {}
    }
    // Counted once applied: whoever reads the count sees the change made.
    cache.inner().heard += 1;
    Ok(())
}

/// The comma-separated keys of a payload; `None` (every row) when it is
/// empty or any key does not parse.
fn parse_list<T>(payload: &str, parse: impl Fn(&str) -> Option<T>) -> Option<Vec<T>> {
    if payload.is_empty() {
        return None;
    }
    payload.split(',').map(parse).collect()
}

/// A key hash in hex, as `encode(key_hash, 'hex')` writes it.
fn parse_key_hash(hex: &str) -> Option<KeyHash> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// How often the `last_seen_at` of the logins served from the copy is
/// written, in one statement.
pub const TOUCH_EVERY: Duration = Duration::from_secs(1);

/// Writes the touches of [`LocalCache::touch_login`] every [`TOUCH_EVERY`],
/// in one `UPDATE`, through `pool`, until it is closed. Each login gets the
/// time of its touch (its age at the write, taken from the database's
/// `now()`), not the time of the write: batching never stretches the idle
/// timeout. A login that ended meanwhile (signed out, timed out) stays
/// ended: the statement checks the same conditions as a request's own touch.
pub fn spawn_touches(
    pool: PgPool,
    cache: Arc<LocalCache>,
    idle_timeout: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TOUCH_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !pool.is_closed() {
            every.tick().await;
            let touches = cache.take_touches();
            if touches.is_empty() {
                continue;
            }
            let now = Instant::now();
            let (ids, ages): (Vec<Uuid>, Vec<f64>) = touches
                .into_iter()
                .map(|(id, at)| (id, now.saturating_duration_since(at).as_secs_f64()))
                .unzip();
            let written = sqlx::query(
                "UPDATE logins l \
                 SET last_seen_at = greatest(l.last_seen_at, now() - make_interval(secs => t.age)) \
                 FROM unnest($1::uuid[], $3::float8[]) AS t(id, age) \
                 WHERE l.id = t.id \
                   AND l.expires_at > now() \
                   AND l.last_seen_at + make_interval(secs => $2) > now()",
            )
            .bind(&ids)
            .bind(crate::storage::logins::interval_secs(idle_timeout))
            .bind(&ages)
            .execute(&pool)
            .await;
            if let Err(e) = written {
                // Not retried: the logins are read from PostgreSQL once their
                // idle deadline here comes, and touched again then.
                tracing::warn!(error = %e, logins = ids.len(), "could not record the logins' last requests");
                for id in ids {
                    cache.forget_login(id);
                }
            }
        }
    })
}

/// Sends a notification with a fresh nonce through `reads` and waits to hear
/// it, applying to `cache` (when given) the changes heard meanwhile. `false`:
/// the connection was lost; an error when it was not heard in time.
async fn hear_ourselves(
    listener: &mut PgListener,
    reads: &PgPool,
    cache: Option<&LocalCache>,
) -> anyhow::Result<bool> {
    let nonce = format!("{:016x}", rand::random::<u64>());
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(HELLO_CHANNEL)
        .bind(&nonce)
        .execute(reads)
        .await?;
    let deadline = tokio::time::Instant::now() + HEARING_TEST_WAIT;
    loop {
        let Ok(received) = tokio::time::timeout_at(deadline, listener.try_recv()).await else {
            anyhow::bail!(
                "a test notification was not heard within {HEARING_TEST_WAIT:?} (is a transaction-pooling proxy in the way?)"
            );
        };
        let Some(n) = received? else { return Ok(false) };
        if n.channel() == HELLO_CHANNEL {
            if n.payload() == nonce {
                return Ok(true);
            }
        } else if let Some(cache) = cache {
            apply(cache, reads, &n).await?;
        }
    }
}

/// Leaves the copy unused when the listener's task ends in any way (a
/// panic included).
struct DeafOnDrop(Arc<LocalCache>);

impl Drop for DeafOnDrop {
    fn drop(&mut self) {
        self.0.deaf();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn tenant(slug: &str) -> Tenant {
        Tenant {
            slug: slug.to_owned(),
            display_name: slug.to_uppercase(),
            organization_id: format!("org-{slug}"),
            sso_connector_id: None,
            login_hint: None,
        }
    }

    #[test]
    fn nothing_is_answered_until_changes_are_heard_and_the_tenants_loaded() {
        let cache = LocalCache::new(8);
        let login = Uuid::new_v4();
        cache.tenants_loaded(vec![tenant("acme")]);
        cache.keep_access_token(cache.epoch(), login, "@#org-acme", vec![1]);
        assert_eq!(cache.tenant("acme"), None, "not hearing: ask the database");
        assert_eq!(cache.access_token(login, "@#org-acme"), None);

        cache.hearing();
        assert_eq!(cache.tenant("acme"), None, "tenants not loaded yet");
        cache.tenants_loaded(vec![tenant("acme")]);
        assert_eq!(cache.tenant("acme"), Some(Some(tenant("acme"))));
        assert_eq!(cache.tenant("globex"), Some(None), "no such tenant");
        cache.keep_access_token(cache.epoch(), login, "@#org-acme", vec![1]);
        assert_eq!(cache.access_token(login, "@#org-acme"), Some(vec![1]));
        assert_eq!(cache.access_token(login, "@#org-globex"), None);

        cache.deaf();
        assert_eq!(cache.tenant("acme"), None);
        assert_eq!(cache.access_token(login, "@#org-acme"), None);
        cache.hearing();
        assert_eq!(
            cache.access_token(login, "@#org-acme"),
            None,
            "changes made while deaf were not heard: the copy starts empty"
        );
    }

    #[test]
    fn a_change_drops_the_logins_tokens_and_a_read_that_began_before_it_is_not_kept() {
        let cache = LocalCache::new(8);
        cache.hearing();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        cache.keep_access_token(cache.epoch(), a, "@#org-acme", vec![1]);
        cache.keep_access_token(cache.epoch(), b, "@#org-acme", vec![2]);
        cache.keep_access_token(cache.epoch(), a, "@#org-acme", vec![3]);
        cache.keep_access_token(cache.epoch(), a, "@#org-globex", vec![4]);
        assert_eq!(cache.access_token(a, "@#org-acme"), Some(vec![3]));

        // A read begins, a change of another login is heard, the read ends.
        let before = cache.epoch();
        cache.tokens_changed(Some(b));
        cache.keep_access_token(before, a, "@#org-acme", vec![5]);
        assert_eq!(
            cache.access_token(a, "@#org-acme"),
            Some(vec![3]),
            "not kept"
        );
        assert_eq!(cache.access_token(b, "@#org-acme"), None, "dropped");
        assert_eq!(cache.access_token(a, "@#org-globex"), Some(vec![4]));

        cache.tokens_changed(None);
        assert_eq!(cache.access_token(a, "@#org-globex"), None, "all dropped");
    }

    #[test]
    fn a_read_that_began_before_a_loss_of_the_listener_is_not_kept() {
        let cache = LocalCache::new(8);
        cache.hearing();
        let login = Uuid::new_v4();
        let before = cache.epoch();
        cache.deaf();
        cache.hearing();
        cache.keep_access_token(before, login, "k", vec![1]);
        assert_eq!(cache.access_token(login, "k"), None);
        cache.keep_access_token(cache.epoch(), login, "k", vec![2]);
        assert_eq!(cache.access_token(login, "k"), Some(vec![2]));
    }

    #[test]
    fn the_least_recently_used_login_leaves_first() {
        let cache = LocalCache::new(2);
        cache.hearing();
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
        for (i, id) in ids.iter().enumerate() {
            cache.keep_access_token(cache.epoch(), *id, "k", vec![u8::try_from(i).unwrap()]);
            if i == 1 {
                assert!(cache.access_token(ids[0], "k").is_some()); // 0 used last
            }
        }
        assert!(cache.access_token(ids[0], "k").is_some());
        assert!(cache.access_token(ids[1], "k").is_none(), "evicted");
        assert!(cache.access_token(ids[2], "k").is_some());
    }
}
