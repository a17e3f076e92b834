-- Intake's own record of what submitting systems sent, and the outbox of events still to publish.
CREATE TABLE intake.proposals (
    proposal_id    uuid PRIMARY KEY,
    seq            bigserial UNIQUE,          -- newest first, and a stable cursor
    owner          text NOT NULL,             -- the submitting key's holder
    body           jsonb NOT NULL,            -- the latest text, as posted
    status         text NOT NULL,             -- the latest status intake knows of
    review_version integer NOT NULL DEFAULT 0, -- the review stream version that status comes from
    status_detail  jsonb,                     -- what review said with it (reasons, notes, reference)
    intake_events  integer NOT NULL DEFAULT 1, -- events intake published for it: the next one's sequence - 1
    withdrawn      boolean NOT NULL DEFAULT false, -- a withdrawal was accepted: no revision after it
    submitted_at   timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX proposals_by_owner ON intake.proposals (owner, seq DESC);
CREATE INDEX proposals_by_owner_status ON intake.proposals (owner, status, seq DESC);

-- Written in the same transaction as the change it announces; deleted once the broker confirmed it.
CREATE TABLE intake.outbox (
    id          bigserial PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    proposal_id uuid NOT NULL,
    routing_key text NOT NULL,
    envelope    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Idempotency-Key: the first successful answer to a key, replayed for a repeat with the same request.
CREATE TABLE intake.idempotency_keys (
    owner        text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status_code  integer,
    response     jsonb,
    location     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, key)
);
