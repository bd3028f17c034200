# syntax=docker/dockerfile:1
# The portal's container image: `docker build -t portal .` (or `docker compose
# build`). Two stages: a full Rust toolchain builds the binary; the runtime
# image is Debian slim with the binary and the templates only.

# ---- build ---------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src
# The whole workspace is needed to resolve it (Cargo.lock, every member's
# manifest); .dockerignore keeps target/, .git and secrets out of the context.
# `migrations/` is embedded into the binary at compile time (sqlx::migrate!),
# so the runtime image does not need it.
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY crates ./crates
COPY migrations ./migrations
# Dependency caching without cargo-chef: BuildKit cache mounts keep the
# registry and target/ between builds, so only changed crates recompile. The
# binary is copied out because cache mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p portal \
    && install -D -m 0755 target/release/portal /out/portal

# ---- runtime -------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# ca-certificates only (an https LOGTO_ENDPOINT or DATABASE_URL with TLS).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# An unprivileged system user; numeric ids so orchestrators can verify
# "runAsNonRoot" without reading /etc/passwd.
RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin portal
WORKDIR /app
COPY --from=builder /out/portal /usr/local/bin/portal
COPY templates ./templates
ENV PORTAL_TEMPLATES_DIR=/app/templates \
    PORTAL_BIND=0.0.0.0:8080
USER 10001:10001
EXPOSE 8080
# Liveness without curl: bash (always in Debian slim, unlike curl or wget)
# opens a TCP connection with /dev/tcp, sends a bare HTTP/1.0 request for
# /healthz and checks for a 200 status line. Installing curl would add a
# network client and its libraries to every replica only for this check.
# Assumes the default port 8080 (PORTAL_BIND above).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/portal"]
CMD ["serve"]
