//! Organization self-service against logto-dev's Management API: members,
//! invitations, roles, removal, the audit trail and the JSON API, with the
//! refusals each must give.

use crate::helpers::*;
use sqlx::PgPool;
use url::Url;

/// POSTs a form with the session's CSRF token (taken from `page`) and
/// `fields`; the answer, not followed.
async fn post_form(
    app: &TestApp,
    browser: &reqwest::Client,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let html = browser
        .get(app.url(page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = extract_csrf(&html);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser
        .post(app.url(action))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The invitation link on the page that answered an invitation.
fn invitation_link(html: &str) -> Url {
    let marker = "id=\"invitation-link\">";
    let start = html.find(marker).expect("the link is shown") + marker.len();
    let end = start + html[start..].find('<').unwrap();
    let text = html[start..end]
        .replace("&#x2F;", "/")
        .replace("&amp;", "&");
    Url::parse(&text).unwrap()
}

/// Follows an authorization URL that signs in without a form (a one-time
/// token) to the portal's callback URL, not requesting it.
async fn follow_to_callback(app: &TestApp, authorization: &Url) -> Url {
    let idp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let mut next = authorization.clone();
    for _ in 0..10 {
        if next.as_str().starts_with(&app.url("/callback")) {
            return next;
        }
        let res = idp.get(next.as_str()).send().await.unwrap();
        assert!(res.status().is_redirection(), "{next}: {}", res.status());
        next = next.join(&location(&res)).unwrap();
    }
    panic!("no callback after 10 redirects from {authorization}");
}

async fn audit_actions(app: &TestApp) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT action, target, outcome FROM audit_events WHERE organization_id = 'org-acme' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn members_are_listed_with_roles_for_one_management_call_when_warm(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let res = app.get("/t/acme/members").await;
    assert_eq!(res.status().as_u16(), 200);
    let html = res.text().await.unwrap();
    for who in ["Alice Example", "Bob Example", "bob@acme.test"] {
        assert!(html.contains(who), "{who}: {html}");
    }
    assert!(
        html.contains(">admin<") && html.contains(">member<"),
        "{html}"
    );
    // Alice holds manage:members and invite:members: the forms are there.
    assert!(html.contains("data-action=\"set-roles\"") && html.contains("id=\"invite\""));
    let before = app.idp.counters().management_api_calls;
    assert_eq!(app.get("/t/acme/members").await.status().as_u16(), 200);
    assert_eq!(app.idp.counters().management_api_calls, before + 1);

    // Bob (read:members only) sees the list and no form.
    let bob = browser();
    app.sign_in_as_in(&bob, "bob", "/").await;
    let html = bob
        .get(app.url("/t/acme/members"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Alice Example"));
    assert!(!html.contains("data-action=\"set-roles\"") && !html.contains("id=\"invite\""));
    // ... and is refused what the forms would do, whatever he posts.
    let res = post_form(
        &app,
        &bob,
        "/t/acme/members",
        "/t/acme/members/invite",
        &[("email", "mallory@evil.test"), ("role", "admin")],
    )
    .await;
    assert_eq!(res.status().as_u16(), 403);
    assert!(res.text().await.unwrap().contains("invite:members"));
    let alice = app.sub_of("alice");
    let res = post_form(
        &app,
        &bob,
        "/t/acme/members",
        &format!("/t/acme/members/{alice}/remove"),
        &[],
    )
    .await;
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(
        app.idp.organization_roles_of(&alice, "org-acme"),
        Some(vec!["admin".to_owned()])
    );
    // Dave is no member of acme.
    let dave = browser();
    app.sign_in_as_in(&dave, "dave", "/").await;
    let res = dave.get(app.url("/t/acme/members")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn an_invited_newcomer_signs_up_through_the_link_and_lands_in_the_space(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let res = post_form(
        &app,
        &app.browser,
        "/t/acme/members",
        "/t/acme/members/invite",
        &[("email", "Erin@Acme.test"), ("role", "member")],
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("erin@acme.test"), "{html}");
    let link = invitation_link(&html);
    assert!(
        link.as_str().starts_with(&app.url("/invitations/")),
        "{link}"
    );
    // Listed as pending, with its link.
    let pending = app.get("/t/acme/invitations").await.text().await.unwrap();
    assert!(pending.contains("erin@acme.test"));
    assert!(
        pending.contains(&link.as_str().replace('/', "&#x2F;")),
        "{pending}"
    );

    // Erin, signed out, opens the link: an invitation page offering sign-in.
    let erin = browser();
    let page = erin.get(link.as_str()).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("erin@acme.test") && page.contains("Acme Corp"),
        "{page}"
    );
    // Sign-in carries her address and a one-time token: nobody has her
    // address yet, so Logto signs her up with it.
    let res = erin.get(format!("{link}/sign-in")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 302);
    let auth = Url::parse(&location(&res)).unwrap();
    let params: std::collections::HashMap<_, _> = auth.query_pairs().into_owned().collect();
    assert_eq!(params["login_hint"], "erin@acme.test");
    assert!(!params["one_time_token"].is_empty());
    assert_eq!(params["prompt"], "login consent");
    let callback = follow_to_callback(&app, &auth).await;
    let back = erin.get(callback.as_str()).send().await.unwrap();
    assert_redirect_to(&back, link.path());
    // Back from the sign-in the link started in her browser, the
    // invitation is accepted on return: to the space.
    let res = erin.get(link.as_str()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(location(&res), "/t/acme/");
    let space = erin.get(app.url("/t/acme/")).send().await.unwrap();
    let status = space.status().as_u16();
    let space = space.text().await.unwrap();
    assert_eq!(status, 200, "{space}");
    assert!(
        space.contains(">member<") && space.contains("read:members"),
        "{space}"
    );
    let erin_id = app.idp.user_id_by_email("erin@acme.test").unwrap();
    assert_eq!(
        app.idp.organization_roles_of(&erin_id, "org-acme"),
        Some(vec!["member".to_owned()])
    );

    // The link is used: opening it again is a clear 410.
    let again = erin.get(link.as_str()).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 410);
    assert!(again.text().await.unwrap().contains("already been used"));
    let actions = audit_actions(&app).await;
    assert!(
        actions.contains(&("invite".into(), "erin@acme.test".into(), "ok".into())),
        "{actions:?}"
    );
    assert!(actions.contains(&(
        "accept_invitation".into(),
        "erin@acme.test".into(),
        "ok".into()
    )));
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn invitations_for_someone_else_withdrawn_or_expired_are_refused(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let invite = |email: &'static str| {
        let app = &app;
        async move {
            let res = post_form(
                app,
                &app.browser,
                "/t/acme/members",
                "/t/acme/members/invite",
                &[("email", email), ("role", "member")],
            )
            .await;
            assert_eq!(res.status().as_u16(), 200);
            invitation_link(&res.text().await.unwrap())
        }
    };
    // Carol has an account: her sign-in carries no one-time token, and the
    // invitation is hers only. Dave, signed in, cannot accept it.
    let for_carol = invite("carol@example.test").await;
    let dave = browser();
    app.sign_in_as_in(&dave, "dave", "/").await;
    // Signed in, not through the link's sign-in: the page and its button.
    let page = dave.get(for_carol.as_str()).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("id=\"accept-invitation\"")
    );
    let res = post_form(
        &app,
        &dave,
        for_carol.path(),
        &format!("{}/accept", for_carol.path()),
        &[],
    )
    .await;
    assert_eq!(res.status().as_u16(), 403);
    assert!(res.text().await.unwrap().contains("another email address"));
    let res = dave
        .get(format!("{for_carol}/sign-in"))
        .send()
        .await
        .unwrap();
    let auth = Url::parse(&location(&res)).unwrap();
    assert!(
        auth.query_pairs().all(|(k, _)| k != "one_time_token"),
        "{auth}"
    );

    // Withdrawn: the link says so, and the admin's list no longer has it.
    let id = for_carol.path().rsplit('/').next().unwrap().to_owned();
    let res = post_form(
        &app,
        &app.browser,
        "/t/acme/invitations",
        &format!("/t/acme/invitations/{id}/revoke"),
        &[],
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    let res = browser().get(for_carol.as_str()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 410);
    assert!(res.text().await.unwrap().contains("withdrawn"));

    // Expired.
    let for_frank = invite("frank@acme.test").await;
    let id = for_frank.path().rsplit('/').next().unwrap().to_owned();
    assert!(app.idp.set_invitation_expiry(&id, 1));
    let res = browser().get(for_frank.as_str()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 410);
    assert!(res.text().await.unwrap().contains("expired"));

    // Unknown, and malformed.
    assert_eq!(
        browser()
            .get(app.url("/invitations/nosuchinvitation"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        browser()
            .get(app.url("/invitations/a%2F.."))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    // A bad address, an unknown role: 400, nothing created.
    for (email, role) in [("not-an-email", "member"), ("gina@acme.test", "owner")] {
        let res = post_form(
            &app,
            &app.browser,
            "/t/acme/members",
            "/t/acme/members/invite",
            &[("email", email), ("role", role)],
        )
        .await;
        assert_eq!(res.status().as_u16(), 400, "{email} {role}");
    }
    // Without the CSRF token: refused.
    let res = app
        .browser
        .post(app.url("/t/acme/members/invite"))
        .form(&[("email", "hank@acme.test"), ("role", "member")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let pending = app.get("/t/acme/invitations").await.text().await.unwrap();
    assert!(!pending.contains("gina@") && !pending.contains("hank@"));
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_role_change_shows_on_the_next_page_and_a_removed_member_is_refused_at_once(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let bob = browser();
    app.sign_in_as_in(&bob, "bob", "/").await;
    let page = bob
        .get(app.url("/t/acme/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(">member<") && !page.contains("manage:members"),
        "{page}"
    );

    let bob_id = app.sub_of("bob");
    let res = post_form(
        &app,
        &app.browser,
        "/t/acme/members",
        &format!("/t/acme/members/{bob_id}/roles"),
        &[("role", "admin")],
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    // Bob's next page, without signing in again.
    let page = bob
        .get(app.url("/t/acme/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(">admin<") && page.contains("manage:members"),
        "{page}"
    );

    // Removed: refused on his very next page, though his token had an hour.
    let res = post_form(
        &app,
        &app.browser,
        "/t/acme/members",
        &format!("/t/acme/members/{bob_id}/remove"),
        &[],
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    let res = bob.get(app.url("/t/acme/")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(app.idp.organization_roles_of(&bob_id, "org-acme"), None);
    // The trail names him, not only his id.
    let trail = app.get("/t/acme/audit").await.text().await.unwrap();
    assert!(
        trail.contains("Bob Example") && trail.contains("remove_member"),
        "{trail}"
    );
    // Still signed in otherwise.
    assert_eq!(
        bob.get(app.url("/protected"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_last_admin_stays_and_the_trail_shows_every_attempt(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let alice = app.sub_of("alice");
    for (action, fields) in [
        (
            format!("/t/acme/members/{alice}/roles"),
            vec![("role", "member")],
        ),
        (format!("/t/acme/members/{alice}/remove"), vec![]),
    ] {
        let res = post_form(&app, &app.browser, "/t/acme/members", &action, &fields).await;
        assert_eq!(res.status().as_u16(), 409, "{action}");
        assert!(res.text().await.unwrap().contains("last admin"));
    }
    assert_eq!(
        app.idp.organization_roles_of(&alice, "org-acme"),
        Some(vec!["admin".to_owned()])
    );
    let page = app.get("/t/acme/audit").await.text().await.unwrap();
    assert!(
        page.contains("set_roles") && page.contains("remove_member"),
        "{page}"
    );
    assert!(page.contains("refused"), "{page}");
    // Newest first.
    assert!(page.find("remove_member").unwrap() < page.find("set_roles").unwrap());
    // Bob cannot read the trail.
    let bob = browser();
    app.sign_in_as_in(&bob, "bob", "/").await;
    assert_eq!(
        bob.get(app.url("/t/acme/audit"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_audit_trail_is_paginated_newest_first(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let alice = app.sub_of("alice");
    for i in 0..55 {
        sqlx::query(
            "INSERT INTO audit_events (organization_id, actor_sub, action, target, outcome) \
             VALUES ('org-acme', $1, 'invite', $2, 'ok')",
        )
        .bind(&alice)
        .bind(format!("person{i:02}@acme.test"))
        .execute(&app.pool)
        .await
        .unwrap();
    }
    // And another organization's, never shown here.
    sqlx::query(
        "INSERT INTO audit_events (organization_id, actor_sub, action, target, outcome) \
         VALUES ('org-globex', 'x', 'invite', 'secret@globex.test', 'ok')",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let first = app.get("/t/acme/audit").await.text().await.unwrap();
    assert!(first.contains("person54@") && first.contains("person05@"));
    assert!(!first.contains("person04@") && !first.contains("secret@globex"));
    let marker = "id=\"older\" href=\"";
    let start = first.find(marker).unwrap() + marker.len();
    let older = &first[start..start + first[start..].find('"').unwrap()];
    let second = app.get(older).await.text().await.unwrap();
    assert!(second.contains("person04@") && second.contains("person00@"));
    assert!(!second.contains("person05@") && !second.contains("id=\"older\""));
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_tenant_admin_cannot_act_on_another_organization(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sign_in_as("alice").await;
    let dave = app.sub_of("dave");
    // Alice is no member of globex: every self-service page refuses.
    for page in [
        "/t/globex/members",
        "/t/globex/invitations",
        "/t/globex/audit",
    ] {
        assert_eq!(app.get(page).await.status().as_u16(), 403, "{page}");
    }
    let res = post_form(
        &app,
        &app.browser,
        "/t/acme/members",
        &format!("/t/globex/members/{dave}/remove"),
        &[],
    )
    .await;
    assert_eq!(res.status().as_u16(), 403);
    // Dave is no member of acme: acme's admin cannot touch him through acme.
    let res = post_form(
        &app,
        &app.browser,
        "/t/acme/members",
        &format!("/t/acme/members/{dave}/roles"),
        &[("role", "member")],
    )
    .await;
    assert_eq!(res.status().as_u16(), 404);
    assert_eq!(
        app.idp.organization_roles_of(&dave, "org-globex"),
        Some(vec!["member".to_owned()])
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn management_api_failures_give_a_clear_page_and_change_nothing(pool: PgPool) {
    let app = spawn_app_with_env(pool, &[("LOGTO_M2M_APP_SECRET", "wrong")]).await;
    app.sign_in_as("alice").await;
    let res = app.get("/t/acme/members").await;
    assert_eq!(res.status().as_u16(), 503);
    let html = res.text().await.unwrap();
    assert!(html.contains("Management API"), "{html}");
    assert!(!html.contains("wrong"), "the secret is not shown");
    let bob = app.sub_of("bob");
    let res = post_form(
        &app,
        &app.browser,
        "/t/acme/",
        &format!("/t/acme/members/{bob}/remove"),
        &[],
    )
    .await;
    assert_eq!(res.status().as_u16(), 503);
    assert_eq!(
        app.idp.organization_roles_of(&bob, "org-acme"),
        Some(vec!["member".to_owned()])
    );
    let actions = audit_actions(&app).await;
    assert_eq!(
        actions,
        [("remove_member".into(), bob.clone(), "failed".into())]
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn without_a_machine_to_machine_app_the_pages_say_what_to_configure(pool: PgPool) {
    let app = spawn_app_with_env(
        pool,
        &[("LOGTO_M2M_APP_ID", ""), ("LOGTO_M2M_APP_SECRET", "")],
    )
    .await;
    app.sign_in_as("alice").await;
    let res = app.get("/t/acme/members").await;
    assert_eq!(res.status().as_u16(), 503);
    assert!(res.text().await.unwrap().contains("LOGTO_M2M_APP_ID"));
    // The space itself still works.
    assert_eq!(app.get("/t/acme/").await.status().as_u16(), 200);
}

/// An organization token of `username` for `organization_id`, asked for
/// with these organization permissions only (an automation's token).
async fn org_token(
    app: &TestApp,
    username: &str,
    organization_id: &str,
    permissions: &[&str],
) -> String {
    let mut scopes = vec![
        "urn:logto:scope:organizations",
        "urn:logto:scope:organization_roles",
    ];
    scopes.extend_from_slice(permissions);
    let (client, storage) = signed_in_client(app, username, &scopes, &[]).await;
    client
        .get_organization_token(&storage, organization_id)
        .await
        .unwrap()
        .secret()
        .to_owned()
}

const ALL: &[&str] = &[
    "read:members",
    "invite:members",
    "manage:members",
    "manage:billing",
];

async fn send(
    method: reqwest::Method,
    app: &TestApp,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .request(method, app.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_api_lists_members_changes_roles_and_removes_with_the_tokens_permissions(pool: PgPool) {
    use reqwest::Method;
    let app = spawn_app(pool).await;
    let admin = org_token(&app, "alice", "org-acme", ALL).await;
    let (status, body) = send(
        Method::GET,
        &app,
        "/api/orgs/org-acme/members",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let bob = app.sub_of("bob");
    let row = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == bob.as_str())
        .cloned()
        .unwrap();
    assert_eq!(row["roles"], serde_json::json!(["member"]));
    assert_eq!(row["email"], "bob@acme.test");

    let roles = format!("/api/orgs/org-acme/members/{bob}/roles");
    let (status, _) = send(
        Method::PUT,
        &app,
        &roles,
        &admin,
        Some(serde_json::json!({"roles": ["admin"]})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        app.idp.organization_roles_of(&bob, "org-acme"),
        Some(vec!["admin".to_owned()])
    );
    let (status, _) = send(
        Method::PUT,
        &app,
        &roles,
        &admin,
        Some(serde_json::json!({"roles": ["nope"]})),
    )
    .await;
    assert_eq!(status, 400);

    // An admin token without invite:members and manage:billing cannot
    // grant the admin role, which carries both.
    let narrow = org_token(
        &app,
        "alice",
        "org-acme",
        &["read:members", "manage:members"],
    )
    .await;
    let (status, body) = send(
        Method::PUT,
        &app,
        &roles,
        &narrow,
        Some(serde_json::json!({"roles": ["member", "admin"]})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("admin")
            || body.to_string().contains("admin"),
        "{body}"
    );
    // A member's token: no manage:members.
    let member = org_token(&app, "bob", "org-acme", ALL).await;
    let alice = app.sub_of("alice");
    let (status, body) = send(
        Method::DELETE,
        &app,
        &format!("/api/orgs/org-acme/members/{alice}"),
        &member,
        None,
    )
    .await;
    // Bob is admin now: his token carries manage:members; Alice is not the last admin.
    assert_eq!(status, 204, "{body}");
    let (status, body) = send(
        Method::DELETE,
        &app,
        &format!("/api/orgs/org-acme/members/{bob}"),
        &member,
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "conflict");

    // Alice is gone: her token, valid for another hour, no longer opens
    // the API.
    let (status, body) = send(
        Method::GET,
        &app,
        "/api/orgs/org-acme/members",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "insufficient_scope");

    // Audit trail as JSON, paged.
    let (status, body) = send(
        Method::GET,
        &app,
        "/api/orgs/org-acme/audit?limit=2",
        &member,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["action"], "remove_member");
    assert_eq!(events[0]["outcome"], "refused");
    let next = body["next_before"].as_i64().unwrap();
    let (_, older) = send(
        Method::GET,
        &app,
        &format!("/api/orgs/org-acme/audit?before={next}"),
        &member,
        None,
    )
    .await;
    assert!(
        older["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["id"].as_i64().unwrap() < next)
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn the_api_invites_and_refuses_other_organizations_and_missing_permissions(pool: PgPool) {
    use reqwest::Method;
    let app = spawn_app(pool).await;
    let admin = org_token(&app, "alice", "org-acme", ALL).await;
    let (status, body) = send(
        Method::POST,
        &app,
        "/api/orgs/org-acme/invitations",
        &admin,
        Some(serde_json::json!({"email": "ivan@acme.test", "roles": ["member"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["invitee"], "ivan@acme.test");
    assert_eq!(body["status"], "Pending");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["link"], app.url(&format!("/invitations/{id}")));
    let (_, listed) = send(
        Method::GET,
        &app,
        "/api/orgs/org-acme/invitations",
        &admin,
        None,
    )
    .await;
    assert_eq!(listed["invitations"][0]["id"], id.as_str());
    let (status, _) = send(
        Method::DELETE,
        &app,
        &format!("/api/orgs/org-acme/invitations/{id}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, listed) = send(
        Method::GET,
        &app,
        "/api/orgs/org-acme/invitations",
        &admin,
        None,
    )
    .await;
    assert_eq!(listed["invitations"], serde_json::json!([]));

    // Bob's token reads members but cannot invite: insufficient_scope.
    let reader = org_token(&app, "bob", "org-acme", &["read:members"]).await;
    let (status, body) = send(
        Method::POST,
        &app,
        "/api/orgs/org-acme/invitations",
        &reader,
        Some(serde_json::json!({"email": "x@acme.test", "roles": ["member"]})),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "insufficient_scope");
    let (status, _) = send(Method::GET, &app, "/api/orgs/org-acme/audit", &reader, None).await;
    assert_eq!(status, 403);

    // Acme's token at Globex's routes; Globex's invitation through Acme's.
    let dave = app.sub_of("dave");
    let (status, _) = send(
        Method::GET,
        &app,
        "/api/orgs/org-globex/members",
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        Method::DELETE,
        &app,
        &format!("/api/orgs/org-globex/members/{dave}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 403);
    let globex_admin = org_token(&app, "dave", "org-globex", ALL).await;
    let (status, body) = send(
        Method::GET,
        &app,
        "/api/orgs/org-globex/members",
        &globex_admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Dave (member of globex, read:members only in its roles) cannot invite there.
    let (status, _) = send(
        Method::POST,
        &app,
        "/api/orgs/org-globex/invitations",
        &globex_admin,
        Some(serde_json::json!({"email": "y@globex.test", "roles": ["member"]})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        Method::GET,
        &app,
        "/api/orgs/org-acme/members",
        "not-a-token",
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        app.idp.organization_roles_of(&dave, "org-globex"),
        Some(vec!["member".to_owned()])
    );
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn a_change_made_on_one_instance_reaches_the_others(pool: PgPool) {
    use crate::support::{database_url_of, eventually, spawn_portal_via};
    let app = spawn_app(pool.clone()).await;
    let (other, _state) = spawn_portal_via(&app.idp, &database_url_of(&pool, None), &[]).await;
    app.sign_in_as("alice").await;
    let bob = browser();
    app.sign_in_as_in(&bob, "bob", "/").await;
    let page = |url: String| {
        let bob = bob.clone();
        async move {
            let res = bob.get(url).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    // Bob browses on the other instance: his login and organization token
    // are in its copy.
    let (status, html) = page(format!("{other}/t/acme/")).await;
    assert_eq!(status, 200);
    assert!(html.contains(">member<"), "{html}");

    let bob_id = app.sub_of("bob");
    let res = post_form(
        &app,
        &app.browser,
        "/t/acme/members",
        &format!("/t/acme/members/{bob_id}/roles"),
        &[("role", "admin")],
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    eventually(
        "the other instance to show the new role",
        std::time::Duration::from_secs(10),
        || async {
            let (status, html) = page(format!("{other}/t/acme/")).await;
            (status == 200 && html.contains(">admin<") && html.contains("manage:members"))
                .then_some(())
        },
    )
    .await;

    let res = post_form(
        &app,
        &app.browser,
        "/t/acme/members",
        &format!("/t/acme/members/{bob_id}/remove"),
        &[],
    )
    .await;
    assert_eq!(res.status().as_u16(), 303);
    eventually(
        "the other instance to refuse him",
        std::time::Duration::from_secs(10),
        || async { (page(format!("{other}/t/acme/")).await.0 == 403).then_some(()) },
    )
    .await;
}

#[sqlx::test(migrator = "portal::MIGRATOR")]
async fn with_invitation_emails_logto_sends_the_link(pool: PgPool) {
    let app = spawn_app_with_env(pool, &[("PORTAL_INVITATION_EMAILS", "true")]).await;
    app.sign_in_as("alice").await;
    let res = post_form(
        &app,
        &app.browser,
        "/t/acme/members",
        "/t/acme/members/invite",
        &[("email", "olga@acme.test"), ("role", "member")],
    )
    .await;
    assert_eq!(res.status().as_u16(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Logto has emailed the invitation"), "{html}");
    let link = invitation_link(&html);
    let sent = app.idp.invitation_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].invitee, "olga@acme.test");
    assert_eq!(sent[0].payload["link"], link.as_str());
}
