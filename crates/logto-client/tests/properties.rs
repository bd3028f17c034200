//! Property tests (checklist A6.2, issue 7 item 5): verification is total.
//! Real tokens captured from Logto, mutated byte by byte, are always refused
//! with an `Err`, never accepted and never a panic. The client runs on the
//! captured discovery document and JWKS with the clock fixed at the tokens'
//! `iat`. `XTASK_LONG=1` runs three times as many cases. At the end, fixed-time
//! smoke runs (A6.1) of the ID-token, logout-token, JWKS and discovery parsers.
//!
//! The tokens name the issuer they were captured from (`http://127.0.0.1:3001`),
//! but no endpoint the client could call is there: every one is moved to port 0,
//! where nothing can listen (a mutated `kid` makes the client re-fetch the JWKS;
//! whatever runs on 3001, a real Logto say, must not answer it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use logto_client::{AppSecret, FixedClock, LogtoClient, LogtoConfig};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value, json};

const CAPTURED_DISCOVERY: &str = include_str!("fixtures/discovery.json");
const JWKS: &str = include_str!("fixtures/jwks.json");
const TOKENS: &str = include_str!("fixtures/token-responses.json");
const LOGOUT_TOKEN: &str = include_str!("fixtures/logout-token.jwt");
const APP_ID: &str = "uzhccc6bcqgd3bbq4vk6i";
const NONCE: &str = "XW81Izx9t-4sfqo2";
const RESOURCE: &str = "https://api.demo.test";
/// `iat` of every token in token-responses.json.
const IAT: i64 = 1_795_531_745;
/// `iat` of the logout token.
const LOGOUT_IAT: i64 = 1_795_531_088;

/// Counted cases: `XTASK_LONG=1` triples them (the long run's bulk is the
/// fixed-time smoke runs at the end).
fn cases(default: u32) -> u32 {
    if std::env::var("XTASK_LONG").as_deref() == Ok("1") {
        default * 3
    } else {
        default
    }
}

/// The captured discovery document, every endpoint but the issuer moved to
/// port 0 of loopback: a request there is refused at once, whatever listens
/// anywhere.
static DISCOVERY: LazyLock<&'static str> = LazyLock::new(|| {
    let mut doc: Map<String, Value> = serde_json::from_str(CAPTURED_DISCOVERY).unwrap();
    for (name, value) in &mut doc {
        if let Value::String(url) = value
            && name != "issuer"
            && url.starts_with("http://127.0.0.1:3001/")
        {
            *url = url.replacen("127.0.0.1:3001", "127.0.0.1:0", 1);
        }
    }
    String::leak(Value::Object(doc).to_string())
});

fn client(now: i64) -> LogtoClient {
    LogtoClient::with_discovery_document(
        config_at(now),
        DISCOVERY.as_bytes(),
        Some(JWKS.as_bytes()),
    )
    .unwrap()
}

fn sample(field: &str) -> String {
    let tokens: Value = serde_json::from_str(TOKENS).unwrap();
    tokens["code_exchange"][field].as_str().unwrap().to_owned()
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
});
static AT_IAT: LazyLock<LogtoClient> = LazyLock::new(|| client(IAT));
static AT_LOGOUT_IAT: LazyLock<LogtoClient> = LazyLock::new(|| client(LOGOUT_IAT));
static ID_TOKEN: LazyLock<String> = LazyLock::new(|| sample("id_token"));
static ACCESS_TOKEN: LazyLock<String> = LazyLock::new(|| sample("access_token"));
static LOGOUT: LazyLock<String> = LazyLock::new(|| LOGOUT_TOKEN.trim().to_owned());
static API: LazyLock<logto_client::ResourceIndicator> =
    LazyLock::new(|| logto_client::ResourceIndicator::parse(RESOURCE).unwrap());

