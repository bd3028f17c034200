//! In-memory state: sessions, codes, grants, tokens, counters and fault injection.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::directory::Directory;
use crate::error::Error;
use crate::keys::KeySet;
use crate::seed::Seed;
use crate::settings::Settings;

/// An endpoint whose next response can be delayed or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `/oidc/.well-known/openid-configuration`
    Discovery,
    /// `/oidc/jwks`
    Jwks,
    /// `/oidc/auth`
    Auth,
    /// `/oidc/token`
    Token,
    /// `/oidc/me`
    UserInfo,
    /// `/oidc/token/revocation`
    Revocation,
    /// `/oidc/session/end`
    EndSession,
}

/// A snapshot of what the instance has done, for assertions in tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Successful `authorization_code` grants.
    pub authorization_code_grants: u64,
    /// Successful `refresh_token` grants (all kinds: plain, resource, organization).
    pub refresh_token_grants: u64,
    /// Refresh tokens presented again after rotation and after the grace period
    /// (each revoked its grant).
    pub refresh_reuse_events: u64,
    /// Rotated refresh tokens presented again within the grace period (accepted).
    pub refresh_reuse_within_grace: u64,
    /// `invalid_grant` answers from the token endpoint.
    pub invalid_grants: u64,
    /// JWKS requests.
    pub jwks_hits: u64,
    /// Userinfo requests.
    pub userinfo_hits: u64,
    /// Discovery requests.
    pub discovery_hits: u64,
    /// Successful revocation requests.
    pub revocations: u64,
    /// Successful sign-ins through the form (or simulated SSO).
    pub sign_ins: u64,
    /// Sessions ended through `/oidc/session/end`.
    pub end_sessions: u64,
    /// Back-channel logout tokens delivered (2xx).
    pub backchannel_logouts_sent: u64,
    /// Back-channel logout deliveries that failed.
    pub backchannel_logout_failures: u64,
    /// Authorized Management API calls (`/api/*`).
    pub management_api_calls: u64,
}

impl Counters {
    /// Successful grants of one `grant_type` (`authorization_code`, `refresh_token`).
    pub fn grants(&self, grant_type: &str) -> u64 {
        match grant_type {
            "authorization_code" => self.authorization_code_grants,
            "refresh_token" => self.refresh_token_grants,
            _ => 0,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fault {
    pub(crate) delay: Option<Duration>,
    pub(crate) status: Option<u16>,
}

/// The validated parameters of an authorization request.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    /// Requested scopes, in request order, with `offline_access` dropped unless
    /// `prompt` includes `consent`.
    pub(crate) scopes: Vec<String>,
    pub(crate) state: Option<String>,
    pub(crate) nonce: Option<String>,
    /// PKCE challenge (S256); optional for confidential clients only.
    pub(crate) code_challenge: Option<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) prompt: Vec<String>,
    pub(crate) max_age: Option<u64>,
    pub(crate) login_hint: Option<String>,
    /// Logto's `one_time_token` (with `login_hint`, the email it was issued for).
    pub(crate) one_time_token: Option<String>,
    pub(crate) first_screen: Option<String>,
    pub(crate) direct_sign_in: Option<String>,
    pub(crate) response_mode_fragment: bool,
}

#[derive(Debug)]
pub(crate) struct Interaction {
    pub(crate) request: AuthRequest,
    pub(crate) expires: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) sid: String,
    pub(crate) user_id: String,
    /// Clients signed in through this session, with the redirect URI each used.
    pub(crate) clients: BTreeMap<String, String>,
    pub(crate) auth_time: i64,
}

#[derive(Debug)]
pub(crate) struct Code {
    pub(crate) grant_id: String,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: Option<String>,
    pub(crate) expires: Instant,
    pub(crate) used: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(crate) sid: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) auth_time: Option<i64>,
    pub(crate) redirect_uri: String,
    pub(crate) revoked: bool,
}

