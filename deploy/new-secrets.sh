#!/bin/sh
# Makes the passwords docker-compose.yml hands over as secrets, one file each in deploy/secrets/ (which git
# ignores), and keeps every one that exists. Run it once before the first `docker compose up`.
set -eu
dir="$(dirname "$0")/secrets"
mkdir -p "$dir"
chmod 700 "$dir" # only you on this machine; inside, the files are readable by the containers' own users
# broker-erlang-cookie is shared by the RabbitMQ nodes of a cluster; replication-password is the standby's.
for name in postgres-password app-database-password replication-password \
    broker-intake-password broker-review-password broker-operator-password broker-erlang-cookie; do
    file="$dir/$name"
    if [ ! -e "$file" ]; then
        # 32 random bytes as 64 hex digits: nothing to escape in a URL or in JSON
        printf '%s\n' "$(od -A n -N 32 -t x1 /dev/urandom | tr -d ' \n')" >"$file"
        chmod 644 "$file"
        echo "made $file"
    fi
done