/// `token` with another `kid` in its header (its signature no longer matters).
fn unknown_kid(token: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (header, rest) = token.split_once('.').unwrap();
    let mut header: Value = serde_json::from_slice(&engine.decode(header).unwrap()).unwrap();
    header["kid"] = json!("a-kid-nobody-has");
    format!("{}.{rest}", engine.encode(header.to_string()))
}

/// One edit of a token's bytes.
#[derive(Debug, Clone)]
enum Edit {
    /// Flip one bit.
    Flip(prop::sample::Index, u8),
    /// Replace a byte (mostly with a base64url character, to get past the decoder).
    Replace(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Delete(prop::sample::Index),
    Truncate(prop::sample::Index),
    /// Swap two bytes.
    Swap(prop::sample::Index, prop::sample::Index),
}

fn token_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        6 => prop::sample::select(
            &b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[..]
        ),
        1 => prop::sample::select(&b".=+/ %\0"[..]),
        1 => any::<u8>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<prop::sample::Index>(), 0u8..8).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<prop::sample::Index>(), token_byte()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<prop::sample::Index>(), token_byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Edit::Delete),
        any::<prop::sample::Index>().prop_map(Edit::Truncate),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(a, b)| Edit::Swap(a, b)),
    ]
}

fn apply(token: &str, edits: &[Edit]) -> String {
    let mut b = token.as_bytes().to_vec();
    for e in edits {
        if b.is_empty() {
            break;
        }
        match e {
            Edit::Flip(i, bit) => {
                let i = i.index(b.len());
                b[i] ^= 1 << bit;
            }
            Edit::Replace(i, c) => {
                let i = i.index(b.len());
                b[i] = *c;
            }
            Edit::Insert(i, c) => {
                let i = i.index(b.len() + 1);
                b.insert(i, *c);
            }
            Edit::Delete(i) => {
                let i = i.index(b.len());
                b.remove(i);
            }
            Edit::Truncate(i) => {
                let i = i.index(b.len());
                b.truncate(i);
            }
            Edit::Swap(x, y) => {
                let (x, y) = (x.index(b.len()), y.index(b.len()));
                b.swap(x, y);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn the_unmutated_samples_verify() {
    RUNTIME.block_on(async {
        // A token the keys do not know makes the client re-fetch the JWKS from
        // port 0: refused (or, when a proptest below re-fetched first, skipped
        // for the cool-down), the keys kept. Then the real tokens still verify.
        let unknown_kid = AT_IAT.verify_id_token(&unknown_kid(&ID_TOKEN), None).await;
        assert!(
            matches!(
                unknown_kid,
                Err(logto_client::Error::Transport(_)
                    | logto_client::Error::Validation(
                        logto_client::ValidationError::UnknownKeyId(_)
                    ))
            ),
            "{unknown_kid:?}"
        );
        AT_IAT
            .verify_id_token(&ID_TOKEN, Some(NONCE))
            .await
            .unwrap();
        AT_IAT
            .verify_access_token(&ACCESS_TOKEN, &API)
            .await
            .unwrap();
        AT_LOGOUT_IAT.verify_logout_token(&LOGOUT).await.unwrap();
    });
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(3_000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_mutated_id_token_is_always_refused(edits in prop::collection::vec(edit(), 1..4)) {
        let token = apply(&ID_TOKEN, &edits);
        prop_assume!(token != *ID_TOKEN);
        let r = RUNTIME.block_on(AT_IAT.verify_id_token(&token, Some(NONCE)));
        prop_assert!(r.is_err(), "accepted {token:?}");
        let r = RUNTIME.block_on(AT_IAT.verify_id_token(&token, None));
        prop_assert!(r.is_err(), "accepted without nonce {token:?}");
    }

    #[test]
    fn a_mutated_access_token_is_always_refused(edits in prop::collection::vec(edit(), 1..4)) {
        let token = apply(&ACCESS_TOKEN, &edits);
        prop_assume!(token != *ACCESS_TOKEN);
        let r = RUNTIME.block_on(AT_IAT.verify_access_token(&token, &API));
        prop_assert!(r.is_err(), "accepted {token:?}");
    }

    #[test]
    fn a_mutated_logout_token_is_always_refused(edits in prop::collection::vec(edit(), 1..4)) {
        let token = apply(&LOGOUT, &edits);
        prop_assume!(token != *LOGOUT);
        let r = RUNTIME.block_on(AT_LOGOUT_IAT.verify_logout_token(&token));
        prop_assert!(r.is_err(), "accepted {token:?}");
    }

    /// Arbitrary text is refused too (and never panics).
    #[test]
    fn arbitrary_strings_are_refused(s in prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,130}",
        "eyJ[A-Za-z0-9_-]{0,60}\\.eyJ[A-Za-z0-9_-]{0,200}\\.[A-Za-z0-9_-]{0,130}",
    ]) {
        prop_assert!(RUNTIME.block_on(AT_IAT.verify_id_token(&s, None)).is_err());
        prop_assert!(RUNTIME.block_on(AT_IAT.verify_access_token(&s, &API)).is_err());
        prop_assert!(RUNTIME.block_on(AT_LOGOUT_IAT.verify_logout_token(&s)).is_err());
    }
}

// ----- fixed-time smoke runs (A6.1) -------------------------------------------------
//
// `cargo fuzz` needs nightly, which CI does not promise. In its place, each
// parser below gets a proptest-driven smoke run: a few hundred cases normally,
// and under `XTASK_LONG` as many as fit in `SMOKE` (at least that many). A case
// that panics, or takes longer than `CASE_LIMIT`, fails the run and prints it.

/// How long each smoke run lasts under `XTASK_LONG`.
const SMOKE: Duration = Duration::from_secs(8);
/// One case taking longer than this counts as a hang.
const CASE_LIMIT: Duration = Duration::from_secs(2);

fn smoke<S>(name: &str, strategy: S, normal: u32, check: impl Fn(&S::Value) -> Result<(), String>)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let deadline =
        (std::env::var("XTASK_LONG").as_deref() == Ok("1")).then(|| Instant::now() + SMOKE);
    let mut runner = TestRunner::new(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let mut done = 0u32;
    while done < normal || deadline.is_some_and(|d| Instant::now() < d) {
        let value = strategy.new_tree(&mut runner).unwrap().current();
        let started = Instant::now();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| check(&value)));
        let took = started.elapsed();
        match outcome {
            Err(_) => panic!("{name}: panicked on {value:?}"),
            Ok(Err(why)) => panic!("{name}: {why} — input {value:?}"),
            Ok(Ok(())) => {}
        }
        assert!(took < CASE_LIMIT, "{name}: {took:?} on {value:?}");
        done += 1;
    }
    eprintln!("{name}: {done} cases");
}

use test_support::b64;

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(
            &[
                "http://127.0.0.1:3001/oidc",
                "http://127.0.0.1:3001/oidc/",
                "https://evil.example/oidc",
                "javascript:alert(1)",
                "//evil.example",
                "",
                "ES384",
                "HS256",
                "none",
            ][..]
        )
        .prop_map(Value::from),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| Value::from(b64(&b))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON document mutated field by field: keys removed, replaced by any value,
/// or added.
fn mutated_object(original: &str) -> impl Strategy<Value = String> {
    let doc: Map<String, Value> = serde_json::from_str(original).unwrap();
    let keys: Vec<String> = doc.keys().cloned().collect();
    let change = (prop::sample::select(keys), 0u8..3, json_value());
    prop::collection::vec(change, 1..5).prop_map(move |changes| {
        let mut d = doc.clone();
        for (key, how, value) in changes {
            match how {
                0 => {
                    d.remove(&key);
                }
                1 => {
                    d.insert(key, value);
                }
                _ => {
                    d.insert(format!("{key}_x"), value);
                }
            }
        }
        Value::Object(d).to_string()
    })
}

/// A hostile JWK: real-looking fields in any combination, random material.
fn jwk() -> impl Strategy<Value = Value> {
    let text = |values: &'static [&'static str]| {
        prop_oneof![
            4 => prop::sample::select(values).prop_map(str::to_owned),
            1 => ".{0,8}",
        ]
    };
    let material = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80).prop_map(|b| b64(&b)),
        prop::collection::vec(any::<u8>(), 250..520).prop_map(|b| b64(&b)),
        Just(b64(&[1, 0, 1])),
        ".{0,20}",
    ];
    (
        text(&["EC", "RSA", "oct", "OKP", ""]),
        text(&["P-256", "P-384", "P-521", "X25519", "Ed25519"]),
        text(&["ES384", "ES256", "ES512", "RS256", "PS256", "HS256", "none"]),
        text(&["sig", "enc"]),
        prop_oneof![Just(Value::from("fake-key")), json_value()],
        [
            material.clone(),
            material.clone(),
            material.clone(),
            material,
        ],
        any::<u8>(),
    )
        .prop_map(|(kty, crv, alg, usage, kid, [x, y, n, e], mask)| {
            let mut k = Map::new();
            let fields = [
                ("kty", Value::from(kty)),
                ("crv", Value::from(crv)),
                ("alg", Value::from(alg)),
                ("use", Value::from(usage)),
                ("kid", kid),
                ("x", Value::from(x)),
                ("y", Value::from(y)),
                ("n", Value::from(n)),
                ("e", Value::from(e)),
            ];
            for (i, (name, value)) in fields.into_iter().enumerate() {
                // kty always, the rest as the mask says.
                if i == 0 || mask & (1 << (i % 8)) != 0 || i == 8 && mask & 1 != 0 {
                    k.insert(name.to_owned(), value);
                }
            }
            Value::Object(k)
        })
}

