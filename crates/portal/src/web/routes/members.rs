//! Organization self-service pages: `/t/{slug}/members`, invitations,
//! roles, removal and the audit trail, and the invitation link
//! `/invitations/{id}`. Every decision is [`crate::self_service`]'s, from
//! the acting user's verified organization token; these handlers read
//! forms, check CSRF tokens and render.

use std::sync::Arc;

use actix_session::SessionExt;
use actix_web::{HttpRequest, HttpResponse, web};
use logto_client::{Prompt, SignInOptions};
use secrecy::ExposeSecret;
use serde::Serialize;

use super::redirect;
use super::tenant::tenant_or_404;
use crate::self_service::{self, Actor, INVITE_MEMBERS, MANAGE_MEMBERS, SelfService};
use crate::state::AppState;
use crate::storage::tenants;
use crate::tenant::Tenant;
use crate::web::auth::{Authenticated, MaybeAuthenticated, PortalAuth};
use crate::web::error::AppError;
use crate::web::views::{TenantRef, render_page};

/// The session key of the invitation whose sign-in this browser started:
/// back from it, the invitation is accepted without another click.
const PENDING_INVITATION: &str = "portal.pending_invitation";

/// Audit events per page.
const AUDIT_PAGE: i64 = 50;

/// The self-service of this deployment, or a 503 naming what to configure.
pub(crate) fn service(state: &AppState) -> Result<Arc<SelfService>, AppError> {
    state.self_service.clone().ok_or_else(|| {
        AppError::NotConfigured(
            "organization self-service needs a machine-to-machine application \
             (LOGTO_M2M_APP_ID and LOGTO_M2M_APP_SECRET)"
                .into(),
        )
    })
}

/// A refusal on a tenant's page names the tenant.
fn in_tenant(e: AppError, t: &Tenant) -> AppError {
    match e {
        AppError::Forbidden { message, .. } => AppError::Forbidden {
            message,
            tenant: Some(TenantRef {
                slug: t.slug.clone(),
                display_name: t.display_name.clone(),
            }),
        },
        other => other,
    }
}

/// The acting user in `tenant`: their organization token, fetched (or
/// reused) and verified, is the authority. A non-member is refused.
pub(crate) async fn actor_in(
    auth: &Authenticated,
    organization_id: &str,
) -> Result<Actor, AppError> {
    let token = auth.organization_token_claims(organization_id).await?;
    let claims = auth.claims();
    Ok(Actor {
        sub: claims.sub.clone(),
        name: claims
            .name
            .clone()
            .or_else(|| claims.username.clone())
            .or_else(|| claims.email.clone()),
        permissions: token.scopes().map(str::to_owned).collect(),
    })
}

/// The service, the tenant and the actor of a tenant's self-service page.
async fn context(
    state: &AppState,
    auth: &Authenticated,
    slug: &str,
) -> Result<(Arc<SelfService>, Tenant, Actor), AppError> {
    let service = service(state)?;
    let tenant = tenant_or_404(state, slug).await?;
    let actor = actor_in(auth, &tenant.organization_id)
        .await
        .map_err(|e| in_tenant(e, &tenant))?;
    Ok((service, tenant, actor))
}

/// The CSRF token of a form (`csrf`) must be the session's.
fn check_csrf(auth: &Authenticated, submitted: Option<&str>) -> Result<(), AppError> {
    if submitted.is_some_and(|t| auth.check_csrf(t)) {
        Ok(())
    } else {
        Err(AppError::Csrf)
    }
}

/// The fields of an urlencoded form; a field may repeat (`role`).
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    fn one(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[derive(Serialize)]
struct MemberView {
    id: String,
    label: String,
    email: Option<String>,
    roles: Vec<String>,
    is_you: bool,
}

#[derive(Serialize)]
struct RoleView {
    name: String,
    description: Option<String>,
    permissions: Vec<String>,
}

fn page_context(tenant: &Tenant, actor: &Actor) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("tenant", tenant);
    ctx.insert("can_invite", &actor.permissions.contains(INVITE_MEMBERS));
    ctx.insert("can_manage", &actor.permissions.contains(MANAGE_MEMBERS));
    ctx
}

