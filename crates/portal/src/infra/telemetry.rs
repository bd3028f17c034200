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
/// `PORTAL_LOG_FORMAT=json`, on standard output.
pub fn init() {
    install(
        std::io::stdout,
        std::io::IsTerminal::is_terminal(&std::io::stdout()),
    );
}

/// Like [`init`], on standard error: for commands whose standard output is
/// their result (`portal logto provision` prints credentials there).
pub fn init_stderr() {
    install(
        std::io::stderr,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
}

fn install<W>(writer: W, ansi: bool)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a terminal: a log file or collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use actix_web::{App, HttpResponse, test, web};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing_actix_web::TracingLogger;
    use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

    use super::QuietRootSpan;

    /// The fields of the `http_request` spans, as recorded.
    #[derive(Clone, Default)]
    struct Fields(Arc<Mutex<HashMap<String, String>>>);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0
                .lock()
                .unwrap()
                .insert(field.name().to_owned(), format!("{value:?}"));
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Fields {
        fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
            if attrs.metadata().name() == "http_request" {
                attrs.record(&mut self.clone());
            }
        }

        fn on_record(&self, _: &Id, values: &Record<'_>, _: Context<'_, S>) {
            values.record(&mut self.clone());
        }
    }

    #[actix_web::test]
    async fn the_request_span_has_route_status_latency_and_id_and_never_the_query() {
        let fields = Fields::default();
        let _default =
            tracing::subscriber::set_default(tracing_subscriber::registry().with(fields.clone()));
        let app = test::init_service(
            App::new()
                .wrap(TracingLogger::<QuietRootSpan>::new())
                .route(
                    "/t/{slug}/",
                    web::get().to(|| async { HttpResponse::NoContent().finish() }),
                ),
        )
        .await;
        let res = test::call_service(
            &app,
            test::TestRequest::get()
                .uri("/t/acme/?code=the-authorization-code")
                .to_request(),
        )
        .await;
        assert_eq!(res.status().as_u16(), 204);

        let seen = fields.0.lock().unwrap().clone();
        let field = |name: &str| {
            seen.get(name)
                .cloned()
                .unwrap_or_else(|| panic!("no {name} in {seen:?}"))
        };
        assert_eq!(field("method"), "GET");
        assert_eq!(field("route"), "/t/{slug}/");
        assert_eq!(field("path"), "/t/acme/");
        assert_eq!(field("status"), "204");
        let latency: f64 = field("latency_ms").parse().unwrap();
        assert!((0.0..10_000.0).contains(&latency), "{latency}");
        let id: uuid::Uuid = field("request_id").parse().unwrap();
        assert_eq!(id.get_version_num(), 4, "a random request id");
        assert!(
            seen.values().all(|v| !v.contains("the-authorization-code")),
            "the query string reached the span: {seen:?}"
        );
    }
}
