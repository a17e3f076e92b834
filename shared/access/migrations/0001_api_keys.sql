-- API keys of both services. Only a SHA-256 of each key is kept: the key itself is shown once, at creation.
-- A key is 32 random bytes, so a fast hash is enough; a slow password hash would add nothing but latency.
CREATE TABLE access.api_keys (
    id         uuid PRIMARY KEY,
    key_hash   bytea NOT NULL UNIQUE,
    role       text NOT NULL CHECK (role IN ('submitter', 'reviewer', 'auditor')),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