/// `GET /t/{slug}/members`: the members and their roles (`read:members`);
/// role and removal forms for `manage:members`, the invitation form for
/// `invite:members`.
pub async fn list(
    state: web::Data<AppState>,
    auth: Authenticated,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (service, tenant, actor) = context(&state, &auth, &slug).await?;
    let members = service
        .members(&tenant.organization_id, &actor)
        .await
        .map_err(|e| in_tenant(e.into(), &tenant))?;
    let roles = service.roles().await?;
    let members: Vec<MemberView> = members
        .iter()
        .map(|m| MemberView {
            id: m.id.clone(),
            label: self_service::label(m),
            email: m.primary_email.clone(),
            roles: m
                .organization_roles
                .iter()
                .map(|r| r.name.clone())
                .collect(),
            is_you: m.id == actor.sub,
        })
        .collect();
    let roles: Vec<RoleView> = roles
        .iter()
        .map(|r| RoleView {
            name: r.name.clone(),
            description: r.description.clone(),
            permissions: r.scopes.iter().map(|s| s.name.clone()).collect(),
        })
        .collect();
    let mut ctx = page_context(&tenant, &actor);
    ctx.insert("members", &members);
    ctx.insert("roles", &roles);
    Ok(render_page(&state, "members.html", ctx, Some(&auth.nav()))?)
}

/// `POST /t/{slug}/members/invite` (`email`, `role`…): invites and shows
/// the link (or says Logto emailed it).
pub async fn invite(
    state: web::Data<AppState>,
    auth: Authenticated,
    slug: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let form = Form::parse(&body);
    check_csrf(&auth, form.one("csrf"))?;
    let (service, tenant, actor) = context(&state, &auth, &slug).await?;
    let email = form.one("email").unwrap_or_default();
    let invited = service
        .invite(
            &state.pool,
            &tenant.organization_id,
            &actor,
            email,
            &form.all("role"),
        )
        .await
        .map_err(|e| in_tenant(e.into(), &tenant))?;
    let mut ctx = page_context(&tenant, &actor);
    ctx.insert("invitee", &invited.invitation.invitee);
    ctx.insert("link", &invited.link);
    ctx.insert("emailed", &service.sends_emails());
    let roles: Vec<&str> = invited
        .invitation
        .organization_roles
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    ctx.insert("invited_roles", &roles);
    Ok(render_page(&state, "invited.html", ctx, Some(&auth.nav()))?)
}

/// `GET /t/{slug}/invitations`: pending invitations (`invite:members`).
pub async fn invitations(
    state: web::Data<AppState>,
    auth: Authenticated,
    slug: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (service, tenant, actor) = context(&state, &auth, &slug).await?;
    let pending = service
        .invitations(&tenant.organization_id, &actor)
        .await
        .map_err(|e| in_tenant(e.into(), &tenant))?;
    #[derive(Serialize)]
    struct InvitationView {
        id: String,
        invitee: String,
        roles: Vec<String>,
        link: String,
    }
    let pending: Vec<InvitationView> = pending
        .into_iter()
        .map(|i| InvitationView {
            link: service.invitation_link(&i.id),
            roles: i.organization_roles.into_iter().map(|r| r.name).collect(),
            invitee: i.invitee,
            id: i.id,
        })
        .collect();
    let mut ctx = page_context(&tenant, &actor);
    ctx.insert("invitations", &pending);
    Ok(render_page(
        &state,
        "invitations.html",
        ctx,
        Some(&auth.nav()),
    )?)
}

/// `POST /t/{slug}/invitations/{id}/revoke`.
pub async fn revoke(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (slug, id) = path.into_inner();
    check_csrf(&auth, Form::parse(&body).one("csrf"))?;
    let (service, tenant, actor) = context(&state, &auth, &slug).await?;
    service
        .revoke_invitation(&state.pool, &tenant.organization_id, &actor, &id)
        .await
        .map_err(|e| in_tenant(e.into(), &tenant))?;
    Ok(see_other(&format!("/t/{}/invitations", tenant.slug)))
}

/// `POST /t/{slug}/members/{user_id}/roles` (`role`…): replaces the roles.
pub async fn set_roles(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (slug, user_id) = path.into_inner();
    let form = Form::parse(&body);
    check_csrf(&auth, form.one("csrf"))?;
    let (service, tenant, actor) = context(&state, &auth, &slug).await?;
    service
        .set_roles(
            &state.pool,
            &tenant.organization_id,
            &actor,
            &user_id,
            &form.all("role"),
        )
        .await
        .map_err(|e| in_tenant(e.into(), &tenant))?;
    Ok(see_other(&format!("/t/{}/members", tenant.slug)))
}

/// `POST /t/{slug}/members/{user_id}/remove`.
pub async fn remove(
    state: web::Data<AppState>,
    auth: Authenticated,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (slug, user_id) = path.into_inner();
    check_csrf(&auth, Form::parse(&body).one("csrf"))?;
    let (service, tenant, actor) = context(&state, &auth, &slug).await?;
    service
        .remove(&state.pool, &tenant.organization_id, &actor, &user_id)
        .await
        .map_err(|e| in_tenant(e.into(), &tenant))?;
    Ok(see_other(&format!("/t/{}/members", tenant.slug)))
}

