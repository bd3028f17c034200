//! Discovery (through openidconnect's `ProviderMetadata`), and the openidconnect
//! client this crate drives for the authorization URL, code exchange, refresh and revocation.

use std::fmt;
use std::time::Duration;

use openidconnect as oidc;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClaimName, CoreClaimType, CoreClientAuthMethod,
    CoreGenderClaim, CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreSubjectIdentifierType, CoreTokenIntrospectionResponse,
    CoreTokenType,
};
use openidconnect::{EmptyAdditionalClaims, EndpointNotSet, EndpointSet};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::LogtoConfig;
use crate::error::{ConfigError, Endpoint, Error, TransportError};

/// Logto's discovery fields beyond OIDC Discovery core.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LogtoProviderFields {
    #[serde(default)]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    revocation_endpoint: Option<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: Option<bool>,
}
impl oidc::AdditionalProviderMetadata for LogtoProviderFields {}

pub(crate) type LogtoProviderMetadata = oidc::ProviderMetadata<
    LogtoProviderFields,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Token response extra fields: the ID token kept raw, verified by this crate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RawIdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
}
impl oidc::ExtraTokenFields for RawIdTokenField {}

/// The token endpoint's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct LogtoTokenResponse(
    pub(crate) oidc::StandardTokenResponse<RawIdTokenField, CoreTokenType>,
);

impl oidc::OAuth2TokenResponse for LogtoTokenResponse {
    type TokenType = CoreTokenType;
    fn access_token(&self) -> &oidc::AccessToken {
        self.0.access_token()
    }
    fn token_type(&self) -> &CoreTokenType {
        self.0.token_type()
    }
    fn expires_in(&self) -> Option<Duration> {
        self.0.expires_in()
    }
    fn refresh_token(&self) -> Option<&oidc::RefreshToken> {
        self.0.refresh_token()
    }
    fn scopes(&self) -> Option<&Vec<oidc::Scope>> {
        self.0.scopes()
    }
}

impl
    oidc::TokenResponse<
        EmptyAdditionalClaims,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        oidc::core::CoreJwsSigningAlgorithm,
    > for LogtoTokenResponse
{
    fn id_token(
        &self,
    ) -> Option<
        &oidc::IdToken<
            EmptyAdditionalClaims,
            CoreGenderClaim,
            CoreJweContentEncryptionAlgorithm,
            oidc::core::CoreJwsSigningAlgorithm,
        >,
    > {
        // The raw ID token is verified by this crate's own verifier.
        None
    }
}

/// An error body of Logto: OAuth's `error`/`error_description` and/or Logto's `code`/`message`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct LogtoErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<serde_json::Value>,
}
impl fmt::Display for LogtoErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            self.error
                .as_deref()
                .or(self.code.as_deref())
                .unwrap_or("unknown error")
        )
    }
}
impl oidc::ErrorResponse for LogtoErrorBody {}

