//! What the pages show: the navigation of a signed-in page, full pages
//! from their templates, and the one builder of error pages and error JSON.
//!
//! Nothing here decides anything: handlers and the error type pass in what
//! to show.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};

use crate::state::AppState;
use crate::web::claims_table::ViewError;

/// A page's template that did not render.
#[derive(Debug, thiserror::Error)]
#[error("rendering {template}: {source:?}")]
pub struct RenderError {
    /// The template's name.
    template: &'static str,
    /// Tera's error.
    source: tera::Error,
}

/// What the navigation bar of a signed-in page needs: the user's name and
/// the CSRF token of the sign-out form.
#[derive(Clone, Debug)]
pub(crate) struct SignedInNav {
    pub(crate) user_name: String,
    pub(crate) csrf: String,
}

impl SignedInNav {
    /// The bar of the user of `claims`, whose session's CSRF token is `csrf`.
    pub(crate) fn new(claims: &logto_client::IdTokenClaims, csrf: &str) -> Self {
        Self {
            user_name: display_name(claims),
            csrf: csrf.to_owned(),
        }
    }

    fn insert_into(nav: Option<&Self>, state: &AppState, ctx: &mut tera::Context) {
        ctx.insert("signed_in", &nav.is_some());
        if let Some(nav) = nav {
            ctx.insert("user_name", &nav.user_name);
            ctx.insert("csrf", &nav.csrf);
        }
        ctx.insert("has_api_resource", &state.settings.api_resource.is_some());
    }
}

/// The best human name in the claims.
pub(crate) fn display_name(c: &logto_client::IdTokenClaims) -> String {
    c.name
        .clone()
        .or_else(|| c.username.clone())
        .or_else(|| c.email.clone())
        .unwrap_or_else(|| c.sub.clone())
}

/// Renders `template` as a page, with the navigation's sign-in state.
pub(crate) fn render_page(
    state: &AppState,
    template: &'static str,
    mut ctx: tera::Context,
    nav: Option<&SignedInNav>,
) -> Result<HttpResponse, RenderError> {
    SignedInNav::insert_into(nav, state, &mut ctx);
    let html = state
        .templates
        .render(template, &ctx)
        .map_err(|source| RenderError { template, source })?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}

/// Puts the table of `claims` in `ctx` as `claims_table` (rendered HTML,
/// from [`crate::web::claims_table::ClaimsTables`]).
pub(crate) fn insert_claims_table<T: serde::Serialize>(
    state: &AppState,
    ctx: &mut tera::Context,
    claims: &T,
) -> Result<(), ViewError> {
    let html = state
        .claims_tables
        .html(&state.templates, claims)
        .map_err(ViewError::Render)?;
    ctx.insert("claims_table", &*html);
    Ok(())
}

/// A tenant named on an error page (its "sign in with another account").
#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantRef {
    /// URL slug.
    pub slug: String,
    /// Display name.
    pub display_name: String,
}

/// Whether the answers under `path` are JSON rather than pages.
pub(crate) fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path == "/backchannel-logout"
}

/// The body of an API error: `{"error": code, "message": message}`.
pub(crate) fn error_json(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"error": code, "message": message})
}

/// Every error page of the portal (`templates/error.html`), whether the
/// error came from a handler or from middleware.
pub(crate) struct ErrorPage<'a> {
    /// The response's status.
    pub(crate) status: StatusCode,
    /// The heading.
    pub(crate) title: &'a str,
    /// What the user reads.
    pub(crate) message: &'a str,
    /// The tenant that refused the user, for a link to sign in to it again.
    pub(crate) tenant: Option<&'a TenantRef>,
    /// The signed-in navigation, when the request had a session.
    pub(crate) nav: Option<&'a SignedInNav>,
}

impl ErrorPage<'_> {
    /// The page's content type and body: the template's HTML, or one line
    /// of plain text when there are no templates to render it with.
    pub(crate) fn body(&self, state: Option<&AppState>) -> (&'static str, String) {
        let html = state.and_then(|state| {
            let mut ctx = tera::Context::new();
            ctx.insert("status", &self.status.as_u16());
            ctx.insert("title", self.title);
            ctx.insert("message", self.message);
            ctx.insert("tenant", &self.tenant);
            ctx.insert("show_sign_in", &matches!(self.status.as_u16(), 401 | 400));
            SignedInNav::insert_into(self.nav, state, &mut ctx);
            state.templates.render("error.html", &ctx).ok()
        });
        match html {
            Some(html) => ("text/html; charset=utf-8", html),
            None => (
                "text/plain; charset=utf-8",
                format!("{} {}: {}", self.status.as_u16(), self.title, self.message),
            ),
        }
    }
}
