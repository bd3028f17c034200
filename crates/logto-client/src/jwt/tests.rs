#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::*;
use crate::claims::{AccessTokenClaims, IdTokenClaims, LogoutTokenClaims};
use crate::test_support::*;

const ALL: &[SigningAlgorithm] = &SigningAlgorithm::ALL;

fn sample_keys() -> KeySet {
    KeySet::parse(SAMPLE_JWKS.as_bytes()).unwrap()
}

fn expect_at(now: i64, audience: &str) -> Expect<'_> {
    Expect {
        issuer: SAMPLE_ISSUER,
        audience,
        now,
        skew: 60,
        max_age: None,
        trusted_audiences: Some(&[]),
    }
}

const RESPONSES: [&str; 6] = [
    "code_exchange",
    "refresh_plain",
    "refresh_resource",
    "refresh_org",
    "refresh_org_resource",
    "reuse_first_refresh_token",
];

#[test]
fn real_es384_id_tokens_verify_with_the_real_nonce_at_their_iat() {
    let keys = sample_keys();
    assert_eq!(keys.len(), 1);
    for response in RESPONSES {
        let token = sample_str(response, "id_token");
        let access = sample_str(response, "access_token");
        let jws = decode(&token).unwrap();
        assert_eq!(jws.typ, None, "Logto 1.42 ID tokens have no typ");
        let alg = keys.verify(&jws, ALL).unwrap();
        assert_eq!(alg, SigningAlgorithm::ES384);
        check_id_token(
            &jws,
            alg,
            &expect_at(SAMPLE_IAT, SAMPLE_APP_ID),
            Some(SAMPLE_NONCE),
            Some(&access),
        )
        .unwrap_or_else(|e| panic!("{response}: {e}"));
        let claims: IdTokenClaims = decode_claims(&token).unwrap();
        assert_eq!(claims.sub, "99ei67sxvjuo");
        assert_eq!(claims.aud, vec![SAMPLE_APP_ID.to_owned()]);
        assert_eq!(
            claims.organizations.as_deref(),
            Some(&[crate::OrganizationId::from("7la3n15yewuv")][..])
        );
        assert_eq!(
            claims.organization_role_pairs(),
            vec![("7la3n15yewuv", "org-member")]
        );
        assert_eq!(claims.picture, None);
        assert_eq!(claims.preferred_username.as_deref(), Some("alice"));
        assert_eq!(claims.created_at, Some(1_795_530_888_938), "milliseconds");
        assert!(claims.sid.is_some());
    }
}

#[test]
fn real_id_token_fails_every_claim_check_it_should() {
    let keys = sample_keys();
    let token = sample_str("code_exchange", "id_token");
    let jws = decode(&token).unwrap();
    let alg = keys.verify(&jws, ALL).unwrap();
    let exp = SAMPLE_IAT + 3600;
    let check = |e: Expect<'_>, nonce: Option<&str>| check_id_token(&jws, alg, &e, nonce, None);
    assert_eq!(
        check(expect_at(exp + 61, SAMPLE_APP_ID), Some(SAMPLE_NONCE)),
        Err(ValidationError::Expired)
    );
    // Within the skew: still fine.
    assert_eq!(
        check(expect_at(exp + 59, SAMPLE_APP_ID), Some(SAMPLE_NONCE)),
        Ok(())
    );
    assert_eq!(
        check(
            expect_at(SAMPLE_IAT - 61, SAMPLE_APP_ID),
            Some(SAMPLE_NONCE)
        ),
        Err(ValidationError::IssuedInFuture)
    );
    assert_eq!(
        check(expect_at(SAMPLE_IAT, "other-app"), Some(SAMPLE_NONCE)),
        Err(ValidationError::AudienceMismatch)
    );
    assert_eq!(
        check(expect_at(SAMPLE_IAT, SAMPLE_APP_ID), Some("wrong-nonce")),
        Err(ValidationError::NonceMismatch)
    );
    let wrong_iss = Expect {
        issuer: "http://127.0.0.1:3001/oidc/",
        ..expect_at(SAMPLE_IAT, SAMPLE_APP_ID)
    };
    assert_eq!(
        check(wrong_iss, Some(SAMPLE_NONCE)),
        Err(ValidationError::IssuerMismatch)
    );
    // at_hash is absent in Logto 1.42: any access token is fine.
    assert_eq!(
        check_id_token(
            &jws,
            alg,
            &expect_at(SAMPLE_IAT, SAMPLE_APP_ID),
            None,
            Some("x")
        ),
        Ok(())
    );
}

