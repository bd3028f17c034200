//! HTTP handlers, one module per area.

pub mod api;
pub mod assets;
pub mod backchannel;
pub mod health;
pub mod members;
pub mod pages;
pub mod tenant;

use actix_web::HttpResponse;
use actix_web::http::header;

/// A 302 that must not be cached.
pub(crate) fn redirect(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
