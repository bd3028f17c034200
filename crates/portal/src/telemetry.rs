//! Tracing set-up, and a root span per request that never records the query
//! string (the callback's authorization code would otherwise reach the logs).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage as _};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `RUST_LOG` (default `info`), human-readable
/// output (coloured on a terminal only), or JSON lines when
/// `PORTAL_LOG_FORMAT=json`.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: a log file or collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let result = if std::env::var("PORTAL_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A subscriber installed earlier (tests) stays.
    let _ = result;
}

/// Root span with method, route pattern, path (no query), request id, and
/// — on completion — status and latency.
pub struct QuietRootSpan;

/// When the request started (in its extensions, for the latency).
#[derive(Clone, Copy)]
struct Started(std::time::Instant);

impl RootSpanBuilder for QuietRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request
            .extensions_mut()
            .insert(Started(std::time::Instant::now()));
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        // The id tracing-actix-web gave the request (a v4 UUID from the
        // thread's CSPRNG, uuid's `fast-rng`: no system call per request).
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(|id| uuid::Uuid::from(*id))
            .unwrap_or_default();
        tracing::info_span!(
            "http_request",
            method = %request.method(),
            route = %route,
            path = %request.path(),
            request_id = %request_id,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(res) => {
                let started = res.request().extensions().get::<Started>().copied();
                if let Some(Started(at)) = started {
                    span.record("latency_ms", at.elapsed().as_secs_f64() * 1000.0);
                }
                res.status().as_u16()
            }
            Err(e) => e.as_response_error().status_code().as_u16(),
        };
        span.record("status", status);
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
