-- review.append_one: the usual append (one event, on the head the writer believes) in one statement that
-- answers true when it wrote and false when it did not, without a word more.
--
-- review.append_event answers with a composite row (its OUT parameters: the head, and what was refused
-- and why) so that one call can say why an append was not written. Returning that row cost about 25 µs of
-- the call's 440-490 µs on every append (the appends benchmark's single writer, the same statement
-- returning a boolean, measured alternately in the same connection). The writer now calls append_one and,
-- on the rare false, review.append_event for the reason (which also writes, if the head has meanwhile
-- become what the writer believed). The checks are 0012's: the head the append chains from is stored
-- with that hash, the position is the one after it, the stream is at the expected version; the
-- positions' primary key refuses a position another process took (a unique violation on events_pkey).
CREATE FUNCTION review.append_one(
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
    p_hash bytea
) RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO review.events
        (position, stream_id, version, event_id, type, schema_version, data, metadata, recorded_at, hash)
    SELECT p_position, p_stream_id, p_version, p_event_id, p_type, p_schema_version,
           p_data, p_metadata, p_recorded_at, p_hash
     WHERE p_position = p_head_position + 1
       AND (CASE WHEN p_head_position = 0
                 THEN p_head_hash = '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea
                 ELSE EXISTS (SELECT 1 FROM review.events h
                               WHERE h.position = p_head_position AND h.hash = p_head_hash) END)
       AND (p_expected_version <= 0 OR EXISTS (
               SELECT 1 FROM review.events v WHERE v.stream_id = p_stream_id AND v.version = p_expected_version));
    RETURN FOUND;
END $$;

REVOKE EXECUTE ON FUNCTION review.append_one(bigint, bytea, integer, bigint, uuid, integer, uuid, text, integer,
    jsonb, jsonb, timestamptz, bytea) FROM PUBLIC;
