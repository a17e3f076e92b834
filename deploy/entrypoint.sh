#!/bin/sh
# The image's entrypoint. Compose hands passwords over as files (secrets), and the settings take URLs, so
# this adds each password to its URL (user@host becomes user:password@host), then runs the command:
#   /run/secrets/database-password      -> KIPP_DATABASE_URL      (the owner: migrate and the operator's CLI)
#   /run/secrets/app-database-password  -> KIPP_APP_DATABASE_URL  (the services' role, kipp_app)
#   /run/secrets/broker-password        -> KIPP_AMQP_URL          (the container's own broker user)
# A URL whose file is absent is left as it is. Passwords are letters, digits and . _ ~ - only (what
# deploy/new-secrets.sh makes), so they need no escaping in a URL.
set -eu
secrets=${SECRETS_DIR:-/run/secrets}

with_password() { # NAME URL FILE: the URL in variable NAME with the password in FILE
    password=$(cat "$3")
    case $password in
        '' | *[!A-Za-z0-9._~-]*)
            echo "$3: a password must be letters, digits and . _ ~ - only" >&2
            return 1
            ;;
    esac
    filled=$(printf '%s\n' "$2" | sed "s|^\([a-z]*://[^:@/]*\)@|\1:$password@|")
    if [ "$filled" = "$2" ]; then
        echo "$1 must name its user without a password (scheme://user@host/...) to take $3" >&2
        return 1
    fi
    printf '%s\n' "$filled"
}

if [ -f "$secrets/database-password" ]; then
    KIPP_DATABASE_URL=$(with_password KIPP_DATABASE_URL "${KIPP_DATABASE_URL-}" "$secrets/database-password")
    export KIPP_DATABASE_URL
fi
if [ -f "$secrets/app-database-password" ]; then
    KIPP_APP_DATABASE_URL=$(
        with_password KIPP_APP_DATABASE_URL "${KIPP_APP_DATABASE_URL-}" "$secrets/app-database-password"
    )
    export KIPP_APP_DATABASE_URL
fi
if [ -f "$secrets/broker-password" ]; then
    KIPP_AMQP_URL=$(with_password KIPP_AMQP_URL "${KIPP_AMQP_URL-}" "$secrets/broker-password")
    export KIPP_AMQP_URL
fi
exec "$@"
