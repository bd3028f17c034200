#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::*;
use crate::test_support::*;

#[test]
fn real_userinfo_parses_with_organization_data() {
    let info: UserInfo = serde_json::from_value(sample_tokens()["userinfo"].clone()).unwrap();
    assert_eq!(info.sub, "99ei67sxvjuo");
    assert_eq!(info.picture, None);
    assert_eq!(info.updated_at, Some(1_795_531_745_345), "milliseconds");
    let orgs = info.organization_data.as_ref().unwrap();
    assert_eq!(orgs[0].id, "7la3n15yewuv");
    assert_eq!(orgs[0].name.as_deref(), Some("Acme"));
    assert_eq!(orgs[0].description.as_deref(), Some("demo org"));
    assert_eq!(
        info.organization_role_pairs(),
        vec![("7la3n15yewuv", "org-member")]
    );
    assert!(
        info.extra.is_empty(),
        "every real claim is modelled: {:?}",
        info.extra
    );
}

#[test]
fn the_sample_nonce_is_the_one_sent() {
    let sign_in: Value = serde_json::from_str(SAMPLE_SIGN_IN).unwrap();
    assert_eq!(sign_in["nonce_sent"], SAMPLE_NONCE);
    assert_eq!(sign_in["client_id"], SAMPLE_APP_ID);
    assert_eq!(sign_in["callback_query"]["iss"], SAMPLE_ISSUER);
}

#[test]
fn full_userinfo_keeps_everything() {
    let info: UserInfo = serde_json::from_value(json!({
        "sub": "u1",
        "custom_data": {"plan": "enterprise", "beta": ["x"]},
        "identities": {"google": {"userId": "g-1", "details": {"email": "a@g.test"}}},
        "sso_identities": [{"issuer": "https://okta.test", "identityId": "o-1", "detail": {}}],
        "roles": ["admin"],
        "address": {"formatted": "1 Main St", "country": "NZ", "extra_line": "x"},
        "phone_number": "+1555", "phone_number_verified": false,
        "something_new": {"a": 1}
    }))
    .unwrap();
    assert_eq!(info.custom_data.as_ref().unwrap()["plan"], "enterprise");
    assert_eq!(info.identities.as_ref().unwrap()["google"].user_id, "g-1");
    assert_eq!(
        info.sso_identities.as_ref().unwrap()[0]
            .identity_id
            .as_deref(),
        Some("o-1")
    );
    assert_eq!(info.roles.as_deref(), Some(&["admin".to_owned()][..]));
    let address = info.address.as_ref().unwrap();
    assert_eq!(address.country.as_deref(), Some("NZ"));
    assert_eq!(address.extra["extra_line"], "x");
    assert_eq!(info.extra["something_new"], json!({"a": 1}));
    // Round trip keeps the unknown claims.
    let back: UserInfo = serde_json::from_value(serde_json::to_value(&info).unwrap()).unwrap();
    assert_eq!(back, info);
}

#[test]
fn id_token_claims_keep_unknown_claims_and_accept_array_aud() {
    let claims: IdTokenClaims = serde_json::from_value(json!({
        "iss": "i", "sub": "s", "aud": ["a", "b"], "exp": 2, "iat": 1,
        "roles": ["r"], "custom_data": {"k": 1}, "tenant_flag": true
    }))
    .unwrap();
    assert_eq!(claims.aud, vec!["a".to_owned(), "b".to_owned()]);
    assert_eq!(claims.roles.as_deref(), Some(&["r".to_owned()][..]));
    assert_eq!(claims.extra["tenant_flag"], true);
}
