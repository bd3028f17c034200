//! Signs in against an in-process `logto-dev` (a development-only identity provider),
//! without any web framework: the "browser" is `logto_dev::testing::complete_sign_in`,
//! which fills Logto's sign-in form over HTTP and returns the callback URL.
//!
//! Run with `cargo run -p logto-client --example sign_in`.

use logto_client::{
    AppSecret, InMemoryStorage, LogtoClient, LogtoConfig, ResourceIndicator, SignInOptions,
    UserScope,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A dev IdP on a free loopback port, with the demo seed (app `portal-demo`, user alice).
    let idp = logto_dev::serve_demo().await?;
    println!("logto-dev at {}", idp.endpoint());

    // One client per process; the API resource is parsed once.
    let api_resource = ResourceIndicator::parse("https://api.portal.test")?;
    let config = LogtoConfig::new(
        idp.endpoint().as_str(),
        "portal-demo",
        Some(AppSecret::new("portal-demo-secret")),
    )?
    .with_scopes([
        UserScope::Email.as_str(),
        UserScope::Roles.as_str(),
        UserScope::CustomData.as_str(),
        UserScope::Organizations.as_str(),
        UserScope::OrganizationRoles.as_str(),
        "read:reports",
        "read:members",
    ])
    .with_resources([&api_resource])?;
    let client = LogtoClient::new(config)?;
    client.discover().await?;

    // One storage per user session.
    let storage = InMemoryStorage::new();
    let authorization_url = client
        .sign_in(
            &storage,
            SignInOptions::new("http://127.0.0.1:8080/callback"),
        )
        .await?;
    println!("authorization URL: {authorization_url}");

    // The browser part: sign in as alice and come back with ?code=…&state=…&iss=….
    let callback =
        logto_dev::testing::complete_sign_in(&authorization_url, "alice", "alice-password").await?;
    let outcome = client
        .handle_sign_in_callback(&storage, callback.as_str())
        .await?;
    println!(
        "signed in: sub={} name={:?}",
        outcome.claims.sub, outcome.claims.name
    );

    let user = client.fetch_user_info(&storage).await?;
    println!("organizations: {:?}", user.organizations);
    println!("custom data: {:?}", user.custom_data);

    let api = client
        .get_access_token_claims(&storage, &api_resource)
        .await?;
    println!("API token scopes: {:?}", api.scope);
    let org = client
        .get_organization_token_claims(&storage, "org-acme")
        .await?;
    println!("org-acme token scopes: {:?}", org.claims.scope);

    let end_session = client
        .sign_out(&storage, Some("http://127.0.0.1:8080/"))
        .await?;
    println!("signed out; end-session URL: {end_session}");

    idp.stop().await;
    Ok(())
}