#[test]
fn real_access_and_organization_tokens_verify_and_decode() {
    let keys = sample_keys();
    let at = sample_str("refresh_resource", "access_token");
    let jws = decode(&at).unwrap();
    assert_eq!(jws.typ.as_deref(), Some("at+jwt"));
    keys.verify(&jws, ALL).unwrap();
    check_access_token(&jws, &expect_at(SAMPLE_IAT, "https://api.demo.test")).unwrap();
    assert_eq!(
        check_access_token(&jws, &expect_at(SAMPLE_IAT, "https://other.test")),
        Err(ValidationError::AudienceMismatch)
    );
    let claims: AccessTokenClaims = decode_claims(&at).unwrap();
    assert_eq!(claims.scope, "read:things");
    assert!(claims.has_scope("read:things"));
    assert_eq!(claims.client_id.as_deref(), Some(SAMPLE_APP_ID));
    assert_eq!(claims.organization_id, None);

    let org = sample_str("refresh_org", "access_token");
    let jws = decode(&org).unwrap();
    keys.verify(&jws, ALL).unwrap();
    check_access_token(
        &jws,
        &expect_at(SAMPLE_IAT, "urn:logto:organization:7la3n15yewuv"),
    )
    .unwrap();
    let claims: AccessTokenClaims = decode_claims(&org).unwrap();
    let org_claims = crate::OrganizationTokenClaims::from_access_token_claims(claims).unwrap();
    assert_eq!(org_claims.organization_id, "7la3n15yewuv");
    assert!(org_claims.has_scope("read:members"));

    let scoped = sample_str("refresh_org_resource", "access_token");
    let jws = decode(&scoped).unwrap();
    keys.verify(&jws, ALL).unwrap();
    check_access_token(&jws, &expect_at(SAMPLE_IAT, "https://api.demo.test")).unwrap();
    let claims: AccessTokenClaims = decode_claims(&scoped).unwrap();
    assert_eq!(
        claims.organization_id.as_ref().map(|id| id.as_str()),
        Some("7la3n15yewuv")
    );
    assert_eq!(claims.aud, vec!["https://api.demo.test".to_owned()]);

    // The opaque userinfo token is not a JWT.
    let opaque = sample_str("refresh_plain", "access_token");
    assert_eq!(decode(&opaque).unwrap_err(), ValidationError::NotAJwt);
}

#[test]
fn real_logout_token_verifies_at_its_iat() {
    let keys = sample_keys();
    let jws = decode(SAMPLE_LOGOUT_TOKEN.trim()).unwrap();
    assert_eq!(jws.typ.as_deref(), Some("logout+jwt"));
    keys.verify(&jws, ALL).unwrap();
    check_logout_token(&jws, &expect_at(SAMPLE_LOGOUT_IAT, SAMPLE_APP_ID)).unwrap();
    let claims: LogoutTokenClaims = decode_claims(SAMPLE_LOGOUT_TOKEN.trim()).unwrap();
    assert_eq!(claims.sub.as_deref(), Some("99ei67sxvjuo"));
    assert!(claims.sid.is_some());
    assert_eq!(claims.exp, claims.iat + 120);
    // 121 s later (exp + skew) it is expired.
    assert_eq!(
        check_logout_token(
            &jws,
            &expect_at(SAMPLE_LOGOUT_IAT + 120 + 61, SAMPLE_APP_ID)
        ),
        Err(ValidationError::Expired)
    );
    // A logout token is never an ID token, an ID token never a logout token.
    assert!(matches!(
        check_id_token(
            &jws,
            SigningAlgorithm::ES384,
            &expect_at(SAMPLE_LOGOUT_IAT, SAMPLE_APP_ID),
            None,
            None
        ),
        Err(ValidationError::WrongType { .. })
    ));
    let id = decode(&sample_str("code_exchange", "id_token")).unwrap();
    assert_eq!(
        check_logout_token(&id, &expect_at(SAMPLE_IAT, SAMPLE_APP_ID)),
        Err(ValidationError::MissingClaim("events"))
    );
    // An access token is not an ID token either.
    let at = decode(&sample_str("code_exchange", "access_token")).unwrap();
    assert!(matches!(
        check_id_token(
            &at,
            SigningAlgorithm::ES384,
            &expect_at(SAMPLE_IAT, "https://api.demo.test"),
            None,
            None
        ),
        Err(ValidationError::WrongType { .. })
    ));
    // ... and an ID token is not an access token.
    assert!(matches!(
        check_access_token(&id, &expect_at(SAMPLE_IAT, SAMPLE_APP_ID)),
        Err(ValidationError::WrongType { .. })
    ));
}

