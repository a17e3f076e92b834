-- Intake's own record of what submitting systems sent, and the outbox of events still to publish.
CREATE TABLE intake.proposals (
    proposal_id  uuid PRIMARY KEY,
    seq          bigserial UNIQUE,  -- newest first, and a stable cursor
    body         jsonb NOT NULL,    -- the latest text, as posted
    status       text NOT NULL,     -- the latest status intake knows of
    submitted_at timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);

-- Written in the same transaction as the change it announces; deleted once the broker confirmed it.
CREATE TABLE intake.outbox (
    id          bigserial PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    proposal_id uuid NOT NULL,
    routing_key text NOT NULL,
    envelope    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
