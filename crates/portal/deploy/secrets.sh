#!/bin/sh
# The `secrets` service of docker-compose.yml: runs before everything else at
# every `docker compose up`, as root, and writes the deployment's secrets where
# each service reads them. Each secret is, in this order:
#   - the value given in the environment (the production override passes
#     them from `.env`: your own secrets);
#   - else the value kept in the volume from an earlier start;
#   - else a new random one (the demo's first start).
# Nothing secret is committed: the values live only in the two volumes.
#
#   $SECRETS_DIR    (volume `secrets`: postgres, logto, provision)
#     postgres.env  POSTGRES_PASSWORD, PORTAL_DB_PASSWORD (PostgreSQL's start)
#     logto.env     DB_URL (Logto's database, as the superuser)
#     kept/         the values themselves, for the next start
#   $PORTAL_ENV_DIR (volume `portal-env`: provision, the portal replicas)
#     portal.env    DATABASE_URL, PORTAL_SESSION_KEY, PORTAL_TOKEN_KEY
#
# Files are mode 0600 and directories 0700, owned by $SECRETS_OWNER (the
# portal image's user); the postgres and logto containers read them as root.
set -eu

secrets=${SECRETS_DIR:-/secrets}
portal_env=${PORTAL_ENV_DIR:-/portal-env}
owner=${SECRETS_OWNER:-10001:10001}
umask 077
mkdir -p "$secrets/kept" "$portal_env"

# random BYTES: that many random bytes, base64 on one line.
random() {
    head -c "$1" /dev/urandom | base64 | tr -d '\n'
}

# secret NAME BYTES [url]: sets $NAME as described above; `url` makes a new
# value URL-safe and requires a given one to be (database passwords go into
# connection URLs).
secret() {
    name=$1
    kept=$secrets/kept/$name
    eval "value=\${$name:-}"
    if [ -n "$value" ]; then
        origin="given"
    elif [ -s "$kept" ]; then
        value=$(cat "$kept")
        origin="kept from the first start"
    else
        value=$(random "$2")
        if [ "${3:-}" = url ]; then
            value=$(printf '%s' "$value" | tr '+/' '-_' | tr -d '=')
        fi
        origin="generated"
    fi
    case $value in
    *"'"* | *'
'*)
        echo "secrets: $name must not contain a quote or a line break" >&2
        exit 1
        ;;
    esac
    if [ "${3:-}" = url ]; then
        case $value in
        *[!A-Za-z0-9._~-]*)
            echo "secrets: $name must be URL-safe (letters, digits, . _ ~ -): it goes into a database URL; try \`openssl rand -hex 24\`" >&2
            exit 1
            ;;
        esac
    fi
    printf '%s' "$value" >"$kept"
    eval "$name=\$value"
    echo "secrets: $name $origin"
}

# envfile FILE NAME VALUE [NAME VALUE]...: writes FILE (.env format, values
# single-quoted: taken literally by sh and by the portal's dotenvy alike),
# replacing it at once.
envfile() {
    file=$1
    shift
    : >"$file.new"
    while [ "$#" -gt 1 ]; do
        printf "%s='%s'\n" "$1" "$2" >>"$file.new"
        shift 2
    done
    mv "$file.new" "$file"
}

secret POSTGRES_PASSWORD 24 url
secret PORTAL_DB_PASSWORD 24 url
secret PORTAL_SESSION_KEY 64
secret PORTAL_TOKEN_KEY 32

envfile "$secrets/postgres.env" \
    POSTGRES_PASSWORD "$POSTGRES_PASSWORD" \
    PORTAL_DB_PASSWORD "$PORTAL_DB_PASSWORD"
envfile "$secrets/logto.env" \
    DB_URL "postgres://postgres:$POSTGRES_PASSWORD@postgres:5432/logto"
envfile "$portal_env/portal.env" \
    DATABASE_URL "postgres://portal:$PORTAL_DB_PASSWORD@postgres:5432/portal" \
    PORTAL_SESSION_KEY "$PORTAL_SESSION_KEY" \
    PORTAL_TOKEN_KEY "$PORTAL_TOKEN_KEY"

chown -R "$owner" "$secrets" "$portal_env"
chmod -R go-rwx "$secrets" "$portal_env"
echo "secrets: ready"
