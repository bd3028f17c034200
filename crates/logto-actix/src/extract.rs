//! The extractors: the Rust form of the Python quick-start's
//! `@authenticated(shouldRedirect, fetchUserInfo)`.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use logto_client::{
    AccessToken, AccessTokenClaims, IdTokenClaims, LogtoClient, OrganizationId,
    OrganizationTokenClaims, ResourceIndicator, UserInfo,
};

use crate::auth::LogtoAuth;
use crate::error::{Answer, Error, ErrorKind, Target};
use crate::login_store::{KeyValueLogins, LoginStore};
use crate::session::LogtoSession;

type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, Error>>>>;

/// A signed-in browser, for pages: a signed-out request is redirected to the
/// sign-in route with `return_to` set to the current path
/// (`@authenticated(shouldRedirect=True)`).
///
/// From a handler, one call gets an API resource token or an organization
/// token; a user who is not a member of the organization gets the typed
/// [`crate::ErrorKind::NotAMember`] (403).
///
/// ```no_run
/// use actix_web::{HttpResponse, web};
/// use logto_actix::{Authenticated, Error};
/// use logto_client::ResourceIndicator;
///
/// // `api` is parsed once at start-up and shared with `App::app_data`.
/// async fn dashboard(
///     auth: Authenticated,
///     api: web::Data<ResourceIndicator>,
/// ) -> Result<HttpResponse, Error> {
///     let api_token = auth.access_token(&api).await?;
///     let org_token = auth.organization_token("org-acme").await?;
///     # let _ = (api_token, org_token);
///     Ok(HttpResponse::Ok().body(format!(
///         "hello {}; <form method=post action=/sign-out>\
///          <input type=hidden name=csrf value={}><button>Sign out</button></form>",
///         auth.claims().sub,
///         auth.csrf_token(),
///     )))
/// }
/// ```
pub struct Authenticated<S: LoginStore = KeyValueLogins> {
    auth: LogtoAuth<S>,
    session: Session,
    storage: S::Storage,
    login: S::Login,
    claims: IdTokenClaims,
    csrf: String,
    return_to: String,
    answer: Answer,
}

impl<S: LoginStore> std::fmt::Debug for Authenticated<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticated")
            .field("sub", &self.claims.sub)
            .field("answer", &self.answer)
            .finish_non_exhaustive()
    }
}

/// The path and query of the request, as a `return_to` value.
fn here(req: &HttpRequest) -> String {
    match req.uri().query() {
        Some(q) => format!("{}?{q}", req.path()),
        None => req.path().to_owned(),
    }
}

async fn authenticate<S: LoginStore>(
    req: HttpRequest,
    answer: Answer,
) -> Result<Option<Authenticated<S>>, Error> {
    let auth = LogtoAuth::<S>::registered(&req).map_err(|e| e.answered_as(answer))?;
    let session = req.get_session();
    let typed = LogtoSession(&session);
    let (Some(login_id), Some(browser_id)) = (typed.login_id(), typed.existing_browser_id()) else {
        return Ok(None);
    };
    let resumed = auth
        .login_store()
        .resume(auth.client(), &browser_id, &login_id)
        .await;
    let (storage, login) = match resumed {
        Ok(Some(resumed)) => resumed,
        // Ended elsewhere (sign-out, timeout, its tokens forgotten).
        Ok(None) => {
            typed.forget_login();
            return Ok(None);
        }
        Err(e) => {
            let location = || auth.sign_in_url(&here(&req));
            let error = Error::from_client(e, Target::None, answer, location);
            if matches!(error.kind(), ErrorKind::SessionEnded { .. }) {
                typed.forget_login();
            }
            return Err(error);
        }
    };
    let claims = match auth.client().get_id_token_claims(&storage).await {
        Ok(claims) => claims,
        // The tokens are gone (expired from the store, signed out elsewhere).
        Err(e) if e.requires_sign_in() => {
            typed.forget_login();
            return Ok(None);
        }
        Err(e) => return Err(Error::from_client(e, Target::None, answer, String::new)),
    };
    let csrf = typed.csrf_token().map_err(|e| e.answered_as(answer))?;
    Ok(Some(Authenticated {
        auth,
        session,
        storage,
        login,
        claims,
        csrf,
        return_to: here(&req),
        answer,
    }))
}

