//! The benchmark's floor: the cheapest server an authenticated portal page
//! could be. One actix-web route, `GET /floor/{id}`, does one PostgreSQL
//! primary-key lookup and renders one small Tera template — what every
//! signed-in page does at least once. `cargo xtask bench` reports the portal's
//! throughput as a ratio to this server's, measured in the same run on the
//! same machine, so that machine noise cancels out.
//!
//! Same stack and settings as the portal: actix-web with one worker per CPU,
//! each with a pool of its own, sized as the portal's
//! (`portal::startup::worker_connections`) and with the portal's pool
//! settings (`portal::startup::pool_options`); Tera with autoescaping.
//!
//! ```sh
//! DATABASE_URL=postgres://… cargo run --release -p portal --example bench_floor -- 127.0.0.1:8081
//! ```
//!
//! The address comes from the first argument, else `BENCH_FLOOR_BIND`, else
//! `127.0.0.1:8081`. At start it creates (if missing) the table
//! `bench_floor(id int primary key, name text)` with [`ROWS`] rows, and
//! analyzes it.

/// The portal's allocator (see its `main.rs`), so that the ratio compares
/// like with like.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;

use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use sqlx::PgPool;

/// Rows seeded into `bench_floor`; ids are `1..=ROWS`. Enough that
/// PostgreSQL looks a row up through the primary key's index, as it looks up
/// a session; a table of a few rows is read by a sequential scan of its one
/// page instead, which is cheaper than any real lookup.
const ROWS: i32 = 10_000;

const TEMPLATE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Floor {{ id }}</title></head>
<body><main><h1>Hello, {{ name }}</h1><p>Row {{ id }} of the floor table.</p></main></body></html>
"#;

struct Floor {
    pool: PgPool,
    tera: std::sync::Arc<tera::Tera>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i32,
    name: String,
}

async fn floor(state: web::Data<Floor>, id: web::Path<i32>) -> HttpResponse {
    let row: Result<Option<Row>, sqlx::Error> =
        sqlx::query_as("SELECT id, name FROM bench_floor WHERE id = $1")
            .bind(id.into_inner())
            .fetch_optional(&state.pool)
            .await;
    let row = match row {
        Ok(Some(row)) => row,
        Ok(None) => return HttpResponse::NotFound().body("no such row"),
        Err(e) => return HttpResponse::ServiceUnavailable().body(format!("database: {e}")),
    };
    let mut ctx = tera::Context::new();
    ctx.insert("id", &row.id);
    ctx.insert("name", &row.name);
    match state.tera.render("floor.html", &ctx) {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => HttpResponse::InternalServerError().body(format!("template: {e}")),
    }
}

async fn prepare(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_floor (id int PRIMARY KEY, name text NOT NULL)")
        .execute(pool)
        .await
        .context("creating bench_floor")?;
    sqlx::query(
        "INSERT INTO bench_floor (id, name) \
         SELECT i, 'user ' || i FROM generate_series(1, $1) AS i \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(ROWS)
    .execute(pool)
    .await
    .context("seeding bench_floor")?;
    sqlx::query("ANALYZE bench_floor")
        .execute(pool)
        .await
        .context("analyzing bench_floor")?;
    Ok(())
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let bind: SocketAddr = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("BENCH_FLOOR_BIND").ok())
        .unwrap_or_else(|| "127.0.0.1:8081".to_owned())
        .parse()
        .context("the bind address (argument or BENCH_FLOOR_BIND)")?;
    let database_url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
    // The portal's own pool settings.
    let pool = portal::startup::pool_options()
        .connect(&database_url)
        .await
        .context("connecting to DATABASE_URL")?;
    prepare(&pool).await?;
    let mut tera = tera::Tera::default();
    tera.add_raw_template("floor.html", TEMPLATE)
        .context("parsing the template")?;
    tera.autoescape_on(vec![".html"]);
    let workers = portal::config::cpus();
    let per_worker =
        portal::startup::worker_connections(pool.options().get_max_connections(), workers);
    let connect = pool.connect_options();
    let tera = std::sync::Arc::new(tera);
    eprintln!("bench_floor: listening on http://{bind}/floor/{{1..={ROWS}}}");
    HttpServer::new(move || {
        let pool = portal::startup::pool_options()
            .max_connections(per_worker)
            .connect_lazy_with((*connect).clone());
        let state = web::Data::new(Floor {
            pool,
            tera: tera.clone(),
        });
        App::new()
            .app_data(state)
            .route("/floor/{id}", web::get().to(floor))
    })
    .workers(workers)
    .bind(bind)
    .with_context(|| format!("binding {bind}"))?
    .run()
    .await
    .context("serving")
}
