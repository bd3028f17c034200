//! Seed checks and the diffs that make reruns change nothing (no network).

use super::*;
use crate::management::{Application, ApplicationType, OidcClientMetadata, Organization, User};

fn demo() -> Seed {
    Seed::from_toml_str(logto_seed::DEMO_SEED).unwrap()
}

fn base(url: &str) -> Url {
    url.parse().unwrap()
}

fn seed_error(seed: &str) -> String {
    match Seed::from_toml_str(seed) {
        Err(e) => ProvisionError::Seed(e).to_string(),
        Ok(seed) => check_seed(&seed).unwrap_err().to_string(),
    }
}

const APP: &str = "[[applications]]\nid = \"p\"\ntype = \"traditional\"\nsecret = \"s\"\nredirect_uris = [\"http://127.0.0.1:*/callback\"]\n";

#[test]
fn the_demo_seed_can_be_provisioned() {
    check_seed(&demo()).unwrap();
}

#[test]
fn an_unknown_role_is_named_before_any_call() {
    let err = seed_error(&format!(
        "{APP}[[users]]\nusername = \"alice\"\npassword = \"x\"\nroles = [\"boss\"]\n"
    ));
    assert_eq!(err, "seed: users[0].roles[0]: unknown role \"boss\"");
}

#[test]
fn a_seed_built_in_code_with_an_unknown_role_is_refused() {
    let mut seed = demo();
    seed.users[0].roles.push("no-such-role".to_owned());
    let err = check_seed(&seed).unwrap_err().to_string();
    assert!(err.contains("unknown role \"no-such-role\""), "{err}");
    let mut seed = demo();
    seed.organizations[0].members[0].roles = vec!["boss".to_owned()];
    let err = check_seed(&seed).unwrap_err().to_string();
    assert!(err.contains("unknown organization role \"boss\""), "{err}");
}

#[test]
fn logto_shapes_are_checked_naming_the_field() {
    let cases = [
        ("username = \"al ice\"", "users[0].username"),
        ("username = \"1alice\"", "users[0].username"),
        ("username = \"alice\"\nemail = \"alice\"", "users[0].email"),
        (
            "username = \"alice\"\nphone = \"call me\"",
            "users[0].phone",
        ),
        (
            "username = \"alice\"\npicture = \"not a url\"",
            "users[0].picture",
        ),
    ];
    for (user, field) in cases {
        let err = seed_error(&format!("{APP}[[users]]\npassword = \"x\"\n{user}\n"));
        assert!(
            err.starts_with(&format!("seed: {field}: ")),
            "{user}: {err}"
        );
    }
}

#[test]
fn exactly_one_traditional_application_is_needed() {
    let none = seed_error("[[users]]\nusername = \"a\"\npassword = \"x\"\n");
    assert!(none.contains("applications: no application"), "{none}");
    let two = seed_error(&format!("{APP}{}", APP.replace("\"p\"", "\"q\"")));
    assert!(two.contains("more than one"), "{two}");
}

#[test]
fn base_urls_must_be_plain_http_bases() {
    check_base_urls(&[
        base("http://127.0.0.1:8080"),
        base("https://portal.example/app/"),
    ])
    .unwrap();
    assert!(check_base_urls(&[]).is_err());
    for bad in ["ftp://x/", "http://x/?a=1", "http://x/#f", "mailto:a@b.c"] {
        assert!(check_base_urls(&[base(bad)]).is_err(), "{bad}");
    }
}

#[test]
fn phones_become_digits() {
    assert_eq!(logto_phone("+15550000001").as_deref(), Some("15550000001"));
    assert_eq!(logto_phone("+1 555-0100").as_deref(), Some("15550100"));
    assert_eq!(logto_phone("+"), None);
    assert_eq!(logto_phone("555 0100 ext 2"), None);
}

#[test]
fn the_web_app_gets_every_base_url_and_the_first_back_channel() {
    let m = web_app_metadata(
        &[
            base("http://127.0.0.1:8080"),
            base("http://localhost:8080/"),
        ],
        true,
    );
    assert_eq!(
        m.redirect_uris,
        [
            "http://127.0.0.1:8080/callback",
            "http://localhost:8080/callback"
        ]
    );
    assert_eq!(
        m.post_logout_redirect_uris,
        ["http://127.0.0.1:8080/", "http://localhost:8080/"]
    );
    assert_eq!(
        m.backchannel_logout_uri.as_deref(),
        Some("http://127.0.0.1:8080/backchannel-logout")
    );
    assert_eq!(m.backchannel_logout_session_required, Some(true));
    let with_path = web_app_metadata(&[base("https://example.test/portal/")], false);
    assert_eq!(
        with_path.redirect_uris,
        ["https://example.test/portal/callback"]
    );
}

