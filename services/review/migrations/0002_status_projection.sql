-- The status projection: one row per proposal, derived only from review.events.
CREATE TABLE review.proposal_status (
    proposal_id        uuid PRIMARY KEY,
    status             text NOT NULL,
    round              integer NOT NULL,
    agency             text NOT NULL,
    regency            text NOT NULL,
    submitted_at       timestamptz NOT NULL,  -- when intake accepted it: lists are newest first
    version            integer NOT NULL,
    last_position      bigint NOT NULL,
    state              jsonb NOT NULL,  -- the folded state, without the proposal's text
    body               jsonb NOT NULL   -- the latest text: written only when a submission or revision changes it
);
CREATE INDEX proposal_status_newest ON review.proposal_status (submitted_at DESC, proposal_id DESC);
CREATE INDEX proposal_status_by_status ON review.proposal_status (status, submitted_at DESC, proposal_id DESC);

-- How far each projection has read the global order.
CREATE TABLE review.projection_checkpoints (
    name     text PRIMARY KEY,
    position bigint NOT NULL
);
INSERT INTO review.projection_checkpoints (name, position) VALUES ('proposal_status', 0);
