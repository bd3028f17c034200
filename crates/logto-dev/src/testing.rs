//! Helpers for tests: drive the real HTML sign-in over HTTP.

use crate::error::Error;

/// Maximum number of requests one sign-in may take.
const MAX_STEPS: usize = 12;

/// A minimal browser: a `reqwest` client with a cookie store and no automatic redirects,
/// so the IdP session survives between sign-ins (SSO, `prompt=none`, end session).
#[derive(Debug, Clone)]
pub struct Browser {
    client: reqwest::Client,
}

impl Browser {
    /// A new browser with an empty cookie jar.
    pub fn new() -> Result<Browser, Error> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::SignIn(e.to_string()))?;
        Ok(Browser { client })
    }

    /// The underlying client (cookie store on, redirects off).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Drives the sign-in: GET the authorization URL, follow to the form, POST the
    /// credentials, follow redirects until one points at the client's `redirect_uri`, and
    /// return that URL (with `code`, `state`, `iss`, or an error) without requesting it.
    /// Intermediate pages without a password field (the simulated SSO page) are submitted
    /// as they are.
    pub async fn sign_in(
        &self,
        authorization_url: &url::Url,
        username: &str,
        password: &str,
    ) -> Result<url::Url, Error> {
        let redirect_uri = authorization_url
            .query_pairs()
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| Error::SignIn("the authorization URL has no redirect_uri".into()))?;
        let redirect_uri = url::Url::parse(&redirect_uri)?;
        let mut request = self.client.get(authorization_url.clone());
        let mut current = authorization_url.clone();
        let mut posted_credentials = false;
        for _ in 0..MAX_STEPS {
            let response = request.send().await.map_err(|e| Error::Http {
                url: current.to_string(),
                message: e.to_string(),
            })?;
            if response.status().is_redirection() {
                let location = response
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| Error::SignIn("a redirect without Location".into()))?;
                let next = current.join(location)?;
                if same_target(&next, &redirect_uri) {
                    return Ok(next);
                }
                current = next;
                request = self.client.get(current.clone());
                continue;
            }
            let status = response.status();
            let html = response.text().await.map_err(|e| Error::Http {
                url: current.to_string(),
                message: e.to_string(),
            })?;
            if posted_credentials && html.contains("class=\"error\"") {
                return Err(Error::SignIn(format!(
                    "sign-in rejected ({status}): {}",
                    extract_error(&html)
                )));
            }
            let Some(form) = parse_form(&html) else {
                return Err(Error::SignIn(format!(
                    "unexpected page ({status}) at {current}: {}",
                    html.chars().take(300).collect::<String>()
                )));
            };
            let mut fields = form.fields;
            for (name, value) in &mut fields {
                match name.as_str() {
                    "username" => {
                        *value = username.to_owned();
                        posted_credentials = true;
                    }
                    "password" => *value = password.to_owned(),
                    _ => {}
                }
            }
            current = current.join(&form.action)?;
            request = self.client.post(current.clone()).form(&fields);
        }
        Err(Error::SignIn("too many steps".into()))
    }
}

fn same_target(candidate: &url::Url, redirect_uri: &url::Url) -> bool {
    candidate.scheme() == redirect_uri.scheme()
        && candidate.host_str() == redirect_uri.host_str()
        && candidate.port_or_known_default() == redirect_uri.port_or_known_default()
        && candidate.path() == redirect_uri.path()
}

struct Form {
    action: String,
    fields: Vec<(String, String)>,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag.get(start..)?.find('"')? + start;
    tag.get(start..end).map(unescape)
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn parse_form(html: &str) -> Option<Form> {
    let start = html.find("<form")?;
    let rest = html.get(start..)?;
    let end = rest.find("</form>").unwrap_or(rest.len());
    let form_html = rest.get(..end)?;
    let tag_end = form_html.find('>')?;
    let action = attr(form_html.get(..tag_end)?, "action")?;
    let mut fields = Vec::new();
    let mut cursor = form_html;
    while let Some(i) = cursor.find("<input") {
        let tail = cursor.get(i..)?;
        let close = tail.find('>')?;
        let tag = tail.get(..close)?;
        if let Some(name) = attr(tag, "name") {
            fields.push((name, attr(tag, "value").unwrap_or_default()));
        }
        cursor = tail.get(close..)?;
    }
    Some(Form { action, fields })
}

fn extract_error(html: &str) -> String {
    html.find("class=\"error\"")
        .and_then(|i| html.get(i..))
        .and_then(|s| {
            let start = s.find('>')? + 1;
            let end = s.find("</p>")?;
            s.get(start..end).map(unescape)
        })
        .unwrap_or_default()
}

/// Drives the real HTML sign-in over HTTP with a fresh [`Browser`]: GET the authorization
/// URL, follow to the form, POST username/password, follow redirects until one points at the
/// client's `redirect_uri`; returns that URL (with `code`, `state`, `iss`) WITHOUT requesting it.
pub async fn complete_sign_in(
    authorization_url: &url::Url,
    username: &str,
    password: &str,
) -> Result<url::Url, Error> {
    Browser::new()?
        .sign_in(authorization_url, username, password)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sign_in_form() {
        let html = r#"<p class="dev">x</p><form method="post" action="/interaction/submit" data-first-screen="sign_in">
<input type="hidden" name="interaction" value="a&amp;b">
<label>Username <input type="text" name="username" value="al" autofocus></label>
<input type="password" name="password" value=""></form>"#;
        let form = parse_form(html).unwrap();
        assert_eq!(form.action, "/interaction/submit");
        assert_eq!(
            form.fields,
            vec![
                ("interaction".to_owned(), "a&b".to_owned()),
                ("username".to_owned(), "al".to_owned()),
                ("password".to_owned(), String::new()),
            ]
        );
    }
}
