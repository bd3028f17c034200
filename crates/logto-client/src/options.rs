//! Options of sign-in and what the callback returns.

use crate::claims::IdTokenClaims;
use crate::config::Prompt;
use crate::types::OrganizationId;

/// The first screen Logto shows (`first_screen`).
///
/// ```
/// use logto_client::{FirstScreen, IdentifierType, SignInOptions};
///
/// // Open on the registration page, offering email only.
/// let options = SignInOptions::new("https://app.example.com/callback")
///     .first_screen(FirstScreen::IdentifierRegister)
///     .identifiers([IdentifierType::Email]);
/// assert_eq!(options.first_screen, Some(FirstScreen::IdentifierRegister));
/// ```
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
    ///
    /// ```
    /// use logto_client::FirstScreen;
    ///
    /// assert_eq!(FirstScreen::IdentifierSignIn.as_str(), "identifier:sign_in");
    /// ```
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
///
/// ```
/// use logto_client::{IdentifierType, SignInOptions};
///
/// let options = SignInOptions::new("https://app.example.com/callback")
///     .identifiers([IdentifierType::Email, IdentifierType::Phone]);
/// assert_eq!(options.identifiers, [IdentifierType::Email, IdentifierType::Phone]);
/// ```
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
    ///
    /// ```
    /// use logto_client::IdentifierType;
    ///
    /// assert_eq!(IdentifierType::Username.as_str(), "username");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            IdentifierType::Username => "username",
            IdentifierType::Email => "email",
            IdentifierType::Phone => "phone",
        }
    }
}

/// The deprecated `interaction_mode` (sent only when no [`FirstScreen`] is given).
///
/// ```
/// use logto_client::{InteractionMode, SignInOptions};
///
/// // For an older Logto that does not know `first_screen`.
/// let mut options = SignInOptions::new("https://app.example.com/callback");
/// options.interaction_mode = Some(InteractionMode::SignUp);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractionMode {
    /// `signIn`.
    SignIn,
    /// `signUp`.
    SignUp,
}

impl InteractionMode {
    /// The wire value.
    ///
    /// ```
    /// use logto_client::InteractionMode;
    ///
    /// assert_eq!(InteractionMode::SignUp.as_str(), "signUp");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            InteractionMode::SignIn => "signIn",
            InteractionMode::SignUp => "signUp",
        }
    }
}

/// Skip Logto's UI and go straight to a connector (`direct_sign_in`).
///
/// ```
/// use logto_client::{DirectSignIn, SignInOptions};
///
/// // A "Sign in with Google" button that skips Logto's page.
/// let options = SignInOptions::new("https://app.example.com/callback")
///     .direct_sign_in(DirectSignIn::Social("google".into()));
/// assert_eq!(options.direct_sign_in, Some(DirectSignIn::Social("google".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectSignIn {
    /// `social:{target}` (e.g. `social:google`).
    Social(String),
    /// `sso:{connector_id}`.
    Sso(String),
}

impl DirectSignIn {
    /// The wire value.
    ///
    /// ```
    /// use logto_client::DirectSignIn;
    ///
    /// assert_eq!(DirectSignIn::Social("google".into()).to_param(), "social:google");
    /// assert_eq!(DirectSignIn::Sso("conn-1".into()).to_param(), "sso:conn-1");
    /// ```
    pub fn to_param(&self) -> String {
        match self {
            DirectSignIn::Social(t) => format!("social:{t}"),
            DirectSignIn::Sso(c) => format!("sso:{c}"),
        }
    }
}