fn hostile_jwks() -> impl Strategy<Value = String> {
    let real: Value = serde_json::from_str(JWKS).unwrap();
    let real_key = real["keys"][0].clone();
    prop_oneof![
        3 => prop::collection::vec(jwk(), 0..4).prop_map(|keys| json!({"keys": keys}).to_string()),
        // The real key next to hostile ones, or with one field changed.
        2 => (prop::collection::vec(jwk(), 0..3), "[a-z]{1,4}", json_value()).prop_map(
            move |(mut keys, field, value)| {
                let mut k = real_key.clone();
                k[field.as_str()] = value;
                keys.push(k);
                keys.push(real_key.clone());
                json!({"keys": keys}).to_string()
            }
        ),
        1 => json_value().prop_map(|v| json!({"keys": v}).to_string()),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => prop::collection::vec(edit(), 1..4).prop_map(|edits| apply(JWKS, &edits)),
    ]
}

fn hostile_discovery() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => mutated_object(&DISCOVERY),
        1 => prop::collection::vec(edit(), 1..4).prop_map(|edits| apply(&DISCOVERY, &edits)),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => ".{0,200}",
    ]
}

fn config_at(now: i64) -> LogtoConfig {
    LogtoConfig::new(
        "http://127.0.0.1:3001/",
        APP_ID,
        Some(AppSecret::new("secret")),
    )
    .unwrap()
    .with_clock(Arc::new(FixedClock::new(now)))
}