#[test]
fn tampered_sample_tokens_are_refused() {
    let keys = sample_keys();
    let token = sample_str("code_exchange", "id_token");
    let parts: Vec<&str> = token.split('.').collect();
    // Payload changed (sub) with the original signature.
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("mallory");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims.to_string().as_bytes()),
        parts[2]
    );
    assert_eq!(
        keys.verify(&decode(&forged).unwrap(), ALL),
        Err(ValidationError::InvalidSignature)
    );
    // Signature bits flipped.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 0x01;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
    assert_eq!(
        keys.verify(&decode(&flipped).unwrap(), ALL),
        Err(ValidationError::InvalidSignature)
    );
    // Every single-character mutation is refused somewhere, and nothing panics.
    let bytes = token.as_bytes();
    for i in (0..bytes.len()).step_by(7) {
        let mut m = bytes.to_vec();
        m[i] = if m[i] == b'A' { b'B' } else { b'A' };
        let Ok(s) = String::from_utf8(m) else {
            continue;
        };
        let ok = decode(&s)
            .ok()
            .and_then(|j| keys.verify(&j, ALL).ok().map(|a| (j, a)))
            .and_then(|(j, a)| {
                check_id_token(
                    &j,
                    a,
                    &expect_at(SAMPLE_IAT, SAMPLE_APP_ID),
                    Some(SAMPLE_NONCE),
                    None,
                )
                .ok()
            });
        // base64 of the last char may carry unused bits: identical decodings are fine.
        if ok.is_some() {
            assert_eq!(
                decode(&s).unwrap().signature,
                decode(&token).unwrap().signature
            );
        }
    }
}

#[test]
fn malformed_tokens_never_panic() {
    let keys = sample_keys();
    for t in [
        "",
        ".",
        "..",
        "a.b",
        "a.b.c.d",
        "!!!.!!!.!!!",
        "e30.e30.",
        "W10.e30.AA",
        "e30.W10.AA",
        "e30.e30.AA",
    ] {
        let r = decode(t).and_then(|j| keys.verify(&j, ALL));
        assert!(r.is_err(), "{t:?}");
    }
    let huge = "a".repeat(MAX_TOKEN_LEN + 1);
    assert!(matches!(decode(&huge), Err(ValidationError::Malformed(_))));
    // crit is refused.
    let t = raw_token(&json!({"alg": "ES384", "crit": ["exp"]}), &json!({}), b"x");
    assert_eq!(decode(&t).unwrap_err(), ValidationError::CriticalHeader);
}

/// `decode_claims` reads the payload alone, but only of a token shaped
/// like a JWT whose payload is an object.
#[test]
fn decode_claims_takes_only_an_object_payload_of_a_three_part_token() {
    #[derive(serde::Deserialize, Debug)]
    struct Sub {
        #[allow(dead_code)]
        sub: String,
    }
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let good = format!("e30.{}.AA", b64(&json!({"sub": "u1", "extra": 1})));
    assert_eq!(decode_claims::<Sub>(&good).unwrap().sub, "u1");
    let array = format!("e30.{}.AA", b64(&json!(["u1"])));
    for (t, want) in [
        (array.as_str(), "payload is not an object"),
        ("e30.!!!.AA", "payload is not base64url"),
        ("e30.e30.AA", "claims: missing field `sub`"),
    ] {
        match decode_claims::<Sub>(t) {
            Err(ValidationError::Malformed(m)) => assert!(m.starts_with(want), "{t}: {m}"),
            other => panic!("{t}: {other:?}"),
        }
    }
    for t in ["", "a.b", "a.b.c.d", &format!("{good}.x")] {
        assert_eq!(
            decode_claims::<Sub>(t).unwrap_err(),
            ValidationError::NotAJwt,
            "{t}"
        );
    }
    let huge = "a".repeat(MAX_TOKEN_LEN + 1);
    assert!(matches!(
        decode_claims::<Sub>(&huge),
        Err(ValidationError::Malformed(_))
    ));
}