async fn require<S: LoginStore>(
    req: HttpRequest,
    answer: Answer,
) -> Result<Authenticated<S>, Error> {
    let location = match LogtoAuth::<S>::registered(&req) {
        Ok(auth) => auth.sign_in_url(&here(&req)),
        Err(e) => return Err(e.answered_as(answer)),
    };
    authenticate(req, answer)
        .await?
        .ok_or_else(|| Error::new(ErrorKind::SignInRequired { location }, answer))
}

impl<S: LoginStore> Authenticated<S> {
    /// The claims of the ID token (verified at sign-in, no network call):
    /// `sub`, `name`, `email`, and the claims of the extra scopes.
    ///
    /// ```no_run
    /// async fn me(auth: logto_actix::Authenticated) -> String {
    ///     format!("{} <{}>", auth.claims().sub, auth.claims().email.as_deref().unwrap_or("-"))
    /// }
    /// ```
    pub fn claims(&self) -> &IdTokenClaims {
        &self.claims
    }

    /// This session's CSRF token, for the `csrf` field of the sign-out form
    /// (and any form of the application).
    ///
    /// ```no_run
    /// async fn page(auth: logto_actix::Authenticated) -> actix_web::web::Html {
    ///     actix_web::web::Html::new(format!(
    ///         r#"<form method="post" action="{}"><input type="hidden" name="csrf" value="{}">
    ///            <button>Sign out</button></form>"#,
    ///         auth.sign_out_path(),
    ///         auth.csrf_token(),
    ///     ))
    /// }
    /// ```
    pub fn csrf_token(&self) -> &str {
        &self.csrf
    }

    /// Whether `submitted` is this session's CSRF token (constant time), for
    /// the application's own forms.
    ///
    /// ```no_run
    /// use actix_web::{HttpResponse, web};
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Form { csrf: String }
    ///
    /// async fn save(auth: logto_actix::Authenticated, form: web::Form<Form>) -> HttpResponse {
    ///     if !auth.check_csrf(&form.csrf) {
    ///         return HttpResponse::Forbidden().finish();
    ///     }
    ///     HttpResponse::Ok().finish()
    /// }
    /// ```
    pub fn check_csrf(&self, submitted: &str) -> bool {
        LogtoSession(&self.session).check_csrf(submitted)
    }

    /// The path of the sign-out route (the form's `action`).
    ///
    /// ```no_run
    /// async fn page(auth: logto_actix::Authenticated) -> String {
    ///     auth.sign_out_path().to_owned()
    /// }
    /// ```
    pub fn sign_out_path(&self) -> &str {
        self.auth.sign_out_path_str()
    }

    /// The Logto client, for calls the extractor does not wrap.
    ///
    /// ```no_run
    /// async fn raw(auth: logto_actix::Authenticated) -> Result<String, logto_actix::Error> {
    ///     let id_token = auth.client().get_id_token(auth.storage()).await.map_err(|e| auth.error(e))?;
    ///     Ok(format!("{} bytes", id_token.secret().len()))
    /// }
    /// ```
    pub fn client(&self) -> &LogtoClient {
        self.auth.client()
    }

    /// The token storage of this browser, to hand to [`LogtoClient`] methods.
    ///
    /// ```no_run
    /// async fn has_tokens(auth: logto_actix::Authenticated) -> bool {
    ///     auth.client().is_authenticated(auth.storage()).await.unwrap_or(false)
    /// }
    /// ```
    pub fn storage(&self) -> &S::Storage {
        &self.storage
    }

    /// What the [`LoginStore`] knows of this login besides its tokens (`()`
    /// for [`KeyValueLogins`]).
    ///
    /// ```no_run
    /// async fn page(auth: logto_actix::Authenticated) {
    ///     let () = auth.login();
    /// }
    /// ```
    pub fn login(&self) -> &S::Login {
        &self.login
    }

    /// The [`LogtoAuth`] this login belongs to.
    ///
    /// ```no_run
    /// async fn page(auth: logto_actix::Authenticated) -> String {
    ///     auth.auth().redirect_uri()
    /// }
    /// ```
    pub fn auth(&self) -> &LogtoAuth<S> {
        &self.auth
    }

    /// Maps an error of the Logto client the way this extractor answers
    /// (HTML or JSON): "sign in again" becomes a redirect (or a 401).
    ///
    /// ```no_run
    /// async fn refresh(auth: logto_actix::Authenticated) -> Result<&'static str, logto_actix::Error> {
    ///     auth.client().clear_access_tokens(auth.storage()).await.map_err(|e| auth.error(e))?;
    ///     Ok("done")
    /// }
    /// ```
    pub fn error(&self, error: logto_client::Error) -> Error {
        self.map(error, Target::None)
    }

