-- Appends that pay only for what they do. Expand now, contract later: review.append_batch (0001) stays
-- as it was for review processes still running the code before this migration; a later migration drops
-- it once none can be left. The lock, the head check and the outcomes are the same as there, and the
-- reasons for them are given there.
--
-- 1. review.append_events: append_batch without its exception block. That caught the unique constraints'
--    refusal inside the function, so every append, refused or not, paid for a subtransaction (and a
--    second transaction id). Now a refused INSERT fails the call, which rolls all of it back, and the
--    writer asks review.refused_appends which appends were refused and why. Refusals are rare (a
--    redelivered event, two reviewers deciding at once); appends are not.
-- 2. review.append_event: the same for a batch of one event, with scalar parameters. That is every
--    submission and every decision when appends do not arrive together, and the driver's encoding of
--    fourteen one-element arrays cost about 0.08 ms of a 0.7 ms append (measured with `make bench`'s
--    single writer).

-- Which appends of a batch are refused: those whose events are already stored (duplicates), and of the
-- rest those whose expected version is not the stream's current one (conflicts, with the actual versions,
-- in the same order).
CREATE FUNCTION review.refused_appends(
    p_append_no integer[],
    p_stream_id uuid[],
    p_expected_version integer[],
    p_event_id uuid[]
) RETURNS TABLE (
    duplicate_appends integer[],
    conflicting_appends integer[],
    actual_versions integer[]
) LANGUAGE sql STABLE AS $$
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
    SELECT (SELECT array_agg(d.append_no ORDER BY d.append_no) FROM duplicates d),
           (SELECT array_agg(c.append_no ORDER BY c.append_no) FROM conflicts c WHERE c.actual <> c.expected),
           (SELECT array_agg(c.actual ORDER BY c.append_no) FROM conflicts c WHERE c.actual <> c.expected);
$$;

CREATE FUNCTION review.append_events(
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

    -- The unique constraints refuse a repeated event id and a version already taken (an expected version
    -- that is too low), failing the whole call: the caller then asks refused_appends which appends those
    -- were. An expected version that is too high is the one case they cannot see, so it is looked up
    -- first and answered here.
    IF EXISTS (
        SELECT 1 FROM unnest(p_stream_id, p_expected_version) AS n(stream_id, expected)
         WHERE n.expected > 0 AND NOT EXISTS (
               SELECT 1 FROM review.events e WHERE e.stream_id = n.stream_id AND e.version = n.expected)
    ) THEN
        RETURN QUERY SELECT 'rejected', p_head_position, p_head_hash, v_recorded_at, r.*
          FROM review.refused_appends(p_append_no, p_stream_id, p_expected_version, p_event_id) AS r;
        RETURN;
    END IF;

    INSERT INTO review.events
        (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, hash)
    SELECT * FROM unnest(p_position, p_stream_id, p_version, p_event_id, p_type, p_schema_version,
                         p_data, p_metadata, p_recorded_at, p_hash);
    RETURN QUERY SELECT 'ok', p_position[v_last], p_hash[v_last], p_recorded_at[v_last],
        NULL::integer[], NULL::integer[], NULL::integer[];
END $$;

CREATE FUNCTION review.append_event(
    p_head_position bigint,
    p_head_hash bytea,
    p_expected_version integer,
    p_position bigint,
    p_stream_id uuid,
    p_version integer,
    p_event_id uuid,
    p_type text,
    p_schema_version integer,
    p_data jsonb,
    p_metadata jsonb,
    p_recorded_at timestamptz,
    p_hash bytea,
    OUT outcome text,
    OUT head_position bigint,
    OUT head_hash bytea,
    OUT head_recorded_at timestamptz,
    OUT duplicate_appends integer[],
    OUT conflicting_appends integer[],
    OUT actual_versions integer[]
) LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE review.events IN EXCLUSIVE MODE;

    SELECT e.position, e.hash, e.recorded_at INTO head_position, head_hash, head_recorded_at
      FROM review.events e ORDER BY e.position DESC LIMIT 1;
    head_position := coalesce(head_position, 0);
    head_hash := coalesce(head_hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    IF head_position <> p_head_position OR head_hash <> p_head_hash THEN
        outcome := 'stale_head';
        RETURN;
    END IF;

    IF p_expected_version > 0 AND NOT EXISTS (
        SELECT 1 FROM review.events e WHERE e.stream_id = p_stream_id AND e.version = p_expected_version
    ) THEN
        outcome := 'rejected';
        SELECT r.duplicate_appends, r.conflicting_appends, r.actual_versions
          INTO duplicate_appends, conflicting_appends, actual_versions
          FROM review.refused_appends(ARRAY[0], ARRAY[p_stream_id], ARRAY[p_expected_version], ARRAY[p_event_id]) AS r;
        RETURN;
    END IF;

    INSERT INTO review.events
        (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, hash)
    VALUES (p_position, p_stream_id, p_version, p_event_id, p_type, p_schema_version,
            p_data, p_metadata, p_recorded_at, p_hash);
    outcome := 'ok';
    head_position := p_position;
    head_hash := p_hash;
    head_recorded_at := p_recorded_at;
END $$;
