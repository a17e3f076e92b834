-- Sessions of the console (review's web pages): a reviewer or auditor signs in with an API key once and the
-- browser then holds a random session token in a cookie. Only a SHA-256 of the token is kept, as for keys.
-- A session belongs to the key it was opened with: every request joins the key, so a revoked key ends its
-- sessions at their next request, and deleting a key's row (never done today) would delete them too.
CREATE TABLE access.console_sessions (
    token_hash bytea PRIMARY KEY,
    key_id     uuid NOT NULL REFERENCES access.api_keys (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON access.console_sessions (expires_at);
