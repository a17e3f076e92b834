-- Proposal texts and the outbox's envelopes compressed with lz4 rather than pglz, as review's events are
-- (see review's migration 0010 for why). A server built without lz4 keeps pglz, and says so.
DO $$
BEGIN
    ALTER TABLE intake.proposals ALTER COLUMN body SET COMPRESSION lz4;
    ALTER TABLE intake.outbox ALTER COLUMN envelope SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN  -- a server built without lz4
    RAISE NOTICE 'this PostgreSQL has no lz4: proposal texts stay compressed with pglz (%)', SQLERRM;
END $$;
