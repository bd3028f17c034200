#!/bin/sh
# The `welcome` service of docker-compose.yml: the last to start (once the
# proxy answers), so its lines end `docker compose up`'s output. Prints the
# portal's URL, Logto's admin console and, when DEMO_SEED names a seed file,
# the logins of its users (the demo's passwords are public: they are in the
# repository).
set -eu

echo "=================================================================="
echo "The portal is up:     ${PORTAL_BASE_URL:?}"
echo "Logto admin console:  ${LOGTO_ADMIN_ENDPOINT:?} (the first visit creates the admin account)"
if [ -n "${DEMO_SEED:-}" ]; then
    echo "Demo logins (user, password), from the demo seed:"
    # The `username` and `password` of each [[users]] table of the seed.
    awk '
        function flush() {
            if (user != "" && password != "") printf "  %-10s %s\n", user, password
            user = ""; password = ""
        }
        function quoted(line) {
            sub(/^[^=]*=[ \t]*"/, "", line); sub(/".*$/, "", line); return line
        }
        /^[ \t]*\[/ { flush(); in_user = ($0 ~ /^[ \t]*\[\[users\]\]/); next }
        in_user && /^[ \t]*username[ \t]*=/ { user = quoted($0) }
        in_user && /^[ \t]*password[ \t]*=/ { password = quoted($0) }
        END { flush() }
    ' "$DEMO_SEED"
fi
echo "=================================================================="
