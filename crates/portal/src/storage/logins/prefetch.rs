//! One query for a signed-in page: the session, its login, and the tenant
//! the page is about, with that tenant's cached organization token.
//!
//! Every signed-in page needs the session (actix-session's store loads it)
//! and then the login the session names (the auth gate checks it); a tenant
//! page also needs the tenant and its organization token. The session store
//! reads all of them in one query ([`crate::storage::session_store`]) and leaves them
//! here, in a slot that lives exactly as long as the request ([`scope`], run
//! by a middleware around the session middleware, which also says which
//! tenant the request names). The auth gate (`PgLogins::preloaded_by`, see
//! [`crate::web::auth::PortalLogins`]) and the tenant routes take them instead of querying again. Without a slot, or without
//! a stashed value for the same login or slug, they query on their own, as
//! before: the slot only ever saves queries.

use std::cell::RefCell;
use std::future::Future;

use uuid::Uuid;

use logto_actix::postgres::PreloadedLogin;

use super::CheckedLogin;
use crate::tenant::Tenant;

tokio::task_local! {
    static SLOT: RefCell<Slot>;
}

#[derive(Default)]
struct Slot {
    /// The tenant the request names (`/t/{slug}/…`), to read with the session.
    wanted_tenant: Option<String>,
    login: Option<Prefetched>,
    /// `(slug, row)`: the row is `None` when there is no such tenant.
    tenant: Option<(String, Option<Tenant>)>,
}

/// The login named by the session, as read with it (`row` is `None`: no such
/// login), and the cached access tokens read with it.
struct Prefetched {
    login_id: Uuid,
    row: Option<CheckedLogin>,
    access_tokens: Vec<(String, Vec<u8>)>,
}

/// Runs `request` (one request's handling) with an empty slot of its own;
/// `tenant` is the slug of the tenant the request is about, if any.
pub async fn scope<F: Future>(tenant: Option<String>, request: F) -> F::Output {
    let slot = Slot {
        wanted_tenant: tenant,
        ..Slot::default()
    };
    SLOT.scope(RefCell::new(slot), request).await
}

/// The tenant slug the request names, handed out once: the session store
/// reads it as it loads the session (outside [`scope`]: none).
pub(crate) fn take_wanted_tenant() -> Option<String> {
    SLOT.try_with(|slot| slot.borrow_mut().wanted_tenant.take())
        .ok()
        .flatten()
}

/// Leaves what the session store read about login `login_id` (and its cached
/// `access_tokens`) for the rest of the request (a no-op outside [`scope`]).
pub(crate) fn stash_login(
    login_id: Uuid,
    row: Option<CheckedLogin>,
    access_tokens: Vec<(String, Vec<u8>)>,
) {
    let _ = SLOT.try_with(|slot| {
        slot.borrow_mut().login = Some(Prefetched {
            login_id,
            row,
            access_tokens,
        });
    });
}

/// Leaves the tenant row of `slug` (`None`: there is none).
pub(crate) fn stash_tenant(slug: String, row: Option<Tenant>) {
    let _ = SLOT.try_with(|slot| slot.borrow_mut().tenant = Some((slug, row)));
}

/// What was stashed for `login_id`, once: a [`PreloadedLogin`] whose `row`
/// is `None` when the session's login row did not exist; `None` when
/// nothing was stashed for that id.
pub fn take_login(login_id: Uuid) -> Option<PreloadedLogin> {
    SLOT.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        let ours = slot.login.as_ref()?.login_id == login_id;
        ours.then(|| slot.login.take())?
    })
    .ok()
    .flatten()
    .map(|p| PreloadedLogin {
        row: p.row,
        access_tokens: p.access_tokens,
    })
}

/// What was stashed for tenant `slug`: `Some(None)` when there is no such
/// tenant, `None` when nothing was stashed for that slug.
pub fn take_tenant(slug: &str) -> Option<Option<Tenant>> {
    SLOT.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        let ours = slot.tenant.as_ref()?.0 == slug;
        ours.then(|| slot.tenant.take())?
    })
    .ok()
    .flatten()
    .map(|(_, row)| row)
}
