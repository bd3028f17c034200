//! Sign-in, callback and sign-out.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use logto_client::SignInOptions;
use serde::Deserialize;
use uuid::Uuid;

use super::{check_same_origin, redirect};
use crate::auth::{safe_return_to, storage_for};
use crate::error::AppError;
use crate::logins;
use crate::session::TypedSession;
use crate::state::AppState;
use crate::token_store::PgTokenStorage;

/// `?return_to=`.
#[derive(Deserialize)]
pub struct SignInQuery {
    return_to: Option<String>,
}

fn rate_limit(req: &HttpRequest, state: &AppState) -> Result<(), AppError> {
    if state.sign_in_limiter.allow_request(req) {
        Ok(())
    } else {
        Err(AppError::RateLimited)
    }
}

/// `GET /sign-in`: redirect to Logto with PKCE, state and nonce.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, AppError> {
    rate_limit(&req, &state)?;
    let return_to = safe_return_to(query.return_to.as_deref());
    let options = SignInOptions::new(state.settings.redirect_uri())
        .app_state(serde_json::json!({ "return_to": return_to }));
    start_sign_in(&state, &session, options).await
}

/// Stores the pending sign-in (keyed by its `state`, bound to this browser)
/// and redirects to the authorization endpoint.
pub(crate) async fn start_sign_in(
    state: &AppState,
    session: &TypedSession,
    options: SignInOptions,
) -> Result<HttpResponse, AppError> {
    // The login id is irrelevant for pending sign-ins; they are keyed by state.
    let storage = storage_for(state, session, Uuid::new_v4())?;
    let url = state.client.sign_in(&storage, options).await?;
    Ok(redirect(url.as_str()))
}

/// `GET /callback`: finish sign-in, renew the session, go back.
///
/// Every answer — the redirect and the error page alike — carries
/// `Referrer-Policy: no-referrer`: the URL holds the authorization code.
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
) -> HttpResponse {
    // An error stays attached to the response, so the error handler still
    // renders (and logs) it, and keeps this header.
    let mut res = finish_sign_in(&req, &state, &session)
        .await
        .unwrap_or_else(HttpResponse::from_error);
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn finish_sign_in(
    req: &HttpRequest,
    state: &AppState,
    session: &TypedSession,
) -> Result<HttpResponse, AppError> {
    rate_limit(req, state)?;
    let Some(binding) = session.existing_browser_binding() else {
        return Err(AppError::SignInFailed(
            "no sign-in was started in this browser, or it has expired".into(),
        ));
    };
    let login_id = Uuid::new_v4();
    let storage = PgTokenStorage::new(
        state.pool.clone(),
        std::sync::Arc::clone(&state.cipher),
        binding,
        login_id,
        state.settings.absolute_timeout,
    );
    let callback_url = format!("{}?{}", state.settings.redirect_uri(), req.query_string());
    let outcome = match state
        .client
        .handle_sign_in_callback(&storage, &callback_url)
        .await
    {
        Ok(o) => {
            state.metrics.token_call("authorization_code", "ok");
            o
        }
        Err(e) => {
            let mapped = match e {
                logto_client::Error::Transport(_) | logto_client::Error::Storage(_) => {
                    AppError::from(e)
                }
                other => {
                    // The IdP's own failure (`server_error`,
                    // `temporarily_unavailable`, a 5xx from the token
                    // endpoint) is a 503 "try again"; anything else refuses
                    // this callback.
                    let message = other.to_string();
                    match AppError::from(other) {
                        unavailable @ AppError::IdpUnavailable(_) => unavailable,
                        _ => AppError::SignInFailed(message),
                    }
                }
            };
            return Err(mapped);
        }
    };
    // A browser that was signed in before signs in afresh.
    if let Some(previous) = session.login_id()? {
        logins::delete(&state.pool, previous).await?;
    }
    session.start_login(login_id)?;
    tracing::info!(login = %login_id, "signed in");
    let return_to = outcome
        .app_state
        .as_ref()
        .and_then(|v| v.get("return_to"))
        .and_then(|v| v.as_str());
    Ok(redirect(&safe_return_to(return_to)))
}

/// 256 random bits, base64url.
fn random_state() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The sign-out form.
#[derive(Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /sign-out`: CSRF-checked; deletes the login (and its tokens),
/// revokes the refresh token, then sends the browser to Logto's end-session
/// endpoint.
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    // A body that is not a form (wrong type, too large) carries no CSRF
    // token: refused as CSRF (403), after the origin check, never as 415.
    form: Result<web::Form<SignOutForm>, actix_web::Error>,
) -> Result<HttpResponse, AppError> {
    check_same_origin(&req, &state)?;
    let Ok(form) = form else {
        return Err(AppError::Csrf);
    };
    if !session.check_csrf(&form.csrf) {
        return Err(AppError::Csrf);
    }
    let mut target = state.settings.post_logout_redirect_uri();
    if let Some(login_id) = session.login_id()? {
        let storage = storage_for(&state, &session, login_id)?;
        match state
            .client
            .sign_out(&storage, Some(&state.settings.post_logout_redirect_uri()))
            .await
        {
            Ok(mut url) => {
                // RP-Initiated Logout's `state`: fresh for every sign-out; the
                // landing page accepts any (or none), so nothing needs storing.
                url.query_pairs_mut().append_pair("state", &random_state());
                target = url.to_string();
            }
            Err(e) => {
                tracing::warn!(error = %e, "sign-out at the identity provider failed; signed out locally")
            }
        }
        // Whatever happened at the IdP, the login ends here.
        logins::delete(&state.pool, login_id).await?;
    }
    session.purge();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, target))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
