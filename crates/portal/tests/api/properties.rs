//! Property tests (issue 7 item 5, checklist A6.1/A6.2; proptest in place of
//! cargo fuzz): the `return_to` validator, the slug rule, and — over HTTP
//! against a real portal — the callback query parser, the session-cookie
//! decoder, the tenant route and bearer-token validation. `XTASK_LONG=1` runs
//! ten times as many counted cases (100,000 for `return_to`) and turns the
//! HTTP ones and a `return_to` run into fixed-time smoke runs ([`SMOKE`] each).

use std::time::{Duration, Instant};

use actix_web::http::header::HeaderValue;
use portal::tenant::valid_slug;
use portal::web::auth::safe_return_to;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use sqlx::PgPool;
use url::Url;

use crate::helpers::*;

fn long() -> bool {
    std::env::var("XTASK_LONG").as_deref() == Ok("1")
}

fn cases(default: u32) -> u32 {
    if long() { default * 10 } else { default }
}

/// How long each fixed-time smoke run lasts under `XTASK_LONG` (A6.1: the
/// stand-in for `cargo fuzz`, which needs nightly).
const SMOKE: Duration = Duration::from_secs(8);
/// One case taking longer than this counts as a hang.
const CASE_LIMIT: Duration = Duration::from_secs(5);

/// The case budget of a smoke run: `normal` cases, or under `XTASK_LONG` at
/// least that many and as many more as fit in [`SMOKE`].
struct Budget {
    deadline: Option<Instant>,
    normal: u32,
    done: u32,
}

impl Budget {
    fn new(normal: u32) -> Self {
        Self {
            deadline: long().then(|| Instant::now() + SMOKE),
            normal,
            done: 0,
        }
    }

    fn next(&mut self) -> bool {
        let more = self.done < self.normal || self.deadline.is_some_and(|d| Instant::now() < d);
        if more {
            self.done += 1;
        }
        more
    }
}

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Pieces open-redirect payloads are made of.
const PIECES: &[&str] = &[
    "/",
    "//",
    "\\",
    "/\\",
    "%2F",
    "%2f",
    "%5C",
    "%5c",
    "%09",
    "%0A",
    "%0d",
    "%00",
    "%20",
    ".",
    "..",
    "%2e",
    "%2E%2E",
    "./",
    "../",
    "evil.example",
    "portal.example",
    "@",
    ":",
    "http:",
    "https:",
    "javascript:",
    "data:",
    "?",
    "#",
    "&",
    "=",
    "\t",
    "\n",
    "\r",
    " ",
    "%",
    "%25",
    "%252F",
    "\u{3000}",
    "\u{ff0f}",
    "\u{ff3c}",
    "\u{2215}",
    "\u{2044}",
    "\u{0}",
    "\u{7f}",
    "\u{200b}",
    "\u{feff}",
    "a",
    "t",
    "acme",
];

fn hostile_return_to() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(PIECES).prop_map(str::to_owned),
        1 => "[a-zA-Z0-9._~-]{1,6}",
        1 => any::<char>().prop_map(String::from),
    ];
    prop_oneof![
        6 => prop::collection::vec(piece, 0..12).prop_map(|v| v.concat()),
        1 => any::<String>(),
        1 => "/[ -~]{0,60}",
    ]
}

proptest! {
    #![proptest_config(config(10_000))]

    /// A6.2: whatever comes in, the target stays on the portal's origin,
    /// fits in a `Location` header, and passes the validator again unchanged.
    #[test]
    fn return_to_never_leaves_the_origin(raw in hostile_return_to()) {
        let out = safe_return_to(Some(&raw));
        let base = Url::parse("https://portal.example/").unwrap();
        let joined = base.join(&out);
        prop_assert!(joined.is_ok(), "{raw:?} -> {out:?}");
        let joined = joined.unwrap();
        prop_assert_eq!(joined.origin(), base.origin(), "{:?} -> {:?}", raw, out);
        prop_assert!(out.starts_with('/'), "{raw:?} -> {out:?}");
        prop_assert!(!out.starts_with("//") && !out.starts_with("/\\"), "{raw:?} -> {out:?}");
        prop_assert!(HeaderValue::from_str(&out).is_ok(), "{raw:?} -> {out:?}");
        prop_assert_eq!(safe_return_to(Some(&out)), out.clone(), "{:?} is not a fixed point", out);
    }

    #[test]
    fn every_slug_of_the_documented_form_is_accepted(slug in "[a-z0-9][a-z0-9-]{0,62}") {
        prop_assert!(valid_slug(&slug), "{slug:?}");
    }

    /// `valid_slug` accepts exactly `[a-z0-9][a-z0-9-]{0,62}`.
    #[test]
    fn valid_slug_matches_the_documented_pattern(
        slug in prop_oneof![
            "[a-z0-9A-Z_. \u{e9}-]{0,70}",
            "-?[a-z0-9-]{60,66}",
            any::<String>(),
        ]
    ) {
        prop_assert_eq!(valid_slug(&slug), documented_slug(&slug), "{:?}", slug);
    }
}

