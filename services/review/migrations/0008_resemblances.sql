-- Resemblance across regions, a projection of review.events (services/review/resemblance/projection.py),
-- followed from checkpoint 'resemblances' and rebuilt by `kipp projections rebuild` like the status list.
-- Nothing here is about a person: only the title and sections of a proposal are ever fingerprinted.

-- Each proposal's latest text that was fingerprinted: where it is in the log, and what a resemblance
-- shows of it (the text itself stays in its event).
CREATE TABLE review.resemblance_fingerprints (
    proposal_id uuid PRIMARY KEY,
    position    bigint NOT NULL,       -- the submission or revision fingerprinted
    recorded_at timestamptz NOT NULL,
    round       integer,
    title       text NOT NULL,
    agency      jsonb NOT NULL,
    region      jsonb NOT NULL
);

-- The LSH band keys of each proposal's sketch: proposals that share a key are candidates. A btree on
-- the key finds them; the second index lets a revision replace its proposal's keys.
CREATE TABLE review.resemblance_bands (
    key         bigint NOT NULL,
    proposal_id uuid NOT NULL,
    PRIMARY KEY (key, proposal_id)
);
CREATE INDEX resemblance_bands_by_proposal ON review.resemblance_bands (proposal_id);

-- A later text that resembles an earlier one, with the evidence: the score, each section's score from
-- both sides, and the passages that match (later's sentence beside the earlier's).
CREATE TABLE review.resemblances (
    later_id             uuid NOT NULL,
    earlier_id           uuid NOT NULL,
    later_position       bigint NOT NULL,
    earlier_position     bigint NOT NULL,
    score                double precision NOT NULL CHECK (score BETWEEN 0 AND 1),
    declared_replication boolean NOT NULL,
    sections_of_later    jsonb NOT NULL,
    sections_of_earlier  jsonb NOT NULL,
    passages             jsonb NOT NULL,
    PRIMARY KEY (later_id, earlier_id)
);
CREATE INDEX resemblances_of_earlier ON review.resemblances (earlier_id);
CREATE INDEX resemblances_newest ON review.resemblances (later_position DESC, earlier_id DESC);

INSERT INTO review.projection_checkpoints (name, position) VALUES ('resemblances', 0);