    fn map(&self, error: logto_client::Error, target: Target<'_>) -> Error {
        let mapped = Error::from_client(error, target, self.answer, || {
            self.auth.sign_in_url(&self.return_to)
        });
        if matches!(mapped.kind(), ErrorKind::SessionEnded { .. }) {
            LogtoSession(&self.session).forget_login();
        }
        mapped
    }

    /// Fetches the user info from Logto's userinfo endpoint (roles,
    /// organizations, custom data, identities).
    ///
    /// ```no_run
    /// async fn roles(auth: logto_actix::Authenticated) -> Result<String, logto_actix::Error> {
    ///     let info = auth.fetch_user_info().await?;
    ///     Ok(format!("{:?}", info.roles))
    /// }
    /// ```
    pub async fn fetch_user_info(&self) -> Result<UserInfo, Error> {
        self.client()
            .fetch_user_info(&self.storage)
            .await
            .map_err(|e| self.map(e, Target::None))
    }

    /// An access token for the API resource `resource` (it must be in the
    /// client's `with_resources`); refreshed when needed, single-flight.
    /// Parse the indicator once, at start-up, and share it with the handlers
    /// (as `web::Data`, or through the client's configuration).
    ///
    /// ```no_run
    /// use actix_web::web::Data;
    /// use logto_client::ResourceIndicator;
    ///
    /// async fn call_api(
    ///     auth: logto_actix::Authenticated,
    ///     api: Data<ResourceIndicator>,
    /// ) -> Result<String, logto_actix::Error> {
    ///     let token = auth.access_token(&api).await?;
    ///     Ok(format!("Authorization: Bearer {}", token.secret()))
    /// }
    /// ```
    pub async fn access_token(&self, resource: &ResourceIndicator) -> Result<AccessToken, Error> {
        self.client()
            .get_access_token(&self.storage, Some(resource))
            .await
            .map_err(|e| self.map(e, Target::Resource(resource)))
    }

    /// The claims of [`Authenticated::access_token`]'s token (its `scope`).
    ///
    /// ```no_run
    /// use actix_web::web::Data;
    /// use logto_client::ResourceIndicator;
    ///
    /// async fn can_write(
    ///     auth: logto_actix::Authenticated,
    ///     api: Data<ResourceIndicator>,
    /// ) -> Result<bool, logto_actix::Error> {
    ///     let claims = auth.access_token_claims(&api).await?;
    ///     Ok(claims.has_scope("write:reports"))
    /// }
    /// ```
    pub async fn access_token_claims(
        &self,
        resource: &ResourceIndicator,
    ) -> Result<AccessTokenClaims, Error> {
        self.client()
            .get_access_token_claims(&self.storage, resource)
            .await
            .map_err(|e| self.map(e, Target::Resource(resource)))
    }

    /// An organization token (the client needs the organizations scope). A
    /// user who is not a member gets [`crate::ErrorKind::NotAMember`] (403).
    ///
    /// ```no_run
    /// async fn org(auth: logto_actix::Authenticated) -> Result<String, logto_actix::Error> {
    ///     let token = auth.organization_token("org-acme").await?;
    ///     Ok(format!("{} bytes", token.secret().len()))
    /// }
    /// ```
    pub async fn organization_token(
        &self,
        organization_id: impl Into<OrganizationId>,
    ) -> Result<AccessToken, Error> {
        let organization_id = organization_id.into();
        self.client()
            .get_organization_token(&self.storage, &organization_id)
            .await
            .map_err(|e| self.map(e, Target::Organization(&organization_id)))
    }

    /// The claims of [`Authenticated::organization_token`]'s token (its
    /// organization permissions in `scope`).
    ///
    /// ```no_run
    /// async fn can_invite(auth: logto_actix::Authenticated) -> Result<bool, logto_actix::Error> {
    ///     let claims = auth.organization_token_claims("org-acme").await?;
    ///     Ok(claims.claims.has_scope("invite:members"))
    /// }
    /// ```
    pub async fn organization_token_claims(
        &self,
        organization_id: impl Into<OrganizationId>,
    ) -> Result<OrganizationTokenClaims, Error> {
        let organization_id = organization_id.into();
        self.client()
            .get_organization_token_claims(&self.storage, &organization_id)
            .await
            .map_err(|e| self.map(e, Target::Organization(&organization_id)))
    }
}

