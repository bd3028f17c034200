//! The claims tables of the signed-in pages (`templates/claims_table.html`),
//! and the memo that renders each distinct table once.
//!
//! A page shows the same token on every visit until the token is refreshed,
//! and rendering its table was about a tenth of the cost of such a page.
//! [`ClaimsTables`] keeps the HTML of the tables rendered last, keyed by
//! their rows, in a bounded least-recently-used map: a refreshed token has
//! other rows (`iat`, `exp` at least) and gets a table of its own. The rows
//! are claims, never raw tokens, and never reach a log.
//!
//! The handlers put a table in their page with
//! `views::insert_claims_table`, beside `views::render_page`.
//!
//! A tenant page goes one step further: the same organization token always
//! decodes to the same claims, so [`ClaimsTables::organization_token`] keeps
//! what the page shows of it (its permissions and its table) by the token's
//! SHA-256 digest, and a page with a token seen before neither decodes it nor
//! builds its rows. The digest, not the token, is kept: the memo holds no
//! secret.

use std::sync::{Arc, Mutex};

use hashlink::LruCache;
use serde::Serialize;
use sha2::Digest as _;

/// The template of a claims table (context: `claims`, the rows).
const TEMPLATE: &str = "claims_table.html";

/// Tables kept by default: one per signed-in user and page, for the users
/// active at once on one instance; each is a few KiB.
pub const DEFAULT_CAPACITY: usize = 1024;

/// The largest table kept (bytes of HTML). User info can carry any amount
/// of `custom_data`; such a table is rendered every time instead, so that
/// each of the two memos stays within `DEFAULT_CAPACITY × MAX_KEPT` of HTML
/// (16 MiB); the rows that key the first take about as much again, the
/// digests that key the second next to nothing.
pub const MAX_KEPT: usize = 16 * 1024;

/// One row of a claims table: the value as compact JSON (escaped by Tera),
/// and for timestamps the date it stands for.
#[derive(Serialize, Clone, PartialEq, Eq, Hash, Debug)]
struct ClaimRow {
    name: String,
    value: String,
    hint: Option<String>,
}

/// `2026-11-24 19:49:28 UTC` for the timestamp claims: seconds for the JWT
/// ones, milliseconds for Logto's `created_at`/`updated_at`.
fn time_hint(name: &str, value: &serde_json::Value) -> Option<String> {
    let n = value.as_i64()?;
    let seconds = match name {
        "exp" | "iat" | "nbf" | "auth_time" => n,
        "created_at" | "updated_at" => n / 1000,
        _ => return None,
    };
    let t = time::OffsetDateTime::from_unix_timestamp(seconds).ok()?;
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    t.format(&format).ok()
}

/// Claims of any serializable value, sorted by name, without the null ones.
/// Never contains a raw token.
fn claim_rows<T: Serialize>(value: &T) -> Vec<ClaimRow> {
    let mut rows: Vec<ClaimRow> = match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(name, v)| ClaimRow {
                hint: time_hint(&name, &v),
                name,
                value: match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                },
            })
            .collect(),
        _ => Vec::new(),
    };
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// What a tenant page shows of an organization token.
#[derive(Debug)]
pub struct OrganizationTokenView {
    /// The granted organization permissions (`scope`), in order.
    pub permissions: Vec<String>,
    /// The claims table's HTML (escaped by Tera).
    pub claims_table: Arc<str>,
}

/// Rendered claims tables, by their rows, and organization tokens' views, by
/// the token's digest (shared by the workers).
pub struct ClaimsTables {
    memo: Mutex<LruCache<Vec<ClaimRow>, Arc<str>>>,
    by_token: Mutex<LruCache<[u8; 32], Arc<OrganizationTokenView>>>,
}

/// A memo's map; a poisoned lock only means another request panicked while
/// holding it, and the map itself is still sound.
fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Why an organization token's view could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The token is not an organization token's JWT.
    #[error(transparent)]
    Decode(#[from] logto_client::Error),
    /// The claims table did not render.
    #[error("rendering a claims table: {0:?}")]
    Render(#[from] tera::Error),
}

impl std::fmt::Debug for ClaimsTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimsTables").finish_non_exhaustive()
    }
}

