-- A pair's evidence (its passages: sentences of both texts side by side) is JSON of 2-10 KB, compressed
-- like every such value over about 2 KB: with lz4, as event data is since migration 0010, rather than
-- PostgreSQL's default pglz, which takes several times longer for the same ratio on these texts. A copy
-- of a text copied many times records ten pairs whose passages are the whole text twice. Values already
-- stored keep their method (both stay readable). A server built without lz4 keeps pglz, and says so.
DO $$
BEGIN
    ALTER TABLE review.resemblances
        ALTER COLUMN passages SET COMPRESSION lz4,
        ALTER COLUMN sections_of_later SET COMPRESSION lz4,
        ALTER COLUMN sections_of_earlier SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN  -- a server built without lz4
    RAISE NOTICE 'this PostgreSQL has no lz4: resemblance evidence stays compressed with pglz (%)', SQLERRM;
END $$;
