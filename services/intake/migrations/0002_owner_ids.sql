-- A proposal and an Idempotency-Key belong to the submitting holder's id (access.holders), not to a name
-- that another key could share.

-- A name without a key record (never expected: keys are revoked, not deleted) still gets a holder.
INSERT INTO access.holders (id, role, name)
SELECT gen_random_uuid(), 'submitter', owner
  FROM (SELECT owner FROM intake.proposals UNION SELECT owner FROM intake.idempotency_keys) AS owners
 WHERE NOT EXISTS (SELECT 1 FROM access.holders AS h WHERE h.role = 'submitter' AND h.name = owners.owner);

ALTER TABLE intake.proposals ADD COLUMN owner_id uuid;
UPDATE intake.proposals AS p SET owner_id = h.id
  FROM access.holders AS h WHERE h.role = 'submitter' AND h.name = p.owner;
ALTER TABLE intake.proposals ALTER COLUMN owner_id SET NOT NULL;
DROP INDEX intake.proposals_by_owner;
DROP INDEX intake.proposals_by_owner_status;
ALTER TABLE intake.proposals DROP COLUMN owner;
CREATE INDEX proposals_by_owner ON intake.proposals (owner_id, seq DESC);
CREATE INDEX proposals_by_owner_status ON intake.proposals (owner_id, status, seq DESC);

ALTER TABLE intake.idempotency_keys ADD COLUMN owner_id uuid;
UPDATE intake.idempotency_keys AS i SET owner_id = h.id
  FROM access.holders AS h WHERE h.role = 'submitter' AND h.name = i.owner;
ALTER TABLE intake.idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE intake.idempotency_keys DROP COLUMN owner;
ALTER TABLE intake.idempotency_keys ALTER COLUMN owner_id SET NOT NULL;
ALTER TABLE intake.idempotency_keys ADD PRIMARY KEY (owner_id, key);

-- What the relay could not publish (a row it cannot encode as an AMQP message): kept with the reason,
-- listed by `kipp parked list`, so one bad row never holds back the rows after it.
CREATE TABLE intake.parked_outbox (
    id          bigint PRIMARY KEY,
    event_id    uuid NOT NULL,
    proposal_id uuid NOT NULL,
    routing_key text NOT NULL,
    envelope    jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    reason      text NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now()
);
