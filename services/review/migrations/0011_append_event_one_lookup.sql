-- review.append_event (0004) looked up the head and then, in a second statement, the version the append
-- expects. One statement now does both: the usual append (one event, by the writer alone) pays for one
-- lookup fewer under the table's lock. What it checks and answers is unchanged; see 0001 and 0004 for
-- why. CREATE OR REPLACE keeps its owner and grants; the attributes 0005 gave it are stated again.
CREATE OR REPLACE FUNCTION review.append_event(
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
) LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_expected_found boolean;
BEGIN
    LOCK TABLE review.events IN EXCLUSIVE MODE;

    SELECT e.position, e.hash, e.recorded_at,
           p_expected_version <= 0 OR EXISTS (
               SELECT 1 FROM review.events v WHERE v.stream_id = p_stream_id AND v.version = p_expected_version)
      INTO head_position, head_hash, head_recorded_at, v_expected_found
      FROM review.events e ORDER BY e.position DESC LIMIT 1;
    IF NOT FOUND THEN  -- no event yet: the genesis head, and only a new stream can be expected
        head_position := 0;
        head_hash := '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
        v_expected_found := p_expected_version <= 0;
    END IF;
    IF head_position <> p_head_position OR head_hash <> p_head_hash THEN
        outcome := 'stale_head';
        RETURN;
    END IF;

    -- The unique constraints refuse a repeated event id and a version already taken; an expected version
    -- that is too high is the one case they cannot see, so it is answered here.
    IF NOT v_expected_found THEN
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