/// The documented pattern, spelled out byte by byte.
fn documented_slug(s: &str) -> bool {
    let b = s.as_bytes();
    let first = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let rest = |c: &u8| first(c) || *c == b'-';
    match b.split_first() {
        Some((f, tail)) => first(f) && tail.len() <= 62 && tail.iter().all(rest),
        None => false,
    }
}

/// Bytes into a query string: what may stand raw in a request target stays
/// raw (including `%`, `&`, `=` and `+`), everything else is %-escaped.
fn query_of(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~!$'()*,;:@/?%&=+".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn callback_query(real_state: String, issuer: String) -> impl Strategy<Value = String> {
    let key = prop_oneof![
        4 => prop::sample::select(&["code", "state", "iss", "error", "error_description", "session_state", "scope"][..])
            .prop_map(str::to_owned),
        1 => prop::collection::vec(any::<u8>(), 0..12).prop_map(|b| query_of(&b)),
    ];
    let value = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..80).prop_map(|b| query_of(&b)),
        1 => Just(urlencode(&real_state)),
        1 => Just(urlencode(&issuer)),
        1 => "[A-Za-z0-9_-]{0,64}",
    ];
    prop_oneof![
        2 => prop::collection::vec((key, value), 0..7).prop_map(|pairs| {
            pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
        }),
        1 => prop::collection::vec(any::<u8>(), 0..400).prop_map(|b| query_of(&b)),
    ]
}

fn sample<S: Strategy>(runner: &mut TestRunner, strategy: &S) -> S::Value {
    strategy.new_tree(runner).unwrap().current()
}

/// The callback's query parser, over HTTP: a browser with a pending sign-in
/// sends arbitrary query strings (sometimes with its real `state`); every
/// answer is a 4xx — never a 5xx, never a session.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn arbitrary_callback_queries_get_a_4xx(pool: PgPool) {
    let app = spawn_app(pool).await;
    let auth = app.start_sign_in(&app.browser, "/sign-in").await;
    let state = auth
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let strategy = callback_query(state, app.idp.issuer());
    let mut runner = TestRunner::new(ProptestConfig::default());
    let mut budget = Budget::new(300);
    while budget.next() {
        let query = sample(&mut runner, &strategy);
        let url = format!("{}/callback?{query}", app.address);
        let started = Instant::now();
        let res = app.browser.get(&url).send().await.unwrap();
        let status = res.status().as_u16();
        assert!((400..500).contains(&status), "{query:?}: {status}");
        assert!(started.elapsed() < CASE_LIMIT, "{query:?}: a hang");
    }
    eprintln!("callback queries: {} cases", budget.done);
    assert_eq!(app.logins().await, 0);
    assert_eq!(app.idp.counters().authorization_code_grants, 0);
    // The portal is still fine.
    app.sign_in_as("alice").await;
}

