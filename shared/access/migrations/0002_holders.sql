-- Keys belong to holders. A submitter's proposals belong to its holder, by id: a second key created with
-- the same name no longer shares them, and a holder keeps them across its keys (rotation).
CREATE TABLE access.holders (
    id         uuid PRIMARY KEY,
    role       text NOT NULL CHECK (role IN ('submitter', 'reviewer', 'auditor')),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (role, name)
);

-- Until now a holder was a name: the keys of one role with one name become one holder.
INSERT INTO access.holders (id, role, name, created_at)
SELECT gen_random_uuid(), role, name, min(created_at) FROM access.api_keys GROUP BY role, name;

ALTER TABLE access.api_keys ADD COLUMN holder_id uuid REFERENCES access.holders (id);
UPDATE access.api_keys AS k SET holder_id = h.id FROM access.holders AS h WHERE h.role = k.role AND h.name = k.name;
ALTER TABLE access.api_keys ALTER COLUMN holder_id SET NOT NULL;
ALTER TABLE access.api_keys DROP COLUMN role, DROP COLUMN name;
CREATE INDEX api_keys_by_holder ON access.api_keys (holder_id);
