//! Property tests (checklist A6.2, issue 7 item 5): verification is total.
//! Real tokens captured from Logto, mutated byte by byte, are always refused
//! with an `Err`, never accepted and never a panic. The client runs on the
//! captured discovery document and JWKS with the clock fixed at the tokens'
//! `iat`. `XTASK_LONG=1` runs ten times as many cases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, LazyLock};

use logto_client::{AppSecret, FixedClock, LogtoClient, LogtoConfig};
use proptest::prelude::*;
use serde_json::Value;

const DISCOVERY: &str = include_str!("fixtures/discovery.json");
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

fn cases(default: u32) -> u32 {
    if std::env::var("XTASK_LONG").as_deref() == Ok("1") {
        default * 10
    } else {
        default
    }
}

fn client(now: i64) -> LogtoClient {
    let config = LogtoConfig::new(
        "http://127.0.0.1:3001/",
        APP_ID,
        Some(AppSecret::new("secret")),
    )
    .unwrap()
    .with_clock(Arc::new(FixedClock::new(now)));
    LogtoClient::with_discovery_document(config, DISCOVERY.as_bytes(), Some(JWKS.as_bytes()))
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
        AT_IAT
            .verify_id_token(&ID_TOKEN, Some(NONCE))
            .await
            .unwrap();
        AT_IAT
            .verify_access_token(&ACCESS_TOKEN, RESOURCE)
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
        let r = RUNTIME.block_on(AT_IAT.verify_access_token(&token, RESOURCE));
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
        prop_assert!(RUNTIME.block_on(AT_IAT.verify_access_token(&s, RESOURCE)).is_err());
        prop_assert!(RUNTIME.block_on(AT_LOGOUT_IAT.verify_logout_token(&s)).is_err());
    }
}