/// `bytes` with every `%XX` escape decoded, as a cookie value is read.
fn percent_decoded(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap());
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Session-cookie decoding, over HTTP: arbitrary cookie values (random
/// bytes, base64-looking noise, mutations of a real cookie) never cause a
/// 5xx: pages send the browser to sign in, the API answers 401.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn arbitrary_session_cookies_never_cause_a_5xx(pool: PgPool) {
    assert_eq!(percent_decoded(b"a%3D%2fb%zz%4"), b"a=/b%zz%4");
    let app = spawn_app(pool).await;
    app.sign_in_as("bob").await;
    let real = app.session_cookie().unwrap();
    let cookie_byte = prop_oneof![
        4 => (0x21u8..0x7f).prop_filter("cookie separator", |b| *b != b';'),
        1 => 0x80u8..=0xff,
        1 => Just(b' '),
    ];
    let real_len = real.len();
    let genuine = real.clone().into_bytes();
    let strategy = prop_oneof![
        prop::collection::vec(cookie_byte, 0..600),
        "[A-Za-z0-9+/=%_-]{0,400}".prop_map(String::into_bytes),
        (
            0..real_len,
            prop::sample::select(&b"AZaz09+/=%-_.~"[..]),
            0..real_len + 1
        )
            .prop_map(move |(i, c, cut)| {
                let mut v = real.clone().into_bytes();
                v[i] = c;
                v.truncate(cut.max(1));
                v
            }),
    ];
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut runner = TestRunner::new(ProptestConfig::default());
    let mut budget = Budget::new(300);
    while budget.next() {
        let i = budget.done;
        let value = sample(&mut runner, &strategy);
        // The genuine cookie, or the same one spelled otherwise (the cookie
        // carries `%3D` for `=`: a mutation can cut it to a bare `=`).
        if percent_decoded(&value) == percent_decoded(&genuine) {
            continue;
        }
        let mut header = b"portal-session=".to_vec();
        header.extend_from_slice(&value);
        let header = reqwest::header::HeaderValue::from_bytes(&header).unwrap();
        let (path, expected) = match i % 3 {
            0 => ("/protected", 302),
            1 => ("/api/me", 401),
            _ => ("/callback?code=x&state=y", 400),
        };
        let started = Instant::now();
        let res = client
            .get(app.url(path))
            .header("cookie", header.clone())
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() < CASE_LIMIT, "{header:?}: a hang");
        assert_eq!(
            res.status().as_u16(),
            expected,
            "{path} with cookie {header:?}"
        );
    }
    eprintln!("session cookies: {} cases", budget.done);
    // The rightful browser is unaffected.
    assert_eq!(app.get("/protected").await.status().as_u16(), 200);
}

/// A6.1, the `return_to` validator: a fixed-time smoke run under `XTASK_LONG`
/// (in addition to the 100,000 counted cases of the property above), a short
/// one otherwise. Every answer is a same-origin path, quickly, without panic.
#[test]
fn return_to_smoke_run() {
    let strategy = hostile_return_to();
    let mut runner = TestRunner::new(ProptestConfig::default());
    let base = Url::parse("https://portal.example/").unwrap();
    let mut budget = Budget::new(2_000);
    while budget.next() {
        let raw = sample(&mut runner, &strategy);
        let started = Instant::now();
        let out = std::panic::catch_unwind(|| safe_return_to(Some(&raw)))
            .unwrap_or_else(|_| panic!("panicked on {raw:?}"));
        assert!(started.elapsed() < CASE_LIMIT, "{raw:?}: a hang");
        let joined = base.join(&out).unwrap();
        assert_eq!(joined.origin(), base.origin(), "{raw:?} -> {out:?}");
    }
    eprintln!("return_to: {} cases", budget.done);
}

/// A6.1 / issue 7 item 5, the tenant slug: the rule and the route. The rule
/// is `[a-z0-9][a-z0-9-]{0,62}` exactly; `/t/{slug}/` answers any slug a
/// browser can send with 200, 302, 403 or 404 — never a 5xx — and only
/// Acme's own page shows Acme.
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn arbitrary_tenant_slugs_never_cause_a_5xx(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let strategy = prop_oneof![
        3 => "[a-z0-9-]{0,70}",
        2 => prop::collection::vec(any::<u8>(), 0..80).prop_map(|b| query_of(&b)),
        1 => prop::sample::select(&["acme", "globex", "ACME", "acme%00", "..", "%2e%2e", "acme%2Fglobex"][..])
            .prop_map(str::to_owned),
        1 => any::<String>(),
    ];
    let mut runner = TestRunner::new(ProptestConfig::default());
    let mut budget = Budget::new(200);
    while budget.next() {
        let slug = sample(&mut runner, &strategy);
        assert_eq!(valid_slug(&slug), documented_slug(&slug), "{slug:?}");
        // What may stand in a path segment; the rest %-escaped (dots too: a
        // client would resolve `..` before sending).
        let segment: String = slug
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_~%".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        // A client resolves dot segments (`%2e%2e` included) before sending:
        // such a URL is not a tenant page any more.
        let url = Url::parse(&app.url(&format!("/t/{segment}/"))).unwrap();
        if !url.path().starts_with("/t/") || url.path().len() <= 4 {
            continue;
        }
        let started = Instant::now();
        let res = app.browser.get(url).send().await.unwrap();
        let status = res.status().as_u16();
        assert!(started.elapsed() < CASE_LIMIT, "{slug:?}: a hang");
        assert!(
            matches!(status, 200 | 302 | 403 | 404),
            "{slug:?}: {status}"
        );
        if status == 200 {
            assert_eq!(slug, "acme", "only Acme's page for alice");
        }
    }
    eprintln!("tenant slugs: {} cases", budget.done);
}

