#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};

use super::*;

#[test]
fn an_organization_id_round_trips_through_serde_as_a_plain_string() {
    let id = OrganizationId::from("org-acme");
    let json = serde_json::to_value(&id).unwrap();
    assert_eq!(json, serde_json::json!("org-acme"));
    let back: OrganizationId = serde_json::from_value(json).unwrap();
    assert_eq!(back, id);
    // Inside a list, as the `organizations` claim carries them.
    let ids: Vec<OrganizationId> = serde_json::from_str(r#"["a","b"]"#).unwrap();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(serde_json::to_string(&ids).unwrap(), r#"["a","b"]"#);
}

#[test]
fn string_newtypes_compare_and_look_up_like_their_strings() {
    let id = OrganizationId::from(String::from("org-1"));
    assert_eq!(id, "org-1");
    assert_eq!("org-1", id);
    assert_eq!(id, String::from("org-1"));
    assert_eq!(String::from("org-1"), id);
    assert_eq!(*"org-1", id);
    assert_ne!(id, "org-2");
    assert_eq!(OrganizationId::from(&id), id);
    assert_eq!(String::from(id.clone()), "org-1");
    let mut by_id = HashMap::new();
    by_id.insert(id.clone(), 1);
    assert_eq!(by_id.get("org-1"), Some(&1));
    let api = ResourceIndicator::parse("https://api.example.com").unwrap();
    let mut by_resource = BTreeMap::new();
    by_resource.insert(api.clone(), 2);
    assert_eq!(by_resource.get("https://api.example.com"), Some(&2));
    assert_eq!(api.as_ref(), "https://api.example.com");
    assert_eq!(format!("{api}"), "https://api.example.com");
}

#[test]
fn a_resource_indicator_is_kept_byte_for_byte() {
    // `Url` would add a trailing slash; the token's `aud` has none.
    for given in [
        "https://api.example.com",
        "https://api.example.com/v1?x=1",
        "http://127.0.0.1:8080",
        "urn:logto:resource:organizations",
        "HTTPS://API.example.com",
    ] {
        assert_eq!(ResourceIndicator::parse(given).unwrap().as_str(), given);
        let parsed: ResourceIndicator = given.parse().unwrap();
        assert_eq!(parsed, given);
        assert_eq!(ResourceIndicator::try_from(given).unwrap(), given);
        assert_eq!(
            ResourceIndicator::try_from(given.to_owned()).unwrap(),
            given
        );
    }
}

#[test]
fn relative_fragmented_or_spaced_resource_indicators_are_refused_by_name() {
    for bad in [
        "",
        "api.example.com",
        "/api",
        "//api.example.com",
        "https://api.example.com#",
        "https://api.example.com#section",
        " https://api.example.com",
        "https://api.example.com ",
        "https://api.example.com\n",
        "https://api.example.com/a b",
    ] {
        match ResourceIndicator::parse(bad) {
            Err(ConfigError::InvalidResourceIndicator { resource, reason }) => {
                assert_eq!(resource, bad);
                assert!(!reason.is_empty());
            }
            other => panic!("{bad:?}: {other:?}"),
        }
        // Deserializing refuses it too, naming it.
        let err = serde_json::from_value::<ResourceIndicator>(serde_json::json!(bad)).unwrap_err();
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
}

#[test]
fn a_resource_indicator_round_trips_through_serde_as_a_plain_string() {
    let api = ResourceIndicator::parse("https://api.example.com").unwrap();
    let json = serde_json::to_string(&api).unwrap();
    assert_eq!(json, r#""https://api.example.com""#);
    assert_eq!(
        serde_json::from_str::<ResourceIndicator>(&json).unwrap(),
        api
    );
}