fn app_with(metadata: OidcClientMetadata) -> Application {
    Application {
        id: "a".to_owned(),
        name: "Portal (demo)".to_owned(),
        app_type: ApplicationType::Traditional,
        description: None,
        oidc_client_metadata: metadata,
    }
}

#[test]
fn an_app_with_the_same_uris_is_left_alone_and_another_is_patched() {
    let wanted = web_app_metadata(&[base("http://127.0.0.1:8080")], true);
    assert_eq!(app_patch(&app_with(wanted.clone()), &wanted), None);
    // What Logto answers after creating it from `wanted` round-trips equal.
    let echoed: OidcClientMetadata =
        serde_json::from_value(serde_json::to_value(&wanted).unwrap()).unwrap();
    assert_eq!(app_patch(&app_with(echoed), &wanted), None);
    let other = web_app_metadata(&[base("http://127.0.0.1:9090")], true);
    let patch = app_patch(&app_with(other), &wanted).unwrap();
    assert_eq!(patch.oidc_client_metadata, Some(wanted.clone()));
    let mut no_session = wanted.clone();
    no_session.backchannel_logout_session_required = None;
    assert!(app_patch(&app_with(no_session), &wanted).is_some());
}

fn logto_user(seed_user: &logto_seed::User) -> User {
    let p = seed_profile(seed_user);
    User {
        id: "u1".to_owned(),
        username: Some(p.username),
        primary_email: p.primary_email,
        primary_phone: p.primary_phone,
        name: p.name,
        avatar: p.avatar,
        custom_data: p.custom_data.unwrap_or_default(),
    }
}

#[test]
fn a_user_as_the_seed_gives_needs_no_update() {
    let seed = demo();
    for user in &seed.users {
        assert_eq!(
            user_patch(&logto_user(user), user),
            None,
            "{}",
            user.username
        );
    }
}

#[test]
fn a_user_differing_gets_only_the_differences() {
    let seed = demo();
    let alice = seed.user_by_username("alice").unwrap();
    let mut current = logto_user(alice);
    current.name = Some("Someone Else".to_owned());
    current.custom_data = serde_json::json!({});
    current.avatar = Some("https://elsewhere.test/a.png".to_owned());
    let patch = user_patch(&current, alice).unwrap();
    assert_eq!(patch.name.as_deref(), Some("Alice Example"));
    assert_eq!(patch.custom_data, Some(alice.custom_data.clone()));
    assert_eq!(patch.primary_email, None);
    // alice's seed gives no picture: hers is left alone.
    assert_eq!(patch.avatar, None);
    assert_eq!(current.primary_phone.as_deref(), Some("15550000001"));
}

fn logto_org(id: &str, name: &str, custom_data: serde_json::Value) -> Organization {
    Organization {
        id: id.to_owned(),
        name: name.to_owned(),
        description: None,
        custom_data,
    }
}

#[test]
fn organizations_are_found_by_seed_id_then_by_unclaimed_name() {
    let seed = demo();
    let acme = seed.organization("org-acme").unwrap();
    let existing = vec![
        logto_org("x1", "Acme", serde_json::json!({ "seedId": "org-other" })),
        logto_org("x2", "Acme", serde_json::json!({})),
        logto_org("x3", "Renamed", serde_json::json!({ "seedId": "org-acme" })),
    ];
    assert_eq!(find_organization(&existing, acme).unwrap().id, "x3");
    assert_eq!(find_organization(&existing[..2], acme).unwrap().id, "x2");
    assert!(find_organization(&existing[..1], acme).is_none());
}

#[test]
fn an_organization_patch_keeps_other_custom_data() {
    let seed = demo();
    let acme = seed.organization("org-acme").unwrap();
    let mut current = logto_org("x", "Acme", serde_json::json!({ "seedId": "org-acme" }));
    current.description = acme.description.clone();
    assert_eq!(organization_patch(&current, acme), None);
    let adopted = logto_org("x", "Acme", serde_json::json!({ "plan": "gold" }));
    let patch = organization_patch(&adopted, acme).unwrap();
    assert_eq!(
        patch.custom_data,
        Some(serde_json::json!({ "plan": "gold", "seedId": "org-acme" }))
    );
    assert_eq!(patch.name, None);
    assert_eq!(patch.description, acme.description);
}

#[test]
fn set_diffs_ignore_order_and_duplicates() {
    let same = SetDiff::between(["b", "a"], ["a", "b", "a"]);
    assert!(same.is_empty());
    let d = SetDiff::between(["a", "b"], ["b", "c"]);
    assert_eq!(d.add, ["c"]);
    assert_eq!(d.remove, ["a"]);
}