fn id_claims(now: i64) -> Value {
    json!({"iss": SAMPLE_ISSUER, "sub": "u1", "aud": SAMPLE_APP_ID, "exp": now + 3600, "iat": now, "nonce": "n"})
}

#[test]
fn all_five_algorithms_verify_and_none_and_hmac_are_refused() {
    let now = 1_800_000_000;
    let rsa = TestKey::new(SigningAlgorithm::RS256, "rsa");
    let keys = [
        TestKey::new(SigningAlgorithm::ES256, "p256"),
        TestKey::new(SigningAlgorithm::ES384, "p384"),
        TestKey::new(SigningAlgorithm::ES512, "p521"),
        rsa.with_alg(SigningAlgorithm::RS256),
        rsa.with_alg(SigningAlgorithm::PS256),
    ];
    let set = KeySet::parse(&jwks_of(&[&keys[0], &keys[1], &keys[2], &keys[3]])).unwrap();
    assert_eq!(set.len(), 4);
    for key in &keys {
        let token = key.sign(json!({}), &id_claims(now));
        let jws = decode(&token).unwrap();
        assert_eq!(set.verify(&jws, ALL), Ok(key.alg), "{}", key.alg);
        check_id_token(
            &jws,
            key.alg,
            &expect_at(now, SAMPLE_APP_ID),
            Some("n"),
            None,
        )
        .unwrap();
        // Pinned out: refused before any key is looked at.
        let only_es384 = [SigningAlgorithm::ES384];
        if key.alg != SigningAlgorithm::ES384 {
            assert_eq!(
                set.verify(&jws, &only_es384),
                Err(ValidationError::AlgorithmNotAllowed(key.alg.to_string()))
            );
        }
    }
    // An ES256 signature presented as ES384 fails (key type mismatch).
    let t = keys[0].sign(json!({"alg": "ES384"}), &id_claims(now));
    assert!(set.verify(&decode(&t).unwrap(), ALL).is_err());
    // alg none.
    let none = raw_token(&json!({"alg": "none"}), &id_claims(now), b"");
    assert_eq!(
        set.verify(&decode(&none).unwrap(), ALL),
        Err(ValidationError::AlgorithmNotAllowed("none".into()))
    );
    // HS256 with a valid MAC keyed by the client secret.
    let header = json!({"alg": "HS256", "kid": "p384"});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(id_claims(now).to_string().as_bytes())
    );
    let mac = hmac_sha256(b"client-secret", input.as_bytes());
    let hs = format!("{input}.{}", b64(&mac));
    assert_eq!(
        set.verify(&decode(&hs).unwrap(), ALL),
        Err(ValidationError::AlgorithmNotAllowed("HS256".into()))
    );
}

#[test]
fn kid_selection() {
    let now = 1_800_000_000;
    let a = TestKey::new(SigningAlgorithm::ES384, "a");
    let b = TestKey::new(SigningAlgorithm::ES384, "b");
    let only_a = KeySet::parse(&jwks_of(&[&a])).unwrap();
    let both = KeySet::parse(&jwks_of(&[&a, &b])).unwrap();
    let by_b = decode(&b.sign(json!({}), &id_claims(now))).unwrap();
    assert_eq!(
        only_a.verify(&by_b, ALL),
        Err(ValidationError::UnknownKeyId(Some("b".into())))
    );
    assert_eq!(both.verify(&by_b, ALL), Ok(SigningAlgorithm::ES384));
    // No kid: a single fitting key is used; two are ambiguous.
    let no_kid = decode(&a.sign(json!({"kid": null}), &id_claims(now))).unwrap();
    assert_eq!(no_kid.kid, None);
    assert_eq!(only_a.verify(&no_kid, ALL), Ok(SigningAlgorithm::ES384));
    assert_eq!(
        both.verify(&no_kid, ALL),
        Err(ValidationError::NoMatchingKey)
    );
}

