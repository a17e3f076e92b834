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
    v_position bigint;
    v_hash bytea;
    v_recorded_at timestamptz;
    v_last integer := array_upper(p_position, 1);
BEGIN
    LOCK TABLE review.events IN EXCLUSIVE MODE;

    SELECT e.position, e.hash, e.recorded_at INTO v_position, v_hash, v_recorded_at
      FROM review.events e ORDER BY e.position DESC LIMIT 1;
    IF coalesce(v_position, 0) <> p_head_position
       OR coalesce(v_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) <> p_head_hash THEN
        RETURN QUERY SELECT 'stale_head', coalesce(v_position, 0::bigint),
            coalesce(v_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea), v_recorded_at,
            NULL::integer[], NULL::integer[], NULL::integer[];
        RETURN;
    END IF;

    -- The fast path: the unique constraints refuse a repeated event id and a version already taken (an
    -- expected version that is too low); an expected version that is too high is the one case they cannot
    -- see, so it is looked up first. Anything refused falls to the slow path, which says what it was.
    IF NOT EXISTS (
        SELECT 1 FROM unnest(p_stream_id, p_expected_version) AS n(stream_id, expected)
         WHERE n.expected > 0 AND NOT EXISTS (
               SELECT 1 FROM review.events e WHERE e.stream_id = n.stream_id AND e.version = n.expected)
    ) THEN
        BEGIN
            INSERT INTO review.events
                (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, hash)
            SELECT * FROM unnest(p_position, p_stream_id, p_version, p_event_id, p_type, p_schema_version,
                                 p_data, p_metadata, p_recorded_at, p_hash);
            RETURN QUERY SELECT 'ok', p_position[v_last], p_hash[v_last], p_recorded_at[v_last],
                NULL::integer[], NULL::integer[], NULL::integer[];
            RETURN;
        EXCEPTION WHEN unique_violation THEN
            NULL;  -- fall through to say which appends were refused
        END;
    END IF;

    RETURN QUERY
    WITH appends AS (
        SELECT DISTINCT n.append_no, n.stream_id, n.expected
          FROM unnest(p_append_no, p_stream_id, p_expected_version) AS n(append_no, stream_id, expected)
    ), duplicates AS (
        SELECT DISTINCT n.append_no
          FROM unnest(p_event_id, p_append_no) AS n(event_id, append_no)
          JOIN review.events e ON e.event_id = n.event_id
    ), conflicts AS (
        SELECT a.append_no,
               coalesce((SELECT max(e.version) FROM review.events e WHERE e.stream_id = a.stream_id), 0) AS actual,
               a.expected
          FROM appends a
         WHERE a.append_no NOT IN (SELECT d.append_no FROM duplicates d)
    )
    SELECT 'rejected', p_head_position, p_head_hash, v_recorded_at,
           (SELECT array_agg(d.append_no) FROM duplicates d),
           (SELECT array_agg(c.append_no) FROM conflicts c WHERE c.actual <> c.expected),
           (SELECT array_agg(c.actual) FROM conflicts c WHERE c.actual <> c.expected);
END $$;
