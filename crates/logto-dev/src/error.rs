//! The crate's error type and OAuth error responses in Logto's shape.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Map, Value, json};

/// Everything that can go wrong in logto-dev's public API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The seed is invalid.
    #[error(transparent)]
    Seed(#[from] crate::seed::SeedError),
    /// Binding or running the HTTP server failed.
    #[error("server I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A signing key could not be generated.
    #[error("key generation failed: {0}")]
    KeyGeneration(String),
    /// No signing key is available (never happens once started).
    #[error("no signing key")]
    NoKey,
    /// A lock was poisoned by a panicking thread.
    #[error("internal lock poisoned")]
    Poisoned,
    /// An outbound HTTP request (back-channel logout, test helper) failed.
    #[error("HTTP request to {url} failed: {message}")]
    Http {
        /// Target URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The sign-in helper could not complete the flow.
    #[error("sign-in flow failed: {0}")]
    SignIn(String),
    /// A URL could not be built.
    #[error("bad URL: {0}")]
    Url(#[from] url::ParseError),
}

/// An OAuth error answered as JSON in Logto's extended shape:
/// `{code: "oidc.<error>", message, [error_uri], error, error_description, [scope]}`.
#[derive(Debug, Clone)]
pub(crate) struct OAuthError {
    pub(crate) status: StatusCode,
    pub(crate) error: &'static str,
    pub(crate) description: String,
    pub(crate) scope: Option<String>,
    /// Members appended after the standard ones (`state` and `iss` at `/oidc/auth`).
    pub(crate) extra: Vec<(&'static str, String)>,
    pub(crate) www_authenticate: Option<String>,
}

impl OAuthError {
    pub(crate) fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            error,
            description: description.into(),
            scope: None,
            extra: Vec::new(),
            www_authenticate: None,
        }
    }

    /// `invalid_grant` always carries the same description in Logto.
    pub(crate) fn invalid_grant() -> Self {
        Self::new(400, "invalid_grant", "grant request is invalid")
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }

    pub(crate) fn invalid_target() -> Self {
        Self::new(
            400,
            "invalid_target",
            "resource indicator is missing, or unknown",
        )
    }

    pub(crate) fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    pub(crate) fn with_field(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((key, value.into()));
        self
    }

    pub(crate) fn with_www_authenticate(mut self, value: String) -> Self {
        self.www_authenticate = Some(value);
        self
    }

    /// Logto's `message`: its English phrase for the error, sent as Logto 1.42 sends it
    /// (two phrases keep their `{{…}}` placeholders uninterpolated on the wire).
    fn message(&self) -> String {
        match self.error {
            "access_denied" => "Access denied.".to_owned(),
            "invalid_grant" => "Grant request is invalid.".to_owned(),
            "invalid_request" => "Request is invalid.".to_owned(),
            "invalid_target" => "Invalid resource indicator.".to_owned(),
            "invalid_token" => "Invalid token provided.".to_owned(),
            "invalid_scope" => "Invalid scope: {{error_description}}.".to_owned(),
            "insufficient_scope" => "Token missing scope `{{scope}}`.".to_owned(),
            "invalid_redirect_uri" => {
                "`redirect_uri` did not match any of the client's registered `redirect_uris`."
                    .to_owned()
            }
            "unsupported_grant_type" => "Unsupported `grant_type` requested.".to_owned(),
            "unsupported_response_type" => "Unsupported `response_type` requested.".to_owned(),
            other => format!("An OIDC error occurred: oidc.{other}."),
        }
    }

    pub(crate) fn body(&self) -> Value {
        if self.status.is_server_error() {
            return json!({
                "error": "server_error",
                "error_description": "oops! something went wrong",
            });
        }
        let mut body = Map::new();
        body.insert("code".into(), json!(format!("oidc.{}", self.error)));
        body.insert("message".into(), json!(self.message()));
        if self.error == "invalid_grant" {
            body.insert(
                "error_uri".into(),
                json!("https://openid.sh/debug/invalid_grant"),
            );
        }
        body.insert("error".into(), json!(self.error));
        body.insert("error_description".into(), json!(self.description));
        if let Some(scope) = &self.scope {
            body.insert("scope".into(), json!(scope));
        }
        for (key, value) in &self.extra {
            body.insert((*key).into(), json!(value));
        }
        Value::Object(body)
    }

    pub(crate) fn response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status);
        builder
            .insert_header(("cache-control", "no-store"))
            .content_type("application/json; charset=utf-8");
        if let Some(value) = &self.www_authenticate {
            builder.insert_header(("www-authenticate", value.clone()));
        }
        builder.body(self.body().to_string())
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.description)
    }
}

impl actix_web::ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.response()
    }
}