/// Options of [`crate::LogtoClient::sign_in`].
///
/// ```
/// use logto_client::{FirstScreen, Prompt, SignInOptions};
///
/// let options = SignInOptions::new("https://app.example.com/callback")
///     .first_screen(FirstScreen::SignIn)
///     .login_hint("alice@example.com")
///     .prompt([Prompt::Login, Prompt::Consent])
///     .app_state(serde_json::json!({ "return_to": "/reports" }));
/// // Fields without a setter are set directly.
/// let options = SignInOptions { ui_locales: Some("fr-CA fr".into()), ..options };
/// assert_eq!(options.login_hint.as_deref(), Some("alice@example.com"));
/// ```
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
    ///
    /// ```
    /// use logto_client::SignInOptions;
    ///
    /// let options = SignInOptions::new("https://app.example.com/callback");
    /// assert_eq!(options.redirect_uri, "https://app.example.com/callback");
    /// assert!(options.prompt.is_none()); // the configuration's prompt applies
    /// ```
    pub fn new(redirect_uri: impl Into<String>) -> Self {
        Self {
            redirect_uri: redirect_uri.into(),
            ..Self::default()
        }
    }
    /// Sets `first_screen`.
    ///
    /// ```
    /// use logto_client::{FirstScreen, SignInOptions};
    ///
    /// let options = SignInOptions::new("https://app.example.com/callback").first_screen(FirstScreen::Register);
    /// assert_eq!(options.first_screen, Some(FirstScreen::Register));
    /// ```
    pub fn first_screen(mut self, s: FirstScreen) -> Self {
        self.first_screen = Some(s);
        self
    }
    /// Sets `login_hint`.
    ///
    /// ```
    /// use logto_client::SignInOptions;
    ///
    /// let options = SignInOptions::new("https://app.example.com/callback").login_hint("alice@example.com");
    /// assert_eq!(options.login_hint.as_deref(), Some("alice@example.com"));
    /// ```
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }
    /// Sets `direct_sign_in`.
    ///
    /// ```
    /// use logto_client::{DirectSignIn, SignInOptions};
    ///
    /// let options = SignInOptions::new("https://app.example.com/callback")
    ///     .direct_sign_in(DirectSignIn::Sso("conn-1".into()));
    /// assert_eq!(options.direct_sign_in.map(|d| d.to_param()).as_deref(), Some("sso:conn-1"));
    /// ```
    pub fn direct_sign_in(mut self, d: DirectSignIn) -> Self {
        self.direct_sign_in = Some(d);
        self
    }
    /// Sets the `identifier` list.
    ///
    /// ```
    /// use logto_client::{IdentifierType, SignInOptions};
    ///
    /// let options = SignInOptions::new("https://app.example.com/callback").identifiers([IdentifierType::Phone]);
    /// assert_eq!(options.identifiers, [IdentifierType::Phone]);
    /// ```
    pub fn identifiers(mut self, ids: impl IntoIterator<Item = IdentifierType>) -> Self {
        self.identifiers = ids.into_iter().collect();
        self
    }
    /// Sets `prompt`.
    ///
    /// ```
    /// use logto_client::{Prompt, SignInOptions};
    ///
    /// // Show the sign-in screen even to a user signed in at Logto.
    /// let options = SignInOptions::new("https://app.example.com/callback").prompt([Prompt::Login, Prompt::Consent]);
    /// assert_eq!(options.prompt, Some(vec![Prompt::Login, Prompt::Consent]));
    /// ```
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
    ///
    /// ```
    /// use logto_client::SignInOptions;
    ///
    /// let options = SignInOptions::new("https://app.example.com/callback").extra_param("utm_source", "newsletter");
    /// assert_eq!(options.extra_params, [("utm_source".to_owned(), "newsletter".to_owned())]);
    /// ```
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }
    /// Sets the opaque app state.
    ///
    /// ```
    /// use logto_client::SignInOptions;
    ///
    /// // Given back by the callback, in `SignInOutcome::app_state`.
    /// let options = SignInOptions::new("https://app.example.com/callback")
    ///     .app_state(serde_json::json!({ "return_to": "/reports" }));
    /// assert_eq!(options.app_state.as_ref().map(|s| &s["return_to"]), Some(&serde_json::json!("/reports")));
    /// ```
    pub fn app_state(mut self, state: serde_json::Value) -> Self {
        self.app_state = Some(state);
        self
    }
}

/// What a successful [`crate::LogtoClient::handle_sign_in_callback`] returns.
///
/// ```no_run
/// # async fn run(
/// #     client: logto_client::LogtoClient,
/// #     storage: logto_client::InMemoryStorage,
/// #     callback_url: &str,
/// # ) -> Result<(), logto_client::Error> {
/// let outcome = client.handle_sign_in_callback(&storage, callback_url).await?;
/// let return_to = outcome
///     .app_state
///     .as_ref()
///     .and_then(|state| state["return_to"].as_str())
///     .unwrap_or("/");
/// println!("{} signed in; back to {return_to}", outcome.claims.sub);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SignInOutcome {
    /// The verified ID token claims (`sub`, `sid`, …).
    pub claims: IdTokenClaims,
    /// The `app_state` given to [`SignInOptions::app_state`].
    pub app_state: Option<serde_json::Value>,
    /// The redirect URI the sign-in used.
    pub redirect_uri: String,
}
