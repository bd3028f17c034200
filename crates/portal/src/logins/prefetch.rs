//! One query for the session and its login.
//!
//! Every signed-in page needs the session (actix-session's store loads it)
//! and then the login the session names (the auth gate checks it). The
//! session store reads both in one query ([`crate::session_store`]) and
//! leaves the login here, in a slot that lives exactly as long as the
//! request ([`scope`], run by a middleware around the session middleware);
//! [`super::touch_loading_tokens`] takes it instead of querying again.
//! Without a slot (no middleware) or a stashed login for the same id, the
//! check queries on its own, as before: the slot only ever saves a query.

use std::cell::RefCell;
use std::future::Future;

use uuid::Uuid;

use super::CheckedLogin;

tokio::task_local! {
    static SLOT: RefCell<Option<Prefetched>>;
}

/// The login named by the session, as read with it (`None`: no such row).
struct Prefetched {
    login_id: Uuid,
    row: Option<CheckedLogin>,
}

/// Runs `request` (one request's handling) with an empty slot of its own.
pub async fn scope<F: Future>(request: F) -> F::Output {
    SLOT.scope(RefCell::new(None), request).await
}

/// Leaves what the session store read about login `login_id` for the rest
/// of the request (a no-op outside [`scope`]).
pub(crate) fn stash(login_id: Uuid, row: Option<CheckedLogin>) {
    let _ = SLOT.try_with(|slot| *slot.borrow_mut() = Some(Prefetched { login_id, row }));
}

/// What was stashed for `login_id`, once: `Some(None)` when the session's
/// login row did not exist, `None` when nothing was stashed for that id.
pub(crate) fn take(login_id: Uuid) -> Option<Option<CheckedLogin>> {
    SLOT.try_with(|slot| slot.borrow_mut().take())
        .ok()
        .flatten()
        .filter(|p| p.login_id == login_id)
        .map(|p| p.row)
}