impl Grant {
    pub(crate) fn offline(&self) -> bool {
        self.scopes.iter().any(|s| s == "offline_access")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshToken {
    pub(crate) grant_id: String,
    pub(crate) created: Instant,
    pub(crate) expires: Instant,
    pub(crate) consumed_at: Option<Instant>,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessToken {
    pub(crate) grant_id: String,
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) interactions: HashMap<String, Interaction>,
    /// Keyed by the session cookie value.
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) codes: HashMap<String, Code>,
    pub(crate) grants: HashMap<String, Grant>,
    pub(crate) refresh_tokens: HashMap<String, RefreshToken>,
    pub(crate) access_tokens: HashMap<String, AccessToken>,
    /// Users' `updated_at` (epoch milliseconds) since their last sign-in; the seed's value
    /// until then.
    pub(crate) updated_at: HashMap<String, i64>,
    /// End-session requests waiting for their confirmation, keyed by their `xsrf` value.
    pub(crate) logouts: HashMap<String, PendingLogout>,
    /// Management API access tokens (`client_credentials` JWTs), keyed by the token.
    pub(crate) management_tokens: HashMap<String, ManagementToken>,
}

/// A Management API token handed to a machine-to-machine application.
#[derive(Debug, Clone)]
pub(crate) struct ManagementToken {
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires: Instant,
}

/// An end-session request shown as Logto's self-submitting page, until it is confirmed.
#[derive(Debug, Clone)]
pub(crate) struct PendingLogout {
    /// The browser's session cookie when the request came, if it had one.
    pub(crate) session_key: Option<String>,
    /// Where the confirmation redirects: the post-logout URI (with `state`) or the
    /// success page.
    pub(crate) target: String,
    pub(crate) expires: Instant,
}

impl Store {
    pub(crate) fn revoke_grant(&mut self, grant_id: &str) {
        if let Some(grant) = self.grants.get_mut(grant_id) {
            grant.revoked = true;
        }
        self.refresh_tokens.retain(|_, t| t.grant_id != grant_id);
        self.access_tokens.retain(|_, t| t.grant_id != grant_id);
        self.codes.retain(|_, c| c.grant_id != grant_id);
    }
}

/// Shared state of one running instance.
pub(crate) struct AppState {
    /// The seed as started: applications, API resources, roles, the organization template
    /// and connectors, which never change. Users and memberships change through the
    /// Management API: read them from [`AppState::directory`].
    pub(crate) seed: Seed,
    directory: RwLock<Directory>,
    pub(crate) settings: Settings,
    pub(crate) endpoint: url::Url,
    pub(crate) issuer: String,
    keys: RwLock<KeySet>,
    store: Mutex<Store>,
    counters: Mutex<Counters>,
    faults: Mutex<HashMap<Endpoint, Fault>>,
    id_token_forger: Mutex<Option<IdTokenForger>>,
    discovery_overrides: Mutex<serde_json::Map<String, serde_json::Value>>,
    pub(crate) http: reqwest::Client,
}

/// A test hook replacing the next ID token: given the claims, returns the token.
pub(crate) type IdTokenForger = Box<dyn FnOnce(serde_json::Value) -> String + Send>;

impl AppState {
    pub(crate) fn new(seed: Seed, settings: Settings, endpoint: url::Url) -> Result<Self, Error> {
        let issuer = format!("{}/oidc", endpoint.as_str().trim_end_matches('/'));
        let keys = KeySet::new(settings.signing)?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Http {
                url: String::new(),
                message: e.to_string(),
            })?;
        Ok(AppState {
            directory: RwLock::new(Directory::new(seed.clone())),
            seed,
            settings,
            endpoint,
            issuer,
            keys: RwLock::new(keys),
            store: Mutex::new(Store::default()),
            counters: Mutex::new(Counters::default()),
            faults: Mutex::new(HashMap::new()),
            id_token_forger: Mutex::new(None),
            discovery_overrides: Mutex::new(serde_json::Map::new()),
            http,
        })
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the maps inconsistent in a way that
        // matters for a test IdP: keep serving.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live users, memberships, invitations and one-time tokens. Never hold it while
    /// taking [`AppState::store`] or the other way round: copy out what is needed.
    pub(crate) fn directory(&self) -> RwLockReadGuard<'_, Directory> {
        self.directory.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn directory_mut(&self) -> RwLockWriteGuard<'_, Directory> {
        self.directory.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn keys(&self) -> RwLockReadGuard<'_, KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn keys_mut(&self) -> RwLockWriteGuard<'_, KeySet> {
        self.keys.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.counters.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub(crate) fn counters(&self) -> Counters {
        self.counters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_fault(&self, endpoint: Endpoint, f: impl FnOnce(&mut Fault)) {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        f(faults.entry(endpoint).or_default());
    }

    pub(crate) fn set_id_token_forger(&self, forger: IdTokenForger) {
        *self
            .id_token_forger
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(forger);
    }

    pub(crate) fn take_id_token_forger(&self) -> Option<IdTokenForger> {
        self.id_token_forger
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    pub(crate) fn set_discovery_overrides(
        &self,
        overrides: serde_json::Map<String, serde_json::Value>,
    ) {
        *self
            .discovery_overrides
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = overrides;
    }

    pub(crate) fn discovery_overrides(&self) -> serde_json::Map<String, serde_json::Value> {
        self.discovery_overrides
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn take_fault(&self, endpoint: Endpoint) -> Fault {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&endpoint)
            .unwrap_or_default()
    }
}

/// Seconds since the epoch.
pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Milliseconds since the epoch.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Port-wildcard aware URI match: `http://127.0.0.1:*/callback` matches any port.
/// Real Logto requires exact URIs; the wildcard exists only in logto-dev.
pub(crate) fn uri_matches(registered: &str, candidate: &str) -> bool {
    if registered == candidate {
        return true;
    }
    let Some((prefix, suffix)) = registered.split_once(":*") else {
        return false;
    };
    let Some(rest) = candidate.strip_prefix(prefix) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(':') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && rest.get(digits..) == Some(suffix)
}

/// Resolves a `:*` port in `template` with the port of `used_uri`.
pub(crate) fn resolve_port(template: &str, used_uri: &str) -> Option<String> {
    if !template.contains(":*") {
        return Some(template.to_owned());
    }
    let port = url::Url::parse(used_uri).ok()?.port_or_known_default()?;
    Some(template.replacen(":*", &format!(":{port}"), 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_port_matching() {
        let r = "http://127.0.0.1:*/callback";
        assert!(uri_matches(r, "http://127.0.0.1:8080/callback"));
        assert!(!uri_matches(r, "http://127.0.0.1:8080/callback/x"));
        assert!(!uri_matches(r, "http://127.0.0.1:/callback"));
        assert!(!uri_matches(r, "http://127.0.0.2:80/callback"));
        assert!(!uri_matches("http://a/cb", "http://a/cb2"));
        assert_eq!(
            resolve_port("http://127.0.0.1:*/bc", "http://127.0.0.1:4567/callback").as_deref(),
            Some("http://127.0.0.1:4567/bc")
        );
    }
}
