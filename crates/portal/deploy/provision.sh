#!/bin/sh
# The `provision` service of docker-compose.yml: runs its command
# (`portal logto provision --seed … --base-url … [--bootstrap-m2m]`) in the
# portal image, then hands the application's credentials to the portal
# replicas.
#
# The command gets DATABASE_URL (the portal's database, where it writes the
# tenants) from portal.env, written by the secrets service. Its
# machine-to-machine app is, in this order:
#   - the operator's, when LOGTO_M2M_APP_ID and LOGTO_M2M_APP_SECRET are set
#     (the production override passes them from `.env`);
#   - else the one bootstrapped by an earlier run, kept in logto-m2m.env;
#   - else, if the command asks for --bootstrap-m2m, one it bootstraps now on
#     the freshly seeded Logto, through Logto's database (LOGTO_DATABASE_URL).
# With credentials at hand, --bootstrap-m2m is dropped from the command.
#
# Writes $PORTAL_ENV_DIR/logto-app.env (LOGTO_APP_ID, LOGTO_APP_SECRET) and
# $PORTAL_ENV_DIR/logto-m2m.env (the machine-to-machine app in use, for the
# replicas' organization self-service): the portal replicas read both through
# PORTAL_ENV_FILE. After a bootstrap, also $SECRETS_DIR/logto-m2m.env, for the
# next run.
set -eu

secrets=${SECRETS_DIR:-/secrets}
portal_env=${PORTAL_ENV_DIR:-/portal-env}
umask 077

# Sourcing keeps whatever quoting the files use; `set -a` exports.
set -a
. "$portal_env/portal.env"
set +a

# Both machine-to-machine credentials set?
have_m2m() {
    [ -n "${LOGTO_M2M_APP_ID:-}" ] && [ -n "${LOGTO_M2M_APP_SECRET:-}" ]
}

if [ -z "${LOGTO_M2M_APP_ID:-}${LOGTO_M2M_APP_SECRET:-}" ] && [ -s "$secrets/logto-m2m.env" ]; then
    set -a
    . "$secrets/logto-m2m.env"
    set +a
    echo "provision: using the machine-to-machine app bootstrapped by an earlier run"
fi

# Rebuild the arguments: without --bootstrap-m2m when credentials are at hand;
# with Logto's database URL when it stays.
bootstrap=no
for arg; do
    shift
    if [ "$arg" = --bootstrap-m2m ]; then
        if have_m2m; then
            continue
        fi
        bootstrap=yes
        LOGTO_DATABASE_URL=$(
            . "$secrets/logto.env"
            printf '%s' "$DB_URL"
        )
        export LOGTO_DATABASE_URL
        echo "provision: bootstrapping a machine-to-machine app on the fresh Logto"
    fi
    set -- "$@" "$arg"
done

if ! have_m2m && [ "$bootstrap" = no ]; then
    echo "provision: set LOGTO_M2M_APP_ID and LOGTO_M2M_APP_SECRET in .env: a machine-to-machine app with the role \"Logto Management API access\", created in the Logto console" >&2
    exit 1
fi

output=$secrets/provision-output.env
rm -f "$output"
"$@" --write-env "$output"

# The application's credentials, for the replicas; both must be there.
grep -E '^(export +)?LOGTO_APP_(ID|SECRET)=' "$output" >"$portal_env/logto-app.env.new" || true
for name in LOGTO_APP_ID LOGTO_APP_SECRET; do
    if ! grep -Eq "^(export +)?$name=" "$portal_env/logto-app.env.new"; then
        echo "provision: the command wrote no $name" >&2
        exit 1
    fi
done
mv "$portal_env/logto-app.env.new" "$portal_env/logto-app.env"

# A bootstrapped machine-to-machine app, for the next run.
if grep -Eq '^(export +)?LOGTO_M2M_APP_ID=' "$output"; then
    grep -E '^(export +)?LOGTO_M2M_APP_(ID|SECRET)=' "$output" >"$secrets/logto-m2m.env.new"
    mv "$secrets/logto-m2m.env.new" "$secrets/logto-m2m.env"
fi
# The machine-to-machine app in use, for the replicas: organization
# self-service (members, invitations, roles) calls the Management API as it.
if grep -Eq '^(export +)?LOGTO_M2M_APP_ID=' "$output"; then
    grep -E '^(export +)?LOGTO_M2M_APP_(ID|SECRET)=' "$output" >"$portal_env/logto-m2m.env.new"
else
    printf "LOGTO_M2M_APP_ID='%s'\nLOGTO_M2M_APP_SECRET='%s'\n" \
        "$LOGTO_M2M_APP_ID" "$LOGTO_M2M_APP_SECRET" >"$portal_env/logto-m2m.env.new"
fi
mv "$portal_env/logto-m2m.env.new" "$portal_env/logto-m2m.env"
rm -f "$output"
echo "provision: done; the portal replicas read the application's credentials from logto-app.env"