impl LogtoErrorBody {
    /// The OAuth error as a typed error, if the body names one.
    pub(crate) fn into_oidc_error(
        self,
        endpoint: Endpoint,
        status: Option<u16>,
    ) -> Option<crate::OidcError> {
        let error = match (&self.error, &self.code) {
            (Some(e), _) if !e.is_empty() => e.clone(),
            (_, Some(c)) if !c.is_empty() => c.strip_prefix("oidc.").unwrap_or(c).to_owned(),
            _ => return None,
        };
        let description = self.error_description.clone().or_else(|| {
            self.data
                .as_ref()
                .and_then(|d| d.get("error_description"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        });
        Some(crate::OidcError {
            endpoint,
            status,
            error,
            error_description: description,
            logto_code: self.code,
            logto_message: self.message,
        })
    }
}

/// The openidconnect client, with the token response and error body types of Logto.
pub(crate) type OidcClient<HasRevocationUrl = EndpointNotSet> = oidc::Client<
    EmptyAdditionalClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    LogtoErrorBody,
    LogtoTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    HasRevocationUrl,
    EndpointSet,
    EndpointNotSet,
>;

/// What the client keeps of discovery.
#[derive(Debug, Clone)]
pub(crate) struct Provider {
    pub(crate) issuer: String,
    pub(crate) jwks_uri: Url,
    pub(crate) userinfo_endpoint: Option<Url>,
    pub(crate) end_session_endpoint: Option<Url>,
    pub(crate) revocation_endpoint: Option<Url>,
    pub(crate) iss_parameter_supported: bool,
    pub(crate) oidc: OidcClient,
}

fn endpoint_url(name: &str, value: Option<&str>) -> Result<Option<Url>, ConfigError> {
    value
        .map(|v| Url::parse(v).map_err(|e| ConfigError::Discovery(format!("{name}: {e}"))))
        .transpose()
}

impl Provider {
    /// Parses and checks a discovery document for `config`.
    pub(crate) fn from_document(config: &LogtoConfig, body: &[u8]) -> Result<Self, Error> {
        Self::from_document_at(config, body, None)
    }

    /// [`Provider::from_document`], naming `url` (where the document was
    /// fetched from) in its errors.
    fn from_document_at(
        config: &LogtoConfig,
        body: &[u8],
        url: Option<&str>,
    ) -> Result<Self, Error> {
        Self::parse_document(config, body).map_err(|e| match (e, url) {
            (ConfigError::Discovery(detail), Some(url)) => {
                ConfigError::Discovery(format!("{detail} (fetched from {url})")).into()
            }
            (
                ConfigError::IssuerMismatch {
                    expected, found, ..
                },
                url,
            ) => ConfigError::IssuerMismatch {
                expected,
                found,
                discovery_url: url.map(str::to_owned),
            }
            .into(),
            (e, _) => e.into(),
        })
    }

    fn parse_document(config: &LogtoConfig, body: &[u8]) -> Result<Self, ConfigError> {
        let metadata: LogtoProviderMetadata = serde_json::from_slice(body)
            .map_err(|e| ConfigError::Discovery(format!("invalid discovery document: {e}")))?;
        let expected = config.issuer();
        let issuer = metadata.issuer().as_str().to_owned();
        // Byte for byte: openidconnect's IssuerUrl keeps the original string.
        if issuer != expected {
            return Err(ConfigError::IssuerMismatch {
                expected,
                found: issuer,
                discovery_url: None,
            });
        }
        let token_url = metadata
            .token_endpoint()
            .cloned()
            .ok_or_else(|| ConfigError::Discovery("no token_endpoint".into()))?;
        let extra = metadata.additional_metadata();
        let mut oidc = oidc::Client::new(
            oidc::ClientId::new(config.app_id().to_owned()),
            metadata.issuer().clone(),
            oidc::JsonWebKeySet::new(Vec::new()),
        )
        .set_auth_uri(metadata.authorization_endpoint().clone())
        .set_token_uri(token_url)
        .set_auth_type(oidc::AuthType::BasicAuth);
        if let Some(secret) = config.app_secret() {
            oidc = oidc.set_client_secret(oidc::ClientSecret::new(secret.secret().to_owned()));
        }
        Ok(Self {
            issuer,
            jwks_uri: metadata.jwks_uri().url().clone(),
            userinfo_endpoint: metadata.userinfo_endpoint().map(|u| u.url().clone()),
            end_session_endpoint: endpoint_url(
                "end_session_endpoint",
                extra.end_session_endpoint.as_deref(),
            )?,
            revocation_endpoint: endpoint_url(
                "revocation_endpoint",
                extra.revocation_endpoint.as_deref(),
            )?,
            iss_parameter_supported: extra.authorization_response_iss_parameter_supported
                == Some(true),
            oidc,
        })
    }

    /// Fetches discovery from `{endpoint}/oidc/.well-known/openid-configuration`.
    pub(crate) async fn fetch(config: &LogtoConfig, http: &reqwest::Client) -> Result<Self, Error> {
        let url = config.discovery_url();
        let body = get_json_bytes(http, &url, Endpoint::Discovery).await?;
        Self::from_document_at(config, &body, Some(&url))
    }
}

/// Largest response body read from Logto.
const MAX_BODY: usize = 1024 * 1024;

/// GET a JSON document: 200 or a transport error.
pub(crate) async fn get_json_bytes(
    http: &reqwest::Client,
    url: &str,
    endpoint: Endpoint,
) -> Result<Vec<u8>, Error> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| transport(endpoint, e))?;
    let status = response.status();
    let body = read_body(response, endpoint).await?;
    if status != reqwest::StatusCode::OK {
        return Err(TransportError::UnexpectedResponse {
            endpoint,
            url: Some(url.to_owned()),
            status: Some(status.as_u16()),
            detail: "unexpected status".into(),
        }
        .into());
    }
    Ok(body)
}

/// Reads a body, refusing more than 1 MiB.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    endpoint: Endpoint,
) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(endpoint, e))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(TransportError::UnexpectedResponse {
                endpoint,
                url: Some(response.url().to_string()),
                status: Some(response.status().as_u16()),
                detail: "response body too large".into(),
            }
            .into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A failed request, its URL moved out of reqwest's message into `url`.
pub(crate) fn transport(endpoint: Endpoint, e: reqwest::Error) -> Error {
    let url = e.url().map(Url::to_string);
    let e = e.without_url();
    TransportError::Request {
        endpoint,
        url,
        message: e.to_string(),
        source: Some(Box::new(e)),
    }
    .into()
}
