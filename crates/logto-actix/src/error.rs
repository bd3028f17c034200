//! The crate's one error type, mapped to HTTP in one place.

use std::fmt;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use logto_client::{OrganizationId, ResourceIndicator, StorageError};

/// How an error is answered: chosen by the extractor that produced it.
///
/// ```
/// use logto_actix::{Answer, Error, ErrorKind};
///
/// let signed_out = || ErrorKind::SignInRequired { location: "/sign-in".into() };
/// assert_eq!(Error::new(signed_out(), Answer::Html).status().as_u16(), 302);
/// assert_eq!(Error::new(signed_out(), Answer::Json).status().as_u16(), 401);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Answer {
    /// A page: signed-out browsers are redirected to sign-in, other errors get
    /// a small HTML page.
    #[default]
    Html,
    /// An API route: a JSON body `{"error": …, "message": …}` (401 when signed out).
    Json,
}

/// What went wrong. Match on it through [`Error::kind`].
///
/// ```
/// use logto_actix::{Error, ErrorKind};
///
/// fn is_forbidden(e: &Error) -> bool {
///     matches!(e.kind(), ErrorKind::NotAMember { .. } | ErrorKind::AccessDenied { .. })
/// }
/// assert!(is_forbidden(&ErrorKind::NotAMember { organization_id: "org-1".into() }.into()));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The browser is not signed in (or its sign-in ended). Pages redirect to
    /// `location`; API routes answer 401.
    #[error("sign-in required")]
    SignInRequired {
        /// The sign-in URL with `return_to` set to the current page.
        location: String,
    },
    /// The login ended at Logto while the browser was using it (its grant
    /// revoked, its refresh token expired): answered like
    /// [`ErrorKind::SignInRequired`]; an application may say "please sign in
    /// again".
    #[error("the session has ended; sign in again")]
    SessionEnded {
        /// The sign-in URL with `return_to` set to the current page.
        location: String,
    },
    /// Logto refused an organization token: the user is not a member of
    /// `organization_id` (403).
    #[error("not a member of organization {organization_id}")]
    NotAMember {
        /// The organization asked for.
        organization_id: OrganizationId,
    },
    /// Logto refused an API resource token (`access_denied`, 403).
    #[error("access to {resource} denied")]
    AccessDenied {
        /// The API resource indicator asked for.
        resource: ResourceIndicator,
    },
    /// A state-changing request without the session's CSRF token, or from
    /// another origin (403).
    #[error("CSRF check failed")]
    Csrf,
    /// The sign-in callback was refused: forged or replayed `state`, an error
    /// from Logto, a failed code exchange (400).
    #[error("sign-in failed: {0}")]
    SignInFailed(#[source] logto_client::Error),
    /// Any other failure of the Logto client (502 when Logto is unreachable or
    /// answered an error, 500 otherwise).
    #[error(transparent)]
    Logto(logto_client::Error),
    /// The token store failed (500).
    #[error("token store: {0}")]
    Storage(#[from] StorageError),
    /// The actix session could not be read or written (500).
    #[error("session: {0}")]
    Session(String),
    /// The session state grew beyond what a cookie can carry (500): see
    /// [`crate::check_session_size`].
    #[error("the session state is {size} bytes, more than the {limit} bytes a cookie can carry")]
    SessionTooLarge {
        /// The serialized size of the session state.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The application is not set up: [`crate::LogtoAuth::routes`] was not
    /// registered, or a path or URL is invalid (500).
    #[error("configuration: {0}")]
    Config(String),
}

/// The error of every extractor, route and helper of this crate.
///
/// It implements [`ResponseError`], so handlers return it with `?`. How it is
/// answered (HTML page or JSON) follows the extractor kind: a page extractor
/// ([`crate::Authenticated`]) redirects to sign-in, an API extractor
/// ([`crate::ApiAuthenticated`]) answers 401 JSON.
///
/// ```no_run
/// use actix_web::{HttpResponse, web};
/// use logto_actix::{Authenticated, Error, ErrorKind};
///
/// async fn acme(auth: Authenticated) -> Result<HttpResponse, Error> {
///     match auth.organization_token("org-acme").await {
///         Ok(_token) => Ok(HttpResponse::Ok().body("welcome to Acme")),
///         Err(e) if matches!(e.kind(), ErrorKind::NotAMember { .. }) => {
///             Ok(HttpResponse::Forbidden().body("ask an admin for an invitation"))
///         }
///         Err(e) => Err(e),
///     }
/// }
/// ```
pub struct Error {
    kind: ErrorKind,
    answer: Answer,
}

impl Error {
    /// An error answered as `answer`.
    ///
    /// ```
    /// use logto_actix::{Answer, Error, ErrorKind};
    ///
    /// let e = Error::new(ErrorKind::Csrf, Answer::Json);
    /// assert_eq!(e.status().as_u16(), 403);
    /// ```
    pub fn new(kind: ErrorKind, answer: Answer) -> Self {
        Self { kind, answer }
    }

    /// What went wrong.
    ///
    /// ```
    /// use logto_actix::{Error, ErrorKind};
    ///
    /// let e = Error::from(ErrorKind::Csrf);
    /// assert!(matches!(e.kind(), ErrorKind::Csrf));
    /// ```
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// What went wrong, by value (to convert it into an application's own
    /// error type).
    ///
    /// ```
    /// use logto_actix::{Error, ErrorKind};
    ///
    /// let e = Error::from(ErrorKind::Csrf);
    /// assert!(matches!(e.into_kind(), ErrorKind::Csrf));
    /// ```
    pub fn into_kind(self) -> ErrorKind {
        self.kind
    }

    /// How it is answered.
    ///
    /// ```
    /// use logto_actix::{Answer, Error, ErrorKind};
    ///
    /// assert_eq!(Error::from(ErrorKind::Csrf).answer(), Answer::Html);
    /// ```
    pub fn answer(&self) -> Answer {
        self.answer
    }

    /// The same error, answered as `answer`.
    ///
    /// ```
    /// use logto_actix::{Answer, Error, ErrorKind};
    ///
    /// let e = Error::from(ErrorKind::Csrf).answered_as(Answer::Json);
    /// assert_eq!(e.answer(), Answer::Json);
    /// ```
    pub fn answered_as(mut self, answer: Answer) -> Self {
        self.answer = answer;
        self
    }

    /// The HTTP status it is answered with.
    ///
    /// ```
    /// use logto_actix::{Error, ErrorKind};
    ///
    /// let e = Error::from(ErrorKind::NotAMember { organization_id: "org-acme".into() });
    /// assert_eq!(e.status().as_u16(), 403);
    /// ```
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            ErrorKind::SignInRequired { .. } | ErrorKind::SessionEnded { .. } => {
                match self.answer {
                    Answer::Html => StatusCode::FOUND,
                    Answer::Json => StatusCode::UNAUTHORIZED,
                }
            }
            ErrorKind::NotAMember { .. } | ErrorKind::AccessDenied { .. } | ErrorKind::Csrf => {
                StatusCode::FORBIDDEN
            }
            ErrorKind::SignInFailed(_) => StatusCode::BAD_REQUEST,
            ErrorKind::Logto(logto_client::Error::Transport(_) | logto_client::Error::Oidc(_)) => {
                StatusCode::BAD_GATEWAY
            }
            ErrorKind::Logto(_)
            | ErrorKind::Storage(_)
            | ErrorKind::Session(_)
            | ErrorKind::SessionTooLarge { .. }
            | ErrorKind::Config(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of the JSON answer.
    fn code(&self) -> &'static str {
        match &self.kind {
            ErrorKind::SignInRequired { .. } | ErrorKind::SessionEnded { .. } => "unauthorized",
            ErrorKind::NotAMember { .. } => "not_a_member",
            ErrorKind::AccessDenied { .. } => "access_denied",
            ErrorKind::Csrf => "csrf",
            ErrorKind::SignInFailed(_) => "sign_in_failed",
            ErrorKind::Logto(_) if self.status() == StatusCode::BAD_GATEWAY => "bad_gateway",
            _ => "internal_error",
        }
    }

    /// What the user may read: the error itself for 4xx, nothing internal for 5xx.
    fn public_message(&self) -> String {
        if self.status().is_server_error() {
            match self.status() {
                StatusCode::BAD_GATEWAY => "the identity provider could not be reached".into(),
                _ => "internal error".into(),
            }
        } else {
            self.kind.to_string()
        }
    }

    /// Maps an error of the Logto client: `access_denied` and "sign in again"
    /// get their own kinds; everything else is [`ErrorKind::Logto`].
    pub(crate) fn from_client(
        error: logto_client::Error,
        target: Target<'_>,
        answer: Answer,
        sign_in: impl FnOnce() -> String,
    ) -> Self {
        let kind = if error.oidc().is_some_and(|o| o.is_access_denied()) {
            match target {
                Target::Organization(id) => ErrorKind::NotAMember {
                    organization_id: id.clone(),
                },
                Target::Resource(resource) => ErrorKind::AccessDenied {
                    resource: resource.clone(),
                },
                Target::None => ErrorKind::Logto(error),
            }
        } else if error.requires_sign_in() {
            ErrorKind::SessionEnded {
                location: sign_in(),
            }
        } else {
            ErrorKind::Logto(error)
        };
        Self::new(kind, answer)
    }
}

/// What a token request was for.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a> {
    Resource(&'a ResourceIndicator),
    Organization(&'a OrganizationId),
    None,
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind, Answer::Html)
    }
}

impl From<StorageError> for Error {
    fn from(e: StorageError) -> Self {
        ErrorKind::Storage(e).into()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl fmt::Debug for Error {
    /// The error and its chain of causes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({:?})", self.kind, self.answer)?;
        let mut source = std::error::Error::source(&self.kind);
        while let Some(cause) = source {
            writeln!(f, "caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, debug = ?self, "logto-actix request failed");
        }
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match (&self.kind, self.answer) {
            (
                ErrorKind::SignInRequired { location } | ErrorKind::SessionEnded { location },
                Answer::Html,
            ) => response
                .insert_header((header::LOCATION, location.as_str()))
                .finish(),
            (_, Answer::Json) => {
                if status == StatusCode::UNAUTHORIZED {
                    response.insert_header((header::WWW_AUTHENTICATE, "Session"));
                }
                response.json(serde_json::json!({
                    "error": self.code(),
                    "message": self.public_message(),
                }))
            }
            (_, Answer::Html) => {
                let title = status.canonical_reason().unwrap_or("Error");
                response
                    .content_type("text/html; charset=utf-8")
                    .body(format!(
                        "<!doctype html><title>{title}</title><h1>{title}</h1><p>{}</p>",
                        html_escape(&self.public_message())
                    ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_out_pages_redirect_and_apis_answer_401() {
        let kind = || ErrorKind::SignInRequired {
            location: "/sign-in?return_to=%2F".into(),
        };
        let page = Error::new(kind(), Answer::Html).error_response();
        assert_eq!(page.status(), StatusCode::FOUND);
        assert_eq!(
            page.headers().get(header::LOCATION).unwrap(),
            "/sign-in?return_to=%2F"
        );
        let api = Error::new(kind(), Answer::Json).error_response();
        assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            api.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json"
        );
    }

    #[test]
    fn server_errors_do_not_leak_details() {
        let e = Error::from(ErrorKind::Config("secret detail".into()));
        assert_eq!(e.public_message(), "internal error");
    }
}
