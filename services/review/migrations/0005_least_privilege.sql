-- The services connect as a runtime role that neither owns the event store nor is a superuser (its
-- grants: shared/access/runtime_role.sql). It reads review.events but holds no INSERT, UPDATE, DELETE or
-- TRUNCATE on it: it appends only through these two functions, which run as their owner. That is also
-- what lets them take the table's EXCLUSIVE lock (ordering for readers, see 0001), which PostgreSQL grants
-- only to roles that may update the table. Their search path is fixed, so the caller's cannot divert them.
ALTER FUNCTION review.append_events(bigint, bytea, integer[], integer[], bigint[], uuid[], integer[], uuid[],
    text[], integer[], jsonb[], jsonb[], timestamptz[], bytea[])
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION review.append_event(bigint, bytea, integer, bigint, uuid, integer, uuid, text, integer, jsonb,
    jsonb, timestamptz, bytea)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION
    review.append_events(bigint, bytea, integer[], integer[], bigint[], uuid[], integer[], uuid[], text[],
        integer[], jsonb[], jsonb[], timestamptz[], bytea[]),
    review.append_event(bigint, bytea, integer, bigint, uuid, integer, uuid, text, integer, jsonb, jsonb,
        timestamptz, bytea),
    review.refused_appends(integer[], uuid[], integer[], uuid[])
FROM PUBLIC;

-- 0001's append function has had no caller since 0004 (expand, then contract).
DROP FUNCTION review.append_batch(bigint, bytea, integer[], integer[], bigint[], uuid[], integer[], uuid[],
    text[], integer[], jsonb[], jsonb[], timestamptz[], bytea[]);

-- Events the status publisher could not announce (no announcement could be built or encoded): kept with
-- the reason, listed by `kipp parked list`; the publisher moves on past them.
CREATE TABLE review.parked_announcements (
    position  bigint PRIMARY KEY,
    event_id  uuid NOT NULL,
    reason    text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now()
);