impl<S: LoginStore> FromRequest for Authenticated<S> {
    type Error = Error;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        Box::pin(require(req.clone(), Answer::Html))
    }
}

/// [`Authenticated`] plus the user info fetched from Logto
/// (`@authenticated(shouldRedirect=True, fetchUserInfo=True)`).
///
/// ```no_run
/// async fn profile(auth: logto_actix::AuthenticatedWithUserInfo) -> String {
///     format!("{:?} in {:?}", auth.user_info.name, auth.user_info.organizations)
/// }
/// ```
#[derive(Debug)]
pub struct AuthenticatedWithUserInfo<S: LoginStore = KeyValueLogins> {
    /// The signed-in browser.
    pub auth: Authenticated<S>,
    /// Fresh user info.
    pub user_info: UserInfo,
}

impl<S: LoginStore> Deref for AuthenticatedWithUserInfo<S> {
    type Target = Authenticated<S>;
    fn deref(&self) -> &Authenticated<S> {
        &self.auth
    }
}

async fn with_user_info<S: LoginStore>(
    auth: Authenticated<S>,
) -> Result<AuthenticatedWithUserInfo<S>, Error> {
    let user_info = auth.fetch_user_info().await?;
    Ok(AuthenticatedWithUserInfo { auth, user_info })
}

impl<S: LoginStore> FromRequest for AuthenticatedWithUserInfo<S> {
    type Error = Error;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { with_user_info(require(req, Answer::Html).await?).await })
    }
}

/// A signed-in browser, for API routes: a signed-out request gets 401 JSON
/// (`@authenticated(shouldRedirect=False)`), and every error of its methods
/// answers JSON. Derefs to [`Authenticated`].
///
/// ```no_run
/// use actix_web::web::Json;
///
/// async fn me(auth: logto_actix::ApiAuthenticated) -> Json<serde_json::Value> {
///     Json(serde_json::json!({ "sub": auth.claims().sub }))
/// }
/// ```
#[derive(Debug)]
pub struct ApiAuthenticated<S: LoginStore = KeyValueLogins>(pub Authenticated<S>);

impl<S: LoginStore> Deref for ApiAuthenticated<S> {
    type Target = Authenticated<S>;
    fn deref(&self) -> &Authenticated<S> {
        &self.0
    }
}

impl<S: LoginStore> FromRequest for ApiAuthenticated<S> {
    type Error = Error;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Self(require(req, Answer::Json).await?)) })
    }
}

/// [`ApiAuthenticated`] plus the user info fetched from Logto. Derefs to
/// [`AuthenticatedWithUserInfo`].
///
/// ```no_run
/// use actix_web::web::Json;
///
/// async fn me(auth: logto_actix::ApiAuthenticatedWithUserInfo) -> Json<logto_client::UserInfo> {
///     Json(auth.user_info.clone())
/// }
/// ```
#[derive(Debug)]
pub struct ApiAuthenticatedWithUserInfo<S: LoginStore = KeyValueLogins>(
    pub AuthenticatedWithUserInfo<S>,
);

impl<S: LoginStore> Deref for ApiAuthenticatedWithUserInfo<S> {
    type Target = AuthenticatedWithUserInfo<S>;
    fn deref(&self) -> &AuthenticatedWithUserInfo<S> {
        &self.0
    }
}

impl<S: LoginStore> FromRequest for ApiAuthenticatedWithUserInfo<S> {
    type Error = Error;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            Ok(Self(
                with_user_info(require(req, Answer::Json).await?).await?,
            ))
        })
    }
}

/// The signed-in browser if there is one, without redirecting: for pages that
/// serve both (the Python quick-start's home page showing the authentication
/// status).
///
/// ```no_run
/// async fn home(user: logto_actix::MaybeAuthenticated) -> String {
///     match &user.0 {
///         Some(auth) => format!("signed in as {}", auth.claims().sub),
///         None => "<a href=/sign-in>Sign in</a>".into(),
///     }
/// }
/// ```
#[derive(Debug)]
pub struct MaybeAuthenticated<S: LoginStore = KeyValueLogins>(pub Option<Authenticated<S>>);

impl<S: LoginStore> FromRequest for MaybeAuthenticated<S> {
    type Error = Error;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(Self(authenticate(req, Answer::Html).await?)) })
    }
}