#[derive(serde::Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
}

/// `GET /t/{slug}/audit?before=…`: the admin actions, newest first, 50 a
/// page (`manage:members`).
pub async fn audit(
    state: web::Data<AppState>,
    auth: Authenticated,
    slug: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let (service, tenant, actor) = context(&state, &auth, &slug).await?;
    let events = service
        .audit_page(
            &state.pool,
            &tenant.organization_id,
            &actor,
            query.before,
            AUDIT_PAGE,
        )
        .await
        .map_err(|e| in_tenant(e.into(), &tenant))?;
    let older = (events.len() as i64 == AUDIT_PAGE)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    let mut ctx = page_context(&tenant, &actor);
    ctx.insert("events", &events);
    ctx.insert("older", &older);
    Ok(render_page(&state, "audit.html", ctx, Some(&auth.nav()))?)
}

/// `GET /invitations/{id}`: the invitation link. Signed out: a page that
/// signs in (or up) as the invitee; back from that sign-in, the invitation
/// accepted and the space; signed in otherwise: the invitation and its
/// Accept button.
pub async fn landing(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: MaybeAuthenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let service = service(&state)?;
    // Back from the sign-in this link started in this browser: accepted on
    // return. Anyone else (signed in already, or sent the link) clicks.
    let session = req.get_session();
    let started_here = session
        .get::<String>(PENDING_INVITATION)
        .ok()
        .flatten()
        .is_some_and(|pending| pending == *id);
    if let (true, Some(auth)) = (started_here, auth.0.as_ref()) {
        session.remove(PENDING_INVITATION);
        return join(&state, auth, &id).await;
    }
    let invitation = service.open_invitation(&id).await?;
    let tenant = tenants::find_by_organization(&state.pool, &invitation.organization_id).await?;
    let roles: Vec<&str> = invitation
        .organization_roles
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("invitation_id", &invitation.id);
    ctx.insert("invitee", &invitation.invitee);
    ctx.insert("roles", &roles);
    ctx.insert("tenant", &tenant);
    let nav = auth.0.as_ref().map(Authenticated::nav);
    Ok(render_page(&state, "invitation.html", ctx, nav.as_ref())?)
}

/// `GET /invitations/{id}/sign-in`: sign-in (rate limited with the others)
/// with the invitee's address as login hint; back to the invitation.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: PortalAuth,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let service = service(&state)?;
    let invitation = service.open_invitation(&id).await?;
    // `login`: whoever is signed in at Logto, the invitee signs in;
    // `consent` as at every sign-in (no refresh token without it).
    let mut options = SignInOptions::new(auth.redirect_uri())
        .prompt([Prompt::Login, Prompt::Consent])
        .login_hint(invitation.invitee.clone())
        .app_state(serde_json::json!({ "return_to": format!("/invitations/{}", invitation.id) }));
    if let Some(token) = service.sign_in_token(&invitation).await? {
        options = options.extra_param("one_time_token", token.expose_secret());
    }
    req.get_session()
        .insert(PENDING_INVITATION, &invitation.id)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("session: {e}")))?;
    Ok(auth.start_sign_in(&req, options).await?)
}

/// `POST /invitations/{id}/accept`: the signed-in invitee joins and lands
/// in the organization's space.
pub async fn accept(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    check_csrf(&auth, Form::parse(&body).one("csrf"))?;
    join(&state, &auth, &id).await
}

/// The signed-in user accepts invitation `id`; to their new space.
async fn join(state: &AppState, auth: &Authenticated, id: &str) -> Result<HttpResponse, AppError> {
    let service = service(state)?;
    let claims = auth.claims();
    let name = claims
        .name
        .clone()
        .or_else(|| claims.username.clone())
        .or_else(|| claims.email.clone());
    let accepted = service
        .accept(&state.pool, id, &claims.sub, name.as_deref())
        .await?;
    match tenants::find_by_organization(&state.pool, &accepted.organization_id).await? {
        Some(t) => Ok(see_other(&format!("/t/{}/", t.slug))),
        None => Ok(see_other("/organizations")),
    }
}

/// A 303 after a form: the browser GETs the next page.
fn see_other(location: &str) -> HttpResponse {
    let mut res = redirect(location);
    *res.status_mut() = actix_web::http::StatusCode::SEE_OTHER;
    res
}
