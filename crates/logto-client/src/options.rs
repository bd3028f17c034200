//! Options of sign-in and what the callback returns.

use crate::claims::IdTokenClaims;
use crate::config::Prompt;
use crate::types::OrganizationId;

/// The first screen Logto shows (`first_screen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FirstScreen {
    /// `sign_in` (Logto's default).
    SignIn,
    /// `register`.
    Register,
    /// `reset_password`.
    ResetPassword,
    /// `identifier:sign_in`: the identifier sign-in page (see [`SignInOptions::identifiers`]).
    IdentifierSignIn,
    /// `identifier:register`: the identifier registration page.
    IdentifierRegister,
    /// `single_sign_on`: the enterprise SSO page.
    SingleSignOn,
}

impl FirstScreen {
    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            FirstScreen::SignIn => "sign_in",
            FirstScreen::Register => "register",
            FirstScreen::ResetPassword => "reset_password",
            FirstScreen::IdentifierSignIn => "identifier:sign_in",
            FirstScreen::IdentifierRegister => "identifier:register",
            FirstScreen::SingleSignOn => "single_sign_on",
        }
    }
}

/// An identifier type offered by the first screen (`identifier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierType {
    /// `username`.
    Username,
    /// `email`.
    Email,
    /// `phone`.
    Phone,
}

impl IdentifierType {
    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            IdentifierType::Username => "username",
            IdentifierType::Email => "email",
            IdentifierType::Phone => "phone",
        }
    }
}

/// The deprecated `interaction_mode` (sent only when no [`FirstScreen`] is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractionMode {
    /// `signIn`.
    SignIn,
    /// `signUp`.
    SignUp,
}

impl InteractionMode {
    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            InteractionMode::SignIn => "signIn",
            InteractionMode::SignUp => "signUp",
        }
    }
}

/// Skip Logto's UI and go straight to a connector (`direct_sign_in`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectSignIn {
    /// `social:{target}` (e.g. `social:google`).
    Social(String),
    /// `sso:{connector_id}`.
    Sso(String),
}

impl DirectSignIn {
    /// The wire value.
    pub fn to_param(&self) -> String {
        match self {
            DirectSignIn::Social(t) => format!("social:{t}"),
            DirectSignIn::Sso(c) => format!("sso:{c}"),
        }
    }
}

/// Options of [`crate::LogtoClient::sign_in`].
#[derive(Debug, Clone, Default)]
pub struct SignInOptions {
    /// The redirect URI (registered in Logto) the callback comes back to.
    pub redirect_uri: String,
    /// Overrides the configured prompt.
    pub prompt: Option<Vec<Prompt>>,
    /// `first_screen`.
    pub first_screen: Option<FirstScreen>,
    /// `identifier`: which identifiers the first screen offers.
    pub identifiers: Vec<IdentifierType>,
    /// `login_hint`: prefills the identifier.
    pub login_hint: Option<String>,
    /// `direct_sign_in`.
    pub direct_sign_in: Option<DirectSignIn>,
    /// `organization_id`: use that organization's sign-in experience (mints no organization token).
    pub organization_id: Option<OrganizationId>,
    /// `ui_locales` (space-separated BCP 47 tags).
    pub ui_locales: Option<String>,
    /// `one_time_token` (magic-link sign-in).
    pub one_time_token: Option<String>,
    /// Deprecated `interaction_mode`; ignored when `first_screen` is set.
    pub interaction_mode: Option<InteractionMode>,
    /// Extra query parameters, appended last. Protocol parameters (`state`, `nonce`,
    /// `client_id`, …) cannot be overridden.
    pub extra_params: Vec<(String, String)>,
    /// Opaque data kept in the sign-in session and returned by the callback.
    pub app_state: Option<serde_json::Value>,
}

impl SignInOptions {
    /// Options with just the redirect URI.
    pub fn new(redirect_uri: impl Into<String>) -> Self {
        Self {
            redirect_uri: redirect_uri.into(),
            ..Self::default()
        }
    }
    /// Sets `first_screen`.
    pub fn first_screen(mut self, s: FirstScreen) -> Self {
        self.first_screen = Some(s);
        self
    }
    /// Sets `login_hint`.
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }
    /// Sets `direct_sign_in`.
    pub fn direct_sign_in(mut self, d: DirectSignIn) -> Self {
        self.direct_sign_in = Some(d);
        self
    }
    /// Sets the `identifier` list.
    pub fn identifiers(mut self, ids: impl IntoIterator<Item = IdentifierType>) -> Self {
        self.identifiers = ids.into_iter().collect();
        self
    }
    /// Sets `prompt`.
    pub fn prompt(mut self, p: impl IntoIterator<Item = Prompt>) -> Self {
        self.prompt = Some(p.into_iter().collect());
        self
    }
    /// Sets `organization_id` (organization sign-in experience).
    ///
    /// ```
    /// use logto_client::SignInOptions;
    ///
    /// let options = SignInOptions::new("https://app.example.com/callback").organization_id("org-acme");
    /// assert_eq!(options.organization_id.as_ref().map(|id| id.as_str()), Some("org-acme"));
    /// ```
    pub fn organization_id(mut self, id: impl Into<OrganizationId>) -> Self {
        self.organization_id = Some(id.into());
        self
    }
    /// Adds an extra parameter.
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }
    /// Sets the opaque app state.
    pub fn app_state(mut self, state: serde_json::Value) -> Self {
        self.app_state = Some(state);
        self
    }
}

/// What a successful [`crate::LogtoClient::handle_sign_in_callback`] returns.
#[derive(Debug, Clone)]
pub struct SignInOutcome {
    /// The verified ID token claims (`sub`, `sid`, …).
    pub claims: IdTokenClaims,
    /// The `app_state` given to [`SignInOptions::app_state`].
    pub app_state: Option<serde_json::Value>,
    /// The redirect URI the sign-in used.
    pub redirect_uri: String,
}