impl Default for ClaimsTables {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl ClaimsTables {
    /// A memo of at most `capacity` tables (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            memo: Mutex::new(LruCache::new(capacity.max(1))),
            by_token: Mutex::new(LruCache::new(capacity.max(1))),
        }
    }

    /// The permissions and claims table of organization token `token`: from
    /// the memo when this very token was shown lately, otherwise decoded
    /// ([`logto_client::OrganizationTokenClaims::decode`]) and rendered by
    /// `templates` (and kept, unless its table is over [`MAX_KEPT`]).
    pub fn organization_token(
        &self,
        templates: &tera::Tera,
        token: &logto_client::AccessToken,
    ) -> Result<Arc<OrganizationTokenView>, ViewError> {
        let digest: [u8; 32] = sha2::Sha256::digest(token.secret().as_bytes()).into();
        if let Some(view) = locked(&self.by_token).get(&digest).cloned() {
            return Ok(view);
        }
        let claims = logto_client::OrganizationTokenClaims::decode(token)?;
        let view = Arc::new(OrganizationTokenView {
            permissions: claims.scopes().map(str::to_owned).collect(),
            claims_table: self.html(templates, &claims.claims)?,
        });
        if view.claims_table.len() <= MAX_KEPT {
            locked(&self.by_token).insert(digest, Arc::clone(&view));
        }
        Ok(view)
    }

    /// The HTML of the table of `value`'s claims: from the memo when the
    /// same rows were rendered lately, otherwise rendered by `templates`
    /// (and kept). Escaped by Tera, for `{{ claims_table | safe }}`.
    pub fn html<T: Serialize>(
        &self,
        templates: &tera::Tera,
        value: &T,
    ) -> Result<Arc<str>, tera::Error> {
        let rows = claim_rows(value);
        let cached = locked(&self.memo).get(&rows).cloned();
        if let Some(html) = cached {
            return Ok(html);
        }
        let mut ctx = tera::Context::new();
        ctx.insert("claims", &rows);
        let html: Arc<str> = templates.render(TEMPLATE, &ctx)?.into();
        if html.len() > MAX_KEPT {
            return Ok(html);
        }
        locked(&self.memo).insert(rows, Arc::clone(&html));
        Ok(html)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_claims_get_a_readable_date_and_others_do_not() {
        let rows = claim_rows(&serde_json::json!({
            "exp": 1_795_549_768,
            "created_at": 1_795_549_768_000_i64,
            "sub": "1795549768",
            "scope": "read:members",
            "iat": "not a number",
        }));
        let hint = |n: &str| {
            rows.iter()
                .find(|r| r.name == n)
                .and_then(|r| r.hint.as_deref())
        };
        assert_eq!(hint("exp"), Some("2026-11-24 19:49:28 UTC"));
        assert_eq!(hint("created_at"), Some("2026-11-24 19:49:28 UTC"));
        assert_eq!(hint("sub"), None);
        assert_eq!(hint("scope"), None);
        assert_eq!(hint("iat"), None);
    }

    /// The workspace's templates, escaping as the portal does.
    fn templates() -> tera::Tera {
        let glob = concat!(env!("CARGO_MANIFEST_DIR"), "/../../templates/**/*.html");
        let mut t = tera::Tera::new(glob).unwrap();
        t.autoescape_on(vec![".html"]);
        t
    }

    #[test]
    fn a_table_is_the_template_rendered_with_its_claims_escaped() {
        let claims = serde_json::json!({
            "sub": "u1",
            "name": "<script>alert(1)</script>",
            "exp": 1_795_549_768,
            "absent": null,
        });
        let html = ClaimsTables::new(4).html(&templates(), &claims).unwrap();
        let mut ctx = tera::Context::new();
        ctx.insert("claims", &claim_rows(&claims));
        assert_eq!(
            &*html,
            templates().render(TEMPLATE, &ctx).unwrap(),
            "the memo's HTML is the template's"
        );
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("2026-11-24 19:49:28 UTC") && !html.contains("absent"));
        assert!(
            html.find(">exp<") < html.find(">name<") && html.find(">name<") < html.find(">sub<")
        );
    }

    #[test]
    fn the_same_claims_are_rendered_once_and_the_least_recent_table_leaves_first() {
        let full = templates();
        // Templates without the table: rendering with them fails, so a
        // success proves the memo answered.
        let none = tera::Tera::default();
        let tables = ClaimsTables::new(2);
        let a = serde_json::json!({"sub": "a", "iat": 1});
        let b = serde_json::json!({"sub": "b", "iat": 1});
        let c = serde_json::json!({"sub": "c", "iat": 1});
        let first = tables.html(&full, &a).unwrap();
        assert!(Arc::ptr_eq(&first, &tables.html(&none, &a).unwrap()));
        // Other claims (a refreshed token's `iat`) are another table.
        assert!(
            tables
                .html(&none, &serde_json::json!({"sub": "a", "iat": 2}))
                .is_err()
        );
        tables.html(&full, &b).unwrap();
        tables.html(&none, &a).unwrap(); // a is now the most recent
        tables.html(&full, &c).unwrap(); // evicts b
        assert!(tables.html(&none, &a).is_ok());
        assert!(tables.html(&none, &c).is_ok());
        assert!(tables.html(&none, &b).is_err(), "b was evicted");
    }

    #[test]
    fn a_table_larger_than_the_limit_is_rendered_every_time() {
        let big = serde_json::json!({"sub": "a", "custom_data": "x".repeat(MAX_KEPT)});
        let tables = ClaimsTables::new(4);
        assert!(tables.html(&templates(), &big).unwrap().len() > MAX_KEPT);
        assert!(
            tables.html(&tera::Tera::default(), &big).is_err(),
            "not kept"
        );
    }

    /// An unsigned JWT with `payload` (decoding never looks at the signature).
    fn jwt(payload: &serde_json::Value) -> logto_client::AccessToken {
        use base64::Engine as _;
        let part = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        logto_client::AccessToken::new(format!(
            "{}.{}.sig",
            part(&serde_json::json!({"alg": "ES384", "typ": "at+jwt"})),
            part(payload)
        ))
    }

    fn organization_token(jti: &str) -> logto_client::AccessToken {
        jwt(&serde_json::json!({
            "iss": "https://auth.example.com/oidc", "sub": "u1",
            "aud": "urn:logto:organization:org-acme", "exp": 1_900_000_000,
            "iat": 1_800_000_000, "jti": jti, "scope": "read:members invite:members",
        }))
    }

    #[test]
    fn an_organization_tokens_view_is_made_once_per_token_and_holds_no_token() {
        let tables = ClaimsTables::new(4);
        let token = organization_token("t1");
        let view = tables.organization_token(&templates(), &token).unwrap();
        assert_eq!(view.permissions, ["read:members", "invite:members"]);
        assert!(view.claims_table.contains("org-acme") && view.claims_table.contains(">t1<"));
        assert!(!view.claims_table.contains(token.secret()));
        // Templates without the table: a success proves the memo answered.
        let none = tera::Tera::default();
        let again = tables.organization_token(&none, &token).unwrap();
        assert!(Arc::ptr_eq(&view, &again));
        assert!(
            tables
                .organization_token(&none, &organization_token("t2"))
                .is_err(),
            "another token is decoded and rendered"
        );
    }

    #[test]
    fn a_token_that_is_not_an_organization_token_is_refused() {
        let tables = ClaimsTables::new(4);
        let api = jwt(&serde_json::json!({
            "iss": "i", "sub": "u1", "aud": "https://api.example.com", "exp": 1, "iat": 1,
        }));
        for bad in [api, logto_client::AccessToken::new("not-a-jwt")] {
            assert!(matches!(
                tables.organization_token(&templates(), &bad),
                Err(ViewError::Decode(_))
            ));
        }
    }
}