#[test]
fn time_claims_as_strings_are_refused() {
    let now = 1_800_000_000;
    let key = TestKey::new(SigningAlgorithm::ES384, "k");
    for claim in ["exp", "iat", "nbf"] {
        let mut claims = id_claims(now);
        claims[claim] = json!((now + 10).to_string());
        let jws = decode(&key.sign(json!({}), &claims)).unwrap();
        assert!(
            matches!(
                check_id_token(&jws, key.alg, &expect_at(now, SAMPLE_APP_ID), Some("n"), None),
                Err(ValidationError::InvalidClaim { claim: c, .. }) if c == claim
            ),
            "{claim}"
        );
    }
    let mut claims = id_claims(now);
    claims["nbf"] = json!(now + 120);
    let jws = decode(&key.sign(json!({}), &claims)).unwrap();
    assert_eq!(
        check_id_token(&jws, key.alg, &expect_at(now, SAMPLE_APP_ID), None, None),
        Err(ValidationError::NotYetValid)
    );
    let mut claims = id_claims(now);
    claims.as_object_mut().unwrap().remove("exp");
    let jws = decode(&key.sign(json!({}), &claims)).unwrap();
    assert_eq!(
        check_id_token(&jws, key.alg, &expect_at(now, SAMPLE_APP_ID), None, None),
        Err(ValidationError::MissingClaim("exp"))
    );
}

#[test]
fn at_hash_is_checked_when_present_and_azp_with_several_audiences() {
    let now = 1_800_000_000;
    let key = TestKey::new(SigningAlgorithm::ES384, "k");
    let mut claims = id_claims(now);
    claims["at_hash"] = json!(access_token_hash(
        SigningAlgorithm::ES384,
        "the-access-token"
    ));
    let jws = decode(&key.sign(json!({}), &claims)).unwrap();
    let e = expect_at(now, SAMPLE_APP_ID);
    assert_eq!(
        check_id_token(&jws, key.alg, &e, Some("n"), Some("the-access-token")),
        Ok(())
    );
    assert_eq!(
        check_id_token(&jws, key.alg, &e, Some("n"), Some("another-token")),
        Err(ValidationError::AccessTokenHashMismatch)
    );
    // Missing nonce when one is expected.
    let mut claims = id_claims(now);
    claims.as_object_mut().unwrap().remove("nonce");
    let jws = decode(&key.sign(json!({}), &claims)).unwrap();
    assert_eq!(
        check_id_token(&jws, key.alg, &e, Some("n"), None),
        Err(ValidationError::NonceMismatch)
    );
    // OIDC Core §3.1.3.7 item 3: another audience this client does not trust
    // is refused, with or without azp = us; a trusted one is accepted, with or
    // without azp (errata set 2 dropped "several audiences need azp").
    let mut claims = id_claims(now);
    claims["aud"] = json!([SAMPLE_APP_ID, "other"]);
    let no_azp = decode(&key.sign(json!({}), &claims)).unwrap();
    claims["azp"] = json!(SAMPLE_APP_ID);
    let azp_us = decode(&key.sign(json!({}), &claims)).unwrap();
    claims["azp"] = json!("other");
    let azp_other = decode(&key.sign(json!({}), &claims)).unwrap();
    for jws in [&no_azp, &azp_us, &azp_other] {
        assert_eq!(
            check_id_token(jws, key.alg, &e, Some("n"), None),
            Err(ValidationError::AudienceMismatch)
        );
    }
    let trusted = ["other".to_owned()];
    let trusting = Expect {
        trusted_audiences: Some(&trusted),
        ..e
    };
    assert_eq!(
        check_id_token(&no_azp, key.alg, &trusting, Some("n"), None),
        Ok(())
    );
    assert_eq!(
        check_id_token(&azp_us, key.alg, &trusting, Some("n"), None),
        Ok(())
    );
    assert_eq!(
        check_id_token(&azp_other, key.alg, &trusting, Some("n"), None),
        Err(ValidationError::AudienceMismatch)
    );
    // A trusted audience alone, without this client, is still refused.
    claims["aud"] = json!(["other"]);
    claims.as_object_mut().unwrap().remove("azp");
    let jws = decode(&key.sign(json!({}), &claims)).unwrap();
    assert_eq!(
        check_id_token(&jws, key.alg, &trusting, Some("n"), None),
        Err(ValidationError::AudienceMismatch)
    );
}

fn logout_claims(now: i64) -> Value {
    json!({
        "iss": SAMPLE_ISSUER, "aud": SAMPLE_APP_ID, "iat": now, "exp": now + 120, "jti": "j1",
        "sub": "u1", "sid": "s1",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}}
    })
}

