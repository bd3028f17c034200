//! What `portal logto provision` hands on: the application's credentials as
//! `.env` lines, and a JSON document for the real-Logto tests. Both carry
//! secrets: files are written with mode 0600, through a temporary file
//! renamed into place.

use std::path::Path;

use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use super::{AppCredentials, ProvisionError, Provisioned};
use crate::management::M2mCredentials;

/// `.env` lines: `LOGTO_APP_ID`, `LOGTO_APP_SECRET`, and the bootstrapped
/// machine-to-machine application's `LOGTO_M2M_APP_ID`/`LOGTO_M2M_APP_SECRET`
/// when there is one.
pub fn env_lines(app: &AppCredentials, bootstrapped: Option<&M2mCredentials>) -> String {
    let mut pairs = vec![
        ("LOGTO_APP_ID", app.id.clone()),
        ("LOGTO_APP_SECRET", app.secret.expose_secret().to_owned()),
    ];
    if let Some(m2m) = bootstrapped {
        pairs.push(("LOGTO_M2M_APP_ID", m2m.app_id.clone()));
        pairs.push((
            "LOGTO_M2M_APP_SECRET",
            m2m.app_secret.expose_secret().to_owned(),
        ));
    }
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={}\n", env_value(&v)))
        .collect()
}

/// A value as `.env` reads it: bare when it is plain, else double-quoted with
/// `\` and `"` escaped.
fn env_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/@+".contains(&b));
    if plain {
        value.to_owned()
    } else {
        format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The JSON document of `--write-json`:
///
/// ```json
/// {
///   "endpoint": "http://127.0.0.1:3001",
///   "app": {"id": "…", "secret": "…"},
///   "m2m": {"id": "…", "secret": "…"},
///   "organizations": {"org-acme": {"id": "…", "name": "Acme", "slug": "acme"}},
///   "users": {"alice": {"id": "…", "password": "alice-password"}},
///   "resources": ["https://api.portal.test"],
///   "api_resource": "https://api.portal.test"
/// }
/// ```
pub fn json_document(endpoint: &str, m2m: &M2mCredentials, provisioned: &Provisioned) -> Value {
    let organizations: Map<String, Value> = provisioned
        .organizations
        .iter()
        .map(|(seed_id, o)| {
            (
                seed_id.clone(),
                json!({ "id": o.id, "name": o.name, "slug": o.slug }),
            )
        })
        .collect();
    let users: Map<String, Value> = provisioned
        .users
        .iter()
        .map(|(username, u)| {
            (
                username.clone(),
                json!({ "id": u.id, "password": u.password.expose_secret() }),
            )
        })
        .collect();
    json!({
        "endpoint": endpoint.trim_end_matches('/'),
        "app": {
            "id": provisioned.app.id,
            "secret": provisioned.app.secret.expose_secret(),
        },
        "m2m": {
            "id": m2m.app_id,
            "secret": m2m.app_secret.expose_secret(),
        },
        "organizations": organizations,
        "users": users,
        "resources": provisioned.resources,
        "api_resource": provisioned.api_resource,
    })
}

/// Writes `contents` to `path` readable by its owner only (0600), replacing
/// the file at once (a temporary file in the same directory, renamed).
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), ProvisionError> {
    use std::io::Write as _;
    let fail = |source| ProvisionError::Output {
        path: path.display().to_string(),
        source,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".to_owned());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        {
            // The mode above applies to a new file only.
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::management::M2mCredentials;

    fn app() -> AppCredentials {
        AppCredentials {
            id: "app1".to_owned(),
            secret: "s3cr3t".to_owned().into(),
        }
    }

    #[test]
    fn env_lines_name_the_app_and_only_a_bootstrapped_m2m() {
        assert_eq!(
            env_lines(&app(), None),
            "LOGTO_APP_ID=app1\nLOGTO_APP_SECRET=s3cr3t\n"
        );
        let m2m = M2mCredentials::new("m1", "ms");
        assert_eq!(
            env_lines(&app(), Some(&m2m)),
            "LOGTO_APP_ID=app1\nLOGTO_APP_SECRET=s3cr3t\nLOGTO_M2M_APP_ID=m1\nLOGTO_M2M_APP_SECRET=ms\n"
        );
    }

    #[test]
    fn odd_values_are_quoted_so_dotenv_reads_them_back() {
        assert_eq!(env_value("a b\"c\\"), "\"a b\\\"c\\\\\"");
        let line = format!("K={}\n", env_value("a b\"c#d"));
        let parsed: Vec<(String, String)> = dotenvy::from_read_iter(line.as_bytes())
            .map(Result::unwrap)
            .collect();
        assert_eq!(parsed, vec![("K".to_owned(), "a b\"c#d".to_owned())]);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_even_when_they_existed() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("portal-out-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("logto.env");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
