#!/bin/sh
# Run once by the postgres image on a new volume (/docker-entrypoint-initdb.d/): the role postgres-standby
# replicates as, with the password in /run/secrets/replication-password, and the pg_hba.conf line that
# lets it (the image's own lines cover ordinary connections only, not replication).
set -eu
password=$(cat "${REPLICATION_PASSWORD_FILE:-/run/secrets/replication-password}")
case $password in
    '' | *[!A-Za-z0-9._~-]*)
        echo "replication-password: letters, digits and . _ ~ - only" >&2
        exit 1
        ;;
esac
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c "CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '$password'"
echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