#[test]
fn logout_token_rules() {
    let now = 1_800_000_000;
    let key = TestKey::new(SigningAlgorithm::ES384, "k");
    let e = expect_at(now, SAMPLE_APP_ID);
    let check = |claims: &Value, header: Value| {
        check_logout_token(&decode(&key.sign(header, claims)).unwrap(), &e)
    };
    assert_eq!(
        check(&logout_claims(now), json!({"typ": "logout+jwt"})),
        Ok(())
    );
    assert_eq!(
        check(&logout_claims(now), json!({})),
        Ok(()),
        "typ is optional"
    );
    assert!(matches!(
        check(&logout_claims(now), json!({"typ": "at+jwt"})),
        Err(ValidationError::WrongType { .. })
    ));
    let mut c = logout_claims(now);
    c["events"] = json!(["http://schemas.openid.net/event/backchannel-logout"]);
    assert!(matches!(
        check(&c, json!({})),
        Err(ValidationError::InvalidClaim {
            claim: "events",
            ..
        })
    ));
    let mut c = logout_claims(now);
    c["events"] = json!({"http://schemas.openid.net/event/foobar": {}});
    assert!(matches!(
        check(&c, json!({})),
        Err(ValidationError::InvalidClaim {
            claim: "events",
            ..
        })
    ));
    let mut c = logout_claims(now);
    c["events"] = json!({"http://schemas.openid.net/event/backchannel-logout": "yes"});
    assert!(matches!(
        check(&c, json!({})),
        Err(ValidationError::InvalidClaim {
            claim: "events",
            ..
        })
    ));
    let mut c = logout_claims(now);
    c["nonce"] = json!("n");
    assert!(matches!(
        check(&c, json!({})),
        Err(ValidationError::InvalidClaim { claim: "nonce", .. })
    ));
    let mut c = logout_claims(now);
    c.as_object_mut().unwrap().remove("sub");
    c.as_object_mut().unwrap().remove("sid");
    assert_eq!(
        check(&c, json!({})),
        Err(ValidationError::MissingClaim("sub or sid"))
    );
    let mut c = logout_claims(now);
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        check(&c, json!({})),
        Err(ValidationError::MissingClaim("exp"))
    );
    let mut c = logout_claims(now);
    c["aud"] = json!([SAMPLE_APP_ID, "untrusted"]);
    assert_eq!(check(&c, json!({})), Err(ValidationError::AudienceMismatch));
    let mut c = logout_claims(now);
    c["iat"] = json!(now + 86_400);
    c["exp"] = json!(now + 86_520);
    assert_eq!(check(&c, json!({})), Err(ValidationError::IssuedInFuture));
    let mut c = logout_claims(now);
    c["iss"] = json!(format!("{SAMPLE_ISSUER}1"));
    assert_eq!(check(&c, json!({})), Err(ValidationError::IssuerMismatch));
    let mut c = logout_claims(now);
    c.as_object_mut().unwrap().remove("jti");
    assert_eq!(
        check(&c, json!({})),
        Err(ValidationError::MissingClaim("jti"))
    );
}

#[test]
fn a_verified_signature_is_remembered_and_a_bad_one_never() {
    let keys = sample_keys();
    let token = sample_str("code_exchange", "id_token");
    for _ in 0..3 {
        assert_eq!(
            keys.verify(&decode(&token).unwrap(), ALL),
            Ok(SigningAlgorithm::ES384)
        );
    }
    assert_eq!(keys.computed(), 1, "verified once, then remembered");
    // Algorithm pinning still applies to a remembered signature.
    assert_eq!(
        keys.verify(&decode(&token).unwrap(), &[SigningAlgorithm::RS256]),
        Err(ValidationError::AlgorithmNotAllowed("ES384".into()))
    );
    // A bad signature is computed (and refused) every time.
    let parts: Vec<&str> = token.split('.').collect();
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 0x01;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], b64(&sig));
    for _ in 0..2 {
        assert_eq!(
            keys.verify(&decode(&flipped).unwrap(), ALL),
            Err(ValidationError::InvalidSignature)
        );
    }
    assert_eq!(keys.computed(), 3);
    // Another key set (a re-fetched JWKS) remembers nothing.
    let fresh = sample_keys();
    fresh.verify(&decode(&token).unwrap(), ALL).unwrap();
    assert_eq!(fresh.computed(), 1);
}
