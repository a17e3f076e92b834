-- The same-hop reference pipeline's tables (benchmarks/reference/): what a hand-written pipeline doing
-- the product's hops needs, and nothing more. Created in a scratch database of its own.
CREATE SCHEMA ref_intake;
CREATE SCHEMA ref_review;

CREATE TABLE ref_intake.proposals (
    proposal_id    uuid PRIMARY KEY,
    body           jsonb NOT NULL,
    status         text NOT NULL,
    review_version integer NOT NULL DEFAULT 0,
    submitted_at   timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE ref_intake.outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    proposal_id uuid NOT NULL,
    routing_key text NOT NULL,
    envelope    jsonb NOT NULL
);

CREATE TABLE ref_review.events (
    position    bigint PRIMARY KEY,
    stream_id   uuid NOT NULL,
    version     integer NOT NULL,
    event_id    uuid NOT NULL UNIQUE,
    type        text NOT NULL,
    data        jsonb NOT NULL,
    metadata    jsonb NOT NULL,
    recorded_at timestamptz NOT NULL,
    hash        bytea NOT NULL,
    UNIQUE (stream_id, version)
);

CREATE TABLE ref_review.proposal_status (
    proposal_id   uuid PRIMARY KEY,
    status        text NOT NULL,
    version       integer NOT NULL,
    last_position bigint NOT NULL,
    body          jsonb NOT NULL
);

CREATE TABLE ref_review.checkpoints (
    name     text PRIMARY KEY,
    position bigint NOT NULL
);
INSERT INTO ref_review.checkpoints VALUES ('proposal_status', 0), ('status_changed', 0);
