//! The stylesheet, served by the portal itself (no CDN).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// `GET /static/portal.css`.
pub async fn stylesheet(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(state.stylesheet.clone())
}