/// A6.1 / issue 7 item 5, bearer-token validation over HTTP: alice's genuine
/// Acme organization token, mutated byte by byte, and arbitrary
/// `Authorization` headers are refused with 401/403 — never a 5xx, never
/// accepted (unless the mutation decodes to the very same token).
#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn arbitrary_bearer_tokens_are_refused_without_a_5xx(pool: PgPool) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let app = spawn_app(pool).await;
    let (genuine, _) = crate::security::acme_token_of_alice(&app).await;
    let decoded = |t: &str| -> Option<Vec<Vec<u8>>> {
        let parts: Vec<&str> = t.split('.').collect();
        (parts.len() == 3)
            .then(|| {
                parts
                    .iter()
                    .map(|p| URL_SAFE_NO_PAD.decode(p).ok())
                    .collect()
            })
            .flatten()
    };
    let original = decoded(&genuine).unwrap();
    let len = genuine.len();
    let token_byte = prop_oneof![
        6 => prop::sample::select(&b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[..]),
        1 => prop::sample::select(&b". =+/%"[..]),
    ];
    let edit = (0..len, token_byte.clone(), 0u8..3);
    let mutated = prop::collection::vec(edit, 1..4).prop_map({
        let genuine = genuine.clone();
        move |edits| {
            let mut b = genuine.clone().into_bytes();
            for (i, c, how) in edits {
                let i = i.min(b.len().saturating_sub(1));
                match how {
                    0 => b[i] = c,
                    1 => b.insert(i, c),
                    _ => {
                        b.remove(i);
                    }
                }
            }
            format!("Bearer {}", String::from_utf8_lossy(&b))
        }
    });
    let strategy = prop_oneof![
        4 => mutated,
        1 => "(Bearer|bearer|BEARER|Basic|Token)? ?[ -~]{0,300}",
        1 => prop::collection::vec(token_byte, 0..400)
            .prop_map(|b| format!("Bearer {}", String::from_utf8_lossy(&b))),
    ];
    let client = reqwest::Client::new();
    let mut runner = TestRunner::new(ProptestConfig::default());
    let mut budget = Budget::new(300);
    while budget.next() {
        let header = sample(&mut runner, &strategy);
        let Ok(value) = reqwest::header::HeaderValue::from_str(&header) else {
            continue;
        };
        let org = if budget.done.is_multiple_of(4) {
            "org-globex"
        } else {
            "org-acme"
        };
        let started = Instant::now();
        let res = client
            .get(app.url(&format!("/api/orgs/{org}/whoami")))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert!(started.elapsed() < CASE_LIMIT, "{header:?}: a hang");
        let status = res.status().as_u16();
        if status == 200 {
            let token = header.trim_start_matches("Bearer ").trim();
            assert_eq!(org, "org-acme", "{header:?} accepted at Globex");
            assert_eq!(
                decoded(token).as_ref(),
                Some(&original),
                "{header:?} accepted"
            );
        } else {
            assert!(matches!(status, 401 | 403), "{header:?}: {status}");
        }
    }
    eprintln!("bearer tokens: {} cases", budget.done);
    let res = client
        .get(app.url("/api/orgs/org-acme/whoami"))
        .bearer_auth(&genuine)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200, "the control");
}
