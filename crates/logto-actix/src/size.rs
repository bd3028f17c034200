//! The guard against silently lost cookie sessions.

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use crate::error::{Error, ErrorKind};

/// The largest serialized session state (JSON, in bytes) that still fits a
/// browser cookie once actix-session's `CookieSessionStore` has encrypted and
/// base64-encoded it (about 4/3 of the size plus 28 bytes, and browsers drop
/// cookies over 4096 bytes).
///
/// ```
/// assert!(logto_actix::SESSION_SIZE_LIMIT < 4096);
/// ```
pub const SESSION_SIZE_LIMIT: usize = 3000;

/// A middleware (for [`actix_web::middleware::from_fn`]) that refuses to let a
/// session state grow past [`SESSION_SIZE_LIMIT`].
///
/// With actix-session's `CookieSessionStore` the whole session state travels
/// in the cookie. A browser drops a cookie over 4 KB without a word: pages
/// keep rendering, and whatever the request wrote to the session is lost.
/// This crate never puts tokens in the session (only random ids and the CSRF
/// token, under 200 bytes), but the application's own values might: when the
/// state after the handler is too large, the request is logged at `error` and
/// answered 500 ([`ErrorKind::SessionTooLarge`]) instead of silently losing
/// the write. A server-side session store (Redis, PostgreSQL) has no such
/// limit; the check costs one serialization per request.
///
/// Register it inside (`.wrap` it before) `SessionMiddleware`:
///
/// ```no_run
/// use actix_session::{SessionMiddleware, storage::CookieSessionStore};
/// use actix_web::{App, cookie::Key, middleware::from_fn};
///
/// let key = Key::generate();
/// let app = App::new()
///     .wrap(from_fn(logto_actix::check_session_size))
///     .wrap(SessionMiddleware::new(CookieSessionStore::default(), key));
/// ```
pub async fn check_session_size(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let size = {
        let session = res.request().get_session();
        let entries = session.entries();
        serde_json::to_string(&*entries).map_or(0, |s| s.len())
    };
    if size > SESSION_SIZE_LIMIT {
        let error = Error::from(ErrorKind::SessionTooLarge {
            size,
            limit: SESSION_SIZE_LIMIT,
        });
        tracing::error!(
            size,
            limit = SESSION_SIZE_LIMIT,
            path = res.request().path(),
            "session state too large for a cookie: keep large values server-side"
        );
        return Ok(res.error_response(error));
    }
    Ok(res.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use actix_session::{Session, SessionMiddleware, storage::CookieSessionStore};
    use actix_web::cookie::Key;
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    use super::*;

    async fn write(session: Session, path: web::Path<usize>) -> HttpResponse {
        session.insert("blob", "x".repeat(*path)).unwrap();
        HttpResponse::Ok().finish()
    }

    #[actix_web::test]
    async fn a_session_too_large_for_a_cookie_is_an_error_not_a_silent_loss() {
        let app = test::init_service(
            App::new()
                .route("/write/{n}", web::get().to(write))
                .wrap(from_fn(check_session_size))
                .wrap(SessionMiddleware::new(
                    CookieSessionStore::default(),
                    Key::generate(),
                )),
        )
        .await;
        let small = test::call_service(
            &app,
            test::TestRequest::get().uri("/write/100").to_request(),
        )
        .await;
        assert_eq!(small.status().as_u16(), 200);
        let large = test::call_service(
            &app,
            test::TestRequest::get().uri("/write/3500").to_request(),
        )
        .await;
        assert_eq!(large.status().as_u16(), 500);
    }
}
