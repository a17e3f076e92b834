-- Each fingerprinted text's whole set of LSH band keys, named by one value (`key_set`: the md5 of the
-- sorted keys written out in decimal, separated by commas; a name for the set, not a secret), so that the
-- earlier texts with exactly the same keys are found by one index lookup.
--
-- Why: a text copied many times made every later copy's candidate lookup read the band rows of up to
-- 200 copies for each of its 64 keys (services/review/resemblance/projection.py, candidates): 3-8 ms of
-- the database per lookup once a text had a few hundred copies, while every other step of recording a
-- submission takes a fraction of that. Every text has one key per band, so an earlier text that shares
-- all of a text's keys has exactly its set: when there are at least as many of those as candidates are
-- asked for, they are the candidates (the most keys shared, the first by id among equals), and the
-- lookup by key_set answers the same in ten index entries.
ALTER TABLE review.resemblance_fingerprints ADD COLUMN key_set uuid;

UPDATE review.resemblance_fingerprints AS f
   SET key_set = k.key_set
  FROM (SELECT proposal_id, md5(string_agg(key::text, ',' ORDER BY key))::uuid AS key_set
          FROM review.resemblance_bands GROUP BY proposal_id) AS k
 WHERE k.proposal_id = f.proposal_id;

CREATE INDEX resemblance_fingerprints_by_key_set ON review.resemblance_fingerprints (key_set, proposal_id);
