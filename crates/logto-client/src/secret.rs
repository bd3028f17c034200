//! Newtypes for secrets: their `Debug` prints `[redacted]`, and they have no `Display`.

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The secret value. Never log it.
            pub fn secret(&self) -> &str {
                &self.0
            }
            /// Consumes the wrapper and returns the secret value.
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
    AppSecret
);
secret_type!(
    /// A raw ID token (compact JWS).
    IdToken
);
secret_type!(
    /// A refresh token.
    RefreshToken
);
secret_type!(
    /// An access token: a JWT (`typ: at+jwt`) for API resources and organizations,
    /// opaque for the userinfo endpoint.
    AccessToken
);
secret_type!(
    /// A PKCE code verifier (RFC 7636).
    CodeVerifier
);