#[test]
fn smoke_id_token_parse_and_verify() {
    let strategy = prop_oneof![
        4 => prop::collection::vec(edit(), 1..6).prop_map(|e| apply(&ID_TOKEN, &e)),
        1 => "eyJ[A-Za-z0-9_-]{0,60}\\.eyJ[A-Za-z0-9_-]{0,300}\\.[A-Za-z0-9_-]{0,130}",
        1 => any::<String>(),
    ];
    smoke("ID token", strategy, 500, |token| {
        let r = RUNTIME.block_on(AT_IAT.verify_id_token(token, Some(NONCE)));
        match r {
            Ok(_) if *token != *ID_TOKEN => Err("a mutated ID token was accepted".into()),
            _ => Ok(()),
        }
    });
}

/// Bearer-token validation (an API's access token, an organization token).
#[test]
fn smoke_access_token_validation() {
    static ORG: LazyLock<String> = LazyLock::new(|| {
        let tokens: Value = serde_json::from_str(TOKENS).unwrap();
        tokens["refresh_org"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    });
    let strategy = prop_oneof![
        2 => (prop::collection::vec(edit(), 1..6), any::<bool>())
            .prop_map(|(e, org)| (apply(if org { &ORG } else { &ACCESS_TOKEN }, &e), org)),
        1 => (any::<String>(), any::<bool>()),
    ];
    smoke("access token", strategy, 500, |(token, org)| {
        let accepted = if *org {
            RUNTIME
                .block_on(AT_IAT.verify_organization_token(token, "7la3n15yewuv"))
                .is_ok()
                && *token != *ORG
        } else {
            RUNTIME
                .block_on(AT_IAT.verify_access_token(token, &API))
                .is_ok()
                && *token != *ACCESS_TOKEN
        };
        if accepted {
            return Err("a mutated access token was accepted".into());
        }
        Ok(())
    });
}

#[test]
fn smoke_logout_token_validation() {
    let strategy = prop_oneof![
        4 => prop::collection::vec(edit(), 1..6).prop_map(|e| apply(&LOGOUT, &e)),
        1 => any::<String>(),
    ];
    smoke("logout token", strategy, 500, |token| {
        match RUNTIME.block_on(AT_LOGOUT_IAT.verify_logout_token(token)) {
            Ok(_) if *token != *LOGOUT => Err("a mutated logout token was accepted".into()),
            _ => Ok(()),
        }
    });
}

#[test]
fn smoke_jwks_parse() {
    let real: Value = serde_json::from_str(JWKS).unwrap();
    let (x, y) = (
        real["keys"][0]["x"].as_str().unwrap().to_owned(),
        real["keys"][0]["y"].as_str().unwrap().to_owned(),
    );
    smoke("JWKS", hostile_jwks(), 150, |jwks| {
        let client = match LogtoClient::with_discovery_document(
            config_at(IAT),
            DISCOVERY.as_bytes(),
            Some(jwks.as_bytes()),
        ) {
            Ok(c) => c,
            Err(_) => return Ok(()),
        };
        let r = RUNTIME.block_on(client.verify_id_token(&ID_TOKEN, Some(NONCE)));
        if r.is_ok() && !(jwks.contains(&x) && jwks.contains(&y)) {
            return Err("verified without the real key".into());
        }
        Ok(())
    });
}

#[test]
fn smoke_discovery_parse() {
    smoke("discovery", hostile_discovery(), 150, |doc| {
        let client = match LogtoClient::with_discovery_document(
            config_at(IAT),
            doc.as_bytes(),
            Some(JWKS.as_bytes()),
        ) {
            Ok(c) => c,
            Err(_) => return Ok(()),
        };
        let issuer = serde_json::from_str::<Value>(doc)
            .ok()
            .and_then(|d| d.get("issuer").and_then(Value::as_str).map(str::to_owned));
        if issuer.as_deref() != Some("http://127.0.0.1:3001/oidc") {
            return Err(format!(
                "accepted a discovery document with issuer {issuer:?}"
            ));
        }
        // Whatever else it says, the rest of the client copes: an authorization
        // URL (or an error), a verification.
        let storage = logto_client::InMemoryStorage::new();
        let options = logto_client::SignInOptions::new("http://127.0.0.1:9/callback");
        let _ = RUNTIME.block_on(client.sign_in(&storage, options));
        let _ = RUNTIME.block_on(client.verify_id_token(&ID_TOKEN, Some(NONCE)));
        Ok(())
    });
}
