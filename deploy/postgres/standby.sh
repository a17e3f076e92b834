#!/bin/sh
# How postgres-standby (docker-compose.yml, profile ha) starts. On an empty volume it copies the primary
# with pg_basebackup and makes the copy a standby streaming from it (standby.signal, primary_conninfo with
# the application name `standby`, which KIPP_SYNCHRONOUS_STANDBY names); then, and on every later start,
# it runs PostgreSQL as the image does. Promoted, it stays a primary (standby.signal is gone).
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
primary=${PRIMARY_HOST:?PRIMARY_HOST must name the primary}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password=$(cat "${REPLICATION_PASSWORD_FILE:-/run/secrets/replication-password}")
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    until pg_isready -q -h "$primary"; do sleep 1; done
    PGPASSWORD=$password su-exec postgres \
        pg_basebackup -h "$primary" -U replicator -D "$PGDATA" -X stream -c fast
    su-exec postgres touch "$PGDATA/standby.signal"
    conninfo="host=$primary port=5432 user=replicator password=$password application_name=standby"
    printf "primary_conninfo = '%s'\n" "$conninfo" | su-exec postgres tee -a "$PGDATA/postgresql.auto.conf" >/dev/null
fi
exec docker-entrypoint.sh postgres
