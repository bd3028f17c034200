//! The userinfo endpoint.

use super::{LogtoClient, error_from_body};
use crate::claims::UserInfo;
use crate::discovery::{read_body, transport};
use crate::error::{ConfigError, Endpoint, Error, TransportError, ValidationError};
use crate::storage::{AccessTokenKey, Storage};

impl LogtoClient {
    /// Fetches the userinfo endpoint (`/oidc/me`) with the userinfo access token
    /// (refreshed if needed). Its `sub` must be the ID token's, else nothing of it is
    /// used: [`ValidationError::UserInfoSubjectMismatch`] (OIDC Core §5.3.2).
    ///
    /// ```no_run
    /// # async fn run(
    /// #     client: logto_client::LogtoClient,
    /// #     storage: logto_client::InMemoryStorage,
    /// # ) -> Result<(), logto_client::Error> {
    /// let user = client.fetch_user_info(&storage).await?;
    /// println!("{} has roles {:?}", user.sub, user.roles.unwrap_or_default());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn fetch_user_info<S: Storage + ?Sized>(
        &self,
        storage: &S,
    ) -> Result<UserInfo, Error> {
        let id_claims = self.get_id_token_claims(storage).await?;
        let provider = self.provider().await?;
        let url = provider
            .userinfo_endpoint
            .clone()
            .ok_or_else(|| ConfigError::Discovery("no userinfo_endpoint".into()))?;
        let token = self
            .get_token(storage, &AccessTokenKey::userinfo(), false)
            .await?;
        let endpoint = Endpoint::UserInfo;
        let response = self
            .inner
            .http
            .get(url.clone())
            .bearer_auth(token.secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| transport(endpoint, e))?;
        let status = response.status();
        let body = read_body(response, endpoint).await?;
        if !status.is_success() {
            return Err(error_from_body(endpoint, status.as_u16(), &body));
        }
        let info: UserInfo =
            serde_json::from_slice(&body).map_err(|e| TransportError::UnexpectedResponse {
                endpoint,
                url: Some(url.to_string()),
                status: Some(status.as_u16()),
                detail: format!("invalid userinfo: {e}"),
            })?;
        if info.sub != id_claims.sub {
            return Err(ValidationError::UserInfoSubjectMismatch.into());
        }
        Ok(info)
    }
}
