//! Same-origin `return_to` values.

/// The longest `return_to` kept; longer values fall back to `/`.
const MAX_RETURN_TO: usize = 2048;

/// Accepts only a same-origin path: a relative path that starts with a single
/// `/`. Anything else — another origin, a scheme, a protocol-relative `//host`,
/// a backslash, control characters, encoded slashes at the start, dot segments
/// that rebuild one of these — becomes `/`.
///
/// The sign-in route applies it to its `?return_to=`; use it for any redirect
/// target that comes from the request.
///
/// ```
/// use logto_actix::safe_return_to;
///
/// assert_eq!(safe_return_to(Some("/orders?page=2")), "/orders?page=2");
/// assert_eq!(safe_return_to(Some("//evil.example")), "/");
/// assert_eq!(safe_return_to(Some("https://evil.example/")), "/");
/// assert_eq!(safe_return_to(Some("/\\evil.example")), "/");
/// assert_eq!(safe_return_to(None), "/");
/// ```
pub fn safe_return_to(raw: Option<&str>) -> String {
    let out = resolve(raw);
    // The resolved path must pass the same checks: dot segments can rebuild
    // what they refuse (`/./%2F%2Fevil.example` resolves to `/%2F%2Fevil.example`).
    if resolve(Some(&out)) == out {
        out
    } else {
        "/".to_owned()
    }
}

fn resolve(raw: Option<&str>) -> String {
    let fallback = || "/".to_owned();
    let Some(raw) = raw else { return fallback() };
    if raw.is_empty() || raw.len() > MAX_RETURN_TO || !raw.starts_with('/') || raw.starts_with("//")
    {
        return fallback();
    }
    if raw
        .chars()
        .any(|c| c.is_control() || c == '\\' || c.is_whitespace())
    {
        return fallback();
    }
    // What a browser might make of it once decoded.
    let decoded = percent_decode(raw);
    if decoded.starts_with("//") || decoded.chars().any(|c| c.is_control() || c == '\\') {
        return fallback();
    }
    let Ok(base) = url::Url::parse("https://app.invalid/") else {
        return fallback();
    };
    match base.join(raw) {
        Ok(u) if u.origin() == base.origin() && !u.path().starts_with("//") => {
            let mut out = u.path().to_owned();
            if let Some(q) = u.query() {
                out.push('?');
                out.push_str(q);
            }
            out
        }
        _ => fallback(),
    }
}

fn percent_decode(s: &str) -> String {
    let mut current = s.to_owned();
    // Decode repeatedly (double encoding), a few rounds at most.
    for _ in 0..3 {
        let next: String =
            url::form_urlencoded::parse(format!("x={}", current.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
        if next == current {
            break;
        }
        current = next;
    }
    current
}

#[cfg(test)]
mod tests {
    use super::safe_return_to;

    #[test]
    fn same_origin_paths_are_kept() {
        assert_eq!(safe_return_to(Some("/protected")), "/protected");
        assert_eq!(safe_return_to(Some("/t/acme/?x=1")), "/t/acme/?x=1");
        assert_eq!(safe_return_to(None), "/");
    }

    #[test]
    fn everything_else_becomes_root() {
        let long = format!("/{}", "a".repeat(10_000));
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "javascript:alert(1)",
            "https:evil.example",
            "/%09/evil.example",
            "http://app@evil.example",
            "/\t/evil.example",
            "/.//evil.example",
            "/a/..//evil.example",
            "/./%2F%2Fevil.example",
            "/a/../%2F",
            "/./%5C%5Cevil.example",
            "",
            "protected",
            long.as_str(),
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/", "{bad:?} must be refused");
        }
    }
}
