-- The event store: one append-only table, one stream per proposal, one global gap-free order.


CREATE TABLE review.events (
    position       bigint PRIMARY KEY CHECK (position >= 1),
    stream_id      uuid NOT NULL,
    version        integer NOT NULL CHECK (version >= 1),
    event_id       uuid NOT NULL UNIQUE,
    type           text NOT NULL,
    schema_version integer NOT NULL,
    data           jsonb NOT NULL,
    metadata       jsonb NOT NULL,
    recorded_at    timestamptz NOT NULL,
    hash           bytea NOT NULL,
    UNIQUE (stream_id, version)
);

-- History is never edited: the database itself refuses it, whoever asks through SQL.
CREATE FUNCTION review.refuse_history_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'review.events is append-only: % is refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER events_refuse_update_delete BEFORE UPDATE OR DELETE ON review.events
    FOR EACH ROW EXECUTE FUNCTION review.refuse_history_change();
CREATE TRIGGER events_refuse_truncate BEFORE TRUNCATE ON review.events
    FOR EACH STATEMENT EXECUTE FUNCTION review.refuse_history_change();

-- Appends a batch of events in one transaction, or reports why it cannot.
--
-- Why the table lock: positions are assigned by the writer and must become visible in position order,
-- or a reader following the global position could read 12, move its checkpoint past 11, and never see 11
-- when that transaction commits a moment later. EXCLUSIVE mode lets plain SELECTs run, but lets only one
-- append transaction in at a time; PostgreSQL makes a commit visible before it releases the transaction's
-- locks, so the next append (and its positions) starts only after the previous one is visible. The same
-- lock makes the hash chain well defined: each batch links to the head it saw under the lock.
-- Throughput comes from batching many callers' appends into one call (see eventstore/postgres.py), not
-- from concurrent transactions.
--
-- The caller computes positions and hashes from the head it believes current (p_head_*). If another
-- process moved the head, nothing is written and the real head is returned ('stale_head'). If some
-- appends carry event ids already stored, or expect a stream version that is not current, nothing is
-- written and those appends are named ('rejected') so the caller can answer them and retry the rest.
CREATE FUNCTION review.append_batch(
    p_head_position bigint,
    p_head_hash bytea,
    p_append_no integer[],
    p_expected_version integer[],
    p_position bigint[],
    p_stream_id uuid[],
    p_version integer[],
    p_event_id uuid[],
    p_type text[],
    p_schema_version integer[],
    p_data jsonb[],
    p_metadata jsonb[],
    p_recorded_at timestamptz[],
    p_hash bytea[]
) RETURNS TABLE (
    outcome text,
    head_position bigint,
    head_hash bytea,
    head_recorded_at timestamptz,
    duplicate_appends integer[],
    conflicting_appends integer[],
    actual_versions integer[]
) LANGUAGE plpgsql AS $$
DECLARE
    v_head record;
    v_duplicates integer[];
    v_conflicts integer[];
    v_actual integer[];
    v_last integer := array_upper(p_position, 1);
BEGIN
    LOCK TABLE review.events IN EXCLUSIVE MODE;

    SELECT e.position, e.hash, e.recorded_at INTO v_head
      FROM review.events e ORDER BY e.position DESC LIMIT 1;
    IF coalesce(v_head.position, 0) <> p_head_position
       OR coalesce(v_head.hash, decode(repeat('00', 32), 'hex')) <> p_head_hash THEN
        RETURN QUERY SELECT 'stale_head', coalesce(v_head.position, 0::bigint),
            coalesce(v_head.hash, decode(repeat('00', 32), 'hex')), v_head.recorded_at,
            NULL::integer[], NULL::integer[], NULL::integer[];
        RETURN;
    END IF;

    SELECT array_agg(DISTINCT n.append_no) INTO v_duplicates
      FROM unnest(p_event_id, p_append_no) AS n(event_id, append_no)
      JOIN review.events e ON e.event_id = n.event_id;

    SELECT array_agg(a.append_no), array_agg(a.actual) INTO v_conflicts, v_actual
      FROM (
        SELECT DISTINCT n.append_no, n.expected,
               coalesce((SELECT max(e.version) FROM review.events e WHERE e.stream_id = n.stream_id), 0)
                   AS actual
          FROM unnest(p_append_no, p_stream_id, p_expected_version) AS n(append_no, stream_id, expected)
      ) a
     WHERE a.actual <> a.expected AND NOT (a.append_no = ANY (coalesce(v_duplicates, '{}')));

    IF v_duplicates IS NOT NULL OR v_conflicts IS NOT NULL THEN
        RETURN QUERY SELECT 'rejected', p_head_position, p_head_hash, v_head.recorded_at,
            v_duplicates, v_conflicts, v_actual;
        RETURN;
    END IF;

    INSERT INTO review.events
        (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, hash)
    SELECT * FROM unnest(p_position, p_stream_id, p_version, p_event_id, p_type, p_schema_version,
                         p_data, p_metadata, p_recorded_at, p_hash);

    -- Wakes projections in every review process; delivered only if this transaction commits.
    PERFORM pg_notify('review_events', p_position[v_last]::text);

    RETURN QUERY SELECT 'ok', p_position[v_last], p_hash[v_last], p_recorded_at[v_last],
        NULL::integer[], NULL::integer[], NULL::integer[];
END $$;
