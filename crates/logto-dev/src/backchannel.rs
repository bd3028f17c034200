//! Back-channel logout (OIDC Back-Channel Logout 1.0): POSTs signed logout tokens.

use crate::claims;
use crate::error::Error;
use crate::state::{AppState, resolve_port};

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// Sends a logout token to each `(client_id, redirect_uri used)` that has a back-channel
/// logout URI. Returns one result per attempted delivery.
pub(crate) async fn send(
    state: &AppState,
    sub: &str,
    sid: &str,
    targets: &[(String, String)],
) -> Vec<Result<(), Error>> {
    let mut results = Vec::new();
    for (client_id, used_redirect) in targets {
        let Some(app) = state.seed.application(client_id) else {
            continue;
        };
        let Some(template) = &app.backchannel_logout_uri else {
            continue;
        };
        let result = deliver(state, app, template, used_redirect, sub, sid).await;
        match &result {
            Ok(()) => state.count(|c| c.backchannel_logouts_sent += 1),
            Err(e) => {
                tracing::warn!(client_id = %client_id, error = %e, "back-channel logout failed");
                state.count(|c| c.backchannel_logout_failures += 1);
            }
        }
        results.push(result);
    }
    results
}

async fn deliver(
    state: &AppState,
    app: &crate::seed::Application,
    template: &str,
    used_redirect: &str,
    sub: &str,
    sid: &str,
) -> Result<(), Error> {
    let uri = resolve_port(template, used_redirect).ok_or_else(|| Error::Http {
        url: template.to_owned(),
        message: "cannot resolve the port of the back-channel logout URI".to_owned(),
    })?;
    let url = url::Url::parse(&uri)?;
    if !is_loopback(&url) {
        return Err(Error::Http {
            url: uri,
            message: "logto-dev only talks to loopback addresses".to_owned(),
        });
    }
    let sid = app.backchannel_logout_session_required.then_some(sid);
    let token = claims::logout_token(state, &app.id, sub, sid)?;
    let response = state
        .http
        .post(url)
        .form(&[("logout_token", token)])
        .send()
        .await
        .map_err(|e| Error::Http {
            url: uri.clone(),
            message: e.to_string(),
        })?;
    let status = response.status().as_u16();
    if status == 200 || status == 204 {
        Ok(())
    } else {
        Err(Error::Http {
            url: uri,
            message: format!("the relying party answered {status}"),
        })
    }
}
