-- The event store as an RFC 9162 Merkle tree: leaf i is the event at position i + 1. Every complete,
-- aligned subtree is kept (level L, index j: the 2**L leaves from j * 2**L), so the hash of any range a
-- proof asks for is O(log n) rows, and a proof never scans the history. Level 0 holds the leaf hashes.
-- Written by the tree's own follower of the log (checkpoint 'merkle_tree'), which starts from the first
-- event: a history recorded before this migration is built on the next start.
CREATE TABLE review.merkle_nodes (
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
    index bigint NOT NULL CHECK (index >= 0),
    hash  bytea NOT NULL,
    PRIMARY KEY (level, index)
);
INSERT INTO review.projection_checkpoints (name, position) VALUES ('merkle_tree', 0);

-- Signed checkpoints of the tree (C2SP tlog-checkpoint notes), as the log signed them: also written to a
-- directory outside the database. Never two for one size; each extends the one before (checked before
-- signing).
CREATE TABLE review.log_checkpoints (
    size      bigint PRIMARY KEY CHECK (size >= 0),
    root      bytea NOT NULL,
    note      text NOT NULL,
    signed_at timestamptz NOT NULL DEFAULT now()
);

-- Witnesses' cosignatures of checkpoints (C2SP tlog-cosignature lines), served with the checkpoint.
CREATE TABLE review.cosignatures (
    size        bigint NOT NULL REFERENCES review.log_checkpoints (size),
    witness     text NOT NULL,
    line        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (size, witness)
);
