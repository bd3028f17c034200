//! Newtypes for secrets: their `Debug` prints `[redacted]`, and they have no `Display`.

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            ///
            /// ```
            #[doc = concat!("let secret = logto_client::", stringify!($name), "::new(\"s3cr3t\");")]
            #[doc = concat!("assert_eq!(format!(\"{secret:?}\"), \"", stringify!($name), "([redacted])\");")]
            /// ```
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The secret value. Never log it.
            ///
            /// ```
            #[doc = concat!("let secret = logto_client::", stringify!($name), "::new(\"s3cr3t\");")]
            /// assert_eq!(secret.secret(), "s3cr3t");
            /// ```
            pub fn secret(&self) -> &str {
                &self.0
            }
            /// Consumes the wrapper and returns the secret value.
            ///
            /// ```
            #[doc = concat!("let secret = logto_client::", stringify!($name), "::new(\"s3cr3t\");")]
            /// let plain: String = secret.into_secret();
            /// assert_eq!(plain, "s3cr3t");
            /// ```
            pub fn into_secret(self) -> String {
                self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_type!(
    /// The application's secret (client secret of a Logto "traditional web" app).
    ///
    /// ```
    /// use logto_client::{AppSecret, LogtoConfig};
    ///
    /// let secret = AppSecret::new("my-app-secret"); // from configuration
    /// let config = LogtoConfig::new("https://auth.example.com", "my-app-id", Some(secret))?;
    /// assert_eq!(format!("{config:?}").matches("my-app-secret").count(), 0);
    /// # Ok::<(), logto_client::ConfigError>(())
    /// ```
    AppSecret
);
secret_type!(
    /// A raw ID token (compact JWS).
    ///
    /// ```
    /// use logto_client::IdToken;
    ///
    /// let token = IdToken::new("eyJhbGciOiJFUzM4NCJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2ln");
    /// assert_eq!(format!("{token:?}"), "IdToken([redacted])");
    /// assert_eq!(token.secret().split('.').count(), 3);
    /// ```
    IdToken
);
secret_type!(
    /// A refresh token.
    ///
    /// ```
    /// use logto_client::RefreshToken;
    ///
    /// let token = RefreshToken::new("rt-1");
    /// assert_eq!(serde_json::to_string(&token)?, r#""rt-1""#); // stored as the plain string
    /// assert_eq!(format!("{token:?}"), "RefreshToken([redacted])");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    RefreshToken
);
secret_type!(
    /// An access token: a JWT (`typ: at+jwt`) for API resources and organizations,
    /// opaque for the userinfo endpoint.
    ///
    /// ```
    /// use logto_client::AccessToken;
    ///
    /// let token = AccessToken::new("eyJ...");
    /// let header = format!("Bearer {}", token.secret());
    /// assert_eq!(header, "Bearer eyJ...");
    /// assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
    /// ```
    AccessToken
);
secret_type!(
    /// A PKCE code verifier (RFC 7636).
    ///
    /// ```
    /// use logto_client::CodeVerifier;
    ///
    /// // Made by `LogtoClient::sign_in` and kept in the `SignInSession`.
    /// let verifier = CodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    /// assert_eq!(format!("{verifier:?}"), "CodeVerifier([redacted])");
    /// ```
    CodeVerifier
);
