//! The portal's middleware: security headers, metrics, the sign-in rate
//! limit, the database breaker's guard, and the 503 page of
//! errors raised in middleware. `startup.rs` wires them.

use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{HttpResponse, web};

use crate::infra::breaker::BreakerOpen;
use crate::state::AppState;
use crate::tenant;
use crate::web::error::{self, AppError};

/// The security headers of every response.
pub(crate) fn security_header_values(https: bool) -> Vec<(header::HeaderName, &'static str)> {
    let mut h = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:; \
             form-action 'self' http: https:; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    if https {
        h.push((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ));
    }
    h
}

/// Security headers on every response that reaches `DefaultHeaders`.
pub(crate) fn security_headers(https: bool) -> DefaultHeaders {
    security_header_values(https)
        .into_iter()
        .fold(DefaultHeaders::new(), |h, pair| h.add(pair))
}

/// Errors raised by middleware (the session store failing to load or save,
/// [`breaker_guard`] failing fast) bypass `ErrorHandlers`: turn them into a
/// rendered 503 ([`error::Outage`]), with one log line. Only the path and
/// the method are kept: holding a clone of the request while the router
/// runs would make actix panic.
pub(crate) async fn middleware_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path().to_owned();
    let method = req.method().clone();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    next.call(req).await.map_err(|e| {
        if e.as_error::<BreakerOpen>().is_some() {
            tracing::warn!(%method, %path, status = 503, "PostgreSQL unreachable: failing fast");
        } else {
            tracing::error!(%method, %path, status = 503, error = %e, "request failed in middleware (session store unavailable?)");
        }
        let https = state.as_ref().is_some_and(|s| s.settings.is_https());
        outage(&path, state, https)
    })
}

/// The 503 page of a request that failed in middleware or met an open
/// breaker. An error passes `DefaultHeaders` by: the page gets its headers
/// here.
pub(crate) fn outage(
    path: &str,
    state: Option<web::Data<AppState>>,
    https: bool,
) -> actix_web::Error {
    let outage = error::Outage::new(path, state);
    let mut res = actix_web::ResponseError::error_response(&outage);
    for (name, value) in security_header_values(https) {
        res.headers_mut()
            .insert(name, header::HeaderValue::from_static(value));
    }
    actix_web::error::InternalError::from_response(outage, res).into()
}

/// Counts requests by route pattern and status.
pub(crate) async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let res = next.call(req).await?;
    let req = res.request();
    if let Some(s) = req.app_data::<web::Data<AppState>>() {
        let route = req.match_pattern();
        s.metrics.observe_request(
            req.method().as_str(),
            route.as_deref().unwrap_or("unmatched"),
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

/// Whether `path` starts a sign-in or completes one: logto-actix's
/// `/sign-in` and `/callback`, a tenant's `/t/{slug}/sign-in`, and an
/// invitation link (`/invitations/{id}` and its `/sign-in`), which anyone
/// may open and which costs a Management API call.
pub(crate) fn is_sign_in(path: &str) -> bool {
    matches!(path, "/sign-in" | "/callback")
        || path
            .strip_prefix("/t/")
            .and_then(|rest| rest.strip_suffix("/sign-in"))
            .is_some_and(tenant::valid_slug)
        || path.strip_prefix("/invitations/").is_some_and(|rest| {
            let id = rest.strip_suffix("/sign-in").unwrap_or(rest);
            !id.is_empty() && !id.contains('/')
        })
}

/// Every sign-in route ([`is_sign_in`]) is rate limited per client, in
/// this one place; a refused callback still says
/// `Referrer-Policy: no-referrer` (its URL holds the code).
pub(crate) async fn limit_sign_ins(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let callback = req.path() == "/callback";
    let limited = is_sign_in(req.path())
        && req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|s| !s.sign_in_limiter.allow_request(req.request()));
    if !limited {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let mut res = HttpResponse::from_error(error::AppError::RateLimited);
    if callback {
        res.headers_mut().insert(
            header::REFERRER_POLICY,
            header::HeaderValue::from_static("no-referrer"),
        );
    }
    // `into_response` would drop the response's error, which the error
    // page reads: keep it.
    let (req, _payload) = req.into_parts();
    Ok(ServiceResponse::new(req, res).map_into_right_body())
}

/// The [`DbBreaker`](crate::infra::breaker::DbBreaker) as a middleware, around what needs PostgreSQL (the
/// routes with a session, the back-channel receiver): a session-store
/// failure or a handler's `DatabaseUnavailable` trips it, and while it is
/// open, requests fail at once with [`BreakerOpen`] (rendered by
/// the portal's `middleware_errors`, in `startup.rs`).
pub async fn breaker_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await;
    };
    if state.db_breaker.is_open() {
        return Err(BreakerOpen.into());
    }
    let result = next.call(req).await;
    let database_down = match &result {
        Ok(res) => res
            .response()
            .error()
            .and_then(|e| e.as_error::<AppError>())
            .is_some_and(|e| matches!(e, AppError::DatabaseUnavailable(_))),
        Err(_) => true,
    };
    if database_down {
        state.db_breaker.trip(&state.pool);
    }
    result
}
