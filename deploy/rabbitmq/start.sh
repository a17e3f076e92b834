#!/bin/sh
# How docker-compose.yml starts RabbitMQ: writes the definitions the broker imports at boot (see
# rabbitmq.conf), which are definitions.json with each user's password added from its compose secret,
# then runs the command it is given (the image's own start). definitions.json holds no password: a user
# imported without one cannot log in. Passwords are letters, digits and . _ ~ - only (what
# deploy/new-secrets.sh makes), so they go into JSON and sed unescaped.
set -eu
secrets=${SECRETS_DIR:-/run/secrets}
template=${DEFINITIONS_TEMPLATE:-/etc/rabbitmq/kipp/definitions.json}
out=${DEFINITIONS:-/etc/rabbitmq/definitions.json}

definitions=$(cat "$template")
for user in intake review operator; do
    file="$secrets/broker-$user-password"
    password=$(cat "$file")
    case $password in
        '' | *[!A-Za-z0-9._~-]*)
            echo "$file: a password must be letters, digits and . _ ~ - only" >&2
            exit 1
            ;;
    esac
    definitions=$(printf '%s\n' "$definitions" |
        sed "s|\"name\": \"kipp-$user\"|&, \"password\": \"$password\"|")
    case $definitions in
        *"\"name\": \"kipp-$user\", \"password\": "*) ;;
        *)
            echo "$template: no user kipp-$user to give a password to" >&2
            exit 1
            ;;
    esac
done
printf '%s\n' "$definitions" >"$out"

# The Erlang cookie, when given: the nodes of a cluster (the ha profile) must share it. RabbitMQ reads it
# from the data directory, owned by its user, readable by no one else.
if [ -f "$secrets/broker-erlang-cookie" ]; then
    cookie=${ERLANG_COOKIE:-/var/lib/rabbitmq/.erlang.cookie}
    rm -f "$cookie"
    tr -d '\n' <"$secrets/broker-erlang-cookie" >"$cookie"
    chmod 400 "$cookie"
    if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
        chown rabbitmq:rabbitmq "$cookie"
    fi
fi
exec "$@"
