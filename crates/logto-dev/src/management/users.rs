//! Users: `GET /api/users` (with Logto's search parameters) and `GET /api/users/{id}`.

use std::sync::Arc;

use actix_web::{HttpResponse, web};

use super::{ApiError, list, pagination, phone_digits, user_json};
use crate::seed::User;
use crate::state::AppState;

type Data = web::Data<Arc<AppState>>;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::get().to(list_users))
        .route("/users/{id}", web::get().to(get_user));
}

/// The fields Logto searches (`userSearchKeys`).
const SEARCH_FIELDS: &[&str] = &["id", "primaryEmail", "primaryPhone", "username", "name"];

fn field<'a>(user: &'a User, name: &str) -> Option<String> {
    let value: Option<&'a str> = match name {
        "id" => Some(&user.id),
        "primaryEmail" => user.email.as_deref(),
        "primaryPhone" => return user.phone.as_deref().map(phone_digits),
        "username" => Some(&user.username)
            .filter(|u| !u.is_empty())
            .map(String::as_str),
        "name" => user.name.as_deref(),
        _ => None,
    };
    value.map(str::to_owned)
}

/// SQL `LIKE`: `%` any run, `_` one character.
fn like(pattern: &[char], value: &[char]) -> bool {
    match pattern.split_first() {
        None => value.is_empty(),
        Some(('%', rest)) => {
            (0..=value.len()).any(|i| value.get(i..).is_some_and(|v| like(rest, v)))
        }
        Some((p, rest)) => match value.split_first() {
            Some((v, vs)) if *p == '_' || p == v => like(rest, vs),
            _ => false,
        },
    }
}

/// One search condition: a field (or every field) and its values.
struct Condition {
    field: Option<String>,
    exact: bool,
    values: Vec<String>,
}

/// Logto's `parseSearchParamsForSearch`, for the modes `like` (the default) and `exact`.
fn parse_search(query: &[(String, String)]) -> Result<(Vec<Condition>, bool, bool), ApiError> {
    let bad = |details: String| ApiError::invalid_input(400, &details);
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let case_sensitive = get("isCaseSensitive") == Some("true");
    let and = match get("joint").or_else(|| get("jointMode")) {
        None | Some("" | "or") => false,
        Some("and") => true,
        Some(other) => return Err(bad(format!("Search joint mode `{other}` is not valid."))),
    };
    let field_of = |key: &str, prefix: &str| -> Result<Option<String>, ApiError> {
        match key.strip_prefix(prefix) {
            Some("") => Ok(None),
            Some(rest) => match rest.strip_prefix('.') {
                Some(f) if SEARCH_FIELDS.contains(&f) => Ok(Some(f.to_owned())),
                _ => Err(bad(format!("Search field `{rest}` is not allowed."))),
            },
            None => Ok(None),
        }
    };
    let mut modes: Vec<(Option<String>, bool)> = Vec::new();
    let mut conditions: Vec<Condition> = Vec::new();
    for (key, value) in query {
        if key.starts_with("mode") {
            let exact = match value.as_str() {
                "exact" => true,
                "like" => false,
                other => return Err(bad(format!("Search match mode `{other}` is not valid."))),
            };
            modes.push((field_of(key, "mode")?, exact));
        } else if key.starts_with("search") {
            let field = field_of(key, "search")?;
            match conditions.iter_mut().find(|c| c.field == field) {
                Some(c) => c.values.push(value.clone()),
                None => conditions.push(Condition {
                    field,
                    exact: false,
                    values: vec![value.clone()],
                }),
            }
        }
    }
    for c in &mut conditions {
        c.exact = modes
            .iter()
            .find(|(f, _)| *f == c.field)
            .or_else(|| modes.iter().find(|(f, _)| f.is_none()))
            .is_some_and(|(_, exact)| *exact);
        if c.values.iter().any(String::is_empty) {
            return Err(bad("Search value cannot be empty.".to_owned()));
        }
        if !c.exact && c.values.len() != 1 {
            return Err(bad(
                "Only one search value is allowed when search mode is not `exact`.".to_owned(),
            ));
        }
    }
    Ok((conditions, and, case_sensitive))
}

fn matches(user: &User, c: &Condition, case_sensitive: bool) -> bool {
    let fold = |s: &str| {
        if case_sensitive {
            s.to_owned()
        } else {
            s.to_lowercase()
        }
    };
    let fields: Vec<&str> = match &c.field {
        Some(f) => vec![f.as_str()],
        None => SEARCH_FIELDS.to_vec(),
    };
    fields.iter().filter_map(|f| field(user, f)).any(|v| {
        let v = fold(&v);
        c.values.iter().any(|pattern| {
            let pattern = fold(pattern);
            if c.exact {
                v == pattern
            } else {
                let p: Vec<char> = pattern.chars().collect();
                let v: Vec<char> = v.chars().collect();
                like(&p, &v)
            }
        })
    })
}

/// `GET /api/users?search=%alice%` (or `search.primaryEmail=…&mode.primaryEmail=exact`,
/// `isCaseSensitive`, `joint=and|or`): users by creation time, paginated.
async fn list_users(
    state: Data,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let page = pagination(&query, false)?;
    let (conditions, and, case_sensitive) = parse_search(&query)?;
    let directory = state.directory();
    let items = directory
        .seed
        .users
        .iter()
        .filter(|u| {
            if conditions.is_empty() {
                return true;
            }
            let mut results = conditions.iter().map(|c| matches(u, c, case_sensitive));
            if and {
                results.all(|r| r)
            } else {
                results.any(|r| r)
            }
        })
        .map(user_json)
        .collect();
    Ok(list(items, page))
}

/// `GET /api/users/{id}`: 404 `entity.not_found` when unknown.
async fn get_user(state: Data, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let directory = state.directory();
    let user = directory.seed.user(&path).ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(user_json(user)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn like_is_sqls() {
        for (p, v, expected) in [
            ("%alice%", "alice@acme.test", true),
            ("alice@acme.test", "alice@acme.test", true),
            ("alice", "alice@acme.test", false),
            ("a_ice%", "alice", true),
            ("%", "", true),
        ] {
            assert_eq!(like(&chars(p), &chars(v)), expected, "{p} {v}");
        }
    }

    #[test]
    fn search_parameters_follow_logto() {
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        let (c, and, cs) = parse_search(&q(&[
            ("search.primaryEmail", "a@b.test"),
            ("mode.primaryEmail", "exact"),
        ]))
        .unwrap();
        assert!(c[0].exact && !and && !cs);
        assert!(parse_search(&q(&[("search.password", "x")])).is_err());
        assert!(parse_search(&q(&[("search", "")])).is_err());
    }
}
